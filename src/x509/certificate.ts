/**
 * The hot-path certificate writer (RFC 5280 §4.1).
 *
 * Per CA, an {@link IssuerTemplate} precomputes the issuer Name, the signature
 * AlgorithmIdentifier and the authorityKeyIdentifier, CRL distribution point and
 * authorityInfoAccess extensions; per (template, profile, key usage, pathLen) the fixed
 * extensions are cached. Per certificate only serial, validity, subject, key, SANs and
 * subjectKeyIdentifier are encoded, then the signer signs.
 *
 * Pure: time (`notBefore`/`notAfter`), the serial's randomness and the key are passed in.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import type { Signer } from "../keys/types.js";
import {
  Tag,
  bool,
  encodeLength,
  intBytes,
  intNum,
  namedBits,
  oid,
  readNode,
  readWhole,
  time,
  tlv,
} from "./der.js";
import { isEmptyNameDer } from "./dn.js";
import { parseCertificate } from "./cert-reader.js";
import { AccessOid, ExtOid } from "./oids.js";
import { KEY_USAGE_BITS } from "./profiles.js";
import type { Profile } from "./profiles.js";
import { encodeSan } from "./san.js";
import type { GeneralName, PublicKeyInfo } from "./types.js";

/** Fixed extension bytes for one (profile, key usage, pathLen, self-signed) combination. */
interface ProfileParts {
  /** basicConstraints, keyUsage, extKeyUsage: the extensions before subjectAltName. */
  head: Buffer;
  /** authorityKeyIdentifier, CRL distribution points, authorityInfoAccess, ocspNoCheck. */
  tail: Buffer;
}

/** Everything about an issuing CA that is the same for every certificate it signs. */
export interface IssuerTemplate {
  /** Issuer Name DER (RFC 5280 §4.1.2.4), byte-identical to the issuer certificate's subject. */
  readonly issuerNameDer: Buffer;
  /** The issuer's DER SubjectPublicKeyInfo. */
  readonly issuerSpki: Buffer;
  /** Signs TBSCertificates with the issuer's key. */
  readonly signer: Signer;
  /** Signature AlgorithmIdentifier DER, used in the TBS and the outer Certificate (RFC 5280 §4.1.1.2). */
  readonly signatureAlgorithm: Buffer;
  /** keyIdentifier placed in authorityKeyIdentifier (RFC 5280 §4.2.1.1). */
  readonly authorityKeyId: Buffer;
  /** The issuer certificate's notAfter, when known: certificates never outlive their issuer. */
  readonly issuerNotAfter: number | undefined;
  /** Encoded authorityKeyIdentifier extension. */
  readonly akiExtension: Buffer;
  /** Encoded cRLDistributionPoints extension, when a CRL URL was given. */
  readonly cdpExtension: Buffer | null;
  /** Encoded authorityInfoAccess extension, when an OCSP or caIssuers URL was given. */
  readonly aiaExtension: Buffer | null;
  /** Per-profile cache of fixed extension bytes. */
  readonly cache: WeakMap<Profile, Map<string, ProfileParts>>;
}

/** Options for {@link makeIssuerTemplate}. */
export interface IssuerTemplateOptions {
  /** The issuer's certificate, DER; undefined while making a self-signed root. */
  issuerCertDer?: Buffer;
  /** The issuer's subject Name DER (the root's own subject for a self-signed root). */
  issuerSubjectDer: Buffer;
  /** The issuer's DER SubjectPublicKeyInfo. */
  issuerSpki: Buffer;
  /** Signs with the issuer's key; its `spki` must equal `issuerSpki`. */
  signer: Signer;
  /** URL of the issuer's CRL, placed in cRLDistributionPoints (RFC 5280 §4.2.1.13). */
  crlUrl?: string;
  /** URL of the OCSP responder, placed in authorityInfoAccess (RFC 5280 §4.2.2.1). */
  ocspUrl?: string;
  /** URL of the issuer certificate, placed in authorityInfoAccess as caIssuers. */
  caIssuersUrl?: string;
}

