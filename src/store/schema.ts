/**
 * Kysely table types for the Sigil database, and the mapping from rows to the records of
 * store/types.ts. Shared by every backend. Times are epoch milliseconds in `bigint`
 * columns: better-sqlite3 returns them as numbers; a PostgreSQL backend must install an
 * int8 type parser (pg returns int8 as strings).
 *
 * A table that stores a record is derived from the record's type by the rule of
 * kysely/rows.ts ({@link Columns}); only tables without a record, and the columns that
 * differ from their record, are spelled out here.
 */
import type { Generated, Selectable } from "kysely";
import type {
  AccountRecord,
  AcmeSettings,
  AuthzRecord,
  ChallengeRecord,
  EabKeyRecord,
  OrderRecord,
} from "./acme-records.js";
import { parseDetails } from "../audit/chain.js";
import { fromRow, type Columns } from "./kysely/rows.js";
import type { MailboxProof } from "./mailbox-proofs.js";
import type {
  AdminTokenRecord,
  AuditCheckpoint,
  AuditEvent,
  StoredAuditEvent,
  AuditKeyRecord,
  BlockedKey,
  CaRecord,
  CertRecord,
  CrlRecord,
  InstanceRecord,
  IntakeRecord,
  OcspEntry,
  OcspResponderRecord,
  OutboxRecord,
  RequestCheck,
  RequestRecord,
  ServiceKeyRecord,
} from "./types.js";

/** Table `cas`: the certificate authorities. */
export type CasTable = Columns<CaRecord>;

/** Table `certificates`: every certificate issued. `sans` is JSON text. */
export type CertificatesTable = Columns<CertRecord>;

/** Table `requests`: the request queue (`checks`: JSON text, NULL in rows from before migration 0003). */
export type RequestsTable = Columns<Omit<RequestRecord, "checks"> & { checks: RequestCheck[] | null }>;

/** Table `outbox`: mails to send, with retry state (`to` is column `to_addr`). */
export type OutboxTable = Columns<Omit<OutboxRecord, "to"> & { toAddr: string }>;

/** Table `intake_log`: messages and files taken in. */
export type IntakeLogTable = Columns<IntakeRecord>;

/** Table `job_marks`: named values jobs keep across restarts. */
export interface JobMarksTable {
  name: string;
  value: string;
  at: number;
}

/** Table `job_leases`: which instance runs a background job, until when (epoch ms). */
export interface JobLeasesTable {
  name: string;
  holder: string;
  expires_at: number;
}

/** Table `instances`: the `sigil serve` instances seen (`admin` is JSON text, `sealed` 0/1). */
export type InstancesTable = Columns<InstanceRecord>;

/** Table `admin_tokens`: admin API tokens (the secret only as a keyed hash; see migration 0010). */
export type AdminTokensTable = Columns<Omit<AdminTokenRecord, "scheme">> & {
  /** `hmac-sha256` (keyed), or `sha256` (made before token keys: refused). */
  hash_scheme: Generated<string>;
};

/** Table `expiry_notices`: one row per certificate and threshold noticed. */
export interface ExpiryNoticesTable {
  cert_id: number;
  threshold_days: number;
  sent_at: number;
}

/**
 * Table `audit_events`: the hash chain. `seq` is assigned as head.seq + 1 (no gaps);
 * `details` is canonical JSON (sorted keys).
 */
export type AuditEventsTable = Columns<AuditEvent>;

/** Table `audit_checkpoints`: the signed Merkle tree heads of the log, one per tree size. */
export type AuditCheckpointsTable = Columns<AuditCheckpoint>;

/** Table `ocsp_epoch`: one row (id 1), the OCSP answers' change mark (store/kysely/ocsp.ts). */
export interface OcspEpochTable {
  id: number;
  token: string;
}

/** Table `audit_keys`: the audit signing keys (trusted only through the pin in sigil.json). */
export type AuditKeysTable = Columns<AuditKeyRecord>;

/** Table `service_keys`: the service's own keys, passphrase-encrypted PKCS#8 PEM, by name. */
export type ServiceKeysTable = Columns<ServiceKeyRecord>;

/** Table `audit_head`: one row (id = 1), the last event's seq and hash, written with each append. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

/** Table `ocsp_responders`: delegated OCSP responder certificates (RFC 6960 §4.2.2.2), newest wins. */
export type OcspRespondersTable = Columns<OcspResponderRecord>;

/** Table `ocsp_responses`: the pre-signed OCSP answer of each certificate (`der` NULL: due). */
export type OcspResponsesTable = Columns<
  Pick<OcspEntry, "certId" | "caId" | "der" | "thisUpdate" | "nextUpdate">
>;

/** Table `crls`: each CA's latest CRL. */
export type CrlsTable = Columns<CrlRecord>;

/** Table `acme_settings`: a CA's ACME settings (`sigil acme enable`); `allow` is JSON text, flags 0/1. */
export type AcmeSettingsTable = Columns<Omit<AcmeSettings, "caName"> & { caId: number }>;

/** Table `acme_accounts`: ACME accounts (RFC 8555 §7.1.2); `contact` is JSON text. */
export type AcmeAccountsTable = Columns<AccountRecord>;

