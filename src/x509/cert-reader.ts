/**
 * A strict X.509 certificate reader (RFC 5280 §4.1), built on der.ts: the fields Sigil
 * needs to chain, list, match and revoke certificates.
 *
 * Pure: no I/O, no clock. Reading does not validate a chain or check time; see
 * {@link verifyCertificateSignature} for the signature.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { describePublicKey, verifySignature } from "./algorithms.js";
import { Tag, children, decodeInt, decodeTime, expectTag, parsePemBlocks, readWhole } from "./der.js";
import type { Node } from "./der.js";
import { decodeDn } from "./dn.js";
import { AccessOid, ExtOid, oidFromContent } from "./oids.js";
import { KEY_USAGE_BITS } from "./profiles.js";
import { decodeSan } from "./san.js";
import type { CertificateInfo, GeneralName } from "./types.js";

/** Largest input {@link parseCertificate} accepts, in bytes. */
export const MAX_CERT_BYTES = 1024 * 1024;

/** One extension as found in a certificate. */
export interface RawExtension {
  oid: string;
  critical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  value: Buffer;
}

/** {@link CertificateInfo} plus the remaining details the reader decodes. */
export interface CertificateDetails extends CertificateInfo {
  /** X.509 version number as written (1, 2 or 3). */
  version: number;
  /** DER of the signature AlgorithmIdentifier's parameters, when present. */
  signatureParams: Buffer | undefined;
  /** keyUsage bit names, when the extension is present. */
  keyUsage?: string[];
  /** extKeyUsage purpose OIDs, when the extension is present. */
  extKeyUsage?: string[];
  /** URIs from cRLDistributionPoints fullName entries. */
  crlUrls: string[];
  /** OCSP responder URIs from authorityInfoAccess. */
  ocspUrls: string[];
  /** caIssuers URIs from authorityInfoAccess. */
  caIssuersUrls: string[];
  /** True when id-pkix-ocsp-nocheck is present (RFC 6960 §4.2.2.2.1). */
  ocspNoCheck: boolean;
  /** Every extension, in order. */
  extensions: RawExtension[];
}

function certError(msg: string, cause?: unknown): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, msg, cause === undefined ? {} : { cause });
}

const CERT_LABELS = new Set(["CERTIFICATE", "X509 CERTIFICATE"]);

