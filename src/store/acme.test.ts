/** The ACME store contract on SQLite and on PostgreSQL (a private cluster, test/postgres.ts). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import { runAcmeStoreContract } from "../../test/acme-store-contract.js";
import { createTestDatabase, dropTestDatabases } from "../../test/postgres.js";
import { openSqliteStore } from "./sqlite/sqlite-store.js";
import { openPgStore } from "./postgres/pg-store.js";
import type { Store } from "./types.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sigil-acme-store-"));
let n = 0;
const urls = new WeakMap<Store, string>();
after(async () => {
  await dropTestDatabases();
  fs.rmSync(tmp, { recursive: true, force: true });
});

runAcmeStoreContract("sqlite", () => openSqliteStore(path.join(tmp, `a${++n}.db`)));

runAcmeStoreContract(
  "postgres",
  async () => {
    const url = await createTestDatabase();
    const s = await openPgStore(url);
    urls.set(s, url);
    return s;
  },
  { second: (s) => openPgStore(urls.get(s)!) },
);
