/**
 * Proof of a mailbox by a round trip (DESIGN.md, trust model): a request an auto-approval
 * rule would sign waits until each of its e-mail addresses is proven. A challenge (a random
 * 256-bit secret, only its hash stored) is mailed to each, queued in the outbox in the same
 * transaction; the answer (the portal's link, or a reply keeping the marker) proves it once,
 * before it expires. Each challenge and answer is audited here.
 */
import { createHash, randomBytes } from "node:crypto";
import { currentActor } from "../audit/actor.js";
import type { AutoApproveRule, Config } from "../config/schema.js";
import type { RequestRecord, Store, StoreTx } from "../store/types.js";
import type { GeneralName } from "../x509/types.js";
import { mailboxProofsTx, type MailboxProof } from "../store/mailbox-proofs.js";
import { challengeMail } from "./replies.js";

/** A challenge secret: 32 random bytes, base64url (43 characters). */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Lowercase hex SHA-256 of a challenge secret, as stored. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** What mailbox challenges need. */
export interface MailboxChallengeDeps {
  store: Pick<Store, "transaction">;
  config: Pick<Config, "mail" | "smtp" | "imap" | "publicUrl">;
  clock: () => number;
  /** Who is acting (an operator on the CLI, `serve`). */
  actor: string;
  /** Cryptographically secure random bytes (challenge secrets); default node:crypto. */
  random?: (n: number) => Buffer;
}

/** What {@link MailboxChallenges.confirm} recorded. */
export interface Confirmation {
  proof?: MailboxProof;
  reason?: string;
  requestId?: number;
}

/** Mailbox challenges: sending them and taking their answers. */
export class MailboxChallenges {
  constructor(private readonly deps: MailboxChallengeDeps) {}

  private now(): number {
    return this.deps.clock();
  }

  private audit(tx: StoreTx, action: string, target: string | null, details: Record<string, unknown>) {
    return tx.appendAudit({ at: this.now(), actor: currentActor(this.deps.actor), action, target, details });
  }

  /** The CA's own addresses: a challenge sent there would land in its own intake. */
  private ownAddress(a: string): boolean {
    const own = [this.deps.config.smtp?.from, this.deps.config.imap?.user].filter(
      (x): x is string => typeof x === "string",
    );
    return own.some((x) => x.toLowerCase() === a);
  }

