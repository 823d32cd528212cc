/**
 * The OCSP codec of the responder's hot path (RFC 6960, profiled by RFC 5019).
 *
 * - {@link parseOcspRequest} is a strict, allocation-light reader of OCSPRequest: it walks
 *   the DER in place and returns views into the caller's buffer, never copies.
 * - {@link buildResponseData} / {@link buildOcspResponse} write ResponseData and the whole
 *   OCSPResponse into one buffer each, from an {@link OcspResponderTemplate} that holds the
 *   parts that never change for a responder (responderID, signature algorithm, certs).
 * - {@link certIdFor} / {@link issuerHashes} compute CertIDs and issuer hashes (RFC 6960
 *   §4.1.1) so a responder can index its issuers and pre-sign answers.
 *
 * Pure: no I/O, no clock (times are passed in), signing through a callback.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { subjectPublicKeyBits } from "./certificate.js";
import { NULL, Tag, decodeOid, encodeLength, headerLength, intBytes, oid, readWhole, seq } from "./der.js";
import { HashOid, OcspOid } from "./oids.js";
import { hexToSerialBytes } from "./serial.js";

/** Hash algorithms a CertID may use (RFC 6960 §4.1.1; SHA-1 is RFC 5019 §2.1.1's default). */
export type OcspHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Every {@link OcspHash}, in the order responders usually see them. */
export const OCSP_HASHES: readonly OcspHash[] = ["sha1", "sha256", "sha384", "sha512"];

/** Digest length in octets of each {@link OcspHash}. */
const DIGEST_LENGTH: Record<OcspHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

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

const CTX0 = 0xa0;
const CTX1 = 0xa1;
const CTX2 = 0xa2;

/** OID content octets (no tag or length) of the CertID hash algorithms. */
const HASH_OID_CONTENT: Record<OcspHash, Buffer> = {
  sha1: oid(HashOid.sha1).subarray(2),
  sha256: oid(HashOid.sha256).subarray(2),
  sha384: oid(HashOid.sha384).subarray(2),
  sha512: oid(HashOid.sha512).subarray(2),
};
const NONCE_OID = oid(OcspOid.nonce);
const NONCE_OID_CONTENT = NONCE_OID.subarray(2);
const BASIC_OID = oid(OcspOid.basic);
const BASIC_OID_CONTENT = BASIC_OID.subarray(2);

// ---------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------

/**
 * A strict DER cursor over one buffer (X.690 §10.1: definite, minimal lengths). It keeps
 * the last header it read in fields instead of allocating a node per TLV; every read is
 * bounded by its parent's end, not only by the buffer's.
 */
class Reader {
  /** Tag of the last TLV read. */
  tag = 0;
  /** One past the last content octet of the last TLV read. */
  end = 0;

  constructor(
    readonly buf: Buffer,
    private readonly what: string,
  ) {}

  bad(msg: string): SigilError {
    return new SigilError(ErrorCodes.BAD_INPUT, `${this.what}: ${msg}`);
  }

  /** Reads any TLV header at `off` inside [off, limit); returns the content start. */
  any(off: number, limit: number, what: string): number {
    if (off >= limit) throw this.bad(`missing ${what}`);
    const tag = this.buf[off]!;
    if ((tag & 0x1f) === 0x1f) throw this.bad(`${what}: multi-octet tags are not supported`);
    this.tag = tag;
    return this.length(off, limit, what);
  }

  /** Reads the TLV header at `off`, which must carry `tag`; returns the content start. */
  expect(off: number, limit: number, tag: number, what: string): number {
    if (off >= limit) throw this.bad(`missing ${what}`);
    const t = this.buf[off]!;
    if (t !== tag) throw this.bad(`${what}: expected tag 0x${hex2(tag)}, got 0x${hex2(t)}`);
    this.tag = t;
    return this.length(off, limit, what);
  }

