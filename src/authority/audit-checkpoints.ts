/**
 * The audit log's signed checkpoints: the audit signing key (made once, in the custody of
 * the CA keys, opened at unseal and forgotten at seal), signing a Merkle tree head of the
 * log (audit/checkpoint.ts, RFC 9162 §2.1), inclusion proofs of events, and verifying the
 * log against the checkpoints and a witness's copy (audit/log-verify.ts).
 *
 * The key is trusted only through its pin outside the database (sigil.json
 * `audit.publicKey`): a key row an insider swaps in signs nothing here, and its checkpoints
 * fail verification everywhere.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { KeyBackend } from "../keys/types.js";
import type { AuditCheckpoint, AuditEvent, AuditKeyRecord, Store } from "../store/types.js";
import { chainHash, GENESIS_HASH } from "../audit/chain.js";
import { auditKeyId, checkpointText, eventLeaf } from "../audit/checkpoint.js";
import { verifyAuditLog, type LogVerdict } from "../audit/log-verify.js";
import { consistencyProof, inclusionProof, MerkleFrontier } from "../audit/merkle.js";
import type { AuditTrail } from "./audit-trail.js";
import { serviceKeyBackend, type KeySession } from "./key-session.js";

/** What the checkpoints need. */
export interface AuditCheckpointsDeps {
  store: Pick<
    Store,
    | "auditKeys"
    | "auditCheckpoints"
    | "lastAuditCheckpoint"
    | "auditEvents"
    | "auditEventsAfter"
    | "auditEventBatches"
    | "auditRanges"
    | "auditHead"
    | "transaction"
    | "listCas"
  >;
  session: KeySession;
  trail: AuditTrail;
  clock: () => number;
  random: (n: number) => Buffer;
  /** The pinned audit key (sigil.json `audit.publicKey`), DER; undefined: none pinned yet. */
  pinned: () => Buffer | undefined;
  /**
   * Where a new audit key is made; default: a token when the first CA's key is in one, else
   * the database (encrypted with the home passphrase: key-session.ts serviceKeyBackend).
   */
  backend?: KeyBackend;
  /** Sends a new checkpoint outside the database (file, syslog, witness); never throws. */
  publish?: (cp: AuditCheckpoint) => Promise<void>;
  /**
   * The service: its check of the whole log before the first checkpoint reads at the lowest
   * CPU priority (Store.auditRanges), so that requests keep the cores.
   */
  background?: boolean;
}

/** Where checkpoint signing stands (`/healthz`, metrics, `sigil status`). */
export interface CheckpointStatus {
  /** True when the next due checkpoint can be signed now. */
  signing: boolean;
  /** Why not, when not. */
  reason?: string;
  /** Events in the log. */
  events: number;
  /** The newest checkpoint, if any. */
  last?: { treeSize: number; at: number };
  /** Events after it. */
  unsigned: number;
}

/** An inclusion proof of one event (RFC 9162 §2.1.3) against a signed checkpoint. */
export interface EventProof {
  event: AuditEvent;
  /** Zero-based leaf index (seq - 1). */
  leafIndex: number;
  /** Hex leaf hash: SHA-256(0x00 || the event's 32-byte chain hash). */
  leafHash: string;
  /** Hex audit path, bottom up. */
  path: string[];
  checkpoint: AuditCheckpoint;
}

const broken = (reason: string) =>
  new SigilError(ErrorCodes.AUDIT_BROKEN, `the audit log does not verify: ${reason}; no checkpoint signed`);

/** The audit log's signed checkpoints. */
export class AuditCheckpoints {
  /** The tree of the events this process has verified and signed over so far. */
  private tree?: { frontier: MerkleFrontier; hash: string };
  private signing: Promise<AuditCheckpoint | undefined> = Promise.resolve(undefined);
  /** Audit keys seen in this process's custody (looked up until found, then remembered). */
  private readonly present = new Set<string>();

  constructor(private readonly deps: AuditCheckpointsDeps) {}

