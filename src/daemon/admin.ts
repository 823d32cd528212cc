/**
 * The admin API's listeners in `sigil serve` (primary process only: it holds the keys):
 * a Unix socket in the data folder (mode 0660: who may connect is a file-system matter,
 * and a token is still required), and a TLS listener with a certificate Sigil issues to
 * itself. Plain HTTP is allowed only on a loopback address (`admin.tls: false`), so tokens
 * and passphrases never cross a network in clear. Tokens verify under the home's token key
 * (keys/token-hmac.key), read or made at start.
 */
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { randomBytes } from "node:crypto";
import type { Server as HttpsServer } from "node:https";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { ErrorCodes, SigilError } from "../errors.js";
import type { RequestQueue } from "../authority/queue.js";
import { buildAdminServer, type AdminDeps } from "../http/admin.js";
import { ensureAdminTls, readAdminTls, type AdminTls } from "../http/admin-tls.js";
import { CLIENT_HEADER, registerPortal } from "../http/portal.js";
import { RefusalLog } from "../authority/refusals.js";
import { ReadAudit } from "../authority/admin-reads.js";
import { registerWebApp } from "../http/web-static.js";
import { removeDeadBackendSockets, socketAnswers } from "../http/unix-socket.js";
import type { Context } from "../app/open.js";
import { ensureHomeTokenKey } from "../app/open.js";
import { ADMIN_LISTEN_HINT, isLoopback, listenError, parseListen } from "./listen.js";

/** The running admin listeners. */
export interface AdminService {
  /** The backend socket the public listener passes portal and admin calls to. */
  backendSocket: string;
  /** Where the API answers: `unix:PATH`, `https://HOST:PORT`. */
  addresses(): string[];
  /**
   * The admin socket this instance listens on; undefined when there is none or another
   * instance on this data folder serves it.
   */
  socket: string | undefined;
  /** Renews the TLS certificate when due (unsealed only) and starts TLS if it waited. */
  renewTls(): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts the admin API listeners configured in `admin` (and `--admin-listen`). */
export async function startAdmin(
  ctx: Context,
  opts: { adminListen?: string },
  log: Logger,
  queue: RequestQueue,
  onSealChange: (unsealed: boolean) => Promise<void>,
): Promise<AdminService> {
  const { config, store, authority, paths } = ctx;
  const listenSpec = opts.adminListen ?? config.admin.listen ?? "off";
  const listen = listenSpec === "off" ? undefined : parseListen(listenSpec);
  if (listen && !config.admin.tls && !isLoopback(listen.host))
    throw new SigilError(
      ErrorCodes.CONFIG,
      `admin.listen ${listenSpec} is not a loopback address: the admin API needs TLS there (admin.tls: true)`,
    );
  const { combineShares } = await loadShares();
  const tokenKey = await loadTokenKey(ctx, log);
  // One refusal log for the admin API, the portal and ACME (all served by this process).
  const refusals = new RefusalLog({
    store,
    clock: () => Date.now(),
    onError: (e) => log.error({ err: (e as Error).message }, "a refusal could not be audited"),
  });
  // One read log for every admin listener of this process: reads counted per token and minute.
  const reads = new ReadAudit({
    store,
    clock: () => Date.now(),
    onError: (e) => log.error({ err: (e as Error).message }, "admin read counts could not be audited"),
  });
  const apps: FastifyInstance[] = [];
  const addresses: string[] = [];
  let tlsApp: FastifyInstance | undefined;
  let tls: AdminTls | undefined;

  const deps: AdminDeps = {
    authority,
    store,
    config,
    queue,
    logger: log,
    clock: () => Date.now(),
    random: (n) => randomBytes(n),
    tokenKey,
    refusals,
    reads,
    ...(combineShares ? { combineShares } : {}),
    onSealChange: async (sealed) => {
      await onSealChange(!sealed);
      if (!sealed) await startTlsWhenReady();
    },
  };

  // The backend for the public listener (its workers hold no keys and a read-only store):
  // the admin API and the web portal's API, on a socket only this user can open.
  // One per process: several instances may share a data folder (one PostgreSQL store).
  const backendSocket = paths.backendSocket(process.pid);
  await mkdir(dirname(backendSocket), { recursive: true, mode: 0o700 });
  await removeDeadBackendSockets(dirname(backendSocket));
  await removeStaleSocket(backendSocket);
  // The public listener passes the client's address on (http/backend-proxy.ts).
  const backend = buildAdminServer(deps, {}, { clientOf: (req) => header(req, CLIENT_HEADER) });
  registerPortal(backend, {
    authority,
    store,
    config,
    queue,
    logger: log,
    clock: deps.clock,
    random: deps.random,
    refusals,
  });
  await registerAcmeService(backend, ctx, queue, log, refusals);
  await backend.listen({ path: backendSocket });
  apps.push(backend);
  /** On a failed start (the TLS port in use), what listens already is closed again. */
  const orClose = async (f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      for (const app of apps) await app.close().catch(() => undefined);
      await reads.close();
      throw e;
    }
  };
  await orClose(() => chmod(backendSocket, 0o600));

  // SIGIL_ADMIN_SOCKET (set by deploy/systemd/sigil.service: /run/sigil/admin.sock) wins.
  const path = paths.adminSocket(config.admin.socket);
  let socket: string | undefined;
  if (path) {
    await orClose(async () => {
      if (await socketAnswers(path)) {
        // Another instance on this data folder serves it: the same API, the same database.
        log.warn({ socket: path }, "the admin socket is served by another instance; not listening on it");
      } else {
        await removeStaleSocket(path);
        const app = buildAdminServer(deps, {}, { clientOf: () => undefined });
        await app.listen({ path });
        apps.push(app);
        await chmod(path, 0o660);
        addresses.push(`unix:${path}`);
        socket = path;
      }
    });
  }

