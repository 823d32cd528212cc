/**
 * A small, strict DER writer and reader (ITU-T X.690 §8, §10).
 *
 * The hot paths (issuing, CRLs, OCSP) encode with these helpers from prebuilt templates;
 * the @peculiar libraries stay the reference in tests. Pure: no I/O, no clock.
 *
 * Shared by x509/ (certificates, CRLs, OCSP) and keys/ (PKCS#8, PKCS#11 public keys):
 * asn1/ imports neither.
 */
import { SigilError, ErrorCodes } from "../errors.js";

/** Universal and context tags used by the X.509 family. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Encodes a DER length (X.690 §8.1.3, definite form, minimal octets). */
export function encodeLength(len: number): Buffer {
  if (len < 0x80) return Buffer.from([len]);
  if (len < 0x100) return Buffer.from([0x81, len]);
  if (len < 0x10000) return Buffer.from([0x82, len >> 8, len & 0xff]);
  if (len < 0x1000000) return Buffer.from([0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  return Buffer.from([0x84, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]);
}

/** Number of octets a header (tag + length) takes for content of `len` bytes. */
export function headerLength(len: number): number {
  if (len < 0x80) return 2;
  if (len < 0x100) return 3;
  if (len < 0x10000) return 4;
  if (len < 0x1000000) return 5;
  return 6;
}

/** Tag-length-value from already encoded content parts. */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

/** SEQUENCE of already encoded elements. */
export const seq = (...items: Buffer[]): Buffer => tlv(Tag.SEQUENCE, ...items);

/** SET OF, with elements sorted as DER requires (X.690 §11.6). */
export function setOf(...items: Buffer[]): Buffer {
  const sorted = [...items].sort(Buffer.compare);
  return tlv(Tag.SET, ...sorted);
}

/** Context-specific constructed [n] EXPLICIT wrapper. */
export const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);

/** Context-specific primitive [n] IMPLICIT with raw content. */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

/** Context-specific constructed [n] IMPLICIT with encoded children. */
export const implicitConstructed = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);

/** BOOLEAN (DER: TRUE is 0xff). */
export const bool = (v: boolean): Buffer => Buffer.from([Tag.BOOLEAN, 1, v ? 0xff : 0x00]);

/** NULL. */
export const NULL = Buffer.from([Tag.NULL, 0]);

