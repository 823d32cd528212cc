import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditDraft, Store, StoreTx } from "../store/types.js";
import { RefusalLog, clientSource } from "./refusals.js";

/** A store that only records appended events. */
function memoryStore(): { store: Pick<Store, "transaction">; events: AuditDraft[] } {
  const events: AuditDraft[] = [];
  const tx = { appendAudit: async (e: AuditDraft) => events.push(e) } as unknown as StoreTx;
  return { store: { transaction: (fn) => fn(tx) }, events };
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

describe("refusal log", () => {
  it("appends the first refusal of a source and action at once, folds the rest of the minute into one summary", async () => {
    const { store, events } = memoryStore();
    let now = T0 + 1000;
    const log = new RefusalLog({ store, clock: () => now, timer: false });
    for (let i = 0; i < 500; i++) {
      await log.record({
        action: "admin.token.refused",
        source: "ip:127.0.0.1",
        reason: i % 2 ? "unknown" : "malformed",
        details: { i },
      });
      now += 10;
    }
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.details, { i: 0, source: "ip:127.0.0.1", reason: "malformed" });
    assert.equal(events[0]!.actor, "ip:127.0.0.1");
    await log.flush(); // the minute has not ended
    assert.equal(events.length, 1);
    now = T0 + 60_000;
    await log.flush();
    assert.equal(events.length, 2);
    assert.equal(events[1]!.action, "admin.token.refused");
    assert.deepEqual(events[1]!.details, {
      summary: true,
      source: "ip:127.0.0.1",
      count: 499,
      firstAt: new Date(T0 + 1010).toISOString(),
      lastAt: new Date(T0 + 1000 + 499 * 10).toISOString(),
      reasons: { unknown: 250, malformed: 249 },
    });
    await log.close();
    assert.equal(events.length, 2, "nothing left to write");
  });

  it("keeps sources and actions apart, starts again each minute, and writes what is left at close", async () => {
    const { store, events } = memoryStore();
    let now = T0;
    const log = new RefusalLog({ store, clock: () => now, timer: false });
    const r = (action: string, source: string) => log.record({ action, source });
    await r("portal.csrf.refused", "ip:192.0.2.1");
    await r("portal.csrf.refused", "ip:192.0.2.2");
    await r("portal.rate.refused", "ip:192.0.2.1");
    await r("portal.csrf.refused", "ip:192.0.2.1");
    assert.equal(events.length, 3);
    now = T0 + 61_000; // a new minute: the last one's summary first, then a new first event
    await r("portal.csrf.refused", "ip:192.0.2.1");
    assert.deepEqual(
      events.slice(3).map((e) => [e.action, e.actor, e.details.summary ?? false, e.details.count ?? null]),
      [
        ["portal.csrf.refused", "ip:192.0.2.1", true, 1],
        ["portal.csrf.refused", "ip:192.0.2.1", false, null],
      ],
    );
    await r("portal.csrf.refused", "ip:192.0.2.1");
    await log.close();
    assert.equal(events.at(-1)!.details.count, 1);
    assert.equal(events.length, 6);
  });

  it("tracks a bounded number of pairs: the rest go to one other.refused summary", async () => {
    const { store, events } = memoryStore();
    const log = new RefusalLog({ store, clock: () => T0, timer: false, maxKeys: 3 });
    for (let i = 0; i < 100; i++)
      await log.record({ action: "acme.order.refused", source: `ip:10.0.0.${i}` });
    assert.equal(events.length, 3);
    await log.close();
    assert.equal(events.length, 4);
    assert.equal(events[3]!.action, "other.refused");
    assert.equal(events[3]!.details.count, 97);
    assert.deepEqual(events[3]!.details.actions, { "acme.order.refused": 97 });
  });

  it("never throws when the event cannot be written", async () => {
    const errors: unknown[] = [];
    const log = new RefusalLog({
      store: { transaction: () => Promise.reject(new Error("read-only")) },
      clock: () => T0,
      timer: false,
      onError: (e) => errors.push(e),
    });
    await log.record({ action: "admin.token.refused", source: "socket" });
    await log.record({ action: "admin.token.refused", source: "socket" });
    await log.close();
    assert.equal(errors.length, 2);
  });

  it("names a client by its IPv4 address or its IPv6 /64", () => {
    assert.equal(clientSource("127.0.0.1"), "ip:127.0.0.1");
    assert.equal(clientSource("::ffff:192.0.2.7"), "ip:192.0.2.7");
    assert.equal(clientSource("2001:db8:0:12:a::1"), "ip:2001:db8:0:12::/64");
    assert.equal(clientSource("2001:db8::1"), "ip:2001:db8:0:0::/64");
    assert.equal(clientSource("::1"), "ip:0:0:0:0::/64");
    assert.equal(clientSource(undefined), "unknown");
    assert.equal(clientSource("not an address"), "unknown");
  });
});
