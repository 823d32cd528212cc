/**
 * subjectAltName (RFC 5280 §4.2.1.6): parse the `dns:x,ip:y,email:z,uri:u` list operators
 * type, validate names, encode and decode GeneralNames.
 *
 * Pure: no I/O, no clock.
 */
import { isIP } from "node:net";
import { ErrorCodes, SigilError } from "../errors.js";
import { Tag, children, decodeOid, expectTag, readWhole, tlv, type Node } from "./der.js";
import type { GeneralName, UnsupportedGeneralName } from "./types.js";

/** True when every character of `s` is ASCII (IA5String, X.680 §41.4). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function sanError(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_SAN, msg);
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/**
 * True when `s` is a hostname: dot-separated LDH labels of 1 to 63 characters, not
 * starting or ending with a hyphen, at most 253 characters, and a last label that is not
 * all digits (RFC 1123 §2.1, RFC 5280 §4.2.1.6 "preferred name syntax"). No wildcard, no
 * trailing dot. Internationalized names must be given in their A-label (xn--) form.
 */
export function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = s.split(".");
  for (const l of labels) if (!LABEL.test(l)) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

/** True when `s` is a dNSName Sigil accepts: a hostname, optionally with a leading `*.` wildcard label. */
export function isDnsName(s: string): boolean {
  if (s.length > 253) return false;
  return s.startsWith("*.") ? isHostname(s.slice(2)) : isHostname(s);
}

const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * True when `s` is an rfc822Name mailbox Sigil accepts: `local@domain` with a dot-atom
 * local part of at most 64 characters and a hostname domain (RFC 5280 §4.2.1.6 refers to
 * RFC 5322 addr-spec; quoted local parts and non-ASCII are not accepted).
 */
export function isEmailAddress(s: string): boolean {
  if (s.length > 255) return false;
  const at = s.lastIndexOf("@");
  if (at <= 0) return false;
  const local = s.slice(0, at);
  return local.length <= 64 && LOCAL_PART.test(local) && isHostname(s.slice(at + 1));
}

/** True when `s` is an absolute URI with a scheme, printable ASCII, and a host when it has an authority. */
export function isUri(s: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/.test(s)) return false;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  // RFC 5280 §4.2.1.6: a URI with an authority MUST include a host (fully qualified domain name or IP).
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(s) && !u.hostname) return false;
  return true;
}

/**
 * `net.isIP`, without compiling its IPv6 pattern (about 8 ms, once per process: a noticeable
 * part of a one-shot `sigil sign`) for strings that cannot be an address: an IPv4 address is
 * digits and dots, an IPv6 address has a colon. 4, 6 or 0, exactly as `isIP`.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  return s.includes(":") || /^[0-9.]+$/.test(s) ? (isIP(s) as 0 | 4 | 6) : 0;
}

/** Parses an IPv4 or IPv6 address (no zone) to its 4- or 16-octet network form, or null. */
export function ipToBytes(s: string): Buffer | null {
  const v = ipFamily(s);
  if (v === 4) return Buffer.from(s.split(".").map(Number));
  if (v !== 6 || s.includes("%")) return null;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1) + "0";
    // Replace the placeholder group below by the two v4 groups.
  }
  const halves = text.split("::");
  const parse = (h: string): number[] => (h === "" ? [] : h.split(":").map((g) => parseInt(g, 16)));
  let groups: number[];
  if (halves.length === 2) {
    const head = parse(halves[0]!);
    const back = parse(halves[1]!);
    const fill = 8 - head.length - back.length - (tail.length ? 1 : 0);
    groups = [...head, ...new Array<number>(Math.max(fill, 0)).fill(0), ...back];
  } else groups = parse(text);
  if (tail.length) groups = [...groups.slice(0, -1), ...tail];
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Formats 4 or 16 octets as an IP address; IPv6 in RFC 5952 §4 canonical form. */
export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) throw sanError(`iPAddress must be 4 or 16 octets, got ${b.length}`);
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  // RFC 5952 §4.2: compress the longest run (first if tied) of two or more zero groups.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return hex.slice(0, best).join(":") + "::" + hex.slice(best + bestLen).join(":");
}

/**
 * Validates one GeneralName and returns its normalized form (DNS names lower-cased, IP
 * addresses canonical, e-mail domains lower-cased). Throws SigilError BAD_SAN.
 */
