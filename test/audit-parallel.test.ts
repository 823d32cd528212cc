/**
 * The audit log verified in parts on worker threads (store/sqlite/audit-scan.ts,
 * audit/segment.ts, joined by audit/log-verify.ts) gives exactly the verdict of one walk
 * over every event (the `stored` source): the same first bad event, checkpoint, count and
 * words, for tampering anywhere (inside a part, at a part's first or last event, at a
 * checkpoint's size), on the workers and on the calling thread.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { chainHash, GENESIS_HASH, parseDetails } from "../src/audit/chain.js";
import { auditKeyId, checkpointText, eventLeaf } from "../src/audit/checkpoint.js";
import { verifyAuditLog, type LogVerdict } from "../src/audit/log-verify.js";
import { rootOf } from "../src/audit/merkle.js";
import { openStore, SQLITE_FILE_NAME } from "../src/store/open.js";
import { BACKGROUND_NICE, scanAuditRanges } from "../src/store/sqlite/audit-scan.js";
import type { AuditCheckpoint } from "../src/store/types.js";
import { auditDraft } from "./audit-fixtures.js";

const N = 1500;
const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = key.publicKey.export({ format: "der", type: "spki" });

let dir: string;
let pristine: Buffer;

/** Every checkpoint is signed over the intact log; sizes inside parts, at part edges, at the end. */
const SIZES = [1, 256, 257, 258, 700, 1023, 1024, 1025, 1499, N];
let checkpoints: AuditCheckpoint[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sigil-audit-parallel-"));
  const store = await openStore(dir);
  try {
    await store.transaction(async (tx) => {
      for (let i = 1; i <= N; i++) await tx.appendAudit(auditDraft(i));
    });
  } finally {
    await store.close();
  }
  const db = new Database(join(dir, SQLITE_FILE_NAME));
  db.pragma("wal_checkpoint(TRUNCATE)");
  const hashes = (db.prepare("SELECT hash FROM audit_events ORDER BY seq").pluck().all() as string[]).map(
    eventLeaf,
  );
  db.close();
  checkpoints = SIZES.map((size) => {
    const head = { treeSize: size, rootHash: rootOf(hashes.slice(0, size)).toString("hex"), at: 9000 + size };
    return {
      ...head,
      keyId: auditKeyId(spki),
      signature: sign("sha256", checkpointText(head), key.privateKey).toString("base64"),
    };
  });
  const { readFileSync } = await import("node:fs");
  pristine = readFileSync(join(dir, SQLITE_FILE_NAME));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Restores the intact log, then applies `edit` to the database. */
async function tamper(edit: (db: Database.Database) => void): Promise<void> {
  const { writeFileSync } = await import("node:fs");
  for (const f of ["-wal", "-shm"]) rmSync(join(dir, SQLITE_FILE_NAME + f), { force: true });
  writeFileSync(join(dir, SQLITE_FILE_NAME), pristine);
  const db = new Database(join(dir, SQLITE_FILE_NAME));
  try {
    edit(db);
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

/** Rewrites every hash from event `from` on, and the head, as an insider with a 30-line script would. */
function rehash(db: Database.Database, from = 1): void {
  const rows = db.prepare("SELECT * FROM audit_events ORDER BY seq").all() as Array<Record<string, unknown>>;
  let prev = GENESIS_HASH;
  const put = db.prepare("UPDATE audit_events SET prev_hash = ?, hash = ? WHERE seq = ?");
  for (const r of rows) {
    const seq = r.seq as number;
    if (seq >= from) {
      const hash = chainHash(prev, {
        seq,
        at: r.at as number,
        actor: r.actor as string,
        action: r.action as string,
        target: r.target as string | null,
        details: parseDetails(r.details as string),
      });
      put.run(prev, hash, seq);
      prev = hash;
    } else prev = r.hash as string;
  }
  db.prepare("UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_events), hash = ?").run(prev);
}

/** The verdicts of the walk, the workers (small parts, several threads) and the calling thread. */
async function verdicts(): Promise<LogVerdict[]> {
  const store = await openStore(dir);
  try {
    const head = await store.auditHead();
    const base = { head, checkpoints, pinned: [spki] };
    const path = join(dir, SQLITE_FILE_NAME);
    return [
      await verifyAuditLog({ ...base, events: { stored: store.auditEventBatches() } }),
      await verifyAuditLog({
        ...base,
        events: {
          ranges: (s) => scanAuditRanges(path, s, { threads: 2, partSize: 257, minEventsForThreads: 0 }),
        },
      }),
      await verifyAuditLog({
        ...base,
        events: { ranges: (s) => scanAuditRanges(path, s, { threads: 0, partSize: 100 }) },
      }),
      await verifyAuditLog({ ...base, events: { ranges: (s) => store.auditRanges!(s) } }),
      // The service's own check: the same readers at the lowest CPU priority.
      await verifyAuditLog({
        ...base,
        events: {
          ranges: (s) =>
            scanAuditRanges(path, s, { threads: 2, partSize: 257, minEventsForThreads: 0, background: true }),
        },
      }),
    ];
  } finally {
    await store.close();
  }
}

async function same(edit: (db: Database.Database) => void, expect?: RegExp): Promise<LogVerdict> {
  await tamper(edit);
  const [walk, ...others] = await verdicts();
  for (const v of others) assert.deepEqual(v, walk);
  if (expect) assert.match(walk!.ok ? "ok" : walk!.reason, expect);
  return walk!;
}

const set = (col: string, value: unknown, seq: number) => (db: Database.Database) =>
  db.prepare(`UPDATE audit_events SET ${col} = ? WHERE seq = ?`).run(value, seq);

/** The nice values of this process's threads now (Linux: /proc/self/task/TID/stat, field 19). */
function threadNices(): number[] {
  return readdirSync("/proc/self/task").flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      return [Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16])];
    } catch {
      return []; // the thread ended between the listing and the read
    }
  });
}

