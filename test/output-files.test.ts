/**
 * The output rule (src/files/output.ts) on every command that writes files: destinations
 * are checked before anything is issued or published; an existing file is replaced only
 * with --force; devices and FIFOs are written into, never replaced; `-` is stdout; folders,
 * sockets and dangling links are refused; a certificate issued but not written is named.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { BIN, PASS, initHome, sigil, sigilAsync, sigilOk, tempDir, tool, type Run } from "./helpers.js";

const CA = "genfic-system";
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/;

describe("output files", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const work = join(t.dir, "work");
  let req: string;
  let socketServer: Server | undefined;
  /** /dev/null once a private device node showed it is written into, not replaced. */
  let devNull = join(t.dir, "not-dev-null");

  /**
   * A device like /dev/full (writes fail with ENOSPC): a private node made with mknod when
   * root (a regression cannot replace the machine's), else /dev/full itself.
   */
  const fullDevice = (): string => {
    const node = join(t.dir, "full.dev");
    if (existsSync(node) || tool("mknod", ["-m", "666", node, "c", "1", "7"]).status === 0) return node;
    return "/dev/full";
  };

  /** Issued certificates and audit actions, to show a refusal changed nothing. */
  const state = (): { certs: number; audit: string[] } => ({
    certs: (JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as unknown[]).length,
    audit: sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { action: string }).action),
  });

  /** Runs `args`, expects exit 1 with one `sigil:` line matching `re`, and no new certificate or CRL. */
  const refusedBeforeIssuing = (args: string[], re: RegExp): Run => {
    const was = state();
    const r = sigil(home, args, { cwd: work });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^sigil: [^\n]+\n$/);
    assert.match(r.stderr, re);
    const now = state();
    assert.equal(now.certs, was.certs, "a certificate was issued");
    const added = now.audit.slice(was.audit.length);
    assert.ok(!added.includes("cert.issue"), `audited: ${added.join(", ")}`);
    assert.ok(!added.includes("crl.publish"), `audited: ${added.join(", ")}`);
    return r;
  };

  const isCert = (file: string): void => {
    const x = tool("openssl", ["x509", "-in", file, "-noout", "-subject"]);
    assert.equal(x.status, 0, x.stderr);
  };

  before(() => {
    initHome(home);
    mkdirSync(work);
    sigilOk(home, [
      "request",
      "create",
      join(work, "host3"),
      "--no-encrypt",
      "--subject",
      "/CN=host3.genfic.internal",
    ]);
    req = join(work, "host3.req");
  });
  after(() => {
    socketServer?.close();
    t.cleanup();
    // Never leave the machine without /dev/null, whatever a regression did to it.
    if (process.getuid?.() === 0 && !lstatSync("/dev/null").isCharacterDevice()) {
      rmSync("/dev/null", { force: true });
      tool("mknod", ["-m", "666", "/dev/null", "c", "1", "3"]);
      assert.fail("/dev/null was replaced by a file (and has been re-created)");
    }
  });

  it("sign -o into a missing folder issues nothing (also the handbook's -s ... -o)", () => {
    refusedBeforeIssuing(
      ["sign", req, "--ca", CA, "-o", "/nonexistent/dir/x.crt"],
      /folder \/nonexistent\/dir does not exist/,
    );
    refusedBeforeIssuing(["-p", CA, "-s", req, "-o", "/nonexistent/dir/x.crt"], /does not exist/);
    refusedBeforeIssuing(["sign", req, "--ca", CA, "-o", join(work, "host3.req", "x.crt")], /not a folder/);
    refusedBeforeIssuing(
      ["sign", req, "--ca", CA, "-o", `${join(work, "newdir")}/`],
      /folder \S+newdir\/ does not exist/,
    );
  });

  it("sign -o refuses an existing file without --force and keeps it; --force replaces it", () => {
    const out = write("existing.crt", "keep me\n");
    refusedBeforeIssuing(
      ["sign", req, "--ca", CA, "-o", out],
      /existing\.crt already exists \(use --force to replace it\)/,
    );
    refusedBeforeIssuing(["-p", CA, "-s", req, "-o", out], /already exists \(use --force/);
    assert.equal(readFileSync(out, "utf8"), "keep me\n");
    sigilOk(home, ["sign", req, "--ca", CA, "-o", out, "--force"]);
    assert.match(readFileSync(out, "utf8"), PEM_CERT);
    isCert(out);
    assert.equal(statSync(out).mode & 0o777, 0o644);
    write("existing.crt", "again\n");
    sigilOk(home, ["-p", CA, "-s", req, "-o", out, "--force"]);
    isCert(out);
  });

  it("sign -o through a symbolic link replaces the file it points to and keeps the link", () => {
    const real = write("real.crt", "old\n");
    const link = join(work, "current.crt");
    symlinkSync(real, link);
    refusedBeforeIssuing(["sign", req, "--ca", CA, "-o", link], /current\.crt already exists/);
    sigilOk(home, ["sign", req, "--ca", CA, "-o", link, "--force"]);
    assert.ok(lstatSync(link).isSymbolicLink(), "the link was replaced");
    isCert(real);
    const dangling = join(work, "dangling.crt");
    symlinkSync(join(work, "nowhere", "x.crt"), dangling);
    refusedBeforeIssuing(["sign", req, "--ca", CA, "-o", dangling, "--force"], /symbolic link to nothing/);
    assert.ok(!existsSync(join(work, "nowhere")));
  });

  it("sign -o /dev/null writes into the device and leaves it a character device", () => {
    // A regression here, run as root, would replace the machine's /dev/null: a private node
    // of the same device (mknod, root only) goes first, and /dev/null only once that held.
    const node = join(work, "null.dev");
    if (tool("mknod", ["-m", "666", node, "c", "1", "3"]).status === 0) {
      sigilOk(home, ["sign", req, "--ca", CA, "-o", node]);
      assert.ok(lstatSync(node).isCharacterDevice(), "the device node was replaced by a file");
    } else assert.notEqual(process.getuid?.(), 0, "mknod failed as root");
    assert.ok(statSync("/dev/null").isCharacterDevice());
    devNull = "/dev/null";
    const r = sigilOk(home, ["sign", req, "--ca", CA, "-o", "/dev/null"]);
    assert.match(r.stderr, /-> \/dev\/null/);
    assert.ok(lstatSync("/dev/null").isCharacterDevice(), "/dev/null was replaced");
    const link = join(work, "null.crt");
    symlinkSync("/dev/null", link);
    sigilOk(home, ["sign", req, "--ca", CA, "-o", link]);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.ok(lstatSync("/dev/null").isCharacterDevice());
  });

  it("sign -o FIFO writes into the FIFO (read concurrently) and leaves it a FIFO; crl -o too", async () => {
    const fifo = join(work, "cert.fifo");
    assert.equal(tool("mkfifo", [fifo]).status, 0);
    for (const args of [
      ["sign", req, "--ca", CA, "-o", fifo],
      ["-p", CA, "-s", req, "-o", fifo],
      ["crl", "--ca", CA, "--pem", "-o", fifo],
    ]) {
      const cat = spawn("cat", [fifo]);
      const read = new Promise<string>((resolve, reject) => {
        let got = "";
        cat.stdout.on("data", (d: Buffer) => (got += d.toString()));
        cat.on("error", reject);
        cat.on("close", () => resolve(got));
      });
      const r = await sigilAsync(home, args);
      // A replaced FIFO would leave the reader waiting forever: check before waiting for it.
      const still = lstatSync(fifo).isFIFO();
      if (!still || r.status !== 0) cat.kill();
      assert.ok(still, `${args.join(" ")}: the FIFO was replaced`);
      assert.equal(r.status, 0, r.stderr);
      assert.match(await read, args[0] === "crl" ? /^-----BEGIN X509 CRL-----\n/ : PEM_CERT);
    }
  });

  it("sign -o - writes the PEM to stdout (and no file named -)", () => {
    const r = sigilOk(home, ["sign", req, "--ca", CA, "-o", "-"], { cwd: work });
    assert.match(r.stdout, PEM_CERT);
    assert.ok(!existsSync(join(work, "-")));
    const x = tool("openssl", ["x509", "-noout", "-subject"], { input: r.stdout });
    assert.match(x.stdout, /host3\.genfic\.internal/);
  });

  it("sign -o refuses a folder, a socket and a block device, issuing nothing", async () => {
    refusedBeforeIssuing(
      ["sign", req, "--ca", CA, "-o", work, "--force"],
      /work is a folder: not written there/,
    );
    const sock = join(work, "s.sock");
    socketServer = createServer();
    await new Promise<void>((resolve) => socketServer!.listen(sock, resolve));
    refusedBeforeIssuing(
      ["sign", req, "--ca", CA, "-o", sock, "--force"],
      /s\.sock is a socket: not written there/,
    );
    assert.ok(lstatSync(sock).isSocket());
    const block = readdirSync("/dev")
      .map((n) => join("/dev", n))
      .find((p) => {
        try {
          return lstatSync(p).isBlockDevice();
        } catch {
          return false;
        }
      });
    if (block) {
      refusedBeforeIssuing(
        ["sign", req, "--ca", CA, "-o", block, "--force"],
        /is a block device: not written there/,
      );
      assert.ok(lstatSync(block).isBlockDevice());
    }
  });

  it("a certificate issued but not written (device full) is named by its serial", () => {
    const full = fullDevice();
    const r = sigil(home, ["sign", req, "--ca", CA, "-o", full]);
    assert.equal(r.status, 1);
    const m = new RegExp(
      `^sigil: certificate ([0-9a-f]+) was issued but not written to ${full} \\(no space left on the device\\); get it with 'sigil cert show \\1 --ca genfic-system --pem' instead of signing again\n$`,
    ).exec(r.stderr);
    assert.ok(m, r.stderr);
    const shown = sigilOk(home, ["cert", "show", m[1]!, "--ca", CA, "--pem"]);
    assert.match(shown.stdout, PEM_CERT);
    assert.ok(lstatSync(full).isCharacterDevice());
  });

  it("sign --out-dir checks every file before signing; a failed write stops and names the serial", () => {
    const reqs = ["a", "b", "c"].map((n) => {
      sigilOk(home, [
        "request",
        "create",
        join(work, n),
        "--no-encrypt",
        "--subject",
        `/CN=${n}.genfic.internal`,
      ]);
      return join(work, `${n}.req`);
    });
    const dir = join(t.dir, "batch");
    mkdirSync(dir);
    write(join("..", "batch", "b.crt"), "keep me\n");
    refusedBeforeIssuing(
      ["sign", ...reqs, "--ca", CA, "--out-dir", dir],
      /batch\/b\.crt already exists \(use --force/,
    );
    assert.equal(readFileSync(join(dir, "b.crt"), "utf8"), "keep me\n");
    assert.deepEqual(readdirSync(dir), ["b.crt"]);
    // Two requests named alike would write one file.
    mkdirSync(join(work, "sub"));
    writeFileSync(join(work, "sub", "a.req"), readFileSync(reqs[0]!));
    const was = state();
    const dup = sigil(home, [
      "sign",
      reqs[0]!,
      join(work, "sub", "a.req"),
      "--ca",
      CA,
      "--out-dir",
      join(t.dir, "dup"),
    ]);
    assert.equal(dup.status, 2);
    assert.match(
      dup.stderr,
      /^sigil: \S+a\.req and \S+sub\/a\.req would both be written to \S+dup\/a\.crt\n$/,
    );
    assert.equal(state().certs, was.certs);
    // A folder that is a file.
    refusedBeforeIssuing(["sign", ...reqs, "--ca", CA, "--out-dir", reqs[0]!], /a\.req is not a folder/);
    // b.crt leads to a full device: a and c are written, b is named, the batch says so.
    const full = join(t.dir, "full");
    mkdirSync(full);
    symlinkSync(fullDevice(), join(full, "b.crt"));
    const r = sigil(home, ["sign", ...reqs, "--ca", CA, "--out-dir", full]);
    assert.equal(r.status, 1);
    const m =
      /certificate ([0-9a-f]+) was issued but not written to \S+full\/b\.crt \(no space left on the device\)/.exec(
        r.stderr,
      );
    assert.ok(m, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^sigil: stopped: 1 certificate\\(s\\) issued but not written \\(serial ${m[1]}\\)`, "m"),
    );
    isCert(join(full, "a.crt"));
    isCert(join(full, "c.crt"));
    assert.ok(lstatSync(join(full, "b.crt")).isSymbolicLink());
    sigilOk(home, ["cert", "show", m[1]!, "--ca", CA]);
    // --force replaces the existing file.
    sigilOk(home, ["sign", ...reqs, "--ca", CA, "--out-dir", dir, "--force"]);
    for (const n of ["a", "b", "c"]) isCert(join(dir, `${n}.crt`));
    // Written synchronously (src/files/output.ts writeOutputSync), under the same rule: a new
    // file gets mode 0644 whatever the umask, no temporary file is left, and a link to a
    // file is followed and that file replaced (with --force), the link kept.
    const linked = join(t.dir, "linked");
    mkdirSync(linked);
    write(join("..", "elsewhere.crt"), "old\n");
    symlinkSync(join(t.dir, "elsewhere.crt"), join(linked, "b.crt"));
    const mask = process.umask(0o077); // inherited by the child
    let u: Run;
    try {
      u = sigil(home, ["sign", ...reqs, "--ca", CA, "--out-dir", linked, "--force"]);
    } finally {
      process.umask(mask);
    }
    assert.equal(u.status, 0, u.stderr);
    assert.ok(lstatSync(join(linked, "b.crt")).isSymbolicLink());
    isCert(join(t.dir, "elsewhere.crt"));
    assert.equal(statSync(join(linked, "a.crt")).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(linked).sort(), ["a.crt", "b.crt", "c.crt"]);
  });

  it("crl -o: checked before publishing; --force to replace; /dev/null and - written into", () => {
    refusedBeforeIssuing(
      ["crl", "--ca", CA, "-o", "/nonexistent/dir/x.crl"],
      /folder \/nonexistent\/dir does not exist/,
    );
    const out = write("old.crl", "keep me\n");
    refusedBeforeIssuing(
      ["crl", "--ca", CA, "-o", out],
      /old\.crl already exists \(use --force to replace it\)/,
    );
    assert.equal(readFileSync(out, "utf8"), "keep me\n");
    refusedBeforeIssuing(["crl", "--ca", CA, "-o", work, "--force"], /is a folder/);
    sigilOk(home, ["crl", "--ca", CA, "-o", out, "--force"]);
    assert.equal(tool("openssl", ["crl", "-inform", "DER", "-in", out, "-noout"]).status, 0);
    sigilOk(home, ["crl", "--ca", CA, "-o", devNull]);
    assert.ok(lstatSync(devNull).isCharacterDevice());
    const s = sigilOk(home, ["crl", "--ca", CA, "--pem", "-o", "-"], { cwd: work });
    assert.match(s.stdout, /^-----BEGIN X509 CRL-----/);
    assert.match(s.stderr, /written to stdout/);
    assert.ok(!existsSync(join(work, "-")));
    const f = sigil(home, ["crl", "--ca", CA, "-o", fullDevice()]);
    assert.equal(f.status, 1);
    assert.match(
      f.stderr,
      /^sigil: CRL #\d+ of genfic-system was published \(\S+genfic-system\.crl\) but not written to \S*full\S* \(no space left on the device\)\n$/,
    );
  });

  it("request create: both files checked before a key is made; --force replaces them", () => {
    const base = join(work, "req1");
    sigilOk(home, ["request", "create", base, "--no-encrypt", "--subject", "/CN=req1.genfic.internal"]);
    const key = readFileSync(`${base}.key`, "utf8");
    const r = sigil(home, [
      "request",
      "create",
      base,
      "--no-encrypt",
      "--subject",
      "/CN=req1.genfic.internal",
    ]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: \S+req1\.key already exists \(use --force to replace it\)\n$/);
    assert.equal(readFileSync(`${base}.key`, "utf8"), key);
    sigilOk(home, [
      "request",
      "create",
      base,
      "--no-encrypt",
      "--subject",
      "/CN=req1.genfic.internal",
      "--force",
    ]);
    assert.notEqual(readFileSync(`${base}.key`, "utf8"), key);
    assert.equal(statSync(`${base}.key`).mode & 0o777, 0o600);
    // NAME.req is a folder: refused even with --force, and no key is left behind.
    const base2 = join(work, "req2");
    mkdirSync(`${base2}.req`);
    const d = sigil(home, [
      "request",
      "create",
      base2,
      "--no-encrypt",
      "--subject",
      "/CN=req2.genfic.internal",
      "--force",
    ]);
    assert.equal(d.status, 1);
    assert.match(d.stderr, /^sigil: \S+req2\.req is a folder: not written there\n$/);
    assert.ok(!existsSync(`${base2}.key`));
    // The handbook's -R: the same rule and the same --force.
    const hb = sigil(home, ["-R", base, "--no-encrypt", "--subject", "/CN=req1.genfic.internal"]);
    assert.equal(hb.status, 1);
    assert.match(hb.stderr, /already exists \(use --force/);
    sigilOk(home, ["-R", base, "--no-encrypt", "--subject", "/CN=req1.genfic.internal", "--force"]);
  });

  it("requests approve -o: checked before signing (the request stays pending); --force to replace", () => {
    const sub = sigilOk(home, ["requests", "submit", req, "--ca", CA, "--profile", "system"]);
    const id = /request (\d+) pending/.exec(sub.stderr)?.[1];
    assert.ok(id, sub.stderr);
    const stateOf = (): string =>
      (JSON.parse(sigilOk(home, ["requests", "show", id, "--json"]).stdout) as { state: string }).state;
    const out = write("approved.crt", "keep me\n");
    refusedBeforeIssuing(
      ["requests", "approve", id, "-o", out],
      /approved\.crt already exists \(use --force/,
    );
    refusedBeforeIssuing(["requests", "approve", id, "-o", "/nonexistent/dir/x.crt"], /does not exist/);
    assert.equal(stateOf(), "pending");
    assert.equal(readFileSync(out, "utf8"), "keep me\n");
    sigilOk(home, ["requests", "approve", id, "-o", out, "--force"]);
    assert.equal(stateOf(), "issued");
    isCert(out);
  });

  it("sign --server checks -o before asking the server", () => {
    const out = write("remote.crt", "keep me\n");
    const r = sigil(
      home,
      ["sign", req, "--ca", CA, "-o", out, "--server", `unix:${join(t.dir, "no.sock")}`],
      {
        env: { SIGIL_TOKEN: "x" },
      },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: \S+remote\.crt already exists \(use --force to replace it\)\n$/);
    assert.equal(readFileSync(out, "utf8"), "keep me\n");
  });

  it("backup --out: devices written into, - is stdout, a folder refused", () => {
    sigilOk(home, ["backup", "--out", devNull]);
    assert.ok(lstatSync(devNull).isCharacterDevice());
    const b = sigil(home, ["backup", "--out", "-"], { cwd: work });
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stderr, /^backup written: stdout/);
    const archive = join(t.dir, "from-stdout.tar.gz");
    writeFileSync(archive, sigilStdoutBytes(["backup", "--out", "-"]));
    const list = tool("tar", ["tzf", archive]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^manifest\.json$/m);
    const r = sigil(home, ["backup", "--out", work, "--force"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: \S+work is a folder: not written there\n$/);
    assert.ok(!readdirSync(t.dir).some((n) => n.startsWith(".sigil-backup-")), "a staging folder was left");
  });

  it("ca export and key split refuse an --out that is a file before asking for anything", () => {
    const file = write("not-a-folder", "x\n");
    for (const args of [
      ["ca", "export", "genfic", "--out", file],
      ["key", "split", "genfic", "--shares", "3", "--threshold", "2", "--out", file],
      ["export", "openssl", "--ca", CA, "--dir", file],
    ]) {
      const r = sigil(home, args);
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, /^sigil: \S+not-a-folder is not a folder\n$/);
    }
  });

  function write(name: string, data: string): string {
    const p = join(work, name);
    writeFileSync(p, data);
    return p;
  }

  /** stdout of a sigil run as bytes (the helper decodes it as UTF-8). */
  function sigilStdoutBytes(args: string[]): Buffer {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      cwd: work,
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(r.status, 0, r.stderr.toString());
    return r.stdout;
  }
});
