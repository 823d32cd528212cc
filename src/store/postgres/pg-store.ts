/** The PostgreSQL backend of the store, on node-postgres (`pg`) 8: only what PostgreSQL does differently (see {@link PgBackend}). */
import fs from "node:fs";
import { spawnSync } from "node:child_process";
import pg from "pg";
import { Kysely, PostgresDialect, sql } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import { appendChained, AUDIT_COLUMNS, AUDIT_LOCK_KEY } from "../kysely/audit.js";
import { CERT_COLUMNS, insertCertWith } from "../kysely/certs.js";
import { ended, type Ctx, type Db } from "../kysely/context.js";
import { createCopyFile, describeCopy, kyselyStore, type Backend } from "../kysely/store.js";
import { migrateToLatest } from "../migrations.js";
import type { SigilDatabase } from "../schema.js";
import type { Store, StoreSnapshot, StoreTx } from "../types.js";
import { AsyncMutex } from "../kysely/async-mutex.js";
import { mapPgError, redactDatabaseUrl } from "./pg-errors.js";

/** Options for {@link openPgStore}. */
export interface PgStoreOptions {
  /** No migrations; every connection is read-only and `transaction` throws. */
  readonly?: boolean;
  /** Largest number of pooled connections (default 10). */
  poolSize?: number;
}

/** A store on a PostgreSQL database; `where` is its URL without the password. */
export type PgStore = Store & { readonly where: string };

/** The channel write transactions notify on. */
export const CHANGE_CHANNEL = "sigil_changes";
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

/** The certificate and its OCSP row in one statement (CTE): one round trip. */
const INSERT_CERT =
  `WITH c AS (INSERT INTO certificates (${CERT_COLUMNS.join(", ")}) ` +
  `VALUES (${CERT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id, ca_id), ` +
  "o AS (INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update) " +
  "SELECT id, ca_id, $17, $18, $19 FROM c) SELECT id FROM c";
/** The recorded head, else the last event. */
const AUDIT_HEAD =
  "SELECT seq, hash FROM (SELECT 0 AS o, seq, hash FROM audit_head WHERE id = 1 UNION ALL " +
  "(SELECT 1, seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1)) h ORDER BY o LIMIT 1";
/** The event and the head in one statement. */
const AUDIT_INSERT =
  `WITH e AS (INSERT INTO audit_events (${AUDIT_COLUMNS.join(", ")}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)) ` +
  "INSERT INTO audit_head (id, seq, hash) VALUES (1, $1, $8) " +
  "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Opens the PostgreSQL store at `url` (`postgres://user[:password]@host[:port]/db`; libpq's
 * PGPASSWORD and ~/.pgpass also work): connects, and unless read-only runs migrations
 * (Kysely takes an advisory lock, so instances starting together migrate once).
 */
export async function openPgStore(url: string, opts: PgStoreOptions = {}): Promise<PgStore> {
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
    // Kysely ends the pool only once it has used it; the checks above used it directly, and
    // an idle client left in it would keep the process alive for idleTimeoutMillis.
    if (!pool.ended) await pool.end().catch(() => undefined);
    if (e instanceof SigilError) {
      // Kysely's migration error wraps the pg error: name the database, keep its message.
      if (e.cause !== undefined && !e.message.includes(where) && e.message.startsWith("database migration"))
        throw new SigilError(ErrorCodes.STORE, `${where}: ${e.message}`, { kind: e.kind, cause: e.cause });
      throw e;
    }
    throw mapPgError(e, "open database", where);
  }
  const store = kyselyStore(new PgBackend(url, where, pool, k, opts.readonly === true));
  return Object.assign(store, { where });
}

