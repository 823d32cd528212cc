/**
 * Says in the log when a process of the daemon stalls, in the two ways that otherwise leave
 * only silence for an operator (or a test that timed out):
 *
 * - its event loop stopped running for seconds: a synchronous step that ran too long, or a
 *   machine that stopped the process. Meanwhile the process answers nothing: the primary
 *   accepts no connection for its workers (node:cluster hands them out from the primary),
 *   signs nothing and writes nothing; a worker answers no OCSP request;
 * - the primary's running write transaction does not end: every later write waits for it
 *   while the loop itself runs on.
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

/** What {@link watchWrites} reads: the store's write transactions (Store.writeState). */
export type WriteState = () => { since?: number; waiting: number };

/** Options of {@link watchWrites} (tests shorten them). */
export interface WriteWatchOptions {
  /** How often the state is read (ms). */
  everyMs?: number;
  /** How long a transaction must have run to be reported (ms). */
  reportMs?: number;
  /** The clock of `since` (ms, monotonic). */
  now?: () => number;
}

/**
 * Logs a warning, once per transaction, when this process's running write transaction has
 * run for `reportMs` or more: every later write of the process (issuance, revocation, ACME
 * nonces and orders, audit events) waits behind it. The event-loop watch does not see this
 * stall, since the loop keeps running. The timer keeps no process alive; the returned
 * function stops it.
 */
export function watchWrites(log: Logger, state: WriteState, opts: WriteWatchOptions = {}): () => void {
  const everyMs = opts.everyMs ?? 5000;
  const reportMs = opts.reportMs ?? 30_000;
  const now = opts.now ?? (() => performance.now());
  let reported: number | undefined;
  const timer = setInterval(() => {
    const { since, waiting } = state();
    if (since === undefined || since === reported) return;
    const runningMs = now() - since;
    if (runningMs < reportMs) return;
    reported = since;
    log.warn(
      { runningMs: Math.round(runningMs), waiting },
      "a store write transaction has been running for long: every later write of this process waits for it",
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