describe("the audit log verified in parts", () => {
  it("in the background (the service's check), the reader threads lower their own priority only", async () => {
    const path = join(dir, SQLITE_FILE_NAME);
    const scan = (background: boolean) =>
      scanAuditRanges(path, [N], { threads: 1, partSize: 1, minEventsForThreads: 0, background });
    // Watched from this thread while the reader runs (one part per event keeps it busy).
    const seen = new Set<number>();
    const running = scan(true);
    let done = false;
    void running.finally(() => (done = true));
    const until = Date.now() + 20_000;
    while (!seen.has(BACKGROUND_NICE) && Date.now() < until) {
      for (const n of threadNices()) seen.add(n);
      await new Promise((r) => setImmediate(r));
      if (done) break;
    }
    const background = await running;
    assert.ok(
      seen.has(BACKGROUND_NICE),
      `a reader thread at nice ${BACKGROUND_NICE} (seen: ${[...seen].join(", ")})`,
    );
    assert.ok(
      threadNices().every((n) => n === 0),
      "the calling thread and the rest keep their priority",
    );
    assert.deepEqual(background, await scan(false));
  });

  it("an intact log: the same verdict", async () => {
    const v = await same(() => undefined, /^ok$/);
    assert.equal(v.ok && v.count, N);
    assert.equal(v.ok && v.checkpoints, SIZES.length);
  });

  it("an edited event anywhere: first bad event named alike", async () => {
    for (const [i, seq] of [1, 257, 258, 700, 1025, N].entries())
      await same(
        i % 2 ? set("actor", "cli:mallory", seq) : set("details", '{"x":1}', seq),
        new RegExp(`^event ${seq}: hash does not match`),
      );
    await same(set("at", 12.5, 300), /^event 300: hash/);
    await same(set("at", "123", 300), /^event 300: hash/);
    await same(set("target", null, 3), /^event 3: hash/);
    await same(set("seq", 999_999, 400), /^event 401 follows 399: event\(s\) missing \(400\)/);
  });

  it("details stored in another form of the same JSON still verify, on every path", async () => {
    const v = await same((db) => {
      const rows = db.prepare("SELECT seq, details FROM audit_events WHERE seq % 7 = 0").all() as Array<{
        seq: number;
        details: string;
      }>;
      for (const r of rows)
        db.prepare("UPDATE audit_events SET details = ? WHERE seq = ?").run(
          JSON.stringify(JSON.parse(r.details), null, 1),
          r.seq,
        );
    }, /^ok$/);
    assert.equal(v.ok, true);
  });

  it("deleted and replaced events, a broken link, a truncated log, a tampered head", async () => {
    for (const seq of [1, 257, 514, N])
      await same((db) => db.prepare("DELETE FROM audit_events WHERE seq = ?").run(seq));
    await same((db) => db.prepare("DELETE FROM audit_events WHERE seq BETWEEN 250 AND 600").run());
    await same((db) => db.prepare("DELETE FROM audit_events WHERE seq > 1200").run(), /truncated/);
    for (const seq of [258, 1000])
      await same(set("prev_hash", "0".repeat(64), seq), new RegExp(`^event ${seq}: (hash|does not)`));
    await same((db) => db.prepare("UPDATE audit_head SET seq = seq - 1").run(), /audit head tampered/);
    await same(
      (db) => db.prepare("UPDATE audit_head SET hash = ?").run("ab".repeat(32)),
      /audit head tampered/,
    );
    await same((db) => db.prepare("DELETE FROM audit_head").run());
    await same((db) => db.prepare("DELETE FROM audit_events").run());
  });

  it("an insider's rewrite with every hash recomputed: the first checkpoint over it fails alike", async () => {
    for (const seq of [1, 256, 258, 1025, N]) {
      const v = await same((db) => {
        set("actor", "cli:mallory", seq)(db);
        rehash(db, seq);
      });
      assert.equal(v.ok, false);
      const first = SIZES.find((n) => n >= seq)!;
      assert.equal(!v.ok && v.checkpoint, first);
      assert.match(
        !v.ok ? v.reason : "",
        new RegExp(`checkpoint of ${first} events .*do not hash to its root`),
      );
    }
    await same((db) => {
      db.prepare("DELETE FROM audit_events WHERE seq = 600").run();
      db.prepare("UPDATE audit_events SET seq = seq - 1 WHERE seq > 600").run();
      rehash(db, 600);
    }, /checkpoint of 700 events/);
  });
});