  private length(off: number, limit: number, what: string): number {
    const buf = this.buf;
    if (off + 2 > limit) throw this.bad(`${what}: truncated header`);
    let len = buf[off + 1]!;
    let p = off + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0) throw this.bad(`${what}: indefinite length`);
      if (n > 3) throw this.bad(`${what}: length too long`);
      if (p + n > limit) throw this.bad(`${what}: truncated length`);
      if (buf[p] === 0) throw this.bad(`${what}: non-minimal length`);
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
      if (len < 0x80) throw this.bad(`${what}: non-minimal length`);
      p += n;
    }
    const end = p + len;
    if (end > limit) throw this.bad(`${what}: truncated content`);
    this.end = end;
    return p;
  }

  /** True when [a, aEnd) and [b, bEnd) of the buffer hold the same octets. */
  same(a: number, aEnd: number, b: number, bEnd: number): boolean {
    return aEnd - a === bEnd - b && this.buf.compare(this.buf, b, bEnd, a, aEnd) === 0;
  }

  /** True when [start, end) of the buffer equals `ref`. */
  equals(start: number, end: number, ref: Buffer): boolean {
    return end - start === ref.length && ref.compare(this.buf, start, end) === 0;
  }

  /** Checks OID content octets (X.690 §8.19: minimal arcs, last octet ends an arc). */
  checkOid(start: number, end: number, what: string): void {
    const buf = this.buf;
    if (start === end) throw this.bad(`${what}: empty OID`);
    if (buf[end - 1]! & 0x80) throw this.bad(`${what}: truncated OID`);
    let arcStart = true;
    for (let i = start; i < end; i++) {
      const b = buf[i]!;
      if (arcStart && b === 0x80) throw this.bad(`${what}: non-minimal OID arc`);
      arcStart = (b & 0x80) === 0;
    }
  }
}

const hex2 = (n: number): string => (n < 16 ? "0" : "") + n.toString(16);

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

/** Strict GeneralizedTime content YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5.2) to epoch ms. */
function readGeneralizedTime(r: Reader, off: number, limit: number, what: string): number {
  const cs = r.expect(off, limit, Tag.GENERALIZED_TIME, what);
  const buf = r.buf;
  if (r.end - cs !== 15 || buf[cs + 14] !== 0x5a) throw r.bad(`${what}: bad GeneralizedTime`);
  const d = (i: number): number => {
    const c = buf[cs + i]! - 0x30;
    if (c < 0 || c > 9) throw r.bad(`${what}: bad GeneralizedTime`);
    return c;
  };
  const n = (i: number): number => d(i) * 10 + d(i + 1);
  const y = n(0) * 100 + n(2);
  const mo = n(4);
  const day = n(6);
  const h = n(8);
  const mi = n(10);
  const s = n(12);
  const ms = Date.UTC(y, mo - 1, day, h, mi, s);
  const back = new Date(ms);
  if (
    mo < 1 ||
    h > 23 ||
    mi > 59 ||
    s > 59 ||
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== day
  )
    throw r.bad(`${what}: bad GeneralizedTime`);
  return ms;
}

/**
 * Reads back what the HTTP layer needs from a successful OCSPResponse (for the caching
 * headers of RFC 5019 §6.2): producedAt, and the earliest thisUpdate and nextUpdate of its
 * SingleResponses (nextUpdate undefined when any response lacks one). Checks the structure
 * of OCSPResponse / BasicOCSPResponse / ResponseData (RFC 6960 §4.2.1) strictly enough for
 * Sigil's own output; throws SigilError BAD_INPUT otherwise, including for a non-successful
 * responseStatus.
 */
