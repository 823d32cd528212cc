import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditDraft, Store, StoreTx } from "../store/types.js";
import { ReadAudit } from "./admin-reads.js";

/** A store that only records appended events (and can be told to fail). */
function memoryStore(): { store: Pick<Store, "transaction">; events: AuditDraft[]; fail: { on: boolean } } {
  const events: AuditDraft[] = [];
  const fail = { on: false };
  const tx = {
    appendAudit: async (e: AuditDraft) => {
      if (fail.on) throw new Error("disk full");
      events.push(e);
    },
  } as unknown as StoreTx;
  return { store: { transaction: (fn) => fn(tx) }, events, fail };
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const ALICE = "token:alice#0123456789abcdef(operator)";
const BOB = "token:bob#fedcba9876543210(auditor)";
const GET_STATUS = { method: "GET", path: "/api/v1/admin/status" };

describe("admin read audit", () => {
  it("appends the first read at once, counts the next 100 of the minute into one admin.reads event", async () => {
    const { store, events } = memoryStore();
    let now = T0 + 5_000;
    const reads = new ReadAudit({ store, clock: () => now, timer: false });
    await reads.allow(ALICE, "status", GET_STATUS);
    assert.equal(events.length, 1, "the first read is evidenced at once");
    assert.deepEqual(
      { ...events[0]!, at: undefined },
      { at: undefined, actor: ALICE, action: "admin.allow", target: "status", details: GET_STATUS },
    );
    assert.equal(events[0]!.at, T0 + 5_000);
    for (let i = 0; i < 100; i++) {
      now += 500;
      await reads.allow(ALICE, "status", GET_STATUS);
    }
    assert.equal(events.length, 1, "further reads of the minute are only counted");
    await reads.flush(); // the minute has not ended
    assert.equal(events.length, 1);
    now = T0 + 60_000;
    await reads.flush();
    assert.equal(events.length, 2);
    assert.deepEqual(events[1], {
      at: T0 + 60_000,
      actor: ALICE,
      action: "admin.reads",
      target: null,
      details: { minute: new Date(T0).toISOString(), counts: { status: 100 }, total: 100 },
    });
    await reads.close();
    assert.equal(events.length, 2, "nothing left to write");
  });

  it("appends every write per call, and never folds one", async () => {
    const { store, events } = memoryStore();
    const reads = new ReadAudit({ store, clock: () => T0, timer: false });
    for (let i = 0; i < 5; i++)
      await reads.allow(ALICE, "cert.sign", { method: "POST", path: "/api/v1/admin/certs/sign" });
    await reads.allow(ALICE, "token.create", { method: "POST", path: "/api/v1/admin/tokens" });
    await reads.allow(ALICE, "unseal", { method: "POST", path: "/api/v1/admin/unseal" });
    assert.deepEqual(
      events.map((e) => `${e.action} ${e.target}`),
      [
        ...new Array<string>(5).fill("admin.allow cert.sign"),
        "admin.allow token.create",
        "admin.allow unseal",
      ],
    );
    await reads.close();
    assert.equal(events.length, 7, "no admin.reads for writes");
  });

  it("keeps actors and actions apart, starts again each minute, writes what is left at close", async () => {
    const { store, events } = memoryStore();
    let now = T0;
    const reads = new ReadAudit({ store, clock: () => now, timer: false });
    const get = (actor: string, action: "status" | "cert.list" | "audit.read") =>
      reads.allow(actor, action, { method: "GET", path: `/x/${action}` });
    await get(ALICE, "status");
    await get(BOB, "status");
    await get(ALICE, "cert.list");
    for (let i = 0; i < 3; i++) await get(ALICE, "status");
    for (let i = 0; i < 2; i++) await get(ALICE, "cert.list");
    for (let i = 0; i < 7; i++) await get(BOB, "status");
    assert.deepEqual(
      events.map((e) => `${e.actor} ${e.action} ${e.target}`),
      [`${ALICE} admin.allow status`, `${BOB} admin.allow status`, `${ALICE} admin.allow cert.list`],
    );
    // A new minute: the last one's counts first (one event per actor), then a new first read.
    now = T0 + 61_000;
    await get(ALICE, "status");
    assert.deepEqual(
      events.slice(3).map((e) => [e.actor, e.action, e.details]),
      [
        [
          ALICE,
          "admin.reads",
          { minute: new Date(T0).toISOString(), counts: { status: 3, "cert.list": 2 }, total: 5 },
        ],
        [BOB, "admin.reads", { minute: new Date(T0).toISOString(), counts: { status: 7 }, total: 7 }],
        [ALICE, "admin.allow", { method: "GET", path: "/x/status" }],
      ],
    );
    await get(ALICE, "status");
    await get(ALICE, "audit.read");
    await get(ALICE, "audit.read");
    // A clean stop writes the minute under way.
    await reads.close();
    assert.deepEqual(
      events.slice(6).map((e) => [e.actor, e.action, e.target, e.details]),
      [
        [ALICE, "admin.allow", "audit.read", { method: "GET", path: "/x/audit.read" }],
        [
          ALICE,
          "admin.reads",
          null,
          {
            minute: new Date(T0 + 60_000).toISOString(),
            counts: { status: 1, "audit.read": 1 },
            total: 2,
          },
        ],
      ],
    );
    // After close, nothing is held back: each read is appended.
    await get(BOB, "status");
    await get(BOB, "status");
    assert.equal(events.length, 10);
    assert.deepEqual(
      events.slice(8).map((e) => `${e.actor} ${e.action}`),
      [`${BOB} admin.allow`, `${BOB} admin.allow`],
    );
  });

  it("adds up: admin.allow events plus counts are every read; a busy console costs a few events a minute", async () => {
    const { store, events } = memoryStore();
    let now = T0;
    const reads = new ReadAudit({ store, clock: () => now, timer: false });
    const actions = ["status", "cert.list", "cert.show"] as const;
    // 5 tokens, 3 reads each, interleaved: 600 reads over 90 s (two minutes).
    for (let i = 0; i < 600; i++) {
      await reads.allow(`token:t${i % 5}#0000000000000000(auditor)`, actions[i % 3]!, GET_STATUS);
      now += 150;
    }
    await reads.close();
    const allows = events.filter((e) => e.action === "admin.allow").length;
    const summaries = events.filter((e) => e.action === "admin.reads");
    const counted = summaries.reduce((n, e) => n + (e.details as { total: number }).total, 0);
    assert.equal(allows + counted, 600);
    // Per minute: one admin.allow per (token, action), one admin.reads per token.
    assert.equal(allows, 2 * 15);
    assert.equal(summaries.length, 2 * 5);
  });

  it("bounds memory: past maxKeys pairs, the counts so far are written early and tracking starts afresh", async () => {
    const { store, events } = memoryStore();
    const reads = new ReadAudit({ store, clock: () => T0, timer: false, maxKeys: 2 });
    const get = (action: "status" | "cert.list" | "cert.show") => reads.allow(ALICE, action, GET_STATUS);
    await get("status");
    await get("cert.list");
    await get("status");
    await get("cert.list");
    await get("cert.list");
    assert.equal(events.length, 2);
    await get("cert.show"); // a third pair: the counts so far go out first
    assert.deepEqual(
      events.slice(2).map((e) => [e.action, e.target, e.details]),
      [
        [
          "admin.reads",
          null,
          { minute: new Date(T0).toISOString(), counts: { status: 1, "cert.list": 2 }, total: 3 },
        ],
        ["admin.allow", "cert.show", GET_STATUS],
      ],
    );
    await get("cert.show");
    await reads.close();
    assert.deepEqual(events.at(-1)!.details, {
      minute: new Date(T0).toISOString(),
      counts: { "cert.show": 1 },
      total: 1,
    });
    assert.equal(events.length, 5);
  });

  it("a first read that cannot be recorded fails (the read is not served) and stays a first read", async () => {
    const { store, events, fail } = memoryStore();
    const reads = new ReadAudit({ store, clock: () => T0, timer: false });
    fail.on = true;
    await assert.rejects(reads.allow(ALICE, "status", GET_STATUS), /disk full/);
    await assert.rejects(reads.allow(ALICE, "cert.sign", GET_STATUS), /disk full/);
    fail.on = false;
    await reads.allow(ALICE, "status", GET_STATUS);
    assert.deepEqual(
      events.map((e) => `${e.action} ${e.target}`),
      ["admin.allow status"],
    );
    // Counts that cannot be written are reported, not thrown (the reads were served).
    await reads.allow(ALICE, "status", GET_STATUS);
    const errors: unknown[] = [];
    const failing = new ReadAudit({ store, clock: () => T0, timer: false, onError: (e) => errors.push(e) });
    await failing.allow(BOB, "status", GET_STATUS);
    await failing.allow(BOB, "status", GET_STATUS);
    fail.on = true;
    await failing.close();
    assert.equal(errors.length, 1);
    fail.on = false;
    await reads.close();
    assert.deepEqual(events.at(-1)!.details, {
      minute: new Date(T0).toISOString(),
      counts: { status: 1 },
      total: 1,
    });
  });

  it("writes a minute's counts on its own timer, just after the minute ends", async () => {
    const { store, events } = memoryStore();
    // 50 ms before the minute ends: the timer is due 100 ms after it, in 150 ms of real time.
    let now = T0 + 59_950;
    const reads = new ReadAudit({ store, clock: () => now });
    await reads.allow(ALICE, "status", GET_STATUS);
    await reads.allow(ALICE, "status", GET_STATUS);
    assert.equal(events.length, 1);
    now = T0 + 60_100;
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(
      events.map((e) => e.action),
      ["admin.allow", "admin.reads"],
    );
    await reads.close(); // nothing left, no timer left
    assert.equal(events.length, 2);
  });
});
