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

/** Delay before attempt `n + 1` after `n` failures: 30 s, doubling, at most 1 hour. */
export function backoffMs(attempts: number): number {
  return Math.min(3_600_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

/** How long a claimed mail is left to its sender before another may try (longer than any SMTP timeout). */
const CLAIM_MS = 5 * 60_000;

/** What one run did. */
export interface OutboxRun {
  sent: number;
  retrying: number;
  failed: number;
}

/** Sends the outbox. */
export class Outbox {
  constructor(
    private readonly store: Store,
    private readonly transport: Pick<Transporter, "sendMail" | "close">,
    private readonly from: string,
    private readonly maxAttempts: number,
    private readonly clock: () => number,
    private readonly actor: string,
  ) {}

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
    for (const m of await this.store.dueMail(this.clock(), limit)) {
      const r = await this.send(m);
      if (r !== "skipped") out[r]++;
    }
    return out;
  }

  private async send(m: OutboxRecord): Promise<keyof OutboxRun | "skipped"> {
    // Claim it first: `sigil serve` and a CLI command may both be sending (no mail twice).
    const claimAt = this.clock();
    if (!(await this.store.transaction((tx) => tx.claimMail(m.id, claimAt, claimAt + CLAIM_MS))))
      return "skipped";
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
      const now = this.clock();
      await this.store.transaction(async (tx) => {
        await tx.updateMail(m.id, {
          attempts,
          lastError: err,
          ...(giveUp ? { state: "failed" as const } : { nextAttemptAt: now + backoffMs(attempts) }),
        });
        await tx.appendAudit({
          at: now,
          actor: this.actor,
          action: giveUp ? "mail.failed" : "mail.retry",
          target: m.requestId !== null ? `request/${m.requestId}` : null,
          details: { kind: m.kind, to: m.to, attempts, error: err },
        });
      });
      return giveUp ? "failed" : "retrying";
    }
    const now = this.clock();
    await this.store.transaction(async (tx) => {
      await tx.updateMail(m.id, { state: "sent", attempts, sentAt: now, lastError: null });
      await tx.appendAudit({
        at: now,
        actor: this.actor,
        action: "mail.sent",
        target: m.requestId !== null ? `request/${m.requestId}` : null,
        details: { kind: m.kind, to: m.to, attempts },
      });
    });
    return "sent";
  }

  /** Closes the SMTP connection(s). */
  close(): void {
    this.transport.close();
  }
}
