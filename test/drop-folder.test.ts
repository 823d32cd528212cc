/**
 * The drop folder against a local user who may write it (DESIGN.md "Trust model": files are
 * hostile). Every test plays the attacker with real files and runs the real intake
 * (`sigil requests import DIR`, and `sigil serve` with `intake.dropFolder`): links in place
 * of dropped files or of reason files, hard links to secrets, FIFOs, the service's own
 * folders replaced by links, the drop folder itself swapped for a link to the keys.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { BIN, PASS, initHome, sigil, sigilOk, tempDir, tool } from "./helpers.js";
import { startServe } from "./serve-helpers.js";

/** Every value of every row of the tables a dropped file could end up in, as bytes. */
function storedBytes(home: string): Buffer {
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    const parts: Buffer[] = [];
    for (const table of ["requests", "audit_events", "intake_log", "outbox"])
      for (const row of db.prepare(`select * from ${table}`).all() as Array<Record<string, unknown>>)
        for (const v of Object.values(row))
          parts.push(Buffer.isBuffer(v) ? v : Buffer.from(v === null ? "" : String(v)));
    return Buffer.concat(parts);
  } finally {
    db.close();
  }
}

/** Fails when any byte sequence that identifies `secret` (a PEM file) is stored. */
function assertNotStored(home: string, secret: Buffer, what: string): void {
  const stored = storedBytes(home);
  assert.ok(!stored.includes("PRIVATE KEY"), `${what}: a PEM private key header is stored`);
  // A line of the key's base64 body identifies it even without the header.
  const body = secret.toString().split("\n")[1]!;
  assert.ok(body.length > 20 && !stored.includes(body), `${what}: the key's bytes are stored`);
  assert.ok(!stored.includes(secret.subarray(0, 64)), `${what}: the file's first bytes are stored`);
}

/** Runs `sigil requests import DIR` without blocking this process; kills it if it hangs. */
function importAsync(home: string, dir: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, "requests", "import", dir], {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      cwd: dirname(home),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // A guard against a hang (the FIFO attack), not a timing assertion.
    const guard = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("exit", (status) => {
      clearTimeout(guard);
      resolve({ status, stderr: err });
    });
  });
}

/** Waits until `f()` holds (a guard of 60 s against waiting forever). */
async function waitFor(f: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 6000; i++) {
    if (f()) return;
    await sleep(10);
  }
  throw new Error(`gave up waiting for ${what}`);
}

const JUNK = "this is not a certificate request\n";

