/**
 * Revoking an intermediate CA: its certificate is one its parent issued, so with the root
 * offline the root's key file revokes it; the root's CRL lists it (openssl then refuses
 * the chain), OCSP answers "revoked" for it, and the revoked CA signs nothing more.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { sigil, sigilOk, tool, tempDir, write, initHome } from "./helpers.js";
import { startServe } from "./serve-helpers.js";

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
