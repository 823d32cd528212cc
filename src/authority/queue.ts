/**
 * The request queue: every channel (CLI, drop folder, e-mail, later web and ACME) records
 * its requests here, with the checks run at intake; auto-approval rules sign what they
 * allow, operators approve or reject the rest. Replies are queued in the outbox in the same
 * transaction as the decision, so a reply is never lost and never sent for something that
 * did not happen.
 */
import { currentActor } from "../audit/actor.js";
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type {
  IntakeRecord,
  RequestChannel,
  RequestCheck,
  RequestRecord,
  RequestState,
  Store,
  StoreTx,
} from "../store/types.js";
import type { ParsedCsr } from "../x509/types.js";
import { parseCsr } from "../x509/csr.js";
import { formatDn, dnEmail } from "../x509/dn.js";
import { ruleMatches } from "../policy/auto-approve.js";
import { decideSubject, type SubjectPolicy } from "../policy/subject.js";
import { isEmailAddress } from "../x509/san.js";
import type { GeneralName } from "../x509/types.js";
import { mailboxProofs, mailboxProofsTx } from "../store/mailbox-proofs.js";
import { MailboxChallenges } from "./mailbox-challenge.js";
import { checkCandidate } from "./intake-checks.js";
import type { Authority, Issued } from "./authority.js";
import { issuedMail, rejectedMail, type MailDraft } from "./replies.js";

/** One candidate request (a file, an attachment, a pasted PEM block). */
export interface IntakeItem {
  /** File or attachment name, for messages and the audit log. */
  name: string;
  data: Buffer | string;
  /** The PEM label it came with, when it came as PEM. */
  pemLabel?: string;
}

/** Where a batch of candidates came from. */
export interface IntakeMeta {
  channel: RequestChannel;
  /** An e-mail address (mail, web) or a local user name (cli, drop). */
  submitter: string | null;
  /** Where replies go; null: no reply mails (local channels). */
  replyTo: string | null;
  /** `mail:<Message-ID>`, a file path, ... */
  source: string | null;
  caName?: string;
  profile?: string;
  /** A refusal of the whole message or file (sender not accepted, too many attachments, ...). */
  refuse?: string;
  /** Send a rejection mail for a whole-message refusal (false for forged senders: no backscatter). */
  replyOnRefusal?: boolean;
  /** Subject of the message, for the rejection mail. */
  subject?: string;
  /** The unguessable id a web requester follows the request by (one-item intakes only). */
  publicId?: string;
  /**
   * The submitter's address proven at intake: DKIM of the From domain verified by a trusted
   * MTA (mail/auth-results.ts). Recorded as a mailbox proof of each request.
   */
  provenSender?: { address: string; detail: string };
  /** SHA-256 (hex) of the web portal session that submitted (one-item intakes only). */
  sessionHash?: string;
}

/** What {@link RequestQueue.confirmMailbox} did. */
export type ConfirmResult =
  | { ok: true; request: RequestRecord; address: string; issued?: Issued }
  | { ok: false; reason: string; request?: RequestRecord };

/** What {@link RequestQueue.take} did. */
export interface IntakeResult {
  /** True when this message or file was taken in before (nothing done now). */
  duplicate: boolean;
  requests: RequestRecord[];
  outcome: "processed" | "rejected";
  reason: string | null;
  /** Requests signed at once by an auto-approval rule. */
  issued: Issued[];
}

/** Dependencies of the queue. */
export interface QueueDeps {
  authority: Authority;
  store: Store;
  config: Config;
  clock: () => number;
  /** Who is acting (an operator on the CLI, `serve`). */
  actor: string;
  /** False (or a function answering false) while the keys are locked: requests wait instead of being auto-approved. */
  autoApprove?: boolean | (() => boolean);
  /** Cryptographically secure random bytes (mailbox challenge secrets); default node:crypto. */
  random?: (n: number) => Buffer;
}

export { tokenHash } from "./mailbox-challenge.js";

/**
 * The addresses a request must have proven before a rule signs it: every e-mail SAN, and on
 * the mail and web channels the submitter's own address (where the certificate is mailed),
 * lower case, each once.
 */
function addressesToProve(r: RequestRecord, sans: GeneralName[]): string[] {
  const out = new Set(sans.filter((s) => s.type === "email").map((s) => s.value.toLowerCase()));
  if ((r.channel === "mail" || r.channel === "web") && r.submitter && isEmailAddress(r.submitter))
    out.add(r.submitter.toLowerCase());
  return [...out];
}

