/**
 * Flags and argument parsers shared by several commands.
 */
import { InvalidArgumentError, Option } from "commander";
import { KEY_TYPES } from "../../keys/types.js";

/** RFC 5280 §5.3.1 CRLReason names, as `--reason` takes them. */
export const REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
  "aACompromise",
];

/** Parses a positive whole number of days. */
export function parseDays(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 36525)
    throw new InvalidArgumentError("give whole days between 1 and 36525");
  return Number(v);
}

/** Parses a non-negative path length. */
export function parsePathLen(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 32) throw new InvalidArgumentError("give a whole number from 0 to 32");
  return Number(v);
}

/** Parses a worker count. */
export function parseWorkers(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new InvalidArgumentError("give 1 to 64");
  return Number(v);
}

/** Parses a share count. */
export function parseShareCount(v: string): number {
  if (!/^\d{1,3}$/.test(v)) throw new InvalidArgumentError("give a whole number from 2 to 255");
  return Number(v);
}

/** Collects a repeated flag. */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** --key: the key type. */
export const keyOption = (): Option => new Option("--key <type>", "key type").choices(KEY_TYPES as string[]);

/** --key-store: where a CA key is made. */
export const keyStoreOption = (): Option =>
  new Option(
    "--key-store <store>",
    "where the CA key is made: encrypted file, or the PKCS#11 token of sigil.json",
  )
    .choices(["file", "pkcs11"])
    .default("file");

/** --key-file: the exported key of an offline CA, for this one command. */
export const keyFileOption = (whose: string): Option =>
  new Option(
    "--key-file <file>",
    `the exported key file of ${whose} (an offline CA), opened with the home passphrase`,
  );
