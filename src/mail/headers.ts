/**
 * The header side of a message: the checks mailparser does not make on the header section
 * and the multipart boundary, and the envelope (From, Reply-To, Return-Path, Subject, Date,
 * Authentication-Results; RFC 5322 §3.6) with address and date handling.
 */
import { domainToASCII } from "node:url";
import type { AddressObject, HeaderValue, ParsedMail as MailparserMail, StructuredHeader } from "mailparser";
import type { ParsedMail } from "./types.js";
import { clip, htmlToText, oneLine } from "./text.js";

/** Longest header section checked before parsing (mailparser's own per-part cap is 1 MiB). */
const MAX_HEADER_SCAN = 1024 * 1024;
/** Authentication-Results fields kept at most (a trusted MTA's is on top). */
const MAX_AUTH_RESULTS = 20;
/** Characters of the top-level text kept. */
const MAX_TEXT = 64 * 1024;

/**
 * The domain of an address, lower-cased ("alice@GenFic.com" -> "genfic.com"); undefined if none.
 * The domain is what follows the last "@"; a trailing dot and surrounding <> are dropped.
 */
export function addressDomain(addr: string | undefined): string | undefined {
  if (typeof addr !== "string") return undefined;
  const a = addr.trim().replace(/^<(.*)>$/, "$1");
  const at = a.lastIndexOf("@");
  if (at <= 0) return undefined;
  const domain = a
    .slice(at + 1)
    .trim()
    .replace(/\.$/, "")
    .toLowerCase();
  if (!domain || /[\s@<>]/.test(domain)) return undefined;
  return domain;
}

/** A header field line: field-name (printable ASCII but ":") then ":" (RFC 5322 §2.2, §3.6.8). */
const FIELD_LINE = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/**
 * The checks mailparser does not make: the message must start with a header field (an mbox
 * "From " line first is allowed), its header section must hold no NUL bytes, and most of its
 * lines must be header fields or their continuations. Without them a PEM file, a text file or
 * random bytes would be read as a message made of broken header lines and nothing else.
 * Returns the reason to reject, or undefined.
 */
export function checkHeaderSection(bytes: Buffer): string | undefined {
  const text = bytes.subarray(0, MAX_HEADER_SCAN).toString("latin1");
  const lines = text.split(/\r?\n/);
  let i = 0;
  if (lines[0]?.startsWith("From ")) i = 1;
  const first = lines[i] ?? "";
  if (!FIELD_LINE.test(first)) {
    if (first.trim() === "") return "the message has no header (it starts with an empty line)";
    return "not an e-mail message: it does not begin with a header field";
  }
  let fields = 0;
  let bad = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "" || line === "\r") break;
    if (line.includes("\0")) return "the message header contains NUL bytes";
    if (FIELD_LINE.test(line)) fields++;
    else if (line[0] !== " " && line[0] !== "\t") bad++;
  }
  if (bad > fields)
    return `the message header is malformed (${bad} of ${bad + fields} lines are not header fields; is the blank line after the header missing?)`;
  return undefined;
}

/**
 * mailparser silently drops a multipart body whose boundary is missing or never appears; that
 * message is unreadable, so say so. A multipart body that is never closed is read (mailparser
 * takes the last part to the end) with a note: the message may be truncated.
 */
export function checkMultipart(mail: MailparserMail, bytes: Buffer): { fatal?: string; note?: string } {
  const ct = structured(mail.headers.get("content-type"));
  if (!ct || !ct.value.toLowerCase().startsWith("multipart/")) return {};
  const boundary = ct.params.boundary;
  if (!boundary) return { fatal: `the ${ct.value.toLowerCase()} body has no boundary parameter` };
  if (!bytes.includes(`--${boundary}`, 0, "latin1"))
    return { fatal: `the ${ct.value.toLowerCase()} body never uses its boundary "${clip(boundary, 70)}"` };
  if (!bytes.includes(`--${boundary}--`, 0, "latin1"))
    return { note: "the message's multipart body is not closed; the message may be truncated" };
  return {};
}

export function structured(v: HeaderValue | undefined): StructuredHeader | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  if (one && typeof one === "object" && !(one instanceof Date) && "value" in one && "params" in one) {
    const s = one as StructuredHeader;
    if (typeof s.value === "string") return s;
  }
  return undefined;
}

