/**
 * `sigil serve`: the composition of the HTTP service. The primary process holds the store
 * writer, the keys (when a passphrase is given) and the background jobs (responder
 * renewal, OCSP answer refresh, CRL refresh); worker processes (node:cluster) serve HTTP
 * with a read-only store and no keys, asking the primary over IPC for the rare answer that
 * must be signed live. With one worker, everything runs in one process.
 */
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import { availableParallelism, hostname } from "node:os";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Server as NetServer } from "node:net";
import { pino, type Logger } from "pino";
import { AggregatorRegistry, register as defaultRegistry } from "prom-client";
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { Store } from "../store/types.js";
import type { RequestQueue } from "../authority/queue.js";
import type { DropFolder } from "../intake/drop-folder.js";
import { startAdmin, type AdminService } from "./serve-admin.js";
import { isLoopback } from "./remote.js";
import { publicUrlReaches } from "./public-url.js";
import { OcspAnswers, type LiveSigner } from "../authority/ocsp-answers.js";
import { buildServer } from "../http/server.js";
import { makeJobMetrics, type JobMetrics } from "../http/metrics.js";
import { openContext, resolveHome, type Context, type GlobalOptions } from "./context.js";
import { VERSION } from "./version.js";

interface ServeOpts extends GlobalOptions {
  listen?: string;
  workers?: number;
  init?: boolean;
  /** HOST:PORT for the admin API's TLS listener, or "off" (overrides admin.listen). */
  adminListen?: string;
}

/** IPC messages between workers and the primary. */
type ToPrimary =
  | {
      sigil: "live";
      id: number;
      caId: number;
      items: Array<{ certIdDer: string; serialHex: string }>;
      nonce?: string;
    }
  | { sigil: "metrics"; id: number }
  | { sigil: "listening"; address: string }
  /** The worker could not start (e.g. its listen failed): the one-line reason. */
  | { sigil: "failed"; message: string; internal: boolean };
type ToWorker =
  | {
      sigil: "live-result";
      id: number;
      result?: { der: string; statuses: string[]; thisUpdate: number; nextUpdate: number };
    }
  | { sigil: "metrics-result"; id: number; contentType: string; body: string }
  | { sigil: "keys"; unsealed: boolean };

