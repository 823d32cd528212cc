/**
 * What `sigil status` says about the service's instances and job leases (issue 18): every
 * instance seen in the database, whether it still beats, and which jobs each runs. Ages are
 * judged by the lease clock (the database's on PostgreSQL), never by this host's.
 */
import type { Store } from "../store/types.js";

/** An instance as `GET /api/v1/admin/status` shows it. */
export interface InstanceView {
  name: string;
  /** The public listener's URL. */
  address: string;
  /** The admin API's addresses. */
  admin: string[];
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  /** Its last heartbeat (ISO 8601). */
  lastSeen: string;
  sealed: boolean;
  /** No heartbeat for three of its periods: the process died (or lost the database). */
  stale: boolean;
  /** The job leases it holds (unexpired), by name. */
  jobs: string[];
}

/** A job lease as `GET /api/v1/admin/status` shows it. */
export interface LeaseView {
  job: string;
  /** The holding process's id (host:pid:random). */
  holder: string;
  /** The instance that holds it, when its row says so; null: none seen. */
  instance: string | null;
  expiresAt: string;
  /** Past its expiry: the next instance to run the job takes it over. */
  expired: boolean;
}

/** Heartbeats an instance may miss before it counts as stale. */
export const STALE_HEARTBEATS = 3;

const iso = (ms: number) => new Date(ms).toISOString();

/** The instances and job leases recorded in `store`. */
export async function instancesStatus(
  store: Pick<Store, "instances" | "jobLeases" | "leaseClock">,
): Promise<{ instances: InstanceView[]; leases: LeaseView[] }> {
  const [rows, leases, now] = await Promise.all([store.instances(), store.jobLeases(), store.leaseClock()]);
  const byHolder = new Map(rows.map((r) => [r.holder, r.name]));
  const live = leases.filter((l) => l.expiresAt > now);
  return {
    instances: rows.map((r) => ({
      name: r.name,
      address: r.address,
      admin: r.admin,
      host: r.host,
      pid: r.pid,
      version: r.version,
      startedAt: iso(r.startedAt),
      lastSeen: iso(r.lastSeen),
      sealed: r.sealed,
      stale: now - r.lastSeen > STALE_HEARTBEATS * r.heartbeatMs,
      jobs: live.filter((l) => l.holder === r.holder).map((l) => l.name),
    })),
    leases: leases.map((l) => ({
      job: l.name,
      holder: l.holder,
      instance: byHolder.get(l.holder) ?? null,
      expiresAt: iso(l.expiresAt),
      expired: l.expiresAt <= now,
    })),
  };
}

/**
 * The name this instance records itself under: `wanted`, unless a live instance of another
 * process (not stale, and `running` by what this host can tell) already has it (a second
 * `sigil serve` on the same home and host, or two machines given one `serve.instanceName`);
 * then the first of `wanted-2`, `wanted-3`, ... that no live instance has, and `clash` names
 * the instance it met. `running(host, pid)` is asked of each recent row: false for a process
 * of this host that is gone (a run killed seconds ago, restarted), so its name is taken again.
 */
export async function claimInstanceName(
  store: Pick<Store, "instances" | "leaseClock">,
  wanted: string,
  holder: string,
  running: (host: string, pid: number) => boolean = () => true,
): Promise<{ name: string; clash?: { host: string; pid: number; address: string } }> {
  const [rows, now] = await Promise.all([store.instances(), store.leaseClock()]);
  const live = new Map(
    rows
      .filter(
        (r) =>
          r.holder !== holder &&
          now - r.lastSeen <= STALE_HEARTBEATS * r.heartbeatMs &&
          running(r.host, r.pid),
      )
      .map((r) => [r.name, r]),
  );
  const other = live.get(wanted);
  if (!other) return { name: wanted };
  let n = 2;
  while (live.has(`${wanted}-${n}`)) n++;
  return { name: `${wanted}-${n}`, clash: { host: other.host, pid: other.pid, address: other.address } };
}
