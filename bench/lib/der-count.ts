/**
 * Counts the revokedCertificates of a DER CRL (RFC 5280 §5.1) with a minimal TLV walk of
 * its own, so the count does not come from the code under test.
 */

/** One DER element: its tag and where its content lies. */
export interface Tlv {
  tag: number;
  /** Offset of the content. */
  start: number;
  /** Offset just past the content. */
  end: number;
}

/** The DER element at `at` (definite lengths of up to 4 octets). */
export function readTlv(b: Buffer, at: number): Tlv {
  const tag = b[at]!;
  let len = b[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error(`unsupported DER length form at ${at}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    p += n;
  }
  if (p + len > b.length) throw new Error(`DER element at ${at} runs past the end`);
  return { tag, start: p, end: p + len };
}

/** Number of entries in the CRL's revokedCertificates (0 when the field is absent). */
export function countCrlEntries(der: Buffer): number {
  const list = readTlv(der, 0);
  const tbs = readTlv(der, list.start);
  // tbsCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] ext?
  let p = tbs.start;
  let seenTimes = 0;
  let sequencesSeen = 0;
  while (p < tbs.end) {
    const e = readTlv(der, p);
    if (e.tag === 0x17 || e.tag === 0x18) seenTimes++;
    else if (e.tag === 0x30) {
      sequencesSeen++;
      // signature and issuer are the first two SEQUENCEs; one after the times is the list.
      if (seenTimes > 0 && sequencesSeen > 2) {
        let n = 0;
        for (let q = e.start; q < e.end; q = readTlv(der, q).end) n++;
        return n;
      }
    }
    p = e.end;
  }
  return 0;
}

/** The DER inside a PEM block (the first one). */
export function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN [^-]+-----([\s\S]*?)-----END [^-]+-----/.exec(pem);
  if (!m) throw new Error("no PEM block");
  return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
}
