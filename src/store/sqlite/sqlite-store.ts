/**
 * The SQLite backend of the {@link Store} contract, on better-sqlite3.
 *
 * Two connections: a writer (transactions, migrations) and a read-only reader (every
 * `Store` read). Reads therefore see committed data only, as with a PostgreSQL pool.
 * Streams (`revokedEntries`, `auditEvents`) each open their own short-lived read-only
 * connection, so a long stream reads one consistent snapshot and never blocks other
 * queries. The issuance hot path uses prepared statements made once; listings go through
 * Kysely.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import { GENESIS_HASH, chainHash, stableStringify } from "../../audit/chain.js";
import { migrateToLatest, migrationNames, MIGRATION_TABLE } from "../migrations.js";
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
  OutboxRecord,
  OcspEntry,
  OcspResponderRecord,
  RequestRecord,
  RequestState,
  RevokedEntry,
  Store,
  StoreSnapshot,
  StoreTx,
} from "../types.js";
import { AsyncMutex } from "./async-mutex.js";
import { tryNormalizeSerialHex } from "../../x509/serial.js";
import { BUSY_TIMEOUT_MS, isUniqueViolation, mapSqliteError, sqliteCode } from "./sqlite-errors.js";

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Open without a writer: no migrations run and `transaction` throws. The file must exist. */
  readonly?: boolean;
}

type Db = Database.Database;
type Stmt = Database.Statement;

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
const OCSP_ENTRY_COLUMNS =
  "c.id AS cert_id, c.ca_id, c.serial_hex, c.status, c.revoked_at, c.revocation_reason, c.not_after, " +
  "o.der, o.this_update, o.next_update";

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

/** Prepared statements of the writer connection. */
interface WriterStatements {
  begin: Stmt;
  commit: Stmt;
  rollback: Stmt;
  insertCa: Stmt;
  insertRequest: Stmt;
  insertCert: Stmt;
  revokeCert: Stmt;
  setCrlNumber: Stmt;
  getHead: Stmt;
  getLastEvent: Stmt;
  insertAudit: Stmt;
  upsertHead: Stmt;
  insertOcspResponder: Stmt;
  putOcspResponse: Stmt;
  putCrl: Stmt;
}

/** Prepared statements of the reader connection. */
interface ReaderStatements {
  getCa: Stmt;
  getCaById: Stmt;
  getCert: Stmt;
  getRequest: Stmt;
  countRevoked: Stmt;
  auditHead: Stmt;
  currentOcspResponder: Stmt;
  ocspLookup: Stmt;
  ocspDue: Stmt;
  ocspDueAfter: Stmt;
  countOcspDue: Stmt;
  latestCrl: Stmt;
  dataVersion: Stmt;
}

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

function setPragmas(db: Db, writer: boolean): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (writer) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    // 64 MiB page cache (default 2 MiB): the serial index takes random inserts, and with a
    // million certificates its pages no longer fit the default cache (issuance slowed ~20%).
    db.pragma("cache_size = -65536");
  }
  db.pragma("foreign_keys = ON");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The transaction handle: valid only while its `transaction` callback runs. */
class SqliteTx implements StoreTx {
  active = true;

  constructor(
    private readonly s: WriterStatements,
    /** Prepares (or reuses) a statement on the writer connection. */
    private readonly prepare: (sql: string) => Stmt,
    /** Kysely on the writer connection (inside this BEGIN IMMEDIATE, under the store's mutex). */
    private readonly k: () => Kysely<SigilDatabase>,
  ) {}

  /** Kysely on the writer connection: its statements run inside this transaction. */
  kysely(): Kysely<SigilDatabase> {
    this.check();
    return this.k();
  }

  private check(): void {
    if (!this.active) {
      throw new SigilError(ErrorCodes.INTERNAL, "store transaction used after it ended", {
        kind: "internal",
      });
    }
  }

  async insertCa(ca: Omit<CaRecord, "id">): Promise<CaRecord> {
    this.check();
    try {
      const r = this.s.insertCa.run(
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
      );
      return { id: Number(r.lastInsertRowid), ...ca };
    } catch (e) {
      if (isUniqueViolation(e, "cas.name")) {
        throw new SigilError(ErrorCodes.CA_EXISTS, `a CA named "${ca.name}" already exists`, {
          details: { name: ca.name },
          cause: e,
        });
      }
      throw mapSqliteError(e, "insert CA");
    }
  }

  async insertRequest(r: Omit<RequestRecord, "id">): Promise<RequestRecord> {
    this.check();
    try {
      const res = this.s.insertRequest.run(
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
      );
      return { id: Number(res.lastInsertRowid), ...r, publicId: r.publicId ?? null };
    } catch (e) {
      throw mapSqliteError(e, "insert request");
    }
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
    const text = `UPDATE requests SET ${keys.map((k) => `${REQUEST_PATCH_COLUMNS[k]} = ?`).join(", ")} WHERE id = ?`;
    try {
      const res = this.prepare(text).run(
        ...keys.map((k) => (k === "checks" ? JSON.stringify(patch.checks) : patch[k])),
        id,
      );
      if (res.changes === 0) {
        throw new SigilError(ErrorCodes.STORE, `request ${id} not found`, {
          details: { notFound: true, id },
        });
      }
    } catch (e) {
      throw mapSqliteError(e, "update request");
    }
  }

