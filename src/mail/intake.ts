/**
 * One e-mail into the request queue: parse it, judge the sender, record its requests (or
 * its rejection) exactly once, keyed by Message-ID (or the message's hash). Shared by the
 * IMAP intake in `sigil serve` and `sigil intake mail < message.eml` (the handbook's
 * procmail recipe pipes here instead of into munpack).
 */
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { IntakeResult, RequestQueue } from "../authority/queue.js";
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
  const sender = judgeSender(config, mail);
  let refuse = mail.rejectReason ?? sender.refuse;
  if (!refuse && mail.candidates.length === 0)
    refuse = `no certificate request found in the message (attach the .csr/.req file or paste its PEM)${
      mail.notes.length ? `: ${mail.notes.slice(0, 3).join("; ")}` : ""
    }`;
  const replyTo = mail.replyTo ?? mail.from ?? null;
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
    },
    { key, origin },
  );
  return { ...result, key, mail };
}