/** The request queue's use cases. */
export class RequestQueue {
  private readonly challenges: MailboxChallenges;

  constructor(private readonly deps: QueueDeps) {
    this.challenges = new MailboxChallenges(deps);
  }

  private now(): number {
    return this.deps.clock();
  }

  private audit(
    tx: StoreTx,
    action: string,
    target: string | null,
    details: Record<string, unknown>,
    actor?: string,
  ) {
    return tx.appendAudit({
      at: this.now(),
      actor: actor ?? currentActor(this.deps.actor),
      action,
      target,
      details,
    });
  }

  /**
   * Runs the intake checks on one candidate without recording anything (the web portal
   * refuses a bad submission outright instead of queueing a rejected request). `failed`
   * is the first failed check's detail, if any.
   */
  async inspect(
    item: IntakeItem,
    caName: string | undefined,
    profile: string | undefined,
  ): Promise<{ checks: RequestCheck[]; failed?: string }> {
    const c = await checkCandidate(this.deps.authority, item, caName, profile);
    return { checks: c.checks, failed: c.failed ?? c.checks.find((x) => !x.ok)?.detail };
  }

  /**
   * Takes in a batch of candidates from one message or file: runs the checks, records every
   * request (unreadable ones as rejected, with the reason), the intake record (when `key` is
   * given: a key seen before is not processed again) and the rejection mails, in one
   * transaction; then lets the auto-approval rules sign what they allow.
   */
  async take(
    items: IntakeItem[],
    meta: IntakeMeta,
    intake?: { key: string; origin: string | null },
  ): Promise<IntakeResult> {
    if (intake) {
      const seen = await this.deps.store.getIntake(intake.key);
      if (seen) return this.duplicateResult(seen);
    }
    const caName = meta.caName ?? this.deps.config.intake.ca;
    const profile = meta.profile ?? this.deps.config.intake.profile;
    const now = this.now();
    const checked = meta.refuse
      ? []
      : await Promise.all(items.map((i) => checkCandidate(this.deps.authority, i, caName, profile)));
    let reason: string | null = meta.refuse ?? null;
    if (!reason && items.length === 0)
      reason = "no certificate request found in the message (attach the .csr/.req file or paste its PEM)";
    const mails: MailDraft[] = [];
    let result: IntakeResult;
    try {
      result = await this.deps.store.transaction(async (tx) => {
        const requests: RequestRecord[] = [];
        for (const [i, c] of checked.entries()) {
          const item = items[i]!;
          const state: RequestState = c.failed ? "rejected" : "pending";
          const rec = await tx.insertRequest({
            channel: meta.channel,
            submitter: meta.submitter,
            email: c.csr
              ? (dnEmail(c.csr.subject) ?? c.csr.requestedSans.find((s) => s.type === "email")?.value ?? null)
              : null,
            receivedAt: now,
            // Only a parsed request is stored: bytes that are not one (a private key dropped or
            // linked in, a mail attachment) are refused and never kept, shown or logged.
            csrDer: c.csr ? c.csr.der : Buffer.alloc(0),
            subject: c.csr ? formatDn(c.csr.subject) : `(unreadable: ${item.name})`,
            caName: caName ?? null,
            profile: profile ?? null,
            state,
            reason: c.failed ?? null,
            certificateId: null,
            source: !meta.source
              ? item.name
              : meta.source.endsWith(item.name)
                ? meta.source
                : `${meta.source}#${item.name}`,
            checks:
              meta.provenSender && !c.failed
                ? [
                    ...c.checks,
                    {
                      check: "mailbox",
                      ok: true,
                      detail: `${meta.provenSender.address}: ${meta.provenSender.detail}`,
                    },
                  ]
                : c.checks,
            decidedBy: c.failed ? "intake" : null,
            decidedAt: c.failed ? now : null,
            replyTo: meta.replyTo,
            publicId: items.length === 1 ? (meta.publicId ?? null) : null,
          });
          requests.push(rec);
          if (!c.failed && meta.provenSender)
            await mailboxProofsTx(tx).insert({
              requestId: rec.id,
              address: meta.provenSender.address.toLowerCase(),
              method: "dkim",
              tokenHash: null,
              createdAt: now,
              expiresAt: null,
              confirmedAt: now,
              confirmedVia: "dkim",
            });
          if (meta.sessionHash && items.length === 1)
            await mailboxProofsTx(tx).setSession(rec.id, meta.sessionHash);
          await this.audit(tx, c.failed ? "request.reject" : "request.record", `request/${rec.id}`, {
            channel: meta.channel,
            submitter: meta.submitter,
            source: rec.source,
            subject: rec.subject,
            ...(c.failed ? { reason: c.failed } : {}),
            checks: c.checks.map((x) => `${x.check}:${x.ok ? "ok" : "failed"}`),
          });
          if (c.failed && meta.replyTo)
            mails.push(
              rejectedMail(meta.replyTo, { requestId: rec.id, subject: rec.subject, reason: c.failed }, now),
            );
        }
        const pending = requests.filter((r) => r.state === "pending");
        const outcome = pending.length ? "processed" : "rejected";
        if (outcome === "rejected" && !reason)
          reason = requests.map((r) => r.reason).find(Boolean) ?? "rejected";
        if (requests.length === 0) {
          await this.audit(tx, "intake.reject", meta.source, {
            channel: meta.channel,
            submitter: meta.submitter,
            reason,
          });
          if (meta.replyTo && meta.replyOnRefusal !== false)
            mails.push(rejectedMail(meta.replyTo, { subject: meta.subject, reason: reason! }, now));
        }
        for (const m of mails) await tx.enqueueMail(m);
        if (intake)
          await tx.recordIntake({
            key: intake.key,
            channel: meta.channel,
            origin: intake.origin,
            receivedAt: now,
            outcome,
            reason: outcome === "rejected" ? reason : null,
            requestIds: requests.map((r) => r.id),
            moved: false,
          });
        return {
          duplicate: false,
          requests,
          outcome,
          reason: outcome === "rejected" ? reason : null,
          issued: [],
        };
      });
    } catch (e) {
      // Two intakes of the same message at once: the other one won; report it as seen.
      if (intake && isSigilError(e, ErrorCodes.STORE) && e.details.duplicateIntake) {
        const seen = await this.deps.store.getIntake(intake.key);
        if (seen) return this.duplicateResult(seen);
      }
      throw e;
    }
    for (const r of result.requests) {
      if (r.state !== "pending") continue;
      const issued = await this.autoApprove(r);
      if (issued) result.issued.push(issued);
    }
    result.requests = await Promise.all(
      result.requests.map(async (r) => (await this.deps.store.getRequest(r.id)) ?? r),
    );
    return result;
  }