function certificateDer(input: Buffer | string): Buffer {
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.length;
  if (size === 0) throw certError("input is empty");
  if (size > MAX_CERT_BYTES) throw certError(`input is too large for a certificate (${size} bytes)`);
  if (typeof input !== "string" && input[0] === Tag.SEQUENCE) return Buffer.from(input);
  const text = typeof input === "string" ? input : input.toString("latin1");
  if (!text.trim()) throw certError("input is empty");
  let blocks;
  try {
    blocks = parsePemBlocks(text);
  } catch (e) {
    throw certError(`certificate PEM is malformed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const cert = blocks.find((b) => CERT_LABELS.has(b.label));
  if (cert) return cert.der;
  if (blocks.length > 0) throw certError(`not a certificate (found a ${blocks[0]!.label} PEM block)`);
  throw certError("not a certificate (neither DER nor a CERTIFICATE PEM block)");
}

/**
 * Reads one X.509 certificate, DER or PEM ("CERTIFICATE"; the first one when the text
 * holds a chain), strictly: RFC 5280 §4.1 structure, positive serial of at most 20 octets
 * (§4.1.2.2), inner and outer signature algorithms equal (§4.1.1.2), strict Names, an
 * accepted public key, extensions only in v3 and never twice (§4.2), and the well-known
 * extensions decoded. Throws SigilError BAD_INPUT with a one-line message otherwise.
 */
export function parseCertificate(input: Buffer | string): CertificateDetails {
  const der = certificateDer(input);
  try {
    return readCertificate(der);
  } catch (e) {
    if (
      e instanceof SigilError &&
      e.code === ErrorCodes.BAD_INPUT &&
      e.message.startsWith("not a certificate")
    )
      throw e;
    const msg = e instanceof Error ? e.message.replace(/^malformed DER: /, "") : String(e);
    throw certError(`certificate is malformed: ${msg}`, e);
  }
}

/**
 * Reads every CERTIFICATE block of a PEM text (a chain or bundle), in order. Other blocks
 * are ignored; no certificate at all throws SigilError BAD_INPUT.
 */
export function parseCertificates(pemText: string): CertificateDetails[] {
  let blocks;
  try {
    blocks = parsePemBlocks(pemText);
  } catch (e) {
    throw certError(`certificate PEM is malformed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const certs = blocks.filter((b) => CERT_LABELS.has(b.label));
  if (certs.length === 0) throw certError("no CERTIFICATE PEM block found");
  return certs.map((b) => parseCertificate(b.der));
}

/**
 * True when `cert`'s signature verifies with `issuerSpki` (RFC 5280 §6.1.3 (a)(1)).
 * Refused signature algorithms throw SigilError BAD_SIGNATURE_ALGORITHM.
 */
export function verifyCertificateSignature(cert: CertificateDetails, issuerSpki: Buffer): boolean {
  return verifySignature(issuerSpki, cert.signatureAlgorithm, cert.signatureParams, cert.tbs, cert.signature);
}

function readCertificate(der: Buffer): CertificateDetails {
  const outer = expectTag(readWhole(der), Tag.SEQUENCE, "Certificate");
  const top = children(outer);
  if (top.length !== 3) throw certError("not a certificate (Certificate must have 3 fields)");
  const tbs = expectTag(top[0], Tag.SEQUENCE, "tbsCertificate");
  const sigAlg = expectTag(top[1], Tag.SEQUENCE, "signatureAlgorithm");
  const sigBits = expectTag(top[2], Tag.BIT_STRING, "signatureValue");
  if (sigBits.content.length < 2 || sigBits.content[0] !== 0)
    throw certError("signature must have no unused bits");
  const alg = children(sigAlg);
  if (alg.length < 1 || alg.length > 2) throw certError("bad signatureAlgorithm");
  const signatureAlgorithm = oidFromContent(expectTag(alg[0], Tag.OID, "signature algorithm").content);

  const f = children(tbs);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = children(f[0]);
    if (v.length !== 1) throw certError("bad version");
    const n = decodeInt(expectTag(v[0], Tag.INTEGER, "version").content);
    if (n < 0n || n > 2n) throw certError(`unknown certificate version ${n}`);
    version = Number(n) + 1;
    i = 1;
  } else if (f[0]?.tag !== Tag.INTEGER) throw certError("not a certificate (no serial number)");
  const serialNode = expectTag(f[i++], Tag.INTEGER, "serialNumber");
  const serial = decodeInt(serialNode.content);
  if (serial <= 0n) throw certError("serial number must be positive (RFC 5280 §4.1.2.2)");
  if (serialNode.content.length > 20)
    throw certError("serial number is longer than 20 octets (RFC 5280 §4.1.2.2)");
  const innerAlg = expectTag(f[i++], Tag.SEQUENCE, "signature");
  if (!innerAlg.raw.equals(sigAlg.raw))
    throw certError("signature algorithm in tbsCertificate differs from the outer one (RFC 5280 §4.1.1.2)");
  const issuerNode = expectTag(f[i++], Tag.SEQUENCE, "issuer");
  const validity = children(expectTag(f[i++], Tag.SEQUENCE, "validity"));
  if (validity.length !== 2) throw certError("validity must have two times");
  const notBefore = decodeTime(validity[0]!);
  const notAfter = decodeTime(validity[1]!);
  const subjectNode = expectTag(f[i++], Tag.SEQUENCE, "subject");
  const spkiNode = expectTag(f[i++], Tag.SEQUENCE, "subjectPublicKeyInfo");
  const publicKey = describePublicKey(spkiNode);
  let extsNode: Node | undefined;
  for (; i < f.length; i++) {
    const n = f[i]!;
    if (n.tag === 0x81 || n.tag === 0xa1 || n.tag === 0x82 || n.tag === 0xa2) {
      if (version < 2) throw certError("unique identifiers need version 2 or 3");
      continue;
    }
    if (n.tag === 0xa3 && !extsNode && i === f.length - 1) {
      if (version !== 3) throw certError("extensions need version 3 (RFC 5280 §4.1.2.1)");
      extsNode = n;
      continue;
    }
    throw certError(`unexpected field tag 0x${n.tag.toString(16)} in tbsCertificate`);
  }

  const out: CertificateDetails = {
    der,
    serialHex: serial.toString(16),
    issuer: decodeDn(issuerNode),
    issuerDer: issuerNode.raw,
    subject: decodeDn(subjectNode),
    subjectDer: subjectNode.raw,
    notBefore,
    notAfter,
    spki: spkiNode.raw,
    publicKey,
    isCa: false,
    sans: [],
    tbs: tbs.raw,
    signatureAlgorithm,
    signatureParams: alg[1]?.raw,
    signature: sigBits.content.subarray(1),
    fingerprint: createHash("sha256").update(der).digest("hex"),
    version,
    crlUrls: [],
    ocspUrls: [],
    caIssuersUrls: [],
    ocspNoCheck: false,
    extensions: [],
  };
  if (extsNode) readExtensions(extsNode, out);
  return out;
}

function readExtensions(node: Node, out: CertificateDetails): void {
  const list = children(node);
  if (list.length !== 1) throw certError("bad extensions wrapper");
  const exts = children(expectTag(list[0], Tag.SEQUENCE, "Extensions"));
  if (exts.length === 0) throw certError("extensions must not be empty (RFC 5280 §4.1)");
  const seen = new Set<string>();
  for (const ext of exts) {
    const ef = children(expectTag(ext, Tag.SEQUENCE, "Extension"));
    if (ef.length < 2 || ef.length > 3) throw certError("Extension must have 2 or 3 fields");
    const extOid = oidFromContent(expectTag(ef[0], Tag.OID, "extnID").content);
    let critical = false;
    if (ef.length === 3) {
      const c = expectTag(ef[1], Tag.BOOLEAN, "critical").content;
      if (c.length !== 1) throw certError("bad critical flag");
      critical = c[0] !== 0;
    }
    const value = expectTag(ef[ef.length - 1], Tag.OCTET_STRING, "extnValue").content;
    if (seen.has(extOid)) throw certError(`extension ${extOid} appears twice (RFC 5280 §4.2)`);
    seen.add(extOid);
    out.extensions.push({ oid: extOid, critical, value });
    try {
      readKnownExtension(extOid, value, out);
    } catch (e) {
      const msg = e instanceof Error ? e.message.replace(/^malformed DER: /, "") : String(e);
      throw certError(`extension ${extOid}: ${msg}`, e);
    }
  }
}

function uris(names: Node[]): string[] {
  return names.filter((n) => n.tag === 0x86).map((n) => n.content.toString("latin1"));
}

function readKnownExtension(extOid: string, value: Buffer, out: CertificateDetails): void {
  switch (extOid) {
    case ExtOid.basicConstraints: {
      const f = children(expectTag(readWhole(value), Tag.SEQUENCE, "BasicConstraints"));
      let k = 0;
      if (f[k]?.tag === Tag.BOOLEAN) {
        out.isCa = f[k]!.content[0] !== 0;
        k++;
      }
      if (f[k]) {
        const n = decodeInt(expectTag(f[k], Tag.INTEGER, "pathLenConstraint").content);
        if (n < 0n || n > 1000n) throw certError("bad pathLenConstraint");
        out.pathLen = Number(n);
        k++;
      }
      if (k !== f.length) throw certError("bad BasicConstraints");
      return;
    }
    case ExtOid.keyUsage: {
      const b = expectTag(readWhole(value), Tag.BIT_STRING, "KeyUsage").content;
      if (b.length < 1 || b[0]! > 7) throw certError("bad KeyUsage");
      const names: string[] = [];
      for (let bit = 0; bit < (b.length - 1) * 8; bit++)
        if (b[1 + (bit >> 3)]! & (0x80 >> (bit & 7))) names.push(KEY_USAGE_BITS[bit] ?? `bit${bit}`);
      out.keyUsage = names;
      return;
    }
    case ExtOid.extKeyUsage:
      out.extKeyUsage = children(expectTag(readWhole(value), Tag.SEQUENCE, "ExtKeyUsage")).map((n) =>
        oidFromContent(expectTag(n, Tag.OID, "KeyPurposeId").content),
      );
      return;
    case ExtOid.subjectKeyIdentifier:
      out.subjectKeyId = Buffer.from(
        expectTag(readWhole(value), Tag.OCTET_STRING, "SubjectKeyIdentifier").content,
      );
      return;
    case ExtOid.authorityKeyIdentifier: {
      const f = children(expectTag(readWhole(value), Tag.SEQUENCE, "AuthorityKeyIdentifier"));
      const kid = f.find((n) => n.tag === 0x80);
      if (kid) out.authorityKeyId = Buffer.from(kid.content);
      return;
    }
    case ExtOid.subjectAltName: {
      const sans: GeneralName[] = decodeSan(value);
      out.sans = sans;
      return;
    }
    case ExtOid.cRLDistributionPoints:
      for (const dp of children(expectTag(readWhole(value), Tag.SEQUENCE, "CRLDistributionPoints"))) {
        const dpn = children(expectTag(dp, Tag.SEQUENCE, "DistributionPoint")).find((n) => n.tag === 0xa0);
        if (!dpn) continue;
        const full = children(dpn).find((n) => n.tag === 0xa0);
        if (full) out.crlUrls.push(...uris(children(full)));
      }
      return;
    case ExtOid.authorityInfoAccess:
      for (const ad of children(expectTag(readWhole(value), Tag.SEQUENCE, "AuthorityInfoAccess"))) {
        const f = children(expectTag(ad, Tag.SEQUENCE, "AccessDescription"));
        if (f.length !== 2) throw certError("bad AccessDescription");
        const method = oidFromContent(expectTag(f[0], Tag.OID, "accessMethod").content);
        const loc = uris([f[1]!]);
        if (method === AccessOid.ocsp) out.ocspUrls.push(...loc);
        else if (method === AccessOid.caIssuers) out.caIssuersUrls.push(...loc);
      }
      return;
    case ExtOid.ocspNoCheck:
      out.ocspNoCheck = true;
      return;
    default:
      return;
  }
}