/** INTEGER from a small non-negative JS number. */
export function intNum(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bad integer ${n}`);
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return intBytes(Buffer.from(hex, "hex"));
}

/** INTEGER from big-endian unsigned magnitude bytes (leading zeros trimmed, sign octet added). */
export function intBytes(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let m = magnitude.subarray(i);
  if (m.length === 0) m = Buffer.from([0]);
  if (m[0]! & 0x80) m = Buffer.concat([Buffer.from([0]), m]);
  return tlv(Tag.INTEGER, m);
}

/** INTEGER from a non-negative bigint. */
export function intBig(n: bigint): Buffer {
  if (n < 0n) throw new RangeError("negative integer");
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  return intBytes(Buffer.from(hex, "hex"));
}

/** ENUMERATED from a small non-negative number. */
export function enumerated(n: number): Buffer {
  const i = intNum(n);
  i[0] = Tag.ENUMERATED;
  return i;
}

/** Encodes a dotted OBJECT IDENTIFIER (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  const parts = dotted.split(".").map((p) => {
    if (!/^\d+$/.test(p)) throw new RangeError(`bad OID ${dotted}`);
    return BigInt(p);
  });
  if (parts.length < 2) throw new RangeError(`bad OID ${dotted}`);
  const bytes: number[] = [];
  const arcs = [parts[0]! * 40n + parts[1]!, ...parts.slice(2)];
  for (const arc of arcs) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let k = 0; k < chunk.length - 1; k++) chunk[k]! |= 0x80;
    bytes.push(...chunk);
  }
  const out = tlv(Tag.OID, Buffer.from(bytes));
  oidCache.set(dotted, out);
  return out;
}
const oidCache = new Map<string, Buffer>();

/** BIT STRING with zero unused bits. */
export const bitString = (bytes: Buffer): Buffer => tlv(Tag.BIT_STRING, Buffer.from([0]), bytes);

/**
 * BIT STRING for a named-bit list (X.690 §11.2.2: trailing zero bits removed).
 * `bits` holds the indices of the set bits (bit 0 is the most significant of the first octet).
 */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return Buffer.from([Tag.BIT_STRING, 1, 0]);
  const max = Math.max(...bits);
  const nBytes = Math.floor(max / 8) + 1;
  const out = Buffer.alloc(nBytes);
  for (const b of bits) out[b >> 3]! |= 0x80 >> (b & 7);
  const unused = 7 - (max & 7);
  return tlv(Tag.BIT_STRING, Buffer.from([unused]), out);
}

/** OCTET STRING. */
export const octetString = (bytes: Buffer): Buffer => tlv(Tag.OCTET_STRING, bytes);

/** UTF8String. */
export const utf8 = (s: string): Buffer => tlv(Tag.UTF8_STRING, Buffer.from(s, "utf8"));

/** IA5String (ASCII only). */
export function ia5(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError("IA5String must be ASCII");
  return tlv(Tag.IA5_STRING, Buffer.from(s, "latin1"));
}

/** PrintableString (X.680 §41.4 character set). */
export function printable(s: string): Buffer {
  if (!isPrintableString(s)) throw new RangeError("not a PrintableString");
  return tlv(Tag.PRINTABLE_STRING, Buffer.from(s, "latin1"));
}

/** True when `s` fits PrintableString's character set. */
export function isPrintableString(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

const pad2 = (n: number): string => (n < 10 ? "0" + n : String(n));

/**
 * X.509 Time (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050, always
 * in Zulu with seconds and no fractions. `ms` is epoch milliseconds; fractions are dropped.
 */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  const rest =
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  if (y >= 1950 && y < 2050) return tlv(Tag.UTC_TIME, Buffer.from(pad2(y % 100) + rest, "latin1"));
  return generalizedTime(ms);
}

/** GeneralizedTime in Zulu, no fractions (RFC 5280 §4.1.2.5.2). */
export function generalizedTime(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const s =
    String(d.getUTCFullYear()).padStart(4, "0") +
    pad2(d.getUTCMonth() + 1) +
    pad2(d.getUTCDate()) +
    pad2(d.getUTCHours()) +
    pad2(d.getUTCMinutes()) +
    pad2(d.getUTCSeconds()) +
    "Z";
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(s, "latin1"));
}

// ---------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------

/** One parsed TLV: views into the original buffer, never copies. */
export interface Node {
  tag: number;
  /** Offset of the tag octet in the source buffer. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset one past the last content octet. */
  end: number;
  /** The content octets. */
  content: Buffer;
  /** Tag, length and content. */
  raw: Buffer;
}

function bad(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `malformed DER: ${msg}`);
}

/**
 * Reads one TLV at `offset` of `buf`, strictly: single-octet tags only, definite minimal
 * lengths (X.690 §10.1), content within bounds.
 */
export function readNode(buf: Buffer, offset = 0): Node {
  if (offset + 2 > buf.length) throw bad("truncated header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-octet tags are not supported");
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw bad("indefinite length");
    if (n > 4) throw bad("length too long");
    if (p + n > buf.length) throw bad("truncated length");
    if (buf[p] === 0) throw bad("non-minimal length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80) throw bad("non-minimal length");
    p += n;
  }
  const end = p + len;
  if (end > buf.length) throw bad("truncated content");
  return {
    tag,
    start: offset,
    contentStart: p,
    end,
    content: buf.subarray(p, end),
    raw: buf.subarray(offset, end),
  };
}

/** Reads exactly one TLV spanning all of `buf`. */
export function readWhole(buf: Buffer): Node {
  const n = readNode(buf, 0);
  if (n.end !== buf.length) throw bad("trailing data");
  return n;
}

/** The children of a constructed node. */
export function children(node: Node): Node[] {
  if (!(node.tag & 0x20)) throw bad(`tag 0x${node.tag.toString(16)} is not constructed`);
  const out: Node[] = [];
  const buf = node.content;
  let p = 0;
  while (p < buf.length) {
    const c = readNode(buf, p);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** Throws unless `node` has tag `tag`. */
export function expectTag(node: Node | undefined, tag: number, what: string): Node {
  if (!node) throw bad(`missing ${what}`);
  if (node.tag !== tag)
    throw bad(`${what}: expected tag 0x${tag.toString(16)}, got 0x${node.tag.toString(16)}`);
  return node;
}

/** Decodes an OBJECT IDENTIFIER's content to dotted form. */
export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw bad("empty OID");
  const arcs: bigint[] = [];
  let v = 0n;
  let started = false;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (!started && b === 0x80) throw bad("non-minimal OID arc");
    started = true;
    v = (v << 7n) | BigInt(b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(v);
      v = 0n;
      started = false;
    }
  }
  if (started) throw bad("truncated OID");
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join(".");
}

/** Decodes an INTEGER's content to a bigint (two's complement). */
export function decodeInt(content: Buffer): bigint {
  if (content.length === 0) throw bad("empty INTEGER");
  if (
    content.length > 1 &&
    ((content[0] === 0 && !(content[1]! & 0x80)) || (content[0] === 0xff && content[1]! & 0x80))
  )
    throw bad("non-minimal INTEGER");
  let v = BigInt("0x" + content.toString("hex"));
  if (content[0]! & 0x80) v -= 1n << BigInt(content.length * 8);
  return v;
}

/** Decodes a UTCTime or GeneralizedTime node to epoch milliseconds (RFC 5280 §4.1.2.5). */
export function decodeTime(node: Node): number {
  const s = node.content.toString("latin1");
  let m: RegExpExecArray | null;
  if (node.tag === Tag.UTC_TIME && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const yy = Number(m[1]);
    const y = yy >= 50 ? 1900 + yy : 2000 + yy;
    return Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  if (node.tag === Tag.GENERALIZED_TIME && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  throw bad("bad time");
}

/** Decodes a string-typed node (UTF8, Printable, IA5, T61 as latin1, BMP, Universal). */
export function decodeString(node: Node): string {
  switch (node.tag) {
    case Tag.UTF8_STRING:
      return node.content.toString("utf8");
    case Tag.PRINTABLE_STRING:
    case Tag.IA5_STRING:
    case Tag.VISIBLE_STRING:
    case Tag.T61_STRING:
      return node.content.toString("latin1");
    case Tag.BMP_STRING: {
      if (node.content.length % 2) throw bad("odd BMPString");
      const b = Buffer.from(node.content);
      b.swap16();
      return b.toString("utf16le");
    }
    case Tag.UNIVERSAL_STRING: {
      if (node.content.length % 4) throw bad("bad UniversalString");
      let out = "";
      for (let i = 0; i < node.content.length; i += 4)
        out += String.fromCodePoint(node.content.readUInt32BE(i));
      return out;
    }
    default:
      throw bad(`tag 0x${node.tag.toString(16)} is not a string`);
  }
}

// ---------------------------------------------------------------------------------------
// PEM (RFC 7468)
// ---------------------------------------------------------------------------------------

/** Wraps DER in a PEM block with 64-column base64 (RFC 7468 §2). */
export function toPem(der: Buffer, label: string): string {
  const b64 = der.toString("base64");
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** One PEM block found in text. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Finds every PEM block in `text` (RFC 7468 lax parsing: whitespace in base64 ignored). */
export function parsePemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 #]+)-----([\s\S]*?)-----END \1-----/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const body = m[2]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw bad(`bad base64 in PEM block ${m[1]}`);
    out.push({ label: m[1]!, der: Buffer.from(body, "base64") });
  }
  return out;
}