  async insertCert(
    c: Omit<CertRecord, "id">,
    ocsp?: { der: Buffer; thisUpdate: number; nextUpdate: number },
  ): Promise<CertRecord> {
    this.check();
    try {
      const r = this.s.insertCert.run(
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
      );
      const id = Number(r.lastInsertRowid);
      this.s.putOcspResponse.run(id, c.caId, ocsp?.der ?? null, ocsp?.thisUpdate ?? 0, ocsp?.nextUpdate ?? 0);
      return { id, ...c };
    } catch (e) {
      if (isUniqueViolation(e, "certificates.serial_hex")) {
        throw new SigilError(ErrorCodes.STORE, "duplicate serial", {
          details: { duplicateSerial: true, caId: c.caId, serialHex: c.serialHex },
          cause: e,
        });
      }
      throw mapSqliteError(e, "insert certificate");
    }
  }

  async getCertStatus(caId: number, serialHex: string): Promise<CertStatusRow | undefined> {
    return getCertStatus(this.kysely(), caId, serialHex);
  }

  async blockKeys(keys: BlockedKey[]): Promise<void> {
    await blockKeys(this.kysely(), keys);
  }

  async revokeCert(id: number, revokedAt: number, reason: number): Promise<void> {
    this.check();
    let changes: number;
    try {
      changes = this.s.revokeCert.run(revokedAt, reason, id).changes;
    } catch (e) {
      throw mapSqliteError(e, "revoke certificate");
    }
    if (changes === 0) throw new SigilError(ErrorCodes.CERT_NOT_FOUND, `certificate id ${id} not found`);
  }

  async nextCrlNumber(caId: number): Promise<number> {
    this.check();
    let row: { crl_number: number } | undefined;
    try {
      row = this.prepare("UPDATE cas SET crl_number = crl_number + 1 WHERE id = ? RETURNING crl_number").get(
        caId,
      ) as { crl_number: number } | undefined;
    } catch (e) {
      throw mapSqliteError(e, "take the next CRL number");
    }
    if (row === undefined) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
    return row.crl_number;
  }

