/**
 * Revoking an intermediate CA: its certificate is one its parent issued, so with the root
 * offline the root's key file revokes it; the root's CRL lists it (openssl then refuses
 * the chain), OCSP answers "revoked" for it, and the revoked CA signs nothing more.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, tool, tempDir, write, initHome } from "./helpers.js";
import { startServe, get } from "./serve-helpers.js";

describe("revoking an intermediate CA under an offline root", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const safe = join(t.dir, "safe", "genfic");
  let root: string;
  let system: string;
  let leaf: string;
  let systemSerial: string;

  before(() => {
    initHome(home);
    sigilOk(home, ["ocsp", "refresh"]);
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(t.dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, "www.key"), "-out", join(t.dir, "www.csr"), "-subj", "/CN=www.genfic.internal",
    ]); // prettier-ignore
    leaf = join(t.dir, "www.crt");
    sigilOk(home, ["sign", join(t.dir, "www.csr"), "--ca", "genfic-system", "-o", leaf]);
    sigilOk(home, ["ca", "export", "genfic", "--out", safe]);
    sigilOk(home, ["ca", "offline", "genfic", "--export", safe]);
  });
  after(() => t.cleanup());

  it("lists the intermediates among the root's certificates (asked for: --profile ca)", () => {
    const certs = JSON.parse(
      sigilOk(home, ["certs", "--ca", "genfic", "--profile", "ca", "--json"]).stdout,
    ) as Array<{
      subject: string;
      serial: string;
      profile: string;
    }>;
    const cas = certs.filter((c) => c.profile === "ca").map((c) => c.subject.split(",")[0]);
    assert.deepEqual(cas.sort(), ["CN=GenFic System CA", "CN=GenFic User CA"]);
    systemSerial = certs.find((c) => c.subject.startsWith("CN=GenFic System CA"))!.serial;
    const x = tool("openssl", ["x509", "-in", system, "-noout", "-serial"]).stdout;
    assert.equal(
      x
        .trim()
        .replace(/^serial=/, "")
        .toLowerCase()
        .replace(/^0+/, ""),
      systemSerial.replace(/^0+/, ""),
    );
  });

  it("needs the offline root's key file to revoke it, then the root's CRL lists it", () => {
    const r = sigil(home, ["revoke", systemSerial, "--ca", "genfic", "--reason", "cACompromise"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: CA genfic is offline: give --key-file/);
    sigilOk(home, [
      "revoke", systemSerial, "--ca", "genfic", "--reason", "cACompromise", "--key-file", join(safe, "genfic.key.pem"),
    ]); // prettier-ignore
    const crl = join(home, "crl", "genfic.crl");
    const text = tool("openssl", ["crl", "-inform", "DER", "-in", crl, "-noout", "-text"]).stdout;
    assert.match(text, new RegExp(`Serial Number: 0*${systemSerial.replace(/^0+/, "")}`, "i"));
    assert.match(text, /CA Compromise/);
    // The chain now fails with the root's CRL (and the system CA's own CRL).
    const rootCrl = write(
      t.dir,
      "root.crl.pem",
      tool("openssl", ["crl", "-inform", "DER", "-in", crl]).stdout,
    );
    const sysCrl = write(
      t.dir,
      "system.crl.pem",
      tool("openssl", ["crl", "-inform", "DER", "-in", join(home, "crl", "genfic-system.crl")]).stdout,
    );
    const v = tool("openssl", [
      "verify", "-crl_check_all", "-CAfile", root, "-untrusted", system, "-CRLfile", rootCrl, "-CRLfile", sysCrl, leaf,
    ]); // prettier-ignore
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
  });

  it("the revoked CA signs nothing more, with one clear line", () => {
    const r = sigil(home, ["sign", join(t.dir, "www.csr"), "--ca", "genfic-system"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^sigil: CA genfic-system was revoked by its parent on \S+: it signs nothing more\n$/,
    );
  });

  it("OCSP answers revoked for the intermediate (the root's responder key stays online)", async () => {
    const s = await startServe(home, ["--workers", "1"]);
    try {
      const o = tool("openssl", [
        "ocsp", "-issuer", root, "-cert", system, "-url", `${s.url}/ocsp`, "-CAfile", root, "-no_nonce",
      ]); // prettier-ignore
      assert.match(o.stdout, /: revoked/, o.stdout + o.stderr);
      assert.match(o.stdout, /Reason: cACompromise/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});

describe("a revoked CA and a retired CA, as listings show them", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let root: string;
  let team: string;
  let leaf: string;

  before(() => {
    initHome(home);
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    sigilOk(home, ["ca", "create-child", "genfic-team", "--parent", "genfic", "--days", "365", "--subject", "/CN=GenFic Team CA"]); // prettier-ignore
    team = write(t.dir, "team.pem", sigilOk(home, ["ca", "show", "genfic-team", "--pem"]).stdout);
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, "app.key"), "-out", join(t.dir, "app.csr"), "-subj", "/CN=app.genfic.internal",
    ]); // prettier-ignore
    leaf = join(t.dir, "app.crt");
    sigilOk(home, ["sign", join(t.dir, "app.csr"), "--ca", "genfic-team", "--days", "90", "-o", leaf]);
    sigilOk(home, ["ca", "retire", "genfic-team"]);
    const sys = JSON.parse(sigilOk(home, ["ca", "show", "genfic-system", "--json"]).stdout) as {
      serial: string;
    };
    sigilOk(home, ["revoke", sys.serial, "--ca", "genfic", "--reason", "keyCompromise"]);
  });
  after(() => t.cleanup());

  it("ca list, ca show and ca status say retired or revoked, and when (--json: status, revokedAt, revocationReason)", () => {
    type CaJson = { name: string; status: string; revokedAt: string | null; revocationReason: string | null };
    const cas = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as CaJson[];
    const by = (n: string) => cas.find((c) => c.name === n)!;
    assert.equal(by("genfic").status, "active");
    assert.equal(by("genfic").revokedAt, null);
    assert.equal(by("genfic-team").status, "retired");
    assert.equal(by("genfic-team").revocationReason, "cessationOfOperation");
    assert.ok(Date.parse(by("genfic-team").revokedAt!) <= Date.now());
    assert.equal(by("genfic-system").status, "revoked");
    assert.equal(by("genfic-system").revocationReason, "keyCompromise");
    const day = by("genfic-team").revokedAt!.slice(0, 10);
    const table = sigilOk(home, ["ca", "list"]).stdout;
    assert.match(table, /^NAME\s+PARENT\s+STATUS\s+KEY/);
    assert.match(table, new RegExp(`^genfic-team\\s+genfic\\s+retired ${day}\\s`, "m"));
    assert.match(table, /^genfic-system\s+genfic\s+revoked \d{4}-\d\d-\d\d\s/m);
    assert.match(table, /^genfic-user\s+genfic\s+active\s/m);
    const show = sigilOk(home, ["ca", "show", "genfic-team"]).stdout;
    assert.match(
      show,
      /^status:\s+retired on \S+ by genfic \(cessationOfOperation\): issues nothing more; signs its CRL until its last certificate expires \(\S+\)$/m,
    );
    const showJson = JSON.parse(sigilOk(home, ["ca", "show", "genfic-team", "--json"]).stdout) as CaJson;
    assert.equal(showJson.status, "retired");
    assert.equal(showJson.revokedAt, by("genfic-team").revokedAt);
    assert.match(
      sigilOk(home, ["ca", "show", "genfic-system"]).stdout,
      /^status:\s+revoked on .*signs nothing more$/m,
    );
    const st = JSON.parse(sigilOk(home, ["ca", "status", "--json"]).stdout) as CaJson[];
    assert.deepEqual(
      st.map((c) => [c.name, c.status]),
      [
        ["genfic", "active"],
        ["genfic-system", "revoked"],
        ["genfic-user", "active"],
        ["genfic-team", "retired"],
      ],
    );
    assert.match(sigil(home, ["ca", "status"]).stdout, /^genfic-team\s+genfic\s+retired \d{4}-/m);
  });

  it("a retired CA issues nothing more; a revoked one signs no CRL", () => {
    const r = sigil(home, ["sign", join(t.dir, "app.csr"), "--ca", "genfic-team"]);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^sigil: CA genfic-team was retired on \S+: it issues nothing more \(it still signs its CRL\)\n$/,
    );
    const c = sigil(home, ["crl", "--ca", "genfic-system"]);
    assert.equal(c.status, 1);
    assert.match(
      c.stderr,
      /^sigil: CA genfic-system was revoked by its parent on \S+: it signs nothing more\n$/,
    );
  });

  it("the service publishes the retired CA's CRL (openssl crl -CAfile verifies it)", async () => {
    const s = await startServe(home, ["--workers", "1"]);
    try {
      // The CRL job runs at start: wait for its first run (bounded, no timing asserted).
      let crl = await get(`${s.url}/crl/genfic-team.crl`);
      for (let i = 0; i < 100 && crl.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        crl = await get(`${s.url}/crl/genfic-team.crl`);
      }
      assert.equal(crl.status, 200);
      const file = write(t.dir, "team-served.crl", crl.body);
      const chain = write(t.dir, "chain.pem", readFileSync(team, "utf8") + readFileSync(root, "utf8"));
      const v = tool("openssl", [
        "crl",
        "-inform",
        "DER",
        "-in",
        file,
        "-CAfile",
        chain,
        "-noout",
        "-issuer",
      ]);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stderr + v.stdout, /verify OK/);
      assert.match(v.stdout, /CN ?= ?GenFic Team CA/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it("sigil crl and sigil revoke work for a retired CA: openssl -crl_check refuses its revoked certificate", () => {
    sigilOk(home, ["revoke", "--cert", leaf, "--ca", "genfic-team", "--reason", "keyCompromise"]);
    const out = join(t.dir, "team.crl.pem");
    sigilOk(home, ["crl", "--ca", "genfic-team", "--pem", "-o", out]);
    const chain = join(t.dir, "chain.pem");
    const v = tool("openssl", ["crl", "-in", out, "-CAfile", chain, "-noout", "-text"]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stderr + v.stdout, /verify OK/);
    assert.match(v.stdout, /Key Compromise/);
    const check = tool("openssl", [
      "verify", "-crl_check", "-CRLfile", out, "-CAfile", root, "-untrusted", team, leaf,
    ]); // prettier-ignore
    assert.notEqual(check.status, 0);
    assert.match(check.stdout + check.stderr, /certificate revoked/);
  });
});