  /**
   * Records that the messages of intake keys `keys` were moved out of the inbox (after every
   * commit of an IMAP pass: a crash before leaves messages the next pass recognises and moves).
   */
  async markMoved(keys: string[]): Promise<void> {
    if (!keys.length) return;
    await this.deps.store.transaction(async (tx) => {
      for (const k of keys) await tx.markIntakeMoved(k);
    });
  }

  /** What was done with the message or file of intake key `key`, when it was taken in before. */
  async previously(key: string): Promise<IntakeResult | undefined> {
    const seen = await this.deps.store.getIntake(key);
    return seen ? this.duplicateResult(seen) : undefined;
  }

  private async duplicateResult(seen: IntakeRecord): Promise<IntakeResult> {
    const requests = (await Promise.all(seen.requestIds.map((id) => this.deps.store.getRequest(id)))).filter(
      (r): r is RequestRecord => r !== undefined,
    );
    return { duplicate: true, requests, outcome: seen.outcome, reason: seen.reason, issued: [] };
  }

  /**
   * Signs a pending request when an auto-approval rule allows it (config
   * `intake.autoApprove`); otherwise records why it waits. A rule approves names; every
   * e-mail address (and on mail and web, the submitter's) must also be proven by its
   * mailbox (DESIGN.md, trust model): DKIM recorded at intake, or a challenge sent here
   * and answered ({@link confirmMailbox}); until then the request waits, with a
   * `mailbox-unconfirmed` check. The subject is decided by policy (policy/subject.ts),
   * the certificate mailed only to the proven address. Returns what was issued.
   */
  async autoApprove(r: RequestRecord): Promise<Issued | undefined> {
    const on = this.deps.autoApprove;
    if (on === false || (typeof on === "function" && !on())) return undefined;
    const rules = this.deps.config.intake.autoApprove.filter((x) => x.channels.includes(r.channel));
    if (!rules.length) return undefined;
    let csr: ParsedCsr;
    try {
      csr = parseCsr(r.csrDer);
    } catch {
      return undefined;
    }
    const why: string[] = [];
    for (const rule of rules) {
      let sans: GeneralName[];
      try {
        const ev = await this.deps.authority.evaluate(rule.ca, csr, {
          ...(rule.profile ? { profile: rule.profile } : {}),
          ...(rule.days ? { days: rule.days } : {}),
        });
        sans = ev.sans;
      } catch (e) {
        if (!isSigilError(e) || e.kind !== "user") throw e;
        why.push(`${rule.name}: ${e.message}`);
        continue;
      }
      const v = ruleMatches(rule, { channel: r.channel, submitter: r.submitter, sans });
      if (!v.ok) {
        why.push(`${rule.name}: ${v.reason}`);
        continue;
      }
      const emails = sans.filter((x) => x.type === "email").map((x) => x.value);
      const need = addressesToProve(r, sans);
      const contact = need.includes((r.submitter ?? "").toLowerCase()) ? r.submitter!.toLowerCase() : null;
      const subjectPolicy: SubjectPolicy =
        r.channel === "acme"
          ? { kind: "identifiers" }
          : { kind: "validated", emails, contact, ...(rule.subject ? { allow: rule.subject } : {}) };
      try {
        // The subject as it would be signed: a request that cannot be (two CNs, a CN naming
        // an unproven address) waits for an operator before anyone is sent a challenge.
        decideSubject(csr.subject, sans, subjectPolicy);
      } catch (e) {
        if (!isSigilError(e) || e.kind !== "user") throw e;
        why.push(`${rule.name}: ${e.message}`);
        continue;
      }
      const proofs = await mailboxProofs(this.deps.store).ofRequest(r.id);
      const unproven = need.filter((a) => !proofs.some((p) => p.address === a && p.confirmedAt !== null));
      if (unproven.length) {
        await this.challenges.challenge(r, rule, unproven, sans);
        return undefined;
      }
      try {
        return await this.approve(
          r.id,
          {
            caName: rule.ca,
            ...(rule.profile ? { profile: rule.profile } : {}),
            ...(rule.days ? { days: rule.days } : {}),
            subjectPolicy,
            // The certificate goes to the proven address, never to a Reply-To (channels
            // that send no replies, such as the drop folder, stay silent).
            mailTo: r.replyTo === null ? null : (contact ?? emails[0]?.toLowerCase() ?? null),
          },
          `auto:${rule.name}`,
        );
      } catch (e) {
        if (!isSigilError(e) || e.kind !== "user") throw e;
        if (e.code === ErrorCodes.REQUEST_STATE) return undefined; // someone else decided first
        await this.deps.store.transaction(async (tx) => {
          await tx.updateRequest(r.id, {
            state: "failed",
            reason: e.message,
            decidedBy: `auto:${rule.name}`,
            decidedAt: this.now(),
          });
          await this.audit(
            tx,
            "request.fail",
            `request/${r.id}`,
            { rule: rule.name, reason: e.message },
            `auto:${rule.name}`,
          );
        });
        return undefined;
      }
    }
    await this.deps.store.transaction(async (tx) => {
      await tx.updateRequest(r.id, {
        checks: [
          ...r.checks.filter((c) => c.check !== "auto-approval"),
          { check: "auto-approval", ok: false, detail: `waits for an operator (${why.join("; ")})` },
        ],
      });
    });
    return undefined;
  }

