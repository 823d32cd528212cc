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
import { availableParallelism, setPriority } from "node:os";
import Database from "better-sqlite3";
import { AuditRangeScan, partFails, partsInOrder, type AuditRangeSummary } from "../../audit/segment.js";
import { toStoredAuditEvent } from "../schema.js";
import {
  partQueue,
  runWorkers,
  takeParts,
  workerError,
  workerScript,
  type WorkerEnd,
} from "../../worker-script.js";
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
  /** The parts' queue (worker-script.ts partQueue): no part after one that fails is read. */
  shared: SharedArrayBuffer;
  /** The thread's CPU priority (nice), when it should lower its own. */
  nice?: number;
}

/** What a worker posts for each part (and then its end, or the error it stopped on). */
type PartMessage = { part: number; summary: AuditRangeSummary };

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

/** The body of a worker thread (audit-scan-worker.ts). */
export function runScanWorker(data: ScanWorkerData, post: (m: PartMessage | WorkerEnd) => void): void {
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
    takeParts(data.shared, data.parts.length, (i) => {
      const [after, upto] = data.parts[i]!;
      const summary = scanPart(rows, after, upto, data.sizes);
      post({ part: i, summary });
      return partFails(summary);
    });
    post({ done: true });
  } catch (e) {
    post(workerError(e));
  } finally {
    db?.close();
  }
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
  const script = workerScript(import.meta.url, "audit-scan-worker");
  const threads = Math.min(opts.threads ?? Math.min(availableParallelism(), 8), parts.length);
  if (script === undefined || threads < 1 || upto < (opts.minEventsForThreads ?? 50_000))
    return scanHere(path, parts, sizes);

  const data: ScanWorkerData = {
    path,
    sizes,
    parts,
    shared: partQueue(parts.length),
    ...(opts.background ? { nice: BACKGROUND_NICE } : {}),
  };
  const summaries: Array<AuditRangeSummary | undefined> = new Array(parts.length);
  try {
    await runWorkers<PartMessage>(script, threads, data, (m) => (summaries[m.part] = m.summary));
  } catch (e) {
    throw mapSqliteError(e, "read audit log");
  }
  return partsInOrder(summaries);
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
      if (partFails(summary)) break;
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
