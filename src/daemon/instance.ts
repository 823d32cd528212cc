/**
 * This instance in the shared database (store InstanceStore): the primary records its row
 * (name, addresses, process, version, sealed or not) once it listens, refreshes it every
 * {@link heartbeatMs}, rewrites it at each seal and unseal, and deletes it at a clean stop.
 * `sigil status` lists the rows (authority/instances.ts); a row not refreshed for three
 * heartbeats is an instance that died.
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { Logger } from "pino";
import type { Store } from "../store/types.js";
import { VERSION } from "../version.js";
import { LEASE_HOLDER } from "./leases.js";

/** Running heartbeats. */
export interface Heartbeat {
  /** The instance's name. */
  readonly name: string;
  /** Records the row again now (after a seal or an unseal). */
  beat(): Promise<void>;
  /** Stops beating and deletes the row. */
  stop(): Promise<void>;
}

/**
 * How often an instance refreshes its row. On a shared (PostgreSQL) database: every five
 * seconds, or each job interval if shorter, so that a dead instance shows within seconds.
 * On SQLite (one host): each job interval, as the job lease is renewed; every write there
 * makes the HTTP workers drop their caches (PRAGMA data_version), so it stays rare.
 */
export const heartbeatMs = (jobIntervalSeconds: number, shared: boolean): number =>
  shared ? Math.min(5000, jobIntervalSeconds * 1000) : jobIntervalSeconds * 1000;

/**
 * This instance's name: `configured` (config `serve.instanceName`), else the host name and
 * the first 8 hex digits of SHA-256 of the home folder's path (stable across restarts, and
 * distinct for two homes on one host).
 */
export function instanceName(configured: string | undefined, home: string): string {
  if (configured) return configured;
  return `${hostname()}-${createHash("sha256").update(home).digest("hex").slice(0, 8)}`;
}

/**
 * Starts the heartbeat of the instance `name` listening at `address` (public URL) and
 * `admin`. The first row is written before this resolves; later failures are logged once
 * per kind of error (the next beat retries).
 */
export async function startHeartbeat(
  store: Store,
  log: Logger,
  opts: { name: string; address: string; admin: string[]; periodMs: number; sealed: () => boolean },
): Promise<Heartbeat> {
  const startedAt = Date.now();
  let lastError: string | undefined;
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  const write = async (): Promise<void> => {
    if (stopped) return;
    try {
      await store.heartbeat({
        name: opts.name,
        holder: LEASE_HOLDER,
        address: opts.address,
        admin: opts.admin,
        pid: process.pid,
        host: hostname(),
        version: VERSION,
        startedAt,
        heartbeatMs: opts.periodMs,
        sealed: opts.sealed(),
      });
      lastError = undefined;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== lastError) log.error({ err: msg }, "instance heartbeat failed");
      lastError = msg;
    }
  };
  const beat = (): Promise<void> => (busy = busy.then(write));
  await beat();
  const timer = setInterval(() => void beat(), opts.periodMs);
  timer.unref();
  return {
    name: opts.name,
    beat,
    async stop() {
      clearInterval(timer);
      await busy;
      stopped = true;
      await store
        .removeInstance(opts.name, LEASE_HOLDER)
        .catch((e: unknown) => log.error({ err: (e as Error).message }, "removing the instance row failed"));
    },
  };
}