export function readOcspResponseTimes(der: Buffer): {
  producedAt: number;
  thisUpdate: number;
  nextUpdate?: number;
} {
  if (!Buffer.isBuffer(der)) throw new SigilError(ErrorCodes.BAD_INPUT, "OCSP response: not a byte buffer");
  const r = new Reader(der, "malformed OCSP response");
  const ocs = r.expect(0, der.length, Tag.SEQUENCE, "OCSPResponse");
  const oEnd = r.end;
  if (oEnd !== der.length) throw r.bad("trailing data after OCSPResponse");
  const scs = r.expect(ocs, oEnd, Tag.ENUMERATED, "responseStatus");
  if (r.end - scs !== 1) throw r.bad("bad responseStatus");
  if (der[scs] !== 0) throw r.bad(`responseStatus is ${der[scs]}, not successful(0)`);
  const bcs = r.expect(r.end, oEnd, CTX0, "responseBytes");
  if (r.end !== oEnd) throw r.bad("OCSPResponse has trailing data");
  const rbcs = r.expect(bcs, oEnd, Tag.SEQUENCE, "ResponseBytes");
  if (r.end !== oEnd) throw r.bad("responseBytes has trailing data");
  const tcs = r.expect(rbcs, oEnd, Tag.OID, "responseType");
  if (!r.equals(tcs, r.end, BASIC_OID_CONTENT)) throw r.bad("responseType is not id-pkix-ocsp-basic");
  const ostr = r.expect(r.end, oEnd, Tag.OCTET_STRING, "response");
  if (r.end !== oEnd) throw r.bad("ResponseBytes has trailing data");

  // BasicOCSPResponse ::= SEQUENCE { tbsResponseData, signatureAlgorithm, signature, certs [0] OPTIONAL }
  const basicCs = r.expect(ostr, oEnd, Tag.SEQUENCE, "BasicOCSPResponse");
  const basicEnd = r.end;
  if (basicEnd !== oEnd) throw r.bad("BasicOCSPResponse has trailing data");
  const dcs = r.expect(basicCs, basicEnd, Tag.SEQUENCE, "tbsResponseData");
  const dEnd = r.end;
  r.expect(dEnd, basicEnd, Tag.SEQUENCE, "signatureAlgorithm");
  const bitsCs = r.expect(r.end, basicEnd, Tag.BIT_STRING, "signature");
  if (r.end === bitsCs || der[bitsCs] !== 0) throw r.bad("signature: bad BIT STRING");
  if (r.end < basicEnd) {
    r.expect(r.end, basicEnd, CTX0, "certs");
    if (r.end !== basicEnd) throw r.bad("BasicOCSPResponse has trailing data");
  }

  // ResponseData ::= SEQUENCE { version [0] DEFAULT v1, responderID, producedAt, responses, responseExtensions [1] }
  let p = dcs;
  if (p < dEnd && der[p] === CTX0) {
    const vcs = r.expect(p, dEnd, CTX0, "version");
    const vEnd = r.end;
    const ics = r.expect(vcs, vEnd, Tag.INTEGER, "version");
    if (r.end !== vEnd || vEnd - ics !== 1 || der[ics] !== 0) throw r.bad("unsupported version");
    p = vEnd;
  }
  if (p >= dEnd || (der[p] !== CTX1 && der[p] !== CTX2)) throw r.bad("bad responderID");
  r.expect(p, dEnd, der[p]!, "responderID");
  const producedAt = readGeneralizedTime(r, r.end, dEnd, "producedAt");
  const lcs = r.expect(r.end, dEnd, Tag.SEQUENCE, "responses");
  const lEnd = r.end;
  if (lEnd < dEnd) {
    r.expect(lEnd, dEnd, CTX1, "responseExtensions");
    if (r.end !== dEnd) throw r.bad("ResponseData has trailing data");
  }

  let thisUpdate = Infinity;
  let nextUpdate = Infinity;
  let allNext = true;
  let count = 0;
  for (let q = lcs; q < lEnd;) {
    const scs2 = r.expect(q, lEnd, Tag.SEQUENCE, "SingleResponse");
    const sEnd = r.end;
    r.expect(scs2, sEnd, Tag.SEQUENCE, "certID");
    const st = r.end;
    // CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL }
    const tag = st < sEnd ? der[st]! : -1;
    if (tag !== 0x80 && tag !== CTX1 && tag !== 0x82) throw r.bad("bad certStatus");
    const ccs = r.expect(st, sEnd, tag, "certStatus");
    if (tag !== CTX1 && r.end !== ccs) throw r.bad("bad certStatus");
    const tu = readGeneralizedTime(r, r.end, sEnd, "thisUpdate");
    let s = r.end;
    let nu: number | undefined;
    if (s < sEnd && der[s] === CTX0) {
      const ncs = r.expect(s, sEnd, CTX0, "nextUpdate");
      const nEnd = r.end;
      nu = readGeneralizedTime(r, ncs, nEnd, "nextUpdate");
      if (r.end !== nEnd) throw r.bad("nextUpdate has trailing data");
      s = nEnd;
    }
    if (s < sEnd) {
      r.expect(s, sEnd, CTX1, "singleExtensions");
      if (r.end !== sEnd) throw r.bad("SingleResponse has trailing data");
    }
    if (tu < thisUpdate) thisUpdate = tu;
    if (nu === undefined) allNext = false;
    else if (nu < nextUpdate) nextUpdate = nu;
    count++;
    q = sEnd;
  }
  if (count === 0) throw r.bad("no SingleResponse");
  return allNext ? { producedAt, thisUpdate, nextUpdate } : { producedAt, thisUpdate };
}

