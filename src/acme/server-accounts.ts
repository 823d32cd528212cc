/**
 * The ACME server's account resources (RFC 8555 §7.3): newAccount, an account's URL (read,
 * update, deactivate), its orders list, and keyChange. Registered by server.ts's
 * `registerAcme` through the {@link AcmeContext} (the signed-request reader, the reply
 * helpers); what an account may do, and its audit events, is authority/acme/accounts.ts.
 */
import type { JsonWebKey } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { AcmeProblem } from "./problem.js";
import { parseJws, verifyJws, jwkThumbprint, publicJwk, parseEab, checkEabMac } from "./jws.js";
import { orderUrl } from "./server-orders.js";
import type { AcmeContext, Signed, Site } from "./server.js";
import type { AccountRecord } from "./types.js";

/** Registers the account routes, in this order, on the context's plugin. */
export function registerAccountRoutes(ctx: AcmeContext): void {
  ctx.post("/:ca/new-account", (r, y) => newAccount(ctx, r, y));
  ctx.post("/:ca/acct/:id", (r, y) => account(ctx, r, y));
  ctx.post("/:ca/acct/:id/orders", (r, y) => orders(ctx, r, y));
  ctx.post("/:ca/key-change", (r, y) => keyChange(ctx, r, y));
}

// ---- accounts (§7.3) ----

function accountUrl(site: Site, a: AccountRecord): string {
  return `${site.base}/acct/${a.publicId}`;
}

function accountJson(site: Site, a: AccountRecord) {
  return {
    status: a.status,
    contact: a.contact,
    termsOfServiceAgreed: true,
    orders: `${accountUrl(site, a)}/orders`,
    ...(a.eabKid ? { externalAccountBinding: { kid: a.eabKid } } : {}),
  };
}

async function newAccount(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req, { jwk: "required" });
  const p = ctx.obj(s.payload, "newAccount");
  const thumbprint = jwkThumbprint(s.jwk);
  const existing = await ctx.u.accounts.byKey(s.site, thumbprint);
  // §7.3.1: the existing account, 200, with its URL.
  if (existing)
    return ctx.send(reply, s.site, 200, accountJson(s.site, existing), accountUrl(s.site, existing));
  if (p.onlyReturnExisting === true)
    throw new AcmeProblem("accountDoesNotExist", "no account exists for this key (onlyReturnExisting)");
  const contact = contacts(p.contact);
  const eab =
    p.externalAccountBinding === undefined
      ? undefined
      : parseEab(p.externalAccountBinding, s.jwk, `${ctx.origin(req)}${req.url}`);
  const account = await ctx.u.accounts.create(s.site, {
    thumbprint,
    jwk: JSON.stringify(s.jwk),
    contact,
    ...(eab ? { eab: { kid: eab.kid, verify: (key: Buffer | undefined) => checkEabMac(eab, key) } } : {}),
  });
  return ctx.send(reply, s.site, 201, accountJson(s.site, account), accountUrl(s.site, account));
}

function owned(s: Signed, id: string): AccountRecord {
  if (!s.account || s.account.publicId !== id)
    throw new AcmeProblem("unauthorized", "a request may only touch its own account (RFC 8555 §7.3.2)");
  return s.account;
}

async function account(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const a = owned(s, ctx.param(req));
  if (s.payload === undefined) return ctx.send(reply, s.site, 200, accountJson(s.site, a));
  const p = ctx.obj(s.payload, "account update");
  const patch: { contact?: string[]; status?: "deactivated" } = {};
  if (p.contact !== undefined) patch.contact = contacts(p.contact);
  if (p.status !== undefined) {
    // §7.3.6: the only status a client may set is "deactivated".
    if (p.status !== "deactivated")
      throw new AcmeProblem("malformed", `an account's status can only be set to "deactivated"`);
    patch.status = "deactivated";
  }
  const updated = await ctx.u.accounts.update(s.site, a, patch);
  return ctx.send(reply, s.site, 200, accountJson(s.site, updated));
}

async function orders(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
  const a = owned(s, ctx.param(req));
  const list = await ctx.d.acme.listOrders(a.id, 1000);
  return ctx.send(reply, s.site, 200, {
    orders: list.filter((o) => o.status !== "invalid").map((o) => orderUrl(s.site, o)),
  });
}

/** §7.3.5: the outer JWS by the old key (kid), the inner by the new key (jwk). */
async function keyChange(ctx: AcmeContext, req: FastifyRequest, reply: FastifyReply) {
  const s = await ctx.signed(req);
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
  const ip = ctx.obj(inner.payload, "key change");
  if (ip.account !== accountUrl(s.site, a))
    throw new AcmeProblem("malformed", "the inner payload's account is not the signing account");
  if (!ip.oldKey || jwkThumbprint(publicJwk(ip.oldKey as JsonWebKey)) !== a.thumbprint)
    throw new AcmeProblem("malformed", "the inner payload's oldKey is not the account's current key");
  const r = await ctx.u.accounts.changeKey(s.site, a, JSON.stringify(newJwk), jwkThumbprint(newJwk));
  if ("conflict" in r) {
    await ctx.headers(reply, s.site);
    void reply.header("location", accountUrl(s.site, r.conflict));
    const p = new AcmeProblem("malformed", "another account already uses the new key", { status: 409 });
    return reply.code(409).type("application/problem+json").send(p.toJson());
  }
  return ctx.send(reply, s.site, 200, accountJson(s.site, r.account));
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
