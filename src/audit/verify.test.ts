import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEvent, StoredAuditEvent } from "../store/types.js";
import { GENESIS_HASH, chainHash, parseDetails, stableStringify } from "./chain.js";
import { verifyAuditChain } from "./verify.js";

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

const headOf = (events: AuditEvent[]) => ({
  seq: events.length,
  hash: events[events.length - 1]?.hash ?? GENESIS_HASH,
});

describe("verifyAuditChain", () => {
  it("accepts an intact chain, with or without its head", async () => {
    const ev = chain(20);
    assert.deepEqual(await verifyAuditChain(iter(ev), headOf(ev)), {
      ok: true,
      count: 20,
      headHash: ev[19]?.hash,
    });
    assert.equal((await verifyAuditChain(iter(ev))).ok, true);
    assert.deepEqual(await verifyAuditChain(iter([]), null), { ok: true, count: 0, headHash: GENESIS_HASH });
  });

  it("names an edited event", async () => {
    const ev = chain(20);
    ev[11] = { ...ev[11]!, details: { seq: 99 } };
    const r = await verifyAuditChain(iter(ev), headOf(ev));
    assert.deepEqual(r, {
      ok: false,
      count: 11,
      firstBad: 12,
      reason: "event 12: hash does not match its content (edited?)",
    });
  });

  it("names a deleted event", async () => {
    const ev = chain(20);
    ev.splice(11, 1);
    const r = await verifyAuditChain(iter(ev), { seq: 20, hash: ev[18]!.hash });
    assert.deepEqual(r, {
      ok: false,
      count: 11,
      firstBad: 12,
      reason: "event 13 follows 11: event(s) missing (12)",
    });
  });

  it("names an event replaced by a re-chained forgery", async () => {
    const ev = chain(20);
    const forged = { ...ev[4]!, details: { forged: true } };
    forged.hash = chainHash(forged.prevHash, forged);
    ev[4] = forged;
    const r = await verifyAuditChain(iter(ev), headOf(ev));
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? null : [r.firstBad, r.reason], [
      6,
      "event 6: does not link to event 5 (event(s) replaced or reordered?)",
    ]);
  });

  it("names reordered events", async () => {
    const ev = chain(10);
    [ev[3], ev[4]] = [ev[4]!, ev[3]!];
    const r = await verifyAuditChain(iter(ev), headOf(ev));
    assert.deepEqual(r.ok ? null : [r.firstBad, r.reason], [4, "event 5 follows 3: event(s) missing (4)"]);
    const ev2 = chain(10);
    ev2.splice(6, 0, ev2[2]!);
    const r2 = await verifyAuditChain(iter(ev2));
    assert.deepEqual(r2.ok ? null : r2.firstBad, 3);
  });

  it("detects a truncated tail and a tampered head", async () => {
    const ev = chain(20);
    const head = headOf(ev);
    const r = await verifyAuditChain(iter(ev.slice(0, 18)), head);
    assert.deepEqual(r.ok ? null : [r.firstBad, r.reason], [
      19,
      "chain ends at event 18 but the head records event 20: event(s) 19..20 missing (truncated?)",
    ]);
    const r2 = await verifyAuditChain(iter(ev), { ...head, hash: GENESIS_HASH });
    assert.deepEqual(r2.ok ? null : r2.firstBad, 20);
    const r3 = await verifyAuditChain(iter(ev), { seq: 15, hash: ev[14]!.hash });
    assert.deepEqual(r3.ok ? null : r3.firstBad, 16);
    const r4 = await verifyAuditChain(iter(ev), null);
    assert.deepEqual(
      r4.ok ? null : r4.reason,
      "audit head record is missing but the chain has 20 event(s) (tampered?)",
    );
    const r5 = await verifyAuditChain(iter([]), head);
    assert.deepEqual(r5.ok ? null : r5.firstBad, 1);
  });

  describe("over stored batches (details as text)", () => {
    /** The chain as the store keeps it: details as the writer's stableStringify, in batches of 3. */
    const stored = (ev: AuditEvent[]): StoredAuditEvent[] =>
      ev.map((e) => ({ ...e, details: stableStringify(e.details) }));
    async function* batches(ev: StoredAuditEvent[]): AsyncGenerator<StoredAuditEvent[]> {
      for (let i = 0; i < ev.length; i += 3) yield ev.slice(i, i + 3);
    }
    /** What readers see of stored events (`toAuditEvent`): the slow path. */
    const parsed = (ev: StoredAuditEvent[]): AuditEvent[] =>
      ev.map((e) => ({ ...e, details: parseDetails(e.details) }));
    const both = async (ev: StoredAuditEvent[], head?: { seq: number; hash: string } | null) => {
      const slow = await verifyAuditChain(iter(parsed(ev)), head);
      const fast = await verifyAuditChain({ stored: batches(ev) }, head);
      const json = await verifyAuditChain(
        {
          parsed: (async function* () {
            yield JSON.parse(JSON.stringify(parsed(ev))) as AuditEvent[];
          })(),
        },
        head,
      );
      assert.deepEqual(fast, slow);
      assert.deepEqual(json, slow);
      return fast;
    };

    it("accepts the intact chain as the one-by-one walk does", async () => {
      const ev = stored(chain(20));
      assert.deepEqual(await both(ev, headOf(chain(20))), { ok: true, count: 20, headHash: ev[19]!.hash });
      assert.deepEqual(await both([], null), { ok: true, count: 0, headHash: GENESIS_HASH });
    });

    it("catches an edited details, actor, at, action, target, seq or prevHash like the slow path", async () => {
      const edits: Array<[string, (e: StoredAuditEvent) => StoredAuditEvent, number, RegExp]> = [
        ["details", (e) => ({ ...e, details: '{"seq":99}' }), 12, /hash does not match/],
        ["details, unsorted", (e) => ({ ...e, details: '{"z":1,"seq":12}' }), 12, /hash does not match/],
        ["details, not JSON", (e) => ({ ...e, details: '{"seq":12' }), 12, /hash does not match/],
        ["details, an array", (e) => ({ ...e, details: "[12]" }), 12, /hash does not match/],
        ["actor", (e) => ({ ...e, actor: "cli:mallory" }), 12, /hash does not match/],
        ["at", (e) => ({ ...e, at: e.at + 1 }), 12, /hash does not match/],
        ["action", (e) => ({ ...e, action: "cert.revoke" }), 12, /hash does not match/],
        ["target", (e) => ({ ...e, target: null }), 12, /hash does not match/],
        ["seq", (e) => ({ ...e, seq: 13 }), 12, /follows 11: event\(s\) missing/],
        ["prevHash", (e) => ({ ...e, prevHash: GENESIS_HASH }), 12, /hash does not match/],
      ];
      for (const [what, edit, firstBad, reason] of edits) {
        const ev = stored(chain(20));
        ev[11] = edit(ev[11]!);
        const r = await both(ev, headOf(chain(20)));
        assert.equal(r.ok, false, what);
        if (!r.ok) {
          assert.equal(r.firstBad, firstBad, what);
          assert.match(r.reason, reason, what);
        }
      }
    });

    it("accepts details text re-serialised without changing what readers see, as before", async () => {
      // The hash covers the details as parsed: spacing or key order in the column is not an
      // edit of the event (the slow path never saw it either); both paths agree.
      const ev = stored(chain(5));
      ev[2] = { ...ev[2]!, details: ev[2]!.details.replace(":", ": ") };
      assert.equal((await both(ev, headOf(chain(5)))).ok, true);
    });

    it("names reordered and missing events as the slow path does", async () => {
      const ev = stored(chain(10));
      [ev[3], ev[4]] = [ev[4]!, ev[3]!];
      assert.equal((await both(ev, headOf(chain(10)))).ok, false);
      const ev2 = stored(chain(10));
      ev2.splice(4, 1);
      assert.equal((await both(ev2, headOf(chain(10)))).ok, false);
      assert.equal((await both(stored(chain(10)).slice(0, 8), headOf(chain(10)))).ok, false);
    });
  });
});