  async getRequestForUpdate(id: number): Promise<RequestRecord | undefined> {
    this.check();
    // BEGIN IMMEDIATE holds the database's write lock: reading through the writer is enough.
    let row: RequestRow | undefined;
    try {
      row = this.prepare(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = ?`).get(id) as
        RequestRow | undefined;
    } catch (e) {
      throw mapSqliteError(e, "read request");
    }
    return row === undefined ? undefined : toRequestRecord(row);
  }

  async setCrlNumber(caId: number, crlNumber: number): Promise<void> {
    this.check();
    let changes: number;
    try {
      changes = this.s.setCrlNumber.run(crlNumber, caId).changes;
    } catch (e) {
      throw mapSqliteError(e, "set CRL number");
    }
    if (changes === 0) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
  }

  async setCaKeyRef(caId: number, keyRef: string): Promise<void> {
    this.check();
    let changes: number;
    try {
      changes = this.prepare("UPDATE cas SET key_ref = ? WHERE id = ?").run(keyRef, caId).changes;
    } catch (e) {
      throw mapSqliteError(e, "set CA key reference");
    }
    if (changes === 0) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `CA id ${caId} not found`);
  }

  async appendAudit(draft: AuditDraft): Promise<AuditEvent> {
    this.check();
    try {
      const head = (this.s.getHead.get() ?? this.s.getLastEvent.get() ?? { seq: 0, hash: GENESIS_HASH }) as {
        seq: number;
        hash: string;
      };
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
      this.s.insertAudit.run(
        seq,
        draft.at,
        draft.actor,
        draft.action,
        draft.target,
        stableStringify(draft.details),
        head.hash,
        hash,
      );
      this.s.upsertHead.run(seq, hash);
      return { ...fields, prevHash: head.hash, hash };
    } catch (e) {
      if (isUniqueViolation(e, "audit_events.seq")) {
        throw new SigilError(
          ErrorCodes.AUDIT_BROKEN,
          "audit head is behind the audit log (audit_head tampered?); run `sigil audit verify`",
          { kind: "internal", cause: e },
        );
      }
      throw mapSqliteError(e, "append audit event");
    }
  }

  async insertOcspResponder(r: Omit<OcspResponderRecord, "id">): Promise<OcspResponderRecord> {
    this.check();
    try {
      const res = this.s.insertOcspResponder.run(
        r.caId,
        r.certId,
        r.certDer,
        r.keyRef,
        r.keyType,
        r.notBefore,
        r.notAfter,
        r.createdAt,
      );
      return { ...r, id: Number(res.lastInsertRowid) };
    } catch (e) {
      throw mapSqliteError(e, "insert OCSP responder");
    }
  }

  async putOcspResponses(
    rows: Array<{ certId: number; caId: number; der: Buffer | null; thisUpdate: number; nextUpdate: number }>,
  ): Promise<void> {
    this.check();
    try {
      for (const r of rows) this.s.putOcspResponse.run(r.certId, r.caId, r.der, r.thisUpdate, r.nextUpdate);
    } catch (e) {
      throw mapSqliteError(e, "store OCSP answer");
    }
  }

  async enqueueMail(m: Omit<OutboxRecord, "id">): Promise<OutboxRecord> {
    this.check();
    try {
      const r = this.prepare(
        `INSERT INTO outbox (${OUTBOX_COLUMNS.replace("id, ", "")}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      ).run(
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
      );
      return { ...m, id: Number(r.lastInsertRowid) };
    } catch (e) {
      throw mapSqliteError(e, "queue mail");
    }
  }

  async claimMail(id: number, now: number, leaseUntil: number): Promise<boolean> {
    this.check();
    try {
      return (
        this.prepare(
          "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?",
        ).run(leaseUntil, id, now).changes > 0
      );
    } catch (e) {
      throw mapSqliteError(e, "claim mail");
    }
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
    try {
      this.prepare(`UPDATE outbox SET ${keys.map((k) => `${cols[k]} = ?`).join(", ")} WHERE id = ?`).run(
        ...keys.map((k) => patch[k]),
        id,
      );
    } catch (e) {
      throw mapSqliteError(e, "update mail");
    }
  }

  async recordIntake(r: Omit<IntakeRecord, "id">): Promise<IntakeRecord> {
    this.check();
    try {
      const res = this.prepare(
        "INSERT INTO intake_log (key, channel, origin, received_at, outcome, reason, request_ids, moved) " +
          "VALUES (?,?,?,?,?,?,?,?)",
      ).run(
        r.key,
        r.channel,
        r.origin,
        r.receivedAt,
        r.outcome,
        r.reason,
        JSON.stringify(r.requestIds),
        r.moved ? 1 : 0,
      );
      return { ...r, id: Number(res.lastInsertRowid) };
    } catch (e) {
      if (isUniqueViolation(e, "intake_log.key"))
        throw new SigilError(ErrorCodes.STORE, `already taken in: ${r.key}`, {
          details: { duplicateIntake: true, key: r.key },
          cause: e,
        });
      throw mapSqliteError(e, "record intake");
    }
  }

  async markIntakeMoved(key: string): Promise<void> {
    this.check();
    try {
      this.prepare("UPDATE intake_log SET moved = 1 WHERE key = ?").run(key);
    } catch (e) {
      throw mapSqliteError(e, "update intake");
    }
  }

  async setJobMark(name: string, value: string, at: number): Promise<void> {
    this.check();
    try {
      this.prepare(
        "INSERT INTO job_marks (name, value, at) VALUES (?,?,?) " +
          "ON CONFLICT (name) DO UPDATE SET value = excluded.value, at = excluded.at",
      ).run(name, value, at);
    } catch (e) {
      throw mapSqliteError(e, "set job mark");
    }
  }

  async recordNotice(certId: number, thresholdDays: number, sentAt: number): Promise<boolean> {
    this.check();
    try {
      const r = this.prepare(
        "INSERT INTO expiry_notices (cert_id, threshold_days, sent_at) VALUES (?,?,?) " +
          "ON CONFLICT (cert_id, threshold_days) DO NOTHING",
      ).run(certId, thresholdDays, sentAt);
      return r.changes > 0;
    } catch (e) {
      throw mapSqliteError(e, "record notice");
    }
  }

  async putCrl(c: CrlRecord): Promise<void> {
    this.check();
    try {
      this.s.putCrl.run(c.caId, c.crlNumber, c.der, c.thisUpdate, c.nextUpdate);
    } catch (e) {
      throw mapSqliteError(e, "store CRL");
    }
  }

  async insertAdminToken(t: AdminTokenRecord): Promise<AdminTokenRecord | undefined> {
    this.check();
    try {
      // BEGIN IMMEDIATE holds the write lock: no other creation runs between check and insert.
      const holder = this.prepare(
        `SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ` +
          "WHERE name = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at, id LIMIT 1",
      ).get(t.name, t.createdAt) as AdminTokenRow | undefined;
      if (holder) return toAdminToken(holder);
      this.prepare(
        "INSERT INTO admin_tokens (id, name, role, secret_hash, hash_scheme, created_at, created_by, expires_at, revoked_at) " +
          "VALUES (?,?,?,?,?,?,?,?,?)",
      ).run(t.id, t.name, t.role, t.secretHash, t.scheme, t.createdAt, t.createdBy, t.expiresAt, t.revokedAt);
      return undefined;
    } catch (e) {
      throw mapSqliteError(e, "store admin token");
    }
  }

  async revokeAdminToken(id: string, at: number): Promise<boolean> {
    this.check();
    try {
      const r = this.prepare(
        "UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
      ).run(at, id);
      return r.changes === 1;
    } catch (e) {
      throw mapSqliteError(e, "revoke admin token");
    }
  }
}

const ADMIN_TOKEN_COLUMNS =
  "id, name, role, secret_hash, hash_scheme, created_at, created_by, expires_at, revoked_at";

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

/** A {@link Store} on one SQLite file. Create with {@link openSqliteStore}. */
export class SqliteStore implements Store {
  private readonly mutex = new AsyncMutex();
  private closed = false;
  private readonly patchCache = new Map<string, Stmt>();
  /**
   * Kysely on the writer, made on first use. Never destroyed (Kysely's SQLite driver would
   * close the writer); {@link close} closes the writer itself.
   */
  private writerKysely: Kysely<SigilDatabase> | undefined;

  private constructor(
    /** Path of the database file. */
    readonly path: string,
    private readonly writer: Db | undefined,
    private readonly w: WriterStatements | undefined,
    private readonly reader: Db,
    private readonly r: ReaderStatements,
    private readonly k: Kysely<SigilDatabase>,
  ) {}

