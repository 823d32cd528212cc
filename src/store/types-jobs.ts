/**
 * Store contracts of the background jobs (marks and leases) and of the service's instances.
 * Exported with the others from types.ts.
 */

/** Background jobs: named marks and leases. */
export interface JobStore {
  /** A named mark, if set. */
  getJobMark(name: string): Promise<{ value: string; at: number } | undefined>;
  /**
   * Takes or renews the lease of background job `name` for `holder` (an instance id) for
   * `ttlMs`: true when `holder` now holds it (it was free, expired, or already its own);
   * false while another holder's lease runs. Jobs run only while their lease is held.
   */
  tryLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives up `holder`'s lease of job `name` (no-op when another holds it). */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Every job lease recorded (expired ones too, until taken or released), by name. */
  jobLeases(): Promise<JobLeaseRecord[]>;
  /**
   * Now, in epoch ms, by the clock that times leases and heartbeats (PostgreSQL: the
   * database's, shared by every host; SQLite: this host's).
   */
  leaseClock(): Promise<number>;
}

/**
 * A `sigil serve` instance as seen in the database: the row its primary process writes at
 * start and at every heartbeat (daemon/instance.ts), and deletes at a clean stop.
 */
export interface InstanceRecord {
  /** A name stable across restarts (config `serve.instanceName`, else host and home). */
  name: string;
  /** The running process's job lease holder id (daemon/leases.ts LEASE_HOLDER). */
  holder: string;
  /** The public listener's URL (`http://HOST:PORT`). */
  address: string;
  /** The admin API's addresses (`unix:PATH`, `https://HOST:PORT`). */
  admin: string[];
  pid: number;
  /** The host name of the machine it runs on. */
  host: string;
  /** Sigil's version. */
  version: string;
  /** When the process started (epoch ms, by its host's clock). */
  startedAt: number;
  /** Its last heartbeat (epoch ms, by {@link JobStore.leaseClock}). */
  lastSeen: number;
  /** How often it beats (ms): a row not seen for three of them is stale (the process died). */
  heartbeatMs: number;
  /** Whether its keys are sealed. */
  sealed: boolean;
}

/**
 * The instances of the service seen in the shared database. Written outside transactions,
 * like leases, with `lastSeen` set by the lease clock.
 */
export interface InstanceStore {
  /** Records instance `i` (a new row, or its row refreshed), seen now. */
  heartbeat(i: Omit<InstanceRecord, "lastSeen">): Promise<void>;
  /** Deletes instance `name`'s row if process `holder` wrote it last (a clean stop). */
  removeInstance(name: string, holder: string): Promise<void>;
  /** Every instance recorded, by name. */
  instances(): Promise<InstanceRecord[]>;
}

/** A background job's lease as stored (store/kysely/jobs.ts), timed by the lease clock. */
export interface JobLeaseRecord {
  /** The job (`serve.jobs`, `serve.outbox`, ...). */
  name: string;
  /** The holding process (daemon/leases.ts LEASE_HOLDER; {@link InstanceRecord.holder} says which instance). */
  holder: string;
  /** Until when (epoch ms, by {@link JobStore.leaseClock}); past it, any instance may take the lease. */
  expiresAt: number;
}

/** Background jobs: writes inside a transaction. */
export interface JobStoreTx {
  /** Sets a named mark (a job's last run, ...). */
  setJobMark(name: string, value: string, at: number): Promise<void>;
}