// ---------------------------------------------------------------------------------------
// CertIDs and issuer hashes
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/** Status of one certificate in a response (RFC 6960 §2.2, §4.2.1 CertStatus). */
export type OcspCertStatus =
  | { kind: "good" }
  | {
      kind: "revoked";
      /** Revocation time, epoch ms. */
      revokedAt: number;
      /** RFC 5280 §5.3.1 CRLReason; revocationReason is left out when undefined or 0 (unspecified). */
      reason?: number;
    }
  | { kind: "unknown" };

/** One SingleResponse to write (RFC 6960 §4.2.1). */
export interface OcspSingleInput {
  /** CertID TLV (from {@link certIdFor}, or echoed from the request). */
  certIdDer: Buffer;
  /** The certificate's status. */
  status: OcspCertStatus;
  /** Epoch ms, encoded as GeneralizedTime with seconds precision. */
  thisUpdate: number;
  /** Epoch ms; the field is left out when undefined (RFC 6960 §4.2.2.1: newer information always available). */
  nextUpdate?: number;
}

/** What never changes between the responses of one responder, encoded once. */
export interface OcspResponderTemplate {
  /** SHA-1 of the responder's subjectPublicKey BIT STRING value (RFC 6960 §4.2.1 KeyHash). */
  readonly responderKeyHash: Buffer;
  /** ResponderID byKey: `[2] EXPLICIT KeyHash` TLV. */
  readonly responderId: Buffer;
  /** Signature AlgorithmIdentifier DER of the responder's signer. */
  readonly signatureAlgorithm: Buffer;
  /** `[0] EXPLICIT SEQUENCE OF Certificate` TLV, or an empty Buffer for none. */
  readonly certsField: Buffer;
}

/**
 * Precomputes a responder's constant parts.
 *
 * - `responderSpki`: the responder certificate's SPKI DER; ResponderID is byKey = SHA-1 of
 *   its subjectPublicKey BIT STRING value (RFC 6960 §4.2.1; RFC 5019 §2.2.3 prefers byKey).
 * - `signatureAlgorithm`: the signer's DER AlgorithmIdentifier (Signer.algorithmIdentifier).
 * - `certs`: certificates (DER) for BasicOCSPResponse.certs, i.e. the delegated responder
 *   certificate (RFC 6960 §4.2.2.2); an empty array leaves the field out.
 *
 * Throws SigilError BAD_INPUT when an input is not a single DER TLV of the right kind.
 */
export function makeResponderTemplate(opts: {
  responderSpki: Buffer;
  signatureAlgorithm: Buffer;
  certs: Buffer[];
}): OcspResponderTemplate {
  const responderKeyHash = createHash("sha1").update(subjectPublicKeyBits(opts.responderSpki)).digest();
  const responderId = wrap(CTX2, [wrap(Tag.OCTET_STRING, [responderKeyHash])]);
  if (readWhole(opts.signatureAlgorithm).tag !== Tag.SEQUENCE)
    throw new SigilError(ErrorCodes.BAD_INPUT, "signatureAlgorithm is not an AlgorithmIdentifier");
  for (const c of opts.certs)
    if (readWhole(c).tag !== Tag.SEQUENCE)
      throw new SigilError(ErrorCodes.BAD_INPUT, "a responder certificate is not a DER Certificate");
  const certsField = opts.certs.length ? wrap(CTX0, [wrap(Tag.SEQUENCE, opts.certs)]) : Buffer.alloc(0);
  return {
    responderKeyHash,
    responderId,
    signatureAlgorithm: Buffer.from(opts.signatureAlgorithm),
    certsField,
  };
}

/** Tag and length octets then content parts, in one allocation. */
function wrap(tag: number, parts: Buffer[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const hl = headerLength(len);
  const out = Buffer.allocUnsafe(hl + len);
  out[0] = tag;
  writeLength(out, 1, len);
  let o = hl;
  for (const p of parts) o += p.copy(out, o);
  return out;
}

/** Writes a DER length at `off`; returns the offset after it. */
function writeLength(buf: Buffer, off: number, len: number): number {
  if (len < 0x80) {
    buf[off] = len;
    return off + 1;
  }
  if (len < 0x100) {
    buf[off] = 0x81;
    buf[off + 1] = len;
    return off + 2;
  }
  if (len < 0x10000) {
    buf[off] = 0x82;
    buf[off + 1] = len >> 8;
    buf[off + 2] = len & 0xff;
    return off + 3;
  }
  const l = encodeLength(len);
  return off + l.copy(buf, off);
}

function badBuild(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `OCSP response: ${msg}`);
}

