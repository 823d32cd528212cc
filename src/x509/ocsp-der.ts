/**
 * The DER primitives the OCSP codec (ocsp.ts) shares between reading and writing: the hash
 * names and OIDs it knows, a strict allocation-free DER cursor, and length/TLV writers.
 * Internal to src/x509/: import the OCSP API from ocsp.ts.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { encodeLength, headerLength, oid } from "./der.js";
import { HashOid, OcspOid } from "./oids.js";

/** Hash algorithms a CertID may use (RFC 6960 §4.1.1; SHA-1 is RFC 5019 §2.1.1's default). */
export type OcspHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Every {@link OcspHash}, in the order responders usually see them. */
export const OCSP_HASHES: readonly OcspHash[] = ["sha1", "sha256", "sha384", "sha512"];

/** Digest length in octets of each {@link OcspHash}. */
export const DIGEST_LENGTH: Record<OcspHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/** Context-specific constructed tags [0], [1], [2]. */
export const CTX0 = 0xa0;
export const CTX1 = 0xa1;
export const CTX2 = 0xa2;

/** OID content octets (no tag or length) of the CertID hash algorithms. */
export const HASH_OID_CONTENT: Record<OcspHash, Buffer> = {
  sha1: oid(HashOid.sha1).subarray(2),
  sha256: oid(HashOid.sha256).subarray(2),
  sha384: oid(HashOid.sha384).subarray(2),
  sha512: oid(HashOid.sha512).subarray(2),
};
export const NONCE_OID = oid(OcspOid.nonce);
export const NONCE_OID_CONTENT = NONCE_OID.subarray(2);
export const BASIC_OID = oid(OcspOid.basic);
export const BASIC_OID_CONTENT = BASIC_OID.subarray(2);

/**
 * A strict DER cursor over one buffer (X.690 §10.1: definite, minimal lengths). It keeps
 * the last header it read in fields instead of allocating a node per TLV; every read is
 * bounded by its parent's end, not only by the buffer's.
 */
export class Reader {
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

/** Tag and length octets then content parts, in one allocation. */
export function wrap(tag: number, parts: Buffer[]): Buffer {
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
export function writeLength(buf: Buffer, off: number, len: number): number {
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
