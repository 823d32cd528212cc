/**
 * The ACME server (RFC 8555) of each ACME-enabled CA, at `/acme/{ca}/...`: one more request
 * channel into the request queue, with the same CSR checks, policy and profiles as `sigil
 * sign`, the e-mail intake and the web portal. Served by the process that writes the store
 * and holds the keys (the primary of `sigil serve`), behind the public listener.
 *
 * This file and its resource modules are the wire format only: routes, JWS parsing and
 * verification (jws.ts), problem documents, and the JSON, URLs and headers of the answers.
 * Here: the plumbing every route shares (the {@link AcmeContext}), the directory and nonces;
 * the account routes are in server-accounts.ts, the order, authorization, challenge,
 * certificate and revocation routes in server-orders.ts. What an account, order,
 * authorization, challenge or revocation may do, and every state change with its audit
 * event, is a use case of authority/acme/ (one transaction per act).
 *
 * - Every POST is a flattened JWS (§6.2) whose `url` must be the request's URL (§6.4) and
 *   whose nonce must be one this server issued, not used before and not older than an hour
 *   (§6.5; authority/acme/nonces.ts: good once across all instances).
 * - Accounts (§7.3) are keyed by the RFC 7638 thumbprint of their key, per CA; External
 *   Account Binding (§7.3.4) when the CA's settings say so (authority/acme/accounts.ts).
 * - Orders (§7.4), their authorizations and challenges (§7.5, §8, RFC 8737, RFC 8738) and
 *   finalize into the request queue: authority/acme/orders.ts and authorizations.ts. While
 *   the service is sealed, or an operator has to decide, the order stays "processing" and
 *   the client polls (Retry-After).
 * - revokeCert (§7.6): authority/acme/revocation.ts.
 * - Errors are problem documents (`application/problem+json`, §6.7), always with a fresh
 *   Replay-Nonce (§6.5). Refusals (rejectedIdentifier, unauthorized, ...) are audited, per
 *   account or client address and minute (authority/refusals.ts).
 */
import type { JsonWebKey } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import type { RequestQueue } from "../authority/queue.js";
import type { Store } from "../store/types.js";
import { isSigilError, ErrorCodes } from "../errors.js";
import { clientSource, type RefusalLog } from "../authority/refusals.js";
import { acmeUseCases, type AcmeSite, type AcmeUseCases } from "../authority/acme/index.js";
import { CLIENT_HEADER } from "../http/portal.js";
import { AcmeProblem, type AcmeProblemType } from "./problem.js";
import { parseJws, verifyJws, publicJwk, type ParsedJws } from "./jws.js";
import { registerAccountRoutes } from "./server-accounts.js";
import { registerOrderRoutes } from "./server-orders.js";
import type { AccountRecord, AcmeStore, Validators } from "./types.js";

/**
 * What the ACME server needs: the dependencies of its use cases (authority/acme/), which it
 * builds unless given them ready-made (`useCases`, from a composition root).
 */
export interface AcmeDeps {
  authority: Pick<Authority, "chain" | "revoke" | "getCa">;
  store: Pick<Store, "getCa" | "getCert" | "getCertById" | "getRequest" | "getJobMark" | "transaction">;
  acme: AcmeStore;
  config: Config;
  queue: Pick<RequestQueue, "take" | "approve">;
  validators: Validators;
  logger: Logger;
  clock: () => number;
  random: (n: number) => Buffer;
  /** Where refusals are audited, bounded (authority/refusals.ts). */
  refusals: Pick<RefusalLog, "record">;
  /** The use cases over these dependencies (default: made here). */
  useCases?: AcmeUseCases;
}

/**
 * The problems that refuse a client something it asked for (names, another account's
 * objects, an account without EAB, rate limits, unusable keys): audited, per account (else
 * client address) and minute. Malformed input, stale nonces and server faults are not
 * refusals of authority and are only answered.
 */
const AUDITED_PROBLEMS = new Set<AcmeProblemType>([
  "rejectedIdentifier",
  "unsupportedIdentifier",
  "unauthorized",
  "externalAccountRequired",
  "rateLimited",
  "badPublicKey",
  "badSignatureAlgorithm",
]);

/** Largest JWS body: a CSR (at most 64 KiB) in base64url, inside JSON. */
export const ACME_BODY_LIMIT = 128 * 1024;
/** The headers the public listener passes the client's Host and scheme in. */
export const HOST_HEADER = "x-sigil-host";
export const PROTO_HEADER = "x-sigil-proto";