/** Fills the envelope fields of `out` from the parsed headers. */
export function readEnvelope(mail: MailparserMail, out: ParsedMail): void {
  out.from = firstAddress(mail.from);
  out.replyTo = firstAddress(mail.replyTo);
  const rp = mail.headers.get("return-path");
  out.returnPath = firstAddress(Array.isArray(rp) ? (rp[0] as HeaderValue | undefined) : rp);
  const id =
    typeof mail.messageId === "string" ? oneLine(mail.messageId).trim().replace(/^<|>$/g, "").trim() : "";
  out.messageId = id && id.length <= 998 ? id : undefined;
  out.subject = typeof mail.subject === "string" ? oneLine(mail.subject) : "";
  const dateLine = mail.headerLines.find((l) => l.key === "date");
  out.date = dateLine ? parseRfc5322Date(dateLine.line.slice(dateLine.line.indexOf(":") + 1)) : undefined;
  const value = (line: string) =>
    line
      .slice(line.indexOf(":") + 1)
      .replace(/\r?\n(?=[ \t])/g, "")
      .trim();
  out.authResults = mail.headerLines
    .filter((l) => l.key === "authentication-results")
    .slice(0, MAX_AUTH_RESULTS)
    .map((l) => value(l.line));
  const auto = mail.headerLines.find((l) => l.key === "auto-submitted");
  out.autoSubmitted = auto !== undefined && !/^no\b/i.test(value(auto.line));
  const text =
    typeof mail.text === "string" ? mail.text : typeof mail.html === "string" ? htmlToText(mail.html) : "";
  out.text = text.slice(0, MAX_TEXT);
}

/**
 * The first mailbox of an address header, lower-cased, with an internationalized domain in
 * its ASCII (A-label) form, as certificates and SMTP carry it; undefined when there is none
 * (absent header, group without members, `<>`, a name without an address).
 */
function firstAddress(v: HeaderValue | undefined): string | undefined {
  if (!v || typeof v !== "object" || v instanceof Date || !("value" in v) || !Array.isArray(v.value)) {
    return undefined;
  }
  const flat: string[] = [];
  for (const e of (v as AddressObject).value) {
    if (e.address) flat.push(e.address);
    for (const g of e.group ?? []) if (g.address) flat.push(g.address);
  }
  for (const a of flat) {
    const at = a.lastIndexOf("@");
    if (at <= 0 || at === a.length - 1 || /[\s<>]/.test(a)) continue;
    const local = a.slice(0, at).toLowerCase();
    const domain = a.slice(at + 1).toLowerCase();
    const ascii = domain.startsWith("[") ? "" : domainToASCII(domain);
    return `${local}@${ascii || domain}`;
  }
  return undefined;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const ZONES: Record<string, number> = {
  UT: 0,
  GMT: 0,
  Z: 0,
  EST: -5 * 60,
  EDT: -4 * 60,
  CST: -6 * 60,
  CDT: -5 * 60,
  MST: -7 * 60,
  MDT: -6 * 60,
  PST: -8 * 60,
  PDT: -7 * 60,
};
const DATE_RE =
  /^(?:[a-z]{3}\s*,\s*)?(\d{1,2})\s+([a-z]{3})\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([+-])(\d{2})(\d{2})|\s+([a-z]{1,3}))?$/i;

/**
 * Parses an RFC 5322 §3.3 date-time, with the obsolete forms of §4.3 (two-digit years, named
 * and military zones, which count as UTC). mailparser is not used for this: it returns the
 * current time for a Date header it cannot read, and JavaScript's Date.parse accepts nearly
 * anything.
 */
function parseRfc5322Date(value: string): number | undefined {
  let v = value.replace(/\r?\n/g, "");
  for (let i = 0; i < 3 && v.includes("("); i++) v = v.replace(/\([^()]*\)/g, " ");
  v = v.replace(/\s+/g, " ").trim();
  const m = DATE_RE.exec(v);
  if (!m) return undefined;
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3]!.length === 3) year += 1900;
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Math.min(Number(m[6] ?? "0"), 59);
  if (month < 0 || hour > 23 || minute > 59 || second > 60) return undefined;
  let offset = 0;
  if (m[7]) {
    const zh = Number(m[8]);
    const zm = Number(m[9]);
    if (zm > 59) return undefined;
    offset = (m[7] === "-" ? -1 : 1) * (zh * 60 + zm);
  } else if (m[10]) {
    const z = m[10].toUpperCase();
    if (z in ZONES) offset = ZONES[z]!;
    else if (!/^[A-IK-Y]$/.test(z)) return undefined;
  }
  const t = Date.UTC(year, month, day, hour, minute, second);
  if (new Date(t).getUTCDate() !== day) return undefined;
  return t - offset * 60_000;
}