  /** Opens (and unless read-only, creates with mode 0600 and migrates) the database at `path`. */
  static async open(path: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
    if (path === "" || path === ":memory:") {
      throw new SigilError(
        ErrorCodes.STORE,
        "the SQLite store needs a file path (not an in-memory database)",
      );
    }
    let writer: Db | undefined;
    let reader: Db | undefined;
    try {
      if (!opts.readonly) {
        fs.closeSync(fs.openSync(path, "a", 0o600));
        writer = new Database(path);
        setPragmas(writer, true);
        await migrate(writer);
      }
      reader = new Database(path, { readonly: true, fileMustExist: true });
      setPragmas(reader, false);
      const w = writer === undefined ? undefined : prepareWriter(writer);
      const r = prepareReader(reader);
      const k = new Kysely<SigilDatabase>({ dialect: new SqliteDialect({ database: reader }) });
      return new SqliteStore(path, writer, w, reader, r, k);
    } catch (e) {
      reader?.close();
      writer?.close();
      if (e instanceof SigilError) throw e;
      if (sqliteCode(e) !== undefined) throw mapSqliteError(e, `open database ${path}`);
      const msg = e instanceof Error ? e.message : String(e);
      throw new SigilError(ErrorCodes.STORE, `open database ${path}: ${msg}`, { cause: e });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCodes.INTERNAL, "store is closed", { kind: "internal" });
  }

  /** Runs `fn` in a `BEGIN IMMEDIATE` transaction, queued behind others in this process. */
  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    this.assertOpen();
    const w = this.w;
    if (w === undefined) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    await this.mutex.acquire();
    try {
      this.assertOpen();
      try {
        w.begin.run();
      } catch (e) {
        throw mapSqliteError(e, "begin transaction");
      }
      const tx = new SqliteTx(w, this.prepareCached, this.txKysely);
      let result: T;
      try {
        result = await fn(tx);
      } catch (e) {
        tx.active = false;
        this.rollbackQuietly();
        throw e;
      }
      tx.active = false;
      try {
        w.commit.run();
      } catch (e) {
        this.rollbackQuietly();
        throw mapSqliteError(e, "commit");
      }
      return result;
    } finally {
      this.mutex.release();
    }
  }

  private readonly txKysely = (): Kysely<SigilDatabase> =>
    (this.writerKysely ??= new Kysely<SigilDatabase>({
      dialect: new SqliteDialect({ database: this.writer! }),
    }));

  /** Kysely on the read-only connection (committed data). */
  kysely(): Kysely<SigilDatabase> {
    this.assertOpen();
    return this.k;
  }

  private readonly prepareCached = (text: string): Stmt => {
    let s = this.patchCache.get(text);
    if (s === undefined) {
      if (this.writer === undefined) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
      s = this.writer.prepare(text);
      this.patchCache.set(text, s);
    }
    return s;
  };

  private rollbackQuietly(): void {
    try {
      if (this.writer?.inTransaction) this.w?.rollback.run();
    } catch {
      // The connection already rolled back (e.g. after SQLITE_FULL); nothing to undo.
    }
  }

  private read<T>(what: string, f: () => T): T {
    this.assertOpen();
    try {
      return f();
    } catch (e) {
      throw mapSqliteError(e, what);
    }
  }

  /** The CA named `name`. */
  async getCa(name: string): Promise<CaRecord | undefined> {
    const row = this.read("read CA", () => this.r.getCa.get(name) as CaRow | undefined);
    return row === undefined ? undefined : toCaRecord(row);
  }

  /** The CA with id `id`. */
  async getCaById(id: number): Promise<CaRecord | undefined> {
    const row = this.read("read CA", () => this.r.getCaById.get(id) as CaRow | undefined);
    return row === undefined ? undefined : toCaRecord(row);
  }

  /** All CAs, by id. */
  async listCas(): Promise<CaRecord[]> {
    this.assertOpen();
    try {
      const rows = await this.k.selectFrom("cas").selectAll().orderBy("id").execute();
      return rows.map((r) => toCaRecord(r as CaRow));
    } catch (e) {
      throw mapSqliteError(e, "list CAs");
    }
  }

  /** The certificate `serialHex` of CA `caId`. */
  async getCert(caId: number, serialHex: string): Promise<CertRecord | undefined> {
    const row = this.read(
      "read certificate",
      () => this.r.getCert.get(serialHex, caId) as CertRow | undefined,
    );
    return row === undefined ? undefined : toCertRecord(row);
  }

  /** The certificate with row id `id`. */
  async findBlockedKeys(keyIds: string[]): Promise<Map<string, BlockedKey>> {
    return keyIds.length ? findBlockedKeys(this.kysely(), keyIds) : new Map();
  }

  async getCertById(id: number): Promise<CertRecord | undefined> {
    const row = this.read("read certificate", () =>
      this.reader.prepare(`SELECT ${CERT_COLUMNS} FROM certificates WHERE id = ?`).get(id),
    ) as CertRow | undefined;
    return row === undefined ? undefined : toCertRecord(row);
  }