  /**
   * The audit key record, if one was made: the oldest (two instances that made one at the
   * same moment agree on it; the other's key is removed by its maker).
   */
  async currentKey(): Promise<AuditKeyRecord | undefined> {
    return (await this.deps.store.auditKeys())[0];
  }

  /**
   * The audit key: the current one, or a new P-256 key made now (in the token of a token
   * CA, else encrypted with the home passphrase in the database, where every instance finds
   * it) and recorded (`audit.key.create`).
   * The caller pins a new key's public key outside the database.
   */
  async ensureKey(): Promise<{ key: AuditKeyRecord; created: boolean }> {
    const current = await this.currentKey();
    if (current) return { key: current, created: false };
    const { session, store, clock, random, trail } = this.deps;
    const name = `audit-${random(8).toString("hex")}`;
    const backend = this.deps.backend ?? serviceKeyBackend((await store.listCas())[0]?.keyRef);
    const { keyRef, signer } = await session.generateKey(name, "p256", backend, "unlock");
    const key: AuditKeyRecord = {
      keyId: auditKeyId(signer.spki),
      keyRef,
      spki: signer.spki,
      createdAt: clock(),
    };
    try {
      await store.transaction(async (tx) => {
        await tx.insertAuditKey(key);
        await tx.appendAudit(trail.draft("audit.key.create", null, { keyId: key.keyId, keyRef }));
      });
    } catch (e) {
      await session.removeKey(keyRef);
      throw e;
    }
    const winner = (await this.currentKey())!;
    if (winner.keyId !== key.keyId) {
      await session.removeKey(keyRef); // another instance made one first: its key is the audit key
      return { key: winner, created: false };
    }
    return { key, created: true };
  }

  /** The pinned key, checked against the database's current key: why signing is refused, or the key. */
  private async pinnedKey(): Promise<AuditKeyRecord | string> {
    const key = await this.currentKey();
    if (!key) return "no audit key yet (made by `sigil audit checkpoint` or an unsealed start)";
    const pinned = this.deps.pinned();
    if (!pinned) return "the audit key is not pinned in sigil.json (audit.publicKey)";
    if (auditKeyId(pinned) !== key.keyId)
      return `the database's audit key ${key.keyId.slice(0, 16)} is not the key pinned in sigil.json (audit.publicKey)`;
    return key;
  }

  /** Every signed checkpoint, smallest tree first. */
  list(): Promise<AuditCheckpoint[]> {
    return this.deps.store.auditCheckpoints();
  }

  /** Where signing stands. */
  async status(): Promise<CheckpointStatus> {
    const [head, last] = await Promise.all([
      this.deps.store.auditHead(),
      this.deps.store.lastAuditCheckpoint(),
    ]);
    const events = head?.seq ?? 0;
    const base = {
      events,
      unsigned: Math.max(0, events - (last?.treeSize ?? 0)),
      ...(last ? { last: { treeSize: last.treeSize, at: last.at } } : {}),
    };
    if (this.deps.session.sealed) return { signing: false, reason: "sealed", ...base };
    const key = await this.pinnedKey();
    if (typeof key === "string") return { signing: false, reason: key, ...base };
    // An instance without the key leaves the signing (and its lease) to one that has it.
    if (!this.present.has(key.keyRef) && (await this.deps.session.hasKey(key.keyRef)))
      this.present.add(key.keyRef);
    if (!this.present.has(key.keyRef))
      return {
        signing: false,
        reason: `the audit key ${key.keyRef} is not in this instance's custody`,
        ...base,
      };
    return { signing: true, ...base };
  }

  /**
   * Signs a checkpoint of the whole log when there are events no checkpoint covers (or,
   * with `force`, answers the newest one when there are none). Refuses while sealed, when
   * the key is not the pinned one, and when the log no longer matches the checkpoints
   * signed before (the first call in a process verifies the whole log; later calls verify
   * the events appended since). Stored, then published outside the database.
   */
  sign(opts: { force?: boolean } = {}): Promise<AuditCheckpoint | undefined> {
    const run = this.signing.catch(() => undefined).then(() => this.signNow(opts.force === true));
    this.signing = run;
    return run;
  }

