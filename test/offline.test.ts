/**
 * Offline root and key shares, through the built CLI: export, offline, --key-file,
 * status reminders, k-of-n shares, restore; OpenSSL checks the keys, chains and CRLs.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { PASS, sigil, sigilOk, tool, tempDir, write, initHome, auditActionsSince } from "./helpers.js";

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const mode = (p: string): number => statSync(p).mode & 0o777;

function keyRefOf(home: string, ca: string): string {
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare("select key_ref from cas where name = ?").get(ca) as { key_ref: string }).key_ref;
  } finally {
    db.close();
  }
}

/** The public key (PEM) openssl reads from a private key file or a certificate. */
function pubkey(args: string[]): string {
  const r = tool("openssl", args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Asserts a one-line refusal on stderr, exit 1. */
function refused(r: { status: number | null; stderr: string }, re: RegExp, status = 1): void {
  assert.equal(r.status, status, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr.trim(), re);
  assert.ok(!r.stderr.includes(PASS), "the passphrase never appears");
}

describe("offline root CA and key shares", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const D = join(t.dir, "safe1", "genfic");
  const S = join(t.dir, "shares");
  const passFile = write(t.dir, "pass.txt", PASS);
  const rootKey = join(home, "keys", "genfic.key.pem");

  before(() => {
    initHome(home);
    // A short CRL validity so the offline reminder (default: 7 days before) triggers.
    const cfgPath = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, crl: { validityHours: 72 } }, null, 2));
    // The root's OCSP responder, made while its key is online.
    sigilOk(home, ["ocsp", "refresh"]);
  });
  after(() => t.cleanup());

  it("refuses to take a CA offline before it is exported", () => {
    refused(
      sigil(home, ["ca", "offline", "genfic"]),
      /^sigil: CA genfic has no export of its current key: run 'sigil ca export genfic --out DIR' first$/,
    );
    assert.ok(existsSync(rootKey));
    assert.equal(keyRefOf(home, "genfic"), "file:genfic");
  });

  it("refuses an export under a wrong passphrase, writing nothing", () => {
    const r = sigil(home, ["ca", "export", "genfic", "--out", join(t.dir, "nope")], {
      env: { SIGIL_PASSPHRASE: "wrong passphrase entirely" },
    });
    refused(r, /wrong passphrase/);
    assert.ok(!existsSync(join(t.dir, "nope", "genfic.key.pem")));
  });

  it("exports the key, certificate and manifest", () => {
    sigilOk(home, ["ca", "export", "genfic", "--out", D]);
    assert.deepEqual(readdirSync(D).sort(), ["genfic.crt.pem", "genfic.key.pem", "manifest.json"]);
    const key = readFileSync(join(D, "genfic.key.pem"));
    assert.ok(key.equals(readFileSync(rootKey)), "the key file as stored, byte for byte");
    assert.equal(mode(join(D, "genfic.key.pem")), 0o600);
    assert.match(key.toString(), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const m = JSON.parse(readFileSync(join(D, "manifest.json"), "utf8")) as Record<string, string>;
    assert.equal(m.ca, "genfic");
    assert.equal(m.keySha256, sha(key));
    const der = tool("openssl", ["x509", "-in", join(D, "genfic.crt.pem"), "-outform", "DER"]);
    assert.equal(der.status, 0);
    const derBuf = Buffer.from(
      tool("sh", ["-c", `openssl x509 -in '${join(D, "genfic.crt.pem")}' -outform DER | base64 -w0`]).stdout,
      "base64",
    );
    assert.equal(m.certSha256, sha(derBuf));
    assert.match(m.subject!, /GenFic Root CA/);
    assert.ok(m.notAfter && m.serial && m.keyType && m.createdAt && m.sigilVersion && m.note);
    // OpenSSL opens the exported key with the home passphrase, and it is the certificate's key.
    const fromKey = pubkey([
      "pkey",
      "-in",
      join(D, "genfic.key.pem"),
      "-passin",
      `file:${passFile}`,
      "-pubout",
    ]);
    const fromCert = pubkey(["x509", "-in", join(D, "genfic.crt.pem"), "-noout", "-pubkey"]);
    assert.equal(fromKey, fromCert);
    // A second export into the same folder is refused.
    refused(
      sigil(home, ["ca", "export", "genfic", "--out", D]),
      /already exists: export into an empty folder/,
    );
  });

  it("takes the root offline: no key in the store, keyRef offline", () => {
    const r = sigilOk(home, ["ca", "offline", "genfic", "--export", D]);
    assert.match(r.stderr, /OCSP responder key stays online/);
    assert.ok(!existsSync(rootKey));
    assert.ok(!readdirSync(join(home, "keys")).some((f) => f.startsWith("genfic.")));
    assert.equal(keyRefOf(home, "genfic"), "offline:genfic");
    const st = JSON.parse(sigilOk(home, ["ca", "status", "--json"]).stdout) as Array<Record<string, unknown>>;
    assert.equal(st.find((c) => c.name === "genfic")?.custody, "offline");
    assert.equal(st.find((c) => c.name === "genfic-user")?.custody, "file");
  });

  it("needs --key-file for the root's acts, with a one-line error", () => {
    refused(
      sigil(home, ["ca", "create-child", "newsub", "--parent", "genfic", "--subject", "/CN=New Sub CA"]),
      /^sigil: CA genfic is offline: give --key-file with its exported key \(e\.g\. .*genfic\.key\.pem\)$/,
    );
    refused(sigil(home, ["crl", "--ca", "genfic"]), /CA genfic is offline: give --key-file/);
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    assert.equal((db.prepare("select count(*) n from cas where name='newsub'").get() as { n: number }).n, 0);
    db.close();
  });

  it("refuses another CA's key as the root's key file", () => {
    refused(
      sigil(home, [
        "ca",
        "create-child",
        "newsub",
        "--parent",
        "genfic",
        "--subject",
        "/CN=New Sub CA",
        "--key-file",
        join(home, "keys", "genfic-user.key.pem"),
      ]),
      /^sigil: the key in .*genfic-user\.key\.pem is not CA genfic's key$/,
    );
  });

  it("creates a child, signs and revokes, and publishes the CRL with --key-file", () => {
    const keyFile = join(D, "genfic.key.pem");
    sigilOk(home, [
      "ca",
      "create-child",
      "newsub",
      "--parent",
      "genfic",
      "--subject",
      "/CN=New Sub CA",
      "--key-file",
      keyFile,
    ]);
    const child = write(t.dir, "newsub.pem", sigilOk(home, ["ca", "show", "newsub", "--pem"]).stdout);
    const v = tool("openssl", ["verify", "-x509_strict", "-CAfile", join(D, "genfic.crt.pem"), child]);
    assert.equal(v.status, 0, v.stderr + v.stdout);
    // A certificate the root issues directly, then revokes (both with the key file).
    const k = tool("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(t.dir, "x.key"),
      "-subj",
      "/CN=x.genfic.internal",
      "-out",
      join(t.dir, "x.req"),
    ]);
    assert.equal(k.status, 0, k.stderr);
    // A root signs CA certificates only, unless the security admin lets it (caRules).
    const refusedRoot = sigil(home, [
      "sign",
      join(t.dir, "x.req"),
      "--ca",
      "genfic",
      "--profile",
      "system",
      "--key-file",
      keyFile,
    ]);
    assert.equal(refusedRoot.status, 1);
    assert.match(refusedRoot.stderr, /CA genfic is a root: it signs CA certificates only/);
    const cfgFile = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, caRules: { genfic: { profiles: ["system"] } } }));
    sigilOk(home, [
      "sign",
      join(t.dir, "x.req"),
      "--ca",
      "genfic",
      "--profile",
      "system",
      "-o",
      join(t.dir, "x.crt"),
      "--key-file",
      keyFile,
    ]);
    refused(sigil(home, ["revoke", "--cert", join(t.dir, "x.crt"), "--ca", "genfic"]), /is offline/);
    sigilOk(home, [
      "revoke",
      "--cert",
      join(t.dir, "x.crt"),
      "--ca",
      "genfic",
      "--reason",
      "superseded",
      "--key-file",
      keyFile,
    ]);
    const crlFile = join(t.dir, "root.crl");
    sigilOk(home, ["crl", "--ca", "genfic", "--key-file", keyFile, "-o", crlFile, "--pem"]);
    const c = tool("openssl", [
      "crl",
      "-in",
      crlFile,
      "-CAfile",
      join(D, "genfic.crt.pem"),
      "-noout",
      "-text",
    ]);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stderr + c.stdout, /verify OK/);
    const serial = tool("openssl", ["x509", "-in", join(t.dir, "x.crt"), "-noout", "-serial"]).stdout.trim();
    assert.ok(c.stdout.includes(serial.replace(/^serial=/, "").toUpperCase()), c.stdout);
    assert.ok(!existsSync(rootKey), "the key file was used, not copied into the store");
  });

  it("keeps the other CAs and the jobs working while the root is offline", () => {
    sigilOk(home, ["crl", "--ca", "genfic-user"]);
    const r = sigilOk(home, ["ocsp", "refresh", "--all"]);
    assert.match(r.stderr, /signed \d+ OCSP answers/);
  });

  it("reminds of an offline CA's CRL nearing its nextUpdate", () => {
    const r = sigilOk(home, ["ca", "status"]);
    assert.match(r.stdout, /^genfic +- +active +offline /m);
    assert.match(
      r.stdout,
      /^warning: genfic is offline; its CRL expires in 3 days \(\d{4}-\d\d-\d\d\): bring the key and run 'sigil crl --ca genfic --key-file \.\.\.'$/m,
    );
    assert.ok(!/warning: genfic-user/.test(r.stdout), "online CAs are refreshed by serve: no reminder");
    const j = JSON.parse(sigilOk(home, ["ca", "status", "--json"]).stdout) as Array<{
      name: string;
      warnings: string[];
      crlNextUpdate: string;
    }>;
    assert.equal(j.find((c) => c.name === "genfic")!.warnings.length, 1);
  });

  it("splits the passphrase into 3-of-5 shares, refusing a wrong passphrase first", () => {
    const bad = sigil(
      home,
      [
        "key",
        "split",
        "genfic",
        "--shares",
        "5",
        "--threshold",
        "3",
        "--out",
        S,
        "--key-file",
        join(D, "genfic.key.pem"),
      ],
      { env: { SIGIL_PASSPHRASE: "not the passphrase" } },
    );
    refused(bad, /wrong passphrase/);
    assert.ok(!existsSync(S) || readdirSync(S).length === 0);
    refused(
      sigil(home, ["key", "split", "genfic", "--shares", "2", "--threshold", "3", "--out", S]),
      /threshold 3 is more than the 2 shares/,
      2,
    );
    const r = sigilOk(home, [
      "key",
      "split",
      "genfic",
      "--shares",
      "5",
      "--threshold",
      "3",
      "--out",
      S,
      "--key-file",
      join(D, "genfic.key.pem"),
    ]);
    const files = readdirSync(S).sort();
    assert.deepEqual(
      files,
      [1, 2, 3, 4, 5].map((i) => `genfic.share-${i}-of-5.txt`),
    );
    for (const f of files) {
      assert.equal(mode(join(S, f)), 0o600);
      assert.ok(!readFileSync(join(S, f), "utf8").includes(PASS));
    }
    assert.ok(!r.stdout.includes(PASS) && !r.stderr.includes(PASS));
    refused(
      sigil(home, [
        "key",
        "split",
        "genfic",
        "--shares",
        "5",
        "--threshold",
        "3",
        "--out",
        S,
        "--key-file",
        join(D, "genfic.key.pem"),
      ]),
      /already exists: nothing written/,
    );
  });

  it("restores from 3 shares without any passphrase, not from 2 or a damaged one", () => {
    const share = (i: number): string => join(S, `genfic.share-${i}-of-5.txt`);
    const noPass = { env: { SIGIL_PASSPHRASE: undefined } };
    refused(
      sigil(
        home,
        ["key", "restore", "genfic", "--from", D, "--share", share(2), "--share", share(5)],
        noPass,
      ),
      /^sigil: 2 shares given, 3 needed/,
    );
    const text = readFileSync(share(3));
    for (const at of [10, text.indexOf("Data: ") + 12, text.length - 5]) {
      const b = Buffer.from(text);
      b[at] = b[at]! ^ 0x01;
      const damaged = write(t.dir, "damaged.txt", b);
      refused(
        sigil(
          home,
          [
            "key",
            "restore",
            "genfic",
            "--from",
            D,
            "--share",
            share(1),
            "--share",
            damaged,
            "--share",
            share(4),
          ],
          noPass,
        ),
        /^sigil: share .*damaged\.txt is damaged or altered \((checksum mismatch|no valid checksum line)\)$/,
      );
    }
    refused(
      sigil(
        home,
        ["key", "restore", "genfic", "--share", share(1), "--share", share(3), "--share", share(4)],
        noPass,
      ),
      /CA genfic is offline: give --from DIR/,
    );
    assert.equal(keyRefOf(home, "genfic"), "offline:genfic");
    sigilOk(
      home,
      [
        "key",
        "restore",
        "genfic",
        "--from",
        D,
        "--share",
        share(5),
        "--share",
        share(1),
        "--share",
        share(3),
      ],
      noPass,
    );
    assert.equal(keyRefOf(home, "genfic"), "file:genfic");
    assert.ok(readFileSync(rootKey).equals(readFileSync(join(D, "genfic.key.pem"))));
    assert.equal(mode(rootKey), 0o600);
    // Online again: the root signs without --key-file.
    sigilOk(home, ["crl", "--ca", "genfic"]);
    // Shares alone prove the passphrase on the online key too.
    sigilOk(
      home,
      ["key", "restore", "genfic", "--share", share(2), "--share", share(3), "--share", share(4)],
      noPass,
    );
  });

  it("records every act in the audit log, and the chain verifies", () => {
    sigilOk(home, ["audit", "verify"]);
    const actions = auditActionsSince(home, 0);
    for (const a of ["ca.export", "ca.offline", "key.split", "key.restore", "key.restore.refused"])
      assert.ok(actions.includes(a), `${a} in ${actions.join(",")}`);
    const log = sigilOk(home, ["audit", "log", "--json"]).stdout;
    assert.ok(!log.includes(PASS), "no passphrase in the audit log");
  });
});