  /** Certificates matching `q`, by notAfter then id. */
  async findCerts(q: CertQuery): Promise<CertRecord[]> {
    this.assertOpen();
    let sel = this.k.selectFrom("certificates").selectAll();
    if (q.caId !== undefined) {
      // With a match, `+ca_id` keeps SQLite from scanning all of the CA's certificates
      // through (ca_id, status) instead of using the match's own indexes; with an expiry
      // window, it keeps the walk on not_after's index, in the listing's order, so a page
      // (LIMIT) stops early instead of sorting every valid certificate of the CA.
      sel =
        q.match !== undefined || q.expiringBefore !== undefined
          ? sel.where(sql<number>`+${sql.ref("ca_id")}`, "=", q.caId)
          : sel.where("ca_id", "=", q.caId);
    }
    if (q.status === "expired") sel = sel.where("not_after", "<", q.now);
    else if (q.status === "valid") sel = sel.where("status", "=", "valid").where("not_after", ">=", q.now);
    else if (q.status === "revoked") sel = sel.where("status", "=", "revoked");
    if (q.expiringBefore !== undefined) {
      sel = sel.where("not_after", "<=", q.expiringBefore);
      if (q.status !== "expired") sel = sel.where("not_after", ">=", q.now);
    }
    if (q.match !== undefined) {
      const m = q.match.trim();
      const serial = tryNormalizeSerialHex(m);
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
      throw mapSqliteError(e, "find certificates");
    }
  }

  /** The request with id `id`. */
  async getRequest(id: number): Promise<RequestRecord | undefined> {
    const row = this.read("read request", () => this.r.getRequest.get(id) as RequestRow | undefined);
    return row === undefined ? undefined : toRequestRecord(row);
  }

  /** Requests (optionally in one state), oldest first. */
  async listRequests(q: { state?: RequestState; limit?: number }): Promise<RequestRecord[]> {
    this.assertOpen();
    let sel = this.k.selectFrom("requests").selectAll();
    if (q.state !== undefined) sel = sel.where("state", "=", q.state);
    sel = sel.orderBy("id");
    if (q.limit !== undefined) sel = sel.limit(q.limit);
    try {
      const rows = await sel.execute();
      return rows.map((r) => toRequestRecord(r as RequestRow));
    } catch (e) {
      throw mapSqliteError(e, "list requests");
    }
  }

  /**
   * Revoked entries of CA `caId`, streamed from one read snapshot in issuance (id) order,
   * which the (ca_id, status) index yields without sorting. Memory stays flat at any size.
   */
  revokedEntries(caId: number): AsyncIterable<RevokedEntry[]> {
    return this.stream(
      "read revoked entries",
      "SELECT serial_hex, revoked_at, revocation_reason FROM certificates " +
        "WHERE ca_id = ? AND status = 'revoked' ORDER BY id",
      [caId],
      (r: [string, number, number | null]) => ({ serialHex: r[0], revokedAt: r[1], reason: r[2] }),
      { raw: true, batch: 1024 },
    );
  }

  /** Number of revoked certificates of CA `caId`. */
  async countRevoked(caId: number): Promise<number> {
    return this.read("count revoked", () => (this.r.countRevoked.get(caId) as { n: number }).n);
  }

  /** The latest notAfter among CA `caId`'s certificates (the (ca_id, status) index, then rows). */
  async lastNotAfter(caId: number): Promise<number | undefined> {
    const row = this.read("read last expiry", () =>
      this.reader.prepare("SELECT max(not_after) AS m FROM certificates WHERE ca_id = ?").get(caId),
    ) as { m: number | null };
    return row.m ?? undefined;
  }

  /** Audit events by seq, streamed from one read snapshot. */
  auditEvents(): AsyncIterable<AuditEvent> {
    return this.stream(
      "read audit log",
      `SELECT ${AUDIT_COLUMNS} FROM audit_events ORDER BY seq`,
      [],
      (r: AuditRow) => toAuditEvent(r),
    );
  }

  /** Mails due for a send attempt. */
  async dueMail(now: number, limit: number): Promise<OutboxRecord[]> {
    const rows = this.read("read outbox", () =>
      this.reader
        .prepare(
          `SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? ` +
            "ORDER BY next_attempt_at, id LIMIT ?",
        )
        .all(now, limit),
    ) as OutboxRow[];
    return rows.map(toOutboxRecord);
  }

  /** The mails about one request. */
  async mailForRequest(requestId: number): Promise<OutboxRecord[]> {
    const rows = this.read("read outbox", () =>
      this.reader
        .prepare(`SELECT ${OUTBOX_COLUMNS} FROM outbox WHERE request_id = ? ORDER BY id`)
        .all(requestId),
    ) as OutboxRow[];
    return rows.map(toOutboxRecord);
  }

  /** One intake record. */
  async getIntake(key: string): Promise<IntakeRecord | undefined> {
    const row = this.read("read intake", () =>
      this.reader.prepare(`SELECT ${INTAKE_COLUMNS} FROM intake_log WHERE key = ?`).get(key),
    ) as IntakeRow | undefined;
    return row === undefined ? undefined : toIntakeRecord(row);
  }

  /** A named mark. */
  async getJobMark(name: string): Promise<{ value: string; at: number } | undefined> {
    return this.read("read job mark", () =>
      this.reader.prepare("SELECT value, at FROM job_marks WHERE name = ?").get(name),
    ) as { value: string; at: number } | undefined;
  }

  /** Thresholds noticed for a certificate. */
  async noticesSent(certId: number): Promise<number[]> {
    const rows = this.read("read notices", () =>
      this.reader
        .prepare("SELECT threshold_days FROM expiry_notices WHERE cert_id = ? ORDER BY threshold_days DESC")
        .all(certId),
    ) as Array<{ threshold_days: number }>;
    return rows.map((r) => r.threshold_days);
  }

