/**
 * Crash safety: SIGKILL a batch issuance at random moments; afterwards the database opens,
 * the audit chain verifies, no serial repeats, and every certificate file handed out is
 * known to the database.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BIN, PASS, sigilOk, tempDir, initHome } from "./helpers.js";
import { NodeSigner } from "../src/keys/node-signer.js";
import { buildCsr } from "../src/x509/csr-build.js";
import { toPem, parsePemBlocks } from "../src/x509/der.js";

async function makeRequests(dir: string, n: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const der = await buildCsr({
      subject: [{ oid: "2.5.4.3", name: "CN", value: `host${i}.genfic.internal` }],
      sans: [],
      spki: signer.spki,
      signer,
    });
    const f = join(dir, `host${i}.req`);
    writeFileSync(f, toPem(der, "CERTIFICATE REQUEST"));
    files.push(f);
  }
  return files;
}

/**
 * Runs `sigil ARGS` and SIGKILLs it `ms` after `started()` first holds (polled every 20 ms;
 * at most 60 s): the kill lands mid-batch however slow the machine is.
 */
function killAfter(home: string, args: string[], ms: number, started: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      stdio: "ignore",
    });
    let timer: NodeJS.Timeout | undefined;
    const since = Date.now();
    const poll = setInterval(() => {
      if (!started() && Date.now() - since < 60_000) return;
      clearInterval(poll);
      timer = setTimeout(() => child.kill("SIGKILL"), ms);
    }, 20);
    child.on("exit", () => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve();
    });
  });
}

function run(home: string, args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      stdio: "ignore",
    });
    child.on("exit", (code) => resolve(code));
  });
}

describe("concurrent processes", () => {
  const t = tempDir();
  after(() => t.cleanup());

  it("lets several sigil processes sign and revoke on one store at once", async () => {
    const home = join(t.dir, "sigil-data");
    initHome(home);
    const reqs = await makeRequests(join(t.dir, "reqs"), 400);
    const jobs: Array<Promise<number | null>> = [];
    for (let k = 0; k < 4; k++)
      jobs.push(
        run(home, [
          "sign",
          ...reqs.slice(k * 100, (k + 1) * 100),
          "--ca",
          "genfic-system",
          "--out-dir",
          join(t.dir, `out${k}`),
        ]),
      );
    for (let k = 0; k < 3; k++) jobs.push(run(home, ["crl", "--ca", "genfic-user"]));
    // Responders are made by whoever first needs one (the service, a refresh): racing.
    for (let k = 0; k < 3; k++) jobs.push(run(home, ["ocsp", "refresh", "--ca", "genfic-system"]));
    assert.deepEqual(await Promise.all(jobs), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    const n = (
      db.prepare("select count(*) n from certificates where profile not in ('ocsp', 'ca')").get() as {
        n: number;
      }
    ).n;
    const responders = (
      db
        .prepare(
          "select count(*) n from ocsp_responders r join cas c on c.id = r.ca_id where c.name = 'genfic-system'",
        )
        .get() as {
        n: number;
      }
    ).n;
    const crl = (db.prepare("select crl_number n from cas where name = 'genfic-user'").get() as { n: number })
      .n;
    db.close();
    assert.equal(n, 400);
    assert.equal(responders, 1, "one OCSP responder, however many processes raced to make it");
    assert.equal(crl, 4); // one from init, three concurrent ones, no number taken twice
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /audit chain OK/);
  });
});

describe("crash safety", () => {
  const t = tempDir();
  after(() => t.cleanup());

  it("survives SIGKILL during batch issuance without losing or repeating anything", async () => {
    const home = join(t.dir, "sigil-data");
    initHome(home);
    const reqs = await makeRequests(join(t.dir, "reqs"), 3000);
    const out = join(t.dir, "out");
    const handedOut = () => (existsSync(out) ? readdirSync(out).filter((f) => f.endsWith(".crt")).length : 0);
    for (const ms of [0, 150, 400]) {
      // Killed once this run has handed out new certificates, then `ms` later. Each run
      // signs the whole batch again into the same folder: --force replaces the files.
      const before = handedOut();
      await killAfter(
        home,
        ["sign", ...reqs, "--ca", "genfic-system", "--out-dir", out, "--force"],
        ms,
        () => handedOut() > before,
      );
      const verify = sigilOk(home, ["audit", "verify"]);
      assert.match(verify.stdout, /audit chain OK/);
    }
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    const rows = db
      .prepare("select serial_hex, fingerprint from certificates where profile not in ('ocsp', 'ca')")
      .all() as Array<{
      serial_hex: string;
      fingerprint: string;
    }>;
    const issued = (
      db.prepare("select count(*) n from audit_events where action = 'cert.issue'").get() as { n: number }
    ).n;
    const unanswered = () =>
      (
        db
          .prepare(
            "select count(*) n from certificates c left join ocsp_responses o on o.cert_id = c.id " +
              "where c.profile not in ('ocsp', 'ca') and o.der is null",
          )
          .get() as { n: number }
      ).n;
    const noRow = (
      db
        .prepare(
          "select count(*) n from certificates c left join ocsp_responses o on o.cert_id = c.id " +
            "where c.profile not in ('ocsp', 'ca') and o.cert_id is null",
        )
        .get() as { n: number }
    ).n;
    // One-shot signing stores each answer unsigned and due, in the certificate's transaction;
    // the refresh (or the service) signs every one of them.
    assert.equal(noRow, 0, "every certificate committed with its OCSP answer row");
    sigilOk(home, ["ocsp", "refresh"]);
    assert.equal(unanswered(), 0, "the refresh signed every answer the killed runs left");
    db.close();
    assert.ok(rows.length > 0, "nothing was issued before the kills");
    assert.equal(new Set(rows.map((r) => r.serial_hex)).size, rows.length, "a serial repeats");
    assert.equal(issued, rows.length, "audit events and certificates disagree");
    const known = new Set(rows.map((r) => r.fingerprint));
    const files = readdirSync(out).filter((f) => f.endsWith(".crt"));
    assert.ok(files.length > 0);
    for (const f of files) {
      const blocks = parsePemBlocks(readFileSync(join(out, f), "utf8"));
      assert.equal(blocks.length, 1, `${f} is not one whole certificate`);
      const fp = createHash("sha256").update(blocks[0]!.der).digest("hex");
      assert.ok(known.has(fp), `${f} was handed out but is not in the database`);
    }
    console.log(`crash test: ${rows.length} certificates in the database, ${files.length} files handed out`);
  });
});
