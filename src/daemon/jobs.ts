/**
 * The daemon's scheduled jobs (primary process only): the signing jobs under one lease
 * (admin TLS renewal, responders, OCSP answer refresh, CRL refresh), the housekeeping any
 * instance may do, and the request queue's background work (intake, outbox, notices).
 */
import type { Logger } from "pino";
import type { Context } from "../app/open.js";
import type { RequestQueue } from "../authority/queue.js";
import type { DropFolder } from "../intake/drop-folder.js";
import type { JobMetrics } from "../http/metrics.js";
import { NOT_HELD, holdsLease, leaseGauge, leaseTtl, releaseLease, whileLeased } from "./leases.js";

/** Running jobs. */
export interface Jobs {
  stop(): Promise<void>;
}

/** The lease of the signing jobs. */
export const SIGNING_LEASE = "serve.jobs";

/**
 * The background jobs, one run at a time, every `serve.jobIntervalSeconds`: renew
 * responders, refresh due OCSP answers (RFC 5019 §4: fresh before nextUpdate, at
 * half-life), publish CRLs past half their validity, and count what is still due. Those
 * run on one instance at a time (a lease); what is each instance's own runs on every
 * unsealed one: taking up a responder renewed elsewhere, and `renewAdminTls`, which renews
 * this instance's admin TLS certificate when due.
 */
export function startJobs(
  ctx: Context,
  log: Logger,
  jm: JobMetrics,
  keys: () => boolean,
  stopping: () => boolean,
  renewAdminTls: () => Promise<unknown>,
): Jobs {
  const { authority, store, config } = ctx;
  let running: Promise<void> = Promise.resolve();
  const step = async (job: string, f: () => Promise<unknown>): Promise<void> => {
    try {
      const r = await f();
      jm.jobRuns.inc({ job, result: "ok" });
      if (r && typeof r === "object" && Object.values(r).some((v) => (Array.isArray(v) ? v.length : v)))
        log.info({ job, ...r }, "job done");
    } catch (e) {
      jm.jobRuns.inc({ job, result: "error" });
      log.error({ job, err: (e as Error).message }, "job failed");
    }
  };
  // Renewed at each run (every interval): see leases.ts for the rule.
  const ttl = leaseTtl(config.serve.jobIntervalSeconds * 1000, ctx.storeKind === "postgres");
  const watch = leaseGauge(jm);
  watch(SIGNING_LEASE, false);
  let held = false;
  const runOnce = async (): Promise<void> => {
    // The signing jobs run on one instance at a time (a lease in the database).
    if (keys()) {
      // Live answers are signed by every unsealed instance: each takes up a responder renewed
      // elsewhere (the lease holder's scheduled renewal, `sigil ocsp renew-responder` in any
      // home) at its next run, not when its own copy of the old one nears its end.
      await step("responder-reload", () => authority.reloadResponders());
      // The admin API's TLS certificate is this instance's own (its key in this home's tls/
      // folder, its names this machine's): every instance renews its own, lease or not.
      await step("admin-tls", renewAdminTls);
      try {
        held = (await whileLeased(store, SIGNING_LEASE, ttl, runLeased, watch)) !== NOT_HELD;
      } catch (e) {
        log.error({ job: "lease", err: (e as Error).message }, "job lease failed");
      }
    } else if (held) {
      // Sealed, this instance cannot sign: an unsealed one takes the jobs over now, not
      // once the lease has expired.
      held = false;
      await releaseLease(store, SIGNING_LEASE, watch);
    }
    // ACME used-nonce records past their nonce's age limit (RFC 8555 §6.5): any instance may.
    await step("acme-nonces", async () => {
      const { pruneAcmeNonces } = await import("../authority/jobs.js");
      return { pruned: await pruneAcmeNonces(store, Date.now()) };
    });
    await step("ocsp-pending", async () => {
      const due = await store.countOcspDue(Date.now() + (config.ocsp.validityHours * 3_600_000) / 2);
      jm.pendingRefresh.set(due);
    });
  };
  const runLeased = async (): Promise<void> => {
    await step("responders", async () => {
      await authority.ensureResponders();
    });
    await step("ocsp-refresh", () => authority.refreshOcsp({ shouldStop: stopping }));
    await step("crl-refresh", async () => ({ published: await authority.refreshCrls() }));
  };
  running = runOnce();
  const timer = setInterval(() => {
    running = running.then(() => (stopping() ? undefined : runOnce()));
  }, config.serve.jobIntervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await releaseLease(store, SIGNING_LEASE, watch);
    },
  };
}

