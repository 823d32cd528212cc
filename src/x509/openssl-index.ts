/**
 * The certificate database of `openssl ca` (the `database` file, `index.txt`): one line per
 * certificate, six tab-separated fields (OpenSSL apps/lib/apps.h DB_type .. DB_name):
 *
 *   status  expiry  revocation  serial  filename  subject
 *
 * - status: `V` valid, `R` revoked, `E` expired (written by `openssl ca -updatedb`);
 * - expiry: the certificate's notAfter as UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime
 *   `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5);
 * - revocation: empty unless `R`: `DATE[,REASON[,EXTRA]]`, DATE a UTCTime, REASON one of
 *   OpenSSL's names (RFC 5280 §5.3.1 codes), EXTRA the hold instruction OID
 *   (`holdInstruction`) or the compromise time (`keyTime`, `CAkeyTime`);
 * - serial: uppercase hex, an even number of digits (BN_bn2hex);
 * - filename: `unknown` (the body is `new_certs_dir/SERIAL.pem`);
 * - subject: the OpenSSL one-line form `/C=BE/O=.../CN=...`.
 *
 * Also the `serial` and `crlnumber` files: the NEXT number to use, as hex. Pure: no I/O.
 */
import { normalizeSerialHex } from "./serial.js";

/** Revocation reason names as `openssl ca` writes them, with their RFC 5280 §5.3.1 codes. */
export const OPENSSL_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  CACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  // Written by `-crl_hold` / `-crl_compromise` / `-crl_CA_compromise`, with a third field.
  holdInstruction: 6,
  keyTime: 1,
  CAkeyTime: 2,
};

/** The name `openssl ca` reads for an RFC 5280 §5.3.1 code (codes 9 and 10 have none). */
const REASON_NAMES: Readonly<Record<number, string>> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "CACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
};

/** One line of index.txt, read. */
export interface IndexEntry {
  /** 1-based line number in the file. */
  line: number;
  status: "V" | "R" | "E";
  /** notAfter, epoch ms. */
  expiry: number;
  /** Revocation time, epoch ms (status R only). */
  revokedAt: number | null;
  /** RFC 5280 §5.3.1 code; null when the line names no reason. */
  reason: number | null;
  /** The reason field as written, when there is one (e.g. `keyTime`). */
  reasonName: string | null;
  /** A third revocation field (hold instruction OID or compromise time), kept as written. */
  revocationExtra: string | null;
  /** Lowercase hex without leading zeros (Sigil's form, store/types.ts). */
  serialHex: string;
  /** The serial exactly as written (names the newcerts file). */
  serialText: string;
  filename: string;
  subject: string;
}

/** A line that cannot be mapped, and why. */
export interface IndexProblem {
  line: number;
  reason: string;
  /** The line's serial when it could be read. */
  serialHex?: string;
}

/** What {@link parseIndex} returns: the good lines and every bad one (none dropped). */
export interface ParsedIndex {
  entries: IndexEntry[];
  problems: IndexProblem[];
}

/** Reads an ASN.1 UTCTime or GeneralizedTime string as `openssl ca` writes it (Z, whole seconds). */
export function parseOpensslTime(s: string): number | null {
  let m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  let year: number;
  if (m) {
    // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, else 20YY.
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
    if (!m) return null;
    year = Number(m[1]);
  }
  const [mo, d, h, mi, se] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return null;
  const t = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(t);
  if (back.getUTCDate() !== d || back.getUTCMonth() !== mo - 1) return null; // 31 Feb and the like
  return t;
}

/** Writes a time as `openssl ca` does: UTCTime for 1950–2049 (RFC 5280 §4.1.2.5), else GeneralizedTime. */
export function formatOpensslTime(ms: number, forceUtc = false): string {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = Number(iso.slice(0, 4));
  return (year >= 1950 && year < 2050) || forceUtc ? digits.slice(2) + "Z" : digits + "Z";
}

/** Serial hex as OpenSSL writes it (BN_bn2hex): uppercase, an even number of digits. */
export function opensslHex(hex: string): string {
  const h = hex.toUpperCase();
  return h.length % 2 ? "0" + h : h;
}

/**
 * Parses index.txt strictly. Every line either becomes an entry or a problem naming its
 * line number; empty lines at the very end are allowed. Duplicate serials are problems
 * (the second and later lines).
 */
export function parseIndex(text: string): ParsedIndex {
  const entries: IndexEntry[] = [];
  const problems: IndexProblem[] = [];
  const lines = text.split("\n");
  while (lines.length > 0 && lines[lines.length - 1]!.replace(/\r$/, "") === "") lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((raw, i) => {
    const line = i + 1;
    const r = parseLine(raw.replace(/\r$/, ""), line);
    if (!("status" in r)) {
      problems.push(r);
      return;
    }
    const e = r;
    const first = seen.get(e.serialHex);
    if (first !== undefined) {
      problems.push({
        line,
        serialHex: e.serialHex,
        reason: `serial ${e.serialText} is already on line ${first}`,
      });
      return;
    }
    seen.set(e.serialHex, line);
    entries.push(e);
  });
  return { entries, problems };
}

