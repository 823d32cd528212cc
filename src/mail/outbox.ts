/**
 * The outbox sender: mails queued by decisions and notices (in the same transaction as
 * what they report) are sent by SMTP (nodemailer), retried with backoff on failure, and
 * given up after `smtp.maxAttempts`; every result goes to the outbox row and the audit log,
 * so failures show in `sigil requests show`. Sending never blocks issuance.
 */
import { readFileSync } from "node:fs";
import nodemailer, { type Transporter } from "nodemailer";
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import { readSecret } from "../config/secret.js";
import type { OutboxRecord, Store } from "../store/types.js";
import { MailOutbox } from "../authority/mail-outbox.js";

export { backoffMs } from "../authority/mail-outbox.js";

/** What one run did. */
export interface OutboxRun {
  sent: number;
  retrying: number;
  failed: number;
}

/** Sends the outbox. */
export class Outbox {
  /** The outbox use cases: due mails, claims, and the record of each result. */
  private readonly outbox: MailOutbox;

  constructor(
    store: Store,
    private readonly transport: Pick<Transporter, "sendMail" | "close">,
    private readonly from: string,
    private readonly maxAttempts: number,
    clock: () => number,
    actor: string,
  ) {
    this.outbox = new MailOutbox({ store, clock, actor });
  }

  /** An outbox over the config's `smtp` section (SigilError CONFIG without one). */
  static async fromConfig(store: Store, config: Config, clock: () => number, actor: string): Promise<Outbox> {
    const s = config.smtp;
    if (!s) throw new SigilError(ErrorCodes.CONFIG, "no smtp section in sigil.json: mails cannot be sent");
    const pass = await readSecret(s, "smtp");
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.secure,
      requireTLS: s.requireTls,
      ...(s.user ? { auth: { user: s.user, pass: pass ?? "" } } : {}),
      tls: { rejectUnauthorized: s.rejectUnauthorized, ...(s.caFile ? { ca: readFileSync(s.caFile) } : {}) },
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
    return new Outbox(store, transport, s.from, s.maxAttempts, clock, actor);
  }

  /** Sends what is due, at most `limit` mails. */
  async runOnce(limit = 100): Promise<OutboxRun> {
    const out: OutboxRun = { sent: 0, retrying: 0, failed: 0 };
    for (const m of await this.outbox.due(limit)) {
      const r = await this.send(m);
      if (r !== "skipped") out[r]++;
    }
    return out;
  }

  private async send(m: OutboxRecord): Promise<keyof OutboxRun | "skipped"> {
    // Claim it first: `sigil serve` and a CLI command may both be sending (no mail twice).
    if (!(await this.outbox.claim(m))) return "skipped";
    const attempts = m.attempts + 1;
    try {
      await this.transport.sendMail({
        from: this.from,
        to: m.to,
        subject: m.subject,
        text: m.body,
        headers: { "Auto-Submitted": "auto-replied" },
        attachments: m.attachments.map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          content: Buffer.from(a.base64, "base64"),
        })),
      });
    } catch (e) {
      const err = String((e as Error).message ?? e)
        .replace(/\s+/g, " ")
        .slice(0, 300);
      const giveUp = attempts >= this.maxAttempts;
      await this.outbox.failed(m, attempts, err, giveUp);
      return giveUp ? "failed" : "retrying";
    }
    await this.outbox.sent(m, attempts);
    return "sent";
  }

  /** Closes the SMTP connection(s). */
  close(): void {
    this.transport.close();
  }
}
