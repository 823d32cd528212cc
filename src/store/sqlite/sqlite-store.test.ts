import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { runStoreContract } from "../../../test/store-contract.js";
import type { Store } from "../types.js";
import { ErrorCodes, isSigilError } from "../../errors.js";
import { openStore } from "../open.js";
import { caDraft } from "../../../test/store-contract.js";
import type { SqliteStore } from "./sqlite-store.js";
import { openSqliteStore } from "./sqlite-store.js";
import { tryNormalizeSerialHex as normalizeSerialHex } from "../../x509/serial.js";
import { mapSqliteError } from "./sqlite-errors.js";
import { tool } from "../../../test/helpers.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sigil-store-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const dbPath = (s: Store) => (s as SqliteStore).path;

runStoreContract("sqlite", () => openSqliteStore(path.join(tmp, `c${++n}.db`)), {
  rawSql: async (s, statement) => {
    const db = new Database(dbPath(s));
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  },
  childOpen: (s) => ({
    module: fileURLToPath(new URL("./sqlite-store.ts", import.meta.url)),
    exportName: "openSqliteStore",
    args: [dbPath(s)],
  }),
  snapshot: {
    target: () => path.join(tmp, `snap${++n}.db`),
    open: (file) => openSqliteStore(file, { readonly: true }),
  },
});

