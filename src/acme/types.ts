/**
 * The ACME server's (RFC 8555) records and the narrow interfaces it needs from the rest of
 * Sigil: its storage ({@link AcmeStore}; the records live with the store, in
 * store/acme-records.ts, and are re-exported here), challenge validation ({@link Validators})
 * and JWS checking (jws.ts).
 */

export type {
  AccountStatus,
  OrderStatus,
  AuthzStatus,
  ChallengeStatus,
  ChallengeType,
  AcmeIdentifier,
  StoredProblem,
  AcmeSettings,
  AccountRecord,
  OrderRecord,
  AuthzRecord,
  ChallengeRecord,
  EabKeyRecord,
  AcmeTx,
  AcmeReads,
  AcmeStore,
} from "../store/acme-records.js";

export type { ValidationResult, Validators } from "../authority/acme/validators.js";