/** Parses HOST:PORT, [V6]:PORT or PORT. */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad --listen ${JSON.stringify(s)}: give HOST:PORT, e.g. 127.0.0.1:8080`,
    );
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

/** Why a listen failed, in words, by the system error's code. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no such address on this machine",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the host name could not be resolved",
};

/**
 * The one-line error for a listener that could not start: which listener, where, why, and
 * the flag or setting that moves it (`hint`). Errors that are not a failed listen (no
 * system error code) are returned unchanged.
 */
export function listenError(
  e: unknown,
  what: string,
  listen: { host: string; port: number },
  hint: string,
): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !/^E[A-Z_]+$/.test(code)) return e;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  const why = LISTEN_FAILURES[code] ?? (e as Error).message;
  const message = `cannot listen on ${host}:${listen.port} for ${what}: ${why} (${hint})`;
  return new SigilError(ErrorCodes.CONFIG, message, { cause: e });
}

/** The hint of {@link listenError} for the public listener. */
const PUBLIC_LISTEN_HINT = "use --listen HOST:PORT or serve.listen in sigil.json";

function makeLogger(): Logger {
  return pino({
    base: { pid: process.pid, role: cluster.isPrimary ? "primary" : "worker" },
    // Defence in depth: nothing secret is logged on purpose; these paths never are.
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "passphrase", "*.passphrase"],
      remove: true,
    },
  });
}

/**
 * Runs `sigil serve`. A passphrase in SIGIL_PASSPHRASE is taken out of the environment
 * first thing (takeEnvSecret, src/cli/environ.ts): out of `process.env`, so no worker
 * inherits it, and out of the kernel's copy, so /proc/PID/environ stops showing it. A
 * systemd credential (`$CREDENTIALS_DIRECTORY/passphrase`) counts as `--passphrase-file`.
 */
export async function runServe(opts: ServeOpts): Promise<void> {
  if (cluster.isWorker) return runWorker(opts);
  const { takeEnvSecret } = await import("./environ.js");
  const { PASSPHRASE_ENV, credentialPassphraseFile } = await import("../keys/passphrase.js");
  const taken = takeEnvSecret(PASSPHRASE_ENV);
  const passEnv: NodeJS.ProcessEnv = taken.value === undefined ? {} : { [PASSPHRASE_ENV]: taken.value };
  const passphraseFile = opts.passphraseFile ?? credentialPassphraseFile();
  opts = { ...opts, ...(passphraseFile !== undefined ? { passphraseFile } : {}) };
  const home = resolveHome(opts);
  if (opts.init && !existsSync(join(home, "sigil.db"))) {
    const { writeInitConfig, INIT_DEFAULTS } = await import("./init.js");
    await writeInitConfig(home, { dnPrefix: INIT_DEFAULTS.dnPrefix });
  }
  const ctx = await openContext({ ...opts, home, create: opts.init === true, passphraseEnv: passEnv });
  const log = makeLogger();
  if (taken.cleared !== true)
    log.warn(
      `${PASSPHRASE_ENV} stays visible in /proc/${process.pid}/environ (${taken.cleared}): use --passphrase-file or a systemd credential instead`,
    );
  try {
    if (opts.init && (await ctx.authority.listCas()).length === 0) {
      const { initHierarchy, INIT_DEFAULTS } = await import("./init.js");
      process.stderr.write(await initHierarchy(ctx, { ...INIT_DEFAULTS }));
    }
    await runPrimary(ctx, opts, log, passEnv);
  } catch (e) {
    await ctx.close();
    throw e;
  }
}

async function runPrimary(
  ctx: Context,
  opts: ServeOpts,
  log: Logger,
  passEnv: NodeJS.ProcessEnv,
): Promise<void> {
  const { config, store, authority } = ctx;
  const listen = parseListen(opts.listen ?? config.serve.listen);
  const workers = opts.workers ?? (config.serve.workers || availableParallelism());
  if (!Number.isInteger(workers) || workers < 1 || workers > 64)
    throw new SigilError(ErrorCodes.USAGE, `bad --workers ${workers}: give 1 to 64`);
  const cas = await authority.listCas();
  if (cas.length === 0)
    throw new SigilError(
      ErrorCodes.CONFIG,
      `no CA in ${ctx.home}: run 'sigil init' first (or 'sigil serve --init')`,
    );

  const jm = makeJobMetrics();
  // Sealed unless a passphrase is at hand now (SIGIL_PASSPHRASE, --passphrase-file, a
  // terminal): then every online CA key must open with it (a wrong one stops the start).
  // `serve --init` may have asked for it already.
  const pass = (await authority.heldPassphrase()) ?? (await startPassphrase(opts, passEnv));
  if (pass) {
    try {
      await authority.unseal(pass, "start");
    } catch (e) {
      // At start nothing was sealed before: the service stops (exit 1) instead.
      if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE) && typeof e.details.ca === "string")
        throw new SigilError(
          ErrorCodes.WRONG_PASSPHRASE,
          `wrong passphrase for CA ${e.details.ca}; not starting`,
        );
      throw e;
    } finally {
      pass.fill(0);
    }
    await authority.ensureResponders();
  } else {
    await authority.seal(false);
    log.warn(
      "sealed: serving pre-signed OCSP answers and stored CRLs only until a security admin runs 'sigil unseal'",
    );
  }
  // The passphrase is held by the authority now: the environment's copy is forgotten (it
  // left process.env and /proc/PID/environ at start, so forked workers never see it).
  for (const k of Object.keys(passEnv)) delete passEnv[k];
  const unsealed = (): boolean => !authority.sealed;
  jm.keysUnlocked.set(unsealed() ? 1 : 0);
  const live: LiveSigner = async (caId, items, nonce) => {
    if (!unsealed()) return undefined;
    try {
      return await authority.answerLive(caId, items, nonce);
    } catch (e) {
      if (isSigilError(e) && e.kind === "user") {
        log.warn({ err: e.message }, "live OCSP signing refused");
        return undefined;
      }
      throw e;
    }
  };
  const { RequestQueue } = await import("../authority/queue.js");
  const queue = new RequestQueue({
    authority,
    store,
    config,
    clock: () => Date.now(),
    actor: "serve",
    autoApprove: unsealed,
  });

  let stopping = false;
  // What has started, stopped in reverse order when the start fails (a port in use): the
  // process must then exit with nothing left running or behind (sockets, workers, timers).
  const started: Array<() => Promise<unknown>> = [];
  const orUndo = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (e) {
      stopping = true;
      for (const stop of started.reverse())
        await stop().catch((err: unknown) => log.error({ err: (err as Error).message }, "stopping failed"));
      throw e;
    }
  };
  const admin = await orUndo(
    startAdmin(ctx, opts, log, queue, async (isUnsealed) => {
      jm.keysUnlocked.set(isUnsealed ? 1 : 0);
      for (const w of Object.values(cluster.workers ?? {}))
        if (w) send(w, { sigil: "keys", unsealed: isUnsealed });
      if (isUnsealed) {
        await authority.ensureResponders();
        void queue.autoApprovePending().catch((e: unknown) => {
          log.error({ err: (e as Error).message }, "auto-approval after unseal failed");
        });
      }
    }),
  );
  started.push(() => admin.close());
  const jobs = startJobs(ctx, log, jm, unsealed, () => stopping, admin);
  started.push(() => jobs.stop());
  const mailJobs = await orUndo(startMailJobs(ctx, log, jm, unsealed, queue));
  started.push(() => mailJobs.stop());

  if (workers === 1) {
    const server = await orUndo(
      startHttp(
        store,
        config,
        log,
        live,
        async () => ({
          contentType: defaultRegistry.contentType,
          body: (await defaultRegistry.metrics()) + (await jm.registry.metrics()),
        }),
        healthOf(store, unsealed, 1),
        listen,
        admin.backendSocket,
      ),
    );
    const address = serverAddress(server.server.address());
    banner(address, 1, config, await authority.listCas(), unsealed(), admin.addresses());
    await waitForSignal(log);
    stopping = true;
    await server.close();
    await admin.close();
    await mailJobs.stop();
    await jobs.stop();
    await ctx.close();
    log.info("stopped");
    return;
  }

  // Cluster: workers serve; this process answers their IPC and runs the jobs.
  const aggregator = new AggregatorRegistry();
  const onMessage = (worker: Worker, msg: ToPrimary): void => {
    if (!msg || typeof msg !== "object" || !("sigil" in msg)) return;
    if (msg.sigil === "live") {
      void live(
        msg.caId,
        msg.items.map((i) => ({ certIdDer: Buffer.from(i.certIdDer, "base64"), serialHex: i.serialHex })),
        msg.nonce === undefined ? undefined : Buffer.from(msg.nonce, "base64"),
      )
        .then((r) =>
          send(worker, {
            sigil: "live-result",
            id: msg.id,
            result: r && { ...r, der: r.der.toString("base64") },
          }),
        )
        .catch((e: unknown) => {
          log.error({ err: (e as Error).message }, "live OCSP signing failed");
          send(worker, { sigil: "live-result", id: msg.id });
        });
    } else if (msg.sigil === "metrics") {
      void (async () => {
        const body = (await aggregator.clusterMetrics()) + (await jm.registry.metrics());
        send(worker, { sigil: "metrics-result", id: msg.id, contentType: aggregator.contentType, body });
      })().catch((e: unknown) => {
        log.error({ err: (e as Error).message }, "metrics aggregation failed");
        send(worker, { sigil: "metrics-result", id: msg.id, contentType: "text/plain", body: "" });
      });
    }
  };
  cluster.on("message", onMessage);
  // Until one worker listens, a worker that cannot start (its listen failed: the primary
  // binds for them, so all fail alike) fails the whole start instead of being restarted.
  let up = false;
  const listening = new Promise<string>((resolve, reject) => {
    cluster.on("message", (_w, msg: ToPrimary) => {
      if (msg?.sigil === "listening") {
        up = true;
        resolve(msg.address);
      } else if (msg?.sigil === "failed" && !up) {
        reject(
          msg.internal
            ? new SigilError(ErrorCodes.INTERNAL, `internal error in a worker: ${msg.message}`)
            : new SigilError(ErrorCodes.CONFIG, msg.message),
        );
      }
    });
    cluster.on("exit", (worker, code, signal) => {
      if (up || stopping) return;
      // Its "failed" message, if it sent one, comes before its IPC channel closes.
      const fail = () =>
        reject(
          new SigilError(
            ErrorCodes.INTERNAL,
            `a worker process ended during start (${signal ?? `exit code ${code}`})`,
          ),
        );
      if (worker.isConnected()) worker.process.once("disconnect", fail);
      else fail();
    });
  });
  const fork = (): Worker =>
    cluster.fork({
      SIGIL_SERVE_LISTEN: `${listen.host}:${listen.port}`,
      SIGIL_SERVE_KEYS: unsealed() ? "1" : "0",
      SIGIL_SERVE_BACKEND: admin.backendSocket,
      SIGIL_SERVE_WORKERS: String(workers),
    });
  let restarts = 0;
  cluster.on("exit", (worker, code, signal) => {
    if (stopping || !up) return;
    restarts++;
    log.error({ worker: worker.process.pid, code, signal }, "worker exited; starting another");
    setTimeout(fork, Math.min(5000, 100 * restarts)).unref();
  });
  const stopWorkers = () =>
    Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w || w.isDead()) return resolve();
            w.once("exit", () => resolve());
            w.process.kill("SIGTERM");
            setTimeout(() => w.process.kill("SIGKILL"), 10_000).unref();
          }),
      ),
    );
  started.push(stopWorkers);
  // Workers listening on port 0 share one random port (node:cluster hands out one handle).
  for (let i = 0; i < workers; i++) fork();
  const address = await orUndo(listening);
  banner(address, workers, config, await authority.listCas(), unsealed(), admin.addresses());
  await waitForSignal(log);
  stopping = true;
  await admin.close();
  await stopWorkers();
  await mailJobs.stop();
  await jobs.stop();
  await ctx.close();
  log.info("stopped");
}

function send(worker: Worker, msg: ToWorker): void {
  if (worker.isConnected()) worker.send(msg);
}

/**
 * The passphrase for unsealing at start, when one is at hand without asking a person who
 * is not there: --passphrase-file (or the systemd credential), SIGIL_PASSPHRASE (as taken
 * from the environment at start: `env`), or a prompt on a terminal. None:
 * undefined (the service starts sealed).
 */
async function startPassphrase(opts: ServeOpts, env: NodeJS.ProcessEnv): Promise<Buffer | undefined> {
  const { resolvePassphrase, promptHidden } = await import("../keys/passphrase.js");
  try {
    const pass = await resolvePassphrase({
      passphraseFile: opts.passphraseFile,
      env,
      isTty: Boolean(process.stdin.isTTY && process.stderr.isTTY),
      prompt: promptHidden,
      purpose: "the CA keys (empty: start sealed)",
    });
    return pass.length === 0 ? undefined : pass;
  } catch (e) {
    if (isSigilError(e, ErrorCodes.NO_PASSPHRASE)) return undefined;
    throw e;
  }
}

function healthOf(
  store: Store,
  keys: () => boolean,
  workers: number,
): () => Promise<Record<string, unknown>> {
  return async () => {
    try {
      const cas = (await store.listCas()).length;
      return { status: "ok", version: VERSION, cas, canSign: keys(), sealed: !keys(), workers };
    } catch (e) {
      return { status: "error", error: (e as Error).message };
    }
  };
}

interface Jobs {
  stop(): Promise<void>;
}

/**
 * The background jobs, one run at a time, every `serve.jobIntervalSeconds`: renew
 * responders, refresh due OCSP answers (RFC 5019 §4: fresh before nextUpdate, at
 * half-life), publish CRLs past half their validity, and count what is still due.
 */
function startJobs(
  ctx: Context,
  log: Logger,
  jm: JobMetrics,
  keys: () => boolean,
  stopping: () => boolean,
  admin: AdminService,
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
  const ttl = leaseTtl(config.serve.jobIntervalSeconds * 1000);
  const runOnce = async (): Promise<void> => {
    // The signing jobs run on one instance at a time (a lease in the database).
    if (keys()) {
      try {
        await whileLeased(store, "serve.jobs", ttl, runLeased);
      } catch (e) {
        log.error({ job: "lease", err: (e as Error).message }, "job lease failed");
      }
    }
    // ACME used-nonce records past their nonce's age limit (RFC 8555 §6.5): any instance may.
    await step("acme-nonces", async () => {
      const { acmeStore } = await import("../acme/store.js");
      return { pruned: await acmeStore(store).transaction((tx) => tx.pruneNonces(Date.now())) };
    });
    await step("ocsp-pending", async () => {
      const due = await store.countOcspDue(Date.now() + (config.ocsp.validityHours * 3_600_000) / 2);
      jm.pendingRefresh.set(due);
    });
  };
  const runLeased = async (): Promise<void> => {
    await step("admin-tls", () => admin.renewTls());
    await step("responders", async () => {
      await authority.reloadResponders();
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
      await store.releaseLease("serve.jobs", LEASE_HOLDER).catch(() => undefined);
    },
  };
}

/** What {@link whileLeased} returns when another instance runs the job. */
const NOT_HELD = Symbol("not held");

/** This process's name as a job lease holder (unique per `sigil serve` instance). */
const LEASE_HOLDER = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/**
 * Runs `f` only if this instance holds (or now takes) the lease of job `name`: with several
 * `sigil serve` instances on one PostgreSQL database, each background job runs on one of
 * them at a time (the lease is in the database: Store.tryLease). The lease is renewed every
 * third of `ttlMs` while `f` runs and kept afterwards, so the same instance stays in charge
 * until it stops (and releases it) or dies (and it expires after `ttlMs`). Returns
 * {@link NOT_HELD} when another instance holds it.
 */
async function whileLeased<T>(
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

/** A job's lease lifetime: three runs' worth, at least a minute. */
const leaseTtl = (intervalMs: number): number => Math.max(60_000, 3 * intervalMs);

/**
 * The request queue's background work: the IMAP intake loop (config `imap`), the watched
 * drop folder (`intake.dropFolder`), the outbox sender (`smtp`), the daily expiry notices,
 * and, at start, auto-approval of requests left pending (e.g. by a restart).
 */
async function startMailJobs(
  ctx: Context,
  log: Logger,
  jm: JobMetrics,
  keys: () => boolean,
  queue: RequestQueue,
): Promise<Jobs> {
  const { config, store } = ctx;
  const abort = new AbortController();
  const stops: Array<() => Promise<unknown>> = [];
  const every = (job: string, ms: number, f: () => Promise<unknown>) => {
    let busy: Promise<unknown> = Promise.resolve();
    const lease = `serve.${job}`;
    const tick = () => {
      busy = busy.then(async () => {
        if (abort.signal.aborted) return;
        try {
          // One instance at a time runs each job (a lease in the database).
          const r = await whileLeased(store, lease, leaseTtl(ms), f);
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
      await store.releaseLease(lease, LEASE_HOLDER).catch(() => undefined);
    });
  };
  every("auto-approve", 3_600_000, async () =>
    keys() ? { approved: await queue.autoApprovePending() } : {},
  );
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
    const now = Date.now();
    const day = new Date(now).toISOString().slice(0, 10);
    if (new Date(now).getUTCHours() < config.notify.hourUtc) return {};
    const mark = await store.getJobMark("notify.run");
    if (mark?.value === day) return {};
    const { queueNotices } = await import("../authority/notices.js");
    const r = await queueNotices(store, config, now, "serve");
    await store.transaction((tx) => tx.setJobMark("notify.run", day, now));
    return { notices: r.notices, summary: r.summary ? 1 : 0 };
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

async function startHttp(
  store: Store,
  config: Config,
  log: Logger,
  live: LiveSigner | undefined,
  metrics: () => Promise<{ contentType: string; body: string }>,
  health: () => Promise<Record<string, unknown>>,
  listenOverride?: { host: string; port: number },
  backendSocket?: string,
) {
  const answers = new OcspAnswers({
    store,
    clock: () => Date.now(),
    nonce: config.ocsp.nonce,
    live,
    onError: (e) => log.error({ err: (e as Error).message }, "OCSP answer failed"),
  });
  await answers.start();
  const app = buildServer({
    store,
    answers,
    logger: log,
    maxAgeSeconds: config.ocsp.maxAgeSeconds,
    clock: () => Date.now(),
    metrics,
    health,
    logRequests: config.serve.logRequests,
    ...(backendSocket
      ? {
          web: {
            socketPath: backendSocket,
            adminAllowed:
              config.web.adminOnPublic ||
              isLoopback((listenOverride ?? parseListen(config.serve.listen)).host),
          },
        }
      : {}),
  });
  app.addHook("onClose", async () => answers.stop());
  const listen = listenOverride ?? parseListen(config.serve.listen);
  try {
    await app.listen({ host: listen.host, port: listen.port });
  } catch (e) {
    // Nothing may keep running: the answer refresher stops with the app.
    await app.close().catch(() => undefined);
    throw listenError(e, "the public listener", listen, PUBLIC_LISTEN_HINT);
  }
  return app;
}

async function runWorker(opts: ServeOpts): Promise<void> {
  let opened: Store | undefined;
  let started: Awaited<ReturnType<typeof startWorker>>;
  try {
    started = await startWorker(opts, (s) => (opened = s));
  } catch (e) {
    // The primary reports it (one line, once for all workers) and stops; this worker
    // prints nothing and leaves nothing open.
    await opened?.close().catch(() => undefined);
    const failed: ToPrimary = {
      sigil: "failed",
      message: e instanceof Error ? e.message : String(e),
      internal: !isSigilError(e) || e.kind === "internal",
    };
    await new Promise<void>((resolve) => {
      if (!process.connected) return resolve();
      process.send!(failed, undefined, {}, () => resolve());
    });
    process.exit(1);
  }
  const { app, store, log } = started;
  process.send!({ sigil: "listening", address: serverAddress(app.server.address()) } satisfies ToPrimary);
  await waitForSignal(log, false);
  await app.close();
  await store.close();
  process.exit(0);
}

/** A worker's start: its read-only store, its IPC with the primary, and its listener. */
async function startWorker(opts: ServeOpts, onStore: (store: Store) => void) {
  const { loadConfig } = await import("../config/load.js");
  const { openStore } = await import("../store/open.js");
  const home = resolveHome(opts);
  const config = await loadConfig(home);
  const store = await openStore(home, { readonly: true, store: config.store });
  onStore(store);
  const log = makeLogger();
  // Constructing one makes prom-client answer the primary's metric requests in this worker.
  new AggregatorRegistry();
  let nextId = 1;
  const pending = new Map<number, (m: ToWorker) => void>();
  let keysOn = process.env.SIGIL_SERVE_KEYS === "1";
  process.on("message", (m: ToWorker) => {
    if (m && typeof m === "object" && m.sigil === "keys") {
      keysOn = m.unsealed;
      return;
    }
    if (
      m &&
      typeof m === "object" &&
      "id" in m &&
      (m.sigil === "live-result" || m.sigil === "metrics-result")
    ) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  const ask = (msg: ToPrimary & { id: number }): Promise<ToWorker | undefined> =>
    new Promise((resolve) => {
      const t = setTimeout(() => {
        pending.delete(msg.id);
        resolve(undefined);
      }, 5000);
      pending.set(msg.id, (m) => {
        clearTimeout(t);
        resolve(m);
      });
      process.send!(msg);
    });
  // Sealed: no round trip to the primary, the answer is tryLater (RFC 6960 §2.3).
  const live: LiveSigner = async (caId, items, nonce) => {
    if (!keysOn) return undefined;
    const r = await ask({
      sigil: "live",
      id: nextId++,
      caId,
      items: items.map((i) => ({ certIdDer: i.certIdDer.toString("base64"), serialHex: i.serialHex })),
      ...(nonce ? { nonce: nonce.toString("base64") } : {}),
    });
    if (!r || r.sigil !== "live-result" || !r.result) return undefined;
    return { ...r.result, der: Buffer.from(r.result.der, "base64") };
  };
  const metrics = async () => {
    const r = await ask({ sigil: "metrics", id: nextId++ });
    if (!r || r.sigil !== "metrics-result") throw new SigilError(ErrorCodes.INTERNAL, "metrics unavailable");
    return { contentType: r.contentType, body: r.body };
  };
  const listen = parseListen(process.env.SIGIL_SERVE_LISTEN ?? opts.listen ?? config.serve.listen);
  // cluster.workers exists only in the primary: the primary says how many it runs.
  const workers = Number(process.env.SIGIL_SERVE_WORKERS) || 1;
  const app = await startHttp(
    store,
    config,
    log,
    live,
    metrics,
    healthOf(store, () => keysOn, workers),
    listen,
    process.env.SIGIL_SERVE_BACKEND,
  );
  return { app, store, log };
}

function serverAddress(a: ReturnType<NetServer["address"]>): string {
  if (!a || typeof a === "string") return String(a);
  return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Resolves on SIGTERM or SIGINT (graceful shutdown). */
function waitForSignal(log: Logger, announce = true): Promise<void> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      if (announce) log.info({ signal: sig }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", () => on("SIGTERM"));
    process.once("SIGINT", () => on("SIGINT"));
  });
}

function banner(
  address: string,
  workers: number,
  config: Config,
  cas: Array<{ name: string; parentId: number | null }>,
  keys: boolean,
  admin: string[],
): void {
  const base = config.publicUrl.replace(/\/+$/, "");
  const lines = [
    `sigil serve: listening on http://${address} (${workers} worker${workers === 1 ? "" : "s"}${keys ? "" : ", sealed: pre-signed answers only until 'sigil unseal'"})`,
    `  OCSP      ${base}/ocsp`,
    ...cas.map((c) => `  CRL       ${base}/crl/${c.name}.crl`),
    ...cas.map((c) => `  CA cert   ${base}/ca/${c.name}.crt  (.pem)`),
    `  bundle    ${base}/ca/bundle.pem`,
    `  health    http://${address}/healthz   metrics http://${address}/metrics`,
    ...admin.map((a) => `  admin API ${a}`),
  ];
  // The URLs above are those in issued certificates: say so when they lead elsewhere.
  const bound = /^(?:\[[^\]]+\]|[^:]+):\d+$/.test(address) ? parseListen(address) : undefined;
  if (bound && !publicUrlReaches(base, bound))
    lines.push(
      `sigil: warning: publicUrl ${base} (in issued certificates) does not point at this listener ${address}; set "publicUrl" in sigil.json`,
    );
  process.stderr.write(lines.join("\n") + "\n");
}
