/**
 * The ACME server (RFC 8555) of each ACME-enabled CA, at `/acme/{ca}/...`: one more request
 * channel into the request queue, with the same CSR checks, policy and profiles as `sigil
 * sign`, the e-mail intake and the web portal. Served by the process that writes the store
 * and holds the keys (the primary of `sigil serve`), behind the public listener.
 *
 * This file is the wire format only: routes, JWS parsing and verification (jws.ts), problem
 * documents, and the JSON, URLs and headers of the answers. What an account, order,
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
import {
  parseJws,
  verifyJws,
  jwkThumbprint,
  publicJwk,
  parseEab,
  checkEabMac,
  importPublicJwk,
  type ParsedJws,
} from "./jws.js";
import type {
  AccountRecord,
  AcmeStore,
  AuthzRecord,
  ChallengeRecord,
  OrderRecord,
  Validators,
} from "./types.js";

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

const iso = (ms: number) => new Date(ms).toISOString();

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
      const post = (url: string, h: (r: FastifyRequest, y: FastifyReply) => Promise<unknown>) =>
        sub.route({ method: "POST", url, bodyLimit: ACME_BODY_LIMIT, handler: h });
      post("/:ca/new-nonce", (r, y) => server.newNonce(r, y));
      post("/:ca/new-account", (r, y) => server.newAccount(r, y));
      post("/:ca/acct/:id", (r, y) => server.account(r, y));
      post("/:ca/acct/:id/orders", (r, y) => server.orders(r, y));
      post("/:ca/key-change", (r, y) => server.keyChange(r, y));
      post("/:ca/new-order", (r, y) => server.newOrder(r, y));
      post("/:ca/order/:id", (r, y) => server.order(r, y));
      post("/:ca/order/:id/finalize", (r, y) => server.finalize(r, y));
      post("/:ca/authz/:id", (r, y) => server.authz(r, y));
      post("/:ca/chall/:id", (r, y) => server.challenge(r, y));
      post("/:ca/cert/:id", (r, y) => server.certificate(r, y));
      post("/:ca/revoke-cert", (r, y) => server.revokeCert(r, y));
    },
    { prefix: "/acme" },
  );
}

/** One ACME-enabled CA as a request found it. */
interface Site extends AcmeSite {
  /** `https://host/acme/{ca}`, without a trailing slash. */
  base: string;
}

/** A verified POST. */
interface Signed {
  site: Site;
  jws: ParsedJws;
  /** The payload as JSON; undefined for POST-as-GET (§6.3). */
  payload: unknown;
  account?: AccountRecord;
  /** The JWK the JWS was verified with. */
  jwk: JsonWebKey;
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

  // ---- accounts (§7.3) ----

  private accountUrl(site: Site, a: AccountRecord): string {
    return `${site.base}/acct/${a.publicId}`;
  }

  private accountJson(site: Site, a: AccountRecord) {
    return {
      status: a.status,
      contact: a.contact,
      termsOfServiceAgreed: true,
      orders: `${this.accountUrl(site, a)}/orders`,
      ...(a.eabKid ? { externalAccountBinding: { kid: a.eabKid } } : {}),
    };
  }

