/**
 * Verifies the audit log against its signed checkpoints, pure (no I/O): the hash chain
 * (verify.ts), every checkpoint's signature under a pinned key (checkpoint.ts), and that the
 * log's first N events hash to the root of every checkpoint of N events (RFC 9162 §2.1.1,
 * recomputed with a Merkle frontier while the events stream past). Recomputing each root
 * from the log is what an RFC 9162 §2.1.4 consistency proof between two checkpoints proves
 * to a verifier that lacks the events; here the events are at hand, so every checkpoint,
 * and the consistency of each with the next, is checked against them directly.
 *
 * An insider who can write the database but not the audit key can recompute every chain
 * hash and the head row, but not a checkpoint's signature: an edited, deleted or reordered
 * event under a checkpoint makes that checkpoint fail. Deleting the checkpoint rows too is
 * caught by the copy sent outside (`witness`: the checkpoint file, syslog, a witness URL).
 */
import type { AuditCheckpoint } from "../store/types.js";
import { auditKeyId, checkpointSignedBy } from "./checkpoint.js";
import { MerkleFrontier, verifyConsistency } from "./merkle.js";
import type { AuditRangeSummary } from "./segment.js";
import {
  ChainWalker,
  verifyAuditChain,
  type AuditEventSource,
  type AuditHead,
  type AuditVerifyResult,
  type ChainLink,
} from "./verify.js";

/**
 * The log's events for {@link verifyAuditLog}: a source to walk (verify.ts), or `ranges`,
 * which verifies the log in parts (audit/segment.ts, on parallel readers) and gives their
 * summaries in seq order; it is told the checkpoint sizes whose roots are checked.
 */
export type LogEventSource =
  AuditEventSource | { ranges: (sizes: readonly number[]) => Promise<readonly AuditRangeSummary[]> };

/** What {@link verifyAuditLog} checks. */
export interface LogVerifyInput {
  /** The events in seq order (from `start` when given), one by one or in batches, or verified in parts (not with `onEvent`). */
  events: LogEventSource;
  /** The separately recorded head (see verifyAuditChain); undefined: not checked. */
  head?: AuditHead | null;
  /** The checkpoints the log's own store holds. */
  checkpoints: readonly AuditCheckpoint[];
  /** Checkpoints from an outside copy (the checkpoint file, a witness), if given. */
  witness?: readonly AuditCheckpoint[];
  /** The trusted audit keys (DER SubjectPublicKeyInfo), pinned outside the database. */
  pinned: readonly Buffer[];
  /** Where `events` start (an export from a later event): the event before it and the tree's frontier there. */
  start?: { seq: number; hash: string; frontier: readonly Buffer[] };
  /** Called with each event once it is verified (its link, and any checkpoint it completes). */
  onEvent?: (e: ChainLink) => void;
  /**
   * An empty frontier to build the log's tree in (without `start`), so a caller that goes on
   * appending to it (authority/audit-checkpoints.ts) does not hash every leaf again.
   */
  frontier?: MerkleFrontier;
}

/** The outcome of {@link verifyAuditLog}. */
export type LogVerdict =
  | {
      ok: true;
      /** Events verified. */
      count: number;
      headHash: string;
      /** Checkpoints verified (the store's, then the witness's that the store lacks). */
      checkpoints: number;
      witnessed: number;
      /** Events covered by the newest checkpoint. */
      covered: number;
      /** Events after it, not yet under a signature. */
      unsigned: number;
    }
  | { ok: false; count: number; firstBad?: number; checkpoint?: number; reason: string };

const when = (at: number) => (Number.isFinite(at) ? new Date(at).toISOString() : String(at));
const nameOf = (cp: AuditCheckpoint, from: string) =>
  `${from} checkpoint of ${cp.treeSize} events (signed ${when(cp.at)})`;

