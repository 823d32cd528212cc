/**
 * The audit log read in parallel (the store's `auditRanges`, SQLite only): the events
 * 1..N (N the last seq when the read starts; the log only grows) are cut into parts of
 * consecutive seqs, and worker threads, one per core, each with its own read-only
 * connection, take the parts from a shared counter and verify each on their own
 * (audit/segment.ts). The summaries come back in seq order; log-verify.ts joins them into
 * the verdict one walk over the log gives. Measured on 1,000,007 events: reading the rows
 * and hashing them is almost all of `sigil audit verify`'s time, and both split evenly.
 *
 * A small log, or a build without the worker's file, is read the same way on the calling
 * thread (one part after another, yielding between parts).
 */
import { existsSync } from "node:fs";
import { availableParallelism, setPriority } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { AuditRangeScan, type AuditRangeSummary } from "../../audit/segment.js";
import { toStoredAuditEvent } from "../schema.js";
import { BUSY_TIMEOUT_MS, mapSqliteError } from "./sqlite-errors.js";

/** Options of {@link scanAuditRanges} (tests force the workers on small logs). */
export interface AuditScanOptions {
  /** Events per part (default 32,768). */
  partSize?: number;
  /** Worker threads (default: one per core, at most 8); 0: read on the calling thread. */
  threads?: number;
  /** Logs with fewer events are read on the calling thread (default 50,000). */
  minEventsForThreads?: number;
  /**
   * The worker threads run at nice {@link BACKGROUND_NICE} (Linux applies a thread's own
   * priority to that thread only): `sigil serve` checks the whole log before its first
   * checkpoint, and at a million events that read took both cores for seconds from the OCSP
   * workers (a third of their rate, measured). Idle cores are still used in full.
   */
  background?: boolean;
}

/** The CPU priority of a background read's threads: the lowest. */
export const BACKGROUND_NICE = 19;

/** What a worker is given. */
export interface ScanWorkerData {
  path: string;
  sizes: readonly number[];
  parts: ReadonlyArray<readonly [number, number]>;
  /** Int32 [next part to take, last part worth reading (after a part that fails)]. */
  shared: SharedArrayBuffer;
  /** The thread's CPU priority (nice), when it should lower its own. */
  nice?: number;
}

/** What a worker posts: a part's summary, its end, or the error it stopped on. */
type ScanMessage =
  | { part: number; summary: AuditRangeSummary }
  | { done: true }
  | { error: { message: string; code?: string } };

const ROWS_SQL =
  "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq";

/** A read-only connection of its own. */
function openReader(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  return db;
}

/**
 * Events per read: `all()` over a page of seqs costs less per row than `iterate()` (one call
 * into SQLite per page instead of one per row; measured about a fifth less read time).
 */
const EVENTS_PER_READ = 512;

/** Verifies the part (after, upto] with `rows` (the prepared ROWS_SQL, raw). */
function scanPart(
  rows: Database.Statement,
  after: number,
  upto: number,
  sizes: readonly number[],
): AuditRangeSummary {
  const scan = new AuditRangeScan(after, upto, sizes);
  for (let from = after; from < upto; from += EVENTS_PER_READ) {
    const page = rows.all(from, Math.min(upto, from + EVENTS_PER_READ)) as unknown[][];
    for (const r of page) {
      if (!scan.add(toStoredAuditEvent(r))) return scan.summary();
    }
  }
  return scan.summary();
}

/** True when a part's summary means the verdict fails there: no later part is needed. */
const fails = (s: AuditRangeSummary) =>
  s.bad !== undefined || (s.first !== undefined && s.last === undefined);

/** The body of a worker thread (audit-scan-worker.ts). */
export function runScanWorker(data: ScanWorkerData, post: (m: ScanMessage) => void): void {
  let db: Database.Database | undefined;
  if (data.nice !== undefined)
    try {
      setPriority(data.nice);
    } catch {
      // Not allowed here (a container's seccomp policy): read at the normal priority.
    }
  try {
    db = openReader(data.path);
    db.exec("BEGIN");
    const rows = db.prepare(ROWS_SQL).raw(true);
    const shared = new Int32Array(data.shared);
    for (;;) {
      const i = Atomics.add(shared, 0, 1);
      if (i >= data.parts.length || i > Atomics.load(shared, 1)) break;
      const [after, upto] = data.parts[i]!;
      const summary = scanPart(rows, after, upto, data.sizes);
      if (fails(summary)) {
        // Lower the last part worth reading to this one.
        for (let cur = Atomics.load(shared, 1); i < cur; cur = Atomics.load(shared, 1))
          if (Atomics.compareExchange(shared, 1, cur, i) === cur) break;
      }
      post({ part: i, summary });
    }
    post({ done: true });
  } catch (e) {
    const err = e as { message?: string; code?: unknown };
    post({
      error: {
        message: String(err?.message ?? e),
        ...(typeof err?.code === "string" ? { code: err.code } : {}),
      },
    });
  } finally {
    db?.close();
  }
}

