/**
 * The web portal's API, `/api/v1/portal/...`: anyone may submit a certificate signing
 * request (PKCS#10, RFC 2986) for a user or system certificate and follow it by an
 * unguessable id; keys are never generated or received here (the browser makes its own).
 * Served by the process that writes the store (the primary of `sigil serve`), behind the
 * public listener.
 *
 * Guards: a CSRF double-submit token (an HttpOnly SameSite=Strict cookie and a header that
 * must match, compared in constant time), a per-client rate limit on submissions, a body
 * cap, and the same intake checks as every other channel (RequestQueue.inspect): a bad
 * submission is refused with its reason and nothing is queued.
 *
 * The e-mail address typed in the form proves nothing (DESIGN.md, trust model): an
 * auto-approval rule signs only once the address's mailbox has answered a challenge mail,
 * through the confirmation page (`/confirm/TOKEN`, which POSTs to
 * `/api/v1/portal/confirm/TOKEN`: a GET never confirms, so a mail scanner that follows
 * links cannot) or a reply. The certificate of a request signed that way is downloadable
 * only by the browser session that submitted it (its cookie, hashed with the request), and
 * is mailed to the confirmed address.
 *
 * CSRF and rate-limit refusals are audited (`portal.csrf.refused`, `portal.rate.refused`),
 * aggregated per client address and minute (authority/refusals.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorCodes, SigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { CaRecord, RequestRecord } from "../store/types.js";
import type { AdminDeps } from "./admin.js";
import { iso } from "../authority/views.js";
import { tokenHash } from "../authority/queue.js";
import { mailboxProofs } from "../store/mailbox-proofs.js";
import { clientSource } from "../authority/refusals.js";
import { parsePemBlocks, toPem } from "../x509/der.js";
import { PRIVATE_KEY_NOT_A_REQUEST, looksLikePrivateKey } from "../x509/csr.js";

/** What the portal needs: what the admin API needs, short of sealing and shares. */
export type PortalDeps = Pick<
  AdminDeps,
  "authority" | "store" | "config" | "queue" | "logger" | "clock" | "random" | "refusals"
>;

