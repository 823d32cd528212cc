/**
 * The SQLite backend of the store, on better-sqlite3: only what SQLite does differently.
 * The queries are the shared ones (../kysely/).
 *
 * Two connections: a writer (transactions, migrations) and a read-only reader (every
 * `Store` read), so reads see committed data only, as with a PostgreSQL pool. Writes queue
 * behind an in-process mutex and take `BEGIN IMMEDIATE`, so concurrent processes queue on
 * the database's lock instead of failing. Streams (`revokedEntries`, `auditEvents`) each
 * open their own short-lived read-only connection: one consistent snapshot that never
 * blocks other queries. Both connections cache their prepared statements (Kysely would
 * prepare each query anew), and the measured hot paths (certificate insert, OCSP lookup,
 * audit append) run statements prepared once, skipping the query builder.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql, type SqliteDatabase } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import { appendChained, AUDIT_COLUMNS } from "../kysely/audit.js";
import { CERT_COLUMNS, insertCertWith } from "../kysely/certs.js";
import type { Ctx } from "../kysely/context.js";
import { ocspLookupQuery, toOcspEntry, type OcspEntryRow } from "../kysely/ocsp.js";
import { requestNotFound, requestPatchSet, requestRow } from "../kysely/requests.js";
import { createCopyFile, describeCopy, kyselyStore, type Backend } from "../kysely/store.js";
import { migrateToLatest, migrationNames, MIGRATION_TABLE } from "../migrations.js";
import type { SigilDatabase } from "../schema.js";
import type { Store, StoreSnapshot } from "../types.js";
import { AsyncMutex } from "../kysely/async-mutex.js";
import { scanAuditRanges } from "./audit-scan.js";
import { BUSY_TIMEOUT_MS, mapSqliteError, sqliteCode } from "./sqlite-errors.js";

/** Options for {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** Open without a writer: no migrations run and `transaction` throws. The file must exist. */
  readonly?: boolean;
}

/** A store on one SQLite file. */
export type SqliteStore = Store & { readonly path: string };

type Db = Database.Database;

function setPragmas(db: Db, writer: boolean): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  if (writer) {
    db.pragma("journal_mode = WAL");
    // FULL: every commit syncs the WAL before it returns, so what Sigil reports done (a
    // certificate handed out, an audit event a signed checkpoint covers and has sent out)
    // survives a power loss. NORMAL (the WAL default) syncs only at checkpoints: a crash of the
    // machine could lose the last commits, leaving issued certificates unknown to revocation
    // and the database behind a checkpoint already at the witness. About 0.2 ms per commit on
    // this project's test machine; issuance commits a whole batch at once.
    db.pragma("synchronous = FULL");
    // 64 MiB page cache (default 2 MiB): the serial index takes random inserts, and with a
    // million certificates its pages no longer fit the default cache (issuance slowed ~20%).
    db.pragma("cache_size = -65536");
  }
  db.pragma("foreign_keys = ON");
}

/** Kysely on `db`, with each statement prepared once per SQL text. Never closes `db`. */
function kyselyOn(db: Db): Kysely<SigilDatabase> {
  const cache = new Map<string, Database.Statement>();
  const database: SqliteDatabase = {
    close: () => undefined,
    prepare: (text) => {
      let s = cache.get(text);
      if (s === undefined) {
        if (cache.size >= 500) cache.clear(); // listings with varying shapes
        cache.set(text, (s = db.prepare(text)));
      }
      return s;
    },
  };
  return new Kysely<SigilDatabase>({ dialect: new SqliteDialect({ database }) });
}

/** A read-only connection of its own (streams, snapshots): never blocks the others. */
function ownReader(file: string): Db {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}

const REQUEST_COLUMNS = Object.keys(requestRow({ checks: [] } as never)) as Array<
  keyof ReturnType<typeof requestRow>