/** Encoded size of a GeneralizedTime TLV (YYYYMMDDHHMMSSZ). */
const GT_LEN = 17;

function put2(buf: Buffer, p: number, n: number): number {
  buf[p] = 0x30 + ((n / 10) | 0);
  buf[p + 1] = 0x30 + (n % 10);
  return p + 2;
}

/**
 * Writes GeneralizedTime at `p` (RFC 6960 uses GeneralizedTime throughout; RFC 5280
 * §4.1.2.5.2 form: Zulu, seconds, no fractions), byte-identical to der.generalizedTime.
 */
function writeGeneralizedTime(buf: Buffer, p: number, ms: number, what: string): number {
  if (!Number.isFinite(ms)) throw badBuild(`bad ${what}`);
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) throw badBuild(`${what} out of range`);
  buf[p++] = Tag.GENERALIZED_TIME;
  buf[p++] = 15;
  p = put2(buf, p, (y / 100) | 0);
  p = put2(buf, p, y % 100);
  p = put2(buf, p, d.getUTCMonth() + 1);
  p = put2(buf, p, d.getUTCDate());
  p = put2(buf, p, d.getUTCHours());
  p = put2(buf, p, d.getUTCMinutes());
  p = put2(buf, p, d.getUTCSeconds());
  buf[p++] = 0x5a; // 'Z'
  return p;
}

/** Fixed CertStatus encodings (RFC 6960 §4.2.1: good [0] IMPLICIT NULL, unknown [2] IMPLICIT NULL). */
const STATUS_GOOD = Buffer.from([0x80, 0x00]);
const STATUS_UNKNOWN = Buffer.from([0x82, 0x00]);

/**
 * revocationReason `[0] EXPLICIT CRLReason` per reason code (RFC 6960 §4.2.1, RFC 5280
 * §5.3.1). 0 (unspecified) is never written, like the CRL writer; 7 is unassigned; 8
 * (removeFromCRL) only has a meaning in delta CRLs.
 */
const REASONS: (Buffer | undefined)[] = [];
for (const r of [1, 2, 3, 4, 5, 6, 9, 10]) REASONS[r] = Buffer.from([CTX0, 3, Tag.ENUMERATED, 1, r]);

function reasonField(status: OcspCertStatus & { kind: "revoked" }): Buffer | undefined {
  const r = status.reason;
  if (r === undefined || r === 0) return undefined;
  const f = Number.isInteger(r) ? REASONS[r] : undefined;
  if (!f) throw badBuild(`bad revocation reason ${String(r)}`);
  return f;
}