/** Registers the ACME routes on `app` (the primary's backend). */
export function registerAcme(app: FastifyInstance, deps: AcmeDeps): void {
  void app.register(
    async (sub) => {
      const server = new AcmeServer(deps, deps.useCases ?? acmeUseCases(deps));
      sub.addContentTypeParser(
        ["application/jose+json", "application/json"],
        { parseAs: "string", bodyLimit: ACME_BODY_LIMIT },
        (_req, body, done) => {
          try {
            done(null, JSON.parse(body as string) as unknown);
          } catch {
            done(new AcmeProblem("malformed", "the request body is not JSON"), undefined);
          }
        },
      );
      sub.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => server.fail(req, reply, err));
      sub.setNotFoundHandler((req, reply) =>
        server.fail(
          req,
          reply,
          new AcmeProblem("malformed", `no such ACME resource: ${req.url}`, { status: 404 }),
        ),
      );
      sub.route({
        method: ["GET", "HEAD"],
        url: "/:ca/directory",
        handler: (r, y) => server.directory(r, y),
      });
      sub.route({ method: "GET", url: "/:ca/new-nonce", handler: (r, y) => server.newNonce(r, y) });
      const post = (url: string, h: Handler) =>
        sub.route({ method: "POST", url, bodyLimit: ACME_BODY_LIMIT, handler: h });
      post("/:ca/new-nonce", (r, y) => server.newNonce(r, y));
      // new-account, acct/:id, acct/:id/orders, key-change (server-accounts.ts); new-order,
      // order/:id, order/:id/finalize, authz/:id, chall/:id, cert/:id, revoke-cert (server-orders.ts).
      const ctx = server.context(post);
      registerAccountRoutes(ctx);
      registerOrderRoutes(ctx);
    },
    { prefix: "/acme" },
  );
}

/** One ACME-enabled CA as a request found it. */
export interface Site extends AcmeSite {
  /** `https://host/acme/{ca}`, without a trailing slash. */
  base: string;
}

/** A verified POST. */
export interface Signed {
  site: Site;
  jws: ParsedJws;
  /** The payload as JSON; undefined for POST-as-GET (§6.3). */
  payload: unknown;
  account?: AccountRecord;
  /** The JWK the JWS was verified with. */
  jwk: JsonWebKey;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * What the resource routes (server-accounts.ts, server-orders.ts) are given: the plumbing of
 * {@link AcmeServer}, bound to one plugin.
 */
export interface AcmeContext {
  readonly d: AcmeDeps;
  readonly u: AcmeUseCases;
  /** Registers a POST route (a flattened JWS, at most {@link ACME_BODY_LIMIT}). */
  post(url: string, handler: Handler): void;
  /** Parses and verifies a POST (§6.2–§6.5); see AcmeServer's `signed`. */
  signed(req: FastifyRequest, opts?: { jwk?: "required" | "allowed" }): Promise<Signed>;
  /** Sets Replay-Nonce, Cache-Control and (with a site) the Link headers of an answer. */
  headers(reply: FastifyReply, site: Site | undefined, links?: string[]): Promise<void>;
  /** Answers JSON, with the headers above and a Location when given. */
  send(
    reply: FastifyReply,
    site: Site,
    code: number,
    body: unknown,
    location?: string,
    links?: string[],
  ): Promise<FastifyReply>;
  /** Scheme and host the client used. */
  origin(req: FastifyRequest): string;
  /** The payload as a JSON object, else a malformed problem naming `what`. */
  obj(payload: unknown, what: string): Record<string, unknown>;
  /** The `:id` of the route. */
  param(req: FastifyRequest): string;
}

const param = (req: FastifyRequest): string => (req.params as { id: string }).id;

class AcmeServer {
  /** The account a request's JWS verified for (to audit a later refusal under it). */
  private readonly accounts = new WeakMap<FastifyRequest, AccountRecord>();

  constructor(
    private readonly d: AcmeDeps,
    private readonly u: AcmeUseCases,
  ) {}

  // ---- plumbing ----

  /** The plumbing below for the resource routes, which `post` registers on the plugin. */
  context(post: AcmeContext["post"]): AcmeContext {
    return {
      d: this.d,
      u: this.u,
      post,
      signed: (req, opts) => this.signed(req, opts),
      headers: (reply, site, links) => this.headers(reply, site, links),
      send: (reply, site, code, body, location, links) => this.send(reply, site, code, body, location, links),
      origin: (req) => this.origin(req),
      obj,
      param,
    };
  }

