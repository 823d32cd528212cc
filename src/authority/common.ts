/**
 * Small pieces the authority's use cases share: digests, day arithmetic, the refusals they
 * all word the same way, and the URLs a CA's certificates point at.
 */
import { createHash } from "node:crypto";
import { SigilError, ErrorCodes } from "../errors.js";
import type { BlockedKey, CaRecord } from "../store/types.js";

/** Lowercase hex SHA-256. */
export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of an epoch-milliseconds time. */
export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A validity in days must be whole days between 1 and 36525. */
export function checkDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > 36525)
    throw new SigilError(ErrorCodes.USAGE, `bad validity ${days}: give whole days between 1 and 36525`);
}

/** The refusal of anything that signs while the service is sealed. */
export function sealedError(): SigilError {
  return new SigilError(
    ErrorCodes.SEALED,
    "the service is sealed: a security admin must run 'sigil unseal' before anything can be signed",
  );
}

/** The refusal for a request whose key must never be certified (see `blocked_keys`). */
export function blockedKeyError(b: BlockedKey): SigilError {
  return new SigilError(
    ErrorCodes.POLICY_DENIED,
    b.kind === "compromised"
      ? `the request's public key was reported compromised: ${b.detail}; make a new key`
      : `the request's public key is Sigil's own (${b.detail}); make a new key`,
    { details: { blockedKey: b.kind } },
  );
}

/** The URLs placed in what CA `ca` issues (CDP, AIA OCSP and caIssuers), under `publicUrl`. */
export function caUrls(
  publicUrl: string,
  ca: CaRecord,
): { crlUrl: string; ocspUrl: string; caIssuersUrl: string } {
  const base = publicUrl.replace(/\/+$/, "");
  return {
    crlUrl: `${base}/crl/${ca.name}.crl`,
    ocspUrl: `${base}/ocsp`,
    caIssuersUrl: `${base}/ca/${ca.name}.crt`,
  };
}
