/**
 * The ACME server (RFC 8555) of each ACME-enabled CA, at `/acme/{ca}/...`: one more request
 * channel into the request queue, with the same CSR checks, policy and profiles as `sigil
 * sign`, the e-mail intake and the web portal. Served by the process that writes the store
 * and holds the keys (the primary of `sigil serve`), behind the public listener.
 *
 * What is decided where:
 * - Every POST is a flattened JWS (§6.2) whose `url` must be the request's URL (§6.4) and
 *   whose nonce must be one this server issued, not used before and not older than an hour
 *   (§6.5). Nonces carry an HMAC under a key shared by every instance through the store, and
 *   used nonces are recorded in the store, so a nonce is good once across all instances.
 * - Accounts (§7.3) are keyed by the RFC 7638 thumbprint of their key, per CA. External
 *   Account Binding (§7.3.4) is required when the CA's ACME settings say so.
 * - Orders (§7.4) are checked against the CA's allowed identifiers at newOrder
 *   (rejectedIdentifier). Each identifier gets an authorization with http-01, tls-alpn-01
 *   (RFC 8737) and dns-01 challenges (a wildcard: dns-01 only, §7.1.3; an IP: no dns-01,
 *   RFC 8738 §7). One validation attempt per challenge: a failure makes the authorization,
 *   and so the order, invalid (§7.1.6).
 * - finalize takes the CSR into the request queue (channel "acme") and, unless the CA wants
 *   manual approval, approves it at once under the CA's ACME profile: the same code as
 *   `sigil requests approve`. While the service is sealed, or an operator has to decide,
 *   the order stays "processing" and the client polls (§7.4, Retry-After).
 * - revokeCert (§7.6) accepts the account that ordered the certificate, an account holding
 *   valid authorizations for all of its identifiers, or the certificate's own key.
 * - Errors are problem documents (`application/problem+json`, §6.7), always with a fresh
 *   Replay-Nonce (§6.5). Refusals (rejectedIdentifier, unauthorized, ...) are audited, per
 *   account or client address and minute (authority/refusals.ts).
 */
import { createHmac, timingSafeEqual, type JsonWebKey } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import type { RequestQueue } from "../authority/queue.js";
import type { CaRecord, CertRecord, RequestRecord, Store } from "../store/types.js";
import { isSigilError, ErrorCodes } from "../errors.js";
import { actingAs } from "../audit/actor.js";
import { clientSource, type RefusalLog } from "../authority/refusals.js";
import { CLIENT_HEADER } from "../http/portal.js";
import { parseCsr } from "../x509/csr.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { AttrOid } from "../x509/oids.js";
import { toPem } from "../x509/der.js";
import { REVOCATION_REASONS, type RevocationReason } from "../x509/types.js";
import { identifierAllowed } from "../policy/acme-identifiers.js";
import { effectiveSettings } from "./store.js";
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
import { keyAuthorization } from "./challenges.js";
import type {
  AccountRecord,
  AcmeIdentifier,
  AcmeSettings,
  AcmeStore,
  AuthzRecord,
  ChallengeRecord,
  ChallengeType,
  OrderRecord,
  StoredProblem,
  Validators,
} from "./types.js";

/**
 * What the ACME server needs, and no more (DESIGN.md: acme/ declares the narrow authority
 * interface it uses): the CA chain and revocation, the request queue's intake and approval,
 * and a few reads of the store, which it writes only for the audit log and a job mark.
 */
