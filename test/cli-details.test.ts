/**
 * Small command-line details (issue 13 §4): the global --home, what `cert show`, `sign --json`,
 * `import openssl`, `admin token revoke` and `sign KEYFILE` print, and when a new passphrase
 * is checked.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BIN, PASS, counts, sigil, sigilOk, tempDir, tool, initHome, type Run } from "./helpers.js";

describe("command-line details", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");

  const PUBLIC = "https://ca.genfic.example:8443";

  before(() => initHome(home, ["--public-url", PUBLIC]));
  /** A new key and request NAME.key / NAME.req in the test folder (key unencrypted); the request's path. */
  const request = (name: string): string => {
    sigilOk(home, [
      "request",
      "create",
      join(t.dir, name),
      "--subject",
      `/CN=${name}.genfic.internal`,
      "--no-encrypt",
    ]);
    return join(t.dir, `${name}.req`);
  };
  after(() => t.cleanup());

  it("--version and -V print the package's version, with or without a data folder", () => {
    const { version } = JSON.parse(readFileSync(join(BIN, "..", "..", "package.json"), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-V"]) {
      const r = sigil(join(t.dir, "nowhere"), [flag]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `sigil ${version}\n`);
      assert.equal(r.stderr, "");
    }
  });

  it("takes --home DIR before or after the subcommand, over SIGIL_HOME", () => {
    const elsewhere = { SIGIL_HOME: join(t.dir, "not-here") };
    for (const args of [
      ["--home", home, "ca", "list", "--json"],
      [`--home=${home}`, "ca", "list", "--json"],
      ["ca", "list", "--json", "--home", home],
      ["ca", "--home", home, "list", "--json"],
    ]) {
      const r = sigil(home, args, { env: elsewhere });
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
      const names = (JSON.parse(r.stdout) as Array<{ name: string }>).map((c) => c.name).sort();
      assert.deepEqual(names, ["genfic", "genfic-system", "genfic-user"], args.join(" "));
    }
    // A command with a positional argument after the global option.
    const shown = sigil(home, ["--home", home, "ca", "show", "genfic", "--json"], { env: elsewhere });
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as { name: string }).name, "genfic");
    // --home names the folder that is used: an empty one is the usual error, not SIGIL_HOME's data.
    const none = sigil(home, ["--home", join(t.dir, "empty"), "ca", "list"]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^sigil: no Sigil data in .*empty: run 'sigil init'/);
  });

  it("shows the ACME directory as a URL: publicUrl (or acme.baseUrl) and the path", () => {
    sigilOk(home, ["acme", "enable", "genfic-system", "--allow", "*.genfic.internal"]);
    const url = `${PUBLIC}/acme/genfic-system/directory`;
    assert.match(
      sigilOk(home, ["ca", "show", "genfic-system"]).stdout,
      new RegExp(`directory: +${url}$`, "m"),
    );
    const json = JSON.parse(sigilOk(home, ["ca", "show", "genfic-system", "--json"]).stdout) as {
      acme: { directory: string };
    };
    assert.equal(json.acme.directory, url);
    assert.match(sigilOk(home, ["acme", "show"]).stdout, new RegExp(`directory: +${url}$`, "m"));
    // acme.baseUrl (a TLS proxy in front) is the URL clients use, as the server's own links say.
    const cfgPath = join(home, "sigil.json");
    const cfg = readFileSync(cfgPath, "utf8");
    try {
      const parsed = JSON.parse(cfg) as Record<string, unknown>;
      writeFileSync(
        cfgPath,
        JSON.stringify({ ...parsed, acme: { baseUrl: "https://acme.genfic.example/" } }),
      );
      const shown = JSON.parse(sigilOk(home, ["acme", "show", "genfic-system", "--json"]).stdout) as {
        directory: string;
      };
      assert.equal(shown.directory, "https://acme.genfic.example/acme/genfic-system/directory");
    } finally {
      writeFileSync(cfgPath, cfg);
    }
  });

  it("cert show names the revocation reason as revoke --reason takes it (the code only in --json)", () => {
    const req = request("revoked-one");
    sigilOk(home, ["sign", req, "--ca", "genfic-system"]);
    const serial = (
      JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-system", "--json"]).stdout) as Array<{
        serial: string;
        subject: string;
      }>
    ).find((c) => c.subject === "CN=revoked-one.genfic.internal")!.serial;
    sigilOk(home, ["revoke", serial, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    const text = sigilOk(home, ["cert", "show", serial, "--ca", "genfic-system"]).stdout;
    assert.match(text, /^revocationReason: +keyCompromise$/m);
    assert.doesNotMatch(text, /revocationReasonCode/);
    const json = JSON.parse(
      sigilOk(home, ["cert", "show", serial, "--ca", "genfic-system", "--json"]).stdout,
    ) as {
      revocationReason: string;
      revocationReasonCode: number;
    };
    assert.equal(json.revocationReason, "keyCompromise");
    assert.equal(json.revocationReasonCode, 1); // RFC 5280 §5.3.1 CRLReason keyCompromise (1)
    const listed = JSON.parse(sigilOk(home, ["certs", "--status", "revoked", "--json"]).stdout) as Array<{
      serial: string;
      revocationReason: string;
    }>;
    assert.equal(listed.find((c) => c.serial === serial)?.revocationReason, "keyCompromise");
  });

  it("sign --json for one request prints one JSON document on stdout, as the batch form does", () => {
    const r = sigilOk(home, ["sign", request("json-one"), "--ca", "genfic-system", "--json"]);
    assert.equal(r.stderr, "");
    const j = JSON.parse(r.stdout) as { serial: string; subject: string; notAfter: string; pem: string };
    assert.match(j.serial, /^[0-9a-f]+$/);
    assert.equal(j.subject, "CN=json-one.genfic.internal");
    assert.match(j.notAfter, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(j.pem, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    // With -o the certificate goes to the file and stdout holds the JSON alone.
    const out = join(t.dir, "json-two.crt");
    const o = sigilOk(home, ["sign", request("json-two"), "--ca", "genfic-system", "--json", "-o", out]);
    const jo = JSON.parse(o.stdout) as { serial: string; out: string; pem?: string };
    assert.equal(jo.out, out);
    assert.equal(jo.pem, undefined);
    assert.match(readFileSync(out, "utf8"), /^-----BEGIN CERTIFICATE-----/);
    assert.doesNotMatch(o.stderr, /\{/);
    const shown = sigilOk(home, ["cert", "show", jo.serial, "--ca", "genfic-system", "--json"]).stdout;
    assert.equal((JSON.parse(shown) as { subject: string }).subject, "CN=json-two.genfic.internal");
  });

  it("sign and crl derive the CA key ahead only for the passphrase the open then uses", () => {
    // The key's PBKDF2 starts while the command loads (keys/pkcs8.ts deriveAhead): the
    // source order (--passphrase-file over SIGIL_PASSPHRASE) and a wrong passphrase behave
    // exactly as when the key is opened afterwards.
    const before = counts(home).certificates;
    const out = join(t.dir, "ahead-wrong.crt");
    const wrong = sigil(home, ["sign", request("ahead-wrong"), "--ca", "genfic-system", "-o", out], {
      env: { SIGIL_PASSPHRASE: "not the passphrase" },
    });
    assert.equal(wrong.status, 1, wrong.stderr);
    assert.equal(wrong.stderr, "sigil: wrong passphrase for the key of CA genfic-system\n");
    assert.equal(existsSync(out), false);
    assert.equal(counts(home).certificates, before);
    const passFile = join(t.dir, "ahead.pass");
    writeFileSync(passFile, PASS + "\n", { mode: 0o600 });
    const right = sigil(
      home,
      ["sign", request("ahead-file"), "--ca", "genfic-system", "-o", out, "--passphrase-file", passFile],
      { env: { SIGIL_PASSPHRASE: "not the passphrase" } },
    );
    assert.equal(right.status, 0, right.stderr);
    assert.match(readFileSync(out, "utf8"), /^-----BEGIN CERTIFICATE-----/);
    const wrongFile = join(t.dir, "ahead-wrong.pass");
    writeFileSync(wrongFile, "not the passphrase\n", { mode: 0o600 });
    const crl = sigil(home, ["crl", "--ca", "genfic-system", "--passphrase-file", wrongFile]);
    assert.equal(crl.status, 1, crl.stderr);
    assert.equal(crl.stderr, "sigil: wrong passphrase for the key of CA genfic-system\n");
    sigilOk(home, ["crl", "--ca", "genfic-system"]);
  });

  it("admin token revoke of a revoked token says since when it is revoked (exit 1), not 'no token'", () => {
    const made = JSON.parse(
      sigilOk(home, ["admin", "token", "create", "--role", "operator", "--name", "alice", "--json"]).stdout,
    ) as { id: string };
    sigilOk(home, ["admin", "token", "revoke", "alice"]);
    const again = sigil(home, ["admin", "token", "revoke", "alice"]);
    assert.equal(again.status, 1);
    assert.match(
      again.stderr,
      /^sigil: token "alice" is already revoked \(since \d{4}-\d\d-\d\dT[\d:]{8}Z\)\n$/,
    );
    const byId = sigil(home, ["admin", "token", "revoke", made.id]);
    assert.equal(byId.status, 1);
    assert.match(
      byId.stderr,
      new RegExp(`^sigil: token ${made.id} \\(alice\\) is already revoked \\(since `),
    );
    const unknown = sigil(home, ["admin", "token", "revoke", "nobody"]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^sigil: no token "nobody"/);
  });

  it("sign KEYFILE says it is a private key to keep, and repeats none of it; requests submit stores none", () => {
    const dir = join(t.dir, "keys-as-requests");
    mkdirSync(dir);
    // request create writes an ENCRYPTED PRIVATE KEY; openssl rewrites it in the other forms.
    sigilOk(home, ["request", "create", join(dir, "amber"), "--subject", "/CN=amber"]);
    const pass = ["-passin", `pass:${PASS}`];
    const keys: Record<string, string> = { "ENCRYPTED PRIVATE KEY": join(dir, "amber.key") };
    const conv = (kind: string, file: string, args: string[]): void => {
      const r = tool("openssl", [
        "pkey",
        "-in",
        join(dir, "amber.key"),
        ...pass,
        ...args,
        "-out",
        join(dir, file),
      ]);
      assert.equal(r.status, 0, r.stderr);
      keys[kind] = join(dir, file);
    };
    conv("PRIVATE KEY", "plain.key", []);
    conv("EC PRIVATE KEY", "ec.key", ["-traditional"]);
    conv("DER", "key.der", ["-outform", "DER"]);
    const rsa = tool("openssl", ["genrsa", "-traditional", "-out", join(dir, "rsa.key"), "2048"]);
    assert.equal(rsa.status, 0, rsa.stderr);
    keys["RSA PRIVATE KEY"] = join(dir, "rsa.key");
    const before = counts(home);
    for (const [kind, file] of Object.entries(keys)) {
      const text = readFileSync(file, "latin1");
      if (kind !== "DER") assert.match(text, new RegExp(`^-----BEGIN ${kind}-----`), kind);
      const r = sigil(home, ["sign", file, "--ca", "genfic-user"]);
      assert.equal(r.status, 1, kind);
      assert.equal(
        r.stderr,
        `sigil: ${file}: this is a private key: it must never be sent to a CA (or anyone else); give the certificate request (.req or .csr) made with it instead\n`,
        kind,
      );
      // No line of the key (base64 body) is echoed.
      for (const line of text.split("\n").filter((l) => l.length > 20))
        assert.ok(!r.stderr.includes(line), kind);
    }
    assert.deepEqual(counts(home), before);
    // A key handed to the queue is refused and recorded without a byte of it.
    const sub = sigil(home, ["requests", "submit", keys["PRIVATE KEY"]!, "--ca", "genfic-user"]);
    assert.match(sub.stdout + sub.stderr, /rejected: this is a private key: it must never be sent to a CA/);
    const id = (
      JSON.parse(sigilOk(home, ["requests", "list", "--state", "rejected", "--json"]).stdout) as Array<{
        id: number;
        source: string;
      }>
    ).find((x) => x.source.endsWith("plain.key"))!.id;
    const body = readFileSync(keys["PRIVATE KEY"]!, "utf8").split("\n")[1]!;
    const r = sigil(home, ["requests", "show", String(id), "--pem"]);
    const shown = r.stdout + r.stderr;
    assert.ok(
      !shown.includes(body) &&
        !shown.includes(Buffer.from("-----BEGIN PRIVATE KEY").toString("base64").slice(0, 20)),
    );
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    try {
      const row = db.prepare("select csr_der from requests where id = ?").get(id) as { csr_der: Buffer };
      assert.equal(row.csr_der.length, 0);
    } finally {
      db.close();
    }
  });

  describe("a new passphrase is checked before the subject is asked field by field", () => {
    const hasScript = tool("sh", ["-c", "command -v script"]).status === 0;
    const q = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
    /** Runs sigil on a pseudo-terminal (util-linux `script`), typing `input`; stdout and stderr merged. */
    const onTty = (args: string[], input: string, env: Record<string, string | undefined>): Run => {
      const all: Record<string, string | undefined> = { ...process.env, SIGIL_PASSPHRASE: undefined, ...env };
      for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
      const cmd = [process.execPath, BIN, ...args].map(q).join(" ");
      const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
        input,
        env: all as NodeJS.ProcessEnv,
        cwd: t.dir,
        encoding: "utf8",
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const subjectLines = "BE\nAntwerp\n.\nGenFic\n.\nTTY Root\n.\n";
    const SHORT = /sigil: passphrase for .* is too short: use at least 8 characters/;

    it("ca create-root: SIGIL_PASSPHRASE, --passphrase-file or a typed one too short: refused before the first field", () => {
      assert.ok(
        hasScript,
        "script(1) (bsdutils, installed by scripts/test-deps.sh) runs the pseudo-terminal",
      );
      const fresh = join(t.dir, "tty-home");
      const short = join(t.dir, "short.pass");
      writeFileSync(short, "short\n", { mode: 0o600 });
      for (const [how, args, input, env] of [
        ["SIGIL_PASSPHRASE", [], subjectLines, { SIGIL_PASSPHRASE: "short" }],
        ["--passphrase-file", ["--passphrase-file", short], subjectLines, {}],
        ["typed", [], "short\n", {}],
      ] as const) {
        const r = onTty(["ca", "create-root", "tty-root", ...args], input, { SIGIL_HOME: fresh, ...env });
        assert.equal(r.status, 1, `${how}: ${r.stdout}`);
        assert.match(r.stdout, SHORT, how);
        assert.doesNotMatch(r.stdout, /Country Name/, how);
      }
      // A good one: then the fields are asked (typed ahead here) and the CA is made with them.
      const ok = onTty(["ca", "create-root", "tty-root"], subjectLines, {
        SIGIL_HOME: fresh,
        SIGIL_PASSPHRASE: PASS,
      });
      assert.equal(ok.status, 0, ok.stdout);
      assert.match(ok.stdout, /Country Name \(2 letter code\)/);
      assert.match(ok.stdout, /created root CA tty-root: CN=TTY Root,O=GenFic,ST=Antwerp,C=BE/);
      // Ctrl-D (end of input) in the middle of the fields: one line, nothing made.
      const cut = onTty(["ca", "create-root", "tty-cut"], "BE\n", {
        SIGIL_HOME: fresh,
        SIGIL_PASSPHRASE: PASS,
      });
      assert.equal(cut.status, 1, cut.stdout);
      assert.match(cut.stdout, /sigil: subject prompt ended before the last field: nothing made/);
      assert.doesNotMatch(cut.stdout, /internal error/);
    });

    it("request create: the key's passphrase before the subject fields", () => {
      assert.ok(
        hasScript,
        "script(1) (bsdutils, installed by scripts/test-deps.sh) runs the pseudo-terminal",
      );
      const base = join(t.dir, "tty-req");
      for (const [how, input, env] of [
        ["SIGIL_KEY_PASSPHRASE", subjectLines, { SIGIL_KEY_PASSPHRASE: "short" }],
        ["typed", "short\n", {}],
      ] as const) {
        const r = onTty(["request", "create", base], input, { SIGIL_HOME: home, ...env });
        assert.equal(r.status, 1, `${how}: ${r.stdout}`);
        assert.match(r.stdout, SHORT, how);
        assert.doesNotMatch(r.stdout, /Country Name/, how);
        assert.ok(!existsSync(`${base}.key`) && !existsSync(`${base}.req`), how);
      }
    });

    it("ca create-child: the parent's key is opened (the passphrase checked) before the first field", () => {
      assert.ok(
        hasScript,
        "script(1) (bsdutils, installed by scripts/test-deps.sh) runs the pseudo-terminal",
      );
      const r = onTty(["ca", "create-child", "tty-child", "--parent", "genfic"], subjectLines, {
        SIGIL_HOME: home,
        SIGIL_PASSPHRASE: "not the passphrase",
      });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /sigil: wrong passphrase/);
      assert.doesNotMatch(r.stdout, /Country Name/);
    });

    it("without a terminal too: the passphrase is refused before the default subject is taken", () => {
      const r = sigil(join(t.dir, "no-tty-home"), ["ca", "create-root", "quiet"], {
        env: { SIGIL_PASSPHRASE: "short" },
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^sigil: passphrase for new CA key is too short/);
      assert.doesNotMatch(r.stderr, /no --subject/);
      const req = sigil(home, ["request", "create", join(t.dir, "quiet-req")], {
        env: { SIGIL_KEY_PASSPHRASE: "short" },
      });
      assert.equal(req.status, 1);
      assert.equal(req.stderr.trim().split("\n").length, 1, req.stderr);
      assert.match(req.stderr, /^sigil: passphrase for key quiet-req\.key is too short/);
    });
  });
});
