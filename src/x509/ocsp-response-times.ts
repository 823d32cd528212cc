/**
 * Reading back the times of a successful OCSPResponse (RFC 6960 §4.2.1), for the caching
 * headers of RFC 5019 §6.2.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { Tag } from "./der.js";
import { BASIC_OID_CONTENT, CTX0, CTX1, CTX2, Reader } from "./ocsp-der.js";

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