/**
 * The request queue's background work: the IMAP intake loop (config `imap`), the watched
 * drop folder (`intake.dropFolder`), the outbox sender (`smtp`), the daily expiry notices,
 * and, at start, auto-approval of requests left pending (e.g. by a restart).
 */
export async function startMailJobs(
  ctx: Context,
  log: Logger,
  jm: JobMetrics,
  keys: () => boolean,
  queue: RequestQueue,
): Promise<Jobs> {
  const { config, store } = ctx;
  const abort = new AbortController();
  const stops: Array<() => Promise<unknown>> = [];
  const watch = leaseGauge(jm);
  /** Runs `f` every `ms` under the job's lease; with `needsKeys`, only while unsealed. */
  const every = (job: string, ms: number, f: () => Promise<unknown>, needsKeys = false) => {
    let busy: Promise<unknown> = Promise.resolve();
    const lease = `serve.${job}`;
    const tick = () => {
      busy = busy.then(async () => {
        if (abort.signal.aborted) return;
        if (needsKeys && !keys()) {
          // Sealed: leave the job to an unsealed instance now, not when the lease expires.
          if (holdsLease(lease)) await releaseLease(store, lease, watch);
          return;
        }
        try {
          // One instance at a time runs each job (a lease in the database).
          const r = await whileLeased(store, lease, leaseTtl(ms, ctx.storeKind === "postgres"), f, watch);
          if (r === NOT_HELD) return;
          jm.jobRuns.inc({ job, result: "ok" });
          if (r && typeof r === "object" && Object.values(r).some((v) => typeof v === "number" && v > 0))
            log.info({ job, ...r }, "job done");
        } catch (e) {
          jm.jobRuns.inc({ job, result: "error" });
          log.error({ job, err: (e as Error).message }, "job failed");
        }
      });
    };
    tick();
    const t = setInterval(tick, ms);
    t.unref();
    stops.push(async () => {
      clearInterval(t);
      await busy;
      await releaseLease(store, lease, watch);
    });
  };
  every("auto-approve", 3_600_000, async () => ({ approved: await queue.autoApprovePending() }), true);
  if (config.intake.dropFolder) {
    const { DropFolder: Folder } = await import("../intake/drop-folder.js");
    const dir = config.intake.dropFolder;
    // Opened once (at the first pass that finds it) and kept: the service keeps watching the
    // folder it opened even if its path is later swapped for a link elsewhere.
    let folder: DropFolder | undefined;
    every("drop-folder", config.intake.dropIntervalSeconds * 1000, async () => {
      folder ??= await Folder.open(dir);
      return folder.importOnce(queue, {
        submitter: "drop-folder",
        report: (line) => log.info({ job: "drop-folder" }, line),
      });
    });
    stops.push(async () => folder?.close());
  }
  if (config.smtp) {
    const { Outbox } = await import("../mail/outbox.js");
    const outbox = await Outbox.fromConfig(store, config, () => Date.now(), "serve");
    every("outbox", 5_000, () => outbox.runOnce());
    stops.push(async () => outbox.close());
  }
  every("notices", 15 * 60_000, async () => {
    const { runDailyNotices } = await import("../authority/jobs.js");
    return runDailyNotices(store, config, Date.now(), "serve");
  });
  if (config.imap) {
    const { ImapIntake } = await import("../mail/imap-intake.js");
    const intake = new ImapIntake(queue, store, config, log);
    const loop = intake.run(abort.signal);
    stops.push(() => loop);
  }
  return {
    async stop() {
      abort.abort();
      // Timers and loops first, then the SMTP connection (the outbox may be mid-send).
      for (const stop of stops) await stop();
    },
  };
}
