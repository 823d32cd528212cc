/**
 * X.509 v2 CRL writer (RFC 5280 §5). Pure: the clock, the entries and the signing key are
 * passed in.
 *
 * Built for size: each revoked entry is encoded straight into one growing buffer (no
 * per-entry Buffer allocation; reason-code extensions and repeated times are precomputed),
 * the headers are written right-aligned in front of the entries once the length is known,
 * and the signature is appended in place. A 1,000,000-entry CRL is ~50 MB and is built in
 * about a second.
 */
import type { RevokedEntry } from "./types.js";
import type { Signer } from "../keys/types.js";
import { SigilError, ErrorCodes } from "../errors.js";
import {
  Tag,
  encodeLength,
  explicit,
  headerLength,
  implicitPrimitive,
  intBig,
  octetString,
  oid,
  readWhole,
  seq,
  time,
  toPem,
} from "./der.js";

/** Options for {@link buildCrl}. */
export interface BuildCrlOptions {
  /** The issuer's subject Name, DER, exactly as in the CA certificate (RFC 5280 §5.1.2.3). */
  issuerNameDer: Buffer;
  /** The CA certificate's subjectKeyIdentifier (RFC 5280 §5.2.1). */
  authorityKeyId: Buffer;
  /**
   * Signs with the CA key; its algorithmIdentifier goes in signature and signatureAlgorithm.
   * `sign` is called last, so a signer that is still being unlocked can be passed.
   */
  signer: Pick<Signer, "algorithmIdentifier" | "sign">;
  /**
   * Monotonically increasing CRL number, 0..2^159-1 (RFC 5280 §5.2.3: at most 20 octets).
   * A function is called once, after the entries are encoded: a caller can then take the
   * number only once it knows the CRL will be signed (e.g. after the key is unlocked).
   */
  crlNumber: bigint | number | (() => Promise<bigint | number>);
  /** Epoch ms (RFC 5280 §5.1.2.4). */
  thisUpdate: number;
  /** Epoch ms, not before thisUpdate (RFC 5280 §5.1.2.5). */
  nextUpdate: number;
  /**
   * Revoked certificates, in the order to write them (the store yields serial order).
   * Reason null or 0 (unspecified) writes no entry extension (RFC 5280 §5.3.1).
   */
  /** The revoked entries, one by one or (async) in batches, as a store streams them. */
  entries: Iterable<RevokedEntry> | AsyncIterable<RevokedEntry | readonly RevokedEntry[]>;
  /** Expected number of entries, to size the buffer once (optional). */
  expectedEntries?: number;
}

const OID_AKI = "2.5.29.35";
const OID_CRL_NUMBER = "2.5.29.20";
const OID_REASON_CODE = "2.5.29.21";

/** Largest CRL number (RFC 5280 §5.2.3: no more than 20 octets). */
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

/**
 * crlEntryExtensions holding only a reasonCode (RFC 5280 §5.3.1), per reason code, ready
 * to copy: Extensions SEQUENCE { Extension { extnID 2.5.29.21, extnValue OCTET STRING {
 * ENUMERATED r } } }. 0 (unspecified) is never written; 7 is unassigned; 8 (removeFromCRL)
 * belongs only in delta CRLs, which Sigil does not issue.
 */
const REASON_EXTENSIONS: (Buffer | undefined)[] = (() => {
  const out: (Buffer | undefined)[] = [];
  for (const r of [1, 2, 3, 4, 5, 6, 9, 10]) {
    const enumerated = Buffer.from([Tag.ENUMERATED, 1, r]);
    out[r] = seq(seq(oid(OID_REASON_CODE), octetString(enumerated)));
  }
  return out;
})();

/** Largest bytes one entry can take: SEQ hdr 3 + INTEGER (hdr 2 + 1 + 126) + time 17 + ext 14. */
const MAX_SERIAL_OCTETS = 126;
const MAX_ENTRY = 3 + 2 + 1 + MAX_SERIAL_OCTETS + 17 + 14;

function badEntry(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `CRL: ${msg}`);
}

function isSyncIterable<T>(x: Iterable<T> | AsyncIterable<T>): x is Iterable<T> {
  return typeof (x as Iterable<T>)[Symbol.iterator] === "function";
}

