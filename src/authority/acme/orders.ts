/**
 * ACME orders (RFC 8555 §7.4): made, expired, finalized and followed to their certificate
 * here, each state change in one transaction.
 *
 * - newOrder is checked against the CA's allowed identifiers (rejectedIdentifier, one
 *   subproblem per refused identifier, §6.7.1) and the order rate limit (§6.6). Each
 *   identifier gets an authorization with http-01, tls-alpn-01 (RFC 8737) and dns-01
 *   challenges (a wildcard: dns-01 only, §7.1.3; an IP: no dns-01, RFC 8738 §7).
 * - finalize takes the CSR into the request queue (channel "acme") and, unless the CA
 *   wants manual approval, approves it at once under the CA's ACME profile: the same code
 *   as `sigil requests approve`. While the service is sealed, or an operator has to decide,
 *   the order stays "processing" and the client polls.
 */
import { isIP } from "node:net";
import type { Authority } from "../authority.js";
import type { RequestQueue } from "../queue.js";
import type { CertRecord, RequestRecord } from "../../store/types.js";
import type { AccountRecord, ChallengeType, OrderRecord } from "../../store/acme-records.js";
import { ErrorCodes, isSigilError } from "../../errors.js";
import { actingAs } from "../../audit/actor.js";
import { identifierAllowed } from "../../policy/acme-identifiers.js";
import { parseCsr } from "../../x509/csr.js";
import { AttrOid } from "../../x509/oids.js";
import { toPem } from "../../x509/der.js";
import { act, b64u, urn, type AcmeSite, type AcmeUseCaseDeps } from "./context.js";
import { idKey, idValue, parseIdentifiers } from "./identifiers.js";
import { AcmeProblem, type AcmeProblemType } from "./problem.js";

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 86_400_000;

/** What orders need besides the common deps: the CA chain, the request queue. */
export interface AcmeOrderDeps extends AcmeUseCaseDeps {
  authority: Pick<Authority, "chain">;
  queue: Pick<RequestQueue, "take" | "approve">;
}

/** A newOrder payload's fields, as the client sent them (checked here). */
export interface OrderAsk {
  identifiers: unknown;
  notBefore: unknown;
  notAfter: unknown;
}

function time(v: unknown, what: string): number {
  const t = typeof v === "string" ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) throw new AcmeProblem("malformed", `${what} must be an RFC 3339 date`);
  return t;
}

export class AcmeOrders {
  constructor(private readonly d: AcmeOrderDeps) {}