/** Checks the log, its checkpoints and the witness's copy; the first failure is named. */
export async function verifyAuditLog(input: LogVerifyInput): Promise<LogVerdict> {
  const keys = new Map(input.pinned.map((k) => [auditKeyId(k), k]));
  const bySize = new Map<number, { cp: AuditCheckpoint; from: string }>();
  let count = 0;
  const fail = (reason: string, checkpoint?: number): LogVerdict => ({
    ok: false,
    count,
    ...(checkpoint !== undefined ? { checkpoint } : {}),
    reason,
  });
  if (keys.size === 0 && input.checkpoints.length + (input.witness?.length ?? 0) > 0)
    return fail("no pinned audit key to check the checkpoints with (sigil.json audit.publicKey)");

  // Every signature first: a checkpoint by another key, or with a changed size, root or
  // time, is refused whatever the log says.
  for (const [from, list] of [
    ["the database's", input.checkpoints],
    ["the witness's", input.witness ?? []],
  ] as const) {
    for (const cp of list) {
      const key = keys.get(cp.keyId);
      if (key === undefined)
        return fail(
          `${nameOf(cp, from)}: signed by key ${cp.keyId.slice(0, 16)}, which is not the pinned audit key`,
          cp.treeSize,
        );
      if (!checkpointSignedBy(cp, key))
        return fail(
          `${nameOf(cp, from)}: its signature does not verify (size, root or time changed?)`,
          cp.treeSize,
        );
      const seen = bySize.get(cp.treeSize);
      if (seen !== undefined && seen.cp.rootHash !== cp.rootHash)
        return fail(
          `${nameOf(cp, from)} contradicts ${nameOf(seen.cp, seen.from)}: two roots for one size (the log was rewritten between them)`,
          cp.treeSize,
        );
      if (seen === undefined) bySize.set(cp.treeSize, { cp, from });
    }
  }

  const frontier =
    input.start === undefined
      ? (input.frontier ?? new MerkleFrontier())
      : MerkleFrontier.from(input.start.seq, input.start.frontier);
  const targets = [...bySize.keys()].filter((n) => n >= frontier.size).sort((a, b) => a - b);
  let next = 0;
  const check = (): string | undefined => {
    while (next < targets.length && targets[next] === frontier.size) {
      const { cp, from } = bySize.get(targets[next]!)!;
      next++;
      if (frontier.root().toString("hex") !== cp.rootHash)
        return `${nameOf(cp, from)}: the log's first ${cp.treeSize} events do not hash to its root (events before it were edited, deleted or reordered)`;
    }
    return undefined;
  };
  let failedAt: number | undefined;
  const early = check();
  if (early !== undefined) return fail(early, targets[next - 1]);
  const events = input.events;
  let chain: AuditVerifyResult;
  if ("ranges" in events) {
    if (input.onEvent !== undefined) throw new TypeError("verifyAuditLog: ranges take no onEvent");
    // The parts joined in order: each part's first event is walked here (its link to the
    // part before), then the checkpoints inside the part in order of size, then the part's
    // own first bad event; the verdict is the one the walk over every event gives.
    const walk = new ChainWalker(input.start && { seq: input.start.seq, hash: input.start.hash });
    /** Leaves before the events (an export from a later event): not counted as verified. */
    const base = input.start?.seq ?? 0;
    chain = await (async () => {
      for (const part of await events.ranges(targets.slice(next))) {
        if (part.first === undefined) continue;
        const before = walk.count;
        const r = walk.step(part.first, part.first.computed);
        if (r !== undefined) return r;
        for (const cut of part.cuts) {
          if (targets[next] !== cut.size) continue;
          const at = frontier.clone();
          for (const [root, leaves] of cut.subtrees) at.pushSubtree(root, leaves);
          count = at.size - base;
          const { cp, from } = bySize.get(targets[next]!)!;
          next++;
          if (at.root().toString("hex") !== cp.rootHash) {
            failedAt = cp.treeSize;
            walk.count = before + (cut.size - part.after);
            return walk.bad(
              cut.size,
              `${nameOf(cp, from)}: the log's first ${cp.treeSize} events do not hash to its root (events before it were edited, deleted or reordered)`,
            );
          }
        }
        if (part.bad !== undefined) {
          walk.count = before + part.count;
          return walk.bad(part.bad.firstBad, part.bad.reason);
        }
        for (const [root, leaves] of part.cuts.at(-1)!.subtrees) frontier.pushSubtree(root, leaves);
        count = frontier.size - base;
        walk.prevSeq = part.last!.seq;
        walk.prevHash = part.last!.hash;
        walk.count = before + part.count;
      }
      return walk.end(input.head);
    })();
  } else {
    chain = await verifyAuditChain(events, input.head, {
      ...(input.start ? { start: { seq: input.start.seq, hash: input.start.hash } } : {}),
      onEvent: (e) => {
        frontier.pushLeafOfHex(e.hash);
        count++;
        const r = check();
        if (r !== undefined) failedAt = targets[next - 1];
        else input.onEvent?.(e);
        return r;
      },
    });
  }
  if (!chain.ok)
    return {
      ok: false,
      count: chain.count,
      firstBad: chain.firstBad,
      checkpoint: failedAt,
      reason: chain.reason,
    };
  if (next < targets.length) {
    const { cp, from } = bySize.get(targets[next]!)!;
    return fail(
      `${nameOf(cp, from)}: it covers ${cp.treeSize} events but the log ends at event ${frontier.size} (truncated?)`,
      cp.treeSize,
    );
  }
  const covered = Math.max(0, ...[...bySize.keys()].filter((n) => n <= frontier.size));
  const stored = new Set(input.checkpoints.map((c) => c.treeSize));
  return {
    ok: true,
    count: chain.count,
    headHash: chain.headHash,
    checkpoints: bySize.size,
    witnessed: (input.witness ?? []).filter((c) => !stored.has(c.treeSize)).length,
    covered,
    unsigned: frontier.size - covered,
  };
}

/**
 * Checks the RFC 9162 §2.1.4 consistency proof between each signed checkpoint and the next
 * (`steps`, from an export): that every checkpoint's tree extends the one before, without
 * the events. Every consecutive pair of `checkpoints` must have its proof. Returns the
 * reason of the first that does not hold, or undefined.
 */
export function checkConsistencySteps(
  checkpoints: readonly AuditCheckpoint[],
  steps: ReadonlyArray<{ from: number; to: number; proof: readonly string[] }>,
): string | undefined {
  const sorted = [...checkpoints].sort((a, b) => a.treeSize - b.treeSize);
  const byPair = new Map(steps.map((s) => [`${s.from}-${s.to}`, s.proof]));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    const proof = byPair.get(`${a.treeSize}-${b.treeSize}`);
    if (proof === undefined)
      return `no consistency proof from the checkpoint of ${a.treeSize} events to the one of ${b.treeSize}`;
    const ok = verifyConsistency(
      a.treeSize,
      b.treeSize,
      Buffer.from(a.rootHash, "hex"),
      Buffer.from(b.rootHash, "hex"),
      proof.map((h) => Buffer.from(h, "hex")),
    );
    if (!ok)
      return `the checkpoint of ${b.treeSize} events does not extend the one of ${a.treeSize} (its consistency proof fails, RFC 9162 §2.1.4.2)`;
  }
  return undefined;
}
