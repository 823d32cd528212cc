/**
 * Job leases: with several `sigil serve` instances on one PostgreSQL database, each
 * background job runs on one of them at a time (the lease is in the database:
 * Store.tryLease).
 *
 * The rule, for a job that runs every `interval`:
 * - its lease lives {@link leaseTtl}(interval) = three intervals, at least
 *   {@link MIN_LEASE_TTL_MS} (so a very short interval still leaves room for a slow
 *   database write);
 * - the holder renews it at the start of every run (so between runs it has at least two
 *   intervals to spare) and every third of its lifetime while a run lasts longer;
 * - a holder that dies (or is cut off from the database) stops renewing: its lease expires
 *   within three intervals of its last renewal, and the first instance to try then takes
 *   the job over, at its next run (so the job resumes within four intervals of the death);
 * - a holder that stops cleanly gives the lease up at once ({@link releaseLease}).
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
  if (!held) return NOT_HELD;
  const renew = setInterval(() => {
    store.tryLease(name, LEASE_HOLDER, ttlMs).then(
      (h) => watch?.(name, h),
      () => undefined,
    );
  }, ttlMs / 3);
  renew.unref();
  try {
    return await f();
  } finally {
    clearInterval(renew);
  }
}

/** Gives up this instance's lease of job `name` (at stop); errors are ignored. */
export async function releaseLease(store: Store, name: string, watch?: LeaseWatch): Promise<void> {
  await store.releaseLease(name, LEASE_HOLDER).then(
    () => watch?.(name, false),
    () => undefined,
  );
}

/** The shortest lease lifetime {@link leaseTtl} gives. */
export const MIN_LEASE_TTL_MS = 3000;

/** A job's lease lifetime: three runs' worth, at least {@link MIN_LEASE_TTL_MS}. */
export const leaseTtl = (intervalMs: number): number => Math.max(MIN_LEASE_TTL_MS, 3 * intervalMs);
