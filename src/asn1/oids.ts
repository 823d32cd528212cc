/**
 * Named OBJECT IDENTIFIERs used by Sigil's X.509 and key code (RFC 5280, RFC 2985, RFC 2986,
 * RFC 3279, RFC 4055, RFC 5480, RFC 5758, RFC 5754, RFC 8410, RFC 6960).
 *
 * Pure constants plus a small bounded cache for decoding OID content octets fast.
 */
import { decodeOid } from "./der.js";

/** Attribute types for distinguished names (RFC 5280 §4.1.2.4, Appendix A; X.520). */
export const AttrOid = {
  C: "2.5.4.6",
  ST: "2.5.4.8",
  L: "2.5.4.7",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  serialNumber: "2.5.4.5",
  street: "2.5.4.9",
  title: "2.5.4.12",
  postalCode: "2.5.4.17",
  GN: "2.5.4.42",
  initials: "2.5.4.43",
  generationQualifier: "2.5.4.44",
  dnQualifier: "2.5.4.46",
  pseudonym: "2.5.4.65",
  name: "2.5.4.41",
  /** PKCS#9 emailAddress (RFC 2985 §5.2.1; legacy in DNs, RFC 5280 §4.1.2.6). */
  emailAddress: "1.2.840.113549.1.9.1",
  /** domainComponent (RFC 4519 §2.4). */
  DC: "0.9.2342.19200300.100.1.25",
  /** userId (RFC 4519 §2.39). */
  UID: "0.9.2342.19200300.100.1.1",
} as const;

/** Certificate and CRL extension OIDs (RFC 5280 §4.2, §5.2). */
export const ExtOid = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  basicConstraints: "2.5.29.19",
  cRLNumber: "2.5.29.20",
  reasonCode: "2.5.29.21",
  nameConstraints: "2.5.29.30",
  cRLDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  policyConstraints: "2.5.29.36",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  inhibitAnyPolicy: "2.5.29.54",
  /** id-pe-authorityInfoAccess (RFC 5280 §4.2.2.1). */
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1). */
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
} as const;

/** Extended key usage purposes (RFC 5280 §4.2.1.12). */
export const EkuOid = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  OCSPSigning: "1.3.6.1.5.5.7.3.9",
  /**
   * Sigil-private purpose: the admin API's own TLS server certificate. Under the UUID arc
   * 2.25 (ITU-T X.667, RFC 4122 §1), so it needs no registration; RFC 5280 §4.2.1.12 lets
   * a certificate carry purposes of its own beside serverAuth.
   */
  sigilAdminServer: "2.25.109815092768667927952664030461592862196.1",
  /** Sigil-private purpose: a client certificate for the admin API under mutual TLS. */
  sigilAdminClient: "2.25.109815092768667927952664030461592862196.2",
} as const;

/** Access methods for authorityInfoAccess (RFC 5280 §4.2.2.1). */
export const AccessOid = {
  ocsp: "1.3.6.1.5.5.7.48.1",
  caIssuers: "1.3.6.1.5.5.7.48.2",
} as const;

/** PKCS#9 attributes used in certification requests (RFC 2985 §5.4, RFC 2986 §4.1). */
export const Pkcs9Oid = {
  challengePassword: "1.2.840.113549.1.9.7",
  extensionRequest: "1.2.840.113549.1.9.14",
  unstructuredName: "1.2.840.113549.1.9.2",
} as const;

/** Public key algorithm OIDs (RFC 3279 §2.3, RFC 5480 §2.1.1, RFC 8410 §3). */
export const KeyOid = {
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsassaPss: "1.2.840.113549.1.1.10",
  dsa: "1.2.840.10040.4.1",
  ecPublicKey: "1.2.840.10045.2.1",
  ecDH: "1.3.132.1.12",
  X25519: "1.3.101.110",
  X448: "1.3.101.111",
  Ed25519: "1.3.101.112",
  Ed448: "1.3.101.113",
} as const;

