/**
 * The admin API's allowed calls in the audit log, with reads bounded: a console that polls
 * `GET status` every few seconds must not grow the log by one event a poll, while every
 * write is still evidenced one by one.
 *
 * - A write (policy/roles.ts {@link isReadAction} false: anything that changes state or
 *   signs) is appended at once, per call, as `admin.allow` (target: the action, details:
 *   method and path), in its own transaction, before the act: if it cannot be recorded the
 *   act does not happen.
 * - A read: per (actor, action) and wall-clock minute, the first is appended at once as the
 *   same `admin.allow` event (access is evidenced promptly, with its method and path; if it
 *   cannot be recorded the read is not served either). The other reads of that (actor,
 *   action) in that minute are only counted. When the minute is over (a timer, unref'd) or
 *   the service stops ({@link ReadAudit.close}), each actor with counted reads gets one
 *   `admin.reads` event: `details: {minute, counts: {action: n, ...}, total}`, `minute`
 *   being the minute's start (ISO 8601) and the counts the reads not recorded one by one,
 *   so that `admin.allow` events plus counts add up to every allowed read.
 * - Denials (`admin.deny`) and refused tokens are not this module's: they are appended per
 *   call (audit-trail.ts) or aggregated as refusals (refusals.ts), as before.
 *
 * Memory is bounded: at most {@link MAX_READ_KEYS} (actor, action) pairs are tracked; a read
 * of a new pair beyond that writes the minute's counts so far early (an actor may then have
 * two `admin.reads` events for one minute, which add up) and starts tracking afresh. More
 * distinct pairs than that in a minute (tokens times read actions) make reads cost up to
 * one event each again, never more.
 *
 * The counts live in memory until they are written: a crash (not a clean stop, which
 * writes them) loses at most the counts of the minute under way (and of the one just
 * ended, for the ~100 ms until the timer writes it); the first read of each (actor,
 * action) in that minute is in the log already.
 */
import { isReadAction, type AdminAction } from "../policy/roles.js";
import type { Store } from "../store/types.js";
import { recordAdminDecision } from "./audit-trail.js";
import { MINUTE_MS, MinuteWindow } from "./minute-window.js";

/** (actor, action) pairs tracked before the counts so far are written early. */
export const MAX_READ_KEYS = 1024;

/** What {@link ReadAudit} needs. */
export interface ReadAuditDeps {
  store: Pick<Store, "transaction">;
  /** Epoch milliseconds; a fake clock in tests. */
  clock: () => number;
  /** Told when a minute's counts cannot be written (the reads were served already). */
  onError?: (err: unknown) => void;
  /** Pairs tracked (default {@link MAX_READ_KEYS}). */
  maxKeys?: number;
  /** Writes a minute's counts when it ends, on a timer (default true; tests call flush). */
  timer?: boolean;
}

/** One actor's reads in the minute under way. */
interface ActorReads {
  /** The actions whose first read this minute was appended as `admin.allow`. */
  first: Set<AdminAction>;
  /** The reads counted (not appended one by one), by action. */
  counts: Map<AdminAction, number>;
}

/** One `admin.reads` event to write. */
interface Summary {
  actor: string;
  minute: number;
  counts: Map<AdminAction, number>;
}

/** Records the admin API's allowed calls: writes one by one, reads bounded per actor and minute. */
export class ReadAudit extends MinuteWindow<Summary> {
  private actors = new Map<string, ActorReads>();
  private keys = 0;
  private readonly maxKeys: number;

  constructor(private readonly deps: ReadAuditDeps) {
    super(deps);
    this.maxKeys = deps.maxKeys ?? MAX_READ_KEYS;
  }

  /**
   * Records that `actor` was allowed `action` (before the act): appended now for a write
   * or for the first read of (actor, action) this minute, else counted. Throws when an
   * event that had to be appended now could not be.
   */
  async allow(actor: string, action: AdminAction, details: Record<string, unknown>): Promise<void> {
    if (!isReadAction(action) || this.closed) return this.appendAllow(actor, action, details);
    const now = this.deps.clock();
    // All bookkeeping happens before the first await: concurrent calls see a consistent
    // state. A new minute: the last one's counts first (taken at once, written below).
    const ended = this.enter(now);
    const known = this.actors.get(actor);
    if (known?.first.has(action)) {
      known.counts.set(action, (known.counts.get(action) ?? 0) + 1);
      return this.write(ended);
    }
    if (this.keys >= this.maxKeys) ended.push(...this.take()); // early: memory stays bounded
    let reads = this.actors.get(actor);
    if (!reads) {
      reads = { first: new Set(), counts: new Map() };
      this.actors.set(actor, reads);
    }
    reads.first.add(action);
    this.keys++;
    this.schedule(now);
    await this.write(ended);
    try {
      await this.appendAllow(actor, action, details);
    } catch (e) {
      // Not recorded: the next read of this pair is a first one again.
      if (this.actors.get(actor) === reads && reads.first.delete(action)) this.keys--;
      throw e;
    }
  }

  private appendAllow(actor: string, action: AdminAction, details: Record<string, unknown>): Promise<void> {
    return recordAdminDecision(this.deps, actor, "admin.allow", action, details).then(() => undefined);
  }

  /** Takes the counts of the minute under way (those with any), leaving nothing tracked. */
  protected take(): Summary[] {
    const minute = (this.window ?? 0) * MINUTE_MS;
    const out: Summary[] = [];
    for (const [actor, r] of this.actors)
      if (r.counts.size > 0) out.push({ actor, minute, counts: r.counts });
    this.actors = new Map();
    this.keys = 0;
    return out;
  }

  protected async write(summaries: Summary[]): Promise<void> {
    for (const s of summaries) {
      let total = 0;
      for (const n of s.counts.values()) total += n;
      try {
        await recordAdminDecision(this.deps, s.actor, "admin.reads", null, {
          minute: new Date(s.minute).toISOString(),
          counts: Object.fromEntries(s.counts),
          total,
        });
      } catch (err) {
        this.deps.onError?.(err);
      }
    }
  }

  protected pending(): boolean {
    return this.actors.size > 0;
  }
}
