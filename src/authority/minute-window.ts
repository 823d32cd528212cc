/**
 * What the bounded audit trails share (refusals.ts: refusals per source and minute;
 * admin-reads.ts: the admin API's reads per token and minute): a wall-clock minute whose
 * tallies are written as summary events when it ends (a timer, unref'd, just after the
 * minute), early when memory runs out, and at a clean stop. A subclass keeps the tallies
 * and says how to take and write them.
 */

/** One minute. */
export const MINUTE_MS = 60_000;

/** What a minute window needs. */
export interface MinuteWindowDeps {
  /** Epoch milliseconds; a fake clock in tests. */
  clock: () => number;
  /** Writes a minute's summaries when it ends, on a timer (default true; tests call flush). */
  timer?: boolean;
}

/** A minute of tallies of type `S`, written when it ends. */
export abstract class MinuteWindow<S> {
  /** The minute under way (epoch minutes), if anything was tallied in it. */
  protected window: number | undefined;
  /** After {@link close}: nothing is tallied any more. */
  protected closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowDeps: MinuteWindowDeps) {}

  /** Takes the tallies of the minute under way, leaving none. */
  protected abstract take(): S[];
  /** Writes summaries (never throws: a failure is the subclass's to report). */
  protected abstract write(summaries: S[]): Promise<void>;
  /** True while anything is tallied. */
  protected abstract pending(): boolean;

  /**
   * Moves to the minute of `now`: the tallies of a minute that has ended are taken (and
   * returned, for the caller to write after its own bookkeeping).
   */
  protected enter(now: number): S[] {
    const w = Math.floor(now / MINUTE_MS);
    if (w === this.window) return [];
    const ended = this.window !== undefined ? this.take() : [];
    this.window = w;
    return ended;
  }

  /** Writes the summaries of a minute that has ended (the timer calls this). */
  async flush(): Promise<void> {
    if (this.window !== undefined && Math.floor(this.windowDeps.clock() / MINUTE_MS) !== this.window) {
      const ended = this.take();
      this.window = undefined;
      await this.write(ended);
    }
  }

  /** Writes every pending summary, the current minute's too, and stops the timer (a clean stop). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const pending = this.take();
    this.window = undefined;
    await this.write(pending);
  }

  /** Wakes up just after the current minute ends, to write its summaries. */
  protected schedule(now: number): void {
    if (this.timer || this.closed || this.windowDeps.timer === false) return;
    const due = (Math.floor(now / MINUTE_MS) + 1) * MINUTE_MS - now + 100;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush().then(() => {
        if (this.pending()) this.schedule(this.windowDeps.clock());
      });
    }, due);
    this.timer.unref();
  }
}
