/**
 * A worker process of the daemon (node:cluster): its read-only store, its IPC with the
 * primary (daemon/ipc.ts) for live OCSP signing and metrics, and its public listener. It
 * holds no keys.
 */
import { AggregatorRegistry } from "prom-client";
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import type { Store } from "../store/types.js";
import { openHomeReadOnly } from "../app/open.js";
import type { LiveSigner } from "../authority/ocsp-answers.js";
import { healthOf, makeLogger, startHttp, waitForSignal } from "./http.js";
import { WORKER_ENV, type ToPrimary, type ToWorker } from "./ipc.js";
import { parseListen, serverAddress } from "./listen.js";
import { watchStalls } from "./stall.js";

/** What a worker serves: the home, and the public listener when the primary did not say (it does). */
export interface WorkerOptions {
  home: string;
  listen?: string;
}

/** Runs this worker until SIGTERM or SIGINT; a start that fails is reported to the primary, then exit 1. */
export async function runWorker(opts: WorkerOptions): Promise<void> {
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
  // The stop signal is handled before the primary hears "listening" (it may stop us at once).
  const stopSignal = waitForSignal(log, false);
  process.send!({ sigil: "listening", address: serverAddress(app.server.address()) } satisfies ToPrimary);
  await stopSignal;
  await app.close();
  await store.close();
  process.exit(0);
}

/** A worker's start: its read-only store, its IPC with the primary, and its listener. */
async function startWorker(opts: WorkerOptions, onStore: (store: Store) => void) {
  const { config, store } = await openHomeReadOnly(opts.home, onStore);
  const log = makeLogger();
  watchStalls(log);
  // Constructing one makes prom-client answer the primary's metric requests in this worker.
  new AggregatorRegistry();
  let nextId = 1;
  const pending = new Map<number, (m: ToWorker) => void>();
  let keysOn = process.env[WORKER_ENV.keys] === "1";
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
  const listen = parseListen(process.env[WORKER_ENV.listen] ?? opts.listen ?? config.serve.listen);
  // cluster.workers exists only in the primary: the primary says how many it runs.
  const workers = Number(process.env[WORKER_ENV.workers]) || 1;
  const app = await startHttp(
    store,
    config,
    log,
    live,
    metrics,
    healthOf(store, () => keysOn, workers),
    listen,
    process.env[WORKER_ENV.backend],
  );
  return { app, store, log };
}
