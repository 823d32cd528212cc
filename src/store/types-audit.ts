/**
 * Store contracts of the audit log (the hash chain, its signed checkpoints and the audit
 * key) and of the keys the service makes for itself. Exported with the others from
 * types.ts.
 */
import type { AuditRangeSummary } from "../audit/segment.js";

/** An audit event before it is chained. */
export interface AuditDraft {
  at: number;
  /** Who acted: a local user name, `cli:<user>`, a token name, ... */
  actor: string;
  /** What happened: `ca.create`, `cert.issue`, `cert.revoke`, `crl.publish`, `request.record`, `*.refused`, ... */
  action: string;
  /** What it acted on: a CA name, `CA/serial`, a request id. */
  target: string | null;
  /** Details as plain JSON (never key material or passphrases). */
  details: Record<string, unknown>;
}

/** A chained audit event. */
export interface AuditEvent extends AuditDraft {
  seq: number;
  /** Hex SHA-256 of the previous event (64 zeros for the first). */
  prevHash: string;
  /** Hex SHA-256 over prevHash and this event's canonical form (see audit/chain.ts). */
  hash: string;
}

/**
 * A chained audit event as the store keeps it: `details` is the stored JSON text (the
 * writer's `stableStringify` of the details; see audit/chain.ts `storedChainHash`).
 */
export interface StoredAuditEvent extends Omit<AuditEvent, "details"> {
  details: string;
}

/**
 * A signed checkpoint of the audit log (audit/checkpoint.ts): the Merkle tree head of the
 * first `treeSize` events (RFC 9162 §2.1), signed by the audit key `keyId`.
 */
export interface AuditCheckpoint {
  /** How many events it covers: seq 1..treeSize. */
  treeSize: number;
  /** Hex Merkle tree hash of those events. */
  rootHash: string;
  /** When it was signed (epoch ms). */
  at: number;
  /** Hex SHA-256 of the signing key's SubjectPublicKeyInfo. */
  keyId: string;
  /** Base64 signature over the checkpoint's text (audit/checkpoint.ts). */
  signature: string;
}

/** An audit signing key: where its private half is, and its public key (which only a pin outside the database makes trusted). */
export interface AuditKeyRecord {
  /** Hex SHA-256 of `spki`. */
  keyId: string;
  keyRef: string;
  /** DER SubjectPublicKeyInfo. */
  spki: Buffer;
  createdAt: number;
}

/**
 * A key the service made for itself (an OCSP responder key, the audit signing key), kept in
 * the database so that every instance on it can open it (keys/store-keystore.ts): the same
 * passphrase-encrypted PKCS#8 PEM a key file holds, never the key in the clear.
 */
export interface ServiceKeyRecord {
  /** The key's name: its keyRef is `store:NAME`. */
  name: string;
  /** PEM "ENCRYPTED PRIVATE KEY" (RFC 5958 §3). */
  pem: string;
  createdAt: number;
}

/** The audit chain: reads. */
export interface AuditStore {
  /** Audit events in chain order, streamed. */
  auditEvents(): AsyncIterable<AuditEvent>;
  /** The head of the audit chain as recorded separately (detects truncation), if any. */
  auditHead(): Promise<{ seq: number; hash: string } | undefined>;
  /** Audit events with seq > `afterSeq`, in chain order, streamed. */
  auditEventsAfter(afterSeq: number): AsyncIterable<AuditEvent>;
  /**
   * Audit events with seq > `afterSeq` (default 0: all), in chain order, as stored (details
   * unparsed), streamed in batches: for walking the whole chain with little work per event.
   */
  auditEventBatches(afterSeq?: number): AsyncIterable<readonly StoredAuditEvent[]>;
  /**
   * The whole log verified in parts on parallel readers (audit/segment.ts), the parts'
   * summaries in seq order up to the first that fails, for audit/log-verify.ts to join;
   * `sizes` are the checkpoint sizes whose Merkle roots are checked. Only where the backend
   * has such readers (SQLite); elsewhere callers walk {@link auditEventBatches}.
   * `background`: the readers run at the lowest CPU priority (the service's own check, which
   * must not take the cores from the requests it serves).
   */
  auditRanges?(sizes: readonly number[], opts?: { background?: boolean }): Promise<AuditRangeSummary[]>;
  /** The signed checkpoints, smallest tree first. */
  auditCheckpoints(): Promise<AuditCheckpoint[]>;
  /** The newest (largest) signed checkpoint, if any. */
  lastAuditCheckpoint(): Promise<AuditCheckpoint | undefined>;
  /** The audit signing keys, oldest first (the first is the audit key). */
  auditKeys(): Promise<AuditKeyRecord[]>;
}

/** The audit chain: appends inside a transaction. */
export interface AuditStoreTx {
  /** Appends a chained audit event (reads the chain head inside this transaction; hashes by audit/chain.ts). */
  appendAudit(draft: AuditDraft): Promise<AuditEvent>;
  /** Stores a signed checkpoint; false when one of that tree size exists already (another signer was first). */
  insertAuditCheckpoint(c: AuditCheckpoint): Promise<boolean>;
  /** Records a new audit signing key. */
  insertAuditKey(k: AuditKeyRecord): Promise<void>;
}

/** The service's own keys, encrypted (see {@link ServiceKeyRecord}): reads. */
export interface ServiceKeyStore {
  /** The key named `name`, if there is one. */
  getServiceKey(name: string): Promise<ServiceKeyRecord | undefined>;
}

/** The service's own keys: writes inside a transaction. */
export interface ServiceKeyStoreTx {
  /** Keeps a new key; a name that is taken: SigilError FILE_EXISTS (a key is never replaced). */
  insertServiceKey(k: ServiceKeyRecord): Promise<void>;
  /** Deletes key `name`; one that is gone already is not an error. */
  deleteServiceKey(name: string): Promise<void>;
}
