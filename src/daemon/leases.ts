/**
 * Job leases: with several `sigil serve` instances on one PostgreSQL database, each
 * background job runs on one of them at a time (the lease is in the database:
 * Store.tryLease).
 *
 * The rule, for a job that runs every `interval`:
 * - its lease lives {@link leaseTtl}: three intervals, at least {@link MIN_LEASE_TTL_MS} (so
 *   a very short interval still leaves room for a slow database write), and on a database
 *   that several hosts share (PostgreSQL) at most {@link MAX_SHARED_LEASE_TTL_MS};
 * - the holder renews it at the start of every run, and keeps it alive every third of its
 *   lifetime from then on, between runs as during them, for as long as it lives (so it
 *   stays in charge: the job keeps its one rhythm);
 * - a holder that dies (or is cut off from the database, or blocks) stops renewing: its
 *   lease expires within one lifetime, and the first instance to try then takes the job
 *   over, at its next run. On PostgreSQL a job every minute resumes within about 75 s of a
 *   `kill -9`, a daily one at the survivor's next daily run, instead of after three
 *   intervals;
 * - a holder that stops cleanly gives the lease up at once ({@link releaseLease}), and so
 *   does one that can no longer do the job (sealed).
 * Expiry is judged by the database's clock (PostgreSQL), never by each host's.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { JobMetrics } from "../http/metrics.js";
import type { Store } from "../store/types.js";

/** What {@link whileLeased} returns when another instance runs the job. */
export const NOT_HELD = Symbol("not held");

/** This process's name as a job lease holder (unique per `sigil serve` instance). */
export const LEASE_HOLDER = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/** Told whether this process holds a lease, each time that is learnt (for `/metrics`). */
export type LeaseWatch = (name: string, held: boolean) => void;

/** A {@link LeaseWatch} that keeps the `sigil_job_lease_held{job=NAME}` gauge. */
export const leaseGauge =
  (jm: Pick<JobMetrics, "leaseHeld">): LeaseWatch =>
  (name, held) =>
    jm.leaseHeld.set({ job: name }, held ? 1 : 0);

/**
 * Runs `f` only if this instance holds (or now takes) the lease of job `name`. The lease is
 * renewed every third of `ttlMs` while `f` runs and kept afterwards, so the same instance
 * stays in charge until it stops (and releases it: {@link releaseLease}) or dies (and it
 * expires after `ttlMs`). Returns {@link NOT_HELD} when another instance holds it.
 * `watch` is told whether the lease is held after each attempt and renewal.
 */
export async function whileLeased<T>(
  store: Store,
  name: string,
  ttlMs: number,
  f: () => Promise<T>,
  watch?: LeaseWatch,
): Promise<T | typeof NOT_HELD> {
  const held = await store.tryLease(name, LEASE_HOLDER, ttlMs);
  watch?.(name, held);
  if (!held) {
    stopKeeping(name);
    return NOT_HELD;
  }
  keepAlive(store, name, ttlMs, watch);
  return f();
}

/** The leases this process holds, each with the timer that keeps it alive. */
const kept = new Map<string, { timer: NodeJS.Timeout; ttlMs: number }>();

/** Renews lease `name` every third of `ttlMs` until it is lost or released. */
function keepAlive(store: Store, name: string, ttlMs: number, watch?: LeaseWatch): void {
  const k = kept.get(name);
  if (k?.ttlMs === ttlMs) return;
  if (k) clearInterval(k.timer);
  const timer = setInterval(() => {
    store.tryLease(name, LEASE_HOLDER, ttlMs).then(
      (h) => {
        watch?.(name, h);
        // Taken over (this instance was cut off for longer than the lifetime): stop.
        if (!h) stopKeeping(name);
      },
      () => undefined, // the database is away: the next renewal tries again
    );
  }, ttlMs / 3);
  timer.unref();
  kept.set(name, { timer, ttlMs });
}

function stopKeeping(name: string): void {
  const k = kept.get(name);
  if (k) clearInterval(k.timer);
  kept.delete(name);
}

/** True while this process holds (and keeps alive) the lease of job `name`. */
export const holdsLease = (name: string): boolean => kept.has(name);

/** Gives up this instance's lease of job `name` (at stop, or sealed); errors are ignored. */
export async function releaseLease(store: Store, name: string, watch?: LeaseWatch): Promise<void> {
  stopKeeping(name);
  await store.releaseLease(name, LEASE_HOLDER).then(
    () => watch?.(name, false),
    () => undefined,
  );
}

/** The shortest lease lifetime {@link leaseTtl} gives. */
export const MIN_LEASE_TTL_MS = 3000;

/**
 * The longest lease lifetime on a database several hosts share: how long a dead holder's
 * jobs wait at most, on top of the survivor's next run. Its holder writes its lease every
 * third of it (5 s), as the heartbeat does (instance.ts).
 */
export const MAX_SHARED_LEASE_TTL_MS = 15_000;

/**
 * A job's lease lifetime: three runs' worth, at least {@link MIN_LEASE_TTL_MS}; with
 * `shared` (PostgreSQL), at most {@link MAX_SHARED_LEASE_TTL_MS}. On SQLite (one host) it
 * stays three intervals: every write there makes each serving process drop its OCSP answer
 * cache (PRAGMA data_version), so leases are renewed no more often than the jobs run.
 */
export const leaseTtl = (intervalMs: number, shared: boolean): number =>
  Math.max(MIN_LEASE_TTL_MS, shared ? Math.min(3 * intervalMs, MAX_SHARED_LEASE_TTL_MS) : 3 * intervalMs);
