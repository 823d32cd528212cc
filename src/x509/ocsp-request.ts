/**
 * Reading an OCSPRequest (RFC 6960 §4.1.1, profiled by RFC 5019 §2.1): a strict,
 * allocation-light reader that walks the DER in place and returns views into the caller's
 * buffer, never copies.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { Tag, decodeOid } from "./der.js";
import {
  DIGEST_LENGTH,
  HASH_OID_CONTENT,
  NONCE_OID_CONTENT,
  OCSP_HASHES,
  Reader,
  CTX0,
  CTX1,
  CTX2,
} from "./ocsp-der.js";
import type { OcspHash } from "./ocsp-der.js";

/** One CertID of a request (RFC 6960 §4.1.1). Every Buffer is a view into the request. */
export interface OcspCertId {
  /** undefined when the hash algorithm OID is not one of {@link OcspHash}. */
  hash: OcspHash | undefined;
  /** Hash of the issuer's DN. */
  issuerNameHash: Buffer;
  /** Hash of the issuer's subjectPublicKey BIT STRING value. */
  issuerKeyHash: Buffer;
  /** serial INTEGER content octets as received (may have a leading 0x00). */
  serialContent: Buffer;
  /**
   * Lowercase hex of the serial magnitude, no leading zeros, same convention as
   * serialToHex in serial.ts ("0" for a zero serial; a negative serial is refused).
   */
  serialHex: string;
  /** The whole CertID TLV exactly as received, to echo it byte for byte (RFC 6960 §4.2.1, §4.2.2.3). */
  der: Buffer;
}

/** What a responder needs from an OCSPRequest (RFC 6960 §4.1.1). */
export interface OcspRequest {
  /** The requested certificates, in request order; at least one. */
  certIds: OcspCertId[];
  /**
   * Value of the id-pkix-ocsp-nonce request extension (RFC 6960 §4.4.1): the extnValue
   * OCTET STRING *content*, i.e. exactly what must be echoed as the response's extnValue.
   * A view into the request.
   */
  nonce?: Buffer;
  /** True when optionalSignature is present (it is not verified). */
  signed: boolean;
}

/** Largest OCSPRequest accepted; callers refuse bigger bodies before parsing. */
export const MAX_OCSP_REQUEST_BYTES = 16 * 1024;

/** Largest number of CertIDs accepted in one request. */
export const MAX_OCSP_CERT_IDS = 64;

/** Largest nonce accepted (RFC 9654 §2.1: Nonce ::= OCTET STRING (SIZE(1..128))). */
export const MAX_OCSP_NONCE_BYTES = 128;

/** Largest serial INTEGER content accepted in a CertID (RFC 5280 §4.1.2.2 allows 20 octets; slack for others). */
const MAX_SERIAL_CONTENT = 64;

/** Largest number of extensions in one Extensions list (keeps the duplicate check cheap). */
const MAX_EXTENSIONS = 32;

function hashFromOid(r: Reader, start: number, end: number): OcspHash | undefined {
  for (const h of OCSP_HASHES) if (r.equals(start, end, HASH_OID_CONTENT[h])) return h;
  return undefined;
}

/**
 * Reads a CertID (RFC 6960 §4.1.1) at `off` inside `limit`; sets `r.end` to its end.
 * For a known hash the AlgorithmIdentifier parameters must be absent or NULL (RFC 5754 §2
 * allows both) and both hashes must have the digest's length.
 */
