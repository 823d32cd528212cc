/**
 * Kysely table types for the Sigil database, and the mapping from rows to the records of
 * store/types.ts. Shared by every backend. Times are epoch milliseconds in `bigint`
 * columns: better-sqlite3 returns them as numbers; a PostgreSQL backend must install an
 * int8 type parser (pg returns int8 as strings).
 */
import type { Generated, Selectable } from "kysely";
import { fromRow } from "./kysely/rows.js";
import type {
  AuditEvent,
  CaRecord,
  CertRecord,
  IntakeRecord,
  OcspResponderRecord,
  OutboxRecord,
  RequestRecord,
} from "./types.js";

/** Table `cas`: the certificate authorities. */
export interface CasTable {
  id: Generated<number>;
  name: string;
  parent_id: number | null;
  subject: string;
  cert_der: Buffer;
  key_ref: string;
  key_type: string;
  serial_hex: string;
  not_before: number;
  not_after: number;
  path_len: number | null;
  default_profile: string;
  crl_number: number;
  created_at: number;
}

/** Table `certificates`: every certificate issued. `sans` is JSON text. */
export interface CertificatesTable {
  id: Generated<number>;
  ca_id: number;
  serial_hex: string;
  subject: string;
  common_name: string | null;
  email: string | null;
  sans: string;
  profile: string;
  not_before: number;
  not_after: number;
  der: Buffer;
  fingerprint: string;
  status: string;
  revoked_at: number | null;
  revocation_reason: number | null;
  request_id: number | null;
  issued_at: number;
}

/** Table `requests`: the request queue. */
export interface RequestsTable {
  id: Generated<number>;
  channel: string;
  submitter: string | null;
  email: string | null;
  received_at: number;
  csr_der: Buffer;
  subject: string;
  ca_name: string | null;
  profile: string | null;
  state: string;
  reason: string | null;
  certificate_id: number | null;
  source: string | null;
  checks: string | null;
  decided_by: string | null;
  decided_at: number | null;
  reply_to: string | null;
  public_id: string | null;
}

/** Table `outbox`: mails to send, with retry state. */
export interface OutboxTable {
  id: Generated<number>;
  kind: string;
  to_addr: string;
  subject: string;
  body: string;
  attachments: string;
  request_id: number | null;
  cert_id: number | null;
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  sent_at: number | null;
}

/** Table `intake_log`: messages and files taken in. */
export interface IntakeLogTable {
  id: Generated<number>;
  key: string;
  channel: string;
  origin: string | null;
  received_at: number;
  outcome: string;
  reason: string | null;
  request_ids: string;
  moved: number;
}

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

/** Table `admin_tokens`: admin API tokens (the secret only as a keyed hash; see migration 0010). */
export interface AdminTokensTable {
  id: string;
  name: string;
  role: string;
  secret_hash: Buffer;
  /** `hmac-sha256` (keyed), or `sha256` (made before token keys: refused). */
  hash_scheme: Generated<string>;
  created_at: number;
  created_by: string;
  expires_at: number;
  revoked_at: number | null;
}

/** Table `expiry_notices`: one row per certificate and threshold noticed. */
export interface ExpiryNoticesTable {
  cert_id: number;
  threshold_days: number;
  sent_at: number;
}

/** Table `audit_events`: the hash chain. `seq` is assigned as head.seq + 1 (no gaps). */
export interface AuditEventsTable {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  /** Canonical JSON (sorted keys). */
  details: string;
  prev_hash: string;
  hash: string;
}

/** Table `audit_head`: one row (id = 1), the last event's seq and hash, written with each append. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  hash: string;
}

/** Table `ocsp_responders`: delegated OCSP responder certificates (RFC 6960 §4.2.2.2), newest wins. */
export interface OcspRespondersTable {
  id: Generated<number>;
  ca_id: number;
  cert_id: number;
  cert_der: Buffer;
  key_ref: string;
  key_type: string;
  not_before: number;
  not_after: number;
  created_at: number;
}

/** Table `ocsp_responses`: the pre-signed OCSP answer of each certificate (`der` NULL: due). */
export interface OcspResponsesTable {
  cert_id: number;
  ca_id: number;
  der: Buffer | null;
  this_update: number;
  next_update: number;
}