>;
const insertSql = (table: string, cols: readonly string[]) =>
  `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`;

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
  if (unknown.length > 0)
    throw new SigilError(
      ErrorCodes.STORE,
      `the database schema is newer than this Sigil (unknown migration ${unknown.join(", ")}); upgrade Sigil`,
    );
  if (known.every((n) => applied.includes(n))) return;
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrateToLatest(kyselyOn(writer), "sqlite");
    } catch (e) {
      // Two processes migrating a new database at once: one loses the lock upgrade; retry.
      const busy = sqliteCode((e as { cause?: unknown }).cause)?.startsWith("SQLITE_BUSY") ?? false;
      if (!busy || attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

/**
 * Opens the SQLite store at `path`: creates the file (mode 0600) if missing, sets
 * WAL / synchronous=FULL / foreign_keys / busy_timeout, and runs migrations. With
 * `readonly`, the file must exist and nothing is written.
 */
export async function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): Promise<SqliteStore> {
  if (path === "" || path === ":memory:")
    throw new SigilError(ErrorCodes.STORE, "the SQLite store needs a file path (not an in-memory database)");
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
  } catch (e) {
    reader?.close();
    writer?.close();
    if (e instanceof SigilError) throw e;
    if (sqliteCode(e) !== undefined) throw mapSqliteError(e, `open database ${path}`);
    const msg = e instanceof Error ? e.message : String(e);
    throw new SigilError(ErrorCodes.STORE, `open database ${path}: ${msg}`, { cause: e });
  }
  return Object.assign(kyselyStore(sqliteBackend(path, writer, reader)), { path });
}

function sqliteBackend(path: string, writer: Db | undefined, reader: Db): Backend {
  const mutex = new AsyncMutex();
  let closed = false;
  const r = kyselyOn(reader);
  const w = writer && kyselyOn(writer);
  const assertOpen = () => {
    if (closed) throw new SigilError(ErrorCodes.INTERNAL, "store is closed", { kind: "internal" });
  };
  const readOnly = () => new SigilError(ErrorCodes.STORE, "the store was opened read-only");
  const fail = mapSqliteError;
  /** Runs `f` on the writer under the mutex (the only writer of this process). */
  async function exclusive<T>(f: (w: Kysely<SigilDatabase>, raw: Db) => Promise<T>): Promise<T> {
    assertOpen();
    if (writer === undefined || w === undefined) throw readOnly();
    await mutex.acquire();
    try {
      assertOpen();
      return await f(w, writer);
    } finally {
      mutex.release();
    }
  }
  // Hot paths: statements prepared once (the query builder's compile skipped).
  const lookup = reader.prepare(ocspLookupQuery(r, 0, "").compile().sql);
  const version = reader.prepare("PRAGMA data_version").pluck();
  const hot = writer && {
    begin: writer.prepare("BEGIN IMMEDIATE"),
    commit: writer.prepare("COMMIT"),
    rollback: writer.prepare("ROLLBACK"),
    insertCert: writer.prepare(insertSql("certificates", CERT_COLUMNS)),
    insertAnswer: writer.prepare(
      insertSql("ocsp_responses", ["cert_id", "ca_id", "der", "this_update", "next_update"]),
    ),
    head: writer.prepare("SELECT seq, hash FROM audit_head WHERE id = 1"),
    lastEvent: writer.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"),
    insertEvent: writer.prepare(insertSql("audit_events", AUDIT_COLUMNS)),
    insertRequest: writer.prepare(insertSql("requests", REQUEST_COLUMNS)),
    /** UPDATE requests statements, one per set of patched columns. */
    updateRequest: new Map<string, Database.Statement>(),
    putHead: writer.prepare(
      "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    ),
  };
  const sync = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw fail(e, what);
    }
  };
  return {
    kind: "sqlite",
    fail,
    lock: async () => undefined, // BEGIN IMMEDIATE holds the database's write lock
    reader: () => (assertOpen(), r),
    async transaction(fn) {
      return exclusive(async (k, raw) => {
        sync("begin transaction", () => hot!.begin.run());
        let result;
        try {
          result = await fn(k);
        } catch (e) {
          rollbackQuietly(raw);
          throw e;
        }
        try {
          hot!.commit.run();
        } catch (e) {
          rollbackQuietly(raw);
          throw fail(e, "commit");
        }
        return result;
      });
    },
    write: (f) => exclusive((k) => f(k)),
    nowMs: () => sql<number>`${Date.now()}`,
    async *stream(what, q, arrays) {
      assertOpen();
      let conn: Db | undefined;
      try {
        conn = ownReader(path);
        conn.exec("BEGIN"); // one read transaction for the whole stream: a consistent snapshot
        let batch: never[] = [];
        for (const row of conn
          .prepare(q.sql)
          .raw(arrays === true)
          .iterate(...q.parameters)) {
          batch.push(row as never);
          if (batch.length >= 1024) {
            yield batch;
            batch = [];
            // Let timers and I/O run between batches (a server keeps answering).
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
        }
        if (batch.length) yield batch;
      } catch (e) {
        throw fail(e, what);
      } finally {
        conn?.close();
      }
    },
    dataVersion: async () => (assertOpen(), sync("read data version", () => version.get() as number)),
    snapshot: (destPath) => (assertOpen(), snapshot(path, destPath)),
    async close() {
      if (closed) return;
      await mutex.acquire();
      try {
        if (closed) return;
        closed = true;
        reader.close();
        writer?.close();
      } finally {
        mutex.release();
      }
    },
    reads: {
      auditRanges: (sizes, opts) => (assertOpen(), scanAuditRanges(path, sizes, opts)),
      ocspLookup: async (caId, serialHex) => {
        assertOpen();
        const row = sync("read OCSP answer", () => lookup.get(serialHex, caId) as OcspEntryRow | undefined);
        return row === undefined ? undefined : toOcspEntry(row);
      },
    },
    writes: (c: Ctx) => ({
      insertCert: (cert, ocsp) =>
        insertCertWith(c, cert, async (row) => {
          const id = Number(hot!.insertCert.run(...CERT_COLUMNS.map((k) => row[k])).lastInsertRowid);
          hot!.insertAnswer.run(
            id,
            cert.caId,
            ocsp?.der ?? null,
            ocsp?.thisUpdate ?? 0,
            ocsp?.nextUpdate ?? 0,
          );
          return id;
        }),
      // The issuing transaction inserts a request and marks it issued for every certificate.
      insertRequest: async (r) => {
        const row = requestRow(r);
        const id = sync("insert request", () =>
          Number(hot!.insertRequest.run(...REQUEST_COLUMNS.map((k) => row[k])).lastInsertRowid),
        );
        return { id, ...r, publicId: r.publicId ?? null };
      },
      updateRequest: async (id, patch) => {
        const set = requestPatchSet(patch);
        const cols = Object.keys(set) as Array<keyof typeof set>;
        if (cols.length === 0) return;
        const key = cols.join(",");
        let st = hot!.updateRequest.get(key);
        if (!st)
          hot!.updateRequest.set(
            key,
            (st = writer!.prepare(
              `UPDATE requests SET ${cols.map((k) => `${k} = ?`).join(", ")} WHERE id = ?`,
            )),
          );
        const changes = sync("update request", () => st.run(...cols.map((k) => set[k]), id).changes);
        if (changes === 0) throw requestNotFound(id);
      },
      appendAudit: (draft) =>
        appendChained(c, draft, {
          head: async () =>
            (hot!.head.get() ?? hot!.lastEvent.get()) as { seq: number; hash: string } | undefined,
          write: async (row, event) => {
            hot!.insertEvent.run(...AUDIT_COLUMNS.map((k) => row[k]));
            hot!.putHead.run(event.seq, event.hash);
          },
        }),
    }),
  };
}

