/**
 * One e-mail into the request queue: parse it, judge the sender, record its requests (or
 * its rejection) exactly once, keyed by Message-ID (or the message's hash). Shared by the
 * IMAP intake in `sigil serve` and `sigil intake mail < message.eml` (the handbook's
 * procmail recipe pipes here instead of into munpack).
 *
 * Headers are the sender's to write (DESIGN.md, trust model): the From address is only a
 * filter, and proves nothing unless the trusted receiving MTA verified a DKIM signature of
 * the From domain (mail/auth-results.ts). Otherwise an address is proven by the round trip
 * of a challenge mail; a reply keeping its marker line is taken here as the answer. Replies
 * go to the From address, never to a Reply-To; certificates only to a proven address.
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import { ErrorCodes, isSigilError } from "../errors.js";
import type { IntakeResult, RequestQueue } from "../authority/queue.js";
import { findConfirmToken } from "../authority/replies.js";
import { dkimVerdict } from "./auth-results.js";
import { addressDomain, parseMail, type ParsedMail } from "./parse.js";

/** The result of taking in one message. */
export interface MailIntakeResult extends IntakeResult {
  key: string;
  mail: ParsedMail;
}

/** The intake key of a message: its Message-ID, else a hash of its bytes. */
export function messageKey(raw: Buffer, mail: Pick<ParsedMail, "messageId">): string {
  return mail.messageId
    ? `mail:<${mail.messageId}>`
    : `mail:sha256:${createHash("sha256").update(raw).digest("hex")}`;
}

/**
 * Whether the sender may submit at all: a From address is needed; when the MTA recorded an
 * envelope sender (Return-Path) in another domain, the From is taken as forged (no reply is
 * sent to it: no backscatter); a domain outside `intake.acceptSenderDomains` is refused.
 */
export function judgeSender(config: Config, mail: ParsedMail): { refuse?: string; replyOnRefusal: boolean } {
  if (!mail.from) return { refuse: "the message has no From address", replyOnRefusal: false };
  // RFC 3834 §2: never answer a machine (no mail loops with auto-responders, or with Sigil).
  if (mail.autoSubmitted)
    return { refuse: "the message was sent automatically (Auto-Submitted)", replyOnRefusal: false };
  const fromDomain = addressDomain(mail.from);
  const envelope = addressDomain(mail.returnPath);
  if (envelope && fromDomain && envelope !== fromDomain)
    return {
      refuse: `sender ${mail.from} does not match the envelope sender ${mail.returnPath} (forged?)`,
      replyOnRefusal: false,
    };
  const accept = config.intake.acceptSenderDomains;
  if (accept && (!fromDomain || !accept.some((d) => d.toLowerCase() === fromDomain)))
    return {
      refuse: `sender domain ${fromDomain ?? "(none)"} is not accepted by this CA`,
      replyOnRefusal: true,
    };
  return { replyOnRefusal: true };
}

/** Takes in one raw message (see module doc); `origin` says where it was (an IMAP UID, stdin). */
export async function takeMail(
  queue: RequestQueue,
  config: Config,
  raw: Buffer,
  origin: string,
  maxMessageBytes?: number,
): Promise<MailIntakeResult> {
  const mail = await parseMail(raw, maxMessageBytes ? { maxMessageBytes } : {});
  const key = messageKey(raw, mail);
  // A reply to a challenge mail: its secret proves the mailbox (whoever the From claims).
  const token = mail.rejectReason ? undefined : findConfirmToken(mail.subject, mail.text);
  if (token && !mail.autoSubmitted && !isOwnAddress(config, mail.from)) {
    const seen = await queue.previously(key);
    if (seen) return { ...seen, key, mail };
    let c;
    try {
      c = await queue.confirmMailbox(token, "mail", { key, origin });
    } catch (e) {
      // The same message taken in twice at once: the other intake won (and rolled nothing back).
      if (isSigilError(e, ErrorCodes.STORE) && e.details.duplicateIntake) {
        const other = await queue.previously(key);
        if (other) return { ...other, key, mail };
      }
      throw e;
    }
    return {
      duplicate: false,
      requests: c.request ? [c.request] : [],
      outcome: c.ok ? "processed" : "rejected",
      reason: c.ok ? null : c.reason,
      issued: c.ok && c.issued ? [c.issued] : [],
      key,
      mail,
    };
  }
  const sender = judgeSender(config, mail);
  let refuse = mail.rejectReason ?? sender.refuse;
  if (!refuse && mail.candidates.length === 0)
    refuse = `no certificate request found in the message (attach the .csr/.req file or paste its PEM)${
      mail.notes.length ? `: ${mail.notes.slice(0, 3).join("; ")}` : ""
    }`;
  // Never a Reply-To: Sigil's replies must not be aimed at a third party by the sender.
  const replyTo = mail.from ?? null;
  const trusted = config.mail.trustedAuthservIds;
  const fromDomain = addressDomain(mail.from);
  const dkim =
    !refuse && mail.from && fromDomain && trusted.length
      ? dkimVerdict(mail.authResults, trusted, fromDomain)
      : undefined;
  const result = await queue.take(
    refuse
      ? []
      : mail.candidates.map((c) => ({
          name: c.name,
          data: c.data,
          ...(c.pemLabel ? { pemLabel: c.pemLabel } : {}),
        })),
    {
      channel: "mail",
      submitter: mail.from ?? null,
      replyTo: sender.replyOnRefusal || !refuse ? replyTo : null,
      source: key,
      subject: mail.subject,
      ...(refuse ? { refuse } : {}),
      replyOnRefusal: sender.replyOnRefusal,
      ...(dkim?.pass && mail.from ? { provenSender: { address: mail.from, detail: dkim.detail } } : {}),
    },
    { key, origin },
  );
  return { ...result, key, mail };
}

/** Whether `addr` is one of the CA's own addresses (its SMTP From, its IMAP user): its own mail is never an answer. */
function isOwnAddress(config: Config, addr: string | undefined): boolean {
  if (!addr) return false;
  const a = addr.toLowerCase();
  return [config.smtp?.from, config.imap?.user].some((x) => typeof x === "string" && x.toLowerCase() === a);
}