/** Cheap shape check: `b` is exactly one SEQUENCE TLV (tag and length header agree with its size). */
function isOneSequence(b: Buffer | undefined): boolean {
  if (!Buffer.isBuffer(b) || b.length < 2 || b[0] !== Tag.SEQUENCE) return false;
  const l = b[1]!;
  if (l < 0x80) return l + 2 === b.length;
  const n = l & 0x7f;
  if (n === 0 || n > 3 || b.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return len + 2 + n === b.length;
}

/** Content length of one SingleResponse (without its SEQUENCE header). */
function singleContentLength(s: OcspSingleInput): number {
  const certId = s.certIdDer;
  if (!isOneSequence(certId)) throw badBuild("certIdDer is not a CertID");
  let len = certId.length + GT_LEN;
  const st = s.status;
  switch (st?.kind) {
    case "good":
    case "unknown":
      len += 2;
      break;
    case "revoked": {
      // revoked [1] IMPLICIT RevokedInfo: SEQUENCE { revocationTime, revocationReason [0] OPTIONAL }.
      const rf = reasonField(st);
      len += 2 + GT_LEN + (rf ? rf.length : 0);
      break;
    }
    default:
      throw badBuild("bad certificate status");
  }
  if (s.nextUpdate !== undefined) {
    if (!(s.nextUpdate >= s.thisUpdate)) throw badBuild("nextUpdate is before thisUpdate");
    len += 2 + GT_LEN;
  }
  return len;
}

function writeSingle(buf: Buffer, p: number, s: OcspSingleInput, contentLen: number): number {
  buf[p++] = Tag.SEQUENCE;
  p = writeLength(buf, p, contentLen);
  p += s.certIdDer.copy(buf, p);
  const st = s.status;
  if (st.kind === "good") p += STATUS_GOOD.copy(buf, p);
  else if (st.kind === "unknown") p += STATUS_UNKNOWN.copy(buf, p);
  else {
    const rf = reasonField(st);
    buf[p++] = CTX1;
    buf[p++] = GT_LEN + (rf ? rf.length : 0);
    p = writeGeneralizedTime(buf, p, st.revokedAt, "revocation time");
    if (rf) p += rf.copy(buf, p);
  }
  p = writeGeneralizedTime(buf, p, s.thisUpdate, "thisUpdate");
  if (s.nextUpdate !== undefined) {
    buf[p++] = CTX0;
    buf[p++] = GT_LEN;
    p = writeGeneralizedTime(buf, p, s.nextUpdate, "nextUpdate");
  }
  return p;
}

/**
 * The ResponseData (tbsResponseData) DER (RFC 6960 §4.2.1): version left out (v1 is the
 * DEFAULT, X.690 §11.5), responderID byKey (RFC 5019 §2.2.3), producedAt, one
 * SingleResponse per input in order (certID echoed byte for byte, §4.2.2.3; GeneralizedTime
 * with seconds precision), and responseExtensions holding the nonce only when `nonce` is
 * given (non-critical, extnValue = the nonce bytes as given, i.e. the request's extnValue
 * content, RFC 6960 §4.4.1 / RFC 9654 §2.1). Written into one buffer.
 *
 * Throws SigilError BAD_INPUT for no responses, a nextUpdate before thisUpdate, a bad
 * reason code (7, 8, out of range), a time outside years 0..9999, an empty nonce or one
 * longer than 131 octets (a 128-octet Nonce OCTET STRING with its tag and length).
 */
export function buildResponseData(
  t: OcspResponderTemplate,
  producedAt: number,
  responses: OcspSingleInput[],
  nonce?: Buffer,
): Buffer {
  if (responses.length === 0) throw badBuild("no responses");
  let listLen = 0;
  for (const s of responses) {
    const c = singleContentLength(s);
    listLen += headerLength(c) + c;
  }
  let extLen = 0;
  let extSeqLen = 0;
  let extOneLen = 0;
  if (nonce !== undefined) {
    // The nonce is the extnValue content: a DER Nonce OCTET STRING of up to 128 octets (RFC 9654 §2.1).
    if (nonce.length === 0 || nonce.length > MAX_OCSP_NONCE_BYTES + 3) throw badBuild("bad nonce length");
    extOneLen = NONCE_OID.length + headerLength(nonce.length) + nonce.length;
    extSeqLen = headerLength(extOneLen) + extOneLen;
    extLen = headerLength(extSeqLen) + extSeqLen;
  }
  const contentLen =
    t.responderId.length +
    GT_LEN +
    headerLength(listLen) +
    listLen +
    (extLen ? headerLength(extLen) + extLen : 0);
  const out = Buffer.allocUnsafe(headerLength(contentLen) + contentLen);
  out[0] = Tag.SEQUENCE;
  let p = writeLength(out, 1, contentLen);
  p += t.responderId.copy(out, p);
  p = writeGeneralizedTime(out, p, producedAt, "producedAt");
  out[p++] = Tag.SEQUENCE;
  p = writeLength(out, p, listLen);
  for (const s of responses) p = writeSingle(out, p, s, singleContentLength(s));
  if (nonce !== undefined) {
    // responseExtensions [1] EXPLICIT Extensions { Extension { id-pkix-ocsp-nonce, extnValue } }
    out[p++] = CTX1;
    p = writeLength(out, p, extLen);
    out[p++] = Tag.SEQUENCE;
    p = writeLength(out, p, extSeqLen);
    out[p++] = Tag.SEQUENCE;
    p = writeLength(out, p, extOneLen);
    p += NONCE_OID.copy(out, p);
    out[p++] = Tag.OCTET_STRING;
    p = writeLength(out, p, nonce.length);
    p += nonce.copy(out, p);
  }
  if (p !== out.length) throw new SigilError(ErrorCodes.INTERNAL, "OCSP ResponseData length mismatch");
  return out;
}

/** `responseStatus successful(0)`, the first field of every successful OCSPResponse. */
const STATUS_SUCCESSFUL = Buffer.from([Tag.ENUMERATED, 1, 0]);

/**
 * Signs the ResponseData and returns the complete OCSPResponse DER (RFC 6960 §4.2.1):
 * responseStatus successful(0), responseBytes [0] EXPLICIT { id-pkix-ocsp-basic, OCTET
 * STRING(BasicOCSPResponse { tbsResponseData, signatureAlgorithm, signature BIT STRING,
 * certs [0] EXPLICIT SEQUENCE OF Certificate when the template has any }) }. `sign` returns
 * the raw signature value as it goes in the BIT STRING (ECDSA: DER Ecdsa-Sig-Value).
 */
export async function buildOcspResponse(
  t: OcspResponderTemplate,
  producedAt: number,
  responses: OcspSingleInput[],
  sign: (data: Buffer) => Promise<Buffer>,
  nonce?: Buffer,
): Promise<Buffer> {
  const data = buildResponseData(t, producedAt, responses, nonce);
  return assembleOcspResponse(t, data, await sign(data));
}

/**
 * The OCSPResponse DER around an already signed ResponseData (see {@link buildOcspResponse}),
 * in one allocation; for callers that sign in batches.
 */
export function assembleOcspResponse(t: OcspResponderTemplate, data: Buffer, signature: Buffer): Buffer {
  const alg = t.signatureAlgorithm;
  const certs = t.certsField;
  const bitsLen = signature.length + 1;
  const basicLen = data.length + alg.length + headerLength(bitsLen) + bitsLen + certs.length;
  const basicTlv = headerLength(basicLen) + basicLen;
  const octetTlv = headerLength(basicTlv) + basicTlv;
  const rbLen = BASIC_OID.length + octetTlv;
  const rbTlv = headerLength(rbLen) + rbLen;
  const ctxTlv = headerLength(rbTlv) + rbTlv;
  const outerLen = STATUS_SUCCESSFUL.length + ctxTlv;
  const out = Buffer.allocUnsafe(headerLength(outerLen) + outerLen);
  out[0] = Tag.SEQUENCE;
  let p = writeLength(out, 1, outerLen);
  p += STATUS_SUCCESSFUL.copy(out, p);
  out[p++] = CTX0;
  p = writeLength(out, p, rbTlv);
  out[p++] = Tag.SEQUENCE;
  p = writeLength(out, p, rbLen);
  p += BASIC_OID.copy(out, p);
  out[p++] = Tag.OCTET_STRING;
  p = writeLength(out, p, basicTlv);
  out[p++] = Tag.SEQUENCE;
  p = writeLength(out, p, basicLen);
  p += data.copy(out, p);
  p += alg.copy(out, p);
  out[p++] = Tag.BIT_STRING;
  p = writeLength(out, p, bitsLen);
  out[p++] = 0; // no unused bits
  p += signature.copy(out, p);
  p += certs.copy(out, p);
  if (p !== out.length) throw new SigilError(ErrorCodes.INTERNAL, "OCSPResponse length mismatch");
  return out;
}

/** The unsuccessful responseStatus values (RFC 6960 §4.2.1). */
export type OcspErrorStatus =
  "malformedRequest" | "internalError" | "tryLater" | "sigRequired" | "unauthorized";

const ERROR_RESPONSES: Record<OcspErrorStatus, Buffer> = {
  malformedRequest: Buffer.from([Tag.SEQUENCE, 3, Tag.ENUMERATED, 1, 1]),
  internalError: Buffer.from([Tag.SEQUENCE, 3, Tag.ENUMERATED, 1, 2]),
  tryLater: Buffer.from([Tag.SEQUENCE, 3, Tag.ENUMERATED, 1, 3]),
  // 4 is not used (RFC 6960 §4.2.1).
  sigRequired: Buffer.from([Tag.SEQUENCE, 3, Tag.ENUMERATED, 1, 5]),
  unauthorized: Buffer.from([Tag.SEQUENCE, 3, Tag.ENUMERATED, 1, 6]),
};

/**
 * An unsuccessful OCSPResponse (RFC 6960 §4.2.1: "the response consists only of
 * responseStatus", no responseBytes; unsigned, RFC 6960 §2.3). Returns a shared
 * precomputed buffer: callers must not modify it.
 */
export function ocspErrorResponse(status: OcspErrorStatus): Buffer {
  const b = Object.prototype.hasOwnProperty.call(ERROR_RESPONSES, status)
    ? ERROR_RESPONSES[status]
    : undefined;
  if (!b) throw new SigilError(ErrorCodes.INTERNAL, `unknown OCSP error status ${String(status)}`);
  return b;
}
