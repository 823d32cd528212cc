/**
 * PURE issuance policy: may this CA sign this request under this profile, for this long?
 * Returns a decision with a reason; never throws for a policy "no". No I/O, no clock.
 */
import type { GeneralName, ParsedCsr } from "../x509/types.js";

/** What the policy needs to know about the issuing CA. */
export interface PolicyCa {
  name: string;
  notBefore: number;
  notAfter: number;
}

/** What the policy needs to know about the profile. */
export interface PolicyProfile {
  name: string;
  ca: boolean;
  /** Internal profiles (OCSP responder, CA) are never issued for a request from outside. */
  internal?: boolean;
}

/** One issuance to decide. */
export interface IssuanceInput {
  ca: PolicyCa;
  profile: PolicyProfile;
  csr: Pick<ParsedCsr, "subject" | "requestedExtensions">;
  /** SANs the profile decided to put in the certificate. */
  sans: GeneralName[];
  notBefore: number;
  notAfter: number;
  now: number;
  /**
   * The key is one the calling use case generated itself for a Sigil service (the admin
   * API's TLS key, an admin client key): only then may an internal end-entity profile
   * (`admin-tls`, `admin-client`) be used.
   */
  ownKey?: boolean;
}

/** Allow, or deny with a one-line reason. */
export type Decision = { allow: true } | { allow: false; reason: string };

/**
 * Decides an end-entity issuance. RFC 5280 §4.1.2.6: a certificate with an empty subject
 * must carry a SAN; a certificate must not outlive its issuer (§6.1.3 would reject the
 * chain at the leaf's end of life otherwise, so we refuse instead of issuing a time bomb).
 */
export function evaluateIssuance(input: IssuanceInput): Decision {
  const { ca, profile, csr, sans, notBefore, notAfter, now } = input;
  // Defence in depth: a delegated responder certificate (EKU OCSPSigning + ocsp-nocheck,
  // RFC 6960 §4.2.2.2) would let its holder answer "good" for any revoked certificate of the
  // CA, and a CA certificate could issue anything. Only Sigil's own use cases make them.
  if (profile.internal && !profile.ca && !input.ownKey)
    return {
      allow: false,
      reason: `profile ${profile.name} is internal: only Sigil itself issues it, to its own keys`,
    };
  if (profile.ca)
    return {
      allow: false,
      reason: `profile ${profile.name} makes CA certificates; use 'sigil ca create-child'`,
    };
  if (now < ca.notBefore) return { allow: false, reason: `CA ${ca.name} is not valid yet` };
  if (now > ca.notAfter) return { allow: false, reason: `CA ${ca.name} has expired` };
  if (notAfter <= notBefore) return { allow: false, reason: "validity must be at least one day" };
  if (notAfter > ca.notAfter)
    return {
      allow: false,
      reason: `requested validity ends ${new Date(notAfter).toISOString().slice(0, 10)}, after CA ${ca.name} expires (${new Date(ca.notAfter).toISOString().slice(0, 10)}); ask for fewer days or use --clamp`,
    };
  if (csr.subject.length === 0 && sans.length === 0)
    return { allow: false, reason: "the request has neither a subject nor a usable subjectAltName" };
  if (profile.name === "system" && sans.length === 0)
    return {
      allow: false,
      reason: "profile system needs a DNS name or IP address (a hostname CN or a dns:/ip: SAN)",
    };
  return { allow: true };
}

/**
 * Decides the validity window of a certificate from a requested number of days.
 * `days` undefined takes the profile default and is silently clamped to the issuer's end
 * (the caller asked for nothing specific); an explicit `days` beyond the issuer is refused
 * unless `clamp` is set.
 */
export function decideValidity(opts: {
  now: number;
  backdateMs: number;
  days: number | undefined;
  defaultDays: number;
  clamp: boolean;
  issuerNotAfter: number;
}): { notBefore: number; notAfter: number; clamped: boolean; exceeds: boolean } {
  const start = Math.floor(opts.now / 1000) * 1000;
  const notBefore = start - opts.backdateMs;
  const days = opts.days ?? opts.defaultDays;
  let notAfter = start + days * 86_400_000;
  let clamped = false;
  let exceeds = false;
  if (notAfter > opts.issuerNotAfter) {
    if (opts.days === undefined || opts.clamp) {
      notAfter = opts.issuerNotAfter;
      clamped = true;
    } else {
      exceeds = true;
    }
  }
  return { notBefore, notAfter, clamped, exceeds };
}