  /** The CA's newest responder. */
  async currentOcspResponder(caId: number): Promise<OcspResponderRecord | undefined> {
    const row = this.read(
      "read OCSP responder",
      () => this.r.currentOcspResponder.get(caId) as ResponderRow | undefined,
    );
    return row === undefined ? undefined : toResponderRecord(row);
  }

  /** One certificate's state and pre-signed answer (two primary-key lookups). */
  async ocspLookup(caId: number, serialHex: string): Promise<OcspEntry | undefined> {
    const row = this.read(
      "read OCSP answer",
      () => this.r.ocspLookup.get(serialHex, caId) as OcspEntryRow | undefined,
    );
    return row === undefined ? undefined : toOcspEntry(row);
  }

  /** Due answers, oldest first, through the next_update index. */
  async ocspDue(dueBefore: number, limit: number, afterCertId?: number): Promise<OcspEntry[]> {
    const rows = this.read("read due OCSP answers", () =>
      afterCertId === undefined
        ? (this.r.ocspDue.all(dueBefore, limit) as OcspEntryRow[])
        : (this.r.ocspDueAfter.all(afterCertId, dueBefore, limit) as OcspEntryRow[]),
    );
    return rows.map(toOcspEntry);
  }

  /** Number of due answers. */
  async countOcspDue(dueBefore: number): Promise<number> {
    return this.read("count due OCSP answers", () => (this.r.countOcspDue.get(dueBefore) as { n: number }).n);
  }