  /**
   * Answers a mailbox challenge with its secret (the portal's confirmation page, or a reply
   * to the challenge mail keeping its marker): single use, before it expires. The address
   * is then proven for its request, and the auto-approval rules run again. With `intake`,
   * the message that carried the secret is recorded as taken in, in the same transaction.
   */
  async confirmMailbox(
    token: string,
    via: "mail" | "web",
    intake?: { key: string; origin: string | null },
  ): Promise<ConfirmResult> {
    const done = await this.challenges.confirm(token, via, intake);
    const request =
      done.requestId !== undefined ? await this.deps.store.getRequest(done.requestId) : undefined;
    if (!done.proof || !request)
      return { ok: false, reason: done.reason ?? "refused", ...(request ? { request } : {}) };
    const issued = request.state === "pending" ? await this.autoApprove(request) : undefined;
    return {
      ok: true,
      request: (await this.deps.store.getRequest(request.id)) ?? request,
      address: done.proof.address,
      ...(issued ? { issued } : {}),
    };
  }

  /** Runs the auto-approval rules over every pending request (after a restart or a config change). */
  async autoApprovePending(): Promise<number> {
    let n = 0;
    for (const r of await this.deps.store.listRequests({ state: "pending", limit: 1000 }))
      if (await this.autoApprove(r)) n++;
    return n;
  }

