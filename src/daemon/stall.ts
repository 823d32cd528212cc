/**
 * Says in the log when a process of the daemon stopped running its event loop for seconds:
 * a synchronous step that ran too long (or a machine that stopped the process). While the
 * loop is blocked the process answers nothing: the primary accepts no connection for its
 * workers (node:cluster hands them out from the primary), signs nothing and writes nothing;
 * a worker answers no OCSP request. Without this line an operator (or a test that timed out)
 * sees only silence.
 */
import type { Logger } from "pino";

/** Options of {@link watchStalls} (tests shorten them). */
export interface StallWatchOptions {
  /** How often the timer runs (ms). */
  tickMs?: number;
  /** How late a tick must be to be reported (ms). */
  reportMs?: number;
  /** The clock (ms, monotonic). */
  now?: () => number;
}

/**
 * Runs a timer every `tickMs` and logs a warning, with how long the loop was blocked, when a
 * tick comes `reportMs` or more late. The timer keeps no process alive; the returned
 * function stops it.
 */
export function watchStalls(log: Logger, opts: StallWatchOptions = {}): () => void {
  const tickMs = opts.tickMs ?? 1000;
  const reportMs = opts.reportMs ?? 2000;
  const now = opts.now ?? (() => performance.now());
  let last = now();
  const timer = setInterval(() => {
    const at = now();
    const late = at - last - tickMs;
    last = at;
    if (late >= reportMs)
      log.warn(
        { blockedMs: Math.round(late) },
        "the event loop was blocked: this process answered nothing meanwhile",
      );
  }, tickMs);
  timer.unref();
  return () => clearInterval(timer);
}