function readCertId(r: Reader, off: number, limit: number): OcspCertId {
  const buf = r.buf;
  const cs = r.expect(off, limit, Tag.SEQUENCE, "CertID");
  const end = r.end;
  const algCs = r.expect(cs, end, Tag.SEQUENCE, "CertID hashAlgorithm");
  const algEnd = r.end;
  const oidCs = r.expect(algCs, algEnd, Tag.OID, "CertID hashAlgorithm OID");
  const oidEnd = r.end;
  r.checkOid(oidCs, oidEnd, "CertID hashAlgorithm");
  const hash = hashFromOid(r, oidCs, oidEnd);
  if (oidEnd < algEnd) {
    r.any(oidEnd, algEnd, "CertID hashAlgorithm parameters");
    if (r.end !== algEnd) throw r.bad("CertID hashAlgorithm has trailing data");
    if (hash && (r.tag !== Tag.NULL || r.end !== oidEnd + 2))
      throw r.bad(`CertID ${hash} parameters must be absent or NULL`);
  }
  const nameCs = r.expect(algEnd, end, Tag.OCTET_STRING, "CertID issuerNameHash");
  const nameEnd = r.end;
  const keyCs = r.expect(nameEnd, end, Tag.OCTET_STRING, "CertID issuerKeyHash");
  const keyEnd = r.end;
  if (hash) {
    const n = DIGEST_LENGTH[hash];
    if (nameEnd - nameCs !== n || keyEnd - keyCs !== n)
      throw r.bad(`CertID ${hash} hashes must be ${n} octets long`);
  }
  const serCs = r.expect(keyEnd, end, Tag.INTEGER, "CertID serialNumber");
  const serEnd = r.end;
  if (serEnd !== end) throw r.bad("CertID has trailing data");
  const serLen = serEnd - serCs;
  if (serLen === 0) throw r.bad("CertID serialNumber is empty");
  if (serLen > MAX_SERIAL_CONTENT) throw r.bad("CertID serialNumber is too long");
  const first = buf[serCs]!;
  if (first & 0x80) throw r.bad("CertID serialNumber is negative");
  if (serLen > 1 && first === 0 && !(buf[serCs + 1]! & 0x80))
    throw r.bad("CertID serialNumber is not minimally encoded");
  // Minimal and positive: at most one sign octet 0x00, then a magnitude whose first octet is
  // non-zero, so at most one leading '0' hex digit to drop (serialToHex convention).
  const magStart = first === 0 && serLen > 1 ? serCs + 1 : serCs;
  let serialHex = buf.toString("hex", magStart, serEnd);
  if (serialHex.charCodeAt(0) === 0x30 && serialHex.length > 1) serialHex = serialHex.slice(1);
  return {
    hash,
    issuerNameHash: buf.subarray(nameCs, nameEnd),
    issuerKeyHash: buf.subarray(keyCs, keyEnd),
    serialContent: buf.subarray(serCs, serEnd),
    serialHex,
    der: buf.subarray(off, end),
  };
}

/**
 * Reads an `[n] EXPLICIT Extensions` body spanning [off, limit) (RFC 6960 §4.1.1, RFC 5280
 * §4.1): Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension. Critical is omitted when FALSE
 * (DER DEFAULT rule, X.690 §11.5); an extension may not appear twice (RFC 5280 §4.2). Only
 * the nonce is understood, and only where `nonceAllowed` (requestExtensions, RFC 6960
 * §4.4.1); any other extension is ignored unless critical, which is refused (RFC 6960
 * §4.1.2: unrecognized non-critical extensions are ignored; a critical one cannot be honoured).
 * Returns the nonce's extnValue content, if present.
 */
function readExtensions(r: Reader, off: number, limit: number, nonceAllowed: boolean): Buffer | undefined {
  const buf = r.buf;
  const cs = r.expect(off, limit, Tag.SEQUENCE, "Extensions");
  const end = r.end;
  if (end !== limit) throw r.bad("Extensions has trailing data");
  if (cs === end) throw r.bad("Extensions is empty");
  let nonce: Buffer | undefined;
  let count = 0;
  for (let p = cs; p < end;) {
    if (++count > MAX_EXTENSIONS) throw r.bad(`more than ${MAX_EXTENSIONS} extensions`);
    const ecs = r.expect(p, end, Tag.SEQUENCE, "Extension");
    const eEnd = r.end;
    const oidCs = r.expect(ecs, eEnd, Tag.OID, "extnID");
    const oidEnd = r.end;
    r.checkOid(oidCs, oidEnd, "extnID");
    // Duplicate check against the extensions before this one (at most MAX_EXTENSIONS).
    for (let q = cs; q < p;) {
      const qcs = r.expect(q, end, Tag.SEQUENCE, "Extension");
      const qEnd = r.end;
      const qo = r.expect(qcs, qEnd, Tag.OID, "extnID");
      if (r.same(qo, r.end, oidCs, oidEnd))
        throw r.bad(`extension ${decodeOid(buf.subarray(oidCs, oidEnd))} appears twice`);
      q = qEnd;
    }
    let s = oidEnd;
    let critical = false;
    if (s < eEnd && buf[s] === Tag.BOOLEAN) {
      const bcs = r.expect(s, eEnd, Tag.BOOLEAN, "critical");
      if (r.end - bcs !== 1) throw r.bad("critical: bad BOOLEAN");
      const v = buf[bcs]!;
      if (v === 0) throw r.bad("critical FALSE must be omitted (DER)");
      if (v !== 0xff) throw r.bad("critical: BOOLEAN TRUE must be 0xff (DER)");
      critical = true;
      s = r.end;
    }
    const vcs = r.expect(s, eEnd, Tag.OCTET_STRING, "extnValue");
    if (r.end !== eEnd) throw r.bad("Extension has trailing data");
    if (nonceAllowed && r.equals(oidCs, oidEnd, NONCE_OID_CONTENT)) {
      checkNonce(r, vcs, eEnd);
      nonce = buf.subarray(vcs, eEnd);
    } else if (critical) {
      throw r.bad(`unsupported critical extension ${decodeOid(buf.subarray(oidCs, oidEnd))}`);
    }
    p = eEnd;
  }
  return nonce;
}