  async newAccount(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req, { jwk: "required" });
    const p = obj(s.payload, "newAccount");
    const thumbprint = jwkThumbprint(s.jwk);
    const existing = await this.u.accounts.byKey(s.site, thumbprint);
    // §7.3.1: the existing account, 200, with its URL.
    if (existing)
      return this.send(
        reply,
        s.site,
        200,
        this.accountJson(s.site, existing),
        this.accountUrl(s.site, existing),
      );
    if (p.onlyReturnExisting === true)
      throw new AcmeProblem("accountDoesNotExist", "no account exists for this key (onlyReturnExisting)");
    const contact = contacts(p.contact);
    const eab =
      p.externalAccountBinding === undefined
        ? undefined
        : parseEab(p.externalAccountBinding, s.jwk, `${this.origin(req)}${req.url}`);
    const account = await this.u.accounts.create(s.site, {
      thumbprint,
      jwk: JSON.stringify(s.jwk),
      contact,
      ...(eab ? { eab: { kid: eab.kid, verify: (key: Buffer | undefined) => checkEabMac(eab, key) } } : {}),
    });
    return this.send(reply, s.site, 201, this.accountJson(s.site, account), this.accountUrl(s.site, account));
  }

  private owned(s: Signed, id: string): AccountRecord {
    if (!s.account || s.account.publicId !== id)
      throw new AcmeProblem("unauthorized", "a request may only touch its own account (RFC 8555 §7.3.2)");
    return s.account;
  }

  async account(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const a = this.owned(s, param(req));
    if (s.payload === undefined) return this.send(reply, s.site, 200, this.accountJson(s.site, a));
    const p = obj(s.payload, "account update");
    const patch: { contact?: string[]; status?: "deactivated" } = {};
    if (p.contact !== undefined) patch.contact = contacts(p.contact);
    if (p.status !== undefined) {
      // §7.3.6: the only status a client may set is "deactivated".
      if (p.status !== "deactivated")
        throw new AcmeProblem("malformed", `an account's status can only be set to "deactivated"`);
      patch.status = "deactivated";
    }
    const updated = await this.u.accounts.update(s.site, a, patch);
    return this.send(reply, s.site, 200, this.accountJson(s.site, updated));
  }

  async orders(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const a = this.owned(s, param(req));
    const list = await this.d.acme.listOrders(a.id, 1000);
    return this.send(reply, s.site, 200, {
      orders: list.filter((o) => o.status !== "invalid").map((o) => this.orderUrl(s.site, o)),
    });
  }

  /** §7.3.5: the outer JWS by the old key (kid), the inner by the new key (jwk). */
  async keyChange(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const a = s.account!;
    const inner = parseJws(s.payload, { requireNonce: false, key: "jwk" });
    if (!inner.jwk)
      throw new AcmeProblem("malformed", "the inner JWS of a key change must carry the new key as jwk");
    if (inner.url !== s.jws.url)
      throw new AcmeProblem(
        "malformed",
        "the inner JWS's url must equal the outer JWS's url (RFC 8555 §7.3.5)",
      );
    const newJwk = publicJwk(inner.jwk as JsonWebKey);
    if (!verifyJws(inner, newJwk))
      throw new AcmeProblem("malformed", "the inner JWS's signature does not verify with its jwk");
    const ip = obj(inner.payload, "key change");
    if (ip.account !== this.accountUrl(s.site, a))
      throw new AcmeProblem("malformed", "the inner payload's account is not the signing account");
    if (!ip.oldKey || jwkThumbprint(publicJwk(ip.oldKey as JsonWebKey)) !== a.thumbprint)
      throw new AcmeProblem("malformed", "the inner payload's oldKey is not the account's current key");
    const r = await this.u.accounts.changeKey(s.site, a, JSON.stringify(newJwk), jwkThumbprint(newJwk));
    if ("conflict" in r) {
      await this.headers(reply, s.site);
      void reply.header("location", this.accountUrl(s.site, r.conflict));
      const p = new AcmeProblem("malformed", "another account already uses the new key", { status: 409 });
      return reply.code(409).type("application/problem+json").send(p.toJson());
    }
    return this.send(reply, s.site, 200, this.accountJson(s.site, r.account));
  }

  // ---- orders (§7.4) ----

  private orderUrl(site: Site, o: OrderRecord): string {
    return `${site.base}/order/${o.publicId}`;
  }

  private async orderJson(site: Site, o: OrderRecord) {
    const authzs = await this.d.acme.authzsOfOrder(o.id);
    const cert = o.certId !== null ? await this.d.store.getCertById(o.certId) : undefined;
    return {
      status: o.status,
      expires: iso(o.expiresAt),
      identifiers: o.identifiers,
      ...(o.notBefore !== null ? { notBefore: iso(o.notBefore) } : {}),
      ...(o.notAfter !== null ? { notAfter: iso(o.notAfter) } : {}),
      ...(o.error ? { error: o.error } : {}),
      authorizations: authzs.map((z) => `${site.base}/authz/${z.publicId}`),
      finalize: `${this.orderUrl(site, o)}/finalize`,
      ...(o.status === "valid" && cert ? { certificate: `${site.base}/cert/${cert.serialHex}` } : {}),
    };
  }

  async newOrder(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const p = obj(s.payload, "newOrder");
    const order = await this.u.orders.create(s.site, s.account!, {
      identifiers: p.identifiers,
      notBefore: p.notBefore,
      notAfter: p.notAfter,
    });
    return this.send(reply, s.site, 201, await this.orderJson(s.site, order), this.orderUrl(s.site, order));
  }

  async order(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const o = await this.u.orders.get(s.site, s.account!, param(req));
    if (o.status === "processing") void reply.header("retry-after", "2");
    return this.send(reply, s.site, 200, await this.orderJson(s.site, o));
  }

  async finalize(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const csrOf = () => {
      const p = obj(s.payload, "finalize");
      if (typeof p.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.csr))
        throw new AcmeProblem("malformed", "finalize needs csr: the CSR's DER in base64url (RFC 8555 §7.4)");
      return Buffer.from(p.csr, "base64url");
    };
    const spki = importPublicJwk(s.jwk).export({ type: "spki", format: "der" });
    const o = await this.u.orders.finalize(s.site, s.account!, param(req), csrOf, spki);
    if (o.status === "processing") void reply.header("retry-after", "2");
    return this.send(reply, s.site, 200, await this.orderJson(s.site, o), this.orderUrl(s.site, o));
  }

  // ---- authorizations and challenges (§7.5, §8) ----

  private async authzJson(site: Site, z: AuthzRecord, challenges?: ChallengeRecord[]) {
    const list = challenges ?? (await this.d.acme.challengesOfAuthz(z.id));
    return {
      identifier: z.identifier,
      status: z.status === "pending" && z.expiresAt < this.d.clock() ? "expired" : z.status,
      expires: iso(z.expiresAt),
      challenges: list.map((c) => this.challengeJson(site, c)),
      ...(z.wildcard ? { wildcard: true } : {}),
    };
  }

  private challengeJson(site: Site, c: ChallengeRecord) {
    return {
      type: c.type,
      url: `${site.base}/chall/${c.publicId}`,
      status: c.status,
      token: c.token,
      ...(c.validatedAt !== null ? { validated: iso(c.validatedAt) } : {}),
      ...(c.error ? { error: c.error } : {}),
    };
  }

  async authz(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    let z = await this.u.authorizations.get(s.site, s.account!, param(req));
    if (s.payload !== undefined) {
      const p = obj(s.payload, "authorization update");
      // §7.5.2: a client may only deactivate.
      if (p.status !== "deactivated")
        throw new AcmeProblem("malformed", `an authorization's status can only be set to "deactivated"`);
      z = await this.u.authorizations.deactivate(z);
    } else {
      await this.u.authorizations.resumeStale(
        s.site,
        z,
        await this.d.acme.challengesOfAuthz(z.id),
        s.account!,
      );
    }
    return this.send(reply, s.site, 200, await this.authzJson(s.site, z));
  }

  async challenge(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const { challenge: c, authz: z } = await this.u.authorizations.challenge(s.site, s.account!, param(req));
    const up = `<${s.site.base}/authz/${z.publicId}>;rel="up"`;
    // §7.5.1: a POST with a JSON object payload ({}) starts validation; POST-as-GET only reads.
    if (s.payload === undefined || c.status !== "pending") {
      await this.u.authorizations.resumeStale(s.site, z, [c], s.account!);
      return this.send(reply, s.site, 200, this.challengeJson(s.site, c), undefined, [up]);
    }
    obj(s.payload, "challenge response");
    const now = await this.u.authorizations.respond(s.site, z, c, s.account!);
    return this.send(reply, s.site, 200, this.challengeJson(s.site, now), undefined, [up]);
  }

  // ---- certificates (§7.4.2) and revocation (§7.6) ----

  async certificate(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const pem = await this.u.orders.certificateChain(s.site, s.account!, param(req));
    await this.headers(reply, s.site);
    return reply.code(200).type("application/pem-certificate-chain").send(pem);
  }

  async revokeCert(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req, { jwk: "allowed" });
    const p = obj(s.payload, "revokeCert");
    if (typeof p.certificate !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.certificate))
      throw new AcmeProblem(
        "malformed",
        "revokeCert needs certificate: the DER in base64url (RFC 8555 §7.6)",
      );
    await this.u.revocation.revoke(s.site, {
      der: Buffer.from(p.certificate, "base64url"),
      reason: p.reason,
      ...(s.account ? { account: s.account } : {}),
      jwsSpki: importPublicJwk(s.jwk).export({ type: "spki", format: "der" }),
    });
    await this.headers(reply, s.site);
    return reply.code(200).send();
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

/** §7.3: mailto: contacts only, each one address. */
function contacts(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 10)
    throw new AcmeProblem("malformed", "contact must be a list of mailto: URLs");
  return v.map((c) => {
    if (typeof c !== "string" || !c.startsWith("mailto:"))
      throw new AcmeProblem("unsupportedContact", `contact ${JSON.stringify(c)} is not a mailto: URL`);
    const addr = c.slice(7);
    if (!/^[^\s@,<>;:?]{1,64}@[A-Za-z0-9.-]{1,253}$/.test(addr) || addr.includes(","))
      throw new AcmeProblem("invalidContact", `contact ${JSON.stringify(c)} is not one e-mail address`);
    return c;
  });
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
