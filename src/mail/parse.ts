/**
 * Reads one raw e-mail (RFC 5322 + MIME, RFC 2045-2049) and finds the certificate signing
 * requests in it: what the handbook's fetchmail | procmail | `munpack` pipeline did, but with
 * limits, per-part reasons and no files written.
 *
 * MIME is split by mailparser, which is lenient to a fault (it never rejects a message, reads
 * binary garbage as header lines, drops a multipart body whose boundary never appears and
 * decodes bad base64 to nothing), so the checks that decide "this is not an e-mail" are made
 * here, before and after it runs. Nothing here throws for any input bytes; the CSR bytes are
 * only located, never judged (that is the CSR reader's job, `x509/csr.ts`).
 */
import { domainToASCII } from "node:url";
import { simpleParser } from "mailparser";
import type {
  AddressObject,
  Attachment,
  HeaderValue,
  ParsedMail as MailparserMail,
  SimpleParserOptions,
  StructuredHeader,
} from "mailparser";
import { MAX_CSR_BYTES } from "../x509/csr.js";
import { toPem } from "../x509/der.js";

/** Limits applied while reading one message; see {@link DEFAULT_MAIL_LIMITS}. */
export interface MailLimits {
  /** whole message, bytes (default 10 MiB): bigger -> rejectReason */
  maxMessageBytes: number;
  /** attachments + inline parts considered (default 20): more -> rejectReason "too many attachments (N; at most 20)" */
  maxAttachments: number;
  /** one CSR candidate (default 64 KiB, as the CSR reader's cap) */
  maxCandidateBytes: number;
  /** nesting depth of message/rfc822 parts followed (default 3) */
  maxDepth: number;
}

/** The limits {@link parseMail} uses for whatever the caller leaves out. */
export const DEFAULT_MAIL_LIMITS: MailLimits = Object.freeze({
  maxMessageBytes: 10 * 1024 * 1024,
  maxAttachments: 20,
  maxCandidateBytes: MAX_CSR_BYTES,
  maxDepth: 3,
});

/** Something in the message that may be a certificate request, for the CSR reader to judge. */
export interface CsrCandidate {
  /**
   * attachment file name, or "body" / "body#2" for PEM pasted in a text part. Unique within one
   * message ("req.pem", "req.pem#2" for two blocks of one file); an unnamed attachment is
   * "attachment#N". Display text only: path separators and control characters are removed.
   */
  name: string;
  /** the bytes to hand to the CSR reader: DER, or the PEM text of one block */
  data: Buffer;
  /** PEM label when it came from PEM (e.g. "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", "CERTIFICATE") */
  pemLabel?: string;
}

/** What {@link parseMail} found in one message. */
export interface ParsedMail {
  /** The Message-ID without <>; undefined when absent. */
  messageId: string | undefined;
  /** the From address, lower-cased (first one); undefined when absent/unparseable */
  from: string | undefined;
  /** Reply-To address if any, lower-cased */
  replyTo: string | undefined;
  /** Return-Path (envelope sender as the MTA recorded it), lower-cased, if present */
  returnPath: string | undefined;
  /** The Subject, on one line (control characters replaced by spaces); "" when absent. */
  subject: string;
  /** Date header, epoch ms, if parseable */
  date: number | undefined;
  /**
   * The values of the Authentication-Results header fields (RFC 8601), unfolded, in the
   * order they appear (topmost, i.e. added last by the receiving MTA, first). At most 20.
   */
  authResults: string[];
  /** True when the message says it was sent by a machine: Auto-Submitted other than "no" (RFC 3834 §5). */
  autoSubmitted: boolean;
  /** The top-level text body (text/plain, else the HTML's text), at most 64 KiB: where a reply quotes what it answers. */
  text: string;
  /** The candidates, in the order found (bodies first, then attachments); no two hold the same request. */
  candidates: CsrCandidate[];
  /** non-fatal notes for the operator/requester, e.g. "ignored attachment report.pdf (application/pdf)", "attachment big.csr is 5242880 bytes (over 65536)" */
  notes: string[];
  /** set when the message as a whole must be rejected (too big, too many attachments, not parseable as MIME at all, no From); candidates is then empty */
  rejectReason?: string;
}