  private async site(req: FastifyRequest): Promise<Site> {
    const name = (req.params as { ca: string }).ca;
    const found = await this.u.settings.enabledSite(name);
    if (!found)
      throw new AcmeProblem("malformed", `ACME is not enabled for a CA named "${name}"`, { status: 404 });
    return { ...found, base: `${this.origin(req)}/acme/${encodeURIComponent(found.ca.name)}` };
  }

  /** Scheme and host the client used (config acme.baseUrl wins; else what the listener passed on). */
  private origin(req: FastifyRequest): string {
    const configured = this.d.config.acme.baseUrl;
    if (configured) return configured.replace(/\/+$/, "").replace(/\/acme$/, "");
    const host = header(req, HOST_HEADER) ?? header(req, "host") ?? "localhost";
    const proto = header(req, PROTO_HEADER) === "https" ? "https" : "http";
    return `${proto}://${host}`;
  }

  private async headers(reply: FastifyReply, site: Site | undefined, links: string[] = []): Promise<void> {
    void reply.header("replay-nonce", await this.u.nonces.issue());
    void reply.header("cache-control", "no-store");
    if (site) void reply.header("link", [`<${site.base}/directory>;rel="index"`, ...links]);
  }

  /** Answers an error as a problem document (§6.7), with a fresh nonce. */
  async fail(
    req: FastifyRequest,
    reply: FastifyReply,
    err: Error & { statusCode?: number },
  ): Promise<unknown> {
    let p: AcmeProblem;
    if (err instanceof AcmeProblem) p = err;
    else if (isSigilError(err) && err.kind === "user") p = problemOf(err.code, err.message);
    else if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
      p = new AcmeProblem("malformed", oneLine(err.message), { status: err.statusCode });
    else {
      req.log.error({ err: { message: err.message, stack: err.stack } }, "ACME request failed");
      p = new AcmeProblem("serverInternal", "internal error (see the service log)", { status: 500 });
    }
    let site: Site | undefined;
    try {
      site = await this.site(req);
    } catch {
      site = undefined;
    }
    try {
      await this.headers(reply, site);
    } catch {
      // No nonce without the store: the problem is still answered.
    }
    if (p.status === 503) void reply.header("retry-after", "30");
    if (p.retryAfter !== undefined) void reply.header("retry-after", String(p.retryAfter));
    if (AUDITED_PROBLEMS.has(p.type)) await this.auditRefusal(req, p);
    return reply.code(p.status).type("application/problem+json").send(p.toJson());
  }

  /**
   * Records a refusal (`acme.order.refused`, `acme.revoke.refused`, `acme.account.refused`,
   * `acme.request.refused`) under the verified account, else the client's address.
   */
  private async auditRefusal(req: FastifyRequest, p: AcmeProblem): Promise<void> {
    const account = this.accounts.get(req);
    const client = header(req, CLIENT_HEADER) ?? req.ip;
    const route = req.routeOptions.url ?? "";
    const what = /\/new-order$/.test(route)
      ? "order"
      : /\/revoke-cert$/.test(route)
        ? "revoke"
        : /\/(new-account|key-change|acct\/:id)$/.test(route)
          ? "account"
          : "request";
    const ca = (req.params as { ca?: unknown } | undefined)?.ca;
    await this.d.refusals.record({
      action: `acme.${what}.refused`,
      source: account ? `acme:${account.publicId}` : clientSource(client),
      target: typeof ca === "string" ? ca.slice(0, 64) : null,
      reason: p.type,
      details: { type: p.type, detail: oneLine(p.detail), method: req.method, ...(client ? { client } : {}) },
    });
  }

