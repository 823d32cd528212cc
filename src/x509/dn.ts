/**
 * Distinguished names: parse the two text forms operators type (OpenSSL's slash form and
 * RFC 4514), validate against RFC 5280 upper bounds, encode to DER Name (RFC 5280
 * §4.1.2.4), decode strictly, and format back.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { Tag, children, decodeString, expectTag, isPrintableString, oid, readWhole, tlv } from "./der.js";
import type { Node } from "./der.js";
import { AttrOid, oidFromContent } from "./oids.js";
import { isEmailAddress } from "./san.js";
import type { DistinguishedName, DnAttribute } from "./types.js";

/** How an attribute value is encoded in DER (RFC 5280 §4.1.2.4, §4.1.2.6, Appendix A). */
type ValueEncoding = "printable" | "ia5" | "utf8";

interface AttrDef {
  name: string;
  oid: string;
  /** Upper bound in characters (RFC 5280 Appendix A `ub-*`). */
  max: number;
  enc: ValueEncoding;
  aliases: string[];
}

// RFC 5280 Appendix A.1 upper bounds: ub-common-name 64, ub-organization-name 64,
// ub-organizational-unit-name 64, ub-locality-name 128, ub-state-name 128, ub-title 64,
// ub-serial-number 64, ub-emailaddress-length 255, ub-name 32768, ub-postal-code 40 (X.520),
// ub-pseudonym 128. C is PrintableString SIZE(2); serialNumber and dnQualifier are
// PrintableString; emailAddress and domainComponent are IA5String (RFC 5280 §4.1.2.6, RFC 4519).
const DEFS: AttrDef[] = [
  { name: "C", oid: AttrOid.C, max: 2, enc: "printable", aliases: ["countryName"] },
  { name: "ST", oid: AttrOid.ST, max: 128, enc: "utf8", aliases: ["S", "stateOrProvinceName"] },
  { name: "L", oid: AttrOid.L, max: 128, enc: "utf8", aliases: ["localityName"] },
  { name: "O", oid: AttrOid.O, max: 64, enc: "utf8", aliases: ["organizationName"] },
  { name: "OU", oid: AttrOid.OU, max: 64, enc: "utf8", aliases: ["organizationalUnitName"] },
  { name: "CN", oid: AttrOid.CN, max: 64, enc: "utf8", aliases: ["commonName"] },
  { name: "emailAddress", oid: AttrOid.emailAddress, max: 255, enc: "ia5", aliases: ["E", "EMAIL"] },
  { name: "serialNumber", oid: AttrOid.serialNumber, max: 64, enc: "printable", aliases: [] },
  { name: "DC", oid: AttrOid.DC, max: 63, enc: "ia5", aliases: ["domainComponent"] },
  { name: "UID", oid: AttrOid.UID, max: 256, enc: "utf8", aliases: ["userId"] },
  { name: "GN", oid: AttrOid.GN, max: 32768, enc: "utf8", aliases: ["givenName", "G"] },
  { name: "SN", oid: AttrOid.SN, max: 32768, enc: "utf8", aliases: ["surname"] },
  { name: "title", oid: AttrOid.title, max: 64, enc: "utf8", aliases: [] },
  { name: "street", oid: AttrOid.street, max: 128, enc: "utf8", aliases: ["streetAddress"] },
  { name: "postalCode", oid: AttrOid.postalCode, max: 40, enc: "utf8", aliases: [] },
  { name: "initials", oid: AttrOid.initials, max: 32768, enc: "utf8", aliases: [] },
  { name: "generationQualifier", oid: AttrOid.generationQualifier, max: 32768, enc: "utf8", aliases: [] },
  { name: "dnQualifier", oid: AttrOid.dnQualifier, max: 64, enc: "printable", aliases: [] },
  { name: "pseudonym", oid: AttrOid.pseudonym, max: 128, enc: "utf8", aliases: [] },
  { name: "name", oid: AttrOid.name, max: 32768, enc: "utf8", aliases: [] },
];

const BY_NAME = new Map<string, AttrDef>();
const BY_OID = new Map<string, AttrDef>();
for (const d of DEFS) {
  BY_OID.set(d.oid, d);
  for (const n of [d.name, ...d.aliases]) BY_NAME.set(n.toLowerCase(), d);
}

/** Upper bound for attribute types Sigil does not know (ub-name, RFC 5280 Appendix A). */
const UNKNOWN_MAX = 32768;

function dnError(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_DN, msg);
}

/** The short name Sigil uses for an attribute type OID, or the dotted OID when unknown. */
export function attributeName(attrOid: string): string {
  return BY_OID.get(attrOid)?.name ?? attrOid;
}

