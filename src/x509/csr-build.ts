/**
 * Builds PKCS#10 certification requests (RFC 2986 §4) for `sigil request create`: the key
 * stays with the requester, only the request leaves.
 *
 * Pure: the signing key is passed in as a {@link Signer}.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { Signer } from "../keys/types.js";
import { Tag, bitString, explicit, intNum, octetString, oid, seq, tlv } from "./der.js";
import { encodeDn } from "./dn.js";
import { ExtOid, Pkcs9Oid } from "./oids.js";
import { encodeSan } from "./san.js";
import type { DistinguishedName, GeneralName } from "./types.js";

/** What {@link buildCsr} needs. */
export interface BuildCsrOptions {
  /** Subject, most significant RDN first; may be empty when `sans` is not. */
  subject: DistinguishedName;
  /** SANs to propose in an extensionRequest attribute (omitted when empty). */
  sans: GeneralName[];
  /** DER SubjectPublicKeyInfo of the requester's key (normally `signer.spki`). */
  spki: Buffer;
  /** Signs with the requester's private key; its algorithmIdentifier names the signature. */
  signer: Signer;
}

/**
 * The CertificationRequestInfo (RFC 2986 §4.1): version 0, subject, subjectPKInfo and the
 * [0] IMPLICIT attributes, holding one PKCS#9 extensionRequest (RFC 2985 §5.4.2) with a
 * non-critical subjectAltName when `sans` is non-empty, else no attribute at all.
 */
export function buildCsrInfo(subject: DistinguishedName, sans: GeneralName[], spki: Buffer): Buffer {
  if (subject.length === 0 && sans.length === 0)
    throw new SigilError(ErrorCodes.BAD_INPUT, "a certificate request needs a subject or at least one SAN");
  const attributes: Buffer[] = [];
  if (sans.length > 0) {
    const san = seq(oid(ExtOid.subjectAltName), octetString(encodeSan(sans)));
    attributes.push(seq(oid(Pkcs9Oid.extensionRequest), tlv(Tag.SET, seq(san))));
  }
  return seq(intNum(0), encodeDn(subject), spki, explicit(0, ...attributes));
}

/**
 * Builds and signs a DER PKCS#10 request (RFC 2986 §4.2): CertificationRequest ::=
 * SEQUENCE { certificationRequestInfo, signatureAlgorithm, signature BIT STRING }.
 * The signature algorithm is the signer's own AlgorithmIdentifier.
 */
export async function buildCsr(opts: BuildCsrOptions): Promise<Buffer> {
  const info = buildCsrInfo(opts.subject, opts.sans, opts.spki);
  const sig = await opts.signer.sign(info);
  return seq(info, opts.signer.algorithmIdentifier, bitString(sig));
}