export function validateGeneralName(gn: GeneralName): GeneralName {
  const v = gn.value;
  switch (gn.type) {
    case "dns": {
      const lower = v.toLowerCase();
      if (!isAscii(v)) throw sanError(`DNS name "${v}" is not ASCII; use its punycode (xn--) form`);
      if (!isDnsName(lower))
        throw sanError(`"${v}" is not a valid DNS name (letters, digits, hyphens; optional leading "*.")`);
      return { type: "dns", value: lower };
    }
    case "ip": {
      const b = ipToBytes(v);
      if (!b) throw sanError(`"${v}" is not an IPv4 or IPv6 address`);
      return { type: "ip", value: bytesToIp(b) };
    }
    case "email": {
      if (!isEmailAddress(v)) throw sanError(`"${v}" is not a valid e-mail address (local@domain, ASCII)`);
      const at = v.lastIndexOf("@");
      return { type: "email", value: v.slice(0, at) + "@" + v.slice(at + 1).toLowerCase() };
    }
    case "uri":
      if (!isUri(v)) throw sanError(`"${v}" is not an absolute URI (scheme:..., with a host when it has //)`);
      return { type: "uri", value: v };
    default: {
      const never: never = gn;
      throw sanError(`unsupported SAN type ${JSON.stringify(never)}`);
    }
  }
}

const PREFIXES: Record<string, GeneralName["type"]> = {
  dns: "dns",
  ip: "ip",
  email: "email",
  uri: "uri",
};

/**
 * Parses an operator's SAN list, `dns:x,ip:y,email:z,uri:u` (prefixes case-insensitive, so
 * OpenSSL's `DNS:`/`IP:`/`email:`/`URI:` work), validating and normalizing each name
 * (see {@link validateGeneralName}); exact duplicates are dropped. An empty or blank
 * string gives an empty list. Throws SigilError BAD_SAN.
 */