  /**
   * Parses and verifies a POST (§6.2–§6.5): the JWS, its url, its nonce, its key. With
   * `jwk: true` the key comes in the header (newAccount, revokeCert by certificate key);
   * otherwise `kid` names an account of this CA, which must be valid.
   */
  private async signed(req: FastifyRequest, opts: { jwk?: "required" | "allowed" } = {}): Promise<Signed> {
    const site = await this.site(req);
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/jose+json")
      throw new AcmeProblem(
        "malformed",
        `Content-Type must be application/jose+json (RFC 8555 §6.2), not "${type}"`,
        {
          status: 415,
        },
      );
    // §6.2: newAccount carries the key (jwk), revokeCert either, everything else a kid.
    const jws = parseJws(req.body, { key: opts.jwk === "required" ? "jwk" : opts.jwk ? "either" : "kid" });
    const url = `${this.origin(req)}${req.url}`;
    if (jws.url !== url)
      throw new AcmeProblem(
        "unauthorized",
        `the JWS url "${String(jws.url)}" is not this request's URL ${url} (RFC 8555 §6.4)`,
      );
    const verdict = await this.u.nonces.redeem(String(jws.nonce));
    if (verdict !== "ok") {
      const why = {
        foreign: "was not issued by this server",
        expired: "has expired",
        replayed: "was used before",
      };
      throw new AcmeProblem("badNonce", `the nonce ${why[verdict]}: use the Replay-Nonce of this answer`);
    }
    let jwk: JsonWebKey;
    let account: AccountRecord | undefined;
    if (jws.jwk) {
      jwk = publicJwk(jws.jwk);
    } else {
      const kid = String(jws.kid);
      const prefix = `${site.base}/acct/`;
      const id = kid.startsWith(prefix) ? kid.slice(prefix.length) : "";
      account = id && !id.includes("/") ? await this.d.acme.getAccountByPublicId(site.ca.id, id) : undefined;
      if (!account) throw new AcmeProblem("accountDoesNotExist", `no account ${kid} at this CA`);
      jwk = JSON.parse(account.jwk) as JsonWebKey;
    }
    if (!verifyJws(jws, jwk))
      throw new AcmeProblem("unauthorized", "the JWS signature does not verify with the account's key");
    if (account && account.status !== "valid")
      throw new AcmeProblem("unauthorized", `the account is ${account.status}`);
    if (account) this.accounts.set(req, account);
    return { site, jws, payload: jws.payload, account, jwk };
  }

  private async send(
    reply: FastifyReply,
    site: Site,
    code: number,
    body: unknown,
    location?: string,
    links: string[] = [],
  ): Promise<FastifyReply> {
    await this.headers(reply, site, links);
    if (location) void reply.header("location", location);
    return reply.code(code).type("application/json").send(body);
  }

  // ---- directory and nonces (§7.1.1, §7.2) ----

  async directory(req: FastifyRequest, reply: FastifyReply) {
    const site = await this.site(req);
    const b = site.base;
    void reply.header("cache-control", "public, max-age=60");
    return reply.type("application/json").send({
      newNonce: `${b}/new-nonce`,
      newAccount: `${b}/new-account`,
      newOrder: `${b}/new-order`,
      revokeCert: `${b}/revoke-cert`,
      keyChange: `${b}/key-change`,
      meta: { externalAccountRequired: site.settings.eabRequired, website: this.d.config.publicUrl },
    });
  }

  async newNonce(req: FastifyRequest, reply: FastifyReply) {
    const site = await this.site(req);
    await this.headers(reply, site);
    // §7.2: 200 for HEAD, 204 for GET.
    return reply.code(req.method === "HEAD" ? 200 : 204).send();
  }
}

// ---- helpers ----

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === "string" && v ? v : undefined;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}

function obj(payload: unknown, what: string): Record<string, unknown> {
  if (payload === undefined)
    throw new AcmeProblem("malformed", `${what} needs a JSON object payload, not POST-as-GET`);
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new AcmeProblem("malformed", `${what}: the payload must be a JSON object`);
  return payload as Record<string, unknown>;
}

/** The ACME problem for a Sigil user error. */
function problemOf(code: string, message: string): AcmeProblem {
  const m = oneLine(message);
  switch (code) {
    case ErrorCodes.SEALED:
    case ErrorCodes.NO_PASSPHRASE:
      return new AcmeProblem("serverInternal", `the CA cannot sign now: ${m}`, { status: 503 });
    case ErrorCodes.POLICY_DENIED:
      return new AcmeProblem("rejectedIdentifier", m);
    case ErrorCodes.BAD_CSR:
    case ErrorCodes.WEAK_KEY:
    case ErrorCodes.BAD_SIGNATURE:
    case ErrorCodes.BAD_SIGNATURE_ALGORITHM:
    case ErrorCodes.BAD_SAN:
    case ErrorCodes.BAD_DN:
      return new AcmeProblem("badCSR", m);
    case ErrorCodes.ALREADY_REVOKED:
      return new AcmeProblem("alreadyRevoked", m);
    default:
      return new AcmeProblem("malformed", m);
  }
}
