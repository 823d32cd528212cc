/**
 * CA keys in a PKCS#11 token, end to end through the built CLI against SoftHSM2 (a private
 * token in a temp folder, test/softhsm.ts): an HSM root, an HSM child and a file-key child;
 * leaves from `openssl req` CSRs verified by `openssl verify -x509_strict`; the HSM CA's
 * CRL verified by `openssl crl -CAfile`; its OCSP responder (key also in the token) checked
 * by `openssl verify` and by `openssl ocsp` against `sigil serve`; `pkcs11-tool` shows the
 * keys sensitive and never extractable. Wrong PIN, no PIN, missing module: one line, exit 1.
 * The PIN shows in no output of any run.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { sigil, tool, tempDir, write, PASS, type Run } from "./helpers.js";
import { startServe } from "./serve-helpers.js";
import { startSoftHsm, type SoftHsm } from "./softhsm.js";

// Distinctive PINs, so that "never printed" checks cannot pass or fail by chance.
const PIN = "hsm-pin-5b1e9d3f7a";
const WRONG_PIN = "not-the-pin-8c2d4e6f";

describe("PKCS#11 (SoftHSM2) CA keys through the CLI", () => {
  const t = tempDir("sigil-hsm-");
  const home = join(t.dir, "sigil-data");
  const dir = t.dir;
  let hsm: SoftHsm;
  const runs: Run[] = [];
  /** sigil with the PIN in the environment and no key passphrase unless `pass`. */
  const hsmSigil = (args: string[], env: Record<string, string | undefined> = {}): Run => {
    const r = sigil(home, args, { env: { SIGIL_PKCS11_PIN: PIN, SIGIL_PASSPHRASE: undefined, ...env } });
    runs.push(r);
    return r;
  };
  const ok = (args: string[], env: Record<string, string | undefined> = {}): Run => {
    const r = hsmSigil(args, env);
    assert.equal(r.status, 0, `sigil ${args.join(" ")}: ${r.stderr}`);
    return r;
  };
  const run = (cmd: string, args: string[]): Run => {
    const r = tool(cmd, args);
    runs.push(r);
    return r;
  };
  const p11 = (args: string[]): Run =>
    run("pkcs11-tool", [
      "--module",
      hsm.module,
      "--token-label",
      hsm.token,
      "--login",
      "--pin",
      PIN,
      ...args,
    ]);
  const csr = (cn: string): string => {
    const r = run("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, `${cn}.key`),
      "-out",
      join(dir, `${cn}.req`),
      "-subj",
      `/CN=${cn}`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    return join(dir, `${cn}.req`);
  };
  const pem = (ca: string): string => write(dir, `${ca}.pem`, ok(["ca", "show", ca, "--pem"]).stdout);

  before(() => {
    hsm = startSoftHsm("sigil-e2e", PIN, "so-pin-0f9e8d7c");
    mkdirSync(home, { mode: 0o700 });
    writeFileSync(
      join(home, "sigil.json"),
      JSON.stringify({ pkcs11: { module: hsm.module, token: hsm.token } }, null, 2),
    );
  });
  after(() => {
    hsm?.cleanup();
    t.cleanup();
  });

  it("creates an HSM root and children without a key passphrase; ca list shows the key store", () => {
    const r = ok([
      "ca",
      "create-root",
      "hsmroot",
      "--key-store",
      "pkcs11",
      "--key",
      "p256",
      "--subject",
      "/CN=HSM Root",
    ]);
    assert.match(r.stderr, /key in pkcs11:token=sigil-e2e;object=hsmroot/);
    ok(["ca", "create-child", "hsmsub", "--parent", "hsmroot", "--key-store", "pkcs11", "--key", "rsa2048"]);
    // A file-key child of the HSM root: only its own key needs the passphrase.
    ok(["ca", "create-child", "filesub", "--parent", "hsmroot", "--key", "p384"], { SIGIL_PASSPHRASE: PASS });
    const list = JSON.parse(ok(["ca", "list", "--json"]).stdout) as Array<Record<string, string>>;
    assert.deepEqual(
      list.map((c) => [c.name, c.keyType, c.keyStore, c.keyRef]),
      [
        ["hsmroot", "p256", "pkcs11", "pkcs11:token=sigil-e2e;object=hsmroot"],
        ["hsmsub", "rsa2048", "pkcs11", "pkcs11:token=sigil-e2e;object=hsmsub"],
        ["filesub", "p384", "file", "file:filesub"],
      ],
    );
    assert.match(ok(["ca", "list"]).stdout, /^NAME\s+PARENT\s+STATUS\s+KEY\s+KEY STORE\s+NOT AFTER/);
  });

  it("signs leaves that openssl verify -x509_strict accepts up to the HSM root", () => {
    const root = pem("hsmroot");
    for (const ca of ["hsmsub", "filesub"]) {
      const env = ca === "filesub" ? { SIGIL_PASSPHRASE: PASS } : {};
      const leaf = join(dir, `leaf-${ca}.crt`);
      ok(["sign", csr(`leaf-${ca}.example`), "--ca", ca, "--profile", "system", "-o", leaf], env);
      const v = run("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", pem(ca), leaf]);
      assert.equal(v.status, 0, v.stderr + v.stdout);
      assert.match(v.stdout, /: OK$/m);
    }
    // The HSM root's own certificate is self-signed by the token.
    const v = run("openssl", ["verify", "-x509_strict", "-CAfile", root, root]);
    assert.equal(v.status, 0, v.stderr + v.stdout);
  });

  it("signs CRLs that openssl crl -CAfile verifies", () => {
    // A revoked entry signed by the RSA key in the token, and the root's CRL (P-256 in the token).
    ok(["revoke", "--cert", join(dir, "leaf-hsmsub.crt"), "--ca", "hsmsub", "--reason", "keyCompromise"]);
    for (const [ca, issuer] of [
      ["hsmroot", pem("hsmroot")],
      ["hsmsub", pem("hsmsub")],
    ] as const) {
      const der = join(dir, `${ca}.crl`);
      ok(["crl", "--ca", ca, "-o", der]);
      const v = run("openssl", ["crl", "-inform", "DER", "-in", der, "-CAfile", issuer, "-noout"]);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stderr + v.stdout, /verify OK/);
      if (ca === "hsmsub")
        assert.match(
          run("openssl", ["crl", "-inform", "DER", "-in", der, "-noout", "-text"]).stdout,
          /Key Compromise/,
        );
    }
  });

  it("issues OCSP responders in the token; their certificates and answers verify", async () => {
    ok(["ocsp", "refresh"], { SIGIL_PASSPHRASE: PASS });
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    const rows = db
      .prepare(
        "select c.name, r.key_ref as keyRef, r.cert_der as der from ocsp_responders r join cas c on c.id = r.ca_id order by c.id",
      )
      .all() as Array<{ name: string; keyRef: string; der: Buffer }>;
    db.close();
    assert.deepEqual(
      rows.map((r) => [
        r.name,
        r.keyRef
          .replace(/object=ocsp-[0-9a-f-]+$/, "object=ocsp-*")
          .replace(/^store:ocsp-.*/, "store:ocsp-*"),
      ]),
      [
        ["hsmroot", "pkcs11:token=sigil-e2e;object=ocsp-*"],
        ["hsmsub", "pkcs11:token=sigil-e2e;object=ocsp-*"],
        ["filesub", "store:ocsp-*"],
      ],
    );
    const root = pem("hsmroot");
    const responder = write(dir, "hsmroot-ocsp.der", rows[0]!.der);
    const responderPem = write(
      dir,
      "hsmroot-ocsp.pem",
      run("openssl", ["x509", "-inform", "DER", "-in", responder]).stdout,
    );
    const v = run("openssl", [
      "verify",
      "-x509_strict",
      "-purpose",
      "ocsphelper",
      "-CAfile",
      root,
      responderPem,
    ]);
    assert.equal(v.status, 0, v.stderr + v.stdout);
    // Answers signed by the token-held responder keys, through sigil serve.
    const s = await startServe(home, ["--workers", "1"], { SIGIL_PKCS11_PIN: PIN, SIGIL_PASSPHRASE: PASS });
    try {
      for (const [ca, leaf, status] of [
        ["hsmsub", "leaf-hsmsub.crt", "revoked"],
        ["filesub", "leaf-filesub.crt", "good"],
      ] as const) {
        const r = run("openssl", [
          "ocsp",
          "-issuer",
          pem(ca),
          "-cert",
          join(dir, leaf),
          "-url",
          `${s.url}/ocsp`,
          "-CAfile",
          root,
          "-verify_other",
          pem(ca),
          "-no_nonce",
        ]);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`: ${status}\\b`));
        assert.match(r.stderr, /Response verify OK/);
      }
    } finally {
      await s.stop();
      runs.push({ status: 0, stdout: s.stdout(), stderr: s.stderr() });
    }
  });

  it("pkcs11-tool shows every private key sensitive and never extractable", () => {
    const r = p11(["--list-objects", "--type", "privkey"]);
    assert.equal(r.status, 0, r.stderr);
    const keys = r.stdout.split(/^(?=Private Key Object)/m).filter((b) => b.startsWith("Private Key Object"));
    const labels = keys.map((b) => /label:\s+(\S+)/.exec(b)![1]).sort();
    assert.deepEqual(
      labels.filter((l) => !l!.startsWith("ocsp-") && !l!.startsWith("audit-")),
      ["hsmroot", "hsmsub"],
    );
    assert.equal(labels.filter((l) => l!.startsWith("ocsp-")).length, 2);
    // The audit signing key lives with the CA keys: in the token.
    assert.equal(labels.filter((l) => l!.startsWith("audit-")).length, 1);
    for (const b of keys) {
      // OpenSC prints CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE; "extractable" only with CKA_EXTRACTABLE.
      assert.match(b, /Access:\s+sensitive, always sensitive, never extractable, local/);
      assert.doesNotMatch(b, /Access:.*(?<!never )extractable,/);
      assert.match(b, /Usage:\s+sign\s*$/m);
    }
    // The public halves are there too, one per key (two CAs, two responders, the audit key).
    assert.equal(
      (p11(["--list-objects", "--type", "pubkey"]).stdout.match(/^Public Key Object/gm) ?? []).length,
      keys.length,
    );
    assert.equal(keys.length, 5);
  });

  it("a wrong PIN, no PIN, a missing module or no pkcs11 config: one line naming the cause, exit 1", () => {
    const line = (r: Run, re: RegExp): void => {
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
    };
    line(
      hsmSigil(["crl", "--ca", "hsmroot"], { SIGIL_PKCS11_PIN: WRONG_PIN }),
      /^sigil: wrong PIN for PKCS#11 token sigil-e2e\n$/,
    );
    line(
      hsmSigil(["crl", "--ca", "hsmroot"], { SIGIL_PKCS11_PIN: undefined }),
      /^sigil: no PIN for PKCS#11 token sigil-e2e: set SIGIL_PKCS11_PIN or pkcs11.pinFile in sigil.json\n$/,
    );
    const cfg = join(home, "sigil.json");
    const writeCfg = (o: unknown): void => writeFileSync(cfg, JSON.stringify(o));
    try {
      writeCfg({ pkcs11: { module: join(dir, "no-such-module.so"), token: hsm.token } });
      line(
        hsmSigil(["crl", "--ca", "hsmroot"]),
        /^sigil: PKCS#11 module \S+no-such-module\.so not found: install softhsm2 .*or fix pkcs11\.module in sigil\.json\n$/,
      );
      writeCfg({ pkcs11: { token: "no-such-token" } });
      line(
        hsmSigil(["ca", "create-root", "r2", "--key-store", "pkcs11", "--subject", "/CN=r2"]),
        /^sigil: PKCS#11 token "no-such-token" not found in \S+; tokens present: "sigil-e2e"\n$/,
      );
      writeCfg({});
      line(
        hsmSigil(["crl", "--ca", "hsmroot"]),
        /^sigil: PKCS#11 keys need a "pkcs11" section in sigil\.json/,
      );
      // A PIN file readable by others is refused; a 0600 one works.
      const pinFile = join(dir, "pin");
      writeFileSync(pinFile, PIN + "\n", { mode: 0o644 });
      writeCfg({ pkcs11: { module: hsm.module, token: hsm.token, pinFile } });
      line(
        hsmSigil(["crl", "--ca", "hsmroot"], { SIGIL_PKCS11_PIN: undefined }),
        /is readable by group or others/,
      );
      tool("chmod", ["600", pinFile]);
      ok(["crl", "--ca", "hsmroot"], { SIGIL_PKCS11_PIN: undefined });
    } finally {
      writeCfg({ pkcs11: { module: hsm.module, token: hsm.token } });
    }
    // The failed attempts left nothing behind: no CA r2, and the file store is untouched by token errors.
    assert.equal((JSON.parse(ok(["ca", "list", "--json"]).stdout) as unknown[]).length, 3);
  });

  it("never prints the PIN", () => {
    assert.ok(runs.length > 20);
    for (const r of runs) {
      const out = r.stdout + r.stderr;
      // pkcs11-tool runs get the PIN on their command line, never print it.
      assert.ok(!out.includes(PIN), `PIN in output: ${out.slice(0, 200)}`);
      assert.ok(!out.includes(WRONG_PIN), `wrong PIN in output: ${out.slice(0, 200)}`);
    }
  });
});