export function parseSanList(text: string): GeneralName[] {
  if (!text.trim()) return [];
  const out: GeneralName[] = [];
  const seen = new Set<string>();
  for (const rawPart of text.split(",")) {
    const part = rawPart.trim();
    if (!part) throw sanError("empty entry in SAN list (two commas in a row, or a trailing comma?)");
    const colon = part.indexOf(":");
    const type = colon > 0 ? PREFIXES[part.slice(0, colon).trim().toLowerCase()] : undefined;
    if (!type) throw sanError(`SAN "${part}" must start with dns:, ip:, email: or uri:`);
    const value = part.slice(colon + 1).trim();
    if (!value) throw sanError(`SAN "${part}" has an empty value`);
    const gn = validateGeneralName({ type, value });
    const key = `${gn.type}:${gn.value}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(gn);
    }
  }
  return out;
}

/** Formats SANs back into the `dns:x,ip:y` list form {@link parseSanList} reads. */
export function formatSanList(names: GeneralName[]): string {
  return names.map((n) => `${n.type}:${n.value}`).join(",");
}

/** Encodes one GeneralName (RFC 5280 §4.2.1.6, IMPLICIT tags). */
export function encodeGeneralName(n: GeneralName): Buffer {
  switch (n.type) {
    case "email":
      return tlv(0x81, ascii(n.value, "rfc822Name"));
    case "dns":
      return tlv(0x82, ascii(n.value, "dNSName"));
    case "uri":
      return tlv(0x86, ascii(n.value, "uniformResourceIdentifier"));
    case "ip": {
      const b = ipToBytes(n.value);
      if (!b) throw sanError(`"${n.value}" is not an IPv4 or IPv6 address`);
      return tlv(0x87, b);
    }
    default: {
      const never: never = n;
      throw sanError(`unsupported SAN type ${JSON.stringify(never)}`);
    }
  }
}

function ascii(s: string, what: string): Buffer {
  if (!isAscii(s)) throw sanError(`${what} must be ASCII (IA5String): "${s}"`);
  return Buffer.from(s, "latin1");
}

/**
 * Encodes GeneralNames, the subjectAltName extnValue (RFC 5280 §4.2.1.6): dNSName [2],
 * rfc822Name [1] and uniformResourceIdentifier [6] as IA5String, iPAddress [7] as 4 or 16
 * octets. Throws SigilError BAD_SAN for an empty list (GeneralNames is SIZE (1..MAX)).
 */
export function encodeSan(names: GeneralName[]): Buffer {
  if (names.length === 0) throw sanError("subjectAltName needs at least one name");
  return tlv(Tag.SEQUENCE, ...names.map(encodeGeneralName));
}

/** GeneralName choices Sigil reads but never issues, by tag (RFC 5280 §4.2.1.6, IMPLICIT tags). */
const UNSUPPORTED_TAGS = new Map<number, UnsupportedGeneralName["type"]>([
  [0xa0, "otherName"],
  [0xa3, "x400Address"],
  [0xa4, "directoryName"],
  [0xa5, "ediPartyName"],
  [0x88, "registeredID"],
]);

/** otherName type-ids an operator may meet in a request, named in refusals. */
const OTHER_NAME_TYPES = new Map<string, string>([
  ["1.3.6.1.4.1.311.20.2.3", "Microsoft UPN"],
  ["1.3.6.1.5.2.2", "Kerberos principal name"], // RFC 4556 §3.2.2 (id-pkinit-san)
  ["1.3.6.1.5.5.7.8.5", "XMPP address"], // RFC 6120 §13.7.1.4 (id-on-xmppAddr)
  ["1.3.6.1.5.5.7.8.7", "SRVName"], // RFC 4985 §2 (id-on-dnsSRV)
  ["1.3.6.1.5.5.7.8.9", "SmtpUTF8Mailbox"], // RFC 9598 §3 (id-on-SmtpUTF8Mailbox)
]);

/** What names an unsupported GeneralName to an operator (see {@link UnsupportedGeneralName}). */
function unsupportedDetail(type: UnsupportedGeneralName["type"], node: Node): string {
  if (type === "registeredID") return decodeOid(node.content);
  if (type !== "otherName") return "";
  // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY } (IMPLICIT [0]).
  const parts = children(node);
  if (parts.length !== 2 || parts[1]!.tag !== 0xa0)
    throw sanError("otherName must hold a type-id and a [0] value");
  const oid = decodeOid(expectTag(parts[0], Tag.OID, "otherName type-id").content);
  const known = OTHER_NAME_TYPES.get(oid);
  return known ? `${oid}, ${known}` : oid;
}

/** The names of a subjectAltName: those Sigil issues, and those of the other types. */
export interface DecodedSan {
  names: GeneralName[];
  unsupported: UnsupportedGeneralName[];
}

/**
 * Decodes a subjectAltName extnValue (the GeneralNames DER), keeping every name: dNSName,
 * rfc822Name, URI and iPAddress in `names`; otherName, x400Address, directoryName,
 * ediPartyName and registeredID in `unsupported` (a request's are refused by the profile,
 * never dropped). Malformed input throws SigilError BAD_SAN.
 */
export function decodeSanAll(extnValue: Buffer): DecodedSan {
  try {
    const seq = expectTag(readWhole(extnValue), Tag.SEQUENCE, "GeneralNames");
    const items = children(seq);
    if (items.length === 0) throw sanError("subjectAltName is empty (GeneralNames needs at least one name)");
    const names: GeneralName[] = [];
    const unsupported: UnsupportedGeneralName[] = [];
    for (const it of items) {
      switch (it.tag) {
        case 0x81:
          names.push({ type: "email", value: ia5Text(it.content, "rfc822Name") });
          break;
        case 0x82:
          names.push({ type: "dns", value: ia5Text(it.content, "dNSName") });
          break;
        case 0x86:
          names.push({ type: "uri", value: ia5Text(it.content, "uniformResourceIdentifier") });
          break;
        case 0x87:
          names.push({ type: "ip", value: bytesToIp(it.content) });
          break;
        default: {
          const type = UNSUPPORTED_TAGS.get(it.tag);
          if (!type) throw sanError(`unknown GeneralName tag 0x${it.tag.toString(16)}`);
          unsupported.push({ type, detail: unsupportedDetail(type, it) });
        }
      }
    }
    return { names, unsupported };
  } catch (e) {
    if (e instanceof SigilError && e.code === ErrorCodes.BAD_SAN) throw e;
    throw sanError(`subjectAltName is malformed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Decodes the names Sigil issues (dNSName, rfc822Name, URI, iPAddress) from a
 * subjectAltName extnValue, for certificates read (a certificate is shown, not judged); the
 * other types are left out. Requests go through {@link decodeSanAll}. Malformed input
 * throws SigilError BAD_SAN.
 */
export function decodeSan(extnValue: Buffer): GeneralName[] {
  return decodeSanAll(extnValue).names;
}

function ia5Text(b: Buffer, what: string): string {
  for (const x of b) if (x > 0x7f) throw sanError(`${what} is not ASCII`);
  return b.toString("latin1");
}
