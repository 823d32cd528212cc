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
import { checkHeaderSection, checkMultipart, readEnvelope } from "./headers.js";
import { DEFAULT_MAIL_LIMITS } from "./types.js";
import type { MailLimits, ParsedMail } from "./types.js";
import { Walk, parseMime } from "./walk.js";

export { addressDomain } from "./headers.js";
export { DEFAULT_MAIL_LIMITS } from "./types.js";
export type { CsrCandidate, MailLimits, ParsedMail } from "./types.js";

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