/**
 * RFC 9654 §2.1: extnValue holds the DER of Nonce ::= OCTET STRING (SIZE(1..128)); a
 * request with a nonce of 0 or more than 128 octets gets malformedRequest. Older clients
 * (RFC 2560 era) put the raw value in extnValue; then the raw value is held to 1..128.
 */
function checkNonce(r: Reader, start: number, end: number): void {
  if (start === end) throw r.bad("the nonce is empty");
  let len = end - start;
  if (r.buf[start] === Tag.OCTET_STRING) {
    try {
      const cs = r.expect(start, end, Tag.OCTET_STRING, "nonce");
      if (r.end === end) len = end - cs;
    } catch {
      // Not a well-formed Nonce OCTET STRING: a raw legacy value, judged by its length.
    }
  }
  if (len === 0) throw r.bad("the nonce is empty");
  if (len > MAX_OCSP_NONCE_BYTES) throw r.bad(`the nonce is longer than ${MAX_OCSP_NONCE_BYTES} octets`);
}

/**
 * Checks the shape of optionalSignature's Signature (RFC 6960 §4.1.1): SEQUENCE {
 * signatureAlgorithm, signature BIT STRING, certs [0] EXPLICIT SEQUENCE OF Certificate
 * OPTIONAL }. It is not verified: Sigil's responder does not require signed requests.
 */
function checkSignature(r: Reader, off: number, limit: number): void {
  const cs = r.expect(off, limit, Tag.SEQUENCE, "Signature");
  const end = r.end;
  if (end !== limit) throw r.bad("optionalSignature has trailing data");
  const algCs = r.expect(cs, end, Tag.SEQUENCE, "Signature signatureAlgorithm");
  const algEnd = r.end;
  const oidCs = r.expect(algCs, algEnd, Tag.OID, "Signature signatureAlgorithm OID");
  r.checkOid(oidCs, r.end, "Signature signatureAlgorithm");
  const bitsCs = r.expect(algEnd, end, Tag.BIT_STRING, "Signature signature");
  if (r.end === bitsCs || r.buf[bitsCs] !== 0) throw r.bad("Signature signature: bad BIT STRING");
  if (r.end < end) {
    const certsCs = r.expect(r.end, end, CTX0, "Signature certs");
    if (r.end !== end) throw r.bad("Signature has trailing data");
    r.expect(certsCs, end, Tag.SEQUENCE, "Signature certs");
    if (r.end !== end) throw r.bad("Signature certs has trailing data");
  }
}

