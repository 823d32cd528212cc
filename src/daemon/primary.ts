/**
 * The daemon's primary process: it holds the store writer, the keys (when a passphrase is
 * given) and the background jobs (daemon/jobs.ts); worker processes (node:cluster,
 * daemon/worker.ts) serve HTTP with a read-only store and no keys, asking the primary over
 * IPC (daemon/ipc.ts) for the rare answer that must be signed live. With one worker,
 * everything runs in one process.
 */
import cluster, { type Worker } from "node:cluster";
import { availableParallelism, hostname } from "node:os";
import type { Logger } from "pino";
import { AggregatorRegistry, register as defaultRegistry } from "prom-client";
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import type { Context } from "../app/open.js";
import { openQueue } from "../app/open.js";
import type { LiveSigner } from "../authority/ocsp-answers.js";
import { makeJobMetrics } from "../http/metrics.js";
import { startAdmin } from "./admin.js";
import { startCliCredential } from "./cli-credential.js";
import { startJobs, startMailJobs } from "./jobs.js";
import { healthOf, startHttp, waitForSignal } from "./http.js";
import { startAuditJob, type AuditJob } from "./audit-job.js";
import { watchStalls, watchWrites } from "./stall.js";
import { WORKER_ENV, send, type ToPrimary } from "./ipc.js";
import { parseListen, serverAddress } from "./listen.js";
import { heartbeatMs, instanceName, startHeartbeat, type Heartbeat } from "./instance.js";
import { claimInstanceName } from "../authority/instances.js";
import { LEASE_HOLDER } from "./leases.js";

/** What the daemon is asked to run (`sigil serve`'s flags; sigil.json otherwise). */
export interface DaemonOptions {
  /** HOST:PORT of the public listener (overrides serve.listen). */
  listen?: string;
  /** HTTP worker processes (overrides serve.workers; default: one per core). */
  workers?: number;
  /** HOST:PORT for the admin API's TLS listener, or "off" (overrides admin.listen). */
  adminListen?: string;
  /** Where the passphrase for unsealing at start is read from (--passphrase-file or a systemd credential). */
  passphraseFile?: string;
}

/** What the daemon serves, once it listens: for the start banner (cli/serve.ts). */
export interface DaemonReady {
  /** The public listener's bound HOST:PORT. */
  address: string;
  workers: number;
  cas: Array<{ name: string; parentId: number | null }>;
  unsealed: boolean;
  /** The admin API's addresses (`unix:PATH`, `https://HOST:PORT`). */
  admin: string[];
}

/**
 * Runs the daemon on the opened home `ctx` until SIGTERM or SIGINT, then stops and closes
 * `ctx`. `passEnv` holds SIGIL_PASSPHRASE as taken from the environment at start (emptied
 * once the keys are open). A start that fails (a port in use) stops what had started and
 * throws; the caller closes `ctx` then.
 */