/** Named elliptic curves (RFC 5480 §2.1.1.1, SEC 2). */
export const CurveOid = {
  "P-256": "1.2.840.10045.3.1.7",
  "P-384": "1.3.132.0.34",
  "P-521": "1.3.132.0.35",
  secp256k1: "1.3.132.0.10",
  "P-192": "1.2.840.10045.3.1.1",
  "P-224": "1.3.132.0.33",
} as const;

/** Signature algorithm OIDs (RFC 3279 §2.2, RFC 4055 §5, RFC 5758 §3, RFC 8410 §3). */
export const SigOid = {
  md2WithRSAEncryption: "1.2.840.113549.1.1.2",
  md4WithRSAEncryption: "1.2.840.113549.1.1.3",
  md5WithRSAEncryption: "1.2.840.113549.1.1.4",
  sha1WithRSAEncryption: "1.2.840.113549.1.1.5",
  /** OIW sha1WithRSASignature, seen in very old software. */
  sha1WithRSAOiw: "1.3.14.3.2.29",
  rsassaPss: "1.2.840.113549.1.1.10",
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  sha384WithRSAEncryption: "1.2.840.113549.1.1.12",
  sha512WithRSAEncryption: "1.2.840.113549.1.1.13",
  sha224WithRSAEncryption: "1.2.840.113549.1.1.14",
  ecdsaWithSHA1: "1.2.840.10045.4.1",
  ecdsaWithSHA224: "1.2.840.10045.4.3.1",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
  ecdsaWithSHA384: "1.2.840.10045.4.3.3",
  ecdsaWithSHA512: "1.2.840.10045.4.3.4",
  dsaWithSHA1: "1.2.840.10040.4.3",
  dsaWithSHA224: "2.16.840.1.101.3.4.3.1",
  dsaWithSHA256: "2.16.840.1.101.3.4.3.2",
  Ed25519: "1.3.101.112",
  Ed448: "1.3.101.113",
} as const;

/** OCSP object identifiers (RFC 6960 §4.2.1, §4.4; id-pkix-ocsp is id-ad-ocsp). */
export const OcspOid = {
  /** id-pkix-ocsp-basic: the BasicOCSPResponse response type (RFC 6960 §4.2.1). */
  basic: "1.3.6.1.5.5.7.48.1.1",
  /** id-pkix-ocsp-nonce (RFC 6960 §4.4.1, as updated by RFC 9654 §2.1). */
  nonce: "1.3.6.1.5.5.7.48.1.2",
  /** id-pkix-ocsp-crl: CRL references (RFC 6960 §4.4.2). */
  crl: "1.3.6.1.5.5.7.48.1.3",
  /** id-pkix-ocsp-response: acceptable response types (RFC 6960 §4.4.3). */
  response: "1.3.6.1.5.5.7.48.1.4",
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1); also in {@link ExtOid}. */
  nocheck: "1.3.6.1.5.5.7.48.1.5",
  /** id-pkix-ocsp-pref-sig-algs: preferred signature algorithms (RFC 6960 §4.4.7). */
  prefSigAlgs: "1.3.6.1.5.5.7.48.1.8",
} as const;

/** Hash algorithms for OCSP CertIDs (RFC 3279 §2.2.1 for SHA-1, RFC 5754 §2 for SHA-2). */
export const HashOid = {
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
} as const;

const contentCache = new Map<string, string>();
const CONTENT_CACHE_MAX = 512;

/**
 * Decodes OBJECT IDENTIFIER content octets to dotted form, with a small bounded cache
 * (the same few OIDs recur in every CSR and certificate; attacker-chosen OIDs cannot grow
 * the cache past {@link CONTENT_CACHE_MAX} entries).
 */
export function oidFromContent(content: Buffer): string {
  const key = content.toString("latin1");
  const hit = contentCache.get(key);
  if (hit !== undefined) return hit;
  const dotted = decodeOid(content);
  if (contentCache.size < CONTENT_CACHE_MAX) contentCache.set(key, dotted);
  return dotted;
}
