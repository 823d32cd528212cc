/**
 * The lease rule (leases.ts) on a real store (SQLite): the holder keeps its lease alive
 * between runs, another holder gets it only once it is released (or expired), and the
 * lifetimes are capped on a shared database.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { openSqliteStore } from "../store/sqlite/sqlite-store.js";
import {
  LEASE_HOLDER,
  MAX_SHARED_LEASE_TTL_MS,
  MIN_LEASE_TTL_MS,
  NOT_HELD,
  holdsLease,
  leaseTtl,
  releaseLease,
  whileLeased,
} from "./leases.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sigil-leases-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("job leases", () => {
  it("lifetimes: three intervals, at least 3 s, and at most 15 s on a shared database", () => {
    assert.equal(leaseTtl(100, false), MIN_LEASE_TTL_MS);
    assert.equal(leaseTtl(100, true), MIN_LEASE_TTL_MS);
    assert.equal(leaseTtl(60_000, false), 180_000);
    assert.equal(leaseTtl(60_000, true), MAX_SHARED_LEASE_TTL_MS);
    assert.equal(leaseTtl(3_600_000, true), MAX_SHARED_LEASE_TTL_MS);
    assert.equal(leaseTtl(2_000, true), 6_000);
  });

  it("the holder keeps its lease between runs until it releases it; then another takes it", async () => {
    const store = await openSqliteStore(path.join(tmp, "a.db"));
    try {
      const ttl = 600;
      const seen: boolean[] = [];
      const r = await whileLeased(
        store,
        "job.x",
        ttl,
        async () => "ran",
        (_n, held) => seen.push(held),
      );
      assert.equal(r, "ran");
      assert.ok(holdsLease("job.x"));
      // Three lifetimes after the run: still this process's, never lapsed (kept alive).
      await sleep(3 * ttl);
      assert.equal(await store.tryLease("job.x", "another-instance", ttl), false);
      const [lease] = (await store.jobLeases()).filter((l) => l.name === "job.x");
      assert.equal(lease?.holder, LEASE_HOLDER);
      assert.ok(seen.length >= 4 && seen.every(Boolean), seen.join(","));
      // Released (a clean stop, or sealed): nobody renews it, another instance takes it.
      await releaseLease(store, "job.x");
      assert.equal(holdsLease("job.x"), false);
      assert.equal(await store.tryLease("job.x", "another-instance", 60_000), true);
      // This process's next run finds it held elsewhere and keeps nothing alive.
      assert.equal(await whileLeased(store, "job.x", ttl, async () => "ran"), NOT_HELD);
      assert.equal(holdsLease("job.x"), false);
    } finally {
      await store.close();
    }
  });

  it("a holder cut off for longer than the lifetime loses the lease and stops renewing it", async () => {
    const store = await openSqliteStore(path.join(tmp, "b.db"));
    try {
      const ttl = 300;
      await whileLeased(store, "job.y", ttl, async () => undefined);
      assert.ok(holdsLease("job.y"));
      // Another instance takes the lease over (as after an expiry while this one was away).
      await store.releaseLease("job.y", LEASE_HOLDER);
      assert.equal(await store.tryLease("job.y", "another-instance", 60_000), true);
      await sleep(ttl);
      assert.equal(holdsLease("job.y"), false);
      const [lease] = (await store.jobLeases()).filter((l) => l.name === "job.y");
      assert.equal(lease?.holder, "another-instance");
    } finally {
      await store.close();
    }
  });
});