export async function runPrimary(
  ctx: Context,
  opts: DaemonOptions,
  log: Logger,
  passEnv: NodeJS.ProcessEnv,
  onReady: (r: DaemonReady) => void,
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
  watchStalls(log);
  if (store.writeState) watchWrites(log, store.writeState.bind(store));
  // Sealed unless a passphrase is at hand now (SIGIL_PASSPHRASE, --passphrase-file, a
  // terminal): then every online CA key must open with it (a wrong one stops the start).
  // `serve --init` may have asked for it already.
  const pass = (await authority.heldPassphrase()) ?? (await startPassphrase(opts, passEnv));
  /** A responder key made on another machine: said, and that CA's live answers wait for it. */
  const onMissingKey = (ca: { name: string }, e: SigilError): void =>
    log.warn(
      `the OCSP responder of CA ${ca.name} cannot sign here: ${e.message} on this machine; copy its key file into ${ctx.paths.keys} from the instance that made it (a renewed responder's key is kept in the database); pre-signed answers are served meanwhile`,
    );
  if (pass) {
    let keysHere = true;
    try {
      await authority.unseal(pass, "start");
    } catch (e) {
      // At start nothing was sealed before: the service stops (exit 1) instead.
      if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE) && typeof e.details.ca === "string")
        throw new SigilError(
          ErrorCodes.WRONG_PASSPHRASE,
          `wrong passphrase for CA ${e.details.ca}; not starting`,
        );
      // A CA key that is not on this machine (a home copied before it was made, or without
      // it): the instance still starts, sealed, and says which key and what to do.
      if (!isSigilError(e, ErrorCodes.KEY_NOT_FOUND)) throw e;
      keysHere = false;
      log.warn(missingCaKeyLine(ctx.paths.keys, e));
    } finally {
      pass.fill(0);
    }
    if (keysHere) await authority.ensureResponders({ onMissingKey });
    else await authority.seal(false);
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
  const queue = await openQueue(ctx, "serve", { autoApprove: unsealed });
  ctx.warn = (msg) => log.warn(msg);
  /** The checkpoint job, started below (the unseal callback kicks it). */
  const audit: { job?: AuditJob } = {};
  // This instance's name: the configured or default one, unless a live instance has it.
  const wanted = instanceName(config.serve.instanceName, ctx.home);
  const { name: instance, clash } = await claimInstanceName(store, wanted, LEASE_HOLDER, processRunning);
  if (clash)
    log.warn(
      { wanted, instance, other: clash },
      `instance name ${wanted} is taken by a live instance (${clash.host}, pid ${clash.pid}, ${clash.address}): this one is ${instance}; give each its own serve.instanceName`,
    );
  /** This instance's row in the database, once it listens (the seal callback rewrites it). */
  let heartbeat: Heartbeat | undefined;
  const beat = (address: string): Promise<Heartbeat> =>
    startHeartbeat(store, log, {
      name: instance,
      address: `http://${address}`,
      admin: admin.addresses(),
      periodMs: heartbeatMs(config.serve.jobIntervalSeconds, ctx.storeKind === "postgres"),
      sealed: () => authority.sealed,
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
      void heartbeat?.beat();
      for (const w of Object.values(cluster.workers ?? {}))
        if (w) send(w, { sigil: "keys", unsealed: isUnsealed });
      if (isUnsealed) {
        audit.job?.kick();
        await authority.ensureResponders({ onMissingKey });
        void queue.autoApprovePending().catch((e: unknown) => {
          log.error({ err: (e as Error).message }, "auto-approval after unseal failed");
        });
      }
    }),
  );
  started.push(() => admin.close());
  // The home's CLI signs through this service while it holds the admin socket (none: the
  // socket is another instance's, which keeps the credential).
  const cliCredential = admin.socket === undefined ? undefined : await startCliCredential(ctx, log, instance);
  if (cliCredential) started.push(() => cliCredential.stop());
  const jobs = startJobs(
    ctx,
    log,
    jm,
    unsealed,
    () => stopping,
    () => admin.renewTls(),
  );
  started.push(() => jobs.stop());
  audit.job = startAuditJob(ctx, log, jm, unsealed);
  const stopAudit = audit.job.stop;
  started.push(stopAudit);
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
    heartbeat = await beat(address);
    // Listen for the stop signal before saying "listening": a supervisor (or a test) may send
    // SIGTERM the moment it reads the banner, and with no handler yet that kills the process.
    const stopSignal = waitForSignal(log);
    onReady({
      address,
      workers: 1,
      cas: await authority.listCas(),
      unsealed: unsealed(),
      admin: admin.addresses(),
    });
    await stopSignal;
    stopping = true;
    await cliCredential?.stop();
    await server.close();
    await admin.close();
    await mailJobs.stop();
    await jobs.stop();
    await stopAudit();
    await heartbeat.stop();
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
      [WORKER_ENV.listen]: `${listen.host}:${listen.port}`,
      [WORKER_ENV.keys]: unsealed() ? "1" : "0",
      [WORKER_ENV.backend]: admin.backendSocket,
      [WORKER_ENV.workers]: String(workers),
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
  heartbeat = await beat(address);
  const stopSignal = waitForSignal(log); // before the banner, as above
  onReady({
    address,
    workers,
    cas: await authority.listCas(),
    unsealed: unsealed(),
    admin: admin.addresses(),
  });
  await stopSignal;
  stopping = true;
  await cliCredential?.stop();
  await admin.close();
  await stopWorkers();
  await mailJobs.stop();
  await jobs.stop();
  await stopAudit();
  await heartbeat.stop();
  await ctx.close();
  log.info("stopped");
}

/**
 * The one log line for a CA key missing at start (`e`: KeySession.unseal's KEY_NOT_FOUND,
 * which names the CA and keyRef in its details).
 */
function missingCaKeyLine(keyDir: string, e: SigilError): string {
  const ca = typeof e.details.ca === "string" ? e.details.ca : undefined;
  const keyRef = typeof e.details.keyRef === "string" ? e.details.keyRef : undefined;
  const what = ca ? `the key of CA ${ca}${keyRef ? ` (${keyRef})` : ""}` : e.message;
  const fix = keyRef?.startsWith("file:")
    ? `copy ${keyRef.slice("file:".length)}.key.pem into ${keyDir} from a home that has it (or from the CA's export)`
    : "make the key available to this instance";
  return `sealed: ${what} is not on this machine (${e.message}): ${fix}, then run 'sigil unseal'; serving pre-signed OCSP answers and stored CRLs only until then`;
}

/**
 * The passphrase for unsealing at start, when one is at hand without asking a person who
 * is not there: --passphrase-file (or the systemd credential), SIGIL_PASSPHRASE (as taken
 * from the environment at start: `env`), or a prompt on a terminal. None:
 * undefined (the service starts sealed).
 */
async function startPassphrase(opts: DaemonOptions, env: NodeJS.ProcessEnv): Promise<Buffer | undefined> {
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

/** False only for a process of this host that is gone (signal 0: is there such a process). */
function processRunning(host: string, pid: number): boolean {
  if (host !== hostname()) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // there, but another user's
  }
}