/** Table `acme_orders`: ACME orders (RFC 8555 §7.1.3); `identifiers` and `error` are JSON text. */
export type AcmeOrdersTable = Columns<OrderRecord>;

/** Table `acme_authzs`: ACME authorizations (RFC 8555 §7.1.4); the identifier in two columns. */
export type AcmeAuthzsTable = Columns<
  Omit<AuthzRecord, "identifier"> & { identifierType: string; identifierValue: string }
>;

/** Table `acme_challenges`: ACME challenges (RFC 8555 §8); `error` is JSON text. */
export type AcmeChallengesTable = Columns<ChallengeRecord>;

/** Table `acme_eab_keys`: External Account Binding keys (RFC 8555 §7.3.4). */
export type AcmeEabKeysTable = Columns<EabKeyRecord>;

/** Table `acme_nonces`: used nonces (RFC 8555 §6.5), kept until they expire. */
export interface AcmeNoncesTable {
  nonce: string;
  expires_at: number;
}

/** Table `mailbox_proofs`: proofs of mailbox control, one per (request, address) (migration 0010). */
export type MailboxProofsTable = Columns<MailboxProof>;

/** Table `request_sessions`: the web portal session that submitted a request (SHA-256 of its cookie). */
export interface RequestSessionsTable {
  request_id: number;
  session_hash: string;
}

/**
 * Table `blocked_keys`: public keys never to be certified again (by {@link publicKeyId}):
 * keys whose certificate was revoked for keyCompromise or cACompromise, and Sigil's own
 * keys (CA, OCSP responder, service keys).
 */
export type BlockedKeysTable = Columns<BlockedKey>;

/** The whole database, for `Kysely<SigilDatabase>`. */
export interface SigilDatabase {
  blocked_keys: BlockedKeysTable;
  mailbox_proofs: MailboxProofsTable;
  request_sessions: RequestSessionsTable;
  acme_settings: AcmeSettingsTable;
  acme_accounts: AcmeAccountsTable;
  acme_orders: AcmeOrdersTable;
  acme_authzs: AcmeAuthzsTable;
  acme_challenges: AcmeChallengesTable;
  acme_eab_keys: AcmeEabKeysTable;
  acme_nonces: AcmeNoncesTable;
  outbox: OutboxTable;
  intake_log: IntakeLogTable;
  expiry_notices: ExpiryNoticesTable;
  job_marks: JobMarksTable;
  job_leases: JobLeasesTable;
  instances: InstancesTable;
  admin_tokens: AdminTokensTable;
  ocsp_responders: OcspRespondersTable;
  ocsp_responses: OcspResponsesTable;
  ocsp_epoch: OcspEpochTable;
  crls: CrlsTable;
  cas: CasTable;
  certificates: CertificatesTable;
  requests: RequestsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_keys: AuditKeysTable;
  service_keys: ServiceKeysTable;
}

/** An `admin_tokens` row as read. */
export type AdminTokenRow = Selectable<AdminTokensTable>;

/** An `audit_events` row as read. */
export type AuditRow = Selectable<AuditEventsTable>;

/** Maps a `cas` row to a {@link CaRecord}. */
export const toCaRecord = (r: Selectable<CasTable>) => fromRow<CaRecord>(r);

/** Maps a `certificates` row to a {@link CertRecord}. */
export const toCertRecord = (r: Selectable<CertificatesTable>) => fromRow<CertRecord>(r, { json: ["sans"] });

/** Maps a `requests` row to a {@link RequestRecord} (no checks recorded: none run). */
export function toRequestRecord(r: Selectable<RequestsTable>): RequestRecord {
  const rec = fromRow<RequestRecord>(r, { json: ["checks"] });
  return { ...rec, checks: rec.checks ?? [] };
}

/** Maps an `outbox` row to an {@link OutboxRecord}. */
export const toOutboxRecord = (r: Selectable<OutboxTable>) =>
  fromRow<OutboxRecord>(r, { json: ["attachments"], renames: { to: "to_addr" } });

/** Maps an `intake_log` row to an {@link IntakeRecord}. */
export const toIntakeRecord = (r: Selectable<IntakeLogTable>) =>
  fromRow<IntakeRecord>(r, { json: ["requestIds"], flags: ["moved"] });

/** Maps an `ocsp_responders` row to an {@link OcspResponderRecord}. */
export const toResponderRecord = (r: Selectable<OcspRespondersTable>) => fromRow<OcspResponderRecord>(r);

/**
 * Maps an `audit_events` row to an {@link AuditEvent}. Details that are not valid JSON
 * (the column was edited by hand) come back as `{ $unparseable: text }`, so the chain
 * check reports the event as edited instead of the stream failing.
 */
export function toAuditEvent(r: AuditRow): AuditEvent {
  const details = parseDetails(r.details);
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * An `audit_events` row read as an array (seq, at, actor, action, target, details,
 * prev_hash, hash: no object per row from the driver) as a stored event: details unparsed.
 */
export function toStoredAuditEvent(r: readonly unknown[]): StoredAuditEvent {
  return {
    seq: r[0] as number,
    at: r[1] as number,
    actor: r[2] as string,
    action: r[3] as string,
    target: r[4] as string | null,
    details: r[5] as string,
    prevHash: r[6] as string,
    hash: r[7] as string,
  };
}