  const startTlsWhenReady = async (): Promise<void> => {
    if (!listen || tlsApp) return;
    if (config.admin.tls) {
      tls = authority.sealed
        ? await readAdminTls(paths.tls, authority)
        : await ensureAdminTls(paths.tls, config, authority, Date.now());
      if (!tls) {
        log.warn("the admin API's TLS listener starts after the first unseal (it needs a certificate)");
        return;
      }
    }
    const app = buildAdminServer(
      deps,
      tls
        ? {
            https: {
              key: tls.key,
              cert: tls.cert,
              minVersion: "TLSv1.2",
              ...(config.admin.mtls ? { ca: tls.cas, requestCert: true, rejectUnauthorized: true } : {}),
            },
          }
        : {},
      { adminClientCert: Boolean(tls && config.admin.mtls) },
    );
    // The admin console (the web app) is served here too: same origin as the admin API.
    registerWebApp(app);
    try {
      await app.listen({ host: listen.host, port: listen.port });
    } catch (e) {
      await app.close().catch(() => undefined);
      throw listenError(e, `the admin ${tls ? "TLS" : "HTTP"} listener`, listen, ADMIN_LISTEN_HINT);
    }
    const a = app.server.address();
    const port = a && typeof a === "object" ? a.port : listen.port;
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
    const address = `${tls ? "https" : "http"}://${host}:${port}`;
    addresses.push(address);
    tlsApp = app;
    apps.push(app);
    if (started) process.stderr.write(`sigil serve: admin API ${address} (TLS listener started)\n`);
  };
  let started = false;
  await orClose(startTlsWhenReady);
  started = true;

  return {
    backendSocket,
    socket,
    addresses: () => [...addresses],
    async renewTls() {
      if (!listen || !config.admin.tls || authority.sealed) return {};
      if (!tlsApp) {
        await startTlsWhenReady();
        return { started: tlsApp ? 1 : 0 };
      }
      const next = await ensureAdminTls(paths.tls, config, authority, Date.now());
      if (tls && next.cert.equals(tls.cert)) return {};
      tls = next;
      (tlsApp.server as HttpsServer).setSecureContext({
        key: next.key,
        cert: next.cert,
        // A new secure context replaces the old one whole: keep trusting the CAs for mTLS.
        ...(config.admin.mtls ? { ca: next.cas } : {}),
      });
      return { renewed: 1 };
    },
    async close() {
      for (const app of apps) await app.close();
      await refusals.close(); // the last minute's refusal summaries
      await reads.close(); // the last minute's read counts (a crash loses them: at most a minute's)
    },
  };
}

/**
 * The admin-token key of the home (made now if there is none), with a warning for tokens
 * that cannot verify: made before token keys (re-create them), or live keyed tokens when
 * the key was just made (made with another home's key: copy that file here).
 */
async function loadTokenKey(ctx: Context, log: Logger): Promise<Buffer> {
  const { key, created, file } = await ensureHomeTokenKey(ctx.paths);
  const now = Date.now();
  const live = (await ctx.store.listAdminTokens()).filter((t) => t.revokedAt === null && t.expiresAt > now);
  const legacy = live.filter((t) => t.scheme !== "hmac-sha256");
  if (legacy.length > 0)
    log.warn(
      { tokens: legacy.map((t) => t.id) },
      "admin tokens created before token keys are refused: re-create them (sigil admin token create)",
    );
  const orphans = created ? live.length - legacy.length : 0;
  if (orphans > 0)
    log.warn(
      { tokens: orphans, keyFile: file },
      "made a new token key, but live tokens were made under another: they are refused until the token key of the home that made them is copied here (instances sharing a database need the same key file)",
    );
  return key;
}

/**
 * The ACME server (RFC 8555) on the backend: `/acme/CA/...`, for the CAs `sigil acme
 * enable` (or config `acme.cas`) opened. The one place the daemon constructs it.
 */
async function registerAcmeService(
  backend: FastifyInstance,
  ctx: Context,
  queue: RequestQueue,
  log: Logger,
  refusals: RefusalLog,
): Promise<void> {
  const { authority, store, config } = ctx;
  const { registerAcme } = await import("../acme/server.js");
  const { makeValidators } = await import("../acme/challenges.js");
  registerAcme(backend, {
    authority,
    store,
    acme: store.acme,
    config,
    queue,
    validators: makeValidators({
      http01Port: config.acme.http01Port,
      tlsAlpn01Port: config.acme.tlsAlpn01Port,
      ...(config.acme.dnsServer ? { dnsServer: config.acme.dnsServer } : {}),
      timeoutMs: config.acme.validationTimeoutSeconds * 1000,
    }),
    logger: log,
    clock: () => Date.now(),
    random: (n) => randomBytes(n),
    refusals,
  });
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v ? v : undefined;
}

/** A socket left by a crashed run is removed; anything else at that path is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket())
      throw new SigilError(ErrorCodes.CONFIG, `admin.socket ${path} exists and is not a socket`);
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}

/** The share combiner (keys/shares.ts), when this build has it. */
async function loadShares(): Promise<{
  combineShares?: (files: Array<{ name: string; text: string }>) => Promise<Buffer>;
}> {
  const { combineShares } = await import("../keys/shares.js");
  return { combineShares: async (files) => (await combineShares(files)).secret };
}
