/**
 * Names of keys in a file key store, and their files: kept apart from file-keystore.ts so
 * that code which only needs to find a key's file (app/key-ahead.ts, at a one-shot command's
 * start) loads nothing else.
 */
import { SigilError, ErrorCodes } from "../errors.js";

/** Key names a file key store accepts: a safe file name, 1–64 characters. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Throws SigilError BAD_INPUT unless `name` matches {@link KEY_NAME_PATTERN}. */
export function checkKeyName(name: string): void {
  if (!KEY_NAME_PATTERN.test(name))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `bad key name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
}

/** The file (in the key folder) that holds key `name`; throws BAD_INPUT for an unsafe name. */
export function keyFileName(name: string): string {
  checkKeyName(name);
  return `${name}.key.pem`;
}