/** Table `crls`: each CA's latest CRL. */
export interface CrlsTable {
  ca_id: number;
  crl_number: number;
  der: Buffer;
  this_update: number;
  next_update: number;
}

/** Table `acme_settings`: a CA's ACME settings (`sigil acme enable`); `allow` is JSON text, flags 0/1. */
export interface AcmeSettingsTable {
  ca_id: number;
  enabled: number;
  allow: string;
  max_days: number | null;
  eab_required: number;
  manual_approval: number;
  profile: string;
  updated_at: number;
  updated_by: string;
}

/** Table `acme_accounts`: ACME accounts (RFC 8555 §7.1.2); `contact` is JSON text. */
export interface AcmeAccountsTable {
  id: Generated<number>;
  public_id: string;
  ca_id: number;
  thumbprint: string;
  jwk: string;
  contact: string;
  status: string;
  eab_kid: string | null;
  created_at: number;
}

/** Table `acme_orders`: ACME orders (RFC 8555 §7.1.3); `identifiers` and `error` are JSON text. */
export interface AcmeOrdersTable {
  id: Generated<number>;
  public_id: string;
  account_id: number;
  ca_id: number;
  status: string;
  identifiers: string;
  not_before: number | null;
  not_after: number | null;
  expires_at: number;
  error: string | null;
  request_id: number | null;
  cert_id: number | null;
  created_at: number;
}

/** Table `acme_authzs`: ACME authorizations (RFC 8555 §7.1.4). */
export interface AcmeAuthzsTable {
  id: Generated<number>;
  public_id: string;
  account_id: number;
  order_id: number;
  identifier_type: string;
  identifier_value: string;
  wildcard: number;
  status: string;
  expires_at: number;
}

/** Table `acme_challenges`: ACME challenges (RFC 8555 §8); `error` is JSON text. */
export interface AcmeChallengesTable {
  id: Generated<number>;
  public_id: string;
  authz_id: number;
  type: string;
  token: string;
  status: string;
  started_at: number | null;
  validated_at: number | null;
  error: string | null;
}

/** Table `acme_eab_keys`: External Account Binding keys (RFC 8555 §7.3.4). */
export interface AcmeEabKeysTable {
  kid: string;
  ca_id: number;
  hmac_key: Buffer;
  created_at: number;
  created_by: string;
  account_id: number | null;
}

/** Table `acme_nonces`: used nonces (RFC 8555 §6.5), kept until they expire. */
export interface AcmeNoncesTable {
  nonce: string;
  expires_at: number;
}

/** Table `mailbox_proofs`: proofs of mailbox control, one per (request, address) (migration 0010). */
export interface MailboxProofsTable {
  id: Generated<number>;
  request_id: number;
  address: string;
  /** `challenge` (a round trip) or `dkim` (a trusted MTA's verdict at intake). */
  method: string;
  /** Lowercase hex SHA-256 of the challenge's secret; NULL for DKIM. */
  token_hash: string | null;
  created_at: number;
  expires_at: number | null;
  confirmed_at: number | null;
  /** `mail` (a reply), `web` (the portal link), `dkim`. */
  confirmed_via: string | null;
}

/** Table `request_sessions`: the web portal session that submitted a request (SHA-256 of its cookie). */
export interface RequestSessionsTable {
  request_id: number;
  session_hash: string;
}

/** The whole database, for `Kysely<SigilDatabase>`. */
/**
 * Table `blocked_keys`: public keys never to be certified again (by {@link publicKeyId}):
 * keys whose certificate was revoked for keyCompromise or cACompromise, and Sigil's own
 * keys (CA, OCSP responder, service keys).
 */
export interface BlockedKeysTable {
  key_id: string;
  /** `compromised` or `sigil`. */
  kind: string;
  /** Why, in one line (which certificate, which CA or responder). */
  detail: string;
  ca_name: string | null;
  serial_hex: string | null;
  since: number;
}

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
  admin_tokens: AdminTokensTable;
  ocsp_responders: OcspRespondersTable;
  ocsp_responses: OcspResponsesTable;
  crls: CrlsTable;
  cas: CasTable;
  certificates: CertificatesTable;
  requests: RequestsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
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
  let details: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(r.details);
    details =
      parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : { $unparseable: r.details };
  } catch {
    details = { $unparseable: r.details };
  }
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