function parseLine(s: string, line: number): IndexEntry | IndexProblem {
  const bad = (reason: string, serialHex?: string): IndexProblem =>
    serialHex === undefined ? { line, reason } : { line, reason, serialHex };
  if (s.trim() === "") return bad("empty line");
  const f = s.split("\t");
  if (f.length !== 6) return bad(`expected 6 tab-separated fields, found ${f.length}`);
  const [status, expiryText, rev, serialText, filename, subject] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  let serialHex: string;
  if (!/^[0-9A-Fa-f]+$/.test(serialText)) return bad(`bad serial "${serialText}" (hex expected)`);
  try {
    serialHex = normalizeSerialHex(serialText);
  } catch (e) {
    return bad(e instanceof Error ? e.message : String(e));
  }
  if (status !== "V" && status !== "R" && status !== "E")
    return bad(`unknown status "${status}" (V, R or E expected)`, serialHex);
  const expiry = parseOpensslTime(expiryText);
  if (expiry === null) return bad(`bad expiry date "${expiryText}" (YYMMDDHHMMSSZ expected)`, serialHex);
  if (!subject.startsWith("/")) return bad(`bad subject "${subject}" (/C=../CN=.. expected)`, serialHex);
  let revokedAt: number | null = null;
  let reason: number | null = null;
  let reasonName: string | null = null;
  let revocationExtra: string | null = null;
  if (status === "R") {
    if (rev === "") return bad("status R without a revocation date", serialHex);
    const parts = rev.split(",");
    if (parts.length > 3) return bad(`bad revocation field "${rev}"`, serialHex);
    revokedAt = parseOpensslTime(parts[0]!);
    if (revokedAt === null)
      return bad(`bad revocation date "${parts[0]}" (YYMMDDHHMMSSZ expected)`, serialHex);
    if (parts.length >= 2) {
      // `openssl ca` matches reason names case-insensitively (apps/ca.c unpack_revinfo).
      const name = Object.keys(OPENSSL_REASONS).find((k) => k.toLowerCase() === parts[1]!.toLowerCase());
      if (name === undefined) return bad(`unknown revocation reason "${parts[1]}"`, serialHex);
      reasonName = name;
      reason = OPENSSL_REASONS[name]!;
      const needsExtra = name === "holdInstruction" || name === "keyTime" || name === "CAkeyTime";
      if (needsExtra !== (parts.length === 3))
        return bad(
          needsExtra
            ? `reason ${name} needs a third field`
            : `unexpected third revocation field "${parts[2]}"`,
          serialHex,
        );
      if (parts.length === 3) revocationExtra = parts[2]!;
    }
  } else if (rev !== "") {
    return bad(`status ${status} with a revocation field "${rev}"`, serialHex);
  }
  return {
    line,
    status,
    expiry,
    revokedAt,
    reason,
    reasonName,
    revocationExtra,
    serialHex,
    serialText,
    filename,
    subject,
  };
}

/** One certificate to write into index.txt. */
export interface IndexRow {
  /** Lowercase hex without leading zeros. */
  serialHex: string;
  notAfter: number;
  revokedAt: number | null;
  /** RFC 5280 §5.3.1 code, or null. */
  reason: number | null;
  /** OpenSSL one-line subject. */
  subject: string;
  /** True when notAfter has passed: written as `E`, as `openssl ca -updatedb` would. */
  expired: boolean;
}

/**
 * Writes index.txt lines sorted by serial (numerically). A reason without an OpenSSL name
 * (privilegeWithdrawn, aACompromise) is written as `unspecified`; {@link formatIndex}
 * returns those serials so the caller can say so.
 */
export function formatIndex(rows: IndexRow[]): { text: string; reasonsDowngraded: string[] } {
  const sorted = [...rows].sort((a, b) => {
    const x = BigInt("0x" + a.serialHex);
    const y = BigInt("0x" + b.serialHex);
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const downgraded: string[] = [];
  const lines = sorted.map((r) => {
    let status = r.expired ? "E" : "V";
    let rev = "";
    if (r.revokedAt !== null) {
      status = "R";
      // apps/ca.c make_revoked reads the date with ASN1_UTCTIME_set_string: UTCTime only.
      rev = formatOpensslTime(r.revokedAt, true);
      if (r.reason !== null) {
        let name = REASON_NAMES[r.reason];
        if (name === undefined) {
          downgraded.push(r.serialHex);
          name = "unspecified";
        }
        rev += "," + name;
      }
    }
    return [status, formatOpensslTime(r.notAfter), rev, opensslHex(r.serialHex), "unknown", r.subject].join(
      "\t",
    );
  });
  return { text: lines.map((l) => l + "\n").join(""), reasonsDowngraded: downgraded };
}

/**
 * Reads a `serial` or `crlnumber` file: one hex number (the next to use). Returns it as a
 * bigint, or null when the text is not one.
 */
export function parseHexNumberFile(text: string): bigint | null {
  const t = text.trim();
  if (!/^[0-9A-Fa-f]{1,80}$/.test(t)) return null;
  return BigInt("0x" + t);
}

/** Writes a number as `serial`/`crlnumber` hold it (uppercase hex, even length, newline). */
export function formatHexNumberFile(n: bigint): string {
  return opensslHex(n.toString(16)) + "\n";
}
