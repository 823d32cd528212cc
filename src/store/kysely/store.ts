/**
 * The one implementation of the {@link Store} contract, over Kysely, for both backends.
 * A backend (sqlite/, postgres/) gives only what truly differs: its connections, how a
 * write transaction begins and commits, streaming, change notification, the snapshot
 * tool, and (SQLite) prepared statements on the measured hot paths.
 */
import fs from "node:fs";
import { sql } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import type { Store, StoreSnapshot, StoreTx } from "../types.js";
import { acmeRecords, acmeTxRecords } from "./acme.js";
import { auditReads, auditWrites } from "./audit.js";
import { caReads, caWrites } from "./cas.js";
import { certReads, certWrites } from "./certs.js";
import { ended, type Ctx, type Db, type Dialect } from "./context.js";
import { instanceRecords } from "./instances.js";
import { jobReads, jobWrites, type LeaseWriter } from "./jobs.js";
import { mailReads, mailWrites } from "./mail.js";
import { ocspReads, ocspWrites } from "./ocsp.js";
import { requestReads, requestWrites } from "./requests.js";
import { serviceKeyReads, serviceKeyWrites } from "./service-keys.js";
import { tokenReads, tokenWrites } from "./tokens.js";

/** What a backend gives the shared store. */
export interface Backend extends Dialect, LeaseWriter {
  /** Kysely for reads of committed data (throws once the store is closed). */
  reader(): Db;
  /**
   * Runs `fn` in one write transaction on one connection: commits when it resolves, rolls
   * back when it throws (its error passes through unchanged).
   */
  transaction<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  dataVersion(): Promise<number>;
  snapshot(destPath: string): Promise<StoreSnapshot>;
  close(): Promise<void>;
  /** Reads the backend answers itself (hot paths). */
  readonly reads?: Partial<Store>;
  /** Writes the backend answers itself inside a transaction (hot paths). */
  writes?(c: Ctx): Partial<StoreTx>;
}

/** The transaction handle over `c` (valid while its transaction runs). */
function storeTx(c: Ctx, b: Backend): StoreTx {
  return {
    ...caWrites(c),
    ...certWrites(c),
    ...requestWrites(c),
    ...ocspWrites(c),
    ...mailWrites(c),
    ...tokenWrites(c),
    ...jobWrites(c),
    ...auditWrites(c),
    ...serviceKeyWrites(c),
    acme: acmeTxRecords(c),
    ...b.writes?.(c),
  };
}

/**
 * The store over backend `b`. The transaction methods are made once per store over the
 * running transaction's connection; each transaction gets its own handle (an object on
 * their prototype), refused once its transaction ended.
 */
export function kyselyStore(b: Backend): Store {
  const r: Ctx = {
    get db() {
      return b.reader();
    },
    dialect: b,
  };
  let current: { db: Db; handle: StoreTx } | undefined;
  const live = (handle: unknown) => current !== undefined && current.handle === handle;
  const proto = {};
  const shared: Ctx = {
    get db() {
      if (current === undefined) throw ended();
      return current.db;
    },
    dialect: b,
  };
  for (const [name, v] of Object.entries(storeTx(shared, b)))
    Object.defineProperty(
      proto,
      name,
      typeof v === "function"
        ? {
            value: function (this: unknown, ...args: unknown[]) {
              return live(this) ? v(...args) : Promise.reject(ended());
            },
          }
        : {
            get(this: unknown) {
              if (!live(this)) throw ended();
              return v;
            },
          },
    );
  // For writeState(): when the running transaction began, and how many wait for their turn.
  let runningSince: number | undefined;
  let waiting = 0;
  const transaction = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> => {
    waiting++;
    let started = false;
    const begun = () => {
      if (!started) waiting--;
      started = true;
    };
    return b
      .transaction(async (db) => {
        begun();
        const handle = Object.create(proto) as StoreTx;
        current = { db, handle };
        runningSince = performance.now();
        try {
          return await fn(handle);
        } finally {
          current = undefined;
          runningSince = undefined;
        }
      })
      .finally(begun); // a transaction that failed to begin waits no more
  };
  return {
    ...caReads(r),
    ...certReads(r),
    ...requestReads(r),
    ...ocspReads(r),
    ...mailReads(r),
    ...tokenReads(r),
    ...jobReads(r, b),
    ...instanceRecords(r, b),
    ...auditReads(r),
    ...serviceKeyReads(r),
    acme: acmeRecords(r, (fn) => transaction((tx) => fn(tx.acme))),
    transaction,
    writeState: () => ({ ...(runningSince !== undefined ? { since: runningSince } : {}), waiting }),
    dataVersion: () => b.dataVersion(),
    snapshot: (destPath) => b.snapshot(destPath),
    close: () => b.close(),
    ...b.reads,
  };
}