function rollbackQuietly(db: Db): void {
  try {
    if (db.inTransaction) db.exec("ROLLBACK");
  } catch {
    // The connection already rolled back (e.g. after SQLITE_FULL); nothing to undo.
  }
}

/**
 * `VACUUM INTO destPath` on a fresh read-only connection: SQLite copies the database inside
 * one read transaction, so the copy is one consistent point in time and, in WAL mode,
 * writers (a running `sigil serve`) are never blocked. Unlike the page-by-page online
 * backup API it never restarts when another process commits meanwhile. The file is made
 * empty with mode 0600 first (VACUUM INTO accepts an empty file), then checked
 * (`PRAGMA quick_check`) and described from the copy itself.
 */
async function snapshot(path: string, destPath: string): Promise<StoreSnapshot> {
  createCopyFile(destPath);
  let conn: Db | undefined;
  try {
    conn = ownReader(path);
    conn.prepare("VACUUM INTO ?").run(destPath);
  } catch (e) {
    fs.rmSync(destPath, { force: true });
    throw mapSqliteError(e, "snapshot database");
  } finally {
    conn?.close();
  }
  const copy = new Database(destPath, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma("quick_check", { simple: true });
    if (check !== "ok")
      throw new SigilError(ErrorCodes.STORE, `the database copy fails its integrity check: ${String(check)}`);
    return await describeCopy(kyselyOn(copy), "sqlite");
  } catch (e) {
    throw mapSqliteError(e, "read database copy");
  } finally {
    copy.close();
  }
}
