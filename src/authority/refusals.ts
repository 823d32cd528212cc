/**
 * Refusals in the audit log, bounded (DESIGN.md trust model: "every refusal is audited,
 * aggregated per source and minute"). The admin API (bad tokens), the web portal (CSRF,
 * rate limit) and the ACME server (rejected identifiers, unauthorized requests) record
 * each refusal here instead of appending an event each: anyone who can reach a listener
 * could otherwise grow the log without bound.
 *
 * Per (source, action) and clock minute, the first refusal is appended at once, as its own
 * event with its details; the others of that minute are only counted, and written as one
 * summary event of the same action when the minute ends (a timer) or the service stops:
 * `details: {summary: true, source, count, firstAt, lastAt, reasons}`, where `count` is
 * the refusals not recorded one by one (so events plus counts add up to every refusal).
 * At most {@link MAX_KEYS} (source, action) pairs are tracked per minute; refusals beyond
 * go to one `other.refused` summary (by action), so memory and events per minute are bounded.
 *
 * Sources name the caller as well as it is known: a token id the database knows
 * (`token-id:<id>`), an ACME account (`acme:<id>`), else the client's network
 * ({@link clientSource}: the IPv4 address, or the IPv6 /64).
 */
import { isIP } from "node:net";
import type { AuditDraft, Store } from "../store/types.js";
import { MinuteWindow } from "./minute-window.js";

/** Pairs of (source, action) tracked per minute before refusals go to the `other` summary. */
export const MAX_KEYS = 256;
/** Distinct reason labels counted per summary; others count as `other`. */
const MAX_REASONS = 16;

/** One refusal. */
export interface Refusal {
  /** The audit action, `<area>.<what>.refused` (e.g. `admin.token.refused`). */
  action: string;
  /** Who or where it came from (the aggregation key with `action`); also the actor. */
  source: string;
  /** The audit target of the first event. */
  target?: string | null;
  /** A short label counted in the summary (`unknown`, `csrf`, `rejectedIdentifier`, ...). */
  reason?: string;
  /** Details of the first event (the summary carries counts only). */
  details?: Record<string, unknown>;
}

/** What {@link RefusalLog} needs. */
export interface RefusalDeps {
  store: Pick<Store, "transaction">;
  clock: () => number;
  /** Told when an event cannot be written (the refusal itself stands). */
  onError?: (err: unknown) => void;
  /** Pairs tracked per minute (default {@link MAX_KEYS}). */
  maxKeys?: number;
  /** Writes a minute's summaries when it ends, on a timer (default true; tests call flush). */
  timer?: boolean;
}

interface Bucket {
  action: string;
  source: string;
  /** Refusals folded (not recorded one by one). */
  count: number;
  firstAt: number;
  lastAt: number;
  /** By reason (by action, for the `other` bucket). */
  by: Map<string, number>;
  /** The bucket of refusals past {@link MAX_KEYS} pairs. */
  other?: true;
}

/**
 * The source of a network client: `ip:<IPv4>`, `ip:<IPv6 /64>` (one host holds a whole
 * /64), or `unknown` when there is no address.
 */
export function clientSource(address: string | undefined): string {
  if (!address) return "unknown";
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return `ip:${v4[1]}`;
  if (isIP(address) !== 6) return isIP(address) === 4 ? `ip:${address}` : "unknown";
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = address.includes("::")
    ? [...left, ...new Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `ip:${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** Aggregates refusals per (source, action) and minute into a bounded number of audit events. */
export class RefusalLog extends MinuteWindow<Bucket> {
  private buckets = new Map<string, Bucket>();
  private other: Bucket | undefined;
  private readonly maxKeys: number;

  constructor(private readonly deps: RefusalDeps) {
    super(deps);
    this.maxKeys = deps.maxKeys ?? MAX_KEYS;
  }

  /**
   * Records a refusal: the first of its (source, action) this minute is appended now (and
   * awaited), the others are counted for the minute's summary. Never throws.
   */
  async record(r: Refusal): Promise<void> {
    const now = this.deps.clock();
    // A new minute: the last one's summaries first (taken at once, written now).
    await this.write(this.enter(now));
    const key = `${r.action}\u0000${r.source}`;
    const b = this.buckets.get(key);
    if (b) return fold(b, now, r.reason);
    if (this.buckets.size >= this.maxKeys) {
      this.other ??= {
        action: "other.refused",
        source: "sigil",
        count: 0,
        firstAt: now,
        lastAt: now,
        by: new Map(),
        other: true,
      };
      return fold(this.other, now, r.action);
    }
    this.buckets.set(key, {
      action: r.action,
      source: r.source,
      count: 0,
      firstAt: 0,
      lastAt: 0,
      by: new Map(),
    });
    this.schedule(now);
    await this.append({
      at: now,
      actor: r.source,
      action: r.action,
      target: r.target ?? null,
      details: { ...(r.details ?? {}), source: r.source, ...(r.reason ? { reason: r.reason } : {}) },
    });
  }

  /** Takes the minute's buckets that folded anything, leaving an empty minute. */
  protected take(): Bucket[] {
    const out = [...this.buckets.values()].filter((b) => b.count > 0);
    if (this.other) out.push(this.other);
    this.buckets = new Map();
    this.other = undefined;
    return out;
  }

  protected async write(buckets: Bucket[]): Promise<void> {
    for (const b of buckets)
      await this.append({
        at: this.deps.clock(),
        actor: b.source,
        action: b.action,
        target: null,
        details: {
          summary: true,
          source: b.source,
          count: b.count,
          firstAt: new Date(b.firstAt).toISOString(),
          lastAt: new Date(b.lastAt).toISOString(),
          [b.other ? "actions" : "reasons"]: Object.fromEntries(b.by),
        },
      });
  }

  private async append(e: AuditDraft): Promise<void> {
    try {
      await this.deps.store.transaction((tx) => tx.appendAudit(e));
    } catch (err) {
      this.deps.onError?.(err);
    }
  }

  protected pending(): boolean {
    return this.buckets.size > 0 || this.other !== undefined;
  }
}

function fold(b: Bucket, now: number, label: string | undefined): void {
  if (b.count === 0) b.firstAt = now;
  b.count++;
  b.lastAt = now;
  if (label === undefined) return;
  const k = b.by.has(label) || b.by.size < MAX_REASONS ? label : "other";
  b.by.set(k, (b.by.get(k) ?? 0) + 1);
}
