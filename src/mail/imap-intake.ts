/**
 * The IMAP intake loop of `sigil serve`: read the intake mailbox, take each message into the
 * request queue (recorded once, keyed by Message-ID: see mail/intake.ts), then move it to
 * Processed or Rejected. The move comes after the commit, so if Sigil dies between the two
 * the message is still in the mailbox, is recognised as taken in, and is only moved: never
 * lost, never processed twice. Waits with IDLE where the server has it, else polls.
 */
import type { Config } from "../config/schema.js";
import type { RequestQueue } from "../authority/queue.js";
import type { Store } from "../store/types.js";
import { readSecret } from "../config/secret.js";
import { ImapMailbox, type ImapLog } from "./imap.js";
import { takeMail } from "./intake.js";

/** Logger shape (pino). */
export interface IntakeLog extends ImapLog {
  error(o: object, m?: string): void;
}

/** What one pass did. */
export interface ImapPass {
  processed: number;
  rejected: number;
  duplicates: number;
  /** The pass took as many messages as it may: more are waiting, run again at once. */
  full: boolean;
}

/** Runs the IMAP intake. */
export class ImapIntake {
  private mb: ImapMailbox | undefined;

  constructor(
    private readonly queue: RequestQueue,
    /** Unused: the queue records what was moved (kept so the daemon's wiring is unchanged). */
    _store: Store,
    private readonly config: Config,
    private readonly log: IntakeLog,
  ) {}

  private async open(): Promise<ImapMailbox> {
    const c = this.config.imap!;
    const password = (await readSecret(c, "imap")) ?? "";
    const mb = await ImapMailbox.open(
      {
        host: c.host,
        port: c.port,
        secure: c.secure,
        starttls: c.starttls,
        rejectUnauthorized: c.rejectUnauthorized,
        ...(c.caFile ? { caFile: c.caFile } : {}),
        user: c.user,
        password,
        mailbox: c.mailbox,
        processedFolder: c.processedFolder,
        rejectedFolder: c.rejectedFolder,
        pollMs: c.pollSeconds * 1000,
      },
      this.log,
    );
    await mb.ensureFolders();
    return mb;
  }

  /** One pass over the mailbox (opens the connection when needed). */
  async runOnce(max = 200): Promise<ImapPass> {
    const c = this.config.imap!;
    if (!this.mb || this.mb.closed) this.mb = await this.open();
    const mb = this.mb;
    const out: ImapPass = { processed: 0, rejected: 0, duplicates: 0, full: false };
    const toProcessed: Array<{ uid: number; key: string }> = [];
    const toRejected: Array<{ uid: number; key: string }> = [];
    for (const m of await mb.fetch(max, c.maxMessageBytes)) {
      const origin = `imap:${c.mailbox}:${m.uidValidity}:${m.uid}`;
      let outcome: "processed" | "rejected";
      let key: string;
      if (m.raw.length === 0 && m.size > 0) {
        // Over the size limit: refused without downloading it.
        key = `mail:oversize:${m.uidValidity}:${m.uid}`;
        const r = await this.queue.take(
          [],
          {
            channel: "mail",
            submitter: null,
            replyTo: null,
            source: key,
            refuse: `message is ${m.size} bytes (at most ${c.maxMessageBytes})`,
            replyOnRefusal: false,
          },
          { key, origin },
        );
        outcome = r.outcome;
        if (r.duplicate) out.duplicates++;
      } else {
        const r = await takeMail(this.queue, this.config, m.raw, origin, c.maxMessageBytes);
        key = r.key;
        outcome = r.outcome;
        if (r.duplicate) out.duplicates++;
        this.log.info(
          {
            key: r.key,
            from: r.mail.from,
            outcome: r.outcome,
            duplicate: r.duplicate,
            requests: r.requests.map((x) => ({ id: x.id, state: x.state })),
            ...(r.reason ? { reason: r.reason } : {}),
          },
          "mail taken in",
        );
      }
      (outcome === "processed" ? toProcessed : toRejected).push({ uid: m.uid, key });
      out[outcome]++;
    }
    // The moves come after every commit of the pass, one command per folder (a round trip
    // per message was half the time per message); a crash before them only leaves messages
    // that the next pass recognises as taken in and moves.
    await mb.moveMany(
      toProcessed.map((x) => x.uid),
      c.processedFolder,
    );
    await mb.moveMany(
      toRejected.map((x) => x.uid),
      c.rejectedFolder,
    );
    const moved = [...toProcessed, ...toRejected];
    await this.queue.markMoved(moved.map((x) => x.key));
    out.full = out.processed + out.rejected >= max;
    return out;
  }

  /** Runs until `signal` aborts: a pass, then wait for new mail (IDLE) or the poll interval. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        const pass = await this.runOnce();
        failures = 0;
        if (pass.full) continue; // a backlog: no waiting until it is worked off
        await this.mb!.waitForChange(this.config.imap!.pollSeconds * 1000, signal);
      } catch (e) {
        failures++;
        this.log.error({ err: (e as Error).message, failures }, "IMAP intake failed; retrying");
        await this.mb?.close().catch(() => undefined);
        this.mb = undefined;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(60_000, 1000 * 2 ** Math.min(failures, 6)));
          signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
    await this.mb?.close().catch(() => undefined);
  }
}