export interface AcmeDeps {
  authority: Pick<Authority, "chain" | "revoke">;
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
const NONCE_MAX_AGE_MS = 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
const NONCE_KEY_MARK = "acme.nonce-key";
/** Past the validation timeout, how long a "processing" challenge may wait before it is run again. */
const STALE_GRACE_MS = 15_000;
const MAX_IDENTIFIERS = 100;
const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const b64u = (b: Buffer) => b.toString("base64url");
const iso = (ms: number) => new Date(ms).toISOString();

/** Registers the ACME routes on `app` (the primary's backend). */
export function registerAcme(app: FastifyInstance, deps: AcmeDeps): void {
  void app.register(
    async (sub) => {
      const server = new AcmeServer(deps);
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
interface Site {
  ca: CaRecord;
  settings: AcmeSettings;
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

class AcmeServer {
  private nonceKey?: Promise<Buffer>;
  /** The account a request's JWS verified for (to audit a later refusal under it). */
  private readonly accounts = new WeakMap<FastifyRequest, AccountRecord>();
  /** Validations running in this process, by challenge id (one attempt each). */
  private readonly running = new Set<number>();

  constructor(private readonly d: AcmeDeps) {}

  private now(): number {
    return this.d.clock();
  }

  // ---- nonces (RFC 8555 §6.5) ----

  private key(): Promise<Buffer> {
    this.nonceKey ??= (async () => {
      const mark = await this.d.store.getJobMark(NONCE_KEY_MARK);
      if (mark) return Buffer.from(mark.value, "base64url");
      // First start on this store. Two instances starting together may each write one;
      // the later wins, and a nonce from the other is refused once as badNonce, which
      // clients retry with the fresh nonce of the error (§6.5).
      const k = this.d.random(32);
      await this.d.store.transaction((tx) => tx.setJobMark(NONCE_KEY_MARK, b64u(k), this.now()));
      return k;
    })().catch((e: unknown) => {
      this.nonceKey = undefined;
      throw e;
    });
    return this.nonceKey;
  }

  private async nonce(): Promise<string> {
    const body = Buffer.alloc(22);
    body.writeUIntBE(this.now(), 0, 6);
    this.d.random(16).copy(body, 6);
    const mac = createHmac("sha256", await this.key())
      .update(body)
      .digest()
      .subarray(0, 16);
    return b64u(Buffer.concat([body, mac]));
  }

  /** Checks a nonce and records it as used; a problem when it is not good (badNonce). */
  private async useNonce(nonce: string): Promise<void> {
    const raw = Buffer.from(nonce, "base64url");
    const bad = (why: string) =>
      new AcmeProblem("badNonce", `the nonce ${why}: use the Replay-Nonce of this answer`);
    if (raw.length !== 38 || b64u(raw) !== nonce) throw bad("was not issued by this server");
    const body = raw.subarray(0, 22);
    const mac = createHmac("sha256", await this.key())
      .update(body)
      .digest()
      .subarray(0, 16);
    if (!timingSafeEqual(mac, raw.subarray(22))) throw bad("was not issued by this server");
    const at = body.readUIntBE(0, 6);
    if (at + NONCE_MAX_AGE_MS < this.now()) throw bad("has expired");
    const fresh = await this.d.acme.transaction((tx) => tx.useNonce(nonce, at + NONCE_MAX_AGE_MS));
    if (!fresh) throw bad("was used before");
  }

  // ---- plumbing ----

  private async site(req: FastifyRequest): Promise<Site> {
    const name = (req.params as { ca: string }).ca;
    const settings = await effectiveSettings(this.d.acme, this.d.config, name);
    const ca = settings?.enabled ? await this.d.store.getCa(name) : undefined;
    if (!settings?.enabled || !ca)
      throw new AcmeProblem("malformed", `ACME is not enabled for a CA named "${name}"`, { status: 404 });
    return { ca, settings, base: `${this.origin(req)}/acme/${encodeURIComponent(ca.name)}` };
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
    void reply.header("replay-nonce", await this.nonce());
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
        { status: 415 },
      );
    // §6.2: newAccount carries the key (jwk), revokeCert either, everything else a kid.
    const jws = parseJws(req.body, { key: opts.jwk === "required" ? "jwk" : opts.jwk ? "either" : "kid" });
    const url = `${this.origin(req)}${req.url}`;
    if (jws.url !== url)
      throw new AcmeProblem(
        "unauthorized",
        `the JWS url "${String(jws.url)}" is not this request's URL ${url} (RFC 8555 §6.4)`,
      );
    await this.useNonce(String(jws.nonce));
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

  private send(
    reply: FastifyReply,
    site: Site,
    code: number,
    body: unknown,
    location?: string,
    links: string[] = [],
  ): Promise<FastifyReply> {
    return this.headers(reply, site, links).then(() => {
      if (location) void reply.header("location", location);
      return reply.code(code).type("application/json").send(body);
    });
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
      meta: {
        externalAccountRequired: site.settings.eabRequired,
        website: this.d.config.publicUrl,
      },
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
    const existing = await this.d.acme.getAccountByThumbprint(s.site.ca.id, thumbprint);
    if (existing) {
      // §7.3.1: the existing account, 200, with its URL.
      if (existing.status !== "valid")
        throw new AcmeProblem("unauthorized", `the account for this key is ${existing.status}`);
      return this.send(
        reply,
        s.site,
        200,
        this.accountJson(s.site, existing),
        this.accountUrl(s.site, existing),
      );
    }
    if (p.onlyReturnExisting === true)
      throw new AcmeProblem("accountDoesNotExist", "no account exists for this key (onlyReturnExisting)");
    const contact = contacts(p.contact);
    let eabKid: string | null = null;
    if (p.externalAccountBinding !== undefined) {
      // §7.3.4: the binding's MAC under the key named by its kid; an unknown kid, a key of
      // another CA or one bound already all answer alike (unauthorized).
      const eab = parseEab(p.externalAccountBinding, s.jwk, `${this.origin(req)}${req.url}`);
      const key = await this.d.acme.getEabKey(eab.kid);
      checkEabMac(eab, key && key.caId === s.site.ca.id && key.accountId === null ? key.hmacKey : undefined);
      eabKid = eab.kid;
    } else if (s.site.settings.eabRequired) {
      throw new AcmeProblem(
        "externalAccountRequired",
        `${s.site.ca.name} requires External Account Binding (RFC 8555 §7.3.4): ask the CA's security admin for a key (sigil acme eab create)`,
      );
    }
    const publicId = b64u(this.d.random(16));
    const account = await this.d.acme.transaction(async (tx) => {
      const a = await tx.insertAccount({
        publicId,
        caId: s.site.ca.id,
        thumbprint,
        jwk: JSON.stringify(s.jwk),
        contact,
        status: "valid",
        eabKid,
        createdAt: this.now(),
      });
      if (eabKid && !(await tx.bindEabKey(eabKid, a.id)))
        throw new AcmeProblem("unauthorized", "this External Account Binding key was used already");
      return a;
    });
    await this.audit(
      `acme:${account.publicId}`,
      "acme.account.create",
      `${s.site.ca.name}/acct/${account.publicId}`,
      {
        contact,
        thumbprint,
        ...(eabKid ? { eabKid } : {}),
      },
    );
    return this.send(reply, s.site, 201, this.accountJson(s.site, account), this.accountUrl(s.site, account));
  }

  private owned(s: Signed, id: string): AccountRecord {
    if (!s.account || s.account.publicId !== id)
      throw new AcmeProblem("unauthorized", "a request may only touch its own account (RFC 8555 §7.3.2)");
    return s.account;
  }

  async account(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const a = this.owned(s, (req.params as { id: string }).id);
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
    await this.d.acme.transaction((tx) => tx.updateAccount(a.id, patch));
    const updated = { ...a, ...patch };
    if (patch.status)
      await this.audit(
        `acme:${a.publicId}`,
        "acme.account.deactivate",
        `${s.site.ca.name}/acct/${a.publicId}`,
        {},
      );
    return this.send(reply, s.site, 200, this.accountJson(s.site, updated));
  }

  async orders(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const a = this.owned(s, (req.params as { id: string }).id);
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
    const thumbprint = jwkThumbprint(newJwk);
    const other = await this.d.acme.getAccountByThumbprint(s.site.ca.id, thumbprint);
    if (other) {
      await this.headers(reply, s.site);
      void reply.header("location", this.accountUrl(s.site, other));
      return reply
        .code(409)
        .type("application/problem+json")
        .send(
          new AcmeProblem("malformed", "another account already uses the new key", { status: 409 }).toJson(),
        );
    }
    await this.d.acme.transaction((tx) =>
      tx.updateAccount(a.id, { jwk: JSON.stringify(newJwk), thumbprint }),
    );
    await this.audit(
      `acme:${a.publicId}`,
      "acme.account.key-change",
      `${s.site.ca.name}/acct/${a.publicId}`,
      {
        oldThumbprint: a.thumbprint,
        newThumbprint: thumbprint,
      },
    );
    return this.send(
      reply,
      s.site,
      200,
      this.accountJson(s.site, { ...a, jwk: JSON.stringify(newJwk), thumbprint }),
    );
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
    const a = s.account!;
    const p = obj(s.payload, "newOrder");
    await this.checkOrderRate(a);
    const identifiers = parseIdentifiers(p.identifiers);
    // Every identifier against the CA's allowed patterns, each refusal a subproblem (§6.7.1).
    const refused = identifiers.filter((i) => !identifierAllowed(s.site.settings.allow, i));
    if (refused.length)
      throw new AcmeProblem(
        "rejectedIdentifier",
        `${s.site.ca.name} does not issue for ${refused.map((i) => i.value).join(", ")} (allowed: ${s.site.settings.allow.join(", ")})`,
        {
          subproblems: refused.map((i) => ({
            type: "rejectedIdentifier",
            detail: `${i.value} is outside ${s.site.settings.allow.join(", ")}`,
            identifier: i,
          })),
        },
      );
    const now = this.now();
    const notBefore = p.notBefore === undefined ? null : time(p.notBefore, "notBefore");
    const notAfter = p.notAfter === undefined ? null : time(p.notAfter, "notAfter");
    if (notBefore !== null && notAfter !== null && notAfter <= notBefore)
      throw new AcmeProblem("malformed", "notAfter must be after notBefore");
    if (notBefore !== null && notBefore > now + 86_400_000)
      throw new AcmeProblem("malformed", "notBefore more than a day ahead is not offered");
    const maxDays = s.site.settings.maxDays;
    if (
      notAfter !== null &&
      maxDays !== null &&
      notAfter > Math.max(now, notBefore ?? now) + maxDays * 86_400_000
    )
      throw new AcmeProblem(
        "malformed",
        `notAfter is beyond ${s.site.ca.name}'s ACME limit of ${maxDays} days`,
      );
    const expiresAt = now + this.d.config.acme.orderHours * 3_600_000;
    const order = await this.d.acme.transaction(async (tx) => {
      const o = await tx.insertOrder({
        publicId: b64u(this.d.random(16)),
        accountId: a.id,
        caId: s.site.ca.id,
        status: "pending",
        identifiers,
        notBefore,
        notAfter,
        expiresAt,
        error: null,
        requestId: null,
        certId: null,
        createdAt: now,
      });
      for (const i of identifiers) {
        const wildcard = i.type === "dns" && i.value.startsWith("*.");
        const z = await tx.insertAuthz({
          publicId: b64u(this.d.random(16)),
          accountId: a.id,
          orderId: o.id,
          identifier: wildcard ? { type: "dns", value: i.value.slice(2) } : i,
          wildcard,
          status: "pending",
          expiresAt,
        });
        const types: ChallengeType[] = wildcard
          ? ["dns-01"]
          : i.type === "ip"
            ? ["http-01", "tls-alpn-01"]
            : ["http-01", "tls-alpn-01", "dns-01"];
        for (const type of types)
          await tx.insertChallenge({
            publicId: b64u(this.d.random(16)),
            authzId: z.id,
            type,
            token: b64u(this.d.random(32)),
            status: "pending",
            startedAt: null,
            validatedAt: null,
            error: null,
          });
      }
      return o;
    });
    return this.send(reply, s.site, 201, await this.orderJson(s.site, order), this.orderUrl(s.site, order));
  }

  /**
   * §6.6: at most `acme.ordersPerAccountPerHour` new orders per account in any hour, counted
   * in the store (so across instances); past it, rateLimited with the seconds until the
   * oldest order of the window leaves it.
   */
  private async checkOrderRate(a: AccountRecord): Promise<void> {
    const max = this.d.config.acme.ordersPerAccountPerHour;
    if (max === 0) return;
    const since = this.now() - HOUR_MS;
    if ((await this.d.acme.countOrdersSince(a.id, since)) < max) return;
    const recent = await this.d.acme.listOrders(a.id, max);
    const oldest = recent.length ? recent[recent.length - 1]!.createdAt : this.now();
    const wait = Math.max(1, Math.ceil((oldest + HOUR_MS - this.now()) / 1000));
    throw new AcmeProblem(
      "rateLimited",
      `this account made ${max} orders in the last hour (acme.ordersPerAccountPerHour): try again in ${wait} s`,
      { retryAfter: wait },
    );
  }

  /** The order, owned by the caller, brought up to date (expiry, the queued request's fate). */
  private async ownOrder(s: Signed, id: string): Promise<OrderRecord> {
    const o = await this.d.acme.getOrderByPublicId(s.site.ca.id, id);
    if (!o) throw new AcmeProblem("malformed", "no such order", { status: 404 });
    if (o.accountId !== s.account!.id)
      throw new AcmeProblem("unauthorized", "the order belongs to another account");
    return this.refresh(s.site, o);
  }

  private async refresh(site: Site, o: OrderRecord): Promise<OrderRecord> {
    const now = this.now();
    if ((o.status === "pending" || o.status === "ready") && o.expiresAt < now) {
      const error = { type: urn("malformed"), detail: "the order expired" };
      await this.d.acme.transaction((tx) => tx.updateOrder(o.id, { status: "invalid", error }));
      return { ...o, status: "invalid", error };
    }
    if (o.status === "processing" && o.requestId !== null) {
      const r = await this.d.store.getRequest(o.requestId);
      if (r) return this.settle(site, o, r);
    }
    return o;
  }

  /** Follows a processing order's request: issued → valid, rejected/failed → invalid, pending → try to sign. */
  private async settle(site: Site, o: OrderRecord, r: RequestRecord): Promise<OrderRecord> {
    if (r.state === "pending" && !site.settings.manualApproval) {
      const issued = await this.approve(site, o, r).catch((e: unknown) => {
        if (isSigilError(e, ErrorCodes.SEALED) || isSigilError(e, ErrorCodes.NO_PASSPHRASE)) return undefined;
        if (isSigilError(e, ErrorCodes.REQUEST_STATE)) return undefined; // decided meanwhile
        throw e;
      });
      if (issued) r = { ...r, state: "issued", certificateId: issued.id };
      else r = (await this.d.store.getRequest(r.id)) ?? r;
    }
    if (r.state === "issued" && r.certificateId !== null) {
      await this.d.acme.transaction((tx) =>
        tx.updateOrder(o.id, { status: "valid", certId: r.certificateId }),
      );
      return { ...o, status: "valid", certId: r.certificateId };
    }
    if (r.state === "rejected" || r.state === "failed") {
      const error = {
        type: urn(r.decidedBy === "intake" ? "badCSR" : "unauthorized"),
        detail: `request ${r.id} was ${r.state}${r.reason ? `: ${r.reason}` : ""}`,
      };
      await this.d.acme.transaction((tx) => tx.updateOrder(o.id, { status: "invalid", error }));
      return { ...o, status: "invalid", error };
    }
    return o;
  }

  private async approve(site: Site, o: OrderRecord, r: RequestRecord): Promise<CertRecord> {
    const days = this.days(site, o);
    const issued = await actingAs(`acme:order/${o.publicId}`, () =>
      this.d.queue.approve(r.id, {
        caName: site.ca.name,
        profile: site.settings.profile,
        ...(days !== undefined ? { days } : {}),
        // §7.4: the certificate names what the order proved; its subject is the first
        // identifier alone, whatever else the CSR's subject held.
        subjectPolicy: { kind: "identifiers", commonName: o.identifiers[0]!.value },
      }),
    );
    return issued.cert;
  }

  /** Validity in days: the order's notAfter, else the CA's ACME maximum, else the profile's default. */
  private days(site: Site, o: OrderRecord): number | undefined {
    const start = Math.max(this.now(), o.notBefore ?? 0);
    if (o.notAfter !== null) return Math.max(1, Math.ceil((o.notAfter - start) / 86_400_000));
    return site.settings.maxDays ?? undefined;
  }

  async order(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const o = await this.ownOrder(s, (req.params as { id: string }).id);
    if (o.status === "processing") void reply.header("retry-after", "2");
    return this.send(reply, s.site, 200, await this.orderJson(s.site, o));
  }

  async finalize(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const id = (req.params as { id: string }).id;
    let o = await this.ownOrder(s, id);
    const p = obj(s.payload, "finalize");
    if (typeof p.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.csr))
      throw new AcmeProblem("malformed", "finalize needs csr: the CSR's DER in base64url (RFC 8555 §7.4)");
    const der = Buffer.from(p.csr, "base64url");
    // §7.4: only a ready order is finalized; the state changes under a row lock, once.
    const took = await this.d.acme.transaction(async (tx) => {
      const cur = await tx.getOrderForUpdate(o.id);
      if (!cur || cur.status !== "ready") return cur?.status ?? "missing";
      await tx.updateOrder(o.id, { status: "processing" });
      return "ok";
    });
    if (took !== "ok")
      throw new AcmeProblem(
        "orderNotReady",
        `the order is ${took}, not ready: complete its authorizations first`,
        { status: 403 },
      );
    o = { ...o, status: "processing" };
    const invalid = async (type: AcmeProblemType, detail: string) => {
      const error = { type: urn(type), detail };
      await this.d.acme.transaction((tx) => tx.updateOrder(o.id, { status: "invalid", error }));
      return new AcmeProblem(type, detail);
    };
    let csr;
    try {
      csr = parseCsr(der);
    } catch (e) {
      throw await invalid("badCSR", isSigilError(e) ? e.message : "the CSR cannot be read");
    }
    // §7.4: the CSR names exactly the order's identifiers (CN and/or SANs).
    const want = new Set(o.identifiers.map(idKey));
    const got = new Set<string>();
    for (const n of csr.requestedSans)
      if (n.type === "dns" || n.type === "ip") got.add(idKey({ type: n.type, value: n.value }));
      else
        throw await invalid(
          "badCSR",
          `the CSR asks for a ${n.type} name (${n.value}); only the order's identifiers may be named`,
        );
    // Every CN, not only the last: a certificate whose first CN says "postgres" would be
    // read as that name by software that takes the first (the subject is rebuilt from the
    // identifiers anyway, policy/subject.ts).
    for (const a of csr.subject)
      if (a.oid === AttrOid.CN)
        got.add(idKey(isIP(a.value) ? { type: "ip", value: a.value } : { type: "dns", value: a.value }));
    const missing = [...want].filter((k) => !got.has(k));
    const extra = [...got].filter((k) => !want.has(k));
    if (missing.length || extra.length)
      throw await invalid(
        "badCSR",
        `the CSR must name exactly the order's identifiers${missing.length ? `; missing ${missing.map(idValue).join(", ")}` : ""}${extra.length ? `; not in the order: ${extra.map(idValue).join(", ")}` : ""}`,
      );
    // §11.1: the account key must not be certified.
    if (importPublicJwk(s.jwk).export({ type: "spki", format: "der" }).equals(csr.spki))
      throw await invalid(
        "badCSR",
        "the CSR's key is the account key: use a separate key for the certificate",
      );
    const result = await actingAs(`acme:${s.account!.publicId}`, () =>
      this.d.queue.take([{ name: `order-${o.publicId}.csr`, data: der }], {
        channel: "acme",
        submitter: `acme:${s.account!.publicId}`,
        replyTo: null,
        source: `acme:${s.site.ca.name}/order/${o.publicId}`,
        caName: s.site.ca.name,
        profile: s.site.settings.profile,
      }),
    );
    const r = result.requests[0];
    if (!r) throw await invalid("badCSR", result.reason ?? "the CSR was refused");
    await this.d.acme.transaction((tx) => tx.updateOrder(o.id, { requestId: r.id }));
    o = { ...o, requestId: r.id };
    if (r.state === "rejected") throw await invalid("badCSR", r.reason ?? "the CSR was refused");
    o = await this.settle(s.site, o, r);
    if (o.status === "processing") void reply.header("retry-after", "2");
    return this.send(reply, s.site, 200, await this.orderJson(s.site, o), this.orderUrl(s.site, o));
  }

  // ---- authorizations and challenges (§7.5, §8) ----

  private async authzJson(site: Site, z: AuthzRecord, challenges?: ChallengeRecord[]) {
    const list = challenges ?? (await this.d.acme.challengesOfAuthz(z.id));
    return {
      identifier: z.identifier,
      status: z.status === "pending" && z.expiresAt < this.now() ? "expired" : z.status,
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

  private async ownAuthz(s: Signed, id: string): Promise<AuthzRecord> {
    const z = await this.d.acme.getAuthzByPublicId(s.site.ca.id, id);
    if (!z) throw new AcmeProblem("malformed", "no such authorization", { status: 404 });
    if (z.accountId !== s.account!.id)
      throw new AcmeProblem("unauthorized", "the authorization belongs to another account");
    return z;
  }

  async authz(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    let z = await this.ownAuthz(s, (req.params as { id: string }).id);
    if (s.payload !== undefined) {
      const p = obj(s.payload, "authorization update");
      // §7.5.2: a client may only deactivate.
      if (p.status !== "deactivated")
        throw new AcmeProblem("malformed", `an authorization's status can only be set to "deactivated"`);
      if (z.status !== "pending" && z.status !== "valid")
        throw new AcmeProblem("malformed", `the authorization is ${z.status}`);
      await this.d.acme.transaction(async (tx) => {
        await tx.updateAuthz(z.id, { status: "deactivated" });
        const o = await tx.getOrderForUpdate(z.orderId);
        if (o && (o.status === "pending" || o.status === "ready"))
          await tx.updateOrder(o.id, {
            status: "invalid",
            error: { type: urn("unauthorized"), detail: "an authorization was deactivated" },
          });
      });
      z = { ...z, status: "deactivated" };
    } else {
      await this.resumeStale(s.site, z, await this.d.acme.challengesOfAuthz(z.id), s.account!);
    }
    return this.send(reply, s.site, 200, await this.authzJson(s.site, z));
  }

  /**
   * Runs again a validation that has been "processing" for longer than an attempt can take:
   * the process that started it (this one before a restart, or another instance) died
   * before recording the outcome. The claim (a new start time, under the row lock) makes
   * one poller, on one instance, take it over.
   */
  private async resumeStale(
    site: Site,
    z: AuthzRecord,
    challenges: ChallengeRecord[],
    account: AccountRecord,
  ): Promise<void> {
    const now = this.now();
    const staleBefore = now - (this.d.config.acme.validationTimeoutSeconds * 1000 + STALE_GRACE_MS);
    for (const c of challenges) {
      if (c.status !== "processing" || this.running.has(c.id)) continue;
      if (c.startedAt !== null && c.startedAt > staleBefore) continue;
      const claimed = await this.d.acme.transaction(async (tx) => {
        const cur = await tx.getChallengeForUpdate(c.id);
        if (!cur || cur.status !== "processing") return false;
        if (cur.startedAt !== null && cur.startedAt > staleBefore) return false;
        await tx.updateChallenge(c.id, { startedAt: now });
        return true;
      });
      if (!claimed) continue;
      this.d.logger.warn(
        { ca: site.ca.name, challenge: c.publicId, type: c.type },
        "ACME validation left unfinished by a stopped process: running it again",
      );
      this.validateLater(site, z, { ...c, startedAt: now }, account);
    }
  }

  async challenge(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const c = await this.d.acme.getChallengeByPublicId(s.site.ca.id, (req.params as { id: string }).id);
    if (!c) throw new AcmeProblem("malformed", "no such challenge", { status: 404 });
    const z = await this.d.acme.getAuthzById(c.authzId);
    if (!z || z.accountId !== s.account!.id)
      throw new AcmeProblem("unauthorized", "the challenge belongs to another account");
    const up = `<${s.site.base}/authz/${z.publicId}>;rel="up"`;
    // §7.5.1: a POST with a JSON object payload ({}) starts validation; POST-as-GET only reads.
    if (s.payload === undefined || c.status !== "pending") {
      await this.resumeStale(s.site, z, [c], s.account!);
      return this.send(reply, s.site, 200, this.challengeJson(s.site, c), undefined, [up]);
    }
    obj(s.payload, "challenge response");
    if (z.status !== "pending" || z.expiresAt < this.now())
      throw new AcmeProblem(
        "malformed",
        `the authorization is ${z.expiresAt < this.now() ? "expired" : z.status}`,
      );
    const started = await this.d.acme.transaction(async (tx) => {
      const cur = await tx.getChallengeForUpdate(c.id);
      if (!cur || cur.status !== "pending") return false;
      await tx.updateChallenge(c.id, { status: "processing", startedAt: this.now() });
      return true;
    });
    const now: ChallengeRecord = { ...c, status: started ? "processing" : c.status };
    if (started) this.validateLater(s.site, z, now, s.account!);
    return this.send(reply, s.site, 200, this.challengeJson(s.site, now), undefined, [up]);
  }

  /** Runs the validation after the answer (§7.5.1: the client polls the authorization). */
  private validateLater(site: Site, z: AuthzRecord, c: ChallengeRecord, account: AccountRecord): void {
    if (this.running.has(c.id)) return;
    this.running.add(c.id);
    const keyAuth = keyAuthorization(c.token, account.thumbprint);
    const v = this.d.validators;
    const attempt =
      c.type === "http-01"
        ? v.http01(z.identifier, c.token, keyAuth)
        : c.type === "tls-alpn-01"
          ? v.tlsAlpn01(z.identifier, keyAuth)
          : v.dns01(z.identifier, keyAuth);
    void attempt
      .catch((e: unknown): { ok: false; problem: StoredProblem } => ({
        ok: false,
        problem: {
          type: urn("serverInternal"),
          detail: `validation failed: ${oneLine((e as Error).message)}`,
        },
      }))
      .then((result) => this.record(site, z, c, result))
      .catch((e: unknown) =>
        this.d.logger.error(
          { err: { message: (e as Error).message }, challenge: c.publicId },
          "ACME validation not recorded",
        ),
      )
      .finally(() => this.running.delete(c.id));
  }

  /** §7.1.6: a valid challenge makes its authorization valid, a failed one invalid; the order follows. */
  private async record(
    site: Site,
    z: AuthzRecord,
    c: ChallengeRecord,
    result: { ok: true } | { ok: false; problem: StoredProblem },
  ): Promise<void> {
    const now = this.now();
    await this.d.acme.transaction(async (tx) => {
      const cur = await tx.getChallengeForUpdate(c.id);
      if (!cur || cur.status !== "processing") return;
      const order = await tx.getOrderForUpdate(z.orderId);
      if (result.ok) {
        await tx.updateChallenge(c.id, { status: "valid", validatedAt: now });
        await tx.updateAuthz(z.id, { status: "valid" });
      } else {
        await tx.updateChallenge(c.id, { status: "invalid", error: result.problem });
        await tx.updateAuthz(z.id, { status: "invalid" });
      }
      if (!order || order.status !== "pending") return;
      if (!result.ok) {
        await tx.updateOrder(order.id, {
          status: "invalid",
          error: { ...result.problem, detail: `${z.identifier.value}: ${result.problem.detail}` },
        });
        return;
      }
      const all = await tx.authzsOfOrder(order.id);
      if (all.every((a) => (a.id === z.id ? true : a.status === "valid")))
        await tx.updateOrder(order.id, { status: "ready" });
    });
    this.d.logger.info(
      { ca: site.ca.name, challenge: c.type, identifier: z.identifier.value, ok: result.ok },
      result.ok ? "ACME challenge valid" : "ACME challenge failed",
    );
  }

  // ---- certificates (§7.4.2) and revocation (§7.6) ----

  async certificate(req: FastifyRequest, reply: FastifyReply) {
    const s = await this.signed(req);
    const serial = (req.params as { id: string }).id;
    const cert = /^[0-9a-f]{1,40}$/.test(serial)
      ? await this.d.store.getCert(s.site.ca.id, serial)
      : undefined;
    const order = cert ? await this.d.acme.orderOfCert(cert.id) : undefined;
    if (!cert || !order) throw new AcmeProblem("malformed", "no such certificate", { status: 404 });
    if (order.accountId !== s.account!.id)
      throw new AcmeProblem("unauthorized", "the certificate was ordered by another account");
    // The leaf, then each issuer up to (not including) the root, which clients trust already.
    const chain = await this.d.authority.chain(s.site.ca.name);
    const pem = [cert.der, ...chain.filter((c) => c.parentId !== null).map((c) => c.certDer)]
      .map((d) => toPem(d, "CERTIFICATE"))
      .join("");
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
    const der = Buffer.from(p.certificate, "base64url");
    let info;
    try {
      info = parseCertificate(der);
    } catch {
      throw new AcmeProblem("malformed", "the certificate cannot be read");
    }
    const reasonCode = p.reason === undefined ? 0 : p.reason;
    const reason = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
      (k) => REVOCATION_REASONS[k] === reasonCode,
    );
    // §7.6: RFC 5280 reason codes; removeFromCRL (8) is not a reason to revoke.
    if (!reason || reason === "removeFromCRL")
      throw new AcmeProblem(
        "badRevocationReason",
        `reason ${JSON.stringify(reasonCode)} is not a revocation reason code Sigil accepts (RFC 5280 §5.3.1)`,
      );
    const cert = await this.d.store.getCert(s.site.ca.id, info.serialHex);
    if (!cert || !cert.der.equals(der))
      throw new AcmeProblem("malformed", `the certificate was not issued by ${s.site.ca.name}`, {
        status: 404,
      });
    if (cert.status === "revoked")
      throw new AcmeProblem("alreadyRevoked", "the certificate is already revoked");
    let actor: string;
    if (s.account) {
      const order = await this.d.acme.orderOfCert(cert.id);
      const mine = order?.accountId === s.account.id;
      if (!mine && !(await this.holdsAuthorizations(s.account, cert)))
        throw new AcmeProblem(
          "unauthorized",
          "this account neither ordered the certificate nor holds valid authorizations for all its identifiers",
        );
      actor = `acme:${s.account.publicId}`;
    } else {
      // Signed with the certificate's own key.
      const spki = importPublicJwk(s.jwk).export({ type: "spki", format: "der" });
      if (!spki.equals(info.spki))
        throw new AcmeProblem(
          "unauthorized",
          "the JWS key is neither an account key nor the certificate's key",
        );
      actor = `acme:certificate-key`;
    }
    await actingAs(actor, () => this.d.authority.revoke(s.site.ca.name, { certDer: der }, reason));
    await this.headers(reply, s.site);
    return reply.code(200).send();
  }

  private async holdsAuthorizations(account: AccountRecord, cert: CertRecord): Promise<boolean> {
    const names = cert.sans.filter((n) => n.type === "dns" || n.type === "ip");
    if (names.length === 0) return false;
    const valid = new Set(
      (await this.d.acme.validAuthzs(account.id, this.now())).map((z) =>
        idKey(z.wildcard ? { type: "dns", value: `*.${z.identifier.value}` } : z.identifier),
      ),
    );
    return names.every((n) => valid.has(idKey({ type: n.type as "dns" | "ip", value: n.value })));
  }

  private audit(actor: string, action: string, target: string, details: Record<string, unknown>) {
    return this.d.store.transaction((tx) =>
      tx.appendAudit({ at: this.now(), actor, action, target, details }),
    );
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

function urn(type: string): string {
  return `urn:ietf:params:acme:error:${type}`;
}

function obj(payload: unknown, what: string): Record<string, unknown> {
  if (payload === undefined)
    throw new AcmeProblem("malformed", `${what} needs a JSON object payload, not POST-as-GET`);
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new AcmeProblem("malformed", `${what}: the payload must be a JSON object`);
  return payload as Record<string, unknown>;
}

function time(v: unknown, what: string): number {
  const t = typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new AcmeProblem("malformed", `${what} must be an RFC 3339 date`);
  return t;
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

/** §7.1.4, §9.7.7, RFC 8738: dns names (lower case, a leading `*.` for a wildcard) and IP addresses. */
function parseIdentifiers(v: unknown): AcmeIdentifier[] {
  if (!Array.isArray(v) || v.length === 0)
    throw new AcmeProblem("malformed", "newOrder needs identifiers: a non-empty list");
  if (v.length > MAX_IDENTIFIERS)
    throw new AcmeProblem("rejectedIdentifier", `at most ${MAX_IDENTIFIERS} identifiers per order`);
  const seen = new Set<string>();
  const out: AcmeIdentifier[] = [];
  for (const i of v as unknown[]) {
    const type = (i as { type?: unknown })?.type;
    const value = (i as { value?: unknown })?.value;
    if (typeof value !== "string")
      throw new AcmeProblem("malformed", "every identifier needs a string value");
    let id: AcmeIdentifier;
    if (type === "dns") {
      const name = value.toLowerCase().replace(/\.$/, "");
      const bare = name.startsWith("*.") ? name.slice(2) : name;
      if (!DNS_NAME.test(bare) || isIP(bare))
        throw new AcmeProblem("rejectedIdentifier", `"${value}" is not a DNS name`);
      id = { type: "dns", value: name };
    } else if (type === "ip") {
      if (!isIP(value)) throw new AcmeProblem("malformed", `"${value}" is not an IP address`);
      id = { type: "ip", value: normalizeIp(value) };
    } else {
      throw new AcmeProblem(
        "unsupportedIdentifier",
        `identifier type ${JSON.stringify(type)} is not supported (dns, ip)`,
      );
    }
    const k = idKey(id);
    if (!seen.has(k)) out.push(id);
    seen.add(k);
  }
  return out;
}

function normalizeIp(v: string): string {
  if (isIP(v) === 4) return v;
  // The canonical text form of an IPv6 address (what the certificate's SAN decodes to).
  return new URL(`http://[${v}]/`).hostname.slice(1, -1);
}

function idKey(i: AcmeIdentifier): string {
  return `${i.type}:${i.type === "ip" ? normalizeIp(i.value) : i.value.toLowerCase()}`;
}

function idValue(k: string): string {
  return k.slice(k.indexOf(":") + 1);
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
