/**
 * Store contracts, one per aggregate. The authority depends on these, never on a backend.
 * Times are epoch milliseconds; binary values are Buffers; serials are lowercase hex
 * without leading zeros.
 */
import type { KeyType } from "../keys/types.js";
import type { RequestChannel } from "../policy/channels.js";
import type { AdminRole } from "../policy/roles.js";
import type { AcmeReads, AcmeStore as AcmeRecords, AcmeTx } from "./acme-records.js";
import type { MailboxProofReads, MailboxProofTx } from "./mailbox-proofs.js";
import type { GeneralName, RevokedEntry } from "../x509/types.js";

import type { AuditStore, AuditStoreTx, ServiceKeyStore, ServiceKeyStoreTx } from "./types-audit.js";
import type { InstanceStore, JobStore, JobStoreTx } from "./types-jobs.js";

// The audit log and the service's own keys, and the jobs and instances, are declared in
// their own files; every contract is exported from here.
export type * from "./types-audit.js";
export type * from "./types-jobs.js";

/** A certificate authority Sigil holds. */
export interface CaRecord {
  id: number;
  name: string;
  parentId: number | null;
  /** Subject DN for display (RFC 4514). */
  subject: string;
  certDer: Buffer;
  keyRef: string;
  keyType: KeyType;
  serialHex: string;
  notBefore: number;
  notAfter: number;
  pathLen: number | null;
  defaultProfile: string;
  /** The last cRLNumber published (0: none yet). */
  crlNumber: number;
  createdAt: number;
}

/** Certificate status as stored; "expired" is derived from notAfter at query time. */
export type CertStatus = "valid" | "revoked";

/** An issued certificate. */
export interface CertRecord {
  id: number;
  caId: number;
  serialHex: string;
  /** Subject DN for display (RFC 4514). */
  subject: string;
  commonName: string | null;
  /** The requester's e-mail (from the subject's emailAddress or an e-mail SAN), for expiry notices. */
  email: string | null;
  sans: GeneralName[];
  profile: string;
  notBefore: number;
  notAfter: number;
  der: Buffer;
  /** Lowercase hex SHA-256 of the DER. */
  fingerprint: string;
  status: CertStatus;
  revokedAt: number | null;
  /** RFC 5280 §5.3.1 reason code. */
  revocationReason: number | null;
  requestId: number | null;
  issuedAt: number;
}

/** Channel a request came in by (the word is policy's: policy/channels.ts). */
export type { RequestChannel };

/** State of a request in the queue. */
export type RequestState = "pending" | "approved" | "rejected" | "issued" | "failed";

/** A certificate signing request as recorded. */
export interface RequestRecord {
  id: number;
  channel: RequestChannel;
  /** E-mail address or local user name of whoever submitted it. */
  submitter: string | null;
  /** The requester's e-mail (subject emailAddress or e-mail SAN). */
  email: string | null;
  receivedAt: number;
  csrDer: Buffer;
  subject: string;
  caName: string | null;
  profile: string | null;
  state: RequestState;
  reason: string | null;
  certificateId: number | null;
  /** Where it came from: a file path, `mail:<Message-ID>`, ... */
  source: string | null;
  /** The checks run at intake, in order. */
  checks: RequestCheck[];
  /** Who approved or rejected it (an operator, `auto:<rule>`), and when. */
  decidedBy: string | null;
  decidedAt: number | null;
  /** Where replies go (the submitter's address, or the certificate's per config). */
  replyTo: string | null;
  /** The unguessable id a web requester follows the request by (web portal only). */
  publicId?: string | null;
}

/** One check run on a request at intake. */
export interface RequestCheck {
  /** `csr` (readable PKCS#10), `signature`, `key`, `policy`, `sender`, ... */
  check: string;
  ok: boolean;
  detail: string;
}

