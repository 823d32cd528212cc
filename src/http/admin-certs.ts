/**
 * The admin API's certificate acts: sign one request, sign a batch, revoke. Declared through
 * http/admin.ts's `route` (token, role matrix, `admin.allow` audit); the acts themselves are
 * the authority's use cases, which audit each certificate.
 */
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import type { BatchInput } from "../authority/issuance.js";
import { iso } from "../authority/views.js";
import { allowed } from "../policy/roles.js";
import { parsePemBlocks, toPem } from "../x509/der.js";
import { REVOCATION_REASONS, type RevocationReason } from "../x509/types.js";
import { int, str } from "./admin-input.js";
import type { AdminRouteContext, RouteFn } from "./admin.js";

/** Most requests one sign-batch call may carry (the body limit is 1 MiB). */
export const MAX_BATCH = 256;

type Body = Record<string, unknown>;

/** Registers the certificate acts on the admin API. */
export function registerCertActs(route: RouteFn, ctx: AdminRouteContext): void {
  const { b } = ctx;
  const { authority } = ctx.deps;
  /** A request's bytes: PEM text as is, anything else base64 DER. */
  const csrOf = (v: unknown, what: string) => {
    const csr = str(v, `${what} (a PEM or base64 DER certificate request)`, { max: 128 * 1024 })!;
    return /-----BEGIN/.test(csr) ? csr : Buffer.from(csr, "base64");
  };
  /** The signing options every request of a call shares. */
  const signOpts = (body: Body, caller: { actor: string }) => ({
    caName: str(body.ca, "ca", { max: 64 })!,
    profile: str(body.profile, "profile", { optional: true, max: 32 }),
    days: int(body.days, "days"),
    clamp: body.clamp === true,
    channel: "cli" as const,
    submitter: caller.actor,
  });
  /** What the caller says about itself is a claim: the token is who asked. */
  const claims = (submitter: string | undefined, source: string | undefined) => ({
    ...(submitter !== undefined ? { submitter } : {}),
    ...(source !== undefined ? { source } : {}),
  });

  route("POST", "/api/v1/admin/certs/sign", "cert.sign", async (req, caller) => {
    const body = b(req);
    const issued = await authority.sign(csrOf(body.csr, "csr"), {
      ...signOpts(body, caller),
      source: "admin-api",
      claims: claims(
        str(body.submitter, "submitter", { optional: true, max: 256 }),
        str(body.source, "source", { optional: true, max: 256 }),
      ),
    });
    const chain = await authority.chain(str(body.ca, "ca")!);
    return {
      serial: issued.cert.serialHex,
      subject: issued.cert.subject,
      notAfter: iso(issued.cert.notAfter),
      clamped: issued.clamped,
      pem: issued.pem,
      chainPem: chain.map((x) => toPem(x.certDer, "CERTIFICATE")).join(""),
    };
  });

  // Many requests in one call, each accepted or refused on its own, signed in groups (one
  // transaction each) as `sigil sign --out-dir` does locally. Errors of the CA or the service
  // (unknown CA, sealed) refuse the whole call; a request's own refusal is its result.
  route("POST", "/api/v1/admin/certs/sign-batch", "cert.sign", async (req, caller) => {
    const body = b(req);
    const list = body.requests;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH)
      throw new SigilError(ErrorCodes.USAGE, `bad requests: give a list of 1 to ${MAX_BATCH} {csr, source}`);
    const submitter = str(body.submitter, "submitter", { optional: true, max: 256 });
    const inputs: BatchInput[] = list.map((item: unknown, i) => {
      const it = (item ?? {}) as Body;
      if (typeof item !== "object" || item === null || Array.isArray(item))
        throw new SigilError(ErrorCodes.USAGE, `bad requests.${i}: give {csr, source}`);
      return {
        input: csrOf(it.csr, `requests.${i}.csr`),
        source: "admin-api",
        claims: claims(submitter, str(it.source, `requests.${i}.source`, { optional: true, max: 256 })),
      };
    });
    const results: Body[] = [];
    await authority.signBatch(inputs, signOpts(body, caller), (r) => {
      const i = results.length;
      const claimed = (list[i] as Body).source;
      if (r.issued)
        results.push({
          ...(claimed !== undefined ? { source: claimed } : {}),
          serial: r.issued.cert.serialHex,
          subject: r.issued.cert.subject,
          notAfter: iso(r.issued.cert.notAfter),
          clamped: r.issued.clamped,
          pem: r.issued.pem,
        });
      else {
        const e = r.error!;
        if (!isSigilError(e) || e.kind !== "user") throw e;
        results.push({
          ...(claimed !== undefined ? { source: claimed } : {}),
          error: { code: e.code, message: e.message },
        });
      }
    });
    return { results };
  });
  route("POST", "/api/v1/admin/certs/revoke", "cert.revoke", async (req, caller) => {
    const body = b(req);
    const reason = (str(body.reason, "reason", { optional: true, max: 32 }) ??
      "unspecified") as RevocationReason;
    if (!(reason in REVOCATION_REASONS))
      throw new SigilError(
        ErrorCodes.USAGE,
        `unknown reason "${reason}" (known: ${Object.keys(REVOCATION_REASONS).join(", ")})`,
      );
    const serial = str(body.serial, "serial", { optional: true, max: 64 });
    const match = str(body.match, "match", { optional: true, max: 256 });
    const certPem = str(body.cert, "cert", { optional: true, max: 64 * 1024 });
    const targets = [serial, match, certPem].filter((x) => x !== undefined).length;
    if (targets !== 1) throw new SigilError(ErrorCodes.USAGE, "give exactly one of serial, match or cert");
    const ca = str(body.ca, "ca", { max: 64 })!;
    let target: { serial: string } | { match: string } | { certDer: Buffer };
    if (serial) target = { serial };
    else if (match) target = { match };
    else {
      const block = parsePemBlocks(certPem!).find((x) => x.label === "CERTIFICATE");
      if (!block) throw new SigilError(ErrorCodes.BAD_INPUT, "cert: no PEM CERTIFICATE block");
      target = { certDer: block.der };
    }
    const r = await authority.revoke(ca, target, reason, { mayRevokeCa: allowed(caller.role, "ca.revoke") });
    return {
      serial: r.cert.serialHex,
      subject: r.cert.subject,
      revokedAt: iso(r.cert.revokedAt),
      reason,
      crlNumber: r.crlNumber,
    };
  });
}
