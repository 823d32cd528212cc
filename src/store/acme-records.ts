/**
 * The ACME server's (RFC 8555) records as the store keeps them, and the store's ACME
 * interfaces ({@link AcmeStore}, one implementation over Kysely for SQLite and PostgreSQL:
 * kysely/acme.ts). Times are epoch milliseconds. Public ids are random base64url strings
 * (128 bits) used in URLs, so accounts, orders, authorizations and challenges cannot be
 * enumerated.
 */

/** RFC 8555 §7.1.6 account states. */
export type AccountStatus = "valid" | "deactivated" | "revoked";
/** RFC 8555 §7.1.6 order states. */
export type OrderStatus = "pending" | "ready" | "processing" | "valid" | "invalid";
/** RFC 8555 §7.1.6 authorization states. */
export type AuthzStatus = "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
/** RFC 8555 §7.1.6 challenge states. */
export type ChallengeStatus = "pending" | "processing" | "valid" | "invalid";
/** The challenge types Sigil offers: RFC 8555 §8.3, §8.4 and RFC 8737. */
export type ChallengeType = "http-01" | "dns-01" | "tls-alpn-01";

/** An identifier of an order (RFC 8555 §9.7.7: "dns"; RFC 8738: "ip"): policy's word. */
export type { AcmeIdentifier } from "../policy/acme-identifiers.js";
import type { AcmeIdentifier } from "../policy/acme-identifiers.js";

/** An RFC 7807 problem as stored on an order or challenge (RFC 8555 §6.7). */
export interface StoredProblem {
  /** The full type URN, e.g. `urn:ietf:params:acme:error:connection`. */
  type: string;
  detail: string;
  status?: number;
}

/** A CA's ACME settings, kept in the store (`sigil acme enable`) or given in the config. */
export interface AcmeSettings {
  caName: string;
  enabled: boolean;
  /**
   * Allowed identifiers: DNS patterns (`*.genfic.internal` matches any name below
   * genfic.internal, at any depth; `host.genfic.internal` exactly that name) and IP
   * ranges in CIDR form (`10.0.0.0/8`, `fd00::/8`) or single addresses.
   */
  allow: string[];
  /** Longest validity of an ACME-issued certificate, in days; null: the profile's. */
  maxDays: number | null;
  /** External Account Binding required on newAccount (RFC 8555 §7.3.4). */
  eabRequired: boolean;
  /** Orders wait in the request queue for an operator instead of being signed at finalize. */
  manualApproval: boolean;
  /** Profile ACME certificates are signed under (default "system": serverAuth). */
  profile: string;
  updatedAt: number;
  updatedBy: string;
}

/** An ACME account (RFC 8555 §7.1.2). */
export interface AccountRecord {
  id: number;
  publicId: string;
  caId: number;
  /** RFC 7638 JWK thumbprint (base64url SHA-256) of the account key: unique per CA. */
  thumbprint: string;
  /** The account's public key as a JWK, JSON text. */
  jwk: string;
  contact: string[];
  status: AccountStatus;
  /** The EAB key id the account was bound with, if any. */
  eabKid: string | null;
  createdAt: number;
}

/** An order (RFC 8555 §7.1.3). */
export interface OrderRecord {
  id: number;
  publicId: string;
  accountId: number;
  caId: number;
  status: OrderStatus;
  identifiers: AcmeIdentifier[];
  /** Requested notBefore / notAfter (RFC 8555 §7.4), if the client gave them. */
  notBefore: number | null;
  notAfter: number | null;
  expiresAt: number;
  error: StoredProblem | null;
  /** The queued request made at finalize. */
  requestId: number | null;
  /** The issued certificate (certificates.id). */
  certId: number | null;
  createdAt: number;
}

/** An authorization (RFC 8555 §7.1.4), one per identifier of an order. */
export interface AuthzRecord {
  id: number;
  publicId: string;
  accountId: number;
  orderId: number;
  identifier: AcmeIdentifier;
  /** The order asked for `*.` + identifier.value (RFC 8555 §7.1.4 "wildcard"). */
  wildcard: boolean;
  status: AuthzStatus;
  expiresAt: number;
}

/** A challenge (RFC 8555 §8). */
export interface ChallengeRecord {
  id: number;
  publicId: string;
  authzId: number;
  type: ChallengeType;
  /** RFC 8555 §8.1: at least 128 bits of entropy, base64url. */
  token: string;
  status: ChallengeStatus;
  /** When validation began (status processing); a stale one is run again (its process may have died). */
  startedAt: number | null;
  validatedAt: number | null;
  error: StoredProblem | null;
}

