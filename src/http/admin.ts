/**
 * The admin API, `/api/v1/admin/...`: every operator and security act, for the remote CLI
 * (`--server`) and later the web console. Served only by the process that holds the keys
 * (the primary of `sigil serve`), on a Unix socket or over TLS (see cli/serve.ts).
 *
 * Every call names a token (`Authorization: Bearer sigil_...`). It is checked against the
 * role matrix (policy/roles.ts) and audited with the caller's identity: `admin.allow`
 * before the act (the act's own events follow, by the same actor), for every write; reads
 * (policy/roles.ts `isReadAction`) are recorded bounded: the first of each action per token
 * and minute as `admin.allow`, the others counted in one `admin.reads` event per token and
 * minute (authority/admin-reads.ts), so that a polling console does not grow the log;
 * `admin.deny` for a role that may not (every one); `admin.token.refused` for a missing,
 * unknown or refused token: under the token's id when the database knows it, else the
 * client's address, aggregated per source and minute (authority/refusals.ts) so that
 * nobody can grow the log by guessing.
 * Answers are JSON; no answer ever carries key material or a passphrase.
 *
 * This file holds the server, `route` and the whoami and status routes; the other routes are
 * declared through `route` by admin-routes-security.ts (custody, tokens, policy, ACME
 * settings), admin-routes-operations.ts (inventories, operator acts, audit) and
 * admin-certs.ts (the certificate acts).
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Logger } from "pino";
import { ErrorCodes, SigilError, isSigilError, type ErrorCode } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import type { RequestQueue } from "../authority/queue.js";
import type { Store } from "../store/types.js";
import { allowed, actionsOf, type AdminAction } from "../policy/roles.js";
import { authenticate, TOKEN_KEY_SINCE, type Caller, type TokenRefusal } from "../authority/tokens.js";
import { actingAs } from "../audit/actor.js";
import { clientSource, type RefusalLog } from "../authority/refusals.js";
import { recordAdminDecision } from "../authority/audit-trail.js";
import type { ReadAudit } from "../authority/admin-reads.js";
import { iso } from "../authority/views.js";
import { instancesStatus } from "../authority/instances.js";
import { adminClientCertRefusal } from "../authority/admin-client-certs.js";
import { EkuOid } from "../x509/oids.js";
import { registerSecurityRoutes } from "./admin-routes-security.js";
import { registerOperationsRoutes } from "./admin-routes-operations.js";
import type { TLSSocket } from "node:tls";

/** What the admin API needs. */
export interface AdminDeps {
  authority: Authority;
  store: Store;
  config: Config;
  queue: RequestQueue;
  logger: Logger;
  clock: () => number;
  random: (n: number) => Buffer;
  /** The admin-token key (keys/token-key.ts): token rows verify only under it. */
  tokenKey: Buffer;
  /** Rebuilds the passphrase from share files (keys/shares.ts). */
  combineShares?: (files: Array<{ name: string; text: string }>) => Promise<Buffer>;
  /** Told after every seal and unseal (metrics, workers, jobs). */
  onSealChange?: (sealed: boolean) => void | Promise<void>;
  /** Where refused tokens are audited, bounded (authority/refusals.ts). */
  refusals: Pick<RefusalLog, "record">;
  /** Where allowed calls are audited: writes per call, reads bounded (authority/admin-reads.ts). */
  reads: Pick<ReadAudit, "allow">;
}

/** Largest request body: a batch of CSRs, or share files. */
const BODY_LIMIT = 1024 * 1024;

/** HTTP status of a user error code. */
function statusOf(code: ErrorCode): number {
  switch (code) {
    case ErrorCodes.UNAUTHORIZED:
      return 401;
    case ErrorCodes.FORBIDDEN:
      return 403;
    case ErrorCodes.CA_NOT_FOUND:
    case ErrorCodes.CERT_NOT_FOUND:
    case ErrorCodes.REQUEST_NOT_FOUND:
    case ErrorCodes.NOT_FOUND:
    case ErrorCodes.KEY_NOT_FOUND:
      return 404;
    case ErrorCodes.CA_EXISTS:
    case ErrorCodes.ALREADY_REVOKED:
    case ErrorCodes.REQUEST_STATE:
    case ErrorCodes.FILE_EXISTS:
    case ErrorCodes.TOKEN_NAME_TAKEN:
      return 409;
    case ErrorCodes.SEALED:
    case ErrorCodes.NO_PASSPHRASE:
      return 503;
    default:
      return 400;
  }
}

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : "";
}