  /** The request, or a clear error. */
  async get(id: number): Promise<RequestRecord> {
    const r = await this.deps.store.getRequest(id);
    if (!r)
      throw new SigilError(ErrorCodes.REQUEST_NOT_FOUND, `no request ${id} (see 'sigil requests list')`);
    return r;
  }

  private checkDecidable(r: RequestRecord): void {
    if (r.state !== "pending" && r.state !== "failed")
      throw new SigilError(
        ErrorCodes.REQUEST_STATE,
        `request ${r.id} is ${r.state}${r.decidedBy ? ` (by ${r.decidedBy})` : ""}; only a pending request can be decided`,
      );
  }

  /**
   * Approves a request: signs it (the same code as `sigil sign`) under the CA and profile
   * given, or those it was queued for, and queues the certificate's mail to the requester.
   */
  async approve(
    id: number,
    opts: {
      caName?: string;
      profile?: string;
      days?: number;
      /** How the subject is decided (policy/subject.ts); default: ACME requests from their identifiers, others as the CSR says. */
      subjectPolicy?: SubjectPolicy;
      /** Where the certificate is mailed (a proven address); default: the request's reply address. */
      mailTo?: string | null;
    },
    actor?: string,
  ): Promise<Issued> {
    const by = actor ?? currentActor(this.deps.actor);
    const r = await this.get(id);
    this.checkDecidable(r);
    const caName = opts.caName ?? r.caName ?? this.deps.config.intake.ca;
    if (!caName) throw new SigilError(ErrorCodes.USAGE, `request ${id} is not meant for a CA yet: give --ca`);
    const chain = await this.deps.authority.chain(caName);
    const subjectPolicy: SubjectPolicy | undefined =
      opts.subjectPolicy ?? (r.channel === "acme" ? { kind: "identifiers" } : undefined);
    const mailTo = opts.mailTo !== undefined ? opts.mailTo : r.replyTo;
    return this.deps.authority.sign(r.csrDer, {
      caName,
      ...(subjectPolicy ? { subjectPolicy } : {}),
      ...((opts.profile ?? r.profile) ? { profile: (opts.profile ?? r.profile)! } : {}),
      ...(opts.days !== undefined ? { days: opts.days } : {}),
      channel: r.channel,
      submitter: r.submitter,
      source: r.source ?? `request/${id}`,
      requestId: id,
      decidedBy: by,
      afterIssue: async (tx, issued) => {
        await this.audit(
          tx,
          "request.approve",
          `request/${id}`,
          { ca: caName, serial: issued.cert.serialHex },
          by,
        );
        const to = this.deps.config.intake.replyTo === "certificate" ? (issued.cert.email ?? mailTo) : mailTo;
        if (to) await tx.enqueueMail(issuedMail(to, r, issued.cert, chain, this.now()));
      },
    });
  }

  /** Rejects a request with a reason, and queues the rejection mail to the requester. */
  async reject(id: number, reason: string, actor?: string): Promise<RequestRecord> {
    const by = actor ?? currentActor(this.deps.actor);
    const text = reason.replace(/\s+/g, " ").trim();
    if (!text)
      throw new SigilError(ErrorCodes.USAGE, "give a reason (--reason TEXT): the requester reads it");
    if (text.length > 500)
      throw new SigilError(ErrorCodes.USAGE, "the reason is too long (at most 500 characters)");
    const r = await this.get(id);
    this.checkDecidable(r);
    await this.deps.store.transaction(async (tx) => {
      const now = this.now();
      // Re-read and lock inside the transaction: a concurrent approve may have won.
      const cur = await tx.getRequestForUpdate(id);
      if (!cur) throw new SigilError(ErrorCodes.REQUEST_NOT_FOUND, `no request ${id}`);
      this.checkDecidable(cur);
      await tx.updateRequest(id, { state: "rejected", reason: text, decidedBy: by, decidedAt: now });
      await this.audit(tx, "request.reject", `request/${id}`, { reason: text, subject: r.subject }, by);
      if (r.replyTo)
        await tx.enqueueMail(
          rejectedMail(r.replyTo, { requestId: id, subject: r.subject, reason: text }, now),
        );
    });
    return this.get(id);
  }
}

/** A stable intake key for content with a name (drop folder files). */
export function contentKey(prefix: string, data: Buffer, name: string): string {
  return `${prefix}:${createHash("sha256").update(data).digest("hex")}:${name}`;
}