/** An EAB key (RFC 8555 §7.3.4), made by `sigil acme eab create`. */
export interface EabKeyRecord {
  /** The key identifier the client sends as `kid` of the inner JWS. */
  kid: string;
  caId: number;
  /** The HMAC key (HS256). A secret: never logged, printed once at creation. */
  hmacKey: Buffer;
  createdAt: number;
  createdBy: string;
  /** The account it was used for; an EAB key binds one account only. */
  accountId: number | null;
}

/** Writes of the ACME server, inside one store transaction. */
export interface AcmeTx {
  putSettings(s: AcmeSettings, caId: number): Promise<void>;
  insertAccount(a: Omit<AccountRecord, "id">): Promise<AccountRecord>;
  updateAccount(
    id: number,
    patch: Partial<Pick<AccountRecord, "contact" | "status" | "jwk" | "thumbprint">>,
  ): Promise<void>;
  insertOrder(o: Omit<OrderRecord, "id">): Promise<OrderRecord>;
  updateOrder(
    id: number,
    patch: Partial<Pick<OrderRecord, "status" | "error" | "requestId" | "certId">>,
  ): Promise<void>;
  insertAuthz(a: Omit<AuthzRecord, "id">): Promise<AuthzRecord>;
  updateAuthz(id: number, patch: Partial<Pick<AuthzRecord, "status">>): Promise<void>;
  insertChallenge(c: Omit<ChallengeRecord, "id">): Promise<ChallengeRecord>;
  updateChallenge(
    id: number,
    patch: Partial<Pick<ChallengeRecord, "status" | "startedAt" | "validatedAt" | "error">>,
  ): Promise<void>;
  insertEabKey(k: EabKeyRecord): Promise<void>;
  /** Binds an unused EAB key to an account; false when it was bound already. */
  bindEabKey(kid: string, accountId: number): Promise<boolean>;
  /**
   * Records a nonce as used (RFC 8555 §6.5); false when it was used before (a replay).
   * `expiresAt`: when the record may be pruned (the nonce is refused by age after that).
   */
  useNonce(nonce: string, expiresAt: number): Promise<boolean>;
  /** Deletes used-nonce records that expired before `now`; returns how many. */
  pruneNonces(now: number): Promise<number>;
  /** Re-reads an order with a row lock (PostgreSQL `FOR UPDATE`), for state changes. */
  getOrderForUpdate(id: number): Promise<OrderRecord | undefined>;
  /** Re-reads a challenge with a row lock, for state changes. */
  getChallengeForUpdate(id: number): Promise<ChallengeRecord | undefined>;
}

/** Reads of the ACME server (committed data). */
export interface AcmeReads {
  getSettings(caName: string): Promise<AcmeSettings | undefined>;
  listSettings(): Promise<AcmeSettings[]>;
  getAccountByPublicId(caId: number, publicId: string): Promise<AccountRecord | undefined>;
  getAccountByThumbprint(caId: number, thumbprint: string): Promise<AccountRecord | undefined>;
  getOrderByPublicId(caId: number, publicId: string): Promise<OrderRecord | undefined>;
  /** How many orders an account made at or after `since` (the order rate limit). */
  countOrdersSince(accountId: number, since: number): Promise<number>;
  /** Orders of an account, newest first (RFC 8555 §7.1.2.1 orders list). */
  listOrders(accountId: number, limit: number): Promise<OrderRecord[]>;
  getAuthzByPublicId(caId: number, publicId: string): Promise<AuthzRecord | undefined>;
  getAuthzById(id: number): Promise<AuthzRecord | undefined>;
  /** The account's valid, unexpired authorizations (revocation by authorization, RFC 8555 §7.6). */
  validAuthzs(accountId: number, now: number): Promise<AuthzRecord[]>;
  authzsOfOrder(orderId: number): Promise<AuthzRecord[]>;
  getChallengeByPublicId(caId: number, publicId: string): Promise<ChallengeRecord | undefined>;
  challengesOfAuthz(authzId: number): Promise<ChallengeRecord[]>;
  /** The order whose certificate is `certId`, if ACME issued it. */
  orderOfCert(certId: number): Promise<OrderRecord | undefined>;
  /** The order that made request `requestId`, if any (manual approval). */
  orderOfRequest(requestId: number): Promise<OrderRecord | undefined>;
  getEabKey(kid: string): Promise<EabKeyRecord | undefined>;
  listEabKeys(caId: number): Promise<EabKeyRecord[]>;
}

/** The ACME storage: reads, and writes inside a transaction that commits or rolls back as one. */
export interface AcmeStore extends AcmeReads {
  transaction<T>(fn: (tx: AcmeTx & AcmeReads) => Promise<T>): Promise<T>;
}
