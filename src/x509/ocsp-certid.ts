/**
 * CertIDs and issuer hashes (RFC 6960 §4.1.1), so a responder can index its issuers and
 * pre-sign answers.
 *
 * Pure: no I/O, no clock.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { subjectPublicKeyBits } from "./certificate.js";
import { NULL, Tag, headerLength, intBytes, oid, readWhole, seq } from "./der.js";
import { DIGEST_LENGTH, writeLength } from "./ocsp-der.js";
import type { OcspHash } from "./ocsp-der.js";
import { HashOid } from "./oids.js";
import { hexToSerialBytes } from "./serial.js";

/**
 * The CertID hashAlgorithm AlgorithmIdentifier per hash, with NULL parameters as OpenSSL
 * writes them (RFC 5754 §2 lets readers accept both absent and NULL).
 */
const HASH_ALGORITHM: Record<OcspHash, Buffer> = {
  sha1: seq(oid(HashOid.sha1), NULL),
  sha256: seq(oid(HashOid.sha256), NULL),
  sha384: seq(oid(HashOid.sha384), NULL),
  sha512: seq(oid(HashOid.sha512), NULL),
};

function checkName(issuerNameDer: Buffer): void {
  const n = readWhole(issuerNameDer);
  if (n.tag !== Tag.SEQUENCE) throw new SigilError(ErrorCodes.BAD_INPUT, "issuer Name is not a SEQUENCE");
}

function checkHash(hash: OcspHash): void {
  if (!Object.prototype.hasOwnProperty.call(DIGEST_LENGTH, hash))
    throw new SigilError(ErrorCodes.INTERNAL, `unknown OCSP hash ${String(hash)}`);
}

/**
 * The hashes an issuer is matched by, for every {@link OcspHash} (RFC 6960 §4.1.1):
 * `name` = H(issuer Name DER), `key` = H(subjectPublicKey BIT STRING value, without tag,
 * length and unused-bits octet). A responder indexes its issuers by these.
 */
export function issuerHashes(
  issuerNameDer: Buffer,
  issuerSpki: Buffer,
): Record<OcspHash, { name: Buffer; key: Buffer }> {
  checkName(issuerNameDer);
  const keyBits = subjectPublicKeyBits(issuerSpki);
  const one = (h: OcspHash) => ({
    name: createHash(h).update(issuerNameDer).digest(),
    key: createHash(h).update(keyBits).digest(),
  });
  return { sha1: one("sha1"), sha256: one("sha256"), sha384: one("sha384"), sha512: one("sha512") };
}

/**
 * The serial-independent head of a CertID's content (hashAlgorithm, issuerNameHash,
 * issuerKeyHash; RFC 6960 §4.1.1), computed once per issuer and hash so that
 * {@link certIdFromPrefix} only encodes the serial. SHA-1 by default (RFC 5019 §2.1.1).
 */
export function certIdPrefix(issuerNameDer: Buffer, issuerSpki: Buffer, hash: OcspHash = "sha1"): Buffer {
  checkHash(hash);
  checkName(issuerNameDer);
  const keyBits = subjectPublicKeyBits(issuerSpki);
  const nameHash = createHash(hash).update(issuerNameDer).digest();
  const keyHash = createHash(hash).update(keyBits).digest();
  const n = nameHash.length;
  const alg = HASH_ALGORITHM[hash];
  const out = Buffer.allocUnsafe(alg.length + 2 * (2 + n));
  let p = alg.copy(out, 0);
  out[p++] = Tag.OCTET_STRING;
  out[p++] = n;
  p += nameHash.copy(out, p);
  out[p++] = Tag.OCTET_STRING;
  out[p++] = n;
  keyHash.copy(out, p);
  return out;
}

/**
 * A CertID DER from a {@link certIdPrefix} and a serial number in hex (any form
 * normalizeSerialHex accepts; at most 20 octets, RFC 5280 §4.1.2.2).
 */
export function certIdFromPrefix(prefix: Buffer, serialHex: string): Buffer {
  const serial = intBytes(hexToSerialBytes(serialHex));
  const len = prefix.length + serial.length;
  const hl = headerLength(len);
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = Tag.SEQUENCE;
  writeLength(out, 1, len);
  prefix.copy(out, hl);
  serial.copy(out, hl + prefix.length);
  return out;
}

/**
 * Builds the CertID (SHA-1 by default, RFC 5019 §2.1.1) for a certificate: issuerNameHash
 * = H(issuer Name DER), issuerKeyHash = H(BIT STRING value of the issuer's subjectPublicKey,
 * excluding tag, length and unused-bits octet) (RFC 6960 §4.1.1). The hashAlgorithm has NULL
 * parameters, as OpenSSL writes it. For many serials of one issuer, use
 * {@link certIdPrefix} once and {@link certIdFromPrefix} per serial.
 */
export function certIdFor(
  issuerNameDer: Buffer,
  issuerSpki: Buffer,
  serialHex: string,
  hash?: OcspHash,
): Buffer {
  return certIdFromPrefix(certIdPrefix(issuerNameDer, issuerSpki, hash ?? "sha1"), serialHex);
}
