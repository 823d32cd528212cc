/**
 * Certificate profiles: what a certificate of each kind gets. Profiles decide, the CSR only
 * proposes (DESIGN.md): basicConstraints, keyUsage, extKeyUsage, validity and the allowed
 * SAN types come from here, never from the request.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { dnCommonName, dnEmail } from "./dn.js";
import { EkuOid } from "./oids.js";
import { ipFamily, isHostname, validateGeneralName } from "./san.js";
import type { GeneralName, ParsedCsr, PublicKeyInfo } from "./types.js";

/** keyUsage bit names (RFC 5280 §4.2.1.3), in bit order. */
export const KEY_USAGE_BITS = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;

/** One keyUsage bit name. */
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number];

/** A certificate profile. */
export interface Profile {
  /** Name used on the command line (`--profile NAME`). */
  name: string;
  /** One line for help texts and listings. */
  description: string;
  /** CA certificate: basicConstraints CA:TRUE and no extKeyUsage. */
  ca: boolean;
  /** keyUsage bit names for a subject key (RFC 5280 §4.2.1.3). */
  keyUsage(pk: PublicKeyInfo): string[];
  /** extKeyUsage purpose OIDs (RFC 5280 §4.2.1.12); empty means no extension. */
  extKeyUsage: string[];
  /** SAN types a request may propose under this profile. */
  sanTypes: Array<GeneralName["type"]>;
  /** Add the subject CN as a dNSName (or iPAddress) SAN when it is a hostname (or address). */
  cnAsDns: boolean;
  /** Add the subject emailAddress as an rfc822Name SAN when no e-mail SAN was requested. */
  emailFromSubject: boolean;
  /** Validity in days when the operator gives none. */
  defaultDays: number;
  /** Add id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): for delegated OCSP responders. */
  ocspNoCheck?: boolean;
  /**
   * Internal: made only by the use case that creates this kind of certificate for a key it
   * generated itself (a CA, a delegated OCSP responder). No channel (CLI, queue, admin API,
   * portal, mail, ACME, drop folder) can ask for it, and it is never offered as a choice:
   * an OCSP responder certificate is a licence to vouch for every certificate of its CA
   * (RFC 6960 §4.2.2.2), without revocation checking of itself (§4.2.2.2.1).
   */
  internal?: boolean;
}

/** digitalSignature, plus keyEncipherment for RSA keys only (RSA key transport; RFC 5280 §4.2.1.3). */
function signatureAndRsaEncipherment(pk: PublicKeyInfo): string[] {
  return pk.kind === "rsa" ? ["digitalSignature", "keyEncipherment"] : ["digitalSignature"];
}

/** The built-in profiles. */
export const PROFILES: Readonly<Record<string, Profile>> = Object.freeze({
  user: {
    name: "user",
    description: "a person: TLS client authentication and S/MIME e-mail (396 days)",
    ca: false,
    keyUsage: signatureAndRsaEncipherment,
    extKeyUsage: [EkuOid.clientAuth, EkuOid.emailProtection],
    sanTypes: ["email"],
    cnAsDns: false,
    emailFromSubject: true,
    defaultDays: 396,
  },
  system: {
    name: "system",
    description: "a host or service: TLS server and client authentication (3650 days, as the handbook)",
    ca: false,
    keyUsage: signatureAndRsaEncipherment,
    extKeyUsage: [EkuOid.serverAuth, EkuOid.clientAuth],
    sanTypes: ["dns", "ip"],
    cnAsDns: true,
    emailFromSubject: false,
    defaultDays: 3650,
  },
  ocsp: {
    name: "ocsp",
    description: "a delegated OCSP responder (RFC 6960 §4.2.2.2), short-lived, with ocsp-nocheck (30 days)",
    ca: false,
    keyUsage: () => ["digitalSignature"],
    extKeyUsage: [EkuOid.OCSPSigning],
    sanTypes: [],
    cnAsDns: false,
    emailFromSubject: false,
    defaultDays: 30,
    ocspNoCheck: true,
    internal: true,
  },
  ca: {
    name: "ca",
    description: "a certification authority: keyCertSign and cRLSign, CA:TRUE (3650 days)",
    ca: true,
    keyUsage: () => ["keyCertSign", "cRLSign"],
    extKeyUsage: [],
    sanTypes: [],
    cnAsDns: false,
    emailFromSubject: false,
    defaultDays: 3650,
    internal: true,
  },
  "admin-tls": {
    name: "admin-tls",
    description:
      "the admin API's own TLS server certificate: serverAuth plus Sigil's admin-server purpose (90 days)",
    ca: false,
    keyUsage: signatureAndRsaEncipherment,
    extKeyUsage: [EkuOid.serverAuth, EkuOid.sigilAdminServer],
    sanTypes: ["dns", "ip"],
    cnAsDns: true,
    emailFromSubject: false,
    defaultDays: 90,
    internal: true,
  },
  "admin-client": {
    name: "admin-client",
    description:
      "a client certificate for the admin API under mutual TLS: clientAuth plus Sigil's admin-client purpose (396 days)",
    ca: false,
    keyUsage: signatureAndRsaEncipherment,
    extKeyUsage: [EkuOid.clientAuth, EkuOid.sigilAdminClient],
    sanTypes: [],
    cnAsDns: false,
    emailFromSubject: false,
    defaultDays: 396,
    internal: true,
  },
} satisfies Record<string, Profile>);

/** Names of the profiles a request may be signed under (internal profiles left out), in order. */
export const PUBLIC_PROFILE_NAMES: readonly string[] = Object.freeze(
  Object.values(PROFILES)
    .filter((p) => !p.internal)
    .map((p) => p.name),
);

