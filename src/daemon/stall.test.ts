/**
 * The stall watches (stall.ts): a tick that comes late by the threshold or more is one
 * warning with how long the loop was blocked, ticks on time say nothing; a write
 * transaction that has run for the threshold is one warning, once per transaction. Driven
 * by a clock the test moves, so a busy machine cannot make them pass or fail.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { watchStalls, watchWrites } from "./stall.js";

function capture(): { log: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  return {
    log: pino(sink),
    lines: () =>
      out
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("stall watches", () => {
  it("warns once, with the blocked time, for a tick 5 s late; ticks on time say nothing", async () => {
    const { log, lines } = capture();
    const tickMs = 5;
    let t = 0;
    let jump = 0;
    // Every read is exactly one tick after the last, plus what the test adds.
    const now = () => {
      t += tickMs + jump;
      jump = 0;
      return t;
    };
    const stop = watchStalls(log, { tickMs, reportMs: 2000, now });
    try {
      await sleep(60);
      assert.deepEqual(lines(), [], "no warning while every tick is on time");
      jump = 5000;
      await sleep(60);
      const warned = lines();
      assert.equal(warned.length, 1, JSON.stringify(warned));
      assert.equal(warned[0]!.level, 40);
      assert.equal(warned[0]!.blockedMs, 5000);
      assert.match(String(warned[0]!.msg), /event loop was blocked/);
    } finally {
      stop();
    }
    const n = lines().length;
    jump = 9000;
    await sleep(30);
    assert.equal(lines().length, n, "stopped: no more ticks");
  });

  it("a tick late by less than the threshold says nothing", async () => {
    const { log, lines } = capture();
    let t = 0;
    let jump = 0;
    const now = () => {
      t += 5 + jump;
      jump = 0;
      return t;
    };
    const stop = watchStalls(log, { tickMs: 5, reportMs: 2000, now });
    try {
      jump = 1999;
      await sleep(40);
      assert.deepEqual(lines(), []);
    } finally {
      stop();
    }
  });

  it("a write transaction running for 30 s or more: one warning each, with how many wait", async () => {
    const { log, lines } = capture();
    let t = 1_000_000;
    let state: { since?: number; waiting: number } = { waiting: 0 };
    const stop = watchWrites(log, () => state, { everyMs: 5, reportMs: 30_000, now: () => t });
    try {
      state = { since: t - 29_999, waiting: 3 };
      await sleep(40);
      assert.deepEqual(lines(), [], "not yet 30 s");
      t += 1;
      await sleep(40);
      const warned = lines();
      assert.equal(warned.length, 1, "once, however many ticks see it");
      assert.equal(warned[0]!.level, 40);
      assert.equal(warned[0]!.runningMs, 30_000);
      assert.equal(warned[0]!.waiting, 3);
      assert.match(String(warned[0]!.msg), /write transaction/);
      // Another long one (another start) is reported again; none running says nothing.
      state = { waiting: 0 };
      await sleep(20);
      state = { since: t - 45_000, waiting: 0 };
      await sleep(40);
      assert.equal(lines().length, 2);
      assert.equal(lines()[1]!.runningMs, 45_000);
    } finally {
      stop();
    }
  });
});
