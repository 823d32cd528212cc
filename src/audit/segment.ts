/**
 * One part of the audit log verified on its own, pure (no I/O): the events with
 * `after < seq <= upto`, so that parts read by parallel readers (store/sqlite/audit-scan.ts)
 * are verified at the same time and then joined in order (log-verify.ts).
 *
 * Every event's hash is checked against its own stored fields and `prevHash`, and every link
 * inside the part against the event before it, exactly as the whole walk does
 * (verify.ts ChainWalker). What only the events before the part can decide is left to the
 * join: whether the part's first event follows the previous part's last (its seq, its
 * `prevHash`). The part also hashes its events' Merkle leaves (RFC 9162) into a
 * {@link MerkleRange}: the subtrees that the frontier of the events before it takes to give
 * the tree's root at every checkpoint size inside the part and at its end.
 *
 * The part stops at its first bad event: nothing after it counts, as in the whole walk.
 */
import type { StoredAuditEvent } from "../store/types.js";
import { storedChainHash } from "./chain.js";
import { leafBinaryOfHex, MerkleRange } from "./merkle.js";
import { ChainWalker, type ChainLink } from "./verify.js";

/** What a part of the log gave: plain data (it crosses threads). */
export interface AuditRangeSummary {
  /** The part: events with after < seq <= upto. */
  after: number;
  upto: number;
  /** Its first event (if it has any), with the hash its content gives: the join checks its link. */
  first?: ChainLink & { computed: string };
  /** The last event verified in the part (the first when only it). */
  last?: { seq: number; hash: string };
  /** Events verified in the part, the first included (its link to the part before is the join's). */
  count: number;
  /** The first bad event after the part's first: what the whole walk would say of it. */
  bad?: { firstBad: number; reason: string };
  /**
   * The Merkle subtrees ([root as a binary string, leaves]) of the leaves from position
   * `after` to `size`, for each checkpoint size asked for that the part's verified events
   * reach, and for the end of the part (the last verified event).
   */
  cuts: Array<{ size: number; subtrees: Array<[string, number]> }>;
}

/**
 * Verifies one part, event by event ({@link add}), then {@link summary}. `sizes` are the
 * checkpoint sizes (any order) whose roots the join checks.
 */
export class AuditRangeScan {
  #walk?: ChainWalker;
  #first?: ChainLink & { computed: string };
  #bad?: { firstBad: number; reason: string };
  readonly #tree: MerkleRange;
  readonly #cuts: AuditRangeSummary["cuts"] = [];
  readonly #sizes: ReadonlySet<number>;

  constructor(
    readonly after: number,
    readonly upto: number,
    sizes: Iterable<number>,
  ) {
    this.#tree = new MerkleRange(after);
    this.#sizes = new Set([...sizes].filter((n) => n > after && n <= upto));
  }

  /** Takes the next event (in seq order); false once the part has stopped at a bad event. */
  add(e: StoredAuditEvent): boolean {
    if (this.#bad !== undefined) return false;
    return this.addLink(e, storedChainHash(e.prevHash, e));
  }

  /**
   * Takes the next event, hashed already (`computed`: what its content gives, e.g. an export
   * line's `exportLineChainHash`); false once the part has stopped at a bad event.
   */
  addLink(e: ChainLink, computed: string): boolean {
    if (this.#bad !== undefined) return false;
    const walk = this.#walk;
    if (walk === undefined) {
      // The first event: its link is the join's. Its hash is checked there too (after its
      // seq), so a part whose first event does not hold stops here.
      this.#first = { seq: e.seq, prevHash: e.prevHash, hash: e.hash, computed };
      this.#walk = new ChainWalker({ seq: e.seq, hash: e.hash }, 1);
      if (computed !== e.hash || e.seq !== this.after + 1) {
        this.#bad = { firstBad: e.seq, reason: "the part's first event does not hold" };
        return false;
      }
    } else {
      const r = walk.step(e, computed);
      if (r !== undefined) {
        this.#bad = { firstBad: r.firstBad, reason: r.reason };
        return false;
      }
    }
    // Verified, and (a seq per leaf from after + 1 on) at leaf position seq - 1.
    this.#tree.pushBinary(leafBinaryOfHex(e.hash));
    if (this.#sizes.has(e.seq)) this.#cuts.push({ size: e.seq, subtrees: this.#tree.subtrees() });
    return true;
  }

  /** What the part gave. */
  summary(): AuditRangeSummary {
    const walk = this.#walk;
    const first = this.#first;
    const firstHolds = first !== undefined && first.computed === first.hash && first.seq === this.after + 1;
    const cuts = this.#cuts.slice();
    if (firstHolds && cuts.at(-1)?.size !== this.#tree.end)
      cuts.push({ size: this.#tree.end, subtrees: this.#tree.subtrees() });
    return {
      after: this.after,
      upto: this.upto,
      ...(first ? { first } : {}),
      ...(walk && firstHolds
        ? { last: { seq: walk.prevSeq, hash: walk.prevHash }, count: walk.count }
        : { count: 0 }),
      ...(this.#bad && firstHolds ? { bad: this.#bad } : {}),
      cuts: firstHolds ? cuts : [],
    };
  }
}

/** True when a part's summary means the verdict fails there: no later part is needed. */
export const partFails = (s: AuditRangeSummary): boolean =>
  s.bad !== undefined || (s.first !== undefined && s.last === undefined);

/**
 * The summaries of parts read in parallel (by position), in order up to the first part not
 * read. Readers leave a part unread only after one that fails (the verdict is decided
 * there); a gap anywhere else is an error, never a shorter log.
 */
export function partsInOrder(summaries: ReadonlyArray<AuditRangeSummary | undefined>): AuditRangeSummary[] {
  const out: AuditRangeSummary[] = [];
  for (const s of summaries) {
    if (s === undefined) {
      if (!out.some(partFails)) throw new Error("audit log read: a part was not read");
      break;
    }
    out.push(s);
  }
  return out;
}