/** Grows a byte buffer by doubling, keeping `reserve` free bytes at the front for headers. */
class Writer {
  buf: Buffer;
  pos: number;
  constructor(
    initial: number,
    readonly front: number,
  ) {
    this.buf = Buffer.allocUnsafe(front + Math.max(initial, 4096));
    this.pos = front;
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  put(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

/** Writes `len` as a DER length at `buf[off]`; returns the new offset. */
function writeLength(buf: Buffer, off: number, len: number): number {
  if (len < 0x80) {
    buf[off] = len;
    return off + 1;
  }
  const l = encodeLength(len);
  l.copy(buf, off);
  return off + l.length;
}

/**
 * Encodes Time (RFC 5280 §5.1.2.4, §5.1.2.6: UTCTime through 2049, GeneralizedTime from
 * 2050, Zulu, seconds, no fractions) at `buf[off]`, byte-identical to der.time().
 */
function writeTime(buf: Buffer, off: number, ms: number): number {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  let p = off;
  if (y >= 1950 && y < 2050) {
    buf[p++] = Tag.UTC_TIME;
    buf[p++] = 13;
    p = put2(buf, p, y % 100);
  } else {
    if (y < 0 || y > 9999) throw badEntry(`time out of range`);
    buf[p++] = Tag.GENERALIZED_TIME;
    buf[p++] = 15;
    p = put2(buf, p, Math.floor(y / 100));
    p = put2(buf, p, y % 100);
  }
  p = put2(buf, p, d.getUTCMonth() + 1);
  p = put2(buf, p, d.getUTCDate());
  p = put2(buf, p, d.getUTCHours());
  p = put2(buf, p, d.getUTCMinutes());
  p = put2(buf, p, d.getUTCSeconds());
  buf[p++] = 0x5a; // 'Z'
  return p;
}

function put2(buf: Buffer, p: number, n: number): number {
  buf[p] = 0x30 + ((n / 10) | 0);
  buf[p + 1] = 0x30 + (n % 10);
  return p + 2;
}

const HEX_DIGIT = /^[0-9a-fA-F]+$/;

/**
 * Builds and signs an X.509 v2 CRL (RFC 5280 §5.1): version v2, the signer's algorithm,
 * issuer, thisUpdate, nextUpdate, revokedCertificates (left out entirely when there are no
 * entries, §5.1.2.6), each entry with crlEntryExtensions only for a reasonCode other than
 * unspecified (§5.3.1), and crlExtensions authorityKeyIdentifier (§5.2.1) and cRLNumber
 * (§5.2.3), both non-critical. Returns DER.
 *
 * Entries are written in the order given; serials are lowercase or uppercase hex without
 * sign (leading zeros are dropped). Bad input throws SigilError BAD_INPUT.
 */
export async function buildCrl(opts: BuildCrlOptions): Promise<Buffer> {
  const { signer } = opts;
  const issuer = readWhole(opts.issuerNameDer);
  if (issuer.tag !== Tag.SEQUENCE) throw badEntry("issuer is not a Name");
  if (!Number.isFinite(opts.thisUpdate) || !Number.isFinite(opts.nextUpdate))
    throw badEntry("bad thisUpdate/nextUpdate");
  if (opts.nextUpdate < opts.thisUpdate) throw badEntry("nextUpdate is before thisUpdate");
  const checkNumber = (n: bigint | number): bigint => {
    const b = BigInt(n);
    if (b < 0n || b > MAX_CRL_NUMBER) throw badEntry("cRLNumber out of range");
    return b;
  };
  if (typeof opts.crlNumber !== "function") checkNumber(opts.crlNumber);
  if (opts.authorityKeyId.length === 0) throw badEntry("empty authorityKeyId");

  // Prefix of TBSCertList up to the revokedCertificates (RFC 5280 §5.1.2.1–§5.1.2.5).
  const prefix = Buffer.concat([
    Buffer.from([Tag.INTEGER, 1, 1]), // version v2
    signer.algorithmIdentifier,
    opts.issuerNameDer,
    time(opts.thisUpdate),
    time(opts.nextUpdate),
  ]);

  // Headers written later, right-aligned before the entries: outer SEQ (≤6), TBS SEQ (≤6),
  // the prefix, and the revokedCertificates SEQ header (≤6).
  const front = 6 + 6 + prefix.length + 6;
  const expected = opts.expectedEntries && opts.expectedEntries > 0 ? opts.expectedEntries : 0;
  const w = new Writer(expected * 56 + 1024, front);

  let count = 0;
  let lastSecond = NaN;
  const timeCache = Buffer.alloc(17);
  let timeLen = 0;

  const add = (e: RevokedEntry): void => {
    let hex = e.serialHex;
    if (typeof hex !== "string" || !HEX_DIGIT.test(hex)) throw badEntry(`bad serial ${JSON.stringify(hex)}`);
    if (hex.length > 1 && hex.charCodeAt(0) === 0x30) {
      hex = hex.replace(/^0+/, "");
      if (hex === "") hex = "0";
    }
    if (hex.length & 1) hex = "0" + hex;
    const magnitude = hex.length >> 1;
    const pad = parseInt(hex[0]!, 16) >= 8 ? 1 : 0;
    const intLen = magnitude + pad;
    if (intLen > MAX_SERIAL_OCTETS + 1) throw badEntry(`serial ${e.serialHex} is too long`);

    const ms = e.revokedAt;
    if (!Number.isFinite(ms)) throw badEntry(`bad revocation time for serial ${e.serialHex}`);
    const second = Math.floor(ms / 1000);
    if (second !== lastSecond) {
      timeLen = writeTime(timeCache, 0, ms);
      lastSecond = second;
    }

    let ext: Buffer | undefined;
    const r = e.reason;
    if (r !== null && r !== undefined && r !== 0) {
      ext = REASON_EXTENSIONS[r];
      if (!ext) throw badEntry(`bad reason code ${r} for serial ${e.serialHex}`);
    }

    const bodyLen = 2 + intLen + timeLen + (ext ? ext.length : 0);
    w.ensure(MAX_ENTRY);
    const buf = w.buf;
    let p = w.pos;
    buf[p++] = Tag.SEQUENCE;
    p = writeLength(buf, p, bodyLen);
    buf[p++] = Tag.INTEGER;
    buf[p++] = intLen;
    if (pad) buf[p++] = 0;
    p += buf.write(hex, p, magnitude, "hex");
    timeCache.copy(buf, p, 0, timeLen);
    p += timeLen;
    if (ext) {
      ext.copy(buf, p);
      p += ext.length;
    }
    w.pos = p;
    count++;
  };

  const src = opts.entries;
  if (isSyncIterable(src)) for (const e of src) add(e);
  else
    for await (const e of src) {
      if (Array.isArray(e)) for (const one of e as readonly RevokedEntry[]) add(one);
      else add(e as RevokedEntry);
    }

  const entriesLen = w.pos - front;
  // crlExtensions [0] EXPLICIT Extensions (RFC 5280 §5.2).
  const crlNumber = checkNumber(
    typeof opts.crlNumber === "function" ? await opts.crlNumber() : opts.crlNumber,
  );
  const aki = seq(oid(OID_AKI), octetString(seq(implicitPrimitive(0, opts.authorityKeyId))));
  const crlNum = seq(oid(OID_CRL_NUMBER), octetString(intBig(crlNumber)));
  const crlExtensions = explicit(0, seq(aki, crlNum));
  w.put(crlExtensions);
  // Room for signatureAlgorithm and the signature BIT STRING (RSA-4096: 512 octets).
  const algLen = signer.algorithmIdentifier.length;
  w.ensure(algLen + 6 + 1 + 1024);
  const buf = w.buf;

  // Assemble backwards from the entries: [revoked hdr] <- prefix <- [TBS hdr] <- [outer hdr].
  let start = front;
  let tbsContentLen = prefix.length + crlExtensions.length;
  if (count > 0) {
    const h = headerLength(entriesLen);
    start -= h;
    buf[start] = Tag.SEQUENCE;
    writeLength(buf, start + 1, entriesLen);
    tbsContentLen += h + entriesLen;
  }
  start -= prefix.length;
  prefix.copy(buf, start);
  const tbsHdr = headerLength(tbsContentLen);
  start -= tbsHdr;
  buf[start] = Tag.SEQUENCE;
  writeLength(buf, start + 1, tbsContentLen);
  const tbsEnd = start + tbsHdr + tbsContentLen;
  if (tbsEnd !== w.pos) throw new SigilError(ErrorCodes.INTERNAL, "CRL: length mismatch");
  const tbsStart = start;

  const signature = await signer.sign(buf.subarray(tbsStart, tbsEnd));
  const sigBits = Buffer.concat([
    Buffer.from([Tag.BIT_STRING]),
    encodeLength(signature.length + 1),
    Buffer.from([0]),
  ]);
  const tail = signature.length + sigBits.length + algLen;
  let out: Buffer;
  const outerContent = tbsEnd - tbsStart + tail;
  const outerHdr = headerLength(outerContent);
  if (tbsEnd + tail <= buf.length && tbsStart >= outerHdr) {
    let p = tbsEnd;
    p += signer.algorithmIdentifier.copy(buf, p);
    p += sigBits.copy(buf, p);
    p += signature.copy(buf, p);
    const s = tbsStart - outerHdr;
    buf[s] = Tag.SEQUENCE;
    writeLength(buf, s + 1, outerContent);
    out = buf.subarray(s, p);
  } else {
    out = seq(buf.subarray(tbsStart, tbsEnd), signer.algorithmIdentifier, sigBits, signature);
  }
  // Give back the unused tail of a doubled buffer when it is large.
  if (out.length < buf.length * 0.75 && buf.length > 1 << 20) out = Buffer.from(out);
  return out;
}

/** PEM "X509 CRL" (RFC 7468 §6). */
export function crlToPem(der: Buffer): string {
  return toPem(der, "X509 CRL");
}
