/**
 * `sigil trust install|remove`: the real Debian update-ca-certificates and NSS certutil, on
 * temporary folders only (the machine's own trust stores are never touched).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { BIN, PASS, initHome, sigil, sigilOk, tempDir, tool, write, type Run } from "./helpers.js";

const FP = "SHA-256 (?:[0-9A-F]{2}:){31}[0-9A-F]{2}";

/** The certificates (PEM blocks) of a bundle file, normalised. */
function pemBlocks(file: string): string[] {
  if (!existsSync(file)) return [];
  return (
    readFileSync(file, "utf8").match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []
  ).map((b) => b.replace(/\s+/g, ""));
}

function norm(pem: string): string {
  return pem.trim().replace(/\s+/g, "");
}

function oneErrorLine(r: Run, re: RegExp): void {
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, re);
}

describe("trust install / remove", () => {
  const t = tempDir("sigil-trust-");
  const home = join(t.dir, "sigil-data");
  const other = join(t.dir, "other-data"); // a second Sigil with another genfic root
  const work = join(t.dir, "work");
  const store = join(t.dir, "store"); // stands in for /usr/local/share, /usr/share, /etc/ssl/certs
  const anchors = join(store, "local", "sigil");
  const bundle = join(store, "etc", "ca-certificates.crt");
  const update = [
    "update-ca-certificates",
    `--localcertsdir ${join(store, "local")}`,
    `--certsdir ${join(store, "certsdir")}`,
    `--etccertsdir ${join(store, "etc")}`,
    `--certsconf ${join(store, "ca-certificates.conf")}`,
    `--hooksdir ${join(store, "hooks")}`,
  ].join(" ");
  const env = { SIGIL_TRUST_ANCHORS_DIR: anchors, SIGIL_TRUST_UPDATE_COMMAND: update };
  let rootPem: string;
  let systemPem: string;
  let leaf: string;

  const verifyLeaf = (): Run => tool("openssl", ["verify", "-CAfile", bundle, "-untrusted", systemPem, leaf]);

  before(() => {
    initHome(home);
    initHome(other);
    mkdirSync(work);
    rootPem = write(work, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    systemPem = write(work, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    sigilOk(home, [
      "request",
      "create",
      join(work, "host"),
      "--subject",
      "/CN=host.genfic.internal",
      "--no-encrypt",
    ]);
    sigilOk(home, ["sign", join(work, "host.req"), "--ca", "genfic-system", "-o", join(work, "host.crt")]);
    leaf = join(work, "host.crt");
    // A distribution CA listed in ca-certificates.conf, as on every Debian machine: with none
    // left, update-ca-certificates would not rewrite the bundle at all.
    for (const d of ["certsdir/distro", "etc", "hooks"]) mkdirSync(join(store, d), { recursive: true });
    const made = tool("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(work, "distro.key"),
      "-subj",
      "/CN=Distro Root",
      "-days",
      "2",
      "-out",
      join(store, "certsdir", "distro", "distro.crt"),
    ]);
    assert.equal(made.status, 0, made.stderr);
    write(store, "ca-certificates.conf", "distro/distro.crt\n");
    const first = tool("update-ca-certificates", update.split(" ").slice(1));
    assert.equal(first.status, 0, first.stderr);
    assert.equal(pemBlocks(bundle).length, 1);
  });
  after(() => t.cleanup());

  it("installs the root into the system store; openssl then trusts a leaf of genfic-system", () => {
    assert.notEqual(verifyLeaf().status, 0, "not trusted before install");
    const r = sigilOk(home, ["trust", "install", "genfic"], { env });
    assert.equal(r.stderr, "");
    assert.match(
      r.stdout,
      new RegExp(
        `^installed genfic \\(CN=GenFic Root CA, ${FP}\\) into ${join(anchors, "genfic.crt")}; update-ca-certificates: 1 added, 0 removed\\n$`,
      ),
    );
    const file = join(anchors, "genfic.crt");
    assert.equal(readFileSync(file, "utf8"), readFileSync(rootPem, "utf8"));
    assert.equal(statSync(file).mode & 0o777, 0o644);
    assert.equal(statSync(anchors).mode & 0o777, 0o755);
    assert.ok(pemBlocks(bundle).includes(norm(readFileSync(rootPem, "utf8"))));
    const v = verifyLeaf();
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const byHash = tool("openssl", ["verify", "-CApath", join(store, "etc"), "-untrusted", systemPem, leaf]);
    assert.equal(byHash.status, 0, byHash.stdout + byHash.stderr);
    // the fingerprint printed is openssl's
    const fp = tool("openssl", ["x509", "-in", rootPem, "-noout", "-fingerprint", "-sha256"]).stdout;
    assert.ok(r.stdout.includes(fp.trim().split("=")[1]!), fp);
  });

  it("says so when the same certificate is installed again", () => {
    const r = sigilOk(home, ["trust", "install", "genfic"], { env });
    assert.match(
      r.stdout,
      new RegExp(`^genfic \\(CN=GenFic Root CA, ${FP}\\) is already installed in .*genfic\\.crt; .*0 added`),
    );
    assert.equal(pemBlocks(bundle).length, 2);
  });

  it("warns (without failing) when the CA is an intermediate", () => {
    const r = sigilOk(home, ["trust", "install", "genfic-user"], { env });
    assert.equal(
      r.stderr,
      "sigil: warning: genfic-user is an intermediate (under genfic); clients normally trust only the root\n",
    );
    assert.match(r.stdout, /^installed genfic-user \(CN=GenFic User CA, /);
    assert.equal(pemBlocks(bundle).length, 3);
    sigilOk(home, ["trust", "remove", "genfic-user"], { env });
    assert.equal(pemBlocks(bundle).length, 2);
  });

  it("replaces a different certificate installed under the same name, and says so", () => {
    const r = sigilOk(other, ["trust", "install", "genfic"], { env });
    assert.match(
      r.stdout,
      new RegExp(
        `^replaced genfic \\(was CN=GenFic Root CA, ${FP}\\) with genfic \\(CN=GenFic Root CA, ${FP}\\) in `,
      ),
    );
    assert.ok(!pemBlocks(bundle).includes(norm(readFileSync(rootPem, "utf8"))));
    assert.notEqual(verifyLeaf().status, 0);
    sigilOk(home, ["trust", "install", "genfic"], { env });
    assert.equal(verifyLeaf().status, 0);
  });

  it("removes it again: the bundle loses it, no dangling links stay, and a second remove fails", () => {
    const r = sigilOk(home, ["trust", "remove", "genfic"], { env });
    assert.match(
      r.stdout,
      new RegExp(
        `^removed genfic \\(CN=GenFic Root CA, ${FP}\\) from ${join(anchors, "genfic.crt")}; update-ca-certificates --fresh: done\\n$`,
      ),
    );
    assert.ok(!existsSync(anchors), "Sigil's empty anchors folder is removed too");
    assert.deepEqual(pemBlocks(bundle).length, 1);
    assert.ok(!pemBlocks(bundle).includes(norm(readFileSync(rootPem, "utf8"))));
    assert.notEqual(verifyLeaf().status, 0);
    const etc = join(store, "etc");
    const dangling = readdirSync(etc).filter((f) => !existsSync(join(etc, f)));
    assert.deepEqual(dangling, []);
    oneErrorLine(
      sigil(home, ["trust", "remove", "genfic"], { env }),
      /^sigil: genfic is not installed: there is no .*genfic\.crt\n$/,
    );
  });

  it("--nss installs into an NSS database only (created when missing), and removes it", () => {
    const db = join(t.dir, "nssdb");
    mkdirSync(db);
    const r = sigilOk(home, ["trust", "install", "genfic", "--nss", db], { env });
    assert.match(
      r.stdout,
      new RegExp(
        `^installed genfic \\(CN=GenFic Root CA, ${FP}\\) into sql:${db} as "sigil genfic", trust C,,; created the database\\n$`,
      ),
    );
    assert.ok(existsSync(join(db, "cert9.db")));
    assert.ok(!existsSync(join(anchors, "genfic.crt")), "the system store is not touched");
    const list = tool("certutil", ["-L", "-d", `sql:${db}`]);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^sigil genfic\s+C,,\s*$/m);
    const pem = tool("certutil", ["-L", "-d", `sql:${db}`, "-n", "sigil genfic", "-a"]).stdout;
    assert.equal(norm(pem), norm(readFileSync(rootPem, "utf8")));

    const again = sigilOk(home, ["trust", "install", "genfic", "--nss", db], { env });
    assert.match(
      again.stdout,
      /^genfic \(.*\) is already installed in sql:.* as "sigil genfic", trust C,,\n$/,
    );

    const replaced = sigilOk(other, ["trust", "install", "genfic", "--nss", db], { env });
    assert.match(
      replaced.stdout,
      /^installed genfic \(.*\) into sql:.* as "sigil genfic" \(replaced CN=GenFic/,
    );
    const now = tool("certutil", ["-L", "-d", `sql:${db}`, "-n", "sigil genfic", "-a"]).stdout;
    assert.equal((now.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    assert.notEqual(norm(now), norm(readFileSync(rootPem, "utf8")));

    const gone = sigilOk(home, ["trust", "remove", "genfic", "--nss", db], { env });
    assert.match(gone.stdout, /^removed genfic \(CN=GenFic Root CA, .*\) from sql:.* \("sigil genfic"\)\n$/);
    assert.doesNotMatch(tool("certutil", ["-L", "-d", `sql:${db}`]).stdout, /sigil genfic/);
    oneErrorLine(
      sigil(home, ["trust", "remove", "genfic", "--nss", db], { env }),
      /^sigil: genfic is not installed in sql:.* \(no "sigil genfic"\)\n$/,
    );
  });

  it("refuses an unknown CA, a --nss path that is not a folder, and an odd name, in one line", () => {
    oneErrorLine(sigil(home, ["trust", "install", "nope"], { env }), /^sigil: unknown CA "nope"/);
    oneErrorLine(
      sigil(home, ["trust", "install", "genfic", "--nss", rootPem], { env }),
      /^sigil: --nss .*root\.pem: not a folder/,
    );
    oneErrorLine(
      sigil(home, ["trust", "remove", "genfic", "--nss", rootPem], { env }),
      /^sigil: --nss .*root\.pem: not a folder/,
    );
    oneErrorLine(
      sigil(home, ["trust", "install", "genfic", "--nss", join(t.dir, "missing")], { env }),
      /^sigil: --nss .*missing: no such folder/,
    );
    oneErrorLine(
      sigil(home, ["trust", "remove", "../genfic"], { env }),
      /^sigil: "\.\.\/genfic" is not a CA name/,
    );
    assert.ok(!existsSync(anchors));
  });

  it("names the failing update command and its last stderr line; a missing tool says what to install", () => {
    const bad = `update-ca-certificates --etccertsdir ${join(t.dir, "no-such-dir")} --hooksdir ${join(store, "hooks")}`;
    const r = sigil(home, ["trust", "install", "genfic"], {
      env: { ...env, SIGIL_TRUST_UPDATE_COMMAND: bad },
    });
    oneErrorLine(
      r,
      /^sigil: update-ca-certificates --etccertsdir .* failed \(exit \d+\): .*can't cd to .*no-such-dir/,
    );
    sigilOk(home, ["trust", "remove", "genfic"], { env });
    oneErrorLine(
      sigil(home, ["trust", "install", "genfic"], {
        env: { ...env, SIGIL_TRUST_UPDATE_COMMAND: "sigil-no-such-command --x" },
      }),
      /^sigil: sigil-no-such-command \(from SIGIL_TRUST_UPDATE_COMMAND\) not found\n$/,
    );
    assert.ok(!existsSync(join(anchors, "genfic.crt")), "nothing is written when the command is missing");
    const db = join(t.dir, "nssdb2");
    mkdirSync(db);
    oneErrorLine(
      sigil(home, ["trust", "install", "genfic", "--nss", db], {
        env: { ...env, PATH: join(t.dir, "empty") },
      }),
      /^sigil: certutil not found: install libnss3-tools/,
    );
  });

  it("without write access to the anchors folder, says to run as root", (ctx) => {
    const locked = join(t.dir, "locked");
    mkdirSync(locked, { mode: 0o755 });
    const lockedEnv = { SIGIL_TRUST_ANCHORS_DIR: join(locked, "sigil"), SIGIL_TRUST_UPDATE_COMMAND: update };
    let r: Run;
    if (process.getuid?.() === 0) {
      if (tool("sh", ["-c", "command -v setpriv"]).status !== 0) return ctx.skip("root without setpriv");
      // As root, run as nobody on a copy of the data that nobody may read.
      chmodSync(t.dir, 0o755);
      const copy = join(t.dir, "nobody-data");
      cpSync(home, copy, { recursive: true });
      tool("chown", ["-R", "65534:65534", copy]);
      const p = spawnSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          process.execPath,
          BIN,
          "trust",
          "install",
          "genfic",
        ],
        {
          env: { ...process.env, SIGIL_HOME: copy, SIGIL_PASSPHRASE: PASS, ...lockedEnv },
          cwd: t.dir,
          encoding: "utf8",
        },
      );
      r = { status: p.status, stdout: p.stdout, stderr: p.stderr };
    } else {
      chmodSync(locked, 0o555);
      r = sigil(home, ["trust", "install", "genfic"], { env: lockedEnv });
    }
    oneErrorLine(r, /^sigil: cannot write .*locked\/sigil\/genfic\.crt: run as root \(or with sudo\)\n$/);
    assert.ok(!existsSync(join(locked, "sigil")));
  });
});
