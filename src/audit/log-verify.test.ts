import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateKeyPairSync, sign } from "node:crypto";
import type { AuditCheckpoint, AuditEvent } from "../store/types.js";
import { GENESIS_HASH, chainHash } from "./chain.js";
import {
  auditKeyId,
  checkpointSignedBy,
  checkpointText,
  eventLeaf,
  parsePinnedKey,
  spkiPem,
} from "./checkpoint.js";
import { checkConsistencySteps, verifyAuditLog } from "./log-verify.js";
import { MerkleFrontier, consistencyProof, rootOf } from "./merkle.js";

function chain(n: number): AuditEvent[] {
  const out: AuditEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = {
      seq,
      at: 1000 + seq,
      actor: "cli:root",
      action: "cert.issue",
      target: `ca/${seq}`,
      details: { seq },
    };
    const hash = chainHash(prev, e);
    out.push({ ...e, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

async function* iter(events: AuditEvent[]): AsyncGenerator<AuditEvent> {
  yield* events;
}

const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = key.publicKey.export({ format: "der", type: "spki" });
const other = generateKeyPairSync("ec", { namedCurve: "P-256" });

function checkpoint(events: AuditEvent[], size: number, k = key.privateKey, pub = spki): AuditCheckpoint {
  const rootHash = rootOf(events.slice(0, size).map((e) => eventLeaf(e.hash))).toString("hex");
  const head = { treeSize: size, rootHash, at: 5000 + size };
  return {
    ...head,
    keyId: auditKeyId(pub),
    signature: sign("sha256", checkpointText(head), k).toString("base64"),
  };
}

const run = (events: AuditEvent[], checkpoints: AuditCheckpoint[], extra = {}) =>
  verifyAuditLog({ events: iter(events), checkpoints, pinned: [spki], ...extra });

describe("checkpoints", () => {
  it("sign and verify under the key they name only", () => {
    const ev = chain(5);
    const cp = checkpoint(ev, 5);
    assert.equal(checkpointSignedBy(cp, spki), true);
    assert.equal(checkpointSignedBy({ ...cp, treeSize: 4 }, spki), false);
    assert.equal(checkpointSignedBy({ ...cp, at: cp.at + 1 }, spki), false);
    assert.equal(checkpointSignedBy(cp, other.publicKey.export({ format: "der", type: "spki" })), false);
    assert.deepEqual(parsePinnedKey(spkiPem(spki)), spki);
    assert.deepEqual(parsePinnedKey(spki.toString("base64")), spki);
    assert.throws(() => parsePinnedKey("not a key"), /not a public key/);
  });
});

describe("verifyAuditLog", () => {
  it("accepts a log its checkpoints cover, and counts the unsigned tail", async () => {
    const ev = chain(20);
    const r = await run(ev, [checkpoint(ev, 7), checkpoint(ev, 16)]);
    assert.deepEqual(r, {
      ok: true,
      count: 20,
      headHash: ev[19]!.hash,
      checkpoints: 2,
      witnessed: 0,
      covered: 16,
      unsigned: 4,
    });
  });

  it("catches a rewritten chain (every hash recomputed) under a checkpoint, naming it", async () => {
    const ev = chain(20);
    const cps = [checkpoint(ev, 7), checkpoint(ev, 16)];
    // An edit of event 12's actor, with every later hash recomputed: the chain holds.
    const rewritten: AuditEvent[] = [];
    let prev = GENESIS_HASH;
    for (const e of ev) {
      const f = e.seq === 12 ? { ...e, actor: "mallory" } : e;
      const hash = chainHash(prev, f);
      rewritten.push({ ...f, prevHash: prev, hash });
      prev = hash;
    }
    const r = await run(rewritten, cps);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.checkpoint, 16);
    assert.match(!r.ok ? r.reason : "", /checkpoint of 16 events .* do not hash to its root/);
    // Events before the first checkpoint's size are under it too.
    const early: AuditEvent[] = [];
    prev = GENESIS_HASH;
    for (const e of ev) {
      const f = e.seq === 3 ? { ...e, target: "x" } : e;
      const hash = chainHash(prev, f);
      early.push({ ...f, prevHash: prev, hash });
      prev = hash;
    }
    const r2 = await run(early, cps);
    assert.equal(!r2.ok && r2.checkpoint, 7);
  });

  it("refuses another key, a changed root, a truncated log, two roots for one size", async () => {
    const ev = chain(10);
    const otherSpki = other.publicKey.export({ format: "der", type: "spki" });
    const byOther = checkpoint(ev, 10, other.privateKey, otherSpki);
    assert.match(((await run(ev, [byOther])) as { reason: string }).reason, /not the pinned audit key/);
    const cp = checkpoint(ev, 10);
    assert.match(
      ((await run(ev, [{ ...cp, rootHash: "00".repeat(32) }])) as { reason: string }).reason,
      /signature does not verify/,
    );
    assert.match(
      ((await run(ev.slice(0, 8), [cp])) as { reason: string }).reason,
      /log ends at event 8 \(truncated\?\)/,
    );
    const alt: AuditEvent[] = [];
    let prev = GENESIS_HASH;
    for (const e of chain(10)) {
      const f = e.seq === 3 ? { ...e, details: { seq: 33 } } : e;
      const hash = chainHash(prev, f);
      alt.push({ ...f, prevHash: prev, hash });
      prev = hash;
    }
    const r = await run(ev, [cp], { witness: [checkpoint(alt, 10)] });
    assert.match((r as { reason: string }).reason, /contradicts .* two roots for one size/);
  });

  it("starts from an export's frontier, and a forged frontier fails at the next checkpoint", async () => {
    const ev = chain(30);
    const cps = [checkpoint(ev, 10), checkpoint(ev, 25)];
    const f = new MerkleFrontier();
    for (const e of ev.slice(0, 12)) f.push(eventLeaf(e.hash));
    const start = { seq: 12, hash: ev[11]!.hash, frontier: f.nodes() };
    const ok = await run(ev.slice(12), cps, { start });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const forged = { ...start, frontier: start.frontier.map((n, i) => (i === 0 ? Buffer.alloc(32, 1) : n)) };
    const bad = await run(ev.slice(12), cps, { start: forged });
    assert.equal(!bad.ok && bad.checkpoint, 25);
  });

  it("checks consistency proofs between consecutive checkpoints (RFC 9162 §2.1.4)", () => {
    const ev = chain(40);
    const leaves = ev.map((e) => eventLeaf(e.hash));
    const cps = [checkpoint(ev, 6), checkpoint(ev, 21), checkpoint(ev, 40)];
    const steps = [
      { from: 6, to: 21, proof: consistencyProof(6, 21, leaves).map((b) => b.toString("hex")) },
      { from: 21, to: 40, proof: consistencyProof(21, 40, leaves).map((b) => b.toString("hex")) },
    ];
    assert.equal(checkConsistencySteps(cps, steps), undefined);
    assert.match(
      checkConsistencySteps(cps, steps.slice(0, 1)) ?? "",
      /no consistency proof from .* 21 .* 40/,
    );
    const bent = [
      steps[0]!,
      { ...steps[1]!, proof: steps[1]!.proof.map((h, i) => (i === 0 ? "00".repeat(32) : h)) },
    ];
    assert.match(checkConsistencySteps(cps, bent) ?? "", /does not extend/);
  });
});
