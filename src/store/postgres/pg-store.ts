/**
 * The PostgreSQL backend of the {@link Store} contract, on node-postgres (`pg`) 8.
 *
 * One pool per store. Reads go straight to the pool (READ COMMITTED: committed data only,
 * as with the SQLite reader). `transaction` runs on one dedicated client between BEGIN and
 * COMMIT. Several processes or `sigil serve` instances may share one database; what must
 * not race between them is made safe by the database itself, never by this process:
 *
 * - audit chain appends take a transaction-scoped advisory lock (`pg_advisory_xact_lock`)
 *   before reading the head, so appends are serialized and seq has no gaps or forks (the
 *   head row may not exist yet, so a row lock would not do);
 * - CRL numbers come from `UPDATE cas SET crl_number = crl_number + 1 ... RETURNING`
 *   (the row lock makes concurrent publishers get distinct, increasing numbers);
 * - request decisions re-read the request with `SELECT ... FOR UPDATE` (getRequestForUpdate);
 * - mail claims and admin-token revocations are single conditional UPDATEs; admin-token
 *   creations take an advisory lock, so two live tokens never share a name;
 * - serial and intake-key uniqueness are UNIQUE constraints (mapped to the same
 *   SigilError details as SQLite: duplicateSerial, duplicateIntake);
 * - job leases are one `INSERT ... ON CONFLICT DO UPDATE ... WHERE expired or mine`, timed
 *   by the database's clock.
 *
 * Within one store, write transactions still queue in call order (a FIFO), as on SQLite:
 * that keeps the contract's ordering and bounds the pool; it is not what makes them safe
 * (two stores in one process are two instances; see the tests).
 *
 * Change notification (`dataVersion`, used by servers to drop caches): every write
 * transaction sends `NOTIFY sigil_changes` with its COMMIT; the store LISTENs on a
 * dedicated connection and counts notifications. That connection is pinged every second
 * and replaced when it fails or stops answering for 3 s; losing it and getting it back each
 * count as a change (notifications may have been missed), and while it is down a poll of
 * the cluster's next transaction id, once a second, counts a change whenever it moved. A
 * revocation made by one instance is therefore seen by the others within milliseconds, and
 * within about a second while the LISTEN connection is being replaced.
 */
import fs from "node:fs";
import { spawnSync } from "node:child_process";
import pg from "pg";
import { Kysely, PostgresDialect } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import { GENESIS_HASH, chainHash, stableStringify } from "../../audit/chain.js";
import { migrateToLatest } from "../migrations.js";
import { blockKeys, findBlockedKeys } from "../blocked-keys.js";
import { getCertStatus } from "../cert-status.js";
import type {
  AdminTokenRow,
  AuditRow,
  CaRow,
  CertRow,
  IntakeRow,
  OutboxRow,
  RequestRow,
  ResponderRow,
  SigilDatabase,
} from "../schema.js";
import {
  toAuditEvent,
  toCaRecord,
  toCertRecord,
  toIntakeRecord,
  toOutboxRecord,
  toRequestRecord,
  toResponderRecord,
} from "../schema.js";
import type {
  BlockedKey,
  CertStatusRow,
  AdminRole,
  AdminTokenRecord,
  AuditDraft,
  AuditEvent,
  CaRecord,
  CertQuery,
  CertRecord,
  CrlRecord,
  IntakeRecord,
  OcspEntry,
  OcspResponderRecord,
  OutboxRecord,
  RequestRecord,
  RequestState,
  RevokedEntry,
  Store,
  StoreSnapshot,
  StoreTx,
} from "../types.js";
import { AsyncMutex } from "../sqlite/async-mutex.js";
import { tryNormalizeSerialHex as normalizeSerialHex } from "../../x509/serial.js";
import { isPgUniqueViolation, mapPgError, redactDatabaseUrl } from "./pg-errors.js";

/** Options for {@link openPgStore}. */
export interface PgStoreOptions {
  /** No migrations; every connection is read-only and `transaction` throws. */
  readonly?: boolean;
  /** Largest number of pooled connections (default 10). */
  poolSize?: number;
}

/** The channel write transactions notify on. */
export const CHANGE_CHANNEL = "sigil_changes";
/** The advisory lock key that serializes audit appends (per database): "Sigl" in ASCII. */
const AUDIT_LOCK_KEY = 0x5369676c;
/** The advisory lock key that serializes admin token creations (unique live names): "Stkn". */
const TOKEN_LOCK_KEY = 0x53746b6e;
/** How often the backstop poll of the change counter runs. */
const POLL_MS = 1000;

/**
 * This pool's type parsers: int8 (`bigint` columns, `count(*)`) as a JS number. Epoch
 * milliseconds and row counts are far below 2^53. Set per pool, not globally, so other pg
 * users in the process keep their parsers.
 */
const PG_TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === 20 && format !== "binary"
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const CA_COLUMNS =
  "id, name, parent_id, subject, cert_der, key_ref, key_type, serial_hex, not_before, not_after, " +
  "path_len, default_profile, crl_number, created_at";
const CERT_COLUMNS =
  "id, ca_id, serial_hex, subject, common_name, email, sans, profile, not_before, not_after, der, " +
  "fingerprint, status, revoked_at, revocation_reason, request_id, issued_at";
const REQUEST_COLUMNS =
  "id, channel, submitter, email, received_at, csr_der, subject, ca_name, profile, state, reason, certificate_id, " +
  "source, checks, decided_by, decided_at, reply_to, public_id";
const OUTBOX_COLUMNS =
  "id, kind, to_addr, subject, body, attachments, request_id, cert_id, state, attempts, next_attempt_at, " +
  "last_error, created_at, sent_at";
const INTAKE_COLUMNS = "id, key, channel, origin, received_at, outcome, reason, request_ids, moved";
const AUDIT_COLUMNS = "seq, at, actor, action, target, details, prev_hash, hash";
const RESPONDER_COLUMNS =
  "id, ca_id, cert_id, cert_der, key_ref, key_type, not_before, not_after, created_at";
const ADMIN_TOKEN_COLUMNS =
  "id, name, role, secret_hash, hash_scheme, created_at, created_by, expires_at, revoked_at";
const OCSP_ENTRY_COLUMNS =
  "c.id AS cert_id, c.ca_id, c.serial_hex, c.status, c.revoked_at, c.revocation_reason, c.not_after, " +
  "o.der, o.this_update, o.next_update";
