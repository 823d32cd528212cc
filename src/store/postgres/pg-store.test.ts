import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { caDraft, certDraft, runStoreContract } from "../../../test/store-contract.js";
import { createTestDatabase, dropTestDatabases } from "../../../test/postgres.js";
import { verifyAuditChain } from "../../audit/verify.js";
import { ErrorCodes, isSigilError } from "../../errors.js";
import type { Store } from "../types.js";
import type { PgStore } from "./pg-store.js";
import { openPgStore } from "./pg-store.js";
import { mapPgError, redactDatabaseUrl } from "./pg-errors.js";

const snapDir = mkdtempSync(join(tmpdir(), "sigil-pg-snap-"));
let snaps = 0;
after(async () => {
  await dropTestDatabases();
  rmSync(snapDir, { recursive: true, force: true });
});
const urls = new WeakMap<Store, string>();

async function fresh(): Promise<Store> {
  const url = await createTestDatabase();
  const s = await openPgStore(url);
  urls.set(s, url);
  return s;
}

runStoreContract("postgres", fresh, {
  rawSql: async (s, statement) => {
    const c = new pg.Client({ connectionString: urls.get(s)! });
    await c.connect();
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  },
  childOpen: (s) => ({
    module: fileURLToPath(new URL("./pg-store.ts", import.meta.url)),
    exportName: "openPgStore",
    args: [urls.get(s)!],
  }),
  // A snapshot is a pg_dump archive: restore it into a new database and open that.
  snapshot: {
    target: () => join(snapDir, `snap${++snaps}.dump`),
    open: async (file) => {
      const url = await createTestDatabase();
      const r = spawnSync(
        "pg_restore",
        ["--no-owner", "--no-privileges", "--exit-on-error", "-d", url, file],
        {
          encoding: "utf8",
        },
      );
      if (r.status !== 0) throw new Error(`pg_restore failed: ${r.stderr}`);
      return openPgStore(url, { readonly: true });
    },
  },
});