describe("sqlite store specifics", () => {
  it("normalises typed serials for the search (the x509 rule; no serial: undefined)", () => {
    assert.equal(normalizeSerialHex(" 0x00:1A:7e "), "1a7e");
    assert.equal(normalizeSerialHex("000"), "0");
    assert.equal(normalizeSerialHex("alice"), undefined);
  });

  it("openStore creates the home folder and a 0600 database, and reopens it", async () => {
    const home = path.join(tmp, "home", "sigil-data");
    const s = await openStore(home);
    await s.transaction((tx) => tx.insertCa(caDraft("genfic")));
    await s.close();
    await s.close(); // idempotent
    assert.equal(fs.statSync(path.join(home, "sigil.db")).mode & 0o777, 0o600);
    const again = await openStore(home);
    assert.equal((await again.listCas()).length, 1);
    await again.close();
  });

  it("read-only stores read but refuse transactions; a missing file is a clear error", async () => {
    const p = path.join(tmp, "ro.db");
    await (await openSqliteStore(p)).close();
    const ro = await openSqliteStore(p, { readonly: true });
    assert.deepEqual(await ro.listCas(), []);
    await assert.rejects(
      ro.transaction(async () => 1),
      (e) => isSigilError(e, ErrorCodes.STORE),
    );
    await ro.close();
    await assert.rejects(openSqliteStore(path.join(tmp, "missing.db"), { readonly: true }), (e) =>
      isSigilError(e, ErrorCodes.STORE),
    );
    await assert.rejects(openSqliteStore(path.join(tmp, "no", "such", "dir.db")), (e: unknown) => {
      assert.ok(isSigilError(e, ErrorCodes.STORE));
      assert.match(e.message, /cannot open|no such file/i);
      return true;
    });
  });

  it("refuses a database migrated by a newer Sigil", async () => {
    const p = path.join(tmp, "newer.db");
    await (await openSqliteStore(p)).close();
    const db = new Database(p);
    db.exec("INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_future', 'x')");
    db.close();
    await assert.rejects(openSqliteStore(p), /newer than this Sigil/);
  });

  it("a commit is on disk when it returns: the WAL is synced before the transaction's caller goes on", () => {
    // A power loss must not take back what Sigil has reported done (a certificate handed out,
    // audit events a checkpoint sent out covers). Watched with strace in a child process: the
    // fsync/fdatasync of the -wal file must come between the two marks written around one
    // transaction (with synchronous=NORMAL it comes only at a checkpoint or the close).
    const db = path.join(tmp, "durable.db");
    const trace = path.join(tmp, "durable.strace");
    const child = `
      import { writeSync } from "node:fs";
      const { openSqliteStore } = await import(${JSON.stringify(fileURLToPath(new URL("./sqlite-store.ts", import.meta.url)))});
      const { caDraft } = await import(${JSON.stringify(fileURLToPath(new URL("../../../test/store-contract.ts", import.meta.url)))});
      const s = await openSqliteStore(${JSON.stringify(db)});
      writeSync(2, "sigil-mark-begin\\n");
      await s.transaction((tx) => tx.insertCa(caDraft("durable")));
      writeSync(2, "sigil-mark-committed\\n");
      await s.close();
    `;
    const r = tool("strace", [
      "-f",
      "-y",
      "-e",
      "trace=fsync,fdatasync,write",
      "-o",
      trace,
      process.execPath,
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      child,
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = fs.readFileSync(trace, "utf8").split("\n");
    const begin = lines.findIndex((l) => l.includes('"sigil-mark-begin'));
    const committed = lines.findIndex((l) => l.includes('"sigil-mark-committed'));
    assert.ok(
      begin >= 0 && committed > begin,
      `marks not found in the trace:\n${lines.slice(-40).join("\n")}`,
    );
    const between = lines.slice(begin, committed);
    assert.ok(
      between.some((l) => /\b(fsync|fdatasync)\(\d+<[^>]*durable\.db-wal>/.test(l)),
      `no sync of the WAL between the marks:\n${between.join("\n")}`,
    );
  });

  it("maps SQLite errors to SigilError STORE", () => {
    const busy = Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" });
    const e = mapSqliteError(busy, "begin transaction");
    assert.equal(e.code, ErrorCodes.STORE);
    assert.match(e.message, /^begin transaction: the database is locked by another process/);
    assert.equal(e.details.sqliteCode, "SQLITE_BUSY");
    assert.equal(e.cause, busy);
  });

  const ROWS = Number(process.env.SIGIL_TEST_REVOKED_ROWS ?? 200_000);
  it(`streams ${ROWS} revoked entries without materialising them`, { timeout: 600_000 }, async () => {
    const p = path.join(tmp, "big.db");
    const s = await openSqliteStore(p);
    const ca = await s.transaction((tx) => tx.insertCa(caDraft("big")));
    const raw = new Database(p);
    const ins = raw.prepare(
      "INSERT INTO certificates (ca_id, serial_hex, subject, common_name, email, sans, profile, not_before, " +
        "not_after, der, fingerprint, status, revoked_at, revocation_reason, request_id, issued_at) " +
        "VALUES (?, ?, 'CN=x', NULL, NULL, '[]', 'user', 0, 1, x'00', ?, 'revoked', ?, 1, NULL, 0)",
    );
    const t0 = Date.now();
    raw.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        const hex = (0x1000000000 + i).toString(16);
        ins.run(ca.id, hex, hex, i);
      }
    })();
    raw.close();
    const fillMs = Date.now() - t0;
    global.gc?.();
    const before = process.memoryUsage();
    let count = 0;
    let peakHeap = 0;
    const t1 = Date.now();
    for await (const batch of s.revokedEntries(ca.id)) {
      assert.ok(batch.length <= 1024, "batches stay small");
      for (const e of batch) {
        if (count++ % 100_000 === 0) {
          global.gc?.(); // with --expose-gc, measure live memory rather than garbage
          peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        }
        assert.equal(e.reason, 1);
      }
    }
    const streamMs = Date.now() - t1;
    assert.equal(count, ROWS);
    assert.equal(await s.countRevoked(ca.id), ROWS);
    const grewMb = (peakHeap - before.heapUsed) / 1e6;
    console.log(
      `# revokedEntries: ${ROWS} rows filled in ${fillMs} ms, streamed in ${streamMs} ms; ` +
        `heap peak +${grewMb.toFixed(1)} MB, rss ${(before.rss / 1e6).toFixed(0)} -> ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`,
    );
    // Materialising the rows would take well over 100 bytes each.
    assert.ok(grewMb < Math.max(64, (ROWS * 100) / 1e6), `heap grew ${grewMb.toFixed(1)} MB`);
    await s.close();
  });
});