/** The database's clock in epoch milliseconds (job leases are timed by it, not by each host's). */
const DB_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

const REQUEST_PATCH_COLUMNS = {
  state: "state",
  reason: "reason",
  certificateId: "certificate_id",
  caName: "ca_name",
  profile: "profile",
  decidedBy: "decided_by",
  decidedAt: "decided_at",
  checks: "checks",
} as const;

interface OcspEntryRow {
  cert_id: number;
  ca_id: number;
  serial_hex: string;
  status: string;
  revoked_at: number | null;
  revocation_reason: number | null;
  not_after: number;
  der: Buffer | null;
  this_update: number | null;
  next_update: number | null;
}

function toOcspEntry(r: OcspEntryRow): OcspEntry {
  return {
    certId: r.cert_id,
    caId: r.ca_id,
    serialHex: r.serial_hex,
    status: r.status as OcspEntry["status"],
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    notAfter: r.not_after,
    der: r.der,
    thisUpdate: r.this_update ?? 0,
    nextUpdate: r.next_update ?? 0,
  };
}

function toAdminToken(r: AdminTokenRow): AdminTokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as AdminRole,
    secretHash: Buffer.from(r.secret_hash),
    scheme: r.hash_scheme === "hmac-sha256" ? "hmac-sha256" : "sha256",
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: Number(r.expires_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

type Queryable = Pick<pg.ClientBase, "query">;

/** Runs one statement; `name` makes it a per-connection prepared statement (hot paths). */
async function run<R extends pg.QueryResultRow>(
  c: Queryable,
  text: string,
  values: unknown[] = [],
  name?: string,
): Promise<pg.QueryResult<R>> {
  return c.query<R>(name === undefined ? { text, values } : { name, text, values });
}

/** The transaction handle: valid only while its `transaction` callback runs. */
class PgTx implements StoreTx {
  active = true;

  constructor(private readonly c: pg.PoolClient) {}

  private k: Kysely<SigilDatabase> | undefined;

  /**
   * Kysely on this transaction's client: its dialect's "pool" hands out this client with a
   * no-op release, so every statement runs inside this BEGIN ... COMMIT.
   */
  kysely(): Kysely<SigilDatabase> {
    this.check();
    if (this.k === undefined) {
      const c = this.c;
      const client = { query: c.query.bind(c), release: () => undefined };
      this.k = new Kysely<SigilDatabase>({
        dialect: new PostgresDialect({
          pool: { connect: async () => client, end: async () => undefined } as unknown as pg.Pool,
        }),
      });
    }
    return this.k;
  }

  private check(): void {
    if (!this.active) {
      throw new SigilError(ErrorCodes.INTERNAL, "store transaction used after it ended", {
        kind: "internal",
      });
    }
  }

  /** Runs a statement of this transaction, mapping errors. */
  private async q<R extends pg.QueryResultRow>(
    what: string,
    text: string,
    values: unknown[] = [],
    name?: string,
  ): Promise<pg.QueryResult<R>> {
    this.check();
    try {
      return await run<R>(this.c, text, values, name);
    } catch (e) {
      throw mapPgError(e, what);
    }
  }

  async insertCa(ca: Omit<CaRecord, "id">): Promise<CaRecord> {
    this.check();
    try {
      const r = await run<{ id: number }>(
        this.c,
        "INSERT INTO cas (name, parent_id, subject, cert_der, key_ref, key_type, serial_hex, not_before, " +
          "not_after, path_len, default_profile, crl_number, created_at) " +
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
        [
          ca.name,
          ca.parentId,
          ca.subject,
          ca.certDer,
          ca.keyRef,
          ca.keyType,
          ca.serialHex,
          ca.notBefore,
          ca.notAfter,
          ca.pathLen,
          ca.defaultProfile,
          ca.crlNumber,
          ca.createdAt,
        ],
      );
      return { id: r.rows[0]!.id, ...ca };
    } catch (e) {
      if (isPgUniqueViolation(e, "cas_name_key")) {
        throw new SigilError(ErrorCodes.CA_EXISTS, `a CA named "${ca.name}" already exists`, {
          details: { name: ca.name },
          cause: e,
        });
      }
      throw mapPgError(e, "insert CA");
    }
  }

  async insertRequest(r: Omit<RequestRecord, "id">): Promise<RequestRecord> {
    const res = await this.q<{ id: number }>(
      "insert request",
      "INSERT INTO requests (channel, submitter, email, received_at, csr_der, subject, ca_name, profile, " +
        "state, reason, certificate_id, source, checks, decided_by, decided_at, reply_to, public_id) " +
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17) RETURNING id",
      [
        r.channel,
        r.submitter,
        r.email,
        r.receivedAt,
        r.csrDer,
        r.subject,
        r.caName,
        r.profile,
        r.state,
        r.reason,
        r.certificateId,
        r.source,
        JSON.stringify(r.checks),
        r.decidedBy,
        r.decidedAt,
        r.replyTo,
        r.publicId ?? null,
      ],
      "sigil_insert_request",
    );
    return { id: res.rows[0]!.id, ...r, publicId: r.publicId ?? null };
  }

  async updateRequest(
    id: number,
    patch: Partial<
      Pick<
        RequestRecord,
        "state" | "reason" | "certificateId" | "caName" | "profile" | "decidedBy" | "decidedAt" | "checks"
      >
    >,
  ): Promise<void> {
    this.check();
    const keys = (Object.keys(REQUEST_PATCH_COLUMNS) as Array<keyof typeof REQUEST_PATCH_COLUMNS>).filter(
      (k) => patch[k] !== undefined,
    );
    if (keys.length === 0) return;
    const text =
      `UPDATE requests SET ${keys.map((k, i) => `${REQUEST_PATCH_COLUMNS[k]} = $${i + 1}`).join(", ")} ` +
      `WHERE id = $${keys.length + 1}`;
    const res = await this.q("update request", text, [
      ...keys.map((k) => (k === "checks" ? JSON.stringify(patch.checks) : patch[k])),
      id,
    ]);
    if (res.rowCount === 0) {
      throw new SigilError(ErrorCodes.STORE, `request ${id} not found`, { details: { notFound: true, id } });
    }
  }

  async getRequestForUpdate(id: number): Promise<RequestRecord | undefined> {
    const res = await this.q<RequestRow>(
      "read request",
      `SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = res.rows[0];
    return row === undefined ? undefined : toRequestRecord(row);
  }

  async insertCert(
    c: Omit<CertRecord, "id">,
    ocsp?: { der: Buffer; thisUpdate: number; nextUpdate: number },
  ): Promise<CertRecord> {
    this.check();
    try {
      // One round trip: the certificate and its OCSP row (CTE), in one statement.
      const r = await run<{ id: number }>(
        this.c,
        "WITH c AS (INSERT INTO certificates (ca_id, serial_hex, subject, common_name, email, sans, profile, " +
          "not_before, not_after, der, fingerprint, status, revoked_at, revocation_reason, request_id, issued_at) " +
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id, ca_id), " +
          "o AS (INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update) " +
          "SELECT id, ca_id, $17, $18, $19 FROM c) SELECT id FROM c",
        [
          c.caId,
          c.serialHex,
          c.subject,
          c.commonName,
          c.email,
          JSON.stringify(c.sans),
          c.profile,
          c.notBefore,
          c.notAfter,
          c.der,
          c.fingerprint,
          c.status,
          c.revokedAt,
          c.revocationReason,
          c.requestId,
          c.issuedAt,
          ocsp?.der ?? null,
          ocsp?.thisUpdate ?? 0,
          ocsp?.nextUpdate ?? 0,
        ],
        "sigil_insert_cert",
      );
      return { id: r.rows[0]!.id, ...c };
    } catch (e) {
      if (isPgUniqueViolation(e, "certificates_serial_unique")) {
        throw new SigilError(ErrorCodes.STORE, "duplicate serial", {
          details: { duplicateSerial: true, caId: c.caId, serialHex: c.serialHex },
          cause: e,
        });
      }
      throw mapPgError(e, "insert certificate");
    }
  }

  async getCertStatus(caId: number, serialHex: string): Promise<CertStatusRow | undefined> {
    return getCertStatus(this.kysely(), caId, serialHex);
  }

  async blockKeys(keys: BlockedKey[]): Promise<void> {
    await blockKeys(this.kysely(), keys);
  }

  async revokeCert(id: number, revokedAt: number, reason: number): Promise<void> {
    const res = await this.q(
      "revoke certificate",
      "UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE id = $3",
      [revokedAt, reason, id],
    );
    if (res.rowCount === 0) throw new SigilError(ErrorCodes.CERT_NOT_FOUND, `certificate id ${id} not found`);
  }

  async nextCrlNumber(caId: number): Promise<number> {
    const res = await this.q<{ crl_number: number }>(
      "take the next CRL number",
      "UPDATE cas SET crl_number = crl_number + 1 WHERE id = $1 RETURNING crl_number",
      [caId],
    );
    const row = res.rows[0];
    if (row === undefined) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
    return row.crl_number;
  }

  async setCrlNumber(caId: number, crlNumber: number): Promise<void> {
    const res = await this.q("set CRL number", "UPDATE cas SET crl_number = $1 WHERE id = $2", [
      crlNumber,
      caId,
    ]);
    if (res.rowCount === 0) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
  }

  async setCaKeyRef(caId: number, keyRef: string): Promise<void> {
    const res = await this.q("set CA key reference", "UPDATE cas SET key_ref = $1 WHERE id = $2", [
      keyRef,
      caId,
    ]);
    if (res.rowCount === 0) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
  }

  async appendAudit(draft: AuditDraft): Promise<AuditEvent> {
    this.check();
    try {
      // Serializes appends across every connection to this database until COMMIT; the
      // head read after it sees the previous appender's commit (READ COMMITTED: a new
      // snapshot per statement).
      await run(this.c, "SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK_KEY], "sigil_audit_lock");
      const head = (
        await run<{ seq: number; hash: string }>(
          this.c,
          // The recorded head, else the last event (as SQLite's appendAudit).
          "SELECT seq, hash FROM (SELECT 0 AS o, seq, hash FROM audit_head WHERE id = 1 UNION ALL " +
            "(SELECT 1, seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1)) h ORDER BY o LIMIT 1",
          [],
          "sigil_audit_head",
        )
      ).rows[0] ?? { seq: 0, hash: GENESIS_HASH };
      const seq = head.seq + 1;
      const fields = {
        seq,
        at: draft.at,
        actor: draft.actor,
        action: draft.action,
        target: draft.target,
        details: draft.details,
      };
      const hash = chainHash(head.hash, fields);
      await run(
        this.c,
        `WITH e AS (INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)) ` +
          "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $8) " +
          "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        [
          seq,
          draft.at,
          draft.actor,
          draft.action,
          draft.target,
          stableStringify(draft.details),
          head.hash,
          hash,
        ],
        "sigil_audit_insert",
      );
      return { ...fields, prevHash: head.hash, hash };
    } catch (e) {
      if (isPgUniqueViolation(e, "audit_events_pkey")) {
        throw new SigilError(
          ErrorCodes.AUDIT_BROKEN,
          "audit head is behind the audit log (audit_head tampered?); run `sigil audit verify`",
          { kind: "internal", cause: e },
        );
      }
      throw mapPgError(e, "append audit event");
    }
  }

  async insertOcspResponder(r: Omit<OcspResponderRecord, "id">): Promise<OcspResponderRecord> {
    const res = await this.q<{ id: number }>(
      "insert OCSP responder",
      "INSERT INTO ocsp_responders (ca_id, cert_id, cert_der, key_ref, key_type, not_before, not_after, " +
        "created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
      [r.caId, r.certId, r.certDer, r.keyRef, r.keyType, r.notBefore, r.notAfter, r.createdAt],
    );
    return { ...r, id: res.rows[0]!.id };
  }

  async putOcspResponses(
    rows: Array<{ certId: number; caId: number; der: Buffer | null; thisUpdate: number; nextUpdate: number }>,
  ): Promise<void> {
    if (rows.length === 0) return this.check();
    // One statement for the whole batch (arrays, unnested), not one round trip per answer.
    await this.q(
      "store OCSP answer",
      "INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update) " +
        "SELECT * FROM unnest($1::int[], $2::int[], $3::bytea[], $4::bigint[], $5::bigint[]) " +
        "ON CONFLICT (cert_id) DO UPDATE SET der = excluded.der, this_update = excluded.this_update, " +
        "next_update = excluded.next_update",
      [
        rows.map((r) => r.certId),
        rows.map((r) => r.caId),
        rows.map((r) => r.der),
        rows.map((r) => r.thisUpdate),
        rows.map((r) => r.nextUpdate),
      ],
      "sigil_put_ocsp",
    );
  }

  async enqueueMail(m: Omit<OutboxRecord, "id">): Promise<OutboxRecord> {
    const res = await this.q<{ id: number }>(
      "queue mail",
      `INSERT INTO outbox (${OUTBOX_COLUMNS.replace("id, ", "")}) ` +
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
      [
        m.kind,
        m.to,
        m.subject,
        m.body,
        JSON.stringify(m.attachments),
        m.requestId,
        m.certId,
        m.state,
        m.attempts,
        m.nextAttemptAt,
        m.lastError,
        m.createdAt,
        m.sentAt,
      ],
    );
    return { ...m, id: res.rows[0]!.id };
  }

  async claimMail(id: number, now: number, leaseUntil: number): Promise<boolean> {
    // One conditional UPDATE: a concurrent claimer waits on the row lock, then re-checks the
    // condition against the committed row (and finds it no longer due).
    const res = await this.q(
      "claim mail",
      "UPDATE outbox SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at <= $3",
      [leaseUntil, id, now],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async updateMail(
    id: number,
    patch: Partial<Pick<OutboxRecord, "state" | "attempts" | "nextAttemptAt" | "lastError" | "sentAt">>,
  ): Promise<void> {
    this.check();
    const cols = {
      state: "state",
      attempts: "attempts",
      nextAttemptAt: "next_attempt_at",
      lastError: "last_error",
      sentAt: "sent_at",
    } as const;
    const keys = (Object.keys(cols) as Array<keyof typeof cols>).filter((k) => patch[k] !== undefined);
    if (keys.length === 0) return;
    await this.q(
      "update mail",
      `UPDATE outbox SET ${keys.map((k, i) => `${cols[k]} = $${i + 1}`).join(", ")} WHERE id = $${keys.length + 1}`,
      [...keys.map((k) => patch[k]), id],
    );
  }

  async recordIntake(r: Omit<IntakeRecord, "id">): Promise<IntakeRecord> {
    this.check();
    try {
      const res = await run<{ id: number }>(
        this.c,
        "INSERT INTO intake_log (key, channel, origin, received_at, outcome, reason, request_ids, moved) " +
          "VALUES ($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
        [
          r.key,
          r.channel,
          r.origin,
          r.receivedAt,
          r.outcome,
          r.reason,
          JSON.stringify(r.requestIds),
          r.moved ? 1 : 0,
        ],
      );
      return { ...r, id: res.rows[0]!.id };
    } catch (e) {
      if (isPgUniqueViolation(e, "intake_log_key_key"))
        throw new SigilError(ErrorCodes.STORE, `already taken in: ${r.key}`, {
          details: { duplicateIntake: true, key: r.key },
          cause: e,
        });
      throw mapPgError(e, "record intake");
    }
  }

  async markIntakeMoved(key: string): Promise<void> {
    await this.q("update intake", "UPDATE intake_log SET moved = 1 WHERE key = $1", [key]);
  }

  async setJobMark(name: string, value: string, at: number): Promise<void> {
    await this.q(
      "set job mark",
      "INSERT INTO job_marks (name, value, at) VALUES ($1,$2,$3) " +
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value, at = excluded.at",
      [name, value, at],
    );
  }

  async recordNotice(certId: number, thresholdDays: number, sentAt: number): Promise<boolean> {
    const res = await this.q(
      "record notice",
      "INSERT INTO expiry_notices (cert_id, threshold_days, sent_at) VALUES ($1,$2,$3) " +
        "ON CONFLICT (cert_id, threshold_days) DO NOTHING",
      [certId, thresholdDays, sentAt],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async putCrl(c: CrlRecord): Promise<void> {
    await this.q(
      "store CRL",
      "INSERT INTO crls (ca_id, crl_number, der, this_update, next_update) VALUES ($1,$2,$3,$4,$5) " +
        "ON CONFLICT (ca_id) DO UPDATE SET crl_number = excluded.crl_number, der = excluded.der, " +
        "this_update = excluded.this_update, next_update = excluded.next_update " +
        "WHERE excluded.crl_number > crls.crl_number",
      [c.caId, c.crlNumber, c.der, c.thisUpdate, c.nextUpdate],
    );
  }

  async insertAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord | undefined> {
    this.check();
    // Serializes token creations across every connection until COMMIT (no row to lock
    // when the name is free); the check below then sees any earlier creation's commit.
    await run(this.c, "SELECT pg_advisory_xact_lock($1)", [TOKEN_LOCK_KEY]);
    const holder = (
      await this.q<AdminTokenRow>(
        "read admin token",
        `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ` +
          "WHERE name = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at, id LIMIT 1",
        [t.name, t.createdAt],
      )
    ).rows[0];
    if (holder) return toAdminToken(holder);
    await this.q(
      "store admin token",
      "INSERT INTO admin_tokens (id, name, role, secret_hash, hash_scheme, created_at, created_by, expires_at, revoked_at) " +
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
      [t.id, t.name, t.role, t.secretHash, t.scheme, t.createdAt, t.createdBy, t.expiresAt, t.revokedAt],
    );
    return undefined;
  }

  async revokeAdminToken(id: string, at: number): Promise<boolean> {
    const res = await this.q(
      "revoke admin token",
      "UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
      [at, id],
    );
    return res.rowCount === 1;
  }
}

/** A {@link Store} on a PostgreSQL database. Create with {@link openPgStore}. */
export class PgStore implements Store {
  private readonly queue = new AsyncMutex();
  private closed = false;
  /** Local change counter behind {@link PgStore.dataVersion}. */
  private version = 0;
  private listener: pg.Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  /** The change poll; started with the LISTEN connection by the first dataVersion(). */
  private poll: NodeJS.Timeout | undefined;
  private lastXmax: string | undefined;
  private polling = false;
  /** When the pending ping of the LISTEN connection was sent (undefined: none pending). */
  private pingSince: number | undefined;
  /** Declares the current LISTEN connection lost (once). */
  private lostListener: (() => void) | undefined;

  private constructor(
    private readonly url: string,
    /** The URL without its password, for messages. */
    readonly where: string,
    private readonly pool: pg.Pool,
    private readonly k: Kysely<SigilDatabase>,
    private readonly readonly: boolean,
  ) {}

  /** Connects, and unless read-only brings the schema up to date; starts listening for changes. */
  static async open(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
    const where = redactDatabaseUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      types: PG_TYPES,
      max: opts.poolSize ?? 10,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
      application_name: "sigil",
      ...(opts.readonly ? { options: "-c default_transaction_read_only=on" } : {}),
    });
    // An idle client that loses its connection emits on the pool; without a handler Node
    // would exit. The next query on a new client reports any lasting problem.
    pool.on("error", () => undefined);
    const k = new Kysely<SigilDatabase>({ dialect: new PostgresDialect({ pool }) });
    try {
      await pool.query("SELECT 1");
      if (opts.readonly) {
        const r = await pool.query<{ t: string | null }>("SELECT to_regclass('audit_head')::text AS t");
        if (r.rows[0]?.t == null)
          throw new SigilError(ErrorCodes.STORE, `open database ${where}: it holds no Sigil data yet`);
      } else await migrateToLatest(k, "postgres");
    } catch (e) {
      await k.destroy().catch(() => undefined);
      if (e instanceof SigilError) {
        // Kysely's migration error wraps the pg error: name the database, keep its message.
        if (e.cause !== undefined && !e.message.includes(where) && e.message.startsWith("database migration"))
          throw new SigilError(ErrorCodes.STORE, `${where}: ${e.message}`, { kind: e.kind, cause: e.cause });
        throw e;
      }
      throw mapPgError(e, "open database", where);
    }
    // No LISTEN connection yet: only a process that asks dataVersion() (a server's caches)
    // needs one, and a one-shot CLI command is spared a second connection.
    return new PgStore(url, where, pool, k, opts.readonly === true);
  }

  /** (Re)opens the LISTEN connection; on failure, retries in a second (the poll covers meanwhile). */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const c = new pg.Client({
      connectionString: this.url,
      types: PG_TYPES,
      application_name: "sigil-listen",
      keepAlive: true,
    });
    let dead = false;
    const lost = () => {
      if (dead) return;
      dead = true;
      this.dropListener(c);
    };
    this.lostListener = lost;
    c.on("error", lost);
    c.on("end", lost);
    c.on("notification", () => this.version++);
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANGE_CHANNEL}`);
      if (this.closed || dead) {
        await c.end().catch(() => undefined);
        return;
      }
      this.listener = c;
      this.pingSince = undefined;
      // Commits between losing the old connection and LISTEN on this one were not notified.
      this.version++;
    } catch {
      lost();
    }
  }

  /** Forgets a LISTEN connection that failed or hangs, and schedules a new one. */
  private dropListener(c: pg.Client): void {
    if (this.listener === c) this.listener = undefined;
    this.version++; // notifications may have been missed
    c.end().catch(() => undefined);
    if (!this.closed && this.reconnect === undefined)
      this.reconnect = setTimeout(() => {
        this.reconnect = undefined;
        void this.listen();
      }, POLL_MS).unref();
  }

  /**
   * Once a second. While the LISTEN connection is up: pings it (a connection that stops
   * answering for 3 s is replaced). While it is down: the backstop, the cluster's next
   * transaction id, which moves whenever anything commits a write.
   */
  private async pollChanges(): Promise<void> {
    if (this.closed) return;
    const l = this.listener;
    if (l !== undefined) {
      this.lastXmax = undefined;
      if (this.pingSince !== undefined) {
        if (Date.now() - this.pingSince > 3 * POLL_MS) this.lostListener?.();
        return;
      }
      const since = Date.now();
      this.pingSince = since;
      l.query("SELECT 1").then(
        () => {
          if (this.pingSince === since) this.pingSince = undefined;
        },
        () => undefined, // the client's error event replaces it
      );
      return;
    }
    if (this.polling) return;
    this.polling = true;
    try {
      const r = await this.pool.query<{ x: string }>(
        "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS x",
      );
      const x = r.rows[0]?.x;
      if (this.lastXmax !== undefined && x !== this.lastXmax) this.version++;
      this.lastXmax = x;
    } catch {
      this.version++; // cannot tell: assume a change (caches are only dropped)
    } finally {
      this.polling = false;
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCodes.INTERNAL, "store is closed", { kind: "internal" });
  }

  /**
   * Runs `fn` between BEGIN and COMMIT on one connection (READ COMMITTED, with the row and
   * advisory locks described at the top of this file). Notifies the other instances with
   * the COMMIT.
   */
  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.assertOpen();
    if (this.readonly) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    await this.queue.acquire();
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      this.assertOpen();
      try {
        client = await this.pool.connect();
        await client.query("BEGIN");
      } catch (e) {
        broken = e instanceof Error ? e : new Error(String(e));
        throw mapPgError(e, "begin transaction", this.where);
      }
      const tx = new PgTx(client);
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        tx.active = false;
        await client.query("ROLLBACK").catch((err: unknown) => {
          broken = err instanceof Error ? err : new Error(String(err));
        });
        throw e;
      }
      tx.active = false;
      try {
        // Multi-statement simple query: one round trip. The notification is delivered
        // only if the COMMIT succeeds.
        await client.query(`NOTIFY ${CHANGE_CHANNEL}; COMMIT`);
      } catch (e) {
        await client.query("ROLLBACK").catch((err: unknown) => {
          broken = err instanceof Error ? err : new Error(String(err));
        });
        throw mapPgError(e, "commit", this.where);
      }
      this.version++;
      return result;
    } finally {
      client?.release(broken);
      this.queue.release();
    }
  }

  /** Kysely on the pool (committed data; READ COMMITTED). */
  kysely(): Kysely<SigilDatabase> {
    this.assertOpen();
    return this.k;
  }

  /** Runs one read on the pool, mapping errors. */
  private async read<R extends pg.QueryResultRow>(
    what: string,
    text: string,
    values: unknown[] = [],
    name?: string,
  ): Promise<R[]> {
    this.assertOpen();
    try {
      return (await run<R>(this.pool, text, values, name)).rows;
    } catch (e) {
      throw mapPgError(e, what, this.where);
    }
  }

  async getCa(name: string): Promise<CaRecord | undefined> {
    const row = (
      await this.read<CaRow>("read CA", `SELECT ${CA_COLUMNS} FROM cas WHERE name = $1`, [name])
    )[0];
    return row === undefined ? undefined : toCaRecord(row);
  }

  async getCaById(id: number): Promise<CaRecord | undefined> {
    const row = (await this.read<CaRow>("read CA", `SELECT ${CA_COLUMNS} FROM cas WHERE id = $1`, [id]))[0];
    return row === undefined ? undefined : toCaRecord(row);
  }

  async listCas(): Promise<CaRecord[]> {
    const rows = await this.read<CaRow>("list CAs", `SELECT ${CA_COLUMNS} FROM cas ORDER BY id`);
    return rows.map(toCaRecord);
  }

  async getCert(caId: number, serialHex: string): Promise<CertRecord | undefined> {
    const row = (
      await this.read<CertRow>(
        "read certificate",
        `SELECT ${CERT_COLUMNS} FROM certificates WHERE serial_hex = $1 AND ca_id = $2`,
        [serialHex, caId],
        "sigil_get_cert",
      )
    )[0];
    return row === undefined ? undefined : toCertRecord(row);
  }

  async findBlockedKeys(keyIds: string[]): Promise<Map<string, BlockedKey>> {
    return keyIds.length ? findBlockedKeys(this.kysely(), keyIds) : new Map();
  }

  async getCertById(id: number): Promise<CertRecord | undefined> {
    const row = (
      await this.read<CertRow>("read certificate", `SELECT ${CERT_COLUMNS} FROM certificates WHERE id = $1`, [
        id,
      ])
    )[0];
    return row === undefined ? undefined : toCertRecord(row);
  }

  /** Certificates matching `q`, by notAfter then id (the same query as SQLite's, through Kysely). */
  async findCerts(q: CertQuery): Promise<CertRecord[]> {
    this.assertOpen();
    let sel = this.k.selectFrom("certificates").selectAll();
    if (q.caId !== undefined) sel = sel.where("ca_id", "=", q.caId);
    if (q.status === "expired") sel = sel.where("not_after", "<", q.now);
    else if (q.status === "valid") sel = sel.where("status", "=", "valid").where("not_after", ">=", q.now);
    else if (q.status === "revoked") sel = sel.where("status", "=", "revoked");
    if (q.expiringBefore !== undefined) {
      sel = sel.where("not_after", "<=", q.expiringBefore);
      if (q.status !== "expired") sel = sel.where("not_after", ">=", q.now);
    }
    if (q.match !== undefined) {
      const m = q.match.trim();
      const serial = normalizeSerialHex(m);
      sel = sel.where((eb) => {
        const terms = [
          eb(eb.fn<string>("lower", [eb.ref("common_name")]), "=", eb.fn<string>("lower", [eb.val(m)])),
          eb(eb.fn<string>("lower", [eb.ref("email")]), "=", eb.fn<string>("lower", [eb.val(m)])),
        ];
        if (serial !== undefined) terms.push(eb("serial_hex", "=", serial));
        return eb.or(terms);
      });
    }
    if (q.profile !== undefined) sel = sel.where("profile", "=", q.profile);
    if (q.excludeProfiles?.length) sel = sel.where("profile", "not in", [...q.excludeProfiles]);
    sel = sel.orderBy("not_after").orderBy("id");
    if (q.limit !== undefined) sel = sel.limit(q.limit);
    try {
      const rows = await sel.execute();
      return rows.map((r) => toCertRecord(r as CertRow));
    } catch (e) {
      throw mapPgError(e, "find certificates", this.where);
    }
  }

  async getRequest(id: number): Promise<RequestRecord | undefined> {
    const row = (
      await this.read<RequestRow>("read request", `SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = $1`, [
        id,
      ])
    )[0];
    return row === undefined ? undefined : toRequestRecord(row);
  }

  async getRequestByPublicId(publicId: string): Promise<RequestRecord | undefined> {
    const row = (
      await this.read<RequestRow>(
        "read request",
        `SELECT ${REQUEST_COLUMNS} FROM requests WHERE public_id = $1`,
        [publicId],
      )
    )[0];
    return row === undefined ? undefined : toRequestRecord(row);
  }

  async expiryHistogram(
    from: number,
    bucketMs: number,
    buckets: number,
  ): Promise<Array<{ caId: number; bucket: number; count: number }>> {
    const rows = await this.read<{ caId: number; bucket: number; count: number }>(
      "read expiry histogram",
      'SELECT ca_id AS "caId", (not_after - $1::bigint) / $2::bigint AS bucket, count(*) AS count ' +
        "FROM certificates WHERE status = 'valid' AND profile != 'ocsp' AND not_after >= $1::bigint " +
        "AND not_after < $3::bigint GROUP BY 1, 2 ORDER BY 1, 2",
      [from, bucketMs, from + bucketMs * buckets],
    );
    return rows.map((r) => ({ caId: r.caId, bucket: r.bucket, count: r.count }));
  }

  async listRequests(q: { state?: RequestState; limit?: number }): Promise<RequestRecord[]> {
    const values: unknown[] = [];
    let text = `SELECT ${REQUEST_COLUMNS} FROM requests`;
    if (q.state !== undefined) {
      values.push(q.state);
      text += ` WHERE state = $${values.length}`;
    }
    text += " ORDER BY id";
    if (q.limit !== undefined) {
      values.push(q.limit);
      text += ` LIMIT $${values.length}`;
    }
    return (await this.read<RequestRow>("list requests", text, values)).map(toRequestRecord);
  }

  async dueMail(now: number, limit: number): Promise<OutboxRecord[]> {
    const rows = await this.read<OutboxRow>(
      "read outbox",
      `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 ` +
        "ORDER BY next_attempt_at, id LIMIT $2",
      [now, limit],
    );
    return rows.map(toOutboxRecord);
  }

  async mailForRequest(requestId: number): Promise<OutboxRecord[]> {
    const rows = await this.read<OutboxRow>(
      "read outbox",
      `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE request_id = $1 ORDER BY id`,
      [requestId],
    );
    return rows.map(toOutboxRecord);
  }

  async getIntake(key: string): Promise<IntakeRecord | undefined> {
    const row = (
      await this.read<IntakeRow>("read intake", `SELECT ${INTAKE_COLUMNS} FROM intake_log WHERE key = $1`, [
        key,
      ])
    )[0];
    return row === undefined ? undefined : toIntakeRecord(row);
  }

  async getJobMark(name: string): Promise<{ value: string; at: number } | undefined> {
    const row = (
      await this.read<{ value: string; at: number }>(
        "read job mark",
        "SELECT value, at FROM job_marks WHERE name = $1",
        [name],
      )
    )[0];
    return row === undefined ? undefined : { value: row.value, at: row.at };
  }

  async noticesSent(certId: number): Promise<number[]> {
    const rows = await this.read<{ threshold_days: number }>(
      "read notices",
      "SELECT threshold_days FROM expiry_notices WHERE cert_id = $1 ORDER BY threshold_days DESC",
      [certId],
    );
    return rows.map((r) => r.threshold_days);
  }

  /**
   * Revoked entries of CA `caId` in issuance (id) order, fetched through a server-side
   * cursor in one REPEATABLE READ snapshot: memory stays flat at any size.
   */
  revokedEntries(caId: number): AsyncIterable<RevokedEntry[]> {
    return this.stream(
      "read revoked entries",
      "SELECT serial_hex, revoked_at, revocation_reason FROM certificates " +
        "WHERE ca_id = $1 AND status = 'revoked' ORDER BY id",
      [caId],
      (r: [string, number, number | null]) => ({ serialHex: r[0], revokedAt: r[1], reason: r[2] }),
      true,
    );
  }

  async countRevoked(caId: number): Promise<number> {
    const rows = await this.read<{ n: number }>(
      "count revoked",
      "SELECT count(*) AS n FROM certificates WHERE ca_id = $1 AND status = 'revoked'",
      [caId],
    );
    return rows[0]!.n;
  }

  async lastNotAfter(caId: number): Promise<number | undefined> {
    const rows = await this.read<{ m: string | number | null }>(
      "read last expiry",
      "SELECT max(not_after) AS m FROM certificates WHERE ca_id = $1",
      [caId],
    );
    const m = rows[0]?.m;
    return m === null || m === undefined ? undefined : Number(m);
  }

  auditEvents(): AsyncIterable<AuditEvent> {
    const batches = this.stream(
      "read audit log",
      `SELECT ${AUDIT_COLUMNS} FROM audit_events ORDER BY seq`,
      [],
      (r: AuditRow) => toAuditEvent(r),
      false,
    );
    return (async function* () {
      for await (const batch of batches) yield* batch;
    })();
  }

  async currentOcspResponder(caId: number): Promise<OcspResponderRecord | undefined> {
    const row = (
      await this.read<ResponderRow>(
        "read OCSP responder",
        `SELECT ${RESPONDER_COLUMNS} FROM ocsp_responders WHERE ca_id = $1 ORDER BY not_after DESC, id DESC LIMIT 1`,
        [caId],
      )
    )[0];
    return row === undefined ? undefined : toResponderRecord(row);
  }

  async ocspLookup(caId: number, serialHex: string): Promise<OcspEntry | undefined> {
    const row = (
      await this.read<OcspEntryRow>(
        "read OCSP answer",
        `SELECT ${OCSP_ENTRY_COLUMNS} FROM certificates c LEFT JOIN ocsp_responses o ON o.cert_id = c.id ` +
          "WHERE c.serial_hex = $1 AND c.ca_id = $2",
        [serialHex, caId],
        "sigil_ocsp_lookup",
      )
    )[0];
    return row === undefined ? undefined : toOcspEntry(row);
  }

  async ocspDue(dueBefore: number, limit: number, afterCertId?: number): Promise<OcspEntry[]> {
    const rows =
      afterCertId === undefined
        ? await this.read<OcspEntryRow>(
            "read due OCSP answers",
            `SELECT ${OCSP_ENTRY_COLUMNS} FROM ocsp_responses o JOIN certificates c ON c.id = o.cert_id ` +
              "WHERE o.next_update <= $1 ORDER BY o.next_update, o.cert_id LIMIT $2",
            [dueBefore, limit],
          )
        : await this.read<OcspEntryRow>(
            "read due OCSP answers",
            `SELECT ${OCSP_ENTRY_COLUMNS} FROM ocsp_responses o JOIN certificates c ON c.id = o.cert_id ` +
              "WHERE o.cert_id > $1 AND o.next_update <= $2 ORDER BY o.cert_id LIMIT $3",
            [afterCertId, dueBefore, limit],
          );
    return rows.map(toOcspEntry);
  }

  async countOcspDue(dueBefore: number): Promise<number> {
    const rows = await this.read<{ n: number }>(
      "count due OCSP answers",
      "SELECT count(*) AS n FROM ocsp_responses WHERE next_update <= $1",
      [dueBefore],
    );
    return rows[0]!.n;
  }

  async latestCrl(caId: number): Promise<CrlRecord | undefined> {
    const row = (
      await this.read<{
        ca_id: number;
        crl_number: number;
        der: Buffer;
        this_update: number;
        next_update: number;
      }>("read CRL", "SELECT ca_id, crl_number, der, this_update, next_update FROM crls WHERE ca_id = $1", [
        caId,
      ])
    )[0];
    return row === undefined
      ? undefined
      : {
          caId: row.ca_id,
          crlNumber: row.crl_number,
          der: row.der,
          thisUpdate: row.this_update,
          nextUpdate: row.next_update,
        };
  }

  /**
   * A local counter: bumped by this store's own commits, by every `sigil_changes`
   * notification (other instances' commits), and by the once-a-second poll when the
   * cluster's transaction counter moved. No round trip: servers may ask per request.
   */
  async dataVersion(): Promise<number> {
    this.assertOpen();
    if (this.poll === undefined) {
      // First ask: start watching. listen() counts a change once it is connected, so a
      // commit made before LISTEN took effect is not missed.
      this.poll = setInterval(() => void this.pollChanges(), POLL_MS);
      this.poll.unref();
      await this.listen();
    }
    return this.version;
  }

  async getAdminToken(id: string): Promise<AdminTokenRecord | undefined> {
    const row = (
      await this.read<AdminTokenRow>(
        "read admin token",
        `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE id = $1`,
        [id],
      )
    )[0];
    return row === undefined ? undefined : toAdminToken(row);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    const rows = await this.read<AdminTokenRow>(
      "list admin tokens",
      `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at DESC, id`,
    );
    return rows.map(toAdminToken);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    const row = (
      await this.read<{ seq: number; hash: string }>(
        "read audit head",
        "SELECT seq, hash FROM audit_head WHERE id = 1",
      )
    )[0];
    return row === undefined ? undefined : { seq: row.seq, hash: row.hash };
  }

  /** Takes or renews a job lease, timed by the database's clock (hosts' clocks may differ). */
  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (this.readonly) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    const rows = await this.read(
      "job lease",
      `INSERT INTO job_leases (name, holder, expires_at) VALUES ($1, $2, ${DB_NOW_MS} + $3::bigint) ` +
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at " +
        `WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ${DB_NOW_MS} RETURNING name`,
      [name, holder, Math.round(ttlMs)],
    );
    return rows.length === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.readonly) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    await this.read("job lease", "DELETE FROM job_leases WHERE name = $1 AND holder = $2", [name, holder]);
  }

  /**
   * Streams a query's rows in batches of 1024 through a server-side cursor, on one pooled
   * connection in a REPEATABLE READ READ ONLY transaction (one consistent snapshot).
   * Breaking out early closes the cursor and returns the connection.
   */
  private async *stream<R, T>(
    what: string,
    text: string,
    values: unknown[],
    map: (r: R) => T,
    arrays: boolean,
  ): AsyncGenerator<T[]> {
    this.assertOpen();
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await this.pool.connect();
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query({ text: `DECLARE sigil_stream NO SCROLL CURSOR FOR ${text}`, values });
      for (;;) {
        const res = await client.query({
          text: "FETCH 1024 FROM sigil_stream",
          ...(arrays ? { rowMode: "array" as const } : {}),
        });
        if (res.rows.length === 0) break;
        yield (res.rows as R[]).map(map);
        if (res.rows.length < 1024) break;
      }
    } catch (e) {
      broken = e instanceof Error ? e : new Error(String(e));
      throw mapPgError(e, what, this.where);
    } finally {
      if (client !== undefined) {
        if (broken === undefined)
          await client.query("ROLLBACK").catch((e: unknown) => {
            broken = e instanceof Error ? e : new Error(String(e));
          });
        client.release(broken);
      }
    }
  }

  /**
   * A consistent online copy (pg_dump, custom format) at `destPath`: one REPEATABLE READ
   * transaction exports its snapshot, pg_dump dumps exactly that snapshot (`--snapshot`),
   * and the counts, audit head and key list are read in the same snapshot.
   */
  async snapshot(destPath: string): Promise<StoreSnapshot> {
    if (this.closed) throw new SigilError(ErrorCodes.STORE, "the store is closed");
    try {
      fs.closeSync(fs.openSync(destPath, "wx", 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new SigilError(ErrorCodes.FILE_EXISTS, `${destPath} already exists`);
      throw e;
    }
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const id = (await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id")).rows[0]!.id;
      const n = async (q: string): Promise<number> =>
        Number((await client.query<{ n: string }>(q)).rows[0]?.n ?? 0);
      const head = (
        await client.query<{ seq: string; hash: string }>("SELECT seq, hash FROM audit_head WHERE id = 1")
      ).rows[0];
      const keys: StoreSnapshot["keys"] = [];
      for (const r of (
        await client.query<{ name: string; key_ref: string }>("SELECT name, key_ref FROM cas ORDER BY id")
      ).rows)
        keys.push({ keyRef: r.key_ref, role: "ca", ca: r.name });
      for (const r of (
        await client.query<{ name: string; key_ref: string }>(
          "SELECT c.name, r.key_ref FROM ocsp_responders r JOIN cas c ON c.id = r.ca_id WHERE r.id = " +
            "(SELECT r2.id FROM ocsp_responders r2 WHERE r2.ca_id = r.ca_id ORDER BY r2.not_after DESC, r2.id DESC LIMIT 1) " +
            "ORDER BY c.id",
        )
      ).rows)
        keys.push({ keyRef: r.key_ref, role: "ocsp-responder", ca: r.name });
      const counts = {
        cas: await n("SELECT count(*) AS n FROM cas"),
        certificates: await n("SELECT count(*) AS n FROM certificates"),
        revoked: await n("SELECT count(*) AS n FROM certificates WHERE status = 'revoked'"),
        requests: await n("SELECT count(*) AS n FROM requests"),
        auditEvents: await n("SELECT count(*) AS n FROM audit_events"),
      };
      // The URL goes through the environment, not argv (it may hold a password).
      const r = spawnSync(
        "pg_dump",
        ["--format=custom", "--no-owner", "--no-privileges", `--snapshot=${id}`, `--file=${destPath}`],
        { env: { ...process.env, ...libpqEnv(this.url) }, encoding: "utf8" },
      );
      if (r.error || r.status !== 0)
        throw new SigilError(
          ErrorCodes.STORE,
          `pg_dump of ${this.where} failed: ${(r.error?.message ?? r.stderr ?? "").split("\n")[0]!.replaceAll(this.url, this.where)}`,
        );
      await client.query("COMMIT");
      return {
        kind: "postgres",
        counts,
        auditHead: head === undefined ? null : { seq: Number(head.seq), hash: head.hash },
        keys,
      };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      fs.rmSync(destPath, { force: true });
      if (e instanceof SigilError) throw e;
      throw mapPgError(e, "snapshot database", this.where);
    } finally {
      client.release();
    }
  }

  /** Waits for a running transaction, then closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.acquire();
    try {
      if (this.closed) return;
      this.closed = true;
      clearInterval(this.poll);
      if (this.reconnect !== undefined) clearTimeout(this.reconnect);
      const l = this.listener;
      this.listener = undefined;
      await l?.end().catch(() => undefined);
      await this.k.destroy(); // ends the pool
    } finally {
      this.queue.release();
    }
  }
}

/**
 * Opens the PostgreSQL store at `url` (`postgres://user[:password]@host[:port]/db`; libpq's
 * PGPASSWORD and ~/.pgpass also work): connects, and unless read-only runs migrations
 * (Kysely takes an advisory lock, so instances starting together migrate once).
 */
export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<Store> {
  return PgStore.open(url, opts);
}

/**
 * libpq's environment for a `postgres://` URL (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGSSLMODE): tools like pg_dump get the connection without a password in argv.
 */
export function libpqEnv(url: string): Record<string, string> {
  const u = new URL(url);
  const env: Record<string, string> = {};
  const host = u.searchParams.get("host") ?? decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ""));
  if (host) env.PGHOST = host;
  if (u.port) env.PGPORT = u.port;
  if (u.username) env.PGUSER = decodeURIComponent(u.username);
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (db) env.PGDATABASE = db;
  const ssl = u.searchParams.get("sslmode");
  if (ssl) env.PGSSLMODE = ssl;
  return env;
}
