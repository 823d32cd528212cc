/**
 * Job leases: with several `sigil serve` instances on one PostgreSQL database, each
 * background job runs on one of them at a time (the lease is in the database:
 * Store.tryLease).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Store } from "../store/types.js";

/** What {@link whileLeased} returns when another instance runs the job. */
export const NOT_HELD = Symbol("not held");

/** This process's name as a job lease holder (unique per `sigil serve` instance). */
export const LEASE_HOLDER = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/**
 * Runs `f` only if this instance holds (or now takes) the lease of job `name`. The lease is
 * renewed every third of `ttlMs` while `f` runs and kept afterwards, so the same instance
 * stays in charge until it stops (and releases it: {@link releaseLease}) or dies (and it
 * expires after `ttlMs`). Returns {@link NOT_HELD} when another instance holds it.
 */
export async function whileLeased<T>(
  store: Store,
  name: string,
  ttlMs: number,
  f: () => Promise<T>,
): Promise<T | typeof NOT_HELD> {
  if (!(await store.tryLease(name, LEASE_HOLDER, ttlMs))) return NOT_HELD;
  const renew = setInterval(() => {
    store.tryLease(name, LEASE_HOLDER, ttlMs).catch(() => undefined);
  }, ttlMs / 3);
  renew.unref();
  try {
    return await f();
  } finally {
    clearInterval(renew);
  }
}

/** Gives up this instance's lease of job `name` (at stop); errors are ignored. */
export async function releaseLease(store: Store, name: string): Promise<void> {
  await store.releaseLease(name, LEASE_HOLDER).catch(() => undefined);
}

/** A job's lease lifetime: three runs' worth, at least a minute. */
export const leaseTtl = (intervalMs: number): number => Math.max(60_000, 3 * intervalMs);