  private async signNow(force: boolean): Promise<AuditCheckpoint | undefined> {
    const { session, store, clock } = this.deps;
    session.checkUnsealed();
    const key = await this.pinnedKey();
    if (typeof key === "string")
      throw new SigilError(ErrorCodes.AUDIT_BROKEN, `no checkpoint signed: ${key}`);
    const signer = await session.serviceKey(key.keyRef, "the audit signing key");
    const tree = await this.catchUp();
    const size = tree.frontier.size;
    const last = await store.lastAuditCheckpoint();
    if (last && last.treeSize > size)
      throw broken(
        `the newest checkpoint covers ${last.treeSize} events but the log holds ${size} (truncated?)`,
      );
    if (size === 0 || (last && last.treeSize === size)) return force ? last : undefined;
    const head = { treeSize: size, rootHash: tree.frontier.root().toString("hex"), at: clock() };
    const signature = (await signer.sign(checkpointText(head))).toString("base64");
    const cp: AuditCheckpoint = { ...head, keyId: key.keyId, signature };
    // Another signer (an instance, `sigil audit checkpoint`) may have signed this size first.
    if (!(await store.transaction((tx) => tx.insertAuditCheckpoint(cp)))) return undefined;
    await this.deps.publish?.(cp);
    return cp;
  }

  /**
   * The tree of every event, verified: at the first call the whole log against the pinned
   * key and every stored checkpoint; then the events appended since, link by link.
   */
  private async catchUp(): Promise<{ frontier: MerkleFrontier; hash: string }> {
    const { store } = this.deps;
    if (!this.tree) {
      const frontier = new MerkleFrontier();
      const background = this.deps.background === true;
      const ranges = store.auditRanges
        ? (sizes: readonly number[]) => store.auditRanges!(sizes, { background })
        : undefined;
      const verdict = await verifyAuditLog({
        events: ranges ? { ranges } : { stored: store.auditEventBatches() },
        head: await store.auditHead(),
        checkpoints: await store.auditCheckpoints(),
        pinned: [this.deps.pinned()!],
        frontier,
      });
      if (!verdict.ok) throw broken(verdict.reason);
      // headHash: the last event's hash (the genesis hash when there is none).
      this.tree = { frontier, hash: verdict.headHash };
      return this.tree;
    }
    const tree = this.tree;
    for await (const e of store.auditEventsAfter(tree.frontier.size)) {
      const seq = tree.frontier.size + 1;
      if (e.seq !== seq || e.prevHash !== tree.hash || chainHash(e.prevHash, e) !== e.hash) {
        this.tree = undefined; // verify everything again next time
        throw broken(
          `event ${e.seq} does not follow event ${seq - 1} as signed before (edited or replaced?)`,
        );
      }
      tree.frontier.pushLeafOfHex(e.hash);
      tree.hash = e.hash;
    }
    return tree;
  }

  /**
   * Verifies the log: the chain, every checkpoint under the pinned key (or `pinned`), and
   * `witness`, an outside copy of the checkpoints.
   */
  async verify(opts: { witness?: AuditCheckpoint[]; pinned?: Buffer[] } = {}): Promise<LogVerdict> {
    const { store } = this.deps;
    const pin = this.deps.pinned();
    const ranges = store.auditRanges?.bind(store);
    return verifyAuditLog({
      events: ranges ? { ranges } : { stored: store.auditEventBatches() },
      head: await store.auditHead(),
      checkpoints: await store.auditCheckpoints(),
      ...(opts.witness ? { witness: opts.witness } : {}),
      pinned: opts.pinned ?? (pin ? [pin] : []),
    });
  }

