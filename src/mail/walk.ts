/**
 * The MIME walk of one message: which parts and attachments may hold a certificate request
 * (RFC 2986 PKCS #10 as PEM, DER or pasted text), followed into forwarded messages under
 * the depth limit, with a note for each part skipped.
 */
import { simpleParser } from "mailparser";
import type { Attachment, ParsedMail as MailparserMail, SimpleParserOptions } from "mailparser";
import { checkHeaderSection, checkMultipart } from "./headers.js";
import { toPem } from "../x509/der.js";
import type { CsrCandidate, MailLimits } from "./types.js";
import {
  MAX_PEM_BLOCKS_PER_PART,
  bareBase64Der,
  cleanName,
  clip,
  findPemBlocks,
  htmlToText,
  oneLine,
} from "./text.js";

/** Notes kept at most; the rest are counted in one last note. */
const MAX_NOTES = 50;

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

/** Collects candidates and notes over a message and the messages forwarded in it. */
export class Walk {
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

/** Runs mailparser; its error message (one line) when it gives up. */
export async function parseMime(bytes: Buffer): Promise<MailparserMail | string> {
  try {
    return await simpleParser(bytes, PARSER_OPTIONS);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return oneLine(msg).slice(0, 200) || "unknown error";
  }
}