/**
 * What PostgreSQL does differently. Reads go straight to the pool (READ COMMITTED).
 * Several processes or `sigil serve` instances may share one database; what must not race
 * between them is made safe by the database itself, never by this process: advisory locks
 * (audit appends, admin token creations), row locks (`UPDATE ... RETURNING` for CRL
 * numbers, `SELECT ... FOR UPDATE` for request decisions), single conditional UPDATEs,
 * UNIQUE constraints, and job leases timed by the database's clock.
 *
 * Within one store, write transactions still queue in call order (a FIFO), as on SQLite:
 * that keeps the contract's ordering and bounds the pool; it is not what makes them safe.
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
class PgBackend implements Backend {
  readonly kind = "postgres" as const;
  private readonly queue = new AsyncMutex();
  private closed = false;
  /** Local change counter behind {@link PgBackend.dataVersion}. */
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

  constructor(
    private readonly url: string,
    private readonly where: string,
    private readonly pool: pg.Pool,
    private readonly k: Kysely<SigilDatabase>,
    private readonly readonly: boolean,
  ) {}

  fail = (e: unknown, what: string): SigilError => mapPgError(e, what, this.where);

  /** The client of the running transaction (transactions of one store run one at a time). */
  private client: pg.PoolClient | undefined;
  /** Kysely on the running transaction's client: its "pool" hands out that one connection. */
  private readonly txKysely = new Kysely<SigilDatabase>({
    dialect: new PostgresDialect({
      pool: {
        connect: async () => ({
          query: (...a: unknown[]) => this.tx("query", ...a),
          release: () => undefined,
        }),
        end: async () => undefined,
      } as unknown as pg.Pool,
    }),
  });

  /** Calls the running transaction's client. */
  private tx(method: "query", ...args: unknown[]): unknown {
    if (this.client === undefined) throw ended();
    return (this.client[method] as (...a: unknown[]) => unknown)(...args);
  }

  /** A named (per-connection prepared) statement of the running transaction: the hot paths. */
  private async named<R extends pg.QueryResultRow>(name: string, text: string, values: unknown[] = []) {
    return (await this.tx("query", { name, text, values })) as pg.QueryResult<R>;
  }

  /** Hot paths: one or two named statements instead of the shared queries' several. */
  writes = (c: Ctx): Partial<StoreTx> => ({
    insertCert: (cert, ocsp) =>
      insertCertWith(c, cert, async (row) => {
        const values = [
          ...CERT_COLUMNS.map((k) => row[k]),
          ocsp?.der ?? null,
          ocsp?.thisUpdate ?? 0,
          ocsp?.nextUpdate ?? 0,
        ];
        return (await this.named<{ id: number }>("sigil_insert_cert", INSERT_CERT, values)).rows[0]!.id;
      }),
    appendAudit: (draft) =>
      appendChained(c, draft, {
        head: async () => {
          // Serializes appends across every connection until COMMIT; the head read after it
          // sees the previous appender's commit (READ COMMITTED: a snapshot per statement).
          await this.named("sigil_audit_lock", "SELECT pg_advisory_xact_lock($1)", [AUDIT_LOCK_KEY]);
          return (await this.named<{ seq: number; hash: string }>("sigil_audit_head", AUDIT_HEAD)).rows[0];
        },
        write: async (row) => {
          await this.named(
            "sigil_audit_insert",
            AUDIT_INSERT,
            AUDIT_COLUMNS.map((k) => row[k]),
          );
        },
      }),
  });

  async lock(db: Db, key: number): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${key})`.execute(db);
  }

  reader(): Db {
    this.assertOpen();
    return this.k;
  }

  /** The database's clock in epoch milliseconds (job leases are timed by it, not by each host's). */
  nowMs() {
    return sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
  }

  async write<T>(f: (db: Db) => Promise<T>): Promise<T> {
    if (this.readonly) throw new SigilError(ErrorCodes.STORE, "the store was opened read-only");
    return f(this.reader());
  }

  private assertOpen(): void {
    if (this.closed) throw new SigilError(ErrorCodes.INTERNAL, "store is closed", { kind: "internal" });
  }

  /**
   * Runs `fn` between BEGIN and COMMIT on one connection (READ COMMITTED, with the row and
   * advisory locks described above). Notifies the other instances with the COMMIT.
   */
  async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> {
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
        broken = asError(e);
        throw this.fail(e, "begin transaction");
      }
      const c = (this.client = client);
      let result: T;
      try {
        result = await fn(this.txKysely);
      } catch (e) {
        await c.query("ROLLBACK").catch((err: unknown) => (broken = asError(err)));
        throw e;
      }
      try {
        // One round trip; the notification is delivered only if the COMMIT succeeds.
        await c.query(`NOTIFY ${CHANGE_CHANNEL}; COMMIT`);
      } catch (e) {
        await c.query("ROLLBACK").catch((err: unknown) => (broken = asError(err)));
        throw this.fail(e, "commit");
      }
      this.version++;
      return result;
    } finally {
      this.client = undefined;
      client?.release(broken);
      this.queue.release();
    }
  }

  /**
   * Streams rows in batches of 1024 through a server-side cursor, on one pooled connection
   * in a REPEATABLE READ READ ONLY transaction (one consistent snapshot). Breaking out
   * early closes the cursor and returns the connection.
   */
  async *stream<R>(
    what: string,
    q: { sql: string; parameters: readonly unknown[] },
    arrays?: boolean,
  ): AsyncGenerator<R[]> {
    this.assertOpen();
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await this.pool.connect();
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      await client.query({
        text: `DECLARE sigil_stream NO SCROLL CURSOR FOR ${q.sql}`,
        values: [...q.parameters],
      });
      for (;;) {
        const res = await client.query({
          text: "FETCH 1024 FROM sigil_stream",
          ...(arrays ? { rowMode: "array" as const } : {}),
        });
        if (res.rows.length === 0) break;
        yield res.rows as R[];
        if (res.rows.length < 1024) break;
      }
    } catch (e) {
      broken = asError(e);
      throw this.fail(e, what);
    } finally {
      if (client !== undefined) {
        if (broken === undefined) await client.query("ROLLBACK").catch((e: unknown) => (broken = asError(e)));
        client.release(broken);
      }
    }
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

  /**
   * A consistent online copy (pg_dump, custom format) at `destPath`: one REPEATABLE READ
   * transaction exports its snapshot, pg_dump dumps exactly that snapshot (`--snapshot`),
   * and the counts, audit head and key list are read in the same snapshot.
   */
  async snapshot(destPath: string): Promise<StoreSnapshot> {
    if (this.closed) throw new SigilError(ErrorCodes.STORE, "the store is closed");
    createCopyFile(destPath);
    try {
      return await this.k.connection().execute(async (db) => {
        await sql`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`.execute(db);
        try {
          const id = (await sql<{ id: string }>`SELECT pg_export_snapshot() AS id`.execute(db)).rows[0]!.id;
          const described = await describeCopy(db, "postgres");
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
          return described;
        } finally {
          await sql`ROLLBACK`.execute(db).catch(() => undefined);
        }
      });
    } catch (e) {
      fs.rmSync(destPath, { force: true });
      throw this.fail(e, "snapshot database");
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

/**
 * Restores a pg_dump archive (a PostgreSQL backup's database member) into the database at
 * `url` with pg_restore, in one transaction. That database must hold no Sigil tables unless
 * `force` (then they are dropped first).
 */
export async function restorePgDump(url: string, dump: string, force: boolean): Promise<void> {
  const where = redactDatabaseUrl(url);
  const client = new pg.Client({ connectionString: url });
  let holds = false;
  try {
    await client.connect();
    holds =
      (await client.query<{ t: string | null }>("SELECT to_regclass('public.cas')::text AS t")).rows[0]?.t !=
      null;
  } catch (e) {
    throw new SigilError(
      ErrorCodes.STORE,
      `cannot reach the database at ${where}: ${(e as Error).message.replaceAll(url, where)}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  if (holds && !force)
    throw new SigilError(
      ErrorCodes.FILE_EXISTS,
      `the database at ${where} already holds Sigil data: restore into an empty database, or use --force to replace it`,
    );
  const env = libpqEnv(url);
  const r = spawnSync(
    "pg_restore",
    [
      "--no-owner",
      "--no-privileges",
      "--exit-on-error",
      "--single-transaction",
      ...(holds ? ["--clean", "--if-exists"] : []),
      `--dbname=${env.PGDATABASE ?? ""}`,
      dump,
    ],
    { env: { ...process.env, ...env }, encoding: "utf8" },
  );
  if (r.error || r.status !== 0)
    throw new SigilError(
      ErrorCodes.STORE,
      `pg_restore into ${where} failed: ${(r.error?.message ?? r.stderr ?? "").split("\n")[0]}; nothing restored`,
    );
}