  /**
   * The inclusion proof of event `seq` against the newest checkpoint that covers it (or the
   * one of `treeSize` events). The log's leaves are read and their root checked against the
   * checkpoint first: a proof is never made from a log that no longer matches.
   */
  async prove(seq: number, treeSize?: number): Promise<EventProof> {
    const cps = await this.deps.store.auditCheckpoints();
    const cp =
      treeSize !== undefined
        ? cps.find((c) => c.treeSize === treeSize)
        : cps.findLast((c) => c.treeSize >= seq);
    if (!cp)
      throw new SigilError(
        ErrorCodes.NOT_FOUND,
        treeSize !== undefined
          ? `no checkpoint of ${treeSize} events`
          : `no signed checkpoint covers event ${seq} yet (run 'sigil audit checkpoint')`,
      );
    if (!Number.isSafeInteger(seq) || seq < 1 || seq > cp.treeSize)
      throw new SigilError(
        ErrorCodes.USAGE,
        `event ${seq} is not in the checkpoint of ${cp.treeSize} events`,
      );
    const leaves: Buffer[] = [];
    let event: AuditEvent | undefined;
    for await (const e of this.deps.store.auditEvents()) {
      if (e.seq !== leaves.length + 1) break;
      leaves.push(eventLeaf(e.hash));
      if (e.seq === seq) event = e;
      if (leaves.length === cp.treeSize) break;
    }
    const frontier = new MerkleFrontier();
    for (const l of leaves) frontier.push(l);
    if (leaves.length !== cp.treeSize || frontier.root().toString("hex") !== cp.rootHash || !event)
      throw broken(
        `the log's first ${cp.treeSize} events do not hash to the checkpoint's root; run 'sigil audit verify'`,
      );
    return {
      event,
      leafIndex: seq - 1,
      leafHash: leaves[seq - 1]!.toString("hex"),
      path: inclusionProof(seq - 1, cp.treeSize, leaves).map((b) => b.toString("hex")),
      checkpoint: cp,
    };
  }

  /**
   * An export for auditors: streams the events from `since` to `onEvent`, and returns where
   * they start (the event before and the tree's frontier there, so a verifier can go on from
   * it), every checkpoint, and the RFC 9162 §2.1.4 consistency proof between each checkpoint
   * and the next (a verifier holding only the checkpoints checks that each extends the one
   * before). The frontier is trusted by a verifier only as far as the checkpoints after it
   * confirm it: a forged one makes their roots differ.
   */
  async exportLog(
    since: number,
    onEvent: (e: AuditEvent) => Promise<void> | void,
  ): Promise<{ start: ExportStart; checkpoints: AuditCheckpoint[]; proofs: ConsistencyStep[] }> {
    if (!Number.isSafeInteger(since) || since < 1)
      throw new SigilError(ErrorCodes.USAGE, `bad --since ${since}: give an event number from 1`);
    const checkpoints = await this.deps.store.auditCheckpoints();
    const leaves: Buffer[] = [];
    const frontier = new MerkleFrontier();
    let start: ExportStart | undefined;
    let lastHash = GENESIS_HASH;
    for await (const e of this.deps.store.auditEvents()) {
      if (e.seq === since)
        start = { seq: frontier.size, hash: e.prevHash, frontier: frontier.nodes().map(hex) };
      if (e.seq >= since) await onEvent(e);
      const leaf = eventLeaf(e.hash);
      leaves.push(leaf);
      frontier.push(leaf);
      lastHash = e.hash;
    }
    if (since > leaves.length + 1)
      throw new SigilError(ErrorCodes.USAGE, `bad --since ${since}: the log holds ${leaves.length} events`);
    start ??= { seq: frontier.size, hash: lastHash, frontier: frontier.nodes().map(hex) };
    const proofs: ConsistencyStep[] = [];
    for (let i = 1; i < checkpoints.length; i++) {
      const m = checkpoints[i - 1]!.treeSize;
      const n = checkpoints[i]!.treeSize;
      if (n > leaves.length) break; // the log is shorter than the checkpoint: verification says so
      proofs.push({ from: m, to: n, proof: consistencyProof(m, n, leaves).map(hex) });
    }
    return { start, checkpoints, proofs };
  }
}

/** Where an export's events start: after event `seq` (hash `hash`), the tree's frontier there (hex). */
export interface ExportStart {
  seq: number;
  hash: string;
  frontier: string[];
}

/** A consistency proof between two checkpoints (RFC 9162 §2.1.4), hex. */
export interface ConsistencyStep {
  from: number;
  to: number;
  proof: string[];
}

const hex = (b: Buffer) => b.toString("hex");
