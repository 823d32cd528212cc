/**
 * Writing OCSPResponses (RFC 6960 §4.2.1), the responder's hot path: ResponseData and the
 * whole OCSPResponse are each hand-encoded into one buffer, from an
 * {@link OcspResponderTemplate} that holds the parts that never change for a responder
 * (responderID, signature algorithm, certs); plus the fixed unsuccessful responses.
 *
 * Pure: no I/O, no clock (times are passed in), signing through a callback.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { subjectPublicKeyBits } from "./certificate.js";
import { Tag, headerLength, readWhole } from "./der.js";
import { BASIC_OID, CTX0, CTX1, CTX2, NONCE_OID, wrap, writeLength } from "./ocsp-der.js";
import { MAX_OCSP_NONCE_BYTES } from "./ocsp-request.js";

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