/** A route's work, run as the authenticated caller. */
export type Handler = (req: FastifyRequest, caller: Caller) => Promise<unknown>;

/** Declares a route of the admin API (authentication, role check and audit around `handler`). */
export type RouteFn = (
  method: "GET" | "POST" | "DELETE",
  url: string,
  action: AdminAction,
  handler: Handler,
) => void;

/** What the route groups (admin-routes-*.ts) are given besides `route`. */
export interface AdminRouteContext {
  deps: AdminDeps;
  /** The query string's fields. */
  q: (req: FastifyRequest) => Record<string, unknown>;
  /** The JSON body's fields: none is {}, anything but an object a usage error. */
  b: (req: FastifyRequest) => Record<string, unknown>;
  /** The path's parameters. */
  p: (req: FastifyRequest) => Record<string, string>;
  /** Every CA's name, by id. */
  caNames: () => Promise<Map<number, string>>;
}

/** Options of {@link buildAdminServer}. */
export interface AdminServerOptions {
  /**
   * Mutual TLS: besides a chain to one of Sigil's CAs (checked in the handshake), the
   * client's certificate must carry Sigil's admin-client purpose (RFC 5280 §4.2.1.12), which
   * only `sigil admin client-cert` issues: a certificate of another kind from the same
   * hierarchy (a user's, an ACME host's) is refused with 401, audited.
   */
  adminClientCert?: boolean;
  /**
   * The client's address, when the listener knows it: the backend socket takes the one the
   * public listener passes on (http/backend-proxy.ts); the TLS listener, the peer's. Default:
   * the peer's address (none on a Unix socket).
   */
  clientOf?: (req: FastifyRequest) => string | undefined;
}