/** Resolves a short name (case-insensitive; aliases such as E, EMAIL, commonName) or a dotted OID. */
export function attributeOid(type: string): string {
  const t = type.trim();
  const def = BY_NAME.get(t.toLowerCase());
  if (def) return def.oid;
  const dotted = t.replace(/^oid\./i, "");
  if (/^[0-2](\.(0|[1-9]\d*))+$/.test(dotted)) return dotted;
  throw dnError(
    `unknown attribute type "${t}" (known: ${DEFS.map((d) => d.name).join(", ")}, or a dotted OID)`,
  );
}

function makeAttr(type: string, value: string): DnAttribute {
  const attrOid = attributeOid(type);
  const def = BY_OID.get(attrOid);
  return { oid: attrOid, name: def?.name ?? attrOid, value };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Validates one distinguished name against RFC 5280: non-empty values, upper bounds
 * (Appendix A), C as two letters (§4.1.2.4, ISO 3166), PrintableString and IA5String
 * character sets, no control characters, emailAddress shaped like local@domain.
 * Returns a copy with C upper-cased. Throws SigilError BAD_DN.
 */
export function validateDn(dn: DistinguishedName): DistinguishedName {
  return dn.map((a) => {
    const def = BY_OID.get(a.oid);
    const label = def?.name ?? a.oid;
    let value = a.value;
    if (value.length === 0) throw dnError(`${label} must not be empty`);
    if (CONTROL.test(value)) throw dnError(`${label} must not contain control characters`);
    const max = def?.max ?? UNKNOWN_MAX;
    if (a.oid === AttrOid.C) {
      if (!/^[A-Za-z]{2}$/.test(value))
        throw dnError(`C must be a two-letter country code (ISO 3166), got "${value}"`);
      value = value.toUpperCase();
    }
    const len = [...value].length;
    if (len > max)
      throw dnError(`${label} is too long (${len} characters, at most ${max} allowed by RFC 5280)`);
    if (def?.enc === "printable" && !isPrintableString(value))
      throw dnError(
        `${label} may only use PrintableString characters (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)`,
      );
    // eslint-disable-next-line no-control-regex
    if (def?.enc === "ia5" && !/^[\x00-\x7f]*$/.test(value)) throw dnError(`${label} must be ASCII`);
    if (a.oid === AttrOid.emailAddress && !isEmailAddress(value))
      throw dnError(`emailAddress "${value}" is not an e-mail address`);
    return { oid: a.oid, name: def?.name ?? a.oid, value };
  });
}

/** Trims unescaped leading/trailing spaces of a raw (still escaped) value. */
function trimRaw(raw: string): string {
  let s = raw.replace(/^\s+/, "");
  while (/\s$/.test(s)) {
    let bs = 0;
    for (let i = s.length - 2; i >= 0 && s[i] === "\\"; i--) bs++;
    if (bs % 2 === 1) break; // the last space is escaped
    s = s.slice(0, -1);
  }
  return s;
}

/** Splits `text` at unescaped occurrences of `sep`. */
function splitUnescaped(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && i + 1 < text.length) {
      cur += ch + text[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Index of the first unescaped `ch` in `s`, or -1. */
function indexUnescaped(s: string, ch: string, from = 0): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === "\\") i++;
    else if (s[i] === ch) return i;
  }
  return -1;
}

/** RFC 4514 §3 unescaping: `\` + special character, or `\` + two hex digits (UTF-8 octets). */
function unescape4514(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== "\\") {
      for (const b of Buffer.from(ch, "utf8")) bytes.push(b);
      continue;
    }
    const next = raw[i + 1];
    if (next === undefined) throw dnError("DN ends with a lone backslash");
    const hex = raw.slice(i + 1, i + 3);
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (' "#+,;<=>\\'.includes(next)) {
      bytes.push(next.charCodeAt(0));
      i++;
    } else throw dnError(`bad escape "\\${next}" in DN (RFC 4514 §2.4)`);
  }
  const buf = Buffer.from(bytes);
  const s = buf.toString("utf8");
  if (s.includes("\ufffd") && !Buffer.from(s, "utf8").equals(buf))
    throw dnError("DN hex escapes are not valid UTF-8");
  return s;
}

/** OpenSSL slash-form unescaping: a backslash makes the next character literal. */
function unescapeSlash(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "\\") {
      if (i + 1 >= raw.length) throw dnError("DN ends with a lone backslash");
      out += raw[i + 1];
      i++;
    } else out += raw[i];
  }
  return out;
}

const MULTI_RDN = "multi-valued RDNs (attribute+attribute) are not supported; use one attribute per RDN";

