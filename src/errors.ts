/**
 * The one error type Sigil throws on purpose, and its code catalogue.
 *
 * `kind: 'user'` means the input or the situation is wrong (bad CSR, unknown CA, wrong
 * passphrase): the CLI prints one line and exits 1. `kind: 'internal'` is a bug or an
 * environment fault. Messages never contain key material or passphrases.
 */
export type ErrorKind = "user" | "internal";

/** Catalogue of error codes. Keep it flat and stable: tests and API clients match on it. */
export const ErrorCodes = {
  USAGE: "usage",
  BAD_CSR: "bad_csr",
  WEAK_KEY: "weak_key",
  BAD_SIGNATURE_ALGORITHM: "bad_signature_algorithm",
  BAD_SIGNATURE: "bad_signature",
  BAD_DN: "bad_dn",
  BAD_SAN: "bad_san",
  BAD_INPUT: "bad_input",
  POLICY_DENIED: "policy_denied",
  CA_NOT_FOUND: "ca_not_found",
  CA_EXISTS: "ca_exists",
  CA_NOT_ISSUER: "ca_not_issuer",
  VALIDITY_EXCEEDS_PARENT: "validity_exceeds_parent",
  PATH_LEN: "path_len",
  CERT_NOT_FOUND: "cert_not_found",
  REQUEST_NOT_FOUND: "request_not_found",
  REQUEST_STATE: "request_state",
  ALREADY_REVOKED: "already_revoked",
  AMBIGUOUS_MATCH: "ambiguous_match",
  WRONG_PASSPHRASE: "wrong_passphrase",
  NO_PASSPHRASE: "no_passphrase",
  KEY_NOT_FOUND: "key_not_found",
  KEY_OFFLINE: "key_offline",
  BAD_SHARE: "bad_share",
  FILE_EXISTS: "file_exists",
  FILE_NOT_FOUND: "file_not_found",
  STORE: "store",
  AUDIT_BROKEN: "audit_broken",
  CONFIG: "config",
  NOT_FOUND: "not_found",
  /** The service holds no keys until a security admin unseals it. */
  SEALED: "sealed",
  /** No valid admin token (missing, malformed, unknown, revoked, expired). */
  UNAUTHORIZED: "unauthorized",
  /** The caller's role may not do this (policy/roles.ts). */
  FORBIDDEN: "forbidden",
  /** A live admin token (not revoked, not expired) already has this name. */
  TOKEN_NAME_TAKEN: "token_name_taken",
  /** The admin API could not be reached or answered something unexpected. */
  REMOTE: "remote",
  INTERNAL: "internal",
} as const;

/** One of the catalogue's codes. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options for {@link SigilError}. */
export interface SigilErrorOptions {
  kind?: ErrorKind;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** An expected failure with a stable code and a one-line, secret-free message. */
export class SigilError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: SigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SigilError";
    this.code = code;
    this.kind = options.kind ?? (code === ErrorCodes.INTERNAL ? "internal" : "user");
    this.details = options.details ?? {};
  }
}

/** Shorthand for a user error. */
export function userError(code: ErrorCode, message: string, details?: Record<string, unknown>): SigilError {
  return new SigilError(code, message, { kind: "user", details });
}

/** True when `e` is a {@link SigilError} (optionally of the given code). */
export function isSigilError(e: unknown, code?: ErrorCode): e is SigilError {
  return e instanceof SigilError && (code === undefined || e.code === code);
}
