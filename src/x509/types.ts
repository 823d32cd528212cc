/**
 * Plain data types shared by the pure x509/ modules and their callers.
 */

/** One attribute of a distinguished name, one per RDN (multi-valued RDNs are refused). */
export interface DnAttribute {
  /** Dotted OID of the attribute type, e.g. 2.5.4.3 for CN. */
  oid: string;
  /** Short name when known (C, ST, L, O, OU, CN, emailAddress, ...), else the dotted OID. */
  name: string;
  value: string;
}

/** An ordered distinguished name, most significant RDN first (C before CN). */
export type DistinguishedName = DnAttribute[];

/** A subjectAltName entry (RFC 5280 §4.2.1.6) that Sigil understands. */
export type GeneralName =
  | { type: "dns"; value: string }
  | { type: "ip"; value: string }
  | { type: "email"; value: string }
  | { type: "uri"; value: string };

/**
 * A subjectAltName entry of a type Sigil reads but never issues (RFC 5280 §4.2.1.6). A
 * request carrying one is refused by name (profiles.decideSans), never silently dropped.
 */
export interface UnsupportedGeneralName {
  type: "otherName" | "x400Address" | "directoryName" | "ediPartyName" | "registeredID";
  /**
   * What names it to an operator: an otherName's type-id and, when known, what it is
   * ("1.3.6.1.4.1.311.20.2.3, Microsoft UPN"); a registeredID's OID; else empty.
   */
  detail: string;
}

/** The public key found in a CSR or certificate. */
export type PublicKeyInfo =
  | { kind: "rsa"; bits: number }
  | { kind: "ec"; curve: "P-256" | "P-384" | "P-521" }
  | { kind: "ed25519" }
  | { kind: "ed448" };

/** A PKCS#10 request that passed the strict reader and its signature check. */
export interface ParsedCsr {
  /** The whole request, DER. */
  der: Buffer;
  subject: DistinguishedName;
  /** Subject Name exactly as in the request, DER. */
  subjectDer: Buffer;
  /** SubjectPublicKeyInfo, DER, as in the request. */
  spki: Buffer;
  publicKey: PublicKeyInfo;
  /** SANs the requester proposed in an extensionRequest (PKCS#9) attribute. */
  requestedSans: GeneralName[];
  /**
   * SANs of the request of types Sigil never issues (otherName, x400Address, directoryName,
   * ediPartyName, registeredID): kept so that the profile refuses them by name.
   */
  unsupportedSans: UnsupportedGeneralName[];
  /** OIDs of every extension the requester asked for (never copied; shown to operators). */
  requestedExtensions: string[];
  /** Dotted OID of the request's signature algorithm. */
  signatureAlgorithm: string;
  /** Lowercase hex SHA-256 of the SPKI (the key fingerprint shown to operators). */
  keyFingerprint: string;
}

/** A parsed certificate, the fields Sigil needs. */
export interface CertificateInfo {
  der: Buffer;
  /** Serial number, lowercase hex without leading zeros (at least one digit). */
  serialHex: string;
  issuer: DistinguishedName;
  issuerDer: Buffer;
  subject: DistinguishedName;
  subjectDer: Buffer;
  notBefore: number;
  notAfter: number;
  spki: Buffer;
  publicKey: PublicKeyInfo;
  /** subjectKeyIdentifier value, when present. */
  subjectKeyId?: Buffer;
  /** authorityKeyIdentifier keyIdentifier, when present. */
  authorityKeyId?: Buffer;
  isCa: boolean;
  pathLen?: number;
  sans: GeneralName[];
  /** The TBSCertificate, DER (what the signature covers). */
  tbs: Buffer;
  signatureAlgorithm: string;
  signature: Buffer;
  /** Lowercase hex SHA-256 of the whole certificate. */
  fingerprint: string;
}

/** RFC 5280 §5.3.1 CRLReason codes Sigil accepts (7 is not used by the RFC). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

/** A reason name from {@link REVOCATION_REASONS}. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** One revoked certificate as a CRL lists it (RFC 5280 §5.1.2.6). */
export interface RevokedEntry {
  /** Serial number, hex without sign. */
  serialHex: string;
  /** Revocation time, epoch milliseconds. */
  revokedAt: number;
  /** RFC 5280 §5.3.1 reason code; null (or 0) writes no reason extension. */
  reason: number | null;
}
