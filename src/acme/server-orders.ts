/**
 * The ACME server's order resources (RFC 8555 §7.4, §7.5, §8, §7.6): newOrder, an order and
 * its finalize, authorizations, challenges, the certificate chain, and revokeCert. Registered
 * by server.ts's `registerAcme` through the {@link AcmeContext} (the signed-request reader,
 * the reply helpers); what a client may do with them, and their audit events, is
 * authority/acme/orders.ts, authorizations.ts and revocation.ts.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { AcmeProblem } from "./problem.js";
import { importPublicJwk } from "./jws.js";
import type { AcmeContext, Site } from "./server.js";
import type { AuthzRecord, ChallengeRecord, OrderRecord } from "./types.js";

const iso = (ms: number) => new Date(ms).toISOString();

/** Registers the order, authorization, challenge, certificate and revocation routes, in this order. */
export function registerOrderRoutes(ctx: AcmeContext): void {
  ctx.post("/:ca/new-order", (r, y) => newOrder(ctx, r, y));
  ctx.post("/:ca/order/:id", (r, y) => order(ctx, r, y));
  ctx.post("/:ca/order/:id/finalize", (r, y) => finalize(ctx, r, y));
  ctx.post("/:ca/authz/:id", (r, y) => authz(ctx, r, y));
  ctx.post("/:ca/chall/:id", (r, y) => challenge(ctx, r, y));
  ctx.post("/:ca/cert/:id", (r, y) => certificate(ctx, r, y));
  ctx.post("/:ca/revoke-cert", (r, y) => revokeCert(ctx, r, y));
}

// ---- orders (§7.4) ----

/** An order's URL (also listed by an account's orders, §7.1.2.1). */
export function orderUrl(site: Site, o: OrderRecord): string {
  return `${site.base}/order/${o.publicId}`;
}

async function orderJson(ctx: AcmeContext, site: Site, o: OrderRecord) {
  const authzs = await ctx.d.acme.authzsOfOrder(o.id);
  const cert = o.certId !== null ? await ctx.d.store.getCertById(o.certId) : undefined;
  return {
    status: o.status,
    expires: iso(o.expiresAt),
    identifiers: o.identifiers,
    ...(o.notBefore !== null ? { notBefore: iso(o.notBefore) } : {}),
    ...(o.notAfter !== null ? { notAfter: iso(o.notAfter) } : {}),
    ...(o.error ? { error: o.error } : {}),
    authorizations: authzs.map((z) => `${site.base}/authz/${z.publicId}`),
    finalize: `${orderUrl(site, o)}/finalize`,
    ...(o.status === "valid" && cert ? { certificate: `${site.base}/cert/${cert.serialHex}` } : {}),
  };
}

async function newOrder(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const p = ctx.obj(s.payload, "newOrder");
  const order = await ctx.u.orders.create(s.site, s.account!, {
    identifiers: p.identifiers,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
  });
  return ctx.send(reply, s.site, 201, await orderJson(ctx, s.site, order), orderUrl(s.site, order));
}

async function order(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const o = await ctx.u.orders.get(s.site, s.account!, ctx.param(req));
  if (o.status === "processing") void reply.header("retry-after", "2");
  return ctx.send(reply, s.site, 200, await orderJson(ctx, s.site, o));
}

async function finalize(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const csrOf = () => {
    const p = ctx.obj(s.payload, "finalize");
    if (typeof p.csr !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.csr))
      throw new AcmeProblem("malformed", "finalize needs csr: the CSR's DER in base64url (RFC 8555 §7.4)");
    return Buffer.from(p.csr, "base64url");
  };
  const spki = importPublicJwk(s.jwk).export({ type: "spki", format: "der" });
  const o = await ctx.u.orders.finalize(s.site, s.account!, ctx.param(req), csrOf, spki);
  if (o.status === "processing") void reply.header("retry-after", "2");
  return ctx.send(reply, s.site, 200, await orderJson(ctx, s.site, o), orderUrl(s.site, o));
}

// ---- authorizations and challenges (§7.5, §8) ----

async function authzJson(ctx: AcmeContext, site: Site, z: AuthzRecord, challenges?: ChallengeRecord[]) {
  const list = challenges ?? (await ctx.d.acme.challengesOfAuthz(z.id));
  return {
    identifier: z.identifier,
    status: z.status === "pending" && z.expiresAt < ctx.d.clock() ? "expired" : z.status,
    expires: iso(z.expiresAt),
    challenges: list.map((c) => challengeJson(site, c)),
    ...(z.wildcard ? { wildcard: true } : {}),
  };
}

function challengeJson(site: Site, c: ChallengeRecord) {
  return {
    type: c.type,
    url: `${site.base}/chall/${c.publicId}`,
    status: c.status,
    token: c.token,
    ...(c.validatedAt !== null ? { validated: iso(c.validatedAt) } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

async function authz(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  let z = await ctx.u.authorizations.get(s.site, s.account!, ctx.param(req));
  if (s.payload !== undefined) {
    const p = ctx.obj(s.payload, "authorization update");
    // §7.5.2: a client may only deactivate.
    if (p.status !== "deactivated")
      throw new AcmeProblem("malformed", `an authorization's status can only be set to "deactivated"`);
    z = await ctx.u.authorizations.deactivate(z);
  } else {
    await ctx.u.authorizations.resumeStale(s.site, z, await ctx.d.acme.challengesOfAuthz(z.id), s.account!);
  }
  return ctx.send(reply, s.site, 200, await authzJson(ctx, s.site, z));
}

async function challenge(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const { challenge: c, authz: z } = await ctx.u.authorizations.challenge(s.site, s.account!, ctx.param(req));
  const up = `<${s.site.base}/authz/${z.publicId}>;rel="up"`;
  // §7.5.1: a POST with a JSON object payload ({}) starts validation; POST-as-GET only reads.
  if (s.payload === undefined || c.status !== "pending") {
    await ctx.u.authorizations.resumeStale(s.site, z, [c], s.account!);
    return ctx.send(reply, s.site, 200, challengeJson(s.site, c), undefined, [up]);
  }
  ctx.obj(s.payload, "challenge response");
  const now = await ctx.u.authorizations.respond(s.site, z, c, s.account!);
  return ctx.send(reply, s.site, 200, challengeJson(s.site, now), undefined, [up]);
}

// ---- certificates (§7.4.2) and revocation (§7.6) ----

async function certificate(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const pem = await ctx.u.orders.certificateChain(s.site, s.account!, ctx.param(req));
  await ctx.headers(reply, s.site);
  return reply.code(200).type("application/pem-certificate-chain").send(pem);
}

async function revokeCert(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req, { jwk: "allowed" });
  const p = ctx.obj(s.payload, "revokeCert");
  if (typeof p.certificate !== "string" || !/^[A-Za-z0-9_-]+$/.test(p.certificate))
    throw new AcmeProblem("malformed", "revokeCert needs certificate: the DER in base64url (RFC 8555 §7.6)");
  await ctx.u.revocation.revoke(s.site, {
    der: Buffer.from(p.certificate, "base64url"),
    reason: p.reason,
    ...(s.account ? { account: s.account } : {}),
    jwsSpki: importPublicJwk(s.jwk).export({ type: "spki", format: "der" }),
  });
  await ctx.headers(reply, s.site);
  return reply.code(200).send();
}