function parseAtv(component: string, form: "slash" | "rfc4514"): DnAttribute {
  const eq = indexUnescaped(component, "=");
  if (eq < 0) throw dnError(`"${component.trim()}" is not TYPE=VALUE`);
  const type = component.slice(0, eq).trim();
  if (!type) throw dnError(`missing attribute type in "${component.trim()}"`);
  const raw = trimRaw(component.slice(eq + 1));
  let value: string;
  if (form === "rfc4514") {
    if (indexUnescaped(raw, "+") >= 0) throw dnError(MULTI_RDN);
    if (raw.startsWith("#")) throw dnError(`${type}: "#hex" attribute values are not supported`);
    value = unescape4514(raw);
  } else {
    // OpenSSL treats '+' literally unless asked for multi-valued RDNs; a '+' that starts
    // another TYPE= is almost surely an attempt at one, so refuse it rather than guess.
    let p = indexUnescaped(raw, "+");
    while (p >= 0) {
      if (/^\s*([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)\s*=/.test(raw.slice(p + 1))) throw dnError(MULTI_RDN);
      p = indexUnescaped(raw, "+", p + 1);
    }
    value = unescapeSlash(raw);
  }
  if (!value) throw dnError(`${type} has an empty value`);
  return makeAttr(type, value);
}

/**
 * Parses a distinguished name typed by an operator, returning it most significant first
 * (C before CN), validated by {@link validateDn}. Two syntaxes:
 *
 * - OpenSSL's slash form, `/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA` (starts with
 *   `/`; values may hold commas; `\/` escapes a slash), already most significant first;
 * - RFC 4514, `CN=GenFic Root CA,O=Gentoo Fictional\, Inc.,C=BE`, least significant first
 *   (RFC 4514 §2.1), reversed here; escapes `\,` `\+` `\"` `\\` `\<` `\>` `\;` `\=` `\#`
 *   `\ ` and hex pairs such as `\2C` (RFC 4514 §2.4, §3).
 *
 * Types: C, ST, L, O, OU, CN, emailAddress (E, EMAIL), serialNumber, DC, UID, GN, SN,
 * title, street, postalCode and a few more, case-insensitive, or a dotted OID.
 * Multi-valued RDNs are refused. Throws SigilError BAD_DN with a one-line message.
 */
export function parseDn(text: string): DistinguishedName {
  const t = trimRaw(text);
  if (!t || t === "/") throw dnError("distinguished name is empty");
  let attrs: DnAttribute[];
  if (t.startsWith("/")) {
    const parts = splitUnescaped(t.slice(1), "/");
    attrs = parts.map((p) => {
      if (!p.trim()) throw dnError("empty RDN in DN (two slashes in a row, or a trailing slash?)");
      return parseAtv(p, "slash");
    });
  } else {
    const parts = splitUnescaped(t, ",");
    attrs = parts.map((p) => {
      if (!p.trim()) throw dnError("empty RDN in DN (two commas in a row, or a trailing comma?)");
      return parseAtv(p, "rfc4514");
    });
    attrs.reverse();
  }
  return validateDn(attrs);
}

function encodeValue(a: DnAttribute): Buffer {
  const def = BY_OID.get(a.oid);
  const enc = def?.enc ?? "utf8";
  if (enc === "printable") {
    if (!isPrintableString(a.value)) throw dnError(`${a.name} may only use PrintableString characters`);
    return tlv(Tag.PRINTABLE_STRING, Buffer.from(a.value, "latin1"));
  }
  if (enc === "ia5") {
    // eslint-disable-next-line no-control-regex
    if (!/^[\x00-\x7f]*$/.test(a.value)) throw dnError(`${a.name} must be ASCII`);
    return tlv(Tag.IA5_STRING, Buffer.from(a.value, "latin1"));
  }
  return tlv(Tag.UTF8_STRING, Buffer.from(a.value, "utf8"));
}

/**
 * Encodes a DER Name (RFC 5280 §4.1.2.4): one AttributeTypeAndValue per RDN, in the given
 * order. C, serialNumber and dnQualifier are PrintableString; emailAddress and DC are
 * IA5String (RFC 5280 §4.1.2.6, RFC 4519 §2.4); everything else is UTF8String, as RFC 5280
 * §4.1.2.4 requires of new certificates. An empty DN encodes as an empty SEQUENCE.
 */
export function encodeDn(dn: DistinguishedName): Buffer {
  const rdns = dn.map((a) => tlv(Tag.SET, tlv(Tag.SEQUENCE, oid(a.oid), encodeValue(a))));
  return tlv(Tag.SEQUENCE, ...rdns);
}

function checkStringNode(v: Node, label: string): string {
  let s: string;
  try {
    s = decodeString(v);
  } catch {
    throw dnError(`${label}: value is not a string (tag 0x${v.tag.toString(16)})`);
  }
  if (v.tag === Tag.PRINTABLE_STRING && !isPrintableString(s))
    throw dnError(`${label}: PrintableString holds characters outside its set`);
  // eslint-disable-next-line no-control-regex
  if (v.tag === Tag.IA5_STRING && !/^[\x00-\x7f]*$/.test(s))
    throw dnError(`${label}: IA5String is not ASCII`);
  if (v.tag === Tag.UTF8_STRING && s.includes("\ufffd") && !Buffer.from(s, "utf8").equals(v.content))
    throw dnError(`${label}: UTF8String is not valid UTF-8`);
  return s;
}

/**
 * Decodes a DER Name strictly (RFC 5280 §4.1.2.4): a SEQUENCE of single-valued RDNs whose
 * values are directory strings. Multi-valued RDNs throw SigilError BAD_DN; malformed DER
 * throws BAD_INPUT (from der.ts). Values are not re-validated against upper bounds: see
 * {@link validateDn} for that.
 */
export function decodeDn(nameDer: Buffer | Node): DistinguishedName {
  const node = Buffer.isBuffer(nameDer) ? readWhole(nameDer) : nameDer;
  expectTag(node, Tag.SEQUENCE, "Name");
  const out: DistinguishedName = [];
  for (const rdn of children(node)) {
    expectTag(rdn, Tag.SET, "RelativeDistinguishedName");
    const atvs = children(rdn);
    if (atvs.length === 0) throw dnError("empty RDN in Name");
    if (atvs.length > 1) throw dnError(MULTI_RDN);
    const atv = expectTag(atvs[0], Tag.SEQUENCE, "AttributeTypeAndValue");
    const f = children(atv);
    if (f.length !== 2) throw dnError("AttributeTypeAndValue must have two fields");
    const attrOid = oidFromContent(expectTag(f[0], Tag.OID, "attribute type").content);
    const name = attributeName(attrOid);
    out.push({ oid: attrOid, name, value: checkStringNode(f[1]!, name) });
  }
  return out;
}

/** Escapes a value for RFC 4514 §2.4. */
function escape4514(v: string): string {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]!;
    const code = ch.charCodeAt(0);
    if ('"+,;<>\\'.includes(ch)) out += "\\" + ch;
    else if (code < 0x20 || code === 0x7f) out += "\\" + code.toString(16).padStart(2, "0").toUpperCase();
    else if (i === 0 && (ch === "#" || ch === " ")) out += "\\" + ch;
    else if (i === v.length - 1 && ch === " ") out += "\\ ";
    else out += ch;
  }
  return out;
}

