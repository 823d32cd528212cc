/**
 * The admin API's operations: the inventories (CAs, certificates, expiry), the operator's
 * acts (certificates, CRLs, the request queue, notices) and the audit log with its
 * checkpoints. Declared through http/admin.ts's `route` (token, role matrix, `admin.allow`
 * audit); the acts themselves are the authority's use cases.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { RequestState } from "../store/types.js";
import { caView, certView, requestView, iso } from "../authority/views.js";
import { toPem } from "../x509/der.js";
import { listedProfileName, INTERNAL_PROFILES } from "../x509/profiles.js";
import { KEY_TYPES, type KeyType } from "../keys/types.js";
import { int, str } from "./admin-input.js";
import { registerCertActs } from "./admin-certs.js";
import type { AdminRouteContext, RouteFn } from "./admin.js";

const STATES: RequestState[] = ["pending", "approved", "rejected", "issued", "failed"];

/** Registers the inventories, the operator acts and the audit routes on the admin API. */
export function registerOperationsRoutes(route: RouteFn, ctx: AdminRouteContext): void {
  const { deps, q, b, p, caNames } = ctx;
  const { authority, store, queue } = deps;

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
  registerCertActs(route, ctx);
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
}

function requestId(v: string | undefined): number {
  if (!v || !/^\d{1,12}$/.test(v))
    throw new SigilError(ErrorCodes.USAGE, `bad request id "${v}": give a number`);
  return Number(v);
}