/** Builds the admin API app (not listening). */
export function buildAdminServer(
  deps: AdminDeps,
  fastifyOpts: Record<string, unknown> = {},
  opts: AdminServerOptions = {},
): FastifyInstance {
  const clientOf = opts.clientOf ?? ((req: FastifyRequest) => req.ip || undefined);
  const app = Fastify({
    loggerInstance: deps.logger.child({ api: "admin" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    requestTimeout: 120_000,
    ...fastifyOpts,
  });
  const { authority, store } = deps;

  const audit = (actor: string, action: string, target: string | null, details: Record<string, unknown>) =>
    recordAdminDecision({ store, clock: deps.clock }, actor, action, target, details);

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (isSigilError(err) && err.kind === "user")
      return reply
        .code(statusOf(err.code))
        .send({ error: { code: err.code, message: oneLine(err.message) } });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      return reply
        .code(err.statusCode)
        .send({ error: { code: "bad_request", message: oneLine(err.message) } });
    req.log.error({ err: { message: err.message } }, "admin request failed");
    return reply
      .code(500)
      .send({ error: { code: "internal", message: "internal error (see the service log)" } });
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).send({ error: { code: "not_found", message: "no such admin endpoint" } }),
  );
  if (opts.adminClientCert)
    app.addHook("onRequest", async (req, reply) => {
      const sock = req.raw.socket as TLSSocket;
      const peer = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : undefined;
      let reason = "not an admin client certificate";
      let message =
        "the client certificate is not an admin client certificate (make one with 'sigil admin client-cert NAME')";
      if (peer && Array.isArray(peer.ext_key_usage) && peer.ext_key_usage.includes(EkuOid.sigilAdminClient)) {
        // The right kind: is it still good (not revoked, the one the CA issued)?
        const refusal = Buffer.isBuffer(peer.raw)
          ? await adminClientCertRefusal(store, peer.raw)
          : "no certificate";
        if (refusal === undefined) return;
        reason = refusal;
        message = refusal;
      }
      // Per certificate (only Sigil's CAs issue one that gets this far), else per address.
      const serial = peer && typeof peer.serialNumber === "string" ? peer.serialNumber.toLowerCase() : "";
      const client = clientOf(req);
      await deps.refusals.record({
        action: "admin.client-cert.refused",
        source: serial ? `client-cert:${peer!.issuer?.CN ?? "?"}/${serial}` : clientSource(client),
        target: null,
        reason,
        details: {
          method: req.method,
          path: req.url.split("?")[0],
          ...(client ? { client } : {}),
          ...(peer && peer.subject
            ? { subject: peer.subject.CN ?? null, issuer: peer.issuer?.CN ?? null, serial: peer.serialNumber }
            : {}),
        },
      });
      return reply.code(401).send({ error: { code: ErrorCodes.UNAUTHORIZED, message } });
    });
  // Defence in depth: an answer that would carry a private key is never sent.
  app.addHook("onSend", async (_req, reply, payload) => {
    if (typeof payload === "string" && /PRIVATE KEY-----/.test(payload)) {
      reply.code(500);
      return JSON.stringify({ error: { code: "internal", message: "internal error (answer withheld)" } });
    }
    return payload;
  });

  /** Declares a route: authenticate, check the matrix, audit, then run as the caller. */
  const route: RouteFn = (method, url, action, handler) => {
    app.route({
      method,
      url,
      handler: async (req: FastifyRequest, reply: FastifyReply) => {
        const auth = await authenticate({ store, key: deps.tokenKey }, bearer(req), deps.clock());
        if ("refused" in auth) {
          // Under the token's id when the database knows it, else under the client's
          // address: an unknown id is the caller's to choose, so it must not be a key.
          const known = auth.tokenId !== undefined && auth.refused !== "unknown";
          const client = clientOf(req);
          await deps.refusals.record({
            action: "admin.token.refused",
            source: known ? `token-id:${auth.tokenId}` : client ? clientSource(client) : "socket",
            target: action,
            reason: auth.refused,
            details: {
              method,
              path: req.routeOptions.url,
              ...(auth.tokenId !== undefined ? { tokenId: auth.tokenId } : {}),
              ...(client ? { client } : {}),
            },
          });
          return reply
            .code(401)
            .header("www-authenticate", 'Bearer realm="sigil-admin"')
            .send({
              error: {
                code: ErrorCodes.UNAUTHORIZED,
                message: refusalMessage(auth.refused),
              },
            });
        }
        const { caller } = auth;
        if (!allowed(caller.role, action)) {
          await audit(caller.actor, "admin.deny", action, {
            method,
            path: req.routeOptions.url,
            role: caller.role,
          });
          return reply.code(403).send({
            error: {
              code: ErrorCodes.FORBIDDEN,
              message: `role ${caller.role} may not ${action} (it may: ${actionsOf(caller.role).join(", ")})`,
            },
          });
        }
        // Every write at once; reads bounded per token, action and minute (authority/admin-reads.ts).
        await deps.reads.allow(caller.actor, action, { method, path: req.routeOptions.url });
        const body = await actingAs(caller.actor, () => handler(req, caller));
        return reply.send(body ?? { ok: true });
      },
    });
  };

  const ctx: AdminRouteContext = {
    deps,
    q: (req) => (req.query ?? {}) as Record<string, unknown>,
    b: (req) => {
      const v = req.body;
      if (v === undefined || v === null) return {} as Record<string, unknown>;
      if (typeof v !== "object" || Array.isArray(v))
        throw new SigilError(ErrorCodes.USAGE, "the body must be a JSON object");
      return v as Record<string, unknown>;
    },
    p: (req) => req.params as Record<string, string>,
    caNames: async () => new Map((await authority.listCas()).map((c) => [c.id, c.name])),
  };

  route("GET", "/api/v1/admin/whoami", "status", async (_req, caller) => ({
    name: caller.name,
    role: caller.role,
    tokenId: caller.tokenId,
    may: actionsOf(caller.role),
  }));
  route("GET", "/api/v1/admin/status", "status", async () => ({
    sealed: authority.sealed,
    cas: await Promise.all(
      (await authority.listCas()).map(async (c) => {
        const s = await authority.standing(c);
        return {
          name: c.name,
          custody: c.keyRef.split(":")[0],
          notAfter: iso(c.notAfter),
          status: s.state,
          revokedAt: iso(s.revokedAt),
        };
      }),
    ),
    // The instances on this database and who runs each job (no secrets: any role may see).
    ...(await instancesStatus(store)),
  }));

  // ---- custody, tokens, policy, ACME settings and EAB keys (security) ----------------
  registerSecurityRoutes(route, ctx);
  // ---- inventories, operator acts, audit (auditor, security) -------------------------
  registerOperationsRoutes(route, ctx);

  return app;
}

/** What a client is told about a refused token (the audit log records the exact reason). */
function refusalMessage(refused: TokenRefusal): string {
  switch (refused) {
    case "missing":
      return "an admin token is required (Authorization: Bearer ...; SIGIL_TOKEN or --token-file)";
    case "expired":
      return "the admin token is expired";
    case "revoked":
      return "the admin token is revoked";
    case "legacy":
      return `the admin token was created before Sigil ${TOKEN_KEY_SINCE} keyed token hashes and is no longer accepted: a security admin must re-create it (sigil admin token create)`;
    default:
      return "the admin token is not valid";
  }
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 500);
}