  /** The CA's latest CRL. */
  async latestCrl(caId: number): Promise<CrlRecord | undefined> {
    const row = this.read(
      "read CRL",
      () =>
        this.r.latestCrl.get(caId) as
          | { ca_id: number; crl_number: number; der: Buffer; this_update: number; next_update: number }
          | undefined,
    );
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

  /** SQLite's `PRAGMA data_version` on the reader: changes whenever any other connection commits. */
  async dataVersion(): Promise<number> {
    return this.read("read data version", () => this.r.dataVersion.get() as number);
  }

  /** The request with this public id. */
  async getRequestByPublicId(publicId: string): Promise<RequestRecord | undefined> {
    const row = this.read("read request", () =>
      this.reader.prepare(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE public_id = ?`).get(publicId),
    ) as RequestRow | undefined;
    return row === undefined ? undefined : toRequestRecord(row);
  }

  /** Valid certificates expiring per period and CA (a GROUP BY over the not_after index range). */
  async expiryHistogram(
    from: number,
    bucketMs: number,
    buckets: number,
  ): Promise<Array<{ caId: number; bucket: number; count: number }>> {
    const rows = this.read("read expiry histogram", () =>
      this.reader
        .prepare(
          // Integer division: bound JS numbers arrive as REAL.
          "SELECT ca_id AS caId, (not_after - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS bucket, " +
            "count(*) AS count FROM certificates " +
            "WHERE status = 'valid' AND profile != 'ocsp' AND not_after >= ? AND not_after < ? " +
            "GROUP BY ca_id, bucket ORDER BY ca_id, bucket",
        )
        .all(from, bucketMs, from, from + bucketMs * buckets),
    ) as Array<{ caId: number; bucket: number; count: number }>;
    return rows.map((r) => ({ caId: r.caId, bucket: Math.floor(r.bucket), count: r.count }));
  }

  /** One admin token. */
  async getAdminToken(id: string): Promise<AdminTokenRecord | undefined> {
    const row = this.read("read admin token", () =>
      this.reader.prepare(`SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens WHERE id = ?`).get(id),
    ) as AdminTokenRow | undefined;
    return row === undefined ? undefined : toAdminToken(row);
  }

  /** All admin tokens, newest first. */
  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    const rows = this.read("list admin tokens", () =>
      this.reader
        .prepare(`SELECT ${ADMIN_TOKEN_COLUMNS} FROM admin_tokens ORDER BY created_at DESC, id`)
        .all(),
    ) as AdminTokenRow[];
    return rows.map(toAdminToken);
  }

  /** Takes or renews a job lease (one host: the local clock decides expiry). */
  async tryLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.leaseStatement(
      "INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE " +
        "SET holder = excluded.holder, expires_at = excluded.expires_at " +
        "WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?",
      [name, holder, Date.now() + ttlMs, Date.now()],
    );
  }

  /** Gives up a job lease. */
  async releaseLease(name: string, holder: string): Promise<void> {
    await this.leaseStatement("DELETE FROM job_leases WHERE name = ? AND holder = ?", [name, holder]);
  }

  /** Runs one write statement on the writer, outside any transaction of this process. */
  private async leaseStatement(text: string, params: unknown[]): Promise<boolean> {
    this.assertOpen();
    if (this.writer === undefined) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    await this.mutex.acquire();
    try {
      this.assertOpen();
      return this.prepareCached(text).run(...params).changes > 0;
    } catch (e) {
      throw mapSqliteError(e, "job lease");
    } finally {
      this.mutex.release();
    }
  }

  /** The recorded chain head (table audit_head), if any. */
  async auditHead(): Promise<{ seq: number; hash: string } | undefined> {
    const row = this.read(
      "read audit head",
      () => this.r.auditHead.get() as { seq: number; hash: string } | undefined,
    );
    return row === undefined ? undefined : { seq: row.seq, hash: row.hash };
  }

  /**
   * `VACUUM INTO destPath` on a fresh read-only connection: SQLite copies the database inside
   * one read transaction, so the copy is one consistent point in time and, in WAL mode,
   * writers (a running `sigil serve`) are never blocked. Unlike the page-by-page online
   * backup API it never restarts when another process commits meanwhile. The file is made
   * empty with mode 0600 first (VACUUM INTO accepts an empty file), then checked
   * (`PRAGMA quick_check`) and described from the copy itself.
   */
  async snapshot(destPath: string): Promise<StoreSnapshot> {
    this.assertOpen();
    try {
      fs.closeSync(fs.openSync(destPath, "wx", 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw new SigilError(ErrorCodes.FILE_EXISTS, `${destPath} already exists`);
      throw e;
    }
    let conn: Db | undefined;
    try {
      conn = new Database(this.path, { readonly: true, fileMustExist: true });
      conn.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      conn.prepare("VACUUM INTO ?").run(destPath);
    } catch (e) {
      fs.rmSync(destPath, { force: true });
      throw mapSqliteError(e, "snapshot database");
    } finally {
      conn?.close();
    }
    return describeSnapshot(destPath);
  }

  private stream<R, T>(what: string, query: string, params: unknown[], map: (r: R) => T): AsyncGenerator<T>;
  private stream<R, T>(
    what: string,
    query: string,
    params: unknown[],
    map: (r: R) => T,
    opts: { raw: boolean; batch: number },
  ): AsyncGenerator<T[]>;
  private async *stream<R, T>(
    what: string,
    query: string,
    params: unknown[],
    map: (r: R) => T,
    opts?: { raw: boolean; batch: number },
  ): AsyncGenerator<T | T[]> {
    this.assertOpen();
    let conn: Db | undefined;
    try {
      conn = new Database(this.path, { readonly: true, fileMustExist: true });
      conn.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // One read transaction for the whole stream: a consistent snapshot.
      conn.exec("BEGIN");
      const stmt = conn.prepare(query);
      if (opts?.raw) stmt.raw(true);
      const it = stmt.iterate(...params) as IterableIterator<R>;
      if (opts) {
        // Batches: one await per thousand rows instead of one per row.
        let batch: T[] = [];
        for (const row of it) {
          batch.push(map(row));
          if (batch.length >= opts.batch) {
            yield batch;
            batch = [];
            // Let timers and I/O run between batches (a long stream must not starve the
            // event loop: a server keeps answering, a key unlock keeps going).
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
        if (batch.length) yield batch;
      } else for (const row of it) yield map(row);
    } catch (e) {
      throw mapSqliteError(e, what);
    } finally {
      conn?.close();
    }
  }

  /** Waits for a running transaction, then closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.mutex.acquire();
    try {
      if (this.closed) return;
      this.closed = true;
      await this.k.destroy(); // closes the reader
      if (this.reader.open) this.reader.close();
      this.writer?.close();
    } finally {
      this.mutex.release();
    }
  }
}

async function migrate(writer: Db): Promise<void> {
  const known = migrationNames("sqlite");
  let applied: string[] = [];
  try {
    applied = (writer.prepare(`SELECT name FROM ${MIGRATION_TABLE}`).all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
  } catch {
    // No migration table yet: a new database.
  }
  const unknown = applied.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new SigilError(
      ErrorCodes.STORE,
      `the database schema is newer than this Sigil (unknown migration ${unknown.join(", ")}); upgrade Sigil`,
    );
  }
  if (known.every((n) => applied.includes(n))) return;
  // Kysely's SQLite driver closes the database on destroy(), so this instance is left to GC.
  const k = new Kysely<SigilDatabase>({ dialect: new SqliteDialect({ database: writer }) });
  for (let attempt = 1; ; attempt++) {
    try {
      await migrateToLatest(k, "sqlite");
      return;
    } catch (e) {
      // Two processes migrating a new database at once: one loses the lock upgrade; retry.
      const busy = sqliteCode((e as { cause?: unknown }).cause)?.startsWith("SQLITE_BUSY") ?? false;
      if (!busy || attempt >= 5) throw e;
      await sleep(50 * attempt);
    }
  }
}

function prepareWriter(db: Db): WriterStatements {
  return {
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    insertCa: db.prepare(
      "INSERT INTO cas (name, parent_id, subject, cert_der, key_ref, key_type, serial_hex, not_before, " +
        "not_after, path_len, default_profile, crl_number, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    ),
    insertRequest: db.prepare(
      "INSERT INTO requests (channel, submitter, email, received_at, csr_der, subject, ca_name, profile, " +
        "state, reason, certificate_id, source, checks, decided_by, decided_at, reply_to, public_id) " +
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    ),
    insertCert: db.prepare(
      "INSERT INTO certificates (ca_id, serial_hex, subject, common_name, email, sans, profile, not_before, " +
        "not_after, der, fingerprint, status, revoked_at, revocation_reason, request_id, issued_at) " +
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    ),
    revokeCert: db.prepare(
      "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE id = ?",
    ),
    setCrlNumber: db.prepare("UPDATE cas SET crl_number = ? WHERE id = ?"),
    getHead: db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1"),
    getLastEvent: db.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"),
    insertAudit: db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)`),
    upsertHead: db.prepare(
      "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    ),
    insertOcspResponder: db.prepare(
      "INSERT INTO ocsp_responders (ca_id, cert_id, cert_der, key_ref, key_type, not_before, not_after, " +
        "created_at) VALUES (?,?,?,?,?,?,?,?)",
    ),
    putOcspResponse: db.prepare(
      "INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update) VALUES (?,?,?,?,?) " +
        "ON CONFLICT (cert_id) DO UPDATE SET der = excluded.der, this_update = excluded.this_update, " +
        "next_update = excluded.next_update",
    ),
    putCrl: db.prepare(
      "INSERT INTO crls (ca_id, crl_number, der, this_update, next_update) VALUES (?,?,?,?,?) " +
        "ON CONFLICT (ca_id) DO UPDATE SET crl_number = excluded.crl_number, der = excluded.der, " +
        "this_update = excluded.this_update, next_update = excluded.next_update " +
        "WHERE excluded.crl_number > crls.crl_number",
    ),
  };
}

function prepareReader(db: Db): ReaderStatements {
  return {
    getCa: db.prepare(`SELECT ${CA_COLUMNS} FROM cas WHERE name = ?`),
    getCaById: db.prepare(`SELECT ${CA_COLUMNS} FROM cas WHERE id = ?`),
    getCert: db.prepare(`SELECT ${CERT_COLUMNS} FROM certificates WHERE serial_hex = ? AND ca_id = ?`),
    getRequest: db.prepare(`SELECT ${REQUEST_COLUMNS} FROM requests WHERE id = ?`),
    countRevoked: db.prepare("SELECT count(*) AS n FROM certificates WHERE ca_id = ? AND status = 'revoked'"),
    auditHead: db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1"),
    currentOcspResponder: db.prepare(
      `SELECT ${RESPONDER_COLUMNS} FROM ocsp_responders WHERE ca_id = ? ORDER BY not_after DESC, id DESC LIMIT 1`,
    ),
    ocspLookup: db.prepare(
      `SELECT ${OCSP_ENTRY_COLUMNS} FROM certificates c LEFT JOIN ocsp_responses o ON o.cert_id = c.id ` +
        "WHERE c.serial_hex = ? AND c.ca_id = ?",
    ),
    ocspDue: db.prepare(
      `SELECT ${OCSP_ENTRY_COLUMNS} FROM ocsp_responses o JOIN certificates c ON c.id = o.cert_id ` +
        "WHERE o.next_update <= ? ORDER BY o.next_update LIMIT ?",
    ),
    ocspDueAfter: db.prepare(
      `SELECT ${OCSP_ENTRY_COLUMNS} FROM ocsp_responses o JOIN certificates c ON c.id = o.cert_id ` +
        "WHERE o.cert_id > ? AND o.next_update <= ? ORDER BY o.cert_id LIMIT ?",
    ),
    countOcspDue: db.prepare("SELECT count(*) AS n FROM ocsp_responses WHERE next_update <= ?"),
    // Prepared once: `db.pragma()` prepares a statement per call (the OCSP hot path asks often).
    dataVersion: db.prepare("PRAGMA data_version").pluck(),
    latestCrl: db.prepare(
      "SELECT ca_id, crl_number, der, this_update, next_update FROM crls WHERE ca_id = ?",
    ),
  };
}

/** Checks a database copy and reads what it holds (see {@link StoreSnapshot}). */
function describeSnapshot(file: string): StoreSnapshot {
  let db: Db | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok")
      throw new SigilError(ErrorCodes.STORE, `the database copy fails its integrity check: ${String(check)}`);
    const n = (q: string): number => (db!.prepare(q).pluck().get() as number | null) ?? 0;
    const head = db.prepare("SELECT seq, hash FROM audit_head WHERE id = 1").get() as
      { seq: number; hash: string } | undefined;
    const keys: StoreSnapshot["keys"] = [];
    for (const r of db.prepare("SELECT name, key_ref FROM cas ORDER BY id").all() as Array<{
      name: string;
      key_ref: string;
    }>)
      keys.push({ keyRef: r.key_ref, role: "ca", ca: r.name });
    // Each CA's current responder, as currentOcspResponder picks it (latest notAfter).
    for (const r of db
      .prepare(
        "SELECT c.name, r.key_ref FROM ocsp_responders r JOIN cas c ON c.id = r.ca_id WHERE r.id = " +
          "(SELECT r2.id FROM ocsp_responders r2 WHERE r2.ca_id = r.ca_id ORDER BY r2.not_after DESC, r2.id DESC LIMIT 1) " +
          "ORDER BY c.id",
      )
      .all() as Array<{ name: string; key_ref: string }>)
      keys.push({ keyRef: r.key_ref, role: "ocsp-responder", ca: r.name });
    return {
      kind: "sqlite",
      counts: {
        cas: n("SELECT count(*) FROM cas"),
        certificates: n("SELECT count(*) FROM certificates"),
        revoked: n("SELECT count(*) FROM certificates WHERE status = 'revoked'"),
        requests: n("SELECT count(*) FROM requests"),
        auditEvents: n("SELECT count(*) FROM audit_events"),
      },
      auditHead: head === undefined ? null : { seq: head.seq, hash: head.hash },
      keys,
    };
  } catch (e) {
    if (e instanceof SigilError) throw e;
    throw mapSqliteError(e, "read database copy");
  } finally {
    db?.close();
  }
}

/**
 * Opens the SQLite store at `path`: creates the file (mode 0600) if missing, sets
 * WAL / synchronous=NORMAL / foreign_keys / busy_timeout, and runs migrations. With
 * `readonly`, the file must exist and nothing is written.
 */
export async function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Promise<Store> {
  return SqliteStore.open(path, opts);
}