/** What varies per certificate, for {@link buildTbs} and {@link buildCertificate}. */
export interface CertificateRequest {
  /** Serial magnitude (positive, 1 to 20 octets; RFC 5280 §4.1.2.2), see serial.ts. */
  serial: Buffer;
  /** Start of validity, epoch milliseconds (seconds precision is kept). */
  notBefore: number;
  /** End of validity, epoch milliseconds. */
  notAfter: number;
  /** Subject Name DER (may be the empty SEQUENCE when `sans` is not empty). */
  subjectDer: Buffer;
  /** Subject DER SubjectPublicKeyInfo. */
  spki: Buffer;
  /** The profile deciding basicConstraints, keyUsage, extKeyUsage and ocspNoCheck. */
  profile: Profile;
  /** The subject key, as described by describePublicKey (drives keyUsage). */
  publicKey: PublicKeyInfo;
  /** subjectAltName entries, already decided by the profile (profiles.decideSans). */
  sans: GeneralName[];
  /** pathLenConstraint for CA certificates (RFC 5280 §4.2.1.9); null or undefined for none. */
  pathLen?: number | null;
  /** True for a self-signed root: no AKI, CDP or AIA; issuer must equal subject. */
  selfSigned?: boolean;
}

function bad(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, msg);
}

/** SEQUENCE (or any tag) over parts with a single allocation. */
function wrap(tag: number, parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const head = encodeLength(len);
  const out = Buffer.allocUnsafe(1 + head.length + len);
  out[0] = tag;
  head.copy(out, 1);
  let o = 1 + head.length;
  for (const p of parts) {
    p.copy(out, o);
    o += p.length;
  }
  return out;
}

/** One Extension (RFC 5280 §4.1): critical is omitted when FALSE (DER DEFAULT rule, X.690 §11.5). */
export function encodeExtension(extOid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? wrap(Tag.SEQUENCE, [oid(extOid), bool(true), tlv(Tag.OCTET_STRING, value)])
    : wrap(Tag.SEQUENCE, [oid(extOid), tlv(Tag.OCTET_STRING, value)]);
}

/** The subjectPublicKey BIT STRING contents (without the unused-bits octet) of a DER SPKI. */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const outer = readWhole(spki);
  if (outer.tag !== Tag.SEQUENCE) throw bad("SubjectPublicKeyInfo is not a SEQUENCE");
  const alg = readNode(outer.content, 0);
  const bits = readNode(outer.content, alg.end);
  if (bits.tag !== Tag.BIT_STRING || bits.end !== outer.content.length || bits.content[0] !== 0)
    throw bad("SubjectPublicKeyInfo has no subjectPublicKey BIT STRING");
  return bits.content.subarray(1);
}

/**
 * Key identifier by RFC 5280 §4.2.1.2 method (1): the 160-bit SHA-1 of the
 * subjectPublicKey BIT STRING value (excluding tag, length and unused-bits octet).
 */
export function keyIdentifier(spki: Buffer): Buffer {
  return createHash("sha1").update(subjectPublicKeyBits(spki)).digest();
}

const uri = (u: string): Buffer => {
  if (!/^[\x21-\x7e]+$/.test(u)) throw bad(`URL "${u}" must be printable ASCII without spaces`);
  return tlv(0x86, Buffer.from(u, "latin1"));
};

/**
 * Prepares the per-CA parts of every certificate the CA will sign.
 *
 * authorityKeyIdentifier keyIdentifier (RFC 5280 §4.2.1.1) is the issuer certificate's
 * subjectKeyIdentifier when it has one, else the SHA-1 of the issuer's subjectPublicKey
 * (§4.2.1.2 method 1, which is how Sigil makes SKIs). cRLDistributionPoints (§4.2.1.13)
 * carries one fullName URI; authorityInfoAccess (§4.2.2.1) carries ocsp then caIssuers.
 * Refuses a signer whose key is not the issuer's, and an issuer certificate that is not a CA.
 */
