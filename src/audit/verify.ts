/**
 * Verifies the audit hash chain (see chain.ts). Detects an edited event (its hash no longer
 * matches its content), deleted events (a gap in `seq` or a `prevHash` that does not link),
 * reordered events, a truncated tail (the separately recorded head is beyond the chain's
 * end) and tampering with the recorded head itself.
 */
import type { AuditEvent, StoredAuditEvent } from "../store/types.js";
import { GENESIS_HASH, chainHash, parsedChainHash, storedChainHash, type HashedLink } from "./chain.js";

/** The head of the chain as recorded apart from the events. */
export interface AuditHead {
  seq: number;
  hash: string;
}

/** The outcome of {@link verifyAuditChain}. */
export type AuditVerifyResult =
  | { ok: true; count: number; headHash: string }
  | {
      ok: false;
      /** Events read before the first problem (those verified intact). */
      count: number;
      /** The sequence number of the first event that is missing, altered or out of place. */
      firstBad: number;
      /** One line naming what is wrong, e.g. "event 12: hash does not match its content (edited?)". */
      reason: string;
    };

/** What the walk needs of an event once its hash is computed. */
export type ChainLink = Pick<AuditEvent, "seq" | "prevHash" | "hash">;

/**
 * The events to walk: one by one, or in batches (one await per batch, not per event): as the
 * store keeps them (`stored`: details unparsed, hashed by `storedChainHash`), or straight
 * from JSON.parse (`parsed`: an export's lines, hashed by `parsedChainHash`), or hashed
 * already (`hashed`: by `exportLineChainHash` or `parsedChainHash`). Every form gives the
 * same verdict for the same log.
 */
export type AuditEventSource =
  | AsyncIterable<AuditEvent>
  | { stored: AsyncIterable<readonly StoredAuditEvent[]> }
  | { parsed: AsyncIterable<readonly AuditEvent[]> }
  | { hashed: AsyncIterable<readonly HashedLink[]> };

/** Options of {@link verifyAuditChain}. */
export interface ChainWalkOptions {
  /**
   * Where `events` start: after event `seq` whose hash is `hash` (an export from a later
   * event). Default: the genesis.
   */
  start?: AuditHead;
  /**
   * Called with each event once its link is verified; a string it returns stops the walk
   * and is the reason the event fails (e.g. a checkpoint that does not hold there).
   */
  onEvent?: (e: ChainLink) => string | undefined;
}

/**
 * The walk along the chain, one event at a time: the state of {@link verifyAuditChain}
 * (the last event verified and how many), its checks of each event, and its checks of the
 * head at the end. Also used on a part of the log (audit/segment.ts), starting after that
 * part's first event, and to join the parts (log-verify.ts), so every path names the same
 * first bad event with the same words.
 */
export class ChainWalker {
  /** Events verified so far. */
  count: number;
  /** The last event verified (the start's when none). */
  prevSeq: number;
  prevHash: string;

  constructor(start: AuditHead = { seq: 0, hash: GENESIS_HASH }, count = 0) {
    this.prevSeq = start.seq;
    this.prevHash = start.hash;
    this.count = count;
  }

  /** A failure after the events verified so far. */
  bad(firstBad: number, reason: string): AuditVerifyResult & { ok: false } {
    return { ok: false, count: this.count, firstBad, reason };
  }

  /**
   * Checks one event whose content hashes to `computed`: a failure, or undefined when it
   * holds (it is then the last event verified).
   */
  step(e: ChainLink, computed: string): (AuditVerifyResult & { ok: false }) | undefined {
    const { prevSeq } = this;
    if (e.seq <= prevSeq) {
      return this.bad(e.seq, `event ${e.seq} follows ${prevSeq}: events out of order (reordered?)`);
    }
    if (e.seq !== prevSeq + 1) {
      const missing = e.seq - 1 === prevSeq + 1 ? `${prevSeq + 1}` : `${prevSeq + 1}..${e.seq - 1}`;
      return this.bad(prevSeq + 1, `event ${e.seq} follows ${prevSeq}: event(s) missing (${missing})`);
    }
    if (computed !== e.hash) {
      return this.bad(e.seq, `event ${e.seq}: hash does not match its content (edited?)`);
    }
    if (e.prevHash !== this.prevHash) {
      return this.bad(
        e.seq,
        prevSeq === 0
          ? `event ${e.seq}: does not start from the genesis hash (earlier events missing?)`
          : this.count === 0
            ? `event ${e.seq}: does not link to event ${prevSeq} of the export's start (event(s) replaced?)`
            : `event ${e.seq}: does not link to event ${prevSeq} (event(s) replaced or reordered?)`,
      );
    }
    this.prevSeq = e.seq;
    this.prevHash = e.hash;
    this.count++;
    return undefined;
  }

  /** The end of the walk: the recorded head checked as {@link verifyAuditChain} says. */
  end(head?: AuditHead | null): AuditVerifyResult {
    const { prevSeq, prevHash, count } = this;
    if (head === null) {
      if (count > 0)
        return this.bad(1, `audit head record is missing but the chain has ${count} event(s) (tampered?)`);
    } else if (head !== undefined) {
      if (head.seq > prevSeq) {
        const missing = head.seq === prevSeq + 1 ? `${head.seq}` : `${prevSeq + 1}..${head.seq}`;
        return this.bad(
          prevSeq + 1,
          `chain ends at event ${prevSeq} but the head records event ${head.seq}: event(s) ${missing} missing (truncated?)`,
        );
      }
      if (head.seq < prevSeq) {
        return this.bad(
          head.seq + 1,
          `the head records event ${head.seq} but the chain continues to ${prevSeq} (audit head tampered?)`,
        );
      }
      if (head.hash !== prevHash) {
        return this.bad(head.seq, `the head's hash does not match event ${head.seq} (audit head tampered?)`);
      }
    }
    return { ok: true, count, headHash: prevHash };
  }
}

/**
 * Walks `events` (in the order the store keeps them, by `seq`) and checks every link.
 *
 * `head` is the separately recorded chain head: pass it to detect a truncated tail or an
 * edited head; pass `null` to say the store has no head record (then a non-empty chain
 * fails, since the head row was removed); leave it `undefined` to skip the head check.
 */
export async function verifyAuditChain(
  events: AuditEventSource,
  head?: AuditHead | null,
  opts: ChainWalkOptions = {},
): Promise<AuditVerifyResult> {
  const walk = new ChainWalker(opts.start);

  /** Checks one event whose content hashes to `computed`: a failure, or undefined. */
  const step = (e: ChainLink, computed: string): AuditVerifyResult | undefined => {
    const r = walk.step(e, computed);
    if (r) return r;
    const stop = opts.onEvent?.(e);
    return stop === undefined ? undefined : walk.bad(e.seq, stop);
  };

  if ("stored" in events) {
    for await (const batch of events.stored)
      for (const e of batch) {
        const r = step(e, storedChainHash(e.prevHash, e));
        if (r) return r;
      }
  } else if ("hashed" in events) {
    for await (const batch of events.hashed)
      for (const e of batch) {
        const r = step(e, e.computed);
        if (r) return r;
      }
  } else if ("parsed" in events) {
    for await (const batch of events.parsed)
      for (const e of batch) {
        const r = step(e, parsedChainHash(e.prevHash, e));
        if (r) return r;
      }
  } else {
    for await (const e of events) {
      const r = step(e, chainHash(e.prevHash, e));
      if (r) return r;
    }
  }
  return walk.end(head);
}