/** Creates the empty file (mode 0600) a snapshot is written into; one that exists is refused. */
export function createCopyFile(destPath: string): void {
  try {
    fs.closeSync(fs.openSync(destPath, "wx", 0o600));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      throw new SigilError(ErrorCodes.FILE_EXISTS, `${destPath} already exists`);
    throw e;
  }
}

/** What a database copy holds (see {@link StoreSnapshot}), read on `db` (the copy, or its snapshot). */
export async function describeCopy(db: Db, kind: StoreSnapshot["kind"]): Promise<StoreSnapshot> {
  const count = async (table: "cas" | "certificates" | "requests" | "audit_events", revoked = false) => {
    let q = db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n"));
    if (revoked) q = q.where(sql.ref("status"), "=", "revoked");
    return Number((await q.executeTakeFirst())?.n ?? 0);
  };
  const head = await db
    .selectFrom("audit_head")
    .select(["seq", "hash"])
    .where("id", "=", 1)
    .executeTakeFirst();
  const keys: StoreSnapshot["keys"] = [];
  for (const c of await db.selectFrom("cas").select(["name", "key_ref"]).orderBy("id").execute())
    keys.push({ keyRef: c.key_ref, role: "ca", ca: c.name });
  // Each CA's current responder, as currentOcspResponder picks it (latest notAfter).
  const responders = await sql<{ name: string; key_ref: string }>`
    SELECT c.name, r.key_ref FROM ocsp_responders r JOIN cas c ON c.id = r.ca_id WHERE r.id =
    (SELECT r2.id FROM ocsp_responders r2 WHERE r2.ca_id = r.ca_id ORDER BY r2.not_after DESC, r2.id DESC LIMIT 1)
    ORDER BY c.id`.execute(db);
  for (const c of responders.rows) keys.push({ keyRef: c.key_ref, role: "ocsp-responder", ca: c.name });
  // The audit signing key (the oldest: authority/audit-checkpoints.ts currentKey).
  const audit = await db
    .selectFrom("audit_keys")
    .select("key_ref")
    .orderBy("created_at")
    .orderBy("key_id")
    .limit(1)
    .executeTakeFirst();
  if (audit) keys.push({ keyRef: audit.key_ref, role: "audit", ca: "" });
  // A key kept in the database (`store:NAME`) is in the copy itself, when its row is.
  for (const k of keys) {
    if (!k.keyRef.startsWith("store:")) continue;
    const row = await db
      .selectFrom("service_keys")
      .select("name")
      .where("name", "=", k.keyRef.slice("store:".length))
      .executeTakeFirst();
    if (row) k.inCopy = true;
  }
  return {
    kind,
    counts: {
      cas: await count("cas"),
      certificates: await count("certificates"),
      revoked: await count("certificates", true),
      requests: await count("requests"),
      auditEvents: await count("audit_events"),
    },
    auditHead: head === undefined ? null : { seq: Number(head.seq), hash: head.hash },
    keys,
  };
}