export function makeIssuerTemplate(opts: IssuerTemplateOptions): IssuerTemplate {
  if (!opts.signer.spki.equals(opts.issuerSpki))
    throw new SigilError(ErrorCodes.INTERNAL, "the signer's key is not the issuer's key");
  readWhole(opts.issuerSubjectDer);
  let authorityKeyId: Buffer | undefined;
  let issuerNotAfter: number | undefined;
  if (opts.issuerCertDer) {
    const issuer = parseCertificate(opts.issuerCertDer);
    if (!issuer.isCa)
      throw new SigilError(ErrorCodes.CA_NOT_ISSUER, "the issuer certificate is not a CA certificate");
    if (!issuer.subjectDer.equals(opts.issuerSubjectDer))
      throw new SigilError(
        ErrorCodes.INTERNAL,
        "issuerSubjectDer differs from the issuer certificate's subject",
      );
    if (!issuer.spki.equals(opts.issuerSpki))
      throw new SigilError(ErrorCodes.INTERNAL, "issuerSpki differs from the issuer certificate's key");
    authorityKeyId = issuer.subjectKeyId;
    issuerNotAfter = issuer.notAfter;
  }
  authorityKeyId ??= keyIdentifier(opts.issuerSpki);
  const akiExtension = encodeExtension(
    ExtOid.authorityKeyIdentifier,
    false,
    wrap(Tag.SEQUENCE, [tlv(0x80, authorityKeyId)]),
  );
  // DistributionPoint { distributionPoint [0] { fullName [0] { URI } } }: [0] of a CHOICE is explicit.
  const cdpExtension = opts.crlUrl
    ? encodeExtension(
        ExtOid.cRLDistributionPoints,
        false,
        wrap(Tag.SEQUENCE, [wrap(Tag.SEQUENCE, [tlv(0xa0, tlv(0xa0, uri(opts.crlUrl)))])]),
      )
    : null;
  const access: Buffer[] = [];
  if (opts.ocspUrl) access.push(wrap(Tag.SEQUENCE, [oid(AccessOid.ocsp), uri(opts.ocspUrl)]));
  if (opts.caIssuersUrl) access.push(wrap(Tag.SEQUENCE, [oid(AccessOid.caIssuers), uri(opts.caIssuersUrl)]));
  const aiaExtension = access.length
    ? encodeExtension(ExtOid.authorityInfoAccess, false, wrap(Tag.SEQUENCE, access))
    : null;
  return {
    issuerNameDer: opts.issuerSubjectDer,
    issuerSpki: opts.issuerSpki,
    signer: opts.signer,
    signatureAlgorithm: opts.signer.algorithmIdentifier,
    authorityKeyId,
    issuerNotAfter,
    akiExtension,
    cdpExtension,
    aiaExtension,
    cache: new WeakMap(),
  };
}

const KU_INDEX = new Map<string, number>(KEY_USAGE_BITS.map((n, i) => [n, i]));

function keyUsageBits(names: string[]): number[] {
  return names.map((n) => {
    const i = KU_INDEX.get(n);
    if (i === undefined) throw new SigilError(ErrorCodes.INTERNAL, `unknown keyUsage ${n}`);
    return i;
  });
}

function profileParts(
  t: IssuerTemplate,
  profile: Profile,
  ku: string[],
  pathLen: number | null,
  self: boolean,
) {
  let byProfile = t.cache.get(profile);
  if (!byProfile) {
    byProfile = new Map();
    t.cache.set(profile, byProfile);
  }
  const key = `${ku.join(",")}|${pathLen ?? ""}|${self ? 1 : 0}`;
  const hit = byProfile.get(key);
  if (hit) return hit;

  const head: Buffer[] = [];
  // basicConstraints (RFC 5280 §4.2.1.9), critical. cA DEFAULT FALSE: an end entity's is
  // the empty SEQUENCE (X.690 §11.5); pathLenConstraint only for CAs.
  const bc = profile.ca
    ? wrap(Tag.SEQUENCE, pathLen === null ? [bool(true)] : [bool(true), intNum(pathLen)])
    : wrap(Tag.SEQUENCE, []);
  head.push(encodeExtension(ExtOid.basicConstraints, true, bc));
  // keyUsage (RFC 5280 §4.2.1.3), critical ("SHOULD mark this extension critical").
  if (ku.length === 0) throw new SigilError(ErrorCodes.INTERNAL, `profile ${profile.name} has no keyUsage`);
  head.push(encodeExtension(ExtOid.keyUsage, true, namedBits(keyUsageBits(ku))));
  // extKeyUsage (RFC 5280 §4.2.1.12), non-critical; never in CA certificates here.
  if (!profile.ca && profile.extKeyUsage.length)
    head.push(
      encodeExtension(
        ExtOid.extKeyUsage,
        false,
        wrap(
          Tag.SEQUENCE,
          profile.extKeyUsage.map((o) => oid(o)),
        ),
      ),
    );

  const tail: Buffer[] = [];
  if (!self) {
    // RFC 5280 §4.2.1.1: MUST be included in all certificates except self-signed roots, where it MAY be omitted.
    tail.push(t.akiExtension);
    if (t.cdpExtension) tail.push(t.cdpExtension);
    if (t.aiaExtension) tail.push(t.aiaExtension);
  }
  // id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): extnValue is NULL.
  if (profile.ocspNoCheck) tail.push(encodeExtension(ExtOid.ocspNoCheck, false, Buffer.from([Tag.NULL, 0])));

  const parts = { head: Buffer.concat(head), tail: Buffer.concat(tail) };
  if (byProfile.size < 256) byProfile.set(key, parts);
  return parts;
}

