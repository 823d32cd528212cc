/**
 * What reading one e-mail takes and gives (see parse.ts): the limits, and the parsed
 * message with its certificate request candidates.
 */
import { MAX_CSR_BYTES } from "../x509/csr.js";

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