/** PEM blocks read from one text or file at most; more are reported, not read. */
const MAX_PEM_BLOCKS_PER_PART = 100;
/** Notes kept at most; the rest are counted in one last note. */
const MAX_NOTES = 50;
/** Longest header section checked before parsing (mailparser's own per-part cap is 1 MiB). */
const MAX_HEADER_SCAN = 1024 * 1024;
/** Authentication-Results fields kept at most (a trusted MTA's is on top). */
const MAX_AUTH_RESULTS = 20;
/** Characters of the top-level text kept. */
const MAX_TEXT = 64 * 1024;
/** Longest candidate name kept. */
const MAX_NAME_LENGTH = 120;

const CSR_NAME = /\.(csr|req|pem|der|p10)$/i;
const DER_NAME = /\.(der|p10)$/i;
const PKCS10_TYPES = new Set(["application/pkcs10", "application/x-pkcs10"]);
const MESSAGE_TYPES = new Set(["message/rfc822", "message/global"]);
/** Detached signatures of signed mail (S/MIME, OpenPGP): expected, not worth a note. */
const SIGNATURE_TYPES = new Set([
  "application/pkcs7-signature",
  "application/x-pkcs7-signature",
  "application/pgp-signature",
]);
/** Certificate labels (RFC 7468 §5.1; "X509 CERTIFICATE" is the legacy one). */
const CERT_LABELS = new Set(["CERTIFICATE", "X509 CERTIFICATE"]);

/**
 * mailparser settings: no HTML/text conversions (the HTML is stripped here, cheaply), no
 * checksums, and every message/rfc822 part kept as an attachment so that nesting is followed
 * here, under {@link MailLimits.maxDepth}.
 */
const PARSER_OPTIONS: SimpleParserOptions = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  keepCidLinks: true,
  checksumAlgo: false,
  ignoreEmbedded: true,
};

/**
 * Reads a raw message and finds the certificate requests in it.
 *
 * Candidates come from attachments typed application/pkcs10 (or x-pkcs10) or named *.csr,
 * *.req, *.pem, *.der, *.p10, from PEM blocks in text parts (text/plain, and text/html with
 * the tags stripped), and from forwarded messages (message/rfc822) down to
 * {@link MailLimits.maxDepth}. A message without a candidate is not rejected: the caller
 * decides what to answer.
 *
 * Never throws for any input bytes (fuzz it); a thrown error is a bug.
 */
export async function parseMail(raw: Buffer, limits?: Partial<MailLimits>): Promise<ParsedMail> {
  const lim = resolveLimits(limits);
  const out: ParsedMail = {
    messageId: undefined,
    from: undefined,
    replyTo: undefined,
    returnPath: undefined,
    subject: "",
    date: undefined,
    authResults: [],
    autoSubmitted: false,
    text: "",
    candidates: [],
    notes: [],
  };
  if (!(raw instanceof Uint8Array)) return reject(out, "the message is not a byte buffer");
  const u8: Uint8Array = raw;
  const bytes = Buffer.isBuffer(u8) ? u8 : Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
  if (bytes.length === 0) return reject(out, "the message is empty");
  if (bytes.length > lim.maxMessageBytes)
    return reject(out, `the message is too large (${bytes.length} bytes; at most ${lim.maxMessageBytes})`);
  const shape = checkHeaderSection(bytes);
  if (shape) return reject(out, shape);
  const mail = await parseMime(bytes);
  if (typeof mail === "string") return reject(out, `the message could not be parsed as MIME (${mail})`);

  readEnvelope(mail, out);
  if (out.from === undefined) {
    const hasFrom = mail.headerLines.some((l) => l.key === "from");
    return reject(
      out,
      hasFrom ? "the From header holds no usable address" : "the message has no From header",
    );
  }
  const multipart = checkMultipart(mail, bytes);
  if (multipart.fatal) return reject(out, multipart.fatal);

  const walk = new Walk(lim, out.notes);
  if (multipart.note) walk.note(multipart.note);
  const tooMany = await walk.message(mail, 0, undefined);
  if (tooMany) return reject(out, tooMany);
  out.candidates = walk.candidates;
  return out;
}

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

function reject(out: ParsedMail, reason: string): ParsedMail {
  out.candidates = [];
  out.rejectReason = reason;
  return out;
}

function resolveLimits(limits: Partial<MailLimits> | undefined): MailLimits {
  const pick = (k: keyof MailLimits): number => {
    const v = limits?.[k];
    return typeof v === "number" && v >= 0 && !Number.isNaN(v) ? Math.floor(v) : DEFAULT_MAIL_LIMITS[k];
  };
  return {
    maxMessageBytes: pick("maxMessageBytes"),
    maxAttachments: pick("maxAttachments"),
    maxCandidateBytes: pick("maxCandidateBytes"),
    maxDepth: pick("maxDepth"),
  };
}