/** Largest submission body (a CSR is at most 64 KiB, RFC 2986 has no bound of its own). */
export const PORTAL_BODY_LIMIT = 100 * 1024;
const CSRF_COOKIE = "sigil_csrf";
/** The header the public listener passes the client's address in (only it can reach us). */
export const CLIENT_HEADER = "x-sigil-client";
const EMAIL =
  /^[^\s@<>()[\]\\,;:"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$/;

type Kind = "user" | "system";

function cookie(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers.cookie;
  if (!h) return undefined;
  for (const part of h.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The session a browser holds: its CSRF cookie, when well-formed (32 random bytes, base64url). */
function sessionOf(req: FastifyRequest): string | undefined {
  const v = cookie(req, CSRF_COOKIE);
  return v && /^[A-Za-z0-9_-]{43}$/.test(v) ? v : undefined;
}

function sha256(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A sliding one-minute window per client. */
class RateLimit {
  private readonly hits = new Map<string, number[]>();
  constructor(private readonly perMinute: number) {}
  allow(client: string, now: number): boolean {
    const from = now - 60_000;
    const list = (this.hits.get(client) ?? []).filter((t) => t > from);
    if (list.length >= this.perMinute) {
      this.hits.set(client, list);
      return false;
    }
    list.push(now);
    this.hits.set(client, list);
    if (this.hits.size > 10_000)
      for (const [k, v] of this.hits) if (v.every((t) => t <= from)) this.hits.delete(k);
    return true;
  }
}

/** The CA that takes portal requests of a kind: configured, else the first non-root CA whose default profile is the kind. */
function caFor(cas: CaRecord[], config: Config, kind: Kind): CaRecord | undefined {
  const named = kind === "user" ? config.web.userCa : config.web.systemCa;
  if (named) return cas.find((c) => c.name === named);
  return (
    cas.find((c) => c.defaultProfile === kind && c.parentId !== null) ??
    cas.find((c) => c.defaultProfile === kind)
  );
}

/** Registers the portal routes on `app`. */
export function registerPortal(app: FastifyInstance, deps: PortalDeps): void {
  const { store, queue, authority, config } = deps;
  const limiter = new RateLimit(config.web.submitPerMinute);

  const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).send({ error: { code, message } });

  app.get("/api/v1/portal/session", async (req, reply) => {
    // The browser's session lasts while it keeps the cookie: the same token on every page
    // load (downloads of a request are tied to the session that submitted it).
    const token = sessionOf(req) ?? deps.random(32).toString("base64url");
    // RFC 6265bis SameSite=Strict: never sent on a cross-site request.
    void reply.header(
      "set-cookie",
      `${CSRF_COOKIE}=${token}; Path=/api/v1/portal; HttpOnly; SameSite=Strict; Max-Age=${30 * 86400}`,
    );
    return { csrf: token };
  });

  app.post(
    "/api/v1/portal/requests",
    { bodyLimit: PORTAL_BODY_LIMIT },
    async (req: FastifyRequest, reply: FastifyReply) => {
      const sent = req.headers["x-csrf-token"];
      const jar = cookie(req, CSRF_COOKIE);
      const client = String(req.headers[CLIENT_HEADER] ?? req.ip);
      if (typeof sent !== "string" || !jar || !sameSecret(sent, jar)) {
        await deps.refusals.record({
          action: "portal.csrf.refused",
          source: clientSource(client),
          target: "portal/requests",
          reason: typeof sent !== "string" ? "no-header" : !jar ? "no-cookie" : "mismatch",
          details: { client },
        });
        return fail(reply, 403, "csrf", "missing or wrong CSRF token: reload the page and try again");
      }
      if (!limiter.allow(client, deps.clock())) {
        await deps.refusals.record({
          action: "portal.rate.refused",
          source: clientSource(client),
          target: "portal/requests",
          reason: "rate",
          details: { client, perMinute: config.web.submitPerMinute },
        });
        return fail(
          reply,
          429,
          "rate_limited",
          "too many requests from your address: wait a minute and try again",
        );
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body !== "object" || Array.isArray(body))
        return fail(reply, 400, "bad_input", "the body must be a JSON object");
      const csrText = typeof body.csr === "string" ? body.csr : "";
      deps.logger.info(
        {
          portal: "submit",
          client,
          fields: Object.keys(body).sort(),
          bytes: csrText.length,
          csrSha256: createHash("sha256").update(csrText).digest("hex"),
        },
        "portal submission",
      );
      const kind = body.kind;
      if (kind !== "user" && kind !== "system")
        return fail(reply, 400, "bad_input", 'pick the kind of certificate: "user" or "system"');
      const email = typeof body.email === "string" ? body.email.trim() : "";
      if (!EMAIL.test(email) || email.length > 254)
        return fail(reply, 400, "bad_input", "give a contact e-mail address, like name@example.org");
      if (!csrText.trim())
        return fail(
          reply,
          400,
          "bad_csr",
          "the certificate request is empty: paste the PEM text or choose the .csr file",
        );
      if (/PRIVATE KEY/.test(csrText) || looksLikePrivateKey(Buffer.from(csrText, "latin1")))
        return fail(reply, 400, "bad_csr", PRIVATE_KEY_NOT_A_REQUEST);
      let data: Buffer;
      let pemLabel: string | undefined;
      try {
        const blocks = parsePemBlocks(csrText);
        if (blocks.length > 1) return fail(reply, 400, "bad_csr", "send one certificate request at a time");
        data = blocks[0]?.der ?? Buffer.from(csrText, "latin1");
        pemLabel = blocks[0]?.label;
      } catch (e) {
        return fail(reply, 400, "bad_csr", (e as Error).message);
      }
      const cas = await authority.listCas();
      const ca = caFor(cas, config, kind);
      if (!ca) return fail(reply, 400, "bad_input", `this portal takes no ${kind} requests (no CA for them)`);
      // The same checks as every other channel; a bad request is refused, not queued.
      const item = { name: "portal.csr", data, ...(pemLabel ? { pemLabel } : {}) };
      const seen = await queue.inspect(item, ca.name, kind);
      if (seen.failed) return fail(reply, 400, "bad_csr", seen.failed);
      const publicId = deps.random(16).toString("base64url");
      const r = await queue.take([item], {
        channel: "web",
        submitter: email,
        replyTo: email,
        source: `web:${client}`,
        caName: ca.name,
        profile: kind,
        publicId,
        sessionHash: sha256(jar),
      });
      const rec = r.requests[0];
      if (!rec) throw new SigilError(ErrorCodes.INTERNAL, "the request was not recorded");
      const state = r.issued.length > 0 ? "issued" : rec.state;
      return reply.code(201).send({
        id: publicId,
        state,
        statusUrl: `/status/${publicId}`,
        waitingFor: waitingFor(rec),
      });
    },
  );

  const byPublicId = async (id: string | undefined): Promise<RequestRecord> => {
    const r = id && /^[A-Za-z0-9_-]{22}$/.test(id) ? await store.getRequestByPublicId(id) : undefined;
    if (!r) throw new SigilError(ErrorCodes.REQUEST_NOT_FOUND, "no such request (check the link)");
    return r;
  };
  const issuedCert = async (r: RequestRecord) => {
    const c = r.certificateId !== null ? await store.getCertById(r.certificateId) : undefined;
    if (!c)
      throw new SigilError(
        ErrorCodes.CERT_NOT_FOUND,
        `the request is ${r.state}: no certificate to download yet`,
      );
    return c;
  };

  /** What a pending request waits for, in the requester's words; null when nothing in particular. */
  const waitingFor = (r: RequestRecord): string | null => {
    if (r.state !== "pending") return null;
    const m = r.checks.find((c) => c.check === "mailbox-unconfirmed");
    return m ? m.detail.replace(/^rule \S+ signs it once the mailbox is proven: /, "") : null;
  };

  app.get<{ Params: { id: string } }>("/api/v1/portal/requests/:id", async (req) => {
    const r = await byPublicId(req.params.id);
    const c = r.certificateId !== null ? await store.getCertById(r.certificateId) : undefined;
    const now = deps.clock();
    return {
      id: r.publicId,
      state: r.state,
      reason: r.reason,
      subject: r.subject,
      kind: r.profile,
      ca: r.caName,
      submittedAt: iso(r.receivedAt),
      decidedAt: iso(r.decidedAt),
      waitingFor: waitingFor(r),
      certificate: c
        ? {
            serial: c.serialHex,
            subject: c.subject,
            notBefore: iso(c.notBefore),
            notAfter: iso(c.notAfter),
            status: c.status === "revoked" ? "revoked" : c.notAfter < now ? "expired" : "valid",
          }
        : null,
    };
  });

  app.get<{ Params: { id: string; file: string } }>(
    "/api/v1/portal/requests/:id/:file",
    async (req, reply) => {
      const { file } = req.params;
      if (!["certificate.pem", "certificate.der", "chain.pem"].includes(file))
        throw new SigilError(
          ErrorCodes.NOT_FOUND,
          "no such download (certificate.pem, certificate.der, chain.pem)",
        );
      const r = await byPublicId(req.params.id);
      const c = await issuedCert(r);
      // Signed on a mailbox proof alone: only for the browser session that submitted it (an
      // operator-approved request's link is enough, as before).
      if (r.decidedBy?.startsWith("auto:")) {
        const want = await mailboxProofs(store).sessionHash(r.id);
        const have = sessionOf(req);
        if (want && !(have && sameSecret(sha256(have), want)))
          return fail(
            reply,
            403,
            "session",
            "this certificate is downloadable only in the browser that submitted the request; it was also mailed to the confirmed address",
          );
      }
      const base =
        (c.commonName ?? c.serialHex).replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 64) || "certificate";
      if (file === "certificate.der")
        return reply
          .type("application/pkix-cert")
          .header("content-disposition", `attachment; filename="${base}.der"`)
          .send(c.der);
      let pem = toPem(c.der, "CERTIFICATE");
      if (file === "chain.pem")
        for (const ca of await authority.chain(r.caName!)) pem += toPem(ca.certDer, "CERTIFICATE");
      return reply
        .type("application/x-pem-file")
        .header(
          "content-disposition",
          `attachment; filename="${base}${file === "chain.pem" ? "-chain" : ""}.pem"`,
        )
        .send(pem);
    },
  );

  // Mailbox confirmation (RFC 4648 §5 token from the challenge mail). GET only describes
  // it; POST answers it (a scanner following links in mail must not confirm anything).
  const TOKEN = /^[A-Za-z0-9_-]{43}$/;
  app.get<{ Params: { token: string } }>("/api/v1/portal/confirm/:token", async (req, reply) => {
    const { token } = req.params;
    const p = TOKEN.test(token) ? await mailboxProofs(store).byTokenHash(tokenHash(token)) : undefined;
    const r = p ? await store.getRequest(p.requestId) : undefined;
    if (!p || !r) return fail(reply, 404, "not_found", "no such confirmation: check the link in the mail");
    const now = deps.clock();
    return {
      address: p.address,
      state:
        p.confirmedAt !== null
          ? "confirmed"
          : p.expiresAt !== null && p.expiresAt <= now
            ? "expired"
            : "waiting",
      expires: iso(p.expiresAt),
      request: {
        subject: r.subject,
        kind: r.profile,
        ca: r.caName,
        state: r.state,
        submittedAt: iso(r.receivedAt),
      },
    };
  });
  app.post<{ Params: { token: string } }>("/api/v1/portal/confirm/:token", async (req, reply) => {
    const client = String(req.headers[CLIENT_HEADER] ?? req.ip);
    if (!limiter.allow(client, deps.clock()))
      return fail(
        reply,
        429,
        "rate_limited",
        "too many requests from your address: wait a minute and try again",
      );
    const c = await queue.confirmMailbox(req.params.token, "web");
    if (!c.ok) return fail(reply, c.request ? 410 : 404, c.request ? "gone" : "not_found", c.reason);
    return {
      confirmed: true,
      address: c.address,
      state: c.request.state,
      ...(c.request.publicId ? { statusUrl: `/status/${c.request.publicId}` } : {}),
    };
  });

  app.get("/api/v1/portal/cas", async () => {
    const cas = await authority.listCas();
    const names = new Map(cas.map((c) => [c.id, c.name]));
    return {
      cas: cas.map((c) => ({
        name: c.name,
        subject: c.subject,
        parent: c.parentId === null ? null : (names.get(c.parentId) ?? null),
        notAfter: iso(c.notAfter),
        kind:
          c.parentId === null
            ? "root"
            : c.defaultProfile === "user" || c.defaultProfile === "system"
              ? c.defaultProfile
              : "other",
        certUrl: `/ca/${c.name}.crt`,
        pemUrl: `/ca/${c.name}.pem`,
        crlUrl: `/crl/${c.name}.crl`,
      })),
      bundleUrl: "/ca/bundle.pem",
    };
  });
}
