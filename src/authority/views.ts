/**
 * Records as shown to people and scripts: the CLI's listings and the admin API's JSON.
 * Never key material: a CA shows its keyRef, a request no CSR bytes.
 */
import type { AdminTokenRecord, CaRecord, CertRecord, RequestRecord } from "../store/types.js";
import { REVOCATION_REASONS } from "../x509/types.js";
import type { CaStanding } from "./authority.js";

/** ISO date-time without milliseconds. */
export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The key backend of a keyRef by its scheme (`file`, `pkcs11`, `offline`), as listings show it. */
function keyStoreOf(keyRef: string): string {
  const colon = keyRef.indexOf(":");
  return colon > 0 ? keyRef.slice(0, colon) : "?";
}

/** A CA nobody revoked, as a new one stands. */
const ACTIVE: CaStanding = { state: "active", revokedAt: null, reason: null };

/**
 * A CA as shown to people and scripts (no key material, just the keyRef and its key store),
 * with where it stands: `status` active, retired, revoked or expired, and for a retired or
 * revoked CA when (`revokedAt`) and why (`revocationReason`).
 */
export function caView(
  ca: CaRecord,
  parentName: string | null,
  standing: CaStanding = ACTIVE,
): Record<string, unknown> {
  return {
    name: ca.name,
    parent: parentName,
    status: standing.state,
    revokedAt: iso(standing.revokedAt),
    revocationReason: standing.reason,
    subject: ca.subject,
    serial: ca.serialHex,
    keyType: ca.keyType,
    keyRef: ca.keyRef,
    keyStore: keyStoreOf(ca.keyRef),
    notBefore: iso(ca.notBefore),
    notAfter: iso(ca.notAfter),
    pathLen: ca.pathLen,
    defaultProfile: ca.defaultProfile,
    crlNumber: ca.crlNumber,
  };
}

/** A CA's status in one phrase for tables: `active`, `retired 2026-01-02`, `revoked 2026-01-02`, `expired`. */
export function standingText(s: CaStanding): string {
  return s.revokedAt === null ? s.state : `${s.state} ${iso(s.revokedAt)!.slice(0, 10)}`;
}

/**
 * The RFC 5280 §5.3.1 CRLReason name of a stored reason code, as `sigil revoke --reason`
 * takes it (`keyCompromise`); a code without a name is shown as its number.
 */
export function revocationReasonName(code: number | null): string | null {
  if (code === null) return null;
  const name = Object.entries(REVOCATION_REASONS).find(([, c]) => c === code)?.[0];
  return name ?? String(code);
}

/**
 * A certificate as shown in listings. `revocationReason` is the reason's name;
 * `revocationReasonCode` its CRLReason number (as in the CRL and OCSP answers).
 */
export function certView(c: CertRecord, caName: string, now: number): Record<string, unknown> {
  return {
    ca: caName,
    serial: c.serialHex,
    subject: c.subject,
    email: c.email,
    sans: c.sans.map((s) => `${s.type}:${s.value}`),
    profile: c.profile,
    notBefore: iso(c.notBefore),
    notAfter: iso(c.notAfter),
    status: c.status === "revoked" ? "revoked" : c.notAfter < now ? "expired" : "valid",
    revokedAt: iso(c.revokedAt),
    revocationReason: revocationReasonName(c.revocationReason),
    revocationReasonCode: c.revocationReason,
    fingerprint: c.fingerprint,
  };
}

/** A request as listings show it (no CSR bytes). */
export function requestView(r: RequestRecord): Record<string, unknown> {
  return {
    id: r.id,
    state: r.state,
    channel: r.channel,
    submitter: r.submitter,
    receivedAt: iso(r.receivedAt) ?? "",
    subject: r.subject,
    ca: r.caName,
    profile: r.profile,
    reason: r.reason,
    decidedBy: r.decidedBy,
    decidedAt: iso(r.decidedAt),
    source: r.source,
    replyTo: r.replyTo,
    certificateId: r.certificateId,
    checks: r.checks,
  };
}

/** An admin token as listed: never its secret or hash. */
export function tokenView(t: AdminTokenRecord): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    createdAt: iso(t.createdAt),
    createdBy: t.createdBy,
    expiresAt: iso(t.expiresAt),
    revokedAt: iso(t.revokedAt),
    // Made before token keys: refused until re-created (authority/tokens.ts).
    ...(t.scheme !== "hmac-sha256" ? { legacy: true } : {}),
  };
}