  /** newOrder (§7.4): the order, its authorizations and their challenges, in one transaction. */
  async create(site: AcmeSite, a: AccountRecord, ask: OrderAsk): Promise<OrderRecord> {
    await this.checkOrderRate(a);
    const identifiers = parseIdentifiers(ask.identifiers);
    const { allow } = site.settings;
    // Every identifier against the CA's allowed patterns, each refusal a subproblem (§6.7.1).
    const refused = identifiers.filter((i) => !identifierAllowed(allow, i));
    if (refused.length)
      throw new AcmeProblem(
        "rejectedIdentifier",
        `${site.ca.name} does not issue for ${refused.map((i) => i.value).join(", ")} (allowed: ${allow.join(", ")})`,
        {
          subproblems: refused.map((i) => ({
            type: "rejectedIdentifier",
            detail: `${i.value} is outside ${allow.join(", ")}`,
            identifier: i,
          })),
        },
      );
    const now = this.d.clock();
    const notBefore = ask.notBefore === undefined ? null : time(ask.notBefore, "notBefore");
    const notAfter = ask.notAfter === undefined ? null : time(ask.notAfter, "notAfter");
    if (notBefore !== null && notAfter !== null && notAfter <= notBefore)
      throw new AcmeProblem("malformed", "notAfter must be after notBefore");
    if (notBefore !== null && notBefore > now + DAY_MS)
      throw new AcmeProblem("malformed", "notBefore more than a day ahead is not offered");
    const maxDays = site.settings.maxDays;
    if (
      notAfter !== null &&
      maxDays !== null &&
      notAfter > Math.max(now, notBefore ?? now) + maxDays * DAY_MS
    )
      throw new AcmeProblem(
        "malformed",
        `notAfter is beyond ${site.ca.name}'s ACME limit of ${maxDays} days`,
      );
    const expiresAt = now + this.d.config.acme.orderHours * HOUR_MS;
    const id = () => b64u(this.d.random(16));
    return act(this.d, async (tx) => {
      const o = await tx.acme.insertOrder({
        publicId: id(),
        accountId: a.id,
        caId: site.ca.id,
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
        const z = await tx.acme.insertAuthz({
          publicId: id(),
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
          await tx.acme.insertChallenge({
            publicId: id(),
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
  }

  /**
   * §6.6: at most `acme.ordersPerAccountPerHour` new orders per account in any hour, counted
   * in the store (so across instances); past it, rateLimited with the seconds until the
   * oldest order of the window leaves it.
   */
  private async checkOrderRate(a: AccountRecord): Promise<void> {
    const max = this.d.config.acme.ordersPerAccountPerHour;
    if (max === 0) return;
    const now = this.d.clock();
    if ((await this.d.acme.countOrdersSince(a.id, now - HOUR_MS)) < max) return;
    const recent = await this.d.acme.listOrders(a.id, max);
    const oldest = recent.length ? recent[recent.length - 1]!.createdAt : now;
    const wait = Math.max(1, Math.ceil((oldest + HOUR_MS - now) / 1000));
    throw new AcmeProblem(
      "rateLimited",
      `this account made ${max} orders in the last hour (acme.ordersPerAccountPerHour): try again in ${wait} s`,
      { retryAfter: wait },
    );
  }

  /** The order `publicId`, owned by `a`, brought up to date (expiry, the queued request's fate). */
  async get(site: AcmeSite, a: AccountRecord, publicId: string): Promise<OrderRecord> {
    const o = await this.d.acme.getOrderByPublicId(site.ca.id, publicId);
    if (!o) throw new AcmeProblem("malformed", "no such order", { status: 404 });
    if (o.accountId !== a.id) throw new AcmeProblem("unauthorized", "the order belongs to another account");
    return this.refresh(site, o);
  }

  private async refresh(site: AcmeSite, o: OrderRecord): Promise<OrderRecord> {
    if ((o.status === "pending" || o.status === "ready") && o.expiresAt < this.d.clock()) {
      const error = { type: urn("malformed"), detail: "the order expired" };
      await act(this.d, (tx) => tx.acme.updateOrder(o.id, { status: "invalid", error }));
      return { ...o, status: "invalid", error };
    }
    if (o.status === "processing" && o.requestId !== null) {
      const r = await this.d.store.getRequest(o.requestId);
      if (r) return this.settle(site, o, r);
    }
    return o;
  }

  /** Follows a processing order's request: issued → valid, rejected/failed → invalid, pending → try to sign. */
  private async settle(site: AcmeSite, o: OrderRecord, r: RequestRecord): Promise<OrderRecord> {
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
      const certId = r.certificateId;
      await act(this.d, (tx) => tx.acme.updateOrder(o.id, { status: "valid", certId }));
      return { ...o, status: "valid", certId };
    }
    if (r.state === "rejected" || r.state === "failed") {
      const error = {
        type: urn(r.decidedBy === "intake" ? "badCSR" : "unauthorized"),
        detail: `request ${r.id} was ${r.state}${r.reason ? `: ${r.reason}` : ""}`,
      };
      await act(this.d, (tx) => tx.acme.updateOrder(o.id, { status: "invalid", error }));
      return { ...o, status: "invalid", error };
    }
    return o;
  }

  private async approve(site: AcmeSite, o: OrderRecord, r: RequestRecord): Promise<CertRecord> {
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
  private days(site: AcmeSite, o: OrderRecord): number | undefined {
    const start = Math.max(this.d.clock(), o.notBefore ?? 0);
    if (o.notAfter !== null) return Math.max(1, Math.ceil((o.notAfter - start) / DAY_MS));
    return site.settings.maxDays ?? undefined;
  }

  /**
   * finalize (§7.4): a ready order (state changed under a row lock, once) with a CSR naming
   * exactly its identifiers, whose key is not the account key (`accountSpki`, §11.1).
   */
  async finalize(
    site: AcmeSite,
    a: AccountRecord,
    publicId: string,
    csrOf: () => Buffer,
    accountSpki: Buffer,
  ): Promise<OrderRecord> {
    let o = await this.get(site, a, publicId);
    const csrDer = csrOf(); // the payload is read after the order is found (its errors second)
    const took = await act(this.d, async (tx) => {
      const cur = await tx.acme.getOrderForUpdate(o.id);
      if (!cur || cur.status !== "ready") return cur?.status ?? "missing";
      await tx.acme.updateOrder(o.id, { status: "processing" });
      return "ok";
    });
    if (took !== "ok")
      throw new AcmeProblem(
        "orderNotReady",
        `the order is ${took}, not ready: complete its authorizations first`,
        {
          status: 403,
        },
      );
    o = { ...o, status: "processing" };
    const orderId = o.id;
    const invalid = async (type: AcmeProblemType, detail: string) => {
      const error = { type: urn(type), detail };
      await act(this.d, (tx) => tx.acme.updateOrder(orderId, { status: "invalid", error }));
      return new AcmeProblem(type, detail);
    };
    let csr;
    try {
      csr = parseCsr(csrDer);
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
    for (const n of csr.subject)
      if (n.oid === AttrOid.CN)
        got.add(idKey(isIP(n.value) ? { type: "ip", value: n.value } : { type: "dns", value: n.value }));
    const missing = [...want].filter((k) => !got.has(k));
    const extra = [...got].filter((k) => !want.has(k));
    if (missing.length || extra.length)
      throw await invalid(
        "badCSR",
        `the CSR must name exactly the order's identifiers${missing.length ? `; missing ${missing.map(idValue).join(", ")}` : ""}${extra.length ? `; not in the order: ${extra.map(idValue).join(", ")}` : ""}`,
      );
    // §11.1: the account key must not be certified.
    if (accountSpki.equals(csr.spki))
      throw await invalid(
        "badCSR",
        "the CSR's key is the account key: use a separate key for the certificate",
      );
    const result = await actingAs(`acme:${a.publicId}`, () =>
      this.d.queue.take([{ name: `order-${o.publicId}.csr`, data: csrDer }], {
        channel: "acme",
        submitter: `acme:${a.publicId}`,
        replyTo: null,
        source: `acme:${site.ca.name}/order/${o.publicId}`,
        caName: site.ca.name,
        profile: site.settings.profile,
      }),
    );
    const r = result.requests[0];
    if (!r) throw await invalid("badCSR", result.reason ?? "the CSR was refused");
    await act(this.d, (tx) => tx.acme.updateOrder(orderId, { requestId: r.id }));
    o = { ...o, requestId: r.id };
    if (r.state === "rejected") throw await invalid("badCSR", r.reason ?? "the CSR was refused");
    return this.settle(site, o, r);
  }

  /**
   * The certificate (§7.4.2) with serial `serial`, if `a` ordered it: the leaf, then each
   * issuer up to (not including) the root, which clients trust already, in PEM.
   */
  async certificateChain(site: AcmeSite, a: AccountRecord, serial: string): Promise<string> {
    const cert = /^[0-9a-f]{1,40}$/.test(serial) ? await this.d.store.getCert(site.ca.id, serial) : undefined;
    const order = cert ? await this.d.acme.orderOfCert(cert.id) : undefined;
    if (!cert || !order) throw new AcmeProblem("malformed", "no such certificate", { status: 404 });
    if (order.accountId !== a.id)
      throw new AcmeProblem("unauthorized", "the certificate was ordered by another account");
    const chain = await this.d.authority.chain(site.ca.name);
    return [cert.der, ...chain.filter((c) => c.parentId !== null).map((c) => c.certDer)]
      .map((d) => toPem(d, "CERTIFICATE"))
      .join("");
  }
}