  /**
   * A request a rule would sign once `unproven` addresses are proven: sends each a challenge
   * (once per request and address: a random 256-bit secret, only its hash stored, expiring
   * after `mail.challengeHours`), queued in the outbox in the same transaction, and records
   * the `mailbox-unconfirmed` check saying what it waits for.
   */
  async challenge(
    r: RequestRecord,
    rule: AutoApproveRule,
    unproven: string[],
    sans: GeneralName[],
  ): Promise<void> {
    const cfg = this.deps.config.mail;
    const random = this.deps.random ?? randomBytes;
    await this.deps.store.transaction(async (tx) => {
      const cur = await tx.getRequestForUpdate(r.id);
      if (!cur || cur.state !== "pending") return;
      const now = this.now();
      const px = mailboxProofsTx(tx);
      const existing = await px.ofRequest(r.id);
      const notes: string[] = [];
      for (const address of unproven) {
        const seen: MailboxProof | undefined = existing.find((p) => p.address === address);
        if (seen) {
          notes.push(
            seen.expiresAt !== null && seen.expiresAt <= now
              ? `the confirmation sent to ${address} expired at ${new Date(seen.expiresAt).toISOString()}: an operator decides`
              : `waiting for ${address} to confirm (mailed ${new Date(seen.createdAt).toISOString()}, until ${new Date(seen.expiresAt ?? now).toISOString()})`,
          );
          continue;
        }
        if (!cfg.mailboxChallenge || this.ownAddress(address)) {
          notes.push(
            !cfg.mailboxChallenge
              ? `${address} is not proven (no DKIM from a trusted MTA; mail.mailboxChallenge is off): an operator decides`
              : `${address} is the CA's own address and cannot be proven by mail: an operator decides`,
          );
          continue;
        }
        const token = random(32).toString("base64url");
        const expiresAt = now + cfg.challengeHours * 3_600_000;
        await px.insert({
          requestId: r.id,
          address,
          method: "challenge",
          tokenHash: tokenHash(token),
          createdAt: now,
          expiresAt,
          confirmedAt: null,
          confirmedVia: null,
        });
        await tx.enqueueMail(
          challengeMail(
            address,
            {
              requestId: r.id,
              subject: r.subject,
              names: sans.map((x) => x.value),
              caName: rule.ca,
              channel: r.channel,
              submitter: r.submitter,
              token,
              link: `${this.deps.config.publicUrl.replace(/\/+$/, "")}/confirm/${token}`,
              expiresAt,
            },
            now,
          ),
        );
        await this.audit(tx, "mailbox.challenge", `request/${r.id}`, { address, rule: rule.name, expiresAt });
        notes.push(`waiting for ${address} to confirm (mailed, until ${new Date(expiresAt).toISOString()})`);
      }
      await tx.updateRequest(r.id, {
        checks: [
          ...cur.checks.filter((c) => c.check !== "mailbox-unconfirmed" && c.check !== "auto-approval"),
          {
            check: "mailbox-unconfirmed",
            ok: false,
            detail: `rule ${rule.name} signs it once the mailbox is proven: ${notes.join("; ")}`,
          },
        ],
      });
    });
  }

  /**
   * Takes the answer to a mailbox challenge (its secret), single use, before it expires:
   * the address is proven for its request (or the refusal recorded). With `intake`, the
   * message that carried the secret is recorded as taken in, in the same transaction.
   */
  async confirm(
    token: string,
    via: "mail" | "web",
    intake?: { key: string; origin: string | null },
  ): Promise<Confirmation> {
    const now = this.now();
    const hash = TOKEN.test(token) ? tokenHash(token) : undefined;
    return this.deps.store.transaction(async (tx) => {
      const px = mailboxProofsTx(tx);
      const proof = hash ? await px.confirm(hash, now, via) : undefined;
      let reason: string | undefined;
      let requestId: number | undefined = proof?.requestId;
      if (!proof) {
        const seen = hash ? await px.byTokenHash(hash) : undefined;
        requestId = seen?.requestId;
        reason = !seen
          ? "no such confirmation (check the link, or copy the whole line from the mail)"
          : seen.confirmedAt !== null
            ? `this confirmation was already used (${new Date(seen.confirmedAt).toISOString()})`
            : `this confirmation expired at ${new Date(seen.expiresAt ?? now).toISOString()}: send the request again`;
        if (seen)
          await this.audit(tx, "mailbox.confirm.refused", `request/${seen.requestId}`, {
            address: seen.address,
            via,
            reason,
          });
      } else {
        const cur = await tx.getRequestForUpdate(proof.requestId);
        if (cur)
          await tx.updateRequest(cur.id, {
            checks: [
              ...cur.checks.filter((c) => c.check !== "mailbox-unconfirmed"),
              {
                check: "mailbox",
                ok: true,
                detail: `${proof.address}: confirmed by ${via === "web" ? "the link" : "a reply"} to the challenge mail`,
              },
            ],
          });
        await this.audit(tx, "mailbox.confirm", `request/${proof.requestId}`, {
          address: proof.address,
          via,
        });
      }
      if (intake)
        await tx.recordIntake({
          key: intake.key,
          channel: "mail",
          origin: intake.origin,
          receivedAt: now,
          outcome: proof ? "processed" : "rejected",
          reason: reason ?? null,
          requestIds: requestId !== undefined ? [requestId] : [],
          moved: false,
        });
      return { proof, reason, requestId };
    });
  }
}
