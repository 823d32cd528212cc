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
import { isHostname, validateGeneralName } from "./san.js";
import type { GeneralName, ParsedCsr, PublicKeyInfo } from "./types.js";
import { isIP } from "node:net";

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
  },
} satisfies Record<string, Profile>);

/** The profile named `name`; SigilError USAGE listing the known names otherwise. */
export function getProfile(name: string): Profile {
  const p = Object.prototype.hasOwnProperty.call(PROFILES, name) ? PROFILES[name] : undefined;
  if (!p)
    throw new SigilError(
      ErrorCodes.USAGE,
      `unknown profile ${name} (known: ${Object.keys(PROFILES).join(", ")})`,
    );
  return p;
}

const SAN_LABEL: Record<GeneralName["type"], string> = { dns: "DNS", ip: "IP", email: "e-mail", uri: "URI" };

/**
 * The SANs a certificate under `profile` gets for `csr` (RFC 5280 §4.2.1.6):
 *
 * - every SAN the CSR proposes is validated and normalized; a type the profile does not
 *   allow is refused (SigilError POLICY_DENIED, e.g. "profile system does not allow e-mail
 *   SANs (requested email:x@y)") rather than silently dropped;
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
      if (isIP(cn) && profile.sanTypes.includes("ip")) add(validateGeneralName({ type: "ip", value: cn }));
      else if (isHostname(cn.toLowerCase()) && profile.sanTypes.includes("dns"))
        add({ type: "dns", value: cn.toLowerCase() });
    }
  }
  return out;
}
