/**
 * The daemon's public listener (OCSP, CRLs, CA certificates, health, metrics, and the
 * portal, admin and ACME calls it passes on to the primary's backend socket), its health
 * answer, its logger, and its wait for a stop signal.
 */
import cluster from "node:cluster";
import { pino, type Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Store } from "../store/types.js";
import { OcspAnswers, type LiveSigner } from "../authority/ocsp-answers.js";
import { buildServer } from "../http/server.js";
import { VERSION } from "../version.js";
import { PUBLIC_LISTEN_HINT, isLoopback, listenError, parseListen, type ListenAddress } from "./listen.js";

/** The daemon's logger (JSON on stdout), with its pid and role (primary or worker). */
export function makeLogger(): Logger {
  return pino({
    base: { pid: process.pid, role: cluster.isPrimary ? "primary" : "worker" },
    // Defence in depth: nothing secret is logged on purpose; these paths never are.
    redact: {
      paths: ["req.headers.authorization", "req.headers.cookie", "passphrase", "*.passphrase"],
      remove: true,
    },
  });
}

/** Starts the public listener on `listenOverride` (default: config serve.listen). */
export async function startHttp(
  store: Store,
  config: Config,
  log: Logger,
  live: LiveSigner | undefined,
  metrics: () => Promise<{ contentType: string; body: string }>,
  health: () => Promise<Record<string, unknown>>,
  listenOverride?: ListenAddress,
  backendSocket?: string,
) {
  const answers = new OcspAnswers({
    store,
    clock: () => Date.now(),
    nonce: config.ocsp.nonce,
    live,
    onError: (e) => log.error({ err: (e as Error).message }, "OCSP answer failed"),
    ...(config.ocsp.cacheMegabytes !== undefined
      ? { cacheBytes: config.ocsp.cacheMegabytes * 1024 * 1024 }
      : {}),
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

/** The `/healthz` answer. */
export function healthOf(
  store: Store,
  keys: () => boolean,
  workers: number,
): () => Promise<Record<string, unknown>> {
  return async () => {
    try {
      const [cas, head, last] = await Promise.all([
        store.listCas(),
        store.auditHead(),
        store.lastAuditCheckpoint(),
      ]);
      // Audit checkpoints are signed only while unsealed (authority/audit-checkpoints.ts).
      const audit = {
        checkpoints: keys() ? "signing" : "sealed: no checkpoints signed",
        unsignedEvents: Math.max(0, (head?.seq ?? 0) - (last?.treeSize ?? 0)),
        ...(last ? { lastCheckpoint: { treeSize: last.treeSize, at: new Date(last.at).toISOString() } } : {}),
      };
      return {
        status: "ok",
        version: VERSION,
        cas: cas.length,
        canSign: keys(),
        sealed: !keys(),
        workers,
        audit,
      };
    } catch (e) {
      return { status: "error", error: (e as Error).message };
    }
  };
}

/** Resolves on SIGTERM or SIGINT (graceful shutdown). */
export function waitForSignal(log: Logger, announce = true): Promise<void> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      if (announce) log.info({ signal: sig }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", () => on("SIGTERM"));
    process.once("SIGINT", () => on("SIGINT"));
  });
}
