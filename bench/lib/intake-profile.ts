/**
 * Where `sigil serve`'s IMAP intake spends its time, measured in-process: the same objects
 * serve composes (openContext, RequestQueue, ImapIntake), with the steps of a message
 * wrapped in timers (IMAP fetch and move, the queue's intake, auto-approval, signing, every
 * store transaction), and runOnce called back to back until the mailbox is empty.
 *
 * The timers keep a stack of the wrapped calls in progress, so each step's own time
 * (exclusive of the wrapped steps inside it) is known; the intake handles one message at a
 * time, so the calls nest and never overlap (checked: an overlap is reported, not hidden).
 * Wrapping reaches into private methods of Authority (prepare, persist) by name: rough
 * attribution for a benchmark, nothing relies on it.
 */
import { createWriteStream } from "node:fs";
import { pino } from "pino";
import { openContext } from "../../src/cli/context.js";
import { RequestQueue } from "../../src/authority/queue.js";
import { Authority } from "../../src/authority/authority.js";
import { ImapIntake } from "../../src/mail/imap-intake.js";
import { ImapMailbox } from "../../src/mail/imap.js";
import { parseMail } from "../../src/mail/parse.js";

/** One step's totals. */
export interface StepTime {
  step: string;
  calls: number;
  /** Wall time inside the step, wrapped steps inside it included. */
  inclusiveMs: number;
  /** Wall time inside the step, wrapped steps inside it excluded. */
  exclusiveMs: number;
}

/** What {@link profileIntake} measured. */
export interface IntakeProfile {
  messages: number;
  processed: number;
  rejected: number;
  passes: number;
  /** Wall time of the runOnce calls (connection and log-in in the first one). */
  loopMs: number;
  steps: StepTime[];
  /** Wrapped calls that overlapped (should be 0: then exclusive times are exact). */
  overlaps: number;
  /** parseMail alone over the same raw messages, in a loop (ms per message). */
  parseMailMs: number;
}

type AnyFn = (...args: unknown[]) => unknown;

/** The timers and the call stack. */
class Timers {
  private readonly totals = new Map<string, StepTime>();
  private readonly stack: Array<{ step: string; t0: number; inner: number }> = [];
  overlaps = 0;

  private total(step: string): StepTime {
    let t = this.totals.get(step);
    if (!t) this.totals.set(step, (t = { step, calls: 0, inclusiveMs: 0, exclusiveMs: 0 }));
    return t;
  }

  /** The innermost step in progress, or "" at top level. */
  current(): string {
    return this.stack[this.stack.length - 1]?.step ?? "";
  }

  async time<T>(step: string, f: () => Promise<T>): Promise<T> {
    const frame = { step, t0: performance.now(), inner: 0 };
    this.stack.push(frame);
    try {
      return await f();
    } finally {
      const ms = performance.now() - frame.t0;
      if (this.stack[this.stack.length - 1] !== frame) this.overlaps++;
      const i = this.stack.lastIndexOf(frame);
      if (i >= 0) this.stack.splice(i, 1);
      const parent = this.stack[this.stack.length - 1];
      if (parent && i === this.stack.length) parent.inner += ms;
      const t = this.total(step);
      t.calls++;
      t.inclusiveMs += ms;
      t.exclusiveMs += ms - frame.inner;
    }
  }

  /** Replaces `obj[name]` (a method) with a timed one; returns the undo. */
  wrap(obj: object, name: string, step: string | (() => string)): () => void {
    const o = obj as Record<string, AnyFn>;
    const orig = o[name];
    if (typeof orig !== "function") throw new Error(`profile: no method ${name} to wrap`);
    const time = this.time.bind(this);
    o[name] = function (this: unknown, ...args: unknown[]) {
      const label = typeof step === "string" ? step : step();
      return time(label, async () => (await orig.apply(this, args)) as unknown);
    };
    return () => {
      o[name] = orig;
    };
  }

  results(): StepTime[] {
    return [...this.totals.values()];
  }
}

/**
 * Runs the intake in-process over the mailbox `home`'s sigil.json points at (IMAP section,
 * intake rules), with the keys unlocked as serve unlocks them, until the mailbox is empty.
 * `passphrase` unlocks the CA keys; `log` is where the pino lines go. Also times parseMail
 * alone over `raws`.
 */
export async function profileIntake(
  home: string,
  passphrase: string,
  logFile: string,
  raws: Buffer[],
  maxMessageBytes: number,
): Promise<IntakeProfile> {
  process.env.SIGIL_PASSPHRASE = passphrase;
  const ctx = await openContext({ home });
  const timers = new Timers();
  const undo: Array<() => void> = [];
  const logStream = createWriteStream(logFile);
  try {
    await ctx.authority.ensureResponders();
    delete process.env.SIGIL_PASSPHRASE;
    const queue = new RequestQueue({
      authority: ctx.authority,
      store: ctx.store,
      config: ctx.config,
      clock: () => Date.now(),
      actor: "serve",
      autoApprove: true,
    });
    const log = pino(logStream);
    const intake = new ImapIntake(queue, ctx.store, ctx.config, log);

    undo.push(timers.wrap(ImapMailbox.prototype, "fetch", "IMAP fetch (200 per pass)"));
    undo.push(timers.wrap(ImapMailbox.prototype, "move", "IMAP MOVE to Processed"));
    undo.push(timers.wrap(RequestQueue.prototype, "take", "queue.take: dedupe, CSR checks, policy"));
    undo.push(timers.wrap(RequestQueue.prototype, "autoApprove", "auto-approval: rules, evaluate"));
    undo.push(timers.wrap(Authority.prototype, "sign", "authority.sign: lookups, CSR parse"));
    undo.push(timers.wrap(Authority.prototype, "prepare", "certificate build + CA signature"));
    undo.push(timers.wrap(Authority.prototype, "persist", "persist: OCSP answer pre-signing"));
    undo.push(
      timers.wrap(ctx.store, "transaction", () => {
        const parent = timers.current();
        if (parent.startsWith("persist"))
          return "DB transaction: certificate, OCSP answer, audit, reply mail";
        if (parent.startsWith("queue.take")) return "DB transaction: request, audit, intake log";
        if (parent.startsWith("runOnce")) return "DB transaction: intake log marked moved";
        return `DB transaction (in ${parent})`;
      }),
    );

    let processed = 0;
    let rejected = 0;
    let passes = 0;
    const t0 = performance.now();
    for (;;) {
      const p = await timers.time("runOnce: parseMail, sender checks, log", () => intake.runOnce());
      if (p.processed + p.rejected === 0) break;
      passes++;
      processed += p.processed;
      rejected += p.rejected;
    }
    const loopMs = performance.now() - t0;
    for (const u of undo.splice(0).reverse()) u();
    await intake.run(AbortSignal.abort()); // an aborted run only logs out

    // parseMail alone: one warm-up round over a few, then every message once.
    for (const raw of raws.slice(0, 20)) await parseMail(raw, { maxMessageBytes });
    const p0 = performance.now();
    for (const raw of raws) await parseMail(raw, { maxMessageBytes });
    const parseMailMs = (performance.now() - p0) / Math.max(1, raws.length);

    return {
      messages: processed + rejected,
      processed,
      rejected,
      passes,
      loopMs,
      steps: timers.results(),
      overlaps: timers.overlaps,
      parseMailMs,
    };
  } finally {
    for (const u of undo.reverse()) u();
    delete process.env.SIGIL_PASSPHRASE;
    await ctx.close();
    await new Promise<void>((resolve) => logStream.end(resolve));
  }
}