describe("the drop folder holds against a local user who may write it", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const rootKey = join(home, "keys", "genfic.key.pem");
  let keyBytes: Buffer;
  let n = 0;
  /** A fresh drop folder. */
  const newDrop = (): string => {
    const d = join(t.dir, `incoming-${++n}`);
    mkdirSync(d);
    return d;
  };

  before(() => {
    initHome(home);
    keyBytes = readFileSync(rootKey);
  });
  after(() => t.cleanup());

  it("(a) a link planted as rejected/NAME.reason.txt is not written through: the root key and sigil.db stay intact", () => {
    // A home of its own: before the fix, this attack destroyed the key and the database.
    const home = join(t.dir, "sigil-data-a");
    initHome(home);
    const rootKey = join(home, "keys", "genfic.key.pem");
    const keyBytes = readFileSync(rootKey);
    const drop = newDrop();
    mkdirSync(join(drop, "rejected"), { mode: 0o755 });
    symlinkSync(rootKey, join(drop, "rejected", "junk.csr.reason.txt"));
    symlinkSync(join(home, "sigil.db"), join(drop, "rejected", "junk2.csr.reason.txt"));
    writeFileSync(join(drop, "junk.csr"), JUNK);
    writeFileSync(join(drop, "junk2.csr"), JUNK);
    const r = sigil(home, ["requests", "import", drop]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(rootKey), keyBytes, "the root key was overwritten");
    sigilOk(home, ["audit", "verify"]);
    // Both files were rejected, each with its reason in a new file of its own.
    const rejected = join(drop, "rejected");
    const moved = readdirSync(rejected).filter((f) => !f.endsWith(".reason.txt"));
    assert.equal(moved.length, 2, readdirSync(rejected).join(" "));
    for (const f of moved) {
      assert.equal(readFileSync(join(rejected, f), "utf8"), JUNK);
      const reason = join(rejected, `${f}.reason.txt`);
      assert.ok(lstatSync(reason).isFile(), `${f}: no reason file`);
      assert.match(readFileSync(reason, "utf8"), /not a|certificate request/i);
      assert.equal(lstatSync(reason).mode & 0o777, 0o600);
    }
    // The planted links are still links (nothing replaced them either).
    assert.ok(lstatSync(join(rejected, "junk.csr.reason.txt")).isSymbolicLink());
  });

  it("(b) a link dropped in place of a file is never read: not at rest, not raced in after the listing", async () => {
    const drop = newDrop();
    // At rest: a link to the root key with a name the folder takes.
    symlinkSync(rootKey, join(drop, "genfic.key.pem"));
    // Raced: many files are listed, then the last one is swapped for a link while the
    // first ones are processed (the window between readdir and reading a file).
    for (let i = 0; i < 40; i++) writeFileSync(join(drop, `j${String(i).padStart(2, "0")}.csr`), JUNK);
    writeFileSync(join(drop, "zz.csr"), JUNK);
    const run = importAsync(home, drop);
    await waitFor(() => !existsSync(join(drop, "j00.csr")), "the first file to move");
    rmSync(join(drop, "zz.csr"), { force: true });
    symlinkSync(rootKey, join(drop, "zz.csr"));
    const r = await run;
    assert.equal(r.status, 0, r.stderr);
    // A second pass finds the raced-in link at rest, if the first had moved zz.csr already.
    const r2 = sigil(home, ["requests", "import", drop]);
    assert.equal(r2.status, 0, r2.stderr);
    assertNotStored(home, keyBytes, "a linked key");
    assert.deepEqual(readFileSync(rootKey), keyBytes);
    // The links were moved aside as links (never followed), with the reason beside them.
    const rejected = join(drop, "rejected");
    assert.ok(lstatSync(join(rejected, "genfic.key.pem")).isSymbolicLink());
    assert.match(readFileSync(join(rejected, "genfic.key.pem.reason.txt"), "utf8"), /symbolic link/);
    assert.ok(
      readdirSync(rejected).some(
        (f) => /^zz(\.\d+)?\.csr$/.test(f) && lstatSync(join(rejected, f)).isSymbolicLink(),
      ),
    );
    assert.deepEqual(
      readdirSync(drop).filter((f) => f.endsWith(".csr") || f.endsWith(".pem")),
      [],
    );
  });

  it("(c) a hard link to a secret is refused unread", () => {
    const drop = newDrop();
    linkSync(rootKey, join(drop, "hard.pem"));
    const r = sigil(home, ["requests", "import", drop]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /hard\.pem: rejected: .*hard link/);
    assertNotStored(home, keyBytes, "a hard link to the key");
    assert.deepEqual(readFileSync(rootKey), keyBytes);
    assert.ok(existsSync(join(drop, "rejected", "hard.pem")));
    assert.match(readFileSync(join(drop, "rejected", "hard.pem.reason.txt"), "utf8"), /hard link/);
  });

  it("(d) a FIFO does not hang the intake: at rest, behind a link, or raced in after the listing", async () => {
    const drop = newDrop();
    tool("mkfifo", [join(drop, "pipe.csr")]);
    tool("mkfifo", [join(t.dir, `outside-${n}.fifo`)]);
    symlinkSync(join(t.dir, `outside-${n}.fifo`), join(drop, "to-pipe.csr"));
    for (let i = 0; i < 40; i++) writeFileSync(join(drop, `j${String(i).padStart(2, "0")}.csr`), JUNK);
    writeFileSync(join(drop, "zz.csr"), JUNK);
    const run = importAsync(home, drop);
    await waitFor(() => !existsSync(join(drop, "j00.csr")), "the first file to move");
    rmSync(join(drop, "zz.csr"), { force: true });
    tool("mkfifo", [join(drop, "zz.csr")]);
    const r = await run;
    assert.equal(r.status, 0, `the intake hung or failed: ${r.stderr}`);
    const r2 = sigil(home, ["requests", "import", drop]);
    assert.equal(r2.status, 0, r2.stderr);
    const rejected = join(drop, "rejected");
    assert.ok(lstatSync(join(rejected, "pipe.csr")).isFIFO());
    assert.match(readFileSync(join(rejected, "pipe.csr.reason.txt"), "utf8"), /not a regular file/);
    assert.ok(lstatSync(join(rejected, "to-pipe.csr")).isSymbolicLink());
  });

  it("(e) processed/, rejected/ and processing/ replaced by links elsewhere: nothing is written there, nothing taken", () => {
    for (const sub of ["rejected", "processed", "processing"]) {
      const drop = newDrop();
      const elsewhere = join(t.dir, `elsewhere-${n}`);
      mkdirSync(elsewhere);
      symlinkSync(elsewhere, join(drop, sub));
      writeFileSync(join(drop, "junk.csr"), JUNK);
      sigilOk(home, ["request", "create", join(t.dir, `ok-${n}`), "--subject", "/CN=ok", "--no-encrypt"]);
      writeFileSync(join(drop, "ok.req"), readFileSync(join(t.dir, `ok-${n}.req`)));
      const r = sigil(home, ["requests", "import", drop]);
      assert.equal(r.status, 1, `${sub}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^sigil: .*${sub}/? is a symbolic link`), sub);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.deepEqual(readdirSync(elsewhere), [], `${sub}: the service wrote through the link`);
      assert.ok(
        existsSync(join(drop, "junk.csr")) && existsSync(join(drop, "ok.req")),
        `${sub}: files taken`,
      );
    }
  });

  it(
    "(e) a rejected/ folder someone else owns is not used",
    { skip: process.getuid?.() !== 0 && "needs root (chown)" },
    () => {
      const drop = newDrop();
      mkdirSync(join(drop, "rejected"), { mode: 0o777 });
      chownSync(join(drop, "rejected"), 65534, 65534);
      writeFileSync(join(drop, "junk.csr"), JUNK);
      const r = sigil(home, ["requests", "import", drop]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /^sigil: .*rejected\/? is owned by uid 65534/);
      assert.deepEqual(readdirSync(join(drop, "rejected")), []);
      assert.ok(existsSync(join(drop, "junk.csr")));
    },
  );

  it("makes its own folders private (0700) and keeps rejected bytes out of the database", () => {
    const drop = newDrop();
    writeFileSync(
      join(drop, "junk.csr"),
      "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGJ5dGVzIG9mIGEga2V5IHRoYXQgbXVzdCBub3QgYmUgc3RvcmVk\n-----END PRIVATE KEY-----\n",
    );
    const r = sigil(home, ["requests", "import", drop]);
    assert.equal(r.status, 0, r.stderr);
    for (const sub of ["processing", "processed", "rejected"])
      assert.equal(lstatSync(join(drop, sub)).mode & 0o777, 0o700, sub);
    const stored = storedBytes(home);
    assert.ok(!stored.includes("c2VjcmV0IGJ5dGVzIG9mIGEga2V5"), "the rejected file's bytes are stored");
  });
});

