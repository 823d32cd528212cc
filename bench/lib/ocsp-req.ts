/**
 * OCSP requests for the load runs (RFC 6960 §4.1.1), with a DER reader and writer of the
 * benchmark's own, so the requests do not come from the code under test: the CertID
 * (hash algorithm, issuer name and key hashes) is read from a request `openssl ocsp
 * -reqout` made, and requests for other serials of the same issuer are written with it.
 * `bench/ocsp` checks that the writer gives openssl's bytes back for openssl's serial.
 */
import { readTlv, type Tlv } from "./der-count.js";

/** The issuer part of a CertID: everything but the serial. */
export interface CertIdIssuer {
  /** The DER AlgorithmIdentifier of the hash (SHA-1 with NULL parameters from openssl). */
  hashAlgDer: Buffer;
  issuerNameHash: Buffer;
  issuerKeyHash: Buffer;
}

/** DER length octets. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER element. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** The DER INTEGER content of a positive serial given in hex (any case, leading zeros or not). */
export function serialContent(serialHex: string): Buffer {
  let h = serialHex.toLowerCase().replace(/^0+/, "");
  if (h === "") h = "0";
  if (!/^[0-9a-f]+$/.test(h)) throw new Error(`not a hex serial: ${serialHex}`);
  if (h.length % 2) h = `0${h}`;
  const b = Buffer.from(h, "hex");
  return b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/** Lowercase hex of an INTEGER's content, without leading zeros (Sigil's `serial_hex`). */
function serialHexOf(content: Buffer): string {
  const h = content.toString("hex").replace(/^0+/, "");
  return h === "" ? "0" : h;
}

/** The children of the constructed element `e` of `der`, each with the offset of its header (`at`). */
function children(der: Buffer, e: Tlv): Array<Tlv & { at: number }> {
  const out: Array<Tlv & { at: number }> = [];
  for (let p = e.start; p < e.end;) {
    const c = readTlv(der, p);
    out.push({ ...c, at: p });
    p = c.end;
  }
  if (out.length && out[out.length - 1]!.end !== e.end) throw new Error("DER: children overrun their parent");
  return out;
}

/**
 * The first CertID of a DER OCSPRequest: its issuer part and serial (lowercase hex).
 * Throws on anything that is not an OCSPRequest of that shape.
 */
export function readFirstCertId(der: Buffer): CertIdIssuer & { serialHex: string } {
  const req = readTlv(der, 0);
  if (req.tag !== 0x30 || req.end !== der.length) throw new Error("not a DER OCSPRequest");
  const tbs = readTlv(der, req.start);
  if (tbs.tag !== 0x30) throw new Error("OCSPRequest: no tbsRequest");
  // version [0] and requestorName [1] are optional; requestList is the first SEQUENCE.
  const list = children(der, tbs).find((c) => c.tag === 0x30);
  if (!list) throw new Error("OCSPRequest: no requestList");
  const request = readTlv(der, list.start);
  const certId = readTlv(der, request.start);
  const parts = children(der, certId);
  if (
    parts.length !== 4 ||
    parts[0]!.tag !== 0x30 ||
    parts[1]!.tag !== 0x04 ||
    parts[2]!.tag !== 0x04 ||
    parts[3]!.tag !== 0x02
  )
    throw new Error("OCSPRequest: unexpected CertID");
  return {
    hashAlgDer: Buffer.from(der.subarray(parts[0]!.at, parts[0]!.end)),
    issuerNameHash: Buffer.from(der.subarray(parts[1]!.start, parts[1]!.end)),
    issuerKeyHash: Buffer.from(der.subarray(parts[2]!.start, parts[2]!.end)),
    serialHex: serialHexOf(der.subarray(parts[3]!.start, parts[3]!.end)),
  };
}

/**
 * A DER OCSPRequest for one certificate, without nonce or any extension, as `openssl ocsp
 * -no_nonce -reqout` writes it: OCSPRequest { TBSRequest { requestList { Request { CertID } } } }.
 */
export function buildOcspRequest(issuer: CertIdIssuer, serialHex: string): Buffer {
  const certId = tlv(
    0x30,
    issuer.hashAlgDer,
    tlv(0x04, issuer.issuerNameHash),
    tlv(0x04, issuer.issuerKeyHash),
    tlv(0x02, serialContent(serialHex)),
  );
  return tlv(0x30, tlv(0x30, tlv(0x30, tlv(0x30, certId))));
}

/** Requests as `bench/lib/wrk-ocsp.lua` reads them: each a 2-byte big-endian length, then the DER. */
export function packBodies(bodies: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const b of bodies) {
    if (b.length > 0xffff) throw new Error("request too long to pack");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}