/** The worker's script: the built file next to this chunk, or, running from source (tsx), the .ts through tsx. */
function workerScript(): { script: string | URL; eval: boolean } | undefined {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const ts = new URL("./audit-scan-worker.ts", here).href;
    const tsx = import.meta.resolve("tsx/esm/api");
    return {
      script: `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(ts)}); })`,
      eval: true,
    };
  }
  const js = new URL("./audit-scan-worker.js", here);
  return existsSync(fileURLToPath(js)) ? { script: js, eval: false } : undefined;
}

/**
 * Verifies the audit log of the SQLite file `path` in parts (see the top of this file):
 * the parts' summaries in seq order, up to the first that fails. `sizes`: the checkpoint
 * sizes whose Merkle roots the join checks.
 */
export async function scanAuditRanges(
  path: string,
  sizes: readonly number[],
  opts: AuditScanOptions = {},
): Promise<AuditRangeSummary[]> {
  let upto: number;
  {
    const db = openReader(path);
    try {
      upto = Number((db.prepare("SELECT max(seq) FROM audit_events").pluck().get() as number | null) ?? 0);
    } catch (e) {
      throw mapSqliteError(e, "read audit log");
    } finally {
      db.close();
    }
  }
  if (!(upto > 0)) return [];
  const partSize = opts.partSize ?? 32_768;
  const parts: Array<[number, number]> = [];
  for (let after = 0; after < upto; after += partSize) parts.push([after, Math.min(upto, after + partSize)]);
  const script = workerScript();
  const threads = Math.min(opts.threads ?? Math.min(availableParallelism(), 8), parts.length);
  if (script === undefined || threads < 1 || upto < (opts.minEventsForThreads ?? 50_000))
    return scanHere(path, parts, sizes);

  const shared = new SharedArrayBuffer(8);
  new Int32Array(shared)[1] = parts.length;
  const data: ScanWorkerData = {
    path,
    sizes,
    parts,
    shared,
    ...(opts.background ? { nice: BACKGROUND_NICE } : {}),
  };
  const summaries: Array<AuditRangeSummary | undefined> = new Array(parts.length);
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads;
      for (let t = 0; t < threads; t++) {
        const w = new Worker(script.script, { eval: script.eval, workerData: data });
        workers.push(w);
        w.on("message", (m: ScanMessage) => {
          if ("part" in m) summaries[m.part] = m.summary;
          else if ("error" in m)
            reject(
              mapSqliteError(
                Object.assign(new Error(m.error.message), { code: m.error.code }),
                "read audit log",
              ),
            );
          else if (--running === 0) resolve();
        });
        w.on("error", (e) => reject(mapSqliteError(e, "read audit log")));
        w.on("exit", (code) => {
          if (code !== 0)
            reject(mapSqliteError(new Error(`audit log reader exited with code ${code}`), "read audit log"));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return inOrder(summaries);
}

/** The summaries up to the first part not read; a part is left unread only after one that fails. */
function inOrder(summaries: ReadonlyArray<AuditRangeSummary | undefined>): AuditRangeSummary[] {
  const out: AuditRangeSummary[] = [];
  for (const s of summaries) {
    if (s === undefined) {
      if (!out.some(fails)) throw new Error("audit log read: a part was not read");
      break;
    }
    out.push(s);
  }
  return out;
}

/** The same, on the calling thread. */
async function scanHere(
  path: string,
  parts: ReadonlyArray<readonly [number, number]>,
  sizes: readonly number[],
): Promise<AuditRangeSummary[]> {
  const db = openReader(path);
  const out: AuditRangeSummary[] = [];
  try {
    db.exec("BEGIN");
    const rows = db.prepare(ROWS_SQL).raw(true);
    for (const [after, upto] of parts) {
      const summary = scanPart(rows, after, upto, sizes);
      out.push(summary);
      if (fails(summary)) break;
      // Let timers and I/O run between parts (a server keeps answering).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    throw mapSqliteError(e, "read audit log");
  } finally {
    db.close();
  }
  return out;
}
