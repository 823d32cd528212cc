import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { claimInstanceName, instancesStatus } from "./instances.js";
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

describe("claimInstanceName", () => {
  const store = (rows: InstanceRecord[]) => ({
    instances: async () => rows,
    leaseClock: async () => NOW,
  });

  it("keeps the wanted name when no live instance of another process has it", async () => {
    assert.deepEqual(await claimInstanceName(store([]), "vm-1a2b3c4d", "me"), { name: "vm-1a2b3c4d" });
    // Its own row (a restart of this very process's holder id) and a dead one do not count.
    const rows = [row("vm-1a2b3c4d", NOW, { holder: "me" }), row("x", NOW - 15_001)];
    assert.deepEqual(await claimInstanceName(store(rows), "vm-1a2b3c4d", "me"), { name: "vm-1a2b3c4d" });
    assert.deepEqual(await claimInstanceName(store(rows), "x", "me"), { name: "x" });
  });

  it("takes the first free suffix when a live instance has it (one home started twice), naming that one", async () => {
    const rows = [
      row("vm-1a2b3c4d", NOW - 1000, { host: "vm", pid: 41, address: "http://127.0.0.1:8080" }),
      row("vm-1a2b3c4d-2", NOW - 1000),
      row("vm-1a2b3c4d-3", NOW - 60_000), // stale: free again
    ];
    assert.deepEqual(await claimInstanceName(store(rows), "vm-1a2b3c4d", "me"), {
      name: "vm-1a2b3c4d-3",
      clash: { host: "vm", pid: 41, address: "http://127.0.0.1:8080" },
    });
    // The one that had it was killed seconds ago on this host (a restart): its name is free.
    const gone = (host: string, pid: number) => !(host === "vm" && pid === 41);
    assert.deepEqual(await claimInstanceName(store(rows), "vm-1a2b3c4d", "me", gone), {
      name: "vm-1a2b3c4d",
    });
  });
});
