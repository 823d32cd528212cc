/**
 * The mailbox proof store (migration 0010) on both backends: a challenge is answered once,
 * before it expires, inside the transaction that reads it; DKIM proofs and portal sessions.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { requestDraft } from "../../test/store-contract.js";
import { createTestDatabase, dropTestDatabases } from "../../test/postgres.js";
import { openSqliteStore } from "./sqlite/sqlite-store.js";
import { openPgStore } from "./postgres/pg-store.js";
import { mailboxProofs, mailboxProofsTx } from "./mailbox-proofs.js";
import type { Store } from "./types.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sigil-mbx-"));
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await dropTestDatabases();
});

const backends: Array<[string, () => Promise<Store>]> = [
  ["sqlite", () => openSqliteStore(path.join(tmp, "m.db"))],
  ["postgres", async () => openPgStore(await createTestDatabase())],
];

for (const [kind, open] of backends)
  describe(`mailbox proofs (${kind})`, () => {
    it("answers a challenge once, before it expires; keeps DKIM proofs and sessions", async () => {
      const store = await open();
      try {
        const req = await store.transaction((tx) => tx.insertRequest(requestDraft({ state: "pending" })));
        await store.transaction(async (tx) => {
          const px = mailboxProofsTx(tx);
          await px.insert({ requestId: req.id, address: "a@x.org", method: "challenge", tokenHash: "h1", createdAt: 1, expiresAt: 100, confirmedAt: null, confirmedVia: null }); // prettier-ignore
          await px.insert({ requestId: req.id, address: "b@x.org", method: "challenge", tokenHash: "h2", createdAt: 1, expiresAt: 10, confirmedAt: null, confirmedVia: null }); // prettier-ignore
          await px.insert({ requestId: req.id, address: "c@x.org", method: "dkim", tokenHash: null, createdAt: 1, expiresAt: null, confirmedAt: 1, confirmedVia: "dkim" }); // prettier-ignore
          await px.setSession(req.id, "s".repeat(64));
        });
        // (request, address) is unique.
        await assert.rejects(
          store.transaction(
            (tx) =>
            mailboxProofsTx(tx).insert({ requestId: req.id, address: "a@x.org", method: "challenge", tokenHash: "h3", createdAt: 2, expiresAt: 9, confirmedAt: null, confirmedVia: null }), // prettier-ignore
          ),
        );
        const ok = await store.transaction((tx) => mailboxProofsTx(tx).confirm("h1", 50, "web"));
        assert.equal(ok?.address, "a@x.org");
        assert.equal(ok?.confirmedAt, 50);
        assert.equal(ok?.confirmedVia, "web");
        assert.equal(await store.transaction((tx) => mailboxProofsTx(tx).confirm("h1", 51, "web")), undefined, "once"); // prettier-ignore
        assert.equal(await store.transaction((tx) => mailboxProofsTx(tx).confirm("h2", 10, "mail")), undefined, "expired"); // prettier-ignore
        assert.equal(await store.transaction((tx) => mailboxProofsTx(tx).confirm("nope", 5, "mail")), undefined); // prettier-ignore
        const reads = mailboxProofs(store);
        const all = await reads.ofRequest(req.id);
        assert.deepEqual(
          all.map((p) => [p.address, p.method, p.confirmedAt]),
          [
            ["a@x.org", "challenge", 50],
            ["b@x.org", "challenge", null],
            ["c@x.org", "dkim", 1],
          ],
        );
        assert.equal((await reads.byTokenHash("h2"))?.expiresAt, 10);
        assert.equal(await reads.sessionHash(req.id), "s".repeat(64));
        assert.equal(await reads.sessionHash(req.id + 1), undefined);
      } finally {
        await store.close();
      }
    });
  });