/** Runs mailparser; its error message (one line) when it gives up. */
async function parseMime(bytes: Buffer): Promise<MailparserMail | string> {
  try {
    return await simpleParser(bytes, PARSER_OPTIONS);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return oneLine(msg).slice(0, 200) || "unknown error";
  }
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
function checkHeaderSection(bytes: Buffer): string | undefined {
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
function checkMultipart(mail: MailparserMail, bytes: Buffer): { fatal?: string; note?: string } {
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

function structured(v: HeaderValue | undefined): StructuredHeader | undefined {
  const one = Array.isArray(v) ? v[0] : v;
  if (one && typeof one === "object" && !(one instanceof Date) && "value" in one && "params" in one) {
    const s = one as StructuredHeader;
    if (typeof s.value === "string") return s;
  }
  return undefined;
}

/** Fills the envelope fields of `out` from the parsed headers. */
function readEnvelope(mail: MailparserMail, out: ParsedMail): void {
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

/** Collects candidates and notes over a message and the messages forwarded in it. */
class Walk {
  readonly candidates: CsrCandidate[] = [];
  private readonly seen = new Set<string>();
  private readonly names = new Set<string>();
  private attachments = 0;
  private unnamed = 0;
  private dropped = 0;

  constructor(
    private readonly lim: MailLimits,
    private readonly notes: string[],
  ) {}

  /** Adds a note, up to {@link MAX_NOTES}. */
  note(text: string): void {
    if (this.notes.length < MAX_NOTES - 1) {
      this.notes.push(text);
      return;
    }
    this.dropped++;
    const last = `${this.dropped} more note${this.dropped === 1 ? "" : "s"} left out`;
    if (this.notes.length < MAX_NOTES) this.notes.push(last);
    else this.notes[MAX_NOTES - 1] = last;
  }

  /** Reads one (possibly forwarded) message; returns a reject reason when there are too many attachments. */
  async message(
    mail: MailparserMail,
    depth: number,
    within: string | undefined,
  ): Promise<string | undefined> {
    const where = within === undefined ? "" : ` in forwarded message ${within}`;
    this.attachments += mail.attachments.length;
    if (this.attachments > this.lim.maxAttachments)
      return `too many attachments (${this.attachments}; at most ${this.lim.maxAttachments})`;

    if (typeof mail.text === "string") this.scanText(mail.text, "body", false, where);
    if (typeof mail.html === "string") this.scanText(htmlToText(mail.html), "body", false, where);

    for (const a of mail.attachments) {
      const tooMany = await this.attachment(a, depth, where);
      if (tooMany) return tooMany;
    }
    return undefined;
  }

  private async attachment(a: Attachment, depth: number, where: string): Promise<string | undefined> {
    const type = (a.contentType || "application/octet-stream").toLowerCase();
    const rawName = typeof a.filename === "string" ? cleanName(a.filename) : "";
    const label = rawName || `attachment#${++this.unnamed}`;
    const content: Buffer = Buffer.isBuffer(a.content) ? a.content : Buffer.alloc(0);

    if (MESSAGE_TYPES.has(type)) return this.forwarded(content, label, depth, where);
    if (SIGNATURE_TYPES.has(type)) return undefined;

    const named = CSR_NAME.test(rawName);
    const pkcs10 = PKCS10_TYPES.has(type);
    if (!named && !pkcs10) {
      // A request pasted into a text file ("csr.txt") is read like a body.
      if (type === "text/plain" && this.scanText(content.toString("utf8"), label, false, where) > 0)
        return undefined;
      this.note(`ignored attachment ${label} (${clip(type, 80)})${where}`);
      return undefined;
    }
    if (content.length === 0) {
      this.note(`attachment ${label} is empty${where}`);
      return undefined;
    }
    if (content.length > this.lim.maxCandidateBytes) {
      this.note(
        `attachment ${label} is ${content.length} bytes (over ${this.lim.maxCandidateBytes})${where}`,
      );
      return undefined;
    }
    const text = content.toString("latin1");
    if (text.includes("-----BEGIN ")) {
      const notesBefore = this.notes.length + this.dropped;
      if (this.scanText(text, label, true, where) === 0 && this.notes.length + this.dropped === notesBefore)
        this.note(`attachment ${label} holds no certificate request${where}`);
      return undefined;
    }
    if (content[0] === 0x30) {
      this.add(label, content, undefined);
      return undefined;
    }
    const bare = bareBase64Der(text);
    if (bare) {
      this.add(label, bare, undefined);
      return undefined;
    }
    if (pkcs10 || DER_NAME.test(rawName)) {
      // The CSR reader says precisely what is wrong with it.
      this.add(label, content, undefined);
      return undefined;
    }
    this.note(`attachment ${label} holds no certificate request (neither PEM nor DER)${where}`);
    return undefined;
  }

  private async forwarded(
    content: Buffer,
    label: string,
    depth: number,
    where: string,
  ): Promise<string | undefined> {
    if (depth + 1 > this.lim.maxDepth) {
      this.note(
        `did not look inside forwarded message ${label} (nested more than ${this.lim.maxDepth} deep)${where}`,
      );
      return undefined;
    }
    const shape = content.length === 0 ? "it is empty" : checkHeaderSection(content);
    if (shape) {
      this.note(`could not read forwarded message ${label}${where}: ${shape}`);
      return undefined;
    }
    const inner = await parseMime(content);
    if (typeof inner === "string") {
      this.note(`could not read forwarded message ${label}${where}: ${inner}`);
      return undefined;
    }
    const mp = checkMultipart(inner, content);
    if (mp.fatal) {
      this.note(`could not read forwarded message ${label}${where}: ${mp.fatal}`);
      return undefined;
    }
    return this.message(inner, depth + 1, label);
  }

  /**
   * Adds the PEM blocks of `text` that may be requests; from an attachment (`file`) a
   * certificate block is also a candidate. Returns how many candidate blocks were found
   * (duplicates included).
   */
  private scanText(text: string, name: string, file: boolean, where: string): number {
    const what = file ? `attachment ${name}` : name === "body" ? "the body" : `attachment ${name}`;
    const found = findPemBlocks(text);
    let n = 0;
    for (const b of found.blocks) {
      if (b.label.includes("PRIVATE KEY")) {
        this.note(
          `${what}${where} holds a private key (${b.label}); it was ignored, and is no longer secret: make a new key`,
        );
        continue;
      }
      const isCsr = b.label.includes("CERTIFICATE REQUEST");
      if (!isCsr && !(file && CERT_LABELS.has(b.label))) {
        if (file) this.note(`ignored a ${b.label} PEM block in ${what}${where}`);
        continue;
      }
      if (b.error) {
        this.note(`the ${b.label} PEM block in ${what}${where} is malformed (${b.error})`);
        continue;
      }
      n++;
      const pem = Buffer.from(toPem(b.der, b.label), "latin1");
      if (pem.length > this.lim.maxCandidateBytes) {
        this.note(
          `the ${b.label} PEM block in ${what}${where} is ${pem.length} bytes (over ${this.lim.maxCandidateBytes})`,
        );
        continue;
      }
      this.add(name, pem, b.label, b.der);
    }
    for (const label of new Set(found.unterminated)) {
      if (label.includes("CERTIFICATE REQUEST") || (file && CERT_LABELS.has(label)))
        this.note(`the ${label} PEM block in ${what}${where} has no END line`);
    }
    if (found.truncated)
      this.note(`stopped reading PEM blocks in ${what}${where} after ${MAX_PEM_BLOCKS_PER_PART}`);
    return n;
  }

  private add(name: string, data: Buffer, pemLabel: string | undefined, der: Buffer = data): void {
    const key = der.toString("base64");
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const c: CsrCandidate = { name: this.unique(name), data };
    if (pemLabel !== undefined) c.pemLabel = pemLabel;
    this.candidates.push(c);
  }

  private unique(name: string): string {
    let n = name;
    for (let i = 2; this.names.has(n); i++) n = `${name}#${i}`;
    this.names.add(n);
    return n;
  }
}

/** A PEM block found in text: its DER, or why it could not be decoded. */
interface FoundBlock {
  label: string;
  der: Buffer;
  error?: string;
}

const BEGIN_RE = /-----BEGIN ([A-Z0-9 #]{1,80})-----/g;
const END_RE = /-----END ([A-Z0-9 #]{1,80})-----/g;

/**
 * Finds PEM blocks (RFC 7468) in text as people paste them into mail: lines may be indented or
 * quoted ("> "), wrapped at any width, and separated by CRLF; RFC 1421 header lines are skipped.
 * A BEGIN line without its END line (before the next BEGIN) is reported in `unterminated`.
 * Linear in the text: END lines are indexed once.
 */
function findPemBlocks(text: string): { blocks: FoundBlock[]; unterminated: string[]; truncated: boolean } {
  const blocks: FoundBlock[] = [];
  const unterminated: string[] = [];
  if (!text.includes("-----BEGIN ")) return { blocks, unterminated, truncated: false };
  const ends = new Map<string, number[]>();
  for (const m of text.matchAll(END_RE)) {
    const list = ends.get(m[1]!) ?? [];
    list.push(m.index);
    ends.set(m[1]!, list);
  }
  const re = new RegExp(BEGIN_RE.source, "g");
  let m: RegExpExecArray | null;
  let seen = 0;
  while ((m = re.exec(text))) {
    if (++seen > MAX_PEM_BLOCKS_PER_PART) return { blocks, unterminated, truncated: true };
    const label = m[1]!;
    const bodyStart = m.index + m[0].length;
    const endAt = firstAtOrAfter(ends.get(label), bodyStart);
    const nextBegin = text.indexOf("-----BEGIN ", bodyStart);
    if (endAt === undefined || (nextBegin !== -1 && nextBegin < endAt)) {
      unterminated.push(label);
      continue;
    }
    blocks.push(decodePemBody(label, text.slice(bodyStart, endAt)));
    re.lastIndex = endAt + `-----END ${label}-----`.length;
  }
  return { blocks, unterminated, truncated: false };
}

function firstAtOrAfter(sorted: number[] | undefined, pos: number): number | undefined {
  if (!sorted) return undefined;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < pos) lo = mid + 1;
    else hi = mid;
  }
  return sorted[lo];
}

function decodePemBody(label: string, body: string): FoundBlock {
  let b64 = "";
  for (const rawLine of body.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/^[\s>]+/, "").trim();
    if (!line || /^[A-Za-z][A-Za-z0-9-]*:/.test(line)) continue;
    b64 += line.replace(/\s+/g, "");
  }
  const empty = Buffer.alloc(0);
  if (!b64) return { label, der: empty, error: "it is empty" };
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.replace(/=+$/, "").length % 4 === 1)
    return { label, der: empty, error: "bad base64" };
  return { label, der: Buffer.from(b64, "base64") };
}

/** A whole file of unarmoured base64 whose content looks like DER (some tools write that). */
function bareBase64Der(text: string): Buffer | undefined {
  const b64 = text.replace(/\s+/g, "");
  if (b64.length < 8 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const der = Buffer.from(b64, "base64");
  return der[0] === 0x30 ? der : undefined;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/** Tags after which the text goes on on a new line (opening or closing). */
const LINE_TAGS = new Set(["br", "p", "div", "pre", "li", "tr", "td", "h1", "h2", "h3", "h4", "h5", "h6"]);

/**
 * The text of an HTML body, enough to find PEM blocks in it: line-breaking tags become newlines,
 * other tags and comments go, and character references are decoded. A hand-written scanner,
 * linear in the input: the obvious regular expressions (`/<[^>]*>/g`) are quadratic on a body
 * of unclosed "<", and a body may be megabytes.
 */
function htmlToText(html: string): string {
  let out = "";
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf("<", i);
    if (lt === -1) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    if (html.startsWith("<!--", lt)) {
      const end = html.indexOf("-->", lt + 4);
      if (end === -1) break;
      i = end + 3;
      continue;
    }
    const gt = html.indexOf(">", lt + 1);
    if (gt === -1) {
      out += html.slice(lt);
      break;
    }
    const name = /^\/?([a-z0-9]+)/i.exec(html.slice(lt + 1, Math.min(gt, lt + 12)));
    if (name && LINE_TAGS.has(name[1]!.toLowerCase())) out += "\n";
    i = gt + 1;
  }
  return out
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (all, ent: string) => {
      if (ent[0] === "#") {
        const cp = ent[1] === "x" || ent[1] === "X" ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
        return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : all;
      }
      return ENTITIES[ent.toLowerCase()] ?? all;
    })
    .replace(/\u00a0/g, " ");
}

/** A file name fit to show and to key candidates by: no directories, no control characters. */
function cleanName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? "";
  return clip(oneLine(base).trim(), MAX_NAME_LENGTH);
}

/** Replaces control characters (line breaks included) by spaces. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, " ");
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