const VERSION_V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

/**
 * Encodes the TBSCertificate (RFC 5280 §4.1.2): version v3, serial, signature algorithm,
 * issuer, validity (UTCTime through 2049, GeneralizedTime after; §4.1.2.5), subject,
 * subjectPublicKeyInfo and extensions in this order: basicConstraints (critical), keyUsage
 * (critical), extKeyUsage, subjectAltName (critical when the subject is empty, §4.2.1.6),
 * subjectKeyIdentifier (§4.2.1.2 method 1), authorityKeyIdentifier, cRLDistributionPoints,
 * authorityInfoAccess (the last three not for self-signed roots), ocspNoCheck.
 *
 * Throws BAD_INPUT for a zero or oversized serial, an empty validity, an empty subject
 * without SANs; VALIDITY_EXCEEDS_PARENT when notAfter is past the issuer's; PATH_LEN for a
 * pathLen on a non-CA.
 */
export function buildTbs(t: IssuerTemplate, c: CertificateRequest): Buffer {
  const serial = intBytes(c.serial);
  if (serial.length < 3 || serial.length > 22 || (serial.length === 3 && serial[2] === 0))
    throw bad("serial number must be a positive integer of at most 20 octets (RFC 5280 §4.1.2.2)");
  if (!(c.notAfter > c.notBefore)) throw bad("notAfter must be later than notBefore");
  if (t.issuerNotAfter !== undefined && c.notAfter > t.issuerNotAfter)
    throw new SigilError(
      ErrorCodes.VALIDITY_EXCEEDS_PARENT,
      "the certificate would outlive its issuer's certificate",
    );
  const self = c.selfSigned === true;
  if (self && !t.issuerNameDer.equals(c.subjectDer))
    throw bad("a self-signed certificate's subject must be its issuer");
  const pathLen = c.pathLen ?? null;
  if (pathLen !== null) {
    if (!c.profile.ca)
      throw new SigilError(ErrorCodes.PATH_LEN, "a path length applies only to CA certificates");
    if (!Number.isSafeInteger(pathLen) || pathLen < 0)
      throw new SigilError(ErrorCodes.PATH_LEN, `path length must be a non-negative integer, got ${pathLen}`);
  }
  const emptySubject = isEmptyNameDer(c.subjectDer);
  if (emptySubject && c.sans.length === 0)
    throw bad("a certificate with an empty subject needs a subjectAltName (RFC 5280 §4.1.2.6)");

  const parts = profileParts(t, c.profile, c.profile.keyUsage(c.publicKey), pathLen, self);
  const exts: Buffer[] = [parts.head];
  if (c.sans.length) exts.push(encodeExtension(ExtOid.subjectAltName, emptySubject, encodeSan(c.sans)));
  exts.push(
    encodeExtension(ExtOid.subjectKeyIdentifier, false, tlv(Tag.OCTET_STRING, keyIdentifier(c.spki))),
  );
  exts.push(parts.tail);

  return wrap(Tag.SEQUENCE, [
    VERSION_V3,
    serial,
    t.signatureAlgorithm,
    t.issuerNameDer,
    wrap(Tag.SEQUENCE, [time(c.notBefore), time(c.notAfter)]),
    c.subjectDer,
    c.spki,
    wrap(0xa3, [wrap(Tag.SEQUENCE, exts)]),
  ]);
}

/**
 * Signs a TBSCertificate with the template's signer and returns the DER Certificate
 * (RFC 5280 §4.1.1): SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }.
 */
export async function signTbs(t: IssuerTemplate, tbs: Buffer): Promise<Buffer> {
  const sig = await t.signer.sign(tbs);
  return wrap(Tag.SEQUENCE, [tbs, t.signatureAlgorithm, wrap(Tag.BIT_STRING, [Buffer.from([0]), sig])]);
}

/** Builds and signs one certificate: {@link buildTbs} then {@link signTbs}. */
export async function buildCertificate(t: IssuerTemplate, c: CertificateRequest): Promise<Buffer> {
  return signTbs(t, buildTbs(t, c));
}
