/**
 * The identifiers an ACME-enabled CA may certify (`sigil acme enable CA --allow PATTERN`):
 * parsing of allow patterns and matching of order identifiers (RFC 8555 §7.1.3 "dns",
 * RFC 8738 "ip") against them.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { ipFamily, ipToBytes, isHostname } from "../x509/san.js";
import { isWildcardName, wildcardWithin } from "./names.js";

/**
 * An identifier of an ACME order (RFC 8555 §9.7.7: "dns"; RFC 8738: "ip"). The word is
 * policy's: acme/ (an edge) speaks it on the wire, policy decides on it.
 */
export interface AcmeIdentifier {
  type: "dns" | "ip";
  value: string;
}

/** A parsed allow pattern. */
export type AllowPattern =
  /** `subtree`: any name strictly below `name` (from `*.name`); else exactly `name`. */
  | { kind: "dns"; name: string; subtree: boolean }
  /** An address range: the first `prefix` bits of `network` (4 or 16 octets). */
  | { kind: "ip"; network: Buffer; prefix: number };

/** Lower case, without one trailing dot (an absolute name is the same name). */
function normalizeName(s: string): string {
  const t = s.toLowerCase();
  return t.endsWith(".") ? t.slice(0, -1) : t;
}

function bad(s: string, why: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `bad ACME allow pattern ${JSON.stringify(s)}: ${why}`);
}

/**
 * Parses an allow pattern: a DNS pattern (an optional leading `*.`, then a hostname), or an
 * IPv4/IPv6 address or CIDR range (`10.0.0.0/8`, `fd00::/8`). Throws SigilError BAD_INPUT.
 */
export function parseAllowPattern(s: string): AllowPattern {
  const text = s.trim();
  if (text === "") throw bad(s, "empty");
  if (text.includes("/") || ipFamily(text) !== 0) {
    const [addr, len, ...rest] = text.split("/");
    const bytes = ipToBytes(addr!);
    if (bytes === null || rest.length > 0) throw bad(s, "not an IP address or CIDR range");
    const max = bytes.length * 8;
    if (len !== undefined && !/^\d{1,3}$/.test(len)) throw bad(s, `the prefix length must be 0 to ${max}`);
    const prefix = len === undefined ? max : Number(len);
    if (prefix > max) throw bad(s, `the prefix length must be 0 to ${max}`);
    // Host bits must be zero: `10.1.2.3/8` is probably a mistake for `10.0.0.0/8`.
    if (!bytes.equals(mask(bytes, prefix)))
      throw bad(s, `host bits are set (the range starts at ${formatNetwork(mask(bytes, prefix), prefix)})`);
    return { kind: "ip", network: bytes, prefix };
  }
  const name = normalizeName(text);
  const subtree = name.startsWith("*.");
  const base = subtree ? name.slice(2) : name;
  if (!isHostname(base))
    throw bad(s, "give a hostname, '*.' and a domain (any name below it), an IP address or a CIDR range");
  return { kind: "dns", name: base, subtree };
}

function mask(b: Buffer, prefix: number): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function formatNetwork(b: Buffer, prefix: number): string {
  if (b.length === 4) return `${[...b].join(".")}/${prefix}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return `${groups.join(":")}/${prefix}`;
}

/** True when `p` allows `identifier`. */
export function patternMatches(p: AllowPattern, identifier: AcmeIdentifier): boolean {
  if (identifier.type === "dns") {
    if (p.kind !== "dns") return false;
    const name = normalizeName(identifier.value);
    // A pattern matches names, not wildcard names (policy/names.ts, as auto-approval). A
    // wildcard order (dns-01 only, RFC 8555 §7.1.3) is allowed by a `*.` pattern whose
    // subtree holds every name it covers, never by an exact name.
    if (isWildcardName(name)) return p.subtree && wildcardWithin(name, p.name);
    // `*.genfic.internal`: any name strictly below genfic.internal, at any depth.
    return p.subtree ? name.endsWith("." + p.name) && name.length > p.name.length + 1 : name === p.name;
  }
  if (identifier.type === "ip") {
    if (p.kind !== "ip") return false;
    const b = ipToBytes(identifier.value);
    if (b === null || b.length !== p.network.length) return false;
    return mask(b, p.prefix).equals(p.network);
  }
  return false;
}

/**
 * True when one of `patterns` (strings, as stored, or parsed) allows `identifier`. A
 * pattern that does not parse allows nothing.
 */
export function identifierAllowed(
  patterns: ReadonlyArray<string | AllowPattern>,
  identifier: AcmeIdentifier,
): boolean {
  for (const p of patterns) {
    let parsed: AllowPattern;
    if (typeof p === "string") {
      try {
        parsed = parseAllowPattern(p);
      } catch {
        continue;
      }
    } else parsed = p;
    if (patternMatches(parsed, identifier)) return true;
  }
  return false;
}