/**
 * Formats a DN as an RFC 4514 string: least significant RDN first (`CN=...,O=...,C=BE`,
 * RFC 4514 §2.1), values escaped per §2.4. {@link parseDn} reads the result back.
 */
export function formatDn(dn: DistinguishedName): string {
  const parts: string[] = [];
  for (let i = dn.length - 1; i >= 0; i--) {
    const a = dn[i]!;
    parts.push(`${attributeName(a.oid)}=${escape4514(a.value)}`);
  }
  return parts.join(",");
}

/**
 * Formats a DN in OpenSSL's slash form, most significant first
 * (`/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA`); `/`, `\` and `+` are backslash-escaped.
 * An empty DN formats as "/". {@link parseDn} reads the result back.
 */
export function formatDnOpenssl(dn: DistinguishedName): string {
  if (dn.length === 0) return "/";
  return dn.map((a) => `/${attributeName(a.oid)}=${a.value.replace(/[\\/+]/g, (c) => "\\" + c)}`).join("");
}

/** The first emailAddress attribute of a DN, if any (RFC 5280 §4.1.2.6 legacy form). */
export function dnEmail(dn: DistinguishedName): string | undefined {
  return dn.find((a) => a.oid === AttrOid.emailAddress)?.value;
}

/** The most specific (last) CN of a DN, if any. */
export function dnCommonName(dn: DistinguishedName): string | undefined {
  for (let i = dn.length - 1; i >= 0; i--) if (dn[i]!.oid === AttrOid.CN) return dn[i]!.value;
  return undefined;
}

/** True when the DER Name is the empty SEQUENCE (RFC 5280 §4.1.2.6: SAN must then be critical). */
export function isEmptyNameDer(nameDer: Buffer): boolean {
  return nameDer.length === 2 && nameDer[0] === Tag.SEQUENCE && nameDer[1] === 0;
}