/**
 * Strict parse of an OCSPRequest (RFC 6960 §4.1.1, DER as RFC 6960 Appendix A requires):
 *
 * ```
 * OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
 * TBSRequest  ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] EXPLICIT
 *                 GeneralName OPTIONAL, requestList SEQUENCE OF Request, requestExtensions [2]
 *                 EXPLICIT Extensions OPTIONAL }
 * Request     ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
 * ```
 *
 * An explicit version v1(0) is tolerated; requestorName and the signature are skipped (not
 * verified). Unknown request and single-request extensions are ignored unless critical.
 * Throws SigilError BAD_INPUT with a one-line message on anything malformed: more than
 * {@link MAX_OCSP_REQUEST_BYTES}, trailing data, wrong tags, bad or non-minimal lengths,
 * another version, an empty requestList or more than {@link MAX_OCSP_CERT_IDS} CertIDs, a
 * negative serial, a nonce of 0 or more than 128 octets (RFC 9654 §2.1), a critical unknown
 * extension. The returned Buffers are views into `der`.
 */
export function parseOcspRequest(der: Buffer): OcspRequest {
  if (!Buffer.isBuffer(der)) throw new SigilError(ErrorCodes.BAD_INPUT, "OCSP request: not a byte buffer");
  const r = new Reader(der, "malformed OCSP request");
  if (der.length === 0) throw r.bad("empty");
  if (der.length > MAX_OCSP_REQUEST_BYTES) throw r.bad(`larger than ${MAX_OCSP_REQUEST_BYTES} bytes`);
  const outerCs = r.expect(0, der.length, Tag.SEQUENCE, "OCSPRequest");
  const outerEnd = r.end;
  if (outerEnd !== der.length) throw r.bad("trailing data after OCSPRequest");

  let p = r.expect(outerCs, outerEnd, Tag.SEQUENCE, "tbsRequest");
  const tbsEnd = r.end;
  let signed = false;
  if (tbsEnd < outerEnd) {
    const sigCs = r.expect(tbsEnd, outerEnd, CTX0, "optionalSignature");
    if (r.end !== outerEnd) throw r.bad("trailing data after optionalSignature");
    checkSignature(r, sigCs, outerEnd);
    signed = true;
  }

  // version [0] EXPLICIT Version DEFAULT v1: DER omits it, but an explicit v1 is tolerated.
  if (p < tbsEnd && der[p] === CTX0) {
    const vcs = r.expect(p, tbsEnd, CTX0, "version");
    const vEnd = r.end;
    const ics = r.expect(vcs, vEnd, Tag.INTEGER, "version");
    if (r.end !== vEnd) throw r.bad("version has trailing data");
    if (vEnd - ics !== 1 || der[ics] !== 0) throw r.bad("unsupported version (only v1 is defined)");
    p = vEnd;
  }
  // requestorName [1] EXPLICIT GeneralName: one TLV, skipped.
  if (p < tbsEnd && der[p] === CTX1) {
    const ncs = r.expect(p, tbsEnd, CTX1, "requestorName");
    const nEnd = r.end;
    r.any(ncs, nEnd, "requestorName GeneralName");
    if (r.end !== nEnd) throw r.bad("requestorName has trailing data");
    p = nEnd;
  }
  const listCs = r.expect(p, tbsEnd, Tag.SEQUENCE, "requestList");
  const listEnd = r.end;
  p = listEnd;
  let nonce: Buffer | undefined;
  if (p < tbsEnd) {
    const ecs = r.expect(p, tbsEnd, CTX2, "requestExtensions");
    const eEnd = r.end;
    nonce = readExtensions(r, ecs, eEnd, true);
    p = eEnd;
  }
  if (p !== tbsEnd) throw r.bad("unexpected data at the end of tbsRequest");

  const certIds: OcspCertId[] = [];
  for (let q = listCs; q < listEnd;) {
    if (certIds.length === MAX_OCSP_CERT_IDS) throw r.bad(`more than ${MAX_OCSP_CERT_IDS} CertIDs`);
    const rcs = r.expect(q, listEnd, Tag.SEQUENCE, "Request");
    const rEnd = r.end;
    certIds.push(readCertId(r, rcs, rEnd));
    const s = r.end;
    if (s < rEnd) {
      const ecs = r.expect(s, rEnd, CTX0, "singleRequestExtensions");
      if (r.end !== rEnd) throw r.bad("Request has trailing data");
      readExtensions(r, ecs, rEnd, false);
    }
    q = rEnd;
  }
  if (certIds.length === 0) throw r.bad("requestList is empty");
  return nonce ? { certIds, nonce, signed } : { certIds, signed };
}
