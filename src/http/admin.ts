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
import type { RequestState, Store } from "../store/types.js";
import { allowed, actionsOf, type AdminAction } from "../policy/roles.js";
import {
  authenticate,
  createToken,
  revokeToken,
  parseDuration,
  TOKEN_KEY_SINCE,
  type Caller,
  type TokenRefusal,
} from "../authority/tokens.js";
import { actingAs } from "../audit/actor.js";
import { clientSource, type RefusalLog } from "../authority/refusals.js";
import { recordAdminDecision } from "../authority/audit-trail.js";
import type { ReadAudit } from "../authority/admin-reads.js";
import { caView, certView, requestView, tokenView, iso } from "../authority/views.js";
import { instancesStatus } from "../authority/instances.js";
import { adminClientCertRefusal } from "../authority/admin-client-certs.js";
import { acmeSettingsActs, settingsView } from "../authority/acme/settings.js";
import { toPem } from "../x509/der.js";
import { listedProfileName, INTERNAL_PROFILES } from "../x509/profiles.js";
import { KEY_TYPES, type KeyType } from "../keys/types.js";
import { EkuOid } from "../x509/oids.js";
import { int, str } from "./admin-input.js";
import { registerCertActs } from "./admin-certs.js";
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
const STATES: RequestState[] = ["pending", "approved", "rejected", "issued", "failed"];

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
  const { authority, store, queue } = deps;

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

  const q = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;
  const b = (req: FastifyRequest) => {
    const v = req.body;
    if (v === undefined || v === null) return {} as Record<string, unknown>;
    if (typeof v !== "object" || Array.isArray(v))
      throw new SigilError(ErrorCodes.USAGE, "the body must be a JSON object");
    return v as Record<string, unknown>;
  };
  const p = (req: FastifyRequest) => req.params as Record<string, string>;
  const caNames = async () => new Map((await authority.listCas()).map((c) => [c.id, c.name]));

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

  // ---- custody (security) ----------------------------------------------------------
  route("POST", "/api/v1/admin/unseal", "unseal", async (req) => {
    const body = b(req);
    let pass: Buffer;
    let method: string;
    if (Array.isArray(body.shares)) {
      if (!deps.combineShares)
        throw new SigilError(ErrorCodes.USAGE, "this service cannot combine key shares");
      const files = body.shares.map((s: unknown, i: number) => {
        const o = (s ?? {}) as Record<string, unknown>;
        return {
          name: str(o.name, `shares[${i}].name`, { max: 256 })!,
          text: str(o.text, `shares[${i}].text`, { max: 64 * 1024 })!,
        };
      });
      pass = await deps.combineShares(files);
      method = `shares(${files.length})`;
    } else {
      pass = Buffer.from(str(body.passphrase, "passphrase", { max: 4096 })!, "utf8");
      method = "passphrase";
    }
    try {
      if (!authority.sealed) throw new SigilError(ErrorCodes.REQUEST_STATE, "the service is not sealed");
      const r = await authority.unseal(pass, method).catch((e: unknown) => {
        if (method !== "passphrase" && isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
          throw new SigilError(
            ErrorCodes.WRONG_PASSPHRASE,
            "the shares do not reconstruct the keys' passphrase (a share may be forged or from another set); still sealed",
          );
        throw e;
      });
      await deps.onSealChange?.(false);
      return { sealed: false, keys: r.opened };
    } finally {
      pass.fill(0);
    }
  });
  route("POST", "/api/v1/admin/seal", "seal", async () => {
    if (authority.sealed) throw new SigilError(ErrorCodes.REQUEST_STATE, "the service is already sealed");
    await authority.seal(true);
    await deps.onSealChange?.(true);
    return { sealed: true };
  });

  // ---- tokens (security) -----------------------------------------------------------
  route("GET", "/api/v1/admin/tokens", "token.list", async () => ({
    tokens: (await store.listAdminTokens()).map(tokenView),
  }));
  route("POST", "/api/v1/admin/tokens", "token.create", async (req, caller) => {
    const body = b(req);
    const { token, record } = await createToken(
      { store, clock: deps.clock, random: deps.random, key: deps.tokenKey },
      {
        name: str(body.name, "name", { max: 64 })!,
        role: str(body.role, "role", { max: 16 })!,
        ttlMs: parseDuration(str(body.expires, "expires", { optional: true, max: 16 }) ?? "90d"),
        createdBy: caller.actor,
      },
    );
    return { token, id: record.id, name: record.name, role: record.role, expiresAt: iso(record.expiresAt) };
  });
  route("DELETE", "/api/v1/admin/tokens/:id", "token.revoke", async (req, caller) => {
    const t = await revokeToken({ store, clock: deps.clock, random: deps.random }, p(req).id!, caller.actor);
    return { id: t.id, name: t.name, revokedAt: iso(t.revokedAt) };
  });

  route("GET", "/api/v1/admin/policy", "policy.read", async () => ({
    intake: deps.config.intake,
    crl: deps.config.crl,
    ocsp: deps.config.ocsp,
  }));

  // ---- ACME settings and EAB keys (security) -----------------------------------------
  // The use cases of `sigil acme enable|disable|eab` (authority/acme/settings.ts). An EAB
  // HMAC key is in the answer that made it, once: never in a log or an audit event.
  const acmeActs = acmeSettingsActs({
    store,
    config: deps.config,
    authority,
    clock: deps.clock,
    random: deps.random,
  });
  route("POST", "/api/v1/admin/cas/:name/acme", "acme.enable", async (req, caller) => {
    const body = b(req);
    const flag = (v: unknown, what: string) => {
      if (v !== undefined && typeof v !== "boolean")
        throw new SigilError(ErrorCodes.USAGE, `bad ${what}: give true or false`);
      return v === true;
    };
    const maxDays = int(body.maxDays, "maxDays");
    if (maxDays !== undefined && (maxDays < 1 || maxDays > 36525))
      throw new SigilError(ErrorCodes.USAGE, "bad maxDays: give whole days between 1 and 36525");
    const s = await acmeActs.enable(
      p(req).name!,
      {
        allow: body.allow as string[],
        maxDays: maxDays ?? null,
        eab: flag(body.eab, "eab"),
        manualApproval: flag(body.manualApproval, "manualApproval"),
        profile: str(body.profile, "profile", { optional: true, max: 32 }) ?? "system",
      },
      caller.actor,
    );
    return settingsView(s, deps.config);
  });
  route("DELETE", "/api/v1/admin/cas/:name/acme", "acme.disable", async (req, caller) =>
    settingsView(await acmeActs.disable(p(req).name!, caller.actor), deps.config),
  );
  route("POST", "/api/v1/admin/cas/:name/acme/eab", "acme.eab.create", async (req, caller) =>
    acmeActs.createEabKey(p(req).name!, caller.actor),
  );
  route("GET", "/api/v1/admin/cas/:name/acme/eab", "acme.eab.list", async (req) => ({
    keys: await acmeActs.listEabKeys(p(req).name!),
  }));

  // ---- inventories -----------------------------------------------------------------
  route("GET", "/api/v1/admin/cas", "ca.list", async () => {
    const cas = await authority.listCas();
    const names = new Map(cas.map((c) => [c.id, c.name]));
    const standings = await Promise.all(cas.map((c) => authority.standing(c)));
    return {
      cas: cas.map((c, i) =>
        caView(c, c.parentId === null ? null : (names.get(c.parentId) ?? null), standings[i]),
      ),
    };
  });
  route("POST", "/api/v1/admin/cas", "ca.create", async (req) => {
    const body = b(req);
    const { parseDn } = await import("../x509/dn.js");
    const name = str(body.name, "name", { max: 64 })!;
    const parent = str(body.parent, "parent", { optional: true, max: 64 });
    const common = {
      name,
      subject: parseDn(
        str(body.subject, "subject (a DN, e.g. /O=Example/CN=Example Team CA)", { max: 1024 })!,
      ),
      days: int(body.days, "days") ?? (parent ? 3650 : 7300),
      keyType: (str(body.keyType, "keyType", { optional: true, max: 16 }) ??
        deps.config.defaultKeyType) as KeyType,
      pathLen: int(body.pathLen, "pathLen") ?? undefined,
      defaultProfile: str(body.defaultProfile, "defaultProfile", { optional: true, max: 32 }) ?? "system",
    };
    if (!KEY_TYPES.includes(common.keyType))
      throw new SigilError(
        ErrorCodes.USAGE,
        `unknown keyType "${common.keyType}" (known: ${KEY_TYPES.join(", ")})`,
      );
    // Where the new CA's key is made (`sigil ca create-child --key-store`): an encrypted
    // file of the server's data folder, or the PKCS#11 token of its sigil.json.
    const keyBackend = str(body.keyStore, "keyStore", { optional: true, max: 16 }) ?? "file";
    if (keyBackend !== "file" && keyBackend !== "pkcs11")
      throw new SigilError(ErrorCodes.USAGE, `unknown keyStore "${keyBackend}" (known: file, pkcs11)`);
    const ca = parent
      ? await authority.createChild({ ...common, parent, clamp: body.clamp === true, keyBackend })
      : await authority.createRoot({ ...common, keyBackend });
    return caView(ca, parent ?? null);
  });
  route("POST", "/api/v1/admin/cas/:name/retire", "ca.retire", async (req) => {
    const r = await authority.retireCa(p(req).name!);
    return {
      name: p(req).name,
      serial: r.cert.serialHex,
      revokedAt: iso(r.cert.revokedAt),
      crlNumber: r.crlNumber,
    };
  });
  route("GET", "/api/v1/admin/certs", "cert.list", async (req) => {
    const query = q(req);
    const now = deps.clock();
    const caName = str(query.ca, "ca", { optional: true, max: 64 });
    const status = str(query.status, "status", { optional: true, max: 16 });
    if (status !== undefined && !["valid", "revoked", "expired"].includes(status))
      throw new SigilError(ErrorCodes.USAGE, `unknown status "${status}" (known: valid, revoked, expired)`);
    const days = int(query.expiringDays, "expiringDays");
    const match = str(query.match, "match", { optional: true, max: 256 });
    const limit = Math.min(int(query.limit, "limit") ?? 10_000, 100_000);
    // The internal profiles (OCSP responders, CA certificates) only when asked for by name.
    const profile = str(query.profile, "profile", { optional: true, max: 32 });
    const certs = await authority.certs({
      ...(profile !== undefined
        ? { profile: listedProfileName(profile) }
        : { excludeProfiles: INTERNAL_PROFILES }),
      caId: caName ? (await authority.getCa(caName)).id : undefined,
      status:
        (status as "valid" | "revoked" | "expired" | undefined) ?? (days !== undefined ? "valid" : undefined),
      expiringBefore: days !== undefined ? now + days * 86_400_000 : undefined,
      ...(match ? { match } : {}),
      limit: limit + 1,
    });
    const names = await caNames();
    return {
      certs: certs.slice(0, limit).map((c) => certView(c, names.get(c.caId) ?? "?", now)),
      // More match than one answer carries: the caller narrows the query or asks for more.
      ...(certs.length > limit ? { truncated: true } : {}),
    };
  });
  route("GET", "/api/v1/admin/expiring", "expiring.list", async (req) => {
    const now = deps.clock();
    const days = int(q(req).days, "days") ?? 30;
    const certs = await authority.certs({
      status: "valid",
      expiringBefore: now + days * 86_400_000,
      excludeProfiles: INTERNAL_PROFILES,
    });
    const names = await caNames();
    return { days, certs: certs.map((c) => certView(c, names.get(c.caId) ?? "?", now)) };
  });
  route("GET", "/api/v1/admin/stats/expiry", "expiring.list", async (req) => {
    const weeks = Math.min(Math.max(int(q(req).weeks, "weeks") ?? 26, 1), 104);
    const week = 7 * 86_400_000;
    const from = deps.clock();
    const rows = await store.expiryHistogram(from, week, weeks);
    const names = await caNames();
    const series = new Map<string, number[]>();
    for (const ca of await authority.listCas()) series.set(ca.name, new Array<number>(weeks).fill(0));
    for (const r of rows) {
      const counts = series.get(names.get(r.caId) ?? "?");
      if (counts && r.bucket >= 0 && r.bucket < weeks) counts[r.bucket] = r.count;
    }
    return {
      from: iso(from),
      weekStarts: Array.from({ length: weeks }, (_, i) => iso(from + i * week)),
      series: [...series].map(([ca, counts]) => ({ ca, counts })),
    };
  });
  route("GET", "/api/v1/admin/certs/:ca/:serial", "cert.show", async (req) => {
    const { ca, serial } = p(req);
    const c = await authority.findCert(ca!, serial!);
    if (!c)
      throw new SigilError(
        ErrorCodes.CERT_NOT_FOUND,
        `no certificate with serial ${serial} issued by CA ${ca}`,
      );
    const chain = await authority.chain(ca!);
    return {
      ...certView(c, ca!, deps.clock()),
      pem: toPem(c.der, "CERTIFICATE"),
      chainPem: chain.map((x) => toPem(x.certDer, "CERTIFICATE")).join(""),
    };
  });

  // ---- operator acts ---------------------------------------------------------------
  registerCertActs(route, b, authority);
  route("POST", "/api/v1/admin/crl/:ca", "crl.publish", async (req) => {
    const r = await authority.publishCrl(p(req).ca!);
    return { crlNumber: r.crlNumber, entries: r.entries, der: r.der.toString("base64") };
  });
  route("GET", "/api/v1/admin/requests", "request.list", async (req) => {
    const state = str(q(req).state, "state", { optional: true, max: 16 });
    if (state !== undefined && !STATES.includes(state as RequestState))
      throw new SigilError(ErrorCodes.USAGE, `unknown state "${state}" (known: ${STATES.join(", ")})`);
    const rows = await store.listRequests({
      ...(state ? { state: state as RequestState } : {}),
      limit: int(q(req).limit, "limit") ?? 1000,
    });
    return { requests: rows.map(requestView) };
  });
  route("GET", "/api/v1/admin/requests/:id", "request.show", async (req) => {
    const r = await queue.get(requestId(p(req).id));
    // A refused input that was not a CSR is not kept: no PEM to show.
    return {
      ...requestView(r),
      csrPem: r.csrDer.length ? toPem(r.csrDer, "CERTIFICATE REQUEST") : null,
    };
  });
  route("POST", "/api/v1/admin/requests/:id/approve", "request.approve", async (req) => {
    const body = b(req);
    const issued = await queue.approve(requestId(p(req).id), {
      ...(body.ca !== undefined ? { caName: str(body.ca, "ca", { max: 64 })! } : {}),
      ...(body.profile !== undefined ? { profile: str(body.profile, "profile", { max: 32 })! } : {}),
      ...(body.days !== undefined ? { days: int(body.days, "days")! } : {}),
    });
    return {
      serial: issued.cert.serialHex,
      subject: issued.cert.subject,
      notAfter: iso(issued.cert.notAfter),
      pem: issued.pem,
    };
  });
  route("POST", "/api/v1/admin/requests/:id/reject", "request.reject", async (req) => {
    const r = await queue.reject(requestId(p(req).id), str(b(req).reason, "reason", { max: 2000 })!);
    return requestView(r);
  });
  route("POST", "/api/v1/admin/notices/run", "notices.run", async () => {
    const { queueNotices } = await import("../authority/notices.js");
    const r = await queueNotices(store, deps.config, deps.clock(), "admin-api");
    return { notices: r.notices, summary: r.summary ? 1 : 0 };
  });

  // ---- audit (auditor, security) ---------------------------------------------------
  route("GET", "/api/v1/admin/audit", "audit.read", async (req) => {
    const after = int(q(req).after, "after") ?? 0;
    const limit = Math.min(int(q(req).limit, "limit") ?? 1000, 10_000);
    const events = [];
    for await (const e of authority.auditLog(after)) {
      events.push(e);
      if (events.length >= limit) break;
    }
    return { events };
  });
  route("GET", "/api/v1/admin/audit/verify", "audit.verify", async () => authority.verifyAudit());
  // The signed checkpoints and inclusion proofs (RFC 9162 §2.1): what an auditor checks
  // against their own copy of the pinned audit key.
  route("GET", "/api/v1/admin/audit/checkpoints", "audit.read", async () => ({
    checkpoints: await authority.checkpoints.list(),
  }));
  route("GET", "/api/v1/admin/audit/proof/:seq", "audit.read", async (req) =>
    authority.checkpoints.prove(int(p(req).seq, "seq") ?? 0, int(q(req).size, "size")),
  );

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

function requestId(v: string | undefined): number {
  if (!v || !/^\d{1,12}$/.test(v))
    throw new SigilError(ErrorCodes.USAGE, `bad request id "${v}": give a number`);
  return Number(v);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 500);
}