/** Whether `name` is an internal profile (see {@link Profile.internal}). */
export function isInternalProfile(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(PROFILES, name) && PROFILES[name]!.internal === true;
}

/**
 * The internal profiles: certificates Sigil makes for itself (CA certificates, OCSP
 * responders renewed every few weeks, its admin TLS certificates). Listings of issued
 * certificates leave them out unless asked for by name.
 */
export const INTERNAL_PROFILES: readonly string[] = Object.freeze(
  Object.values(PROFILES)
    .filter((p) => p.internal)
    .map((p) => p.name),
);

/**
 * `name` when issued certificates can carry it (any profile, internal ones included, or
 * `imported` for certificates taken over from an `openssl ca` directory): for filters over
 * issued certificates. Anything else: SigilError USAGE listing them.
 */
export function listedProfileName(name: string): string {
  const known = [...Object.keys(PROFILES), "imported"];
  if (known.includes(name)) return name;
  throw new SigilError(ErrorCodes.USAGE, `unknown profile ${name} (known: ${known.join(", ")})`);
}

/** What each internal profile is for, in refusals. */
const INTERNAL_USE: Record<string, string> = {
  ca: "CA keys it creates (sigil ca create-child)",
  ocsp: "its own OCSP responder keys",
  "admin-tls": "the admin API's own TLS key (sigil serve)",
  "admin-client": "admin client keys it generates (sigil admin client-cert)",
};

/** Names of the internal profiles. */
export type InternalProfileName = "ca" | "ocsp" | "admin-tls" | "admin-client";

/**
 * The profile a request may be signed under, named `name`: what every channel (and any
 * setting naming a profile: a CA's default, an auto-approval rule, ACME) resolves through.
 * An internal profile throws SigilError POLICY_DENIED; an unknown one USAGE, listing only
 * the profiles that may be chosen.
 */
export function getProfile(name: string): Profile {
  const p = Object.prototype.hasOwnProperty.call(PROFILES, name) ? PROFILES[name] : undefined;
  if (p?.internal)
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `profile ${name} is internal: only Sigil itself issues it, to ${INTERNAL_USE[name] ?? "keys it creates"}; choose ${PUBLIC_PROFILE_NAMES.join(" or ")}`,
    );
  if (!p)
    throw new SigilError(
      ErrorCodes.USAGE,
      `unknown profile ${name} (known: ${PUBLIC_PROFILE_NAMES.join(", ")})`,
    );
  return p;
}

/**
 * An internal profile, for the use case that makes that kind of certificate for a key it
 * generated itself (never for a request from outside).
 */
export function internalProfile(name: InternalProfileName): Profile {
  return PROFILES[name]!;
}

const SAN_LABEL: Record<GeneralName["type"], string> = { dns: "DNS", ip: "IP", email: "e-mail", uri: "URI" };

/**
 * The SANs a certificate under `profile` gets for `csr` (RFC 5280 §4.2.1.6):
 *
 * - every SAN the CSR proposes is validated and normalized; a SAN of a type the profile does
 *   not take is refused, never dropped (SigilError POLICY_DENIED, one line naming the type:
 *   "profile system does not allow e-mail SANs (requested email:x@y)"). One rule for every
 *   type: otherName, x400Address, directoryName, ediPartyName and registeredID, which no
 *   profile takes, are refused the same way ("profile user does not allow otherName SANs
 *   (requested otherName 1.3.6.1.4.1.311.20.2.3, Microsoft UPN)");
 * - `emailFromSubject`: the subject's emailAddress becomes an rfc822Name SAN when the CSR
 *   asked for no e-mail SAN (RFC 5280 §4.1.2.6 prefers e-mail in the SAN);
 * - `cnAsDns`: the subject CN is added as a dNSName (or iPAddress) when it is a hostname (or
 *   an address) not already present, so TLS clients that ignore CN still match it.
 *
 * Duplicates are removed. Malformed names throw BAD_SAN.
 */
export function decideSans(profile: Profile, csr: ParsedCsr): GeneralName[] {
  const out: GeneralName[] = [];
  const seen = new Set<string>();
  const add = (gn: GeneralName): void => {
    const key = `${gn.type}:${gn.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(gn);
    }
  };
  for (const req of csr.requestedSans) {
    if (!profile.sanTypes.includes(req.type))
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `profile ${profile.name} does not allow ${SAN_LABEL[req.type]} SANs (requested ${req.type}:${req.value})`,
      );
    add(validateGeneralName(req));
  }
  // No profile takes these types (GeneralName holds only the four Sigil issues).
  const foreign = csr.unsupportedSans[0];
  if (foreign)
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `profile ${profile.name} does not allow ${foreign.type} SANs (requested ${foreign.type}${foreign.detail ? ` ${foreign.detail}` : ""})`,
    );
  if (
    profile.emailFromSubject &&
    profile.sanTypes.includes("email") &&
    !out.some((g) => g.type === "email")
  ) {
    const email = dnEmail(csr.subject);
    if (email) add(validateGeneralName({ type: "email", value: email }));
  }
  if (profile.cnAsDns) {
    const cn = dnCommonName(csr.subject);
    if (cn !== undefined) {
      if (ipFamily(cn) && profile.sanTypes.includes("ip"))
        add(validateGeneralName({ type: "ip", value: cn }));
      else if (isHostname(cn.toLowerCase()) && profile.sanTypes.includes("dns"))
        add({ type: "dns", value: cn.toLowerCase() });
    }
  }
  return out;
}