/** A mail waiting to be sent, or sent, or given up on. */
export interface OutboxRecord {
  id: number;
  /** `issued`, `rejected`, `expiry`, `summary`. */
  kind: string;
  to: string;
  subject: string;
  body: string;
  attachments: Array<{ filename: string; contentType: string; base64: string }>;
  requestId: number | null;
  certId: number | null;
  state: "pending" | "sent" | "failed";
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

/** A message or file taken in once (so it is never processed twice). */
export interface IntakeRecord {
  id: number;
  /** `mail:<Message-ID or sha256>`, `drop:<sha256>:<name>`. */
  key: string;
  channel: RequestChannel;
  /** Where it was: `imap:INBOX:<uidvalidity>:<uid>`, a file path. */
  origin: string | null;
  receivedAt: number;
  outcome: "processed" | "rejected";
  reason: string | null;
  requestIds: number[];
  /** True once the message or file was moved to Processed/Rejected. */
  moved: boolean;
}

/** Filters for certificate listings. `now` decides what counts as expired. */
export interface CertQuery {
  caId?: number;
  status?: "valid" | "revoked" | "expired";
  /** Only certificates with notAfter <= this (and not yet expired unless status says so). */
  expiringBefore?: number;
  /** Case-insensitive exact match on serial, common name or e-mail. */
  match?: string;
  /** Only certificates issued under this profile. */
  profile?: string;
  /** Leave out certificates issued under these profiles (listings hide the internal ones). */
  excludeProfiles?: readonly string[];
  now: number;
  limit?: number;
}

/** A CA's delegated OCSP responder (RFC 6960 §4.2.2.2): a certificate the CA issued, and its key. */
export interface OcspResponderRecord {
  id: number;
  caId: number;
  /** The responder certificate's row in `certificates`. */
  certId: number;
  certDer: Buffer;
  keyRef: string;
  keyType: KeyType;
  notBefore: number;
  notAfter: number;
  createdAt: number;
}

/** A certificate's revocation state with its pre-signed OCSP answer, as the responder reads it. */
export interface OcspEntry extends Pick<
  CertRecord,
  "caId" | "serialHex" | "status" | "revokedAt" | "revocationReason" | "notAfter"
> {
  certId: number;
  /** The pre-signed OCSPResponse; null when none is signed yet. */
  der: Buffer | null;
  thisUpdate: number;
  nextUpdate: number;
}

/** A role of the admin API (the word is policy's: policy/roles.ts). */
export type { AdminRole };

/** How a token row's `secretHash` was made (authority/tokens.ts). */
export type TokenHashScheme = "hmac-sha256" | "sha256";

/**
 * An admin API token as stored: the secret itself is never stored, only a hash of it keyed
 * with the token key (outside the database).
 */
export interface AdminTokenRecord {
  /** The token's public identifier (its prefix), e.g. `a1b2c3d4e5f6a7b8`. */
  id: string;
  name: string;
  role: AdminRole;
  secretHash: Buffer;
  /**
   * `hmac-sha256`: HMAC under the token key over the secret and the row's grant;
   * `sha256`: a plain hash from before token keys, never accepted (re-create the token).
   */
  scheme: TokenHashScheme;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  revokedAt: number | null;
}

/** A CA's latest CRL as published. */
export interface CrlRecord {
  caId: number;
  crlNumber: number;
  der: Buffer;
  thisUpdate: number;
  nextUpdate: number;
}

/** One revoked entry, as a CRL needs it (defined with the CRL writer, in x509/). */
export type { RevokedEntry } from "../x509/types.js";

/** The revocation state of one certificate. */
export type CertStatusRow = Pick<CertRecord, "status" | "revokedAt" | "revocationReason">;

/** A public key never to be certified again (table `blocked_keys`). */
export interface BlockedKey {
  /** {@link publicKeyId} of the key (x509/algorithms.ts). */
  keyId: string;
  /** `compromised`: its certificate was revoked for keyCompromise/cACompromise; `sigil`: one of Sigil's own keys. */
  kind: "compromised" | "sigil";
  /** One line: which certificate, CA or responder, and when. */
  detail: string;
  caName: string | null;
  serialHex: string | null;
  since: number;
}

/** Patchable fields of a request (decisions, routing, checks). */
export type RequestPatch = Partial<
  Pick<
    RequestRecord,
    "state" | "reason" | "certificateId" | "caName" | "profile" | "decidedBy" | "decidedAt" | "checks"
  >
>;

/** CAs: reads. */
export interface CaStore {
  getCa(name: string): Promise<CaRecord | undefined>;
  getCaById(id: number): Promise<CaRecord | undefined>;
  listCas(): Promise<CaRecord[]>;
}

/** CAs: writes inside a transaction. */
export interface CaStoreTx {
  insertCa(ca: Omit<CaRecord, "id">): Promise<CaRecord>;
  /**
   * Atomically increments CA `caId`'s CRL number and returns the new value (RFC 5280
   * §5.2.3: monotonically increasing), safe when several instances publish at once; unknown
   * CA: CA_NOT_FOUND. `setCrlNumber` is for imports (a number taken from elsewhere).
   */
  nextCrlNumber(caId: number): Promise<number>;
  setCrlNumber(caId: number, crlNumber: number): Promise<void>;
  /** Changes where a CA's key lives (`file:NAME`, `offline:NAME`, ...); unknown CA: CA_NOT_FOUND. */
  setCaKeyRef(caId: number, keyRef: string): Promise<void>;
}

/** Certificates, revocation, blocked keys and CRLs: reads. */
export interface CertStore {
  getCert(caId: number, serialHex: string): Promise<CertRecord | undefined>;
  /** The certificate with row id `id`. */
  getCertById(id: number): Promise<CertRecord | undefined>;
  /** Which of these public keys (by {@link BlockedKey.keyId}) are blocked. */
  findBlockedKeys(keyIds: string[]): Promise<Map<string, BlockedKey>>;
  /** Certificates matching `q`, sorted by notAfter ascending, then id. */
  findCerts(q: CertQuery): Promise<CertRecord[]>;
  /**
   * Valid certificates (OCSP responders left out) expiring in each of `buckets` periods of
   * `bucketMs` from `from`, per CA: rows of (caId, bucket index, count), zero counts omitted.
   */
  expiryHistogram(
    from: number,
    bucketMs: number,
    buckets: number,
  ): Promise<Array<{ caId: number; bucket: number; count: number }>>;
  /**
   * Revoked entries of one CA, streamed in batches (of about a thousand) in issue order,
   * from one read snapshot, without loading all rows: a CRL may list a million.
   */
  revokedEntries(caId: number): AsyncIterable<RevokedEntry[]>;
  /** Number of revoked entries of a CA. */
  countRevoked(caId: number): Promise<number>;
  /** The latest notAfter among the certificates CA `caId` issued (any status); none: undefined. */
  lastNotAfter(caId: number): Promise<number | undefined>;
  /** The CA's latest CRL, if one was published since the OCSP migration. */
  latestCrl(caId: number): Promise<CrlRecord | undefined>;
}

/** Certificates, revocation, blocked keys and CRLs: writes inside a transaction. */
export interface CertStoreTx {
  /**
   * Inserts a certificate, and its OCSP answer row: `ocsp` when given (pre-signed at
   * issuance), else a row that is due at once. A (caId, serialHex) that exists throws
   * SigilError code STORE with details.duplicateSerial.
   */
  insertCert(
    c: Omit<CertRecord, "id">,
    ocsp?: { der: Buffer; thisUpdate: number; nextUpdate: number },
  ): Promise<CertRecord>;
  revokeCert(id: number, revokedAt: number, reason: number): Promise<void>;
  /** Status of certificate (caId, serialHex) as this transaction sees it (chain checks at commit). */
  getCertStatus(caId: number, serialHex: string): Promise<CertStatusRow | undefined>;
  /** Blocks public keys from being certified again (a compromise replaces a `sigil` record). */
  blockKeys(keys: BlockedKey[]): Promise<void>;
  /** Stores a CA's latest CRL, replacing the previous one (unless it is newer). */
  putCrl(c: CrlRecord): Promise<void>;
}

/** The request queue, intake log and mailbox proofs: reads. */
export interface RequestStore {
  getRequest(id: number): Promise<RequestRecord | undefined>;
  /** The request with this public (web portal) id. */
  getRequestByPublicId(publicId: string): Promise<RequestRecord | undefined>;
  listRequests(q: { state?: RequestState; limit?: number }): Promise<RequestRecord[]>;
  /** The intake record with this key, if any. */
  getIntake(key: string): Promise<IntakeRecord | undefined>;
  /** Proofs of mailbox control and portal sessions of requests (committed data). */
  readonly mailboxProofs: MailboxProofReads;
}

/** The request queue, intake log and mailbox proofs: writes inside a transaction. */
export interface RequestStoreTx {
  insertRequest(r: Omit<RequestRecord, "id">): Promise<RequestRecord>;
  updateRequest(id: number, patch: RequestPatch): Promise<void>;
  /**
   * The request with id `id` as this transaction sees it, locked until the transaction
   * ends (PostgreSQL: `SELECT ... FOR UPDATE`; SQLite: the write lock is already held), so
   * a state check followed by `updateRequest` cannot race another instance's decision.
   */
  getRequestForUpdate(id: number): Promise<RequestRecord | undefined>;
  /** Records a message or file as taken in; a key seen before throws SigilError STORE with details.duplicateIntake. */
  recordIntake(r: Omit<IntakeRecord, "id">): Promise<IntakeRecord>;
  /** Marks an intake record's message or file as moved. */
  markIntakeMoved(key: string): Promise<void>;
  /** Mailbox proofs inside this transaction. */
  readonly mailboxProofs: MailboxProofTx;
}

/** OCSP responders and pre-signed answers: reads. */
export interface OcspStore {
  /** The CA's newest delegated OCSP responder (latest notAfter), if any. */
  currentOcspResponder(caId: number): Promise<OcspResponderRecord | undefined>;
  /** The state and pre-signed answer of one certificate (the OCSP hot path). */
  ocspLookup(caId: number, serialHex: string): Promise<OcspEntry | undefined>;
  /**
   * Answers due for signing (nextUpdate <= `dueBefore`, or never signed), oldest first; with
   * `afterCertId`, in certificate order after that id instead (a cursor over all answers).
   */
  ocspDue(dueBefore: number, limit: number, afterCertId?: number): Promise<OcspEntry[]>;
  /** How many answers are due (nextUpdate <= `dueBefore`). */
  countOcspDue(dueBefore: number): Promise<number>;
  /**
   * The answers' change mark: it changes with every commit that changes an answer a server
   * may have cached (a revocation, a new CA, {@link OcspStoreTx.invalidateOcspAnswers}), and
   * with no other. A refreshed answer does not change it: the one it replaces is still valid.
   */
  ocspEpoch(): Promise<string>;
}

/** OCSP responders and pre-signed answers: writes inside a transaction. */
export interface OcspStoreTx {
  /** Records a new delegated OCSP responder of a CA (its certificate is already inserted). */
  insertOcspResponder(r: Omit<OcspResponderRecord, "id">): Promise<OcspResponderRecord>;
  /**
   * Stores (inserts or replaces) the pre-signed answer of certificate `certId`; `der` null
   * marks it due. Answers are replaced whole.
   */
  putOcspResponses(
    rows: Array<{ certId: number; caId: number; der: Buffer | null; thisUpdate: number; nextUpdate: number }>,
  ): Promise<void>;
  /** Changes {@link OcspStore.ocspEpoch}, so that every server drops its cached answers. */
  invalidateOcspAnswers(): Promise<void>;
}

/** The mail outbox and expiry notices: reads. */
export interface MailStore {
  /** Mails due for a send attempt (pending, nextAttemptAt <= now), oldest first. */
  dueMail(now: number, limit: number): Promise<OutboxRecord[]>;
  /** The mails about one request, oldest first. */
  mailForRequest(requestId: number): Promise<OutboxRecord[]>;
  /** The thresholds already noticed for a certificate. */
  noticesSent(certId: number): Promise<number[]>;
}

/** The mail outbox and expiry notices: writes inside a transaction. */
export interface MailStoreTx {
  /** Queues a mail (sent by the outbox job after commit). */
  enqueueMail(m: Omit<OutboxRecord, "id">): Promise<OutboxRecord>;
  /**
   * Claims a due mail for one sender: pushes its next attempt to `leaseUntil` if it is
   * still pending and due at `now`; false when another sender claimed it first.
   */
  claimMail(id: number, now: number, leaseUntil: number): Promise<boolean>;
  /** Records a send attempt's result. */
  updateMail(
    id: number,
    patch: Partial<Pick<OutboxRecord, "state" | "attempts" | "nextAttemptAt" | "lastError" | "sentAt">>,
  ): Promise<void>;
  /** Records an expiry notice; false when this (certificate, threshold) was already noticed. */
  recordNotice(certId: number, thresholdDays: number, sentAt: number): Promise<boolean>;
}

/** Admin API tokens: reads. */
export interface TokenStore {
  /** One admin token by id. */
  getAdminToken(id: string): Promise<AdminTokenRecord | undefined>;
  /** All admin tokens, newest first. */
  listAdminTokens(): Promise<AdminTokenRecord[]>;
}

/** Admin API tokens: writes inside a transaction. */
export interface TokenStoreTx {
  /**
   * Records a new admin token (its id must be new), unless a live token (not revoked, not
   * expired at `t.createdAt`) already has its name: then nothing is written and that token
   * is returned. Token creations are serialized across processes and instances, so two
   * creations of one name cannot both succeed.
   */
  insertAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord | undefined>;
  /** Marks a token revoked at `at`; false when it does not exist or was already revoked. */
  revokeAdminToken(id: string, at: number): Promise<boolean>;
}

/** The ACME server's records (accounts, orders, authorizations, challenges, EAB keys, nonces). */
export interface AcmeStore {
  /** Reads of committed data, and `transaction` inside one store transaction. */
  readonly acme: AcmeRecords;
}

/** The ACME server's records inside a transaction (they commit with its audit events and requests). */
export interface AcmeStoreTx {
  readonly acme: AcmeTx & AcmeReads;
}

/** Writes inside one transaction. Everything done through it commits or rolls back together. */
export interface StoreTx
  extends
    CaStoreTx,
    CertStoreTx,
    RequestStoreTx,
    OcspStoreTx,
    MailStoreTx,
    TokenStoreTx,
    AcmeStoreTx,
    JobStoreTx,
    AuditStoreTx,
    ServiceKeyStoreTx {}

/**
 * What a {@link Store.snapshot} wrote: the backend, and what the copy holds (read from the
 * copy itself, so it describes exactly that point in time).
 */
export interface StoreSnapshot {
  /** The backend: `sqlite` (the copy is a database file); `postgres` (a pg_dump archive). */
  kind: "sqlite" | "postgres";
  counts: { cas: number; certificates: number; revoked: number; requests: number; auditEvents: number };
  /** The recorded audit chain head in the copy, if any. */
  auditHead: { seq: number; hash: string } | null;
  /**
   * The keys the copy refers to: every CA's key, each CA's current OCSP responder key
   * (older responder keys are deleted when a responder is renewed), and the audit signing
   * key (`ca` ""). A `store:` key is in the copy itself (table `service_keys`): `inCopy`
   * says its row is there.
   */
  keys: Array<{ keyRef: string; role: "ca" | "ocsp-responder" | "audit"; ca: string; inCopy?: true }>;
}

/** The store as the authority sees it: every aggregate's reads, and transactions over all. */
export interface Store
  extends
    CaStore,
    CertStore,
    RequestStore,
    OcspStore,
    MailStore,
    TokenStore,
    AcmeStore,
    JobStore,
    InstanceStore,
    AuditStore,
    ServiceKeyStore {
  /**
   * Runs `fn` in one write transaction (SQLite: BEGIN IMMEDIATE, so concurrent processes
   * queue instead of failing); commits when it resolves, rolls back when it throws.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * This process's write transactions now: when the running one began (`performance.now()`
   * ms; none running: absent) and how many wait for their turn behind it. `sigil serve`
   * warns when one runs for long (daemon/stall.ts): every later write waits for it.
   */
  writeState?(): { since?: number; waiting: number };
  /**
   * A number that changes whenever another connection (another process, or this store's
   * writer) commits: servers poll it to drop caches (SQLite `PRAGMA data_version`).
   */
  dataVersion(): Promise<number>;
  /**
   * Writes a consistent copy of the whole database to `destPath` (which must not exist)
   * while other connections and processes keep writing: one point in time, every committed
   * transaction before it and none after. SQLite: `VACUUM INTO`; PostgreSQL: pg_dump.
   */
  snapshot(destPath: string): Promise<StoreSnapshot>;
  close(): Promise<void>;
}
