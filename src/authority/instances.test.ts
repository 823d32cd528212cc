import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { instancesStatus } from "./instances.js";
import type { InstanceRecord, JobLeaseRecord } from "../store/types.js";

const NOW = 1_800_000_000_000;

const row = (name: string, lastSeen: number, over: Partial<InstanceRecord> = {}): InstanceRecord => ({
  name,
  holder: `h:${name}`,
  address: `http://${name}:8080`,
  admin: [],
  pid: 1,
  host: name,
  version: "0.1.0",
  startedAt: NOW - 60_000,
  lastSeen,
  heartbeatMs: 5000,
  sealed: false,
  ...over,
});

describe("instancesStatus", () => {
  it("judges staleness by each row's own heartbeat and the lease clock, and names each lease's instance", async () => {
    const leases: JobLeaseRecord[] = [
      { name: "serve.jobs", holder: "h:a", expiresAt: NOW + 1 },
      { name: "serve.notices", holder: "h:b", expiresAt: NOW },
      { name: "serve.outbox", holder: "h:gone", expiresAt: NOW + 5000 },
    ];
    const st = await instancesStatus({
      instances: async () => [
        row("a", NOW - 15_000),
        row("b", NOW - 15_001),
        row("c", NOW - 3001, { heartbeatMs: 1000, sealed: true }),
      ],
      jobLeases: async () => leases,
      leaseClock: async () => NOW,
    });
    assert.deepEqual(
      st.instances.map((i) => [i.name, i.stale, i.sealed, i.jobs]),
      [
        ["a", false, false, ["serve.jobs"]],
        ["b", true, false, []], // its lease expired (at NOW): not held any more
        ["c", true, true, []],
      ],
    );
    assert.equal(st.instances[0]!.lastSeen, new Date(NOW - 15_000).toISOString());
    assert.deepEqual(
      st.leases.map((l) => [l.job, l.instance, l.expired]),
      [
        ["serve.jobs", "a", false],
        ["serve.notices", "b", true],
        ["serve.outbox", null, false],
      ],
    );
  });
});
