/**
 * Backup and restore of a PostgreSQL store: `sigil backup` takes a pg_dump of one
 * consistent snapshot (with the key files), `sigil restore` loads it into the empty
 * database the new home points at; the restored store verifies its audit chain and lists
 * the same certificates. A database that already holds Sigil data is refused without --force.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { initHome, sigil, sigilOk, tempDir, tool, usePostgresHomes } from "./helpers.js";
import { createTestDatabaseSync, dropTestDatabases, testCluster } from "./postgres.js";

await testCluster();
usePostgresHomes();

describe("backup and restore of a PostgreSQL store", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  const archive = join(t.dir, "sigil-backup.tgz");
  let target: string;

  before(() => {
    initHome(home);
    for (const name of ["one", "two"]) {
      tool("openssl", [
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", `/CN=${name}.genfic.internal`,
      ]); // prettier-ignore
      sigilOk(home, [
        "sign",
        join(t.dir, `${name}.csr`),
        "--ca",
        "genfic-system",
        "-o",
        join(t.dir, `${name}.crt`),
      ]);
    }
    sigilOk(home, [
      "revoke",
      "--ca",
      "genfic-system",
      "--cert",
      join(t.dir, "two.crt"),
      "--reason",
      "superseded",
    ]);
    target = createTestDatabaseSync().url;
  });
  after(async () => {
    await dropTestDatabases();
    t.cleanup();
  });

  it("backs up online and restores into an empty database with the same certificates and a sound chain", () => {
    const b = sigilOk(home, ["backup", "--out", archive]);
    assert.match(b.stderr + b.stdout, /postgres/i);
    const home2 = join(t.dir, "restored");
    const r = sigil(home2, ["restore", "--from", archive, "--home", home2], {
      env: { SIGIL_DATABASE_URL: target },
    });
    assert.equal(r.status, 0, r.stderr);
    const env = { SIGIL_DATABASE_URL: target };
    assert.match(sigilOk(home2, ["audit", "verify"], { env }).stdout, /audit chain OK/);
    const before = JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as unknown[];
    const after = JSON.parse(sigilOk(home2, ["certs", "--json"], { env }).stdout) as unknown[];
    assert.deepEqual(after, before);
    // The restored home signs with its restored keys.
    const again = sigilOk(home2, ["sign", join(t.dir, "one.csr"), "--ca", "genfic-system"], { env });
    assert.match(again.stdout, /BEGIN CERTIFICATE/);
    // No password or dump file is left in the home.
    assert.throws(() => readFileSync(join(home2, "sigil.db")));
  });

  it("refuses a database that already holds Sigil data, naming it without its password", () => {
    const home3 = join(t.dir, "again");
    const r = sigil(home3, ["restore", "--from", archive, "--home", home3], {
      env: { SIGIL_DATABASE_URL: target },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: the database at postgres:\/\/\S+ already holds Sigil data: .*--force/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});