describe("postgres store specifics", () => {
  it("redacts passwords in URLs and errors", async () => {
    assert.equal(redactDatabaseUrl("postgres://u:s3cret@db:5432/x"), "postgres://u:***@db:5432/x");
    assert.equal(redactDatabaseUrl("postgres://db/x?password=s3cret"), "postgres://db/x?password=***");
    assert.doesNotMatch(redactDatabaseUrl("postgres://u:s3cret@[bad"), /s3cret/);
    // Nothing listens on port 1: the error names the server without the password.
    await assert.rejects(openPgStore("postgres://sigil:s3cret@127.0.0.1:1/x"), (e: unknown) => {
      assert.ok(isSigilError(e, ErrorCodes.STORE));
      assert.match(e.message, /cannot reach the database at postgres:\/\/sigil:\*\*\*@127\.0\.0\.1:1\/x/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
    const e = mapPgError(Object.assign(new Error("boom"), { code: "40P01" }), "commit");
    assert.match(
      e.message,
      /^commit: the database gave up on a conflicting transaction \(40P01\); try again$/,
    );
  });

  it("read-only stores read but refuse writes; an empty database is a clear error", async () => {
    const url = await createTestDatabase();
    await assert.rejects(openPgStore(url, { readonly: true }), /holds no Sigil data/);
    const rw = await openPgStore(url);
    await rw.transaction((tx) => tx.insertCa(caDraft("genfic")));
    const ro = await openPgStore(url, { readonly: true });
    assert.deepEqual(
      (await ro.listCas()).map((c) => c.name),
      ["genfic"],
    );
    await assert.rejects(
      ro.transaction(async () => 1),
      (e) => isSigilError(e, ErrorCodes.STORE) && /read-only/.test(e.message),
    );
    await assert.rejects(ro.tryLease("x", "me", 1000), /read-only/);
    await ro.close();
    await rw.close();
  });

  it("job leases: one holder at a time, renewable, taken over once expired, released", async () => {
    const url = await createTestDatabase();
    const a = await openPgStore(url);
    const b = await openPgStore(url);
    assert.equal(await a.tryLease("ocsp.refresh", "a", 60_000), true);
    assert.equal(await b.tryLease("ocsp.refresh", "b", 60_000), false);
    assert.equal(await a.tryLease("ocsp.refresh", "a", 60_000), true, "renewed");
    assert.equal(await b.tryLease("other", "b", 60_000), true, "per job");
    await a.releaseLease("ocsp.refresh", "b"); // not b's: no-op
    assert.equal(await b.tryLease("ocsp.refresh", "b", 60_000), false);
    await a.releaseLease("ocsp.refresh", "a");
    assert.equal(await b.tryLease("ocsp.refresh", "b", 1), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await a.tryLease("ocsp.refresh", "a", 60_000), true, "b's lease expired");
    // Racing for a free lease: exactly one wins.
    const wins = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).tryLease("race", `h${i}`, 60_000)),
    );
    assert.equal(wins.filter(Boolean).length, 1);
    await a.close();
    await b.close();
  });

  it("a lost LISTEN connection is replaced, and other instances' commits are seen again", async () => {
    const url = await createTestDatabase();
    const a = await openPgStore(url);
    const b = await openPgStore(url);
    const ca = await a.transaction((tx) => tx.insertCa(caDraft("genfic")));
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    const listeners = async () =>
      Number(
        (
          await admin.query<{ n: string }>(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'sigil-listen' " +
              "AND datname = current_database()",
          )
        ).rows[0]!.n,
      );
    // A store listens only once asked for its data version (a one-shot CLI never is).
    assert.equal(await listeners(), 0);
    await a.dataVersion();
    assert.equal(await listeners(), 1);
    const before = await b.dataVersion();
    assert.equal(await listeners(), 2);
    await admin.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'sigil-listen' " +
        "AND datname = current_database()",
    );
    const until = async (f: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 10_000;
      while (!(await f())) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // The loss counts as a change (terminated backends may still be listed for a moment, so
    // wait for the change itself, then for both listeners to be back).
    await until(async () => (await b.dataVersion()) !== before, "the loss counts as a change");
    await until(async () => (await listeners()) === 2, "both stores listen again");
    await new Promise((r) => setTimeout(r, 50));
    const v1 = await b.dataVersion();
    await a.transaction((tx) => tx.insertCert(certDraft(ca.id, "02")));
    await until(
      async () => (await b.dataVersion()) !== v1,
      "a's commit reaches b through the new connection",
    );
    await admin.end();
    await a.close();
    await b.close();
  });

  it("two instances: a commit on one changes the other's data version; locks, not the queue, keep them safe", async () => {
    const url = await createTestDatabase();
    const a = (await openPgStore(url)) as PgStore;
    const b = (await openPgStore(url)) as PgStore;
    const ca = await a.transaction((tx) => tx.insertCa(caDraft("genfic")));
    const v0 = await b.dataVersion();
    await a.transaction((tx) => tx.insertCert(certDraft(ca.id, "01")));
    const deadline = Date.now() + 2000;
    while ((await b.dataVersion()) === v0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.notEqual(await b.dataVersion(), v0, "seen by the other instance within 2 s");
    assert.equal((await b.getCert(ca.id, "01"))?.serialHex, "01");

    // Concurrent CRL numbers and audit appends through both instances: distinct, gap-free.
    const numbers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).transaction(async (tx) => {
          const n = await tx.nextCrlNumber(ca.id);
          await tx.appendAudit({ at: i, actor: "t", action: "crl.publish", target: null, details: { n } });
          return n;
        }),
      ),
    );
    assert.deepEqual(
      [...numbers].sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    const v = await verifyAuditChain(a.auditEvents(), await a.auditHead());
    assert.deepEqual(v.ok && v.count, 40);

    // A request decided on one instance: the other's locked re-read waits, then sees it.
    const req = await a.transaction((tx) =>
      tx.insertRequest({
        channel: "cli",
        submitter: null,
        email: null,
        receivedAt: 0,
        csrDer: Buffer.from("csr"),
        subject: "CN=x",
        caName: null,
        profile: null,
        state: "pending",
        reason: null,
        certificateId: null,
        source: null,
        checks: [],
        decidedBy: null,
        decidedAt: null,
        replyTo: null,
      }),
    );
    const decide = (s: Store, by: string) =>
      s.transaction(async (tx) => {
        const cur = await tx.getRequestForUpdate(req.id);
        if (cur?.state !== "pending") return false;
        await new Promise((r) => setTimeout(r, 50)); // hold the row lock a while
        await tx.updateRequest(req.id, { state: "rejected", decidedBy: by });
        return true;
      });
    const decided = await Promise.all([decide(a, "a"), decide(b, "b")]);
    assert.deepEqual(decided.filter(Boolean).length, 1, "exactly one instance decides");

    // One token name created on both instances at once: one live token, never two.
    const created = await Promise.all(
      [a, b].map((s, i) =>
        s.transaction(async (tx) => {
          const holder = await tx.insertAdminToken({
            id: `00000000000000c${i}`,
            name: "olga",
            role: "operator",
            secretHash: Buffer.alloc(32, i),
            scheme: "hmac-sha256",
            createdAt: 1000,
            createdBy: "t",
            expiresAt: 10_000,
            revokedAt: null,
          });
          await new Promise((r) => setTimeout(r, 50)); // commit late
          return holder === undefined;
        }),
      ),
    );
    assert.equal(created.filter(Boolean).length, 1, "exactly one instance creates olga");
    assert.equal((await a.listAdminTokens()).filter((t) => t.name === "olga").length, 1);
    await a.close();
    await b.close();
  });
});
