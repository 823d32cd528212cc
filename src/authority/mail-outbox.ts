/**
 * The mail outbox's use cases: which mails are due, claiming one for sending (so
 * `sigil serve` and a CLI command never both send it), and recording what became of it
 * (sent; failed and retried with backoff; given up) with its audit event. The SMTP edge
 * (mail/outbox.ts) only sends.
 */
import type { OutboxRecord, Store } from "../store/types.js";

/** Delay before attempt `n + 1` after `n` failures: 30 s, doubling, at most 1 hour. */
export function backoffMs(attempts: number): number {
  return Math.min(3_600_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

/** How long a claimed mail is left to its sender before another may try (longer than any SMTP timeout). */
const CLAIM_MS = 5 * 60_000;

/** What the outbox use cases need. */
export interface MailOutboxDeps {
  store: Pick<Store, "transaction" | "dueMail">;
  clock: () => number;
  /** Who sends (for the audit log), e.g. `serve`. */
  actor: string;
}

/** The outbox: due mails, claims and results. */
export class MailOutbox {
  constructor(private readonly deps: MailOutboxDeps) {}

  /** The mails due now, at most `limit`. */
  due(limit: number): Promise<OutboxRecord[]> {
    return this.deps.store.dueMail(this.deps.clock(), limit);
  }

  /** Claims mail `m` for sending; false when another sender has it. */
  async claim(m: OutboxRecord): Promise<boolean> {
    const at = this.deps.clock();
    return this.deps.store.transaction((tx) => tx.claimMail(m.id, at, at + CLAIM_MS));
  }

  /**
   * Records a failed attempt (the `attempts`-th) with its error: retried after
   * {@link backoffMs}, or given up (`giveUp`, state failed). Audit `mail.retry` / `mail.failed`.
   */
  async failed(m: OutboxRecord, attempts: number, error: string, giveUp: boolean): Promise<void> {
    const now = this.deps.clock();
    await this.deps.store.transaction(async (tx) => {
      await tx.updateMail(m.id, {
        attempts,
        lastError: error,
        ...(giveUp ? { state: "failed" as const } : { nextAttemptAt: now + backoffMs(attempts) }),
      });
      await tx.appendAudit({
        at: now,
        actor: this.deps.actor,
        action: giveUp ? "mail.failed" : "mail.retry",
        target: m.requestId !== null ? `request/${m.requestId}` : null,
        details: { kind: m.kind, to: m.to, attempts, error },
      });
    });
  }

  /** Records that mail `m` was sent at its `attempts`-th attempt. Audit `mail.sent`. */
  async sent(m: OutboxRecord, attempts: number): Promise<void> {
    const now = this.deps.clock();
    await this.deps.store.transaction(async (tx) => {
      await tx.updateMail(m.id, { state: "sent", attempts, sentAt: now, lastError: null });
      await tx.appendAudit({
        at: now,
        actor: this.deps.actor,
        action: "mail.sent",
        target: m.requestId !== null ? `request/${m.requestId}` : null,
        details: { kind: m.kind, to: m.to, attempts },
      });
    });
  }
}
