/**
 * Keys the service makes for itself live in the shared database (issue 18): two homes that
 * share nothing but a PostgreSQL database (home B is a copy of home A made before A's first
 * start, as a second machine would be set up) both answer OCSP with the responder A made,
 * and an instance without a CA key file starts anyway, sealed, naming the key.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { initHome, issueCert, sigilOk, tempDir, usePostgresHomes, write } from "./helpers.js";
import { get, ocspQuery, startServe, type Served } from "./serve-helpers.js";
import { dropTestDatabases, psqlQuerySync, testCluster } from "./postgres.js";

describe("service keys in the shared database: instances on two machines", () => {
  const t = tempDir();
  const dir = t.dir;
  const homeA = join(dir, "machine-a", "sigil-data");
  const homeB = join(dir, "machine-b", "sigil-data");
  const running: Served[] = [];
  let db: string;
  let root: string;
  let system: string;

  const start = async (home: string): Promise<Served> => {
    const s = await startServe(home, ["--workers", "1"]);
    running.push(s);
    return s;
  };
  const stop = async (s: Served): Promise<number | null> => {
    running.splice(running.indexOf(s), 1);
    return s.stop();
  };
  const ocsp = (s: Served, target: string) => ocspQuery(s, system, root, target);

  before(async () => {
    await testCluster();
    usePostgresHomes();
    mkdirSync(join(dir, "machine-a"));
    initHome(homeA);
    // Machine B: a copy of A's home (config and CA key files) made before A ever started.
    cpSync(join(dir, "machine-a"), join(dir, "machine-b"), { recursive: true });
    const cfg = JSON.parse(readFileSync(join(homeA, "sigil.json"), "utf8")) as { store: { url: string } };
    db = new URL(cfg.store.url).pathname.slice(1);
    root = write(dir, "root.pem", sigilOk(homeA, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(homeA, ["ca", "show", "genfic-system", "--pem"]).stdout);
  });
  after(async () => {
    for (const s of running) await s.stop().catch(() => undefined);
    await dropTestDatabases();
    t.cleanup();
  });

  it("A's first start makes the responders with keys in the database, encrypted; B starts and answers with them", async () => {
    const a = await start(homeA);
    const cert = issueCert(homeA, dir, "a.genfic.internal");
    assert.match(ocsp(a, cert).stdout, /: good\b/);
    await stop(a);
    const responders = psqlQuerySync("SELECT key_ref FROM ocsp_responders ORDER BY id", db);
    assert.ok(responders.length >= 1, "responders were made");
    for (const ref of responders) assert.match(ref, /^store:ocsp-\d+-[0-9a-f]{16}$/);
    const audit = psqlQuerySync("SELECT key_ref FROM audit_keys", db);
    assert.match(audit[0]!, /^store:audit-/);
    // What a reader of the database gets: encrypted PKCS#8 only, never a key in the clear.
    const pems = psqlQuerySync("SELECT pem FROM service_keys", db).join("\n");
    assert.match(pems, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.doesNotMatch(pems, /BEGIN (EC |RSA )?PRIVATE KEY/);
    assert.equal(psqlQuerySync("SELECT count(*) FROM service_keys", db)[0], String(responders.length + 1));

    const b = await start(homeB);
    // A certificate issued through A: B's answer verifies (the responder is the same).
    const good = ocsp(b, cert);
    assert.match(good.stdout, /: good\b/, good.stdout + good.stderr);
    assert.match(good.stderr, /Response verify OK/);
    // A serial Sigil never issued: answered "unknown", signed live by B with the stored key.
    const unknown = ocsp(b, "0x7e57ab1e5e71a1");
    assert.match(unknown.stdout, /: unknown\b/, unknown.stdout + unknown.stderr);
    assert.match(unknown.stderr, /Response verify OK/);
    // A revocation through B's home: B signs "revoked" with the same key.
    sigilOk(homeB, ["revoke", "--cert", cert, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    const revoked = ocsp(b, cert);
    assert.match(revoked.stdout, /: revoked\b/, revoked.stdout + revoked.stderr);
    assert.match(revoked.stderr, /Response verify OK/);
    // No responder was issued for B: one responder certificate per CA.
    assert.deepEqual(psqlQuerySync("SELECT key_ref FROM ocsp_responders ORDER BY id", db), responders);
    // B signs audit checkpoints with the audit key A's init made.
    assert.match(sigilOk(homeB, ["audit", "checkpoint"]).stdout, /checkpoint/i);
    await stop(b);
  });

  it("an instance whose CA key file is missing starts sealed, names the key, and serves what it can", async () => {
    const cert = issueCert(homeA, dir, "b.genfic.internal");
    rmSync(join(homeB, "keys", "genfic-system.key.pem"));
    const b = await start(homeB);
    // The service log (JSON lines on stdout): one line naming the key and what to do.
    const lines = b
      .stdout()
      .split("\n")
      .filter((l) => l.includes("is not on this machine"));
    assert.equal(lines.length, 1, b.stdout());
    const msg = (JSON.parse(lines[0]!) as { msg: string }).msg;
    assert.match(msg, /the key of CA genfic-system \(file:genfic-system\) is not on this machine/);
    assert.match(msg, /copy genfic-system\.key\.pem into .*machine-b.*keys/);
    assert.match(b.stderr(), /sealed: pre-signed answers only/);
    const h = await get(`${b.url}/healthz`);
    assert.equal(h.status, 200, h.body.toString());
    assert.equal((JSON.parse(h.body.toString()) as { sealed: boolean }).sealed, true);
    // Pre-signed answers are still served (signed by the service that issued it: A's CLI
    // stores it unsigned and due, so sign it first through A).
    const a = await start(homeA);
    assert.match(ocsp(a, cert).stdout, /: good\b/);
    await stop(a);
    const answer = ocsp(b, cert);
    assert.match(answer.stdout, /: good\b/, answer.stdout + answer.stderr);
    assert.match(answer.stderr, /Response verify OK/);
    const code = await stop(b);
    assert.notEqual(code, 1);
  });
});