describe("sigil serve's drop folder, swapped for a link to the keys while it runs", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const drop = join(t.dir, "incoming");

  before(() => {
    initHome(home);
    mkdirSync(drop);
    writeFileSync(
      join(home, "sigil.json"),
      JSON.stringify({
        ...(JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as object),
        intake: { dropFolder: drop, dropIntervalSeconds: 1 },
      }),
    );
  });
  after(() => t.cleanup());

  it("keeps watching the folder it opened at start and never touches the keys", async () => {
    const keys = join(home, "keys");
    writeFileSync(join(drop, "first.csr"), JUNK);
    const s = await startServe(home, ["--workers", "1"]);
    try {
      await waitFor(() => existsSync(join(drop, "rejected", "first.csr")), "the first pass");
      // After the start (which adds the OCSP responders' keys).
      const keyFiles = readdirSync(keys).sort();
      renameSync(drop, `${drop}.old`);
      symlinkSync(keys, drop);
      writeFileSync(join(`${drop}.old`, "second.csr"), JUNK);
      await waitFor(
        () =>
          existsSync(join(`${drop}.old`, "rejected", "second.csr")) ||
          readdirSync(keys).sort().join() !== keyFiles.join(),
        "a pass after the swap",
      );
      assert.deepEqual(readdirSync(keys).sort(), keyFiles, "the service moved files out of keys/");
    } finally {
      assert.equal(await s.stop(), 0);
    }
    assert.doesNotMatch(s.stdout() + s.stderr(), /PRIVATE KEY/);
  });
});
