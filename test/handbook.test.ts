/**
 * The handbook's scripted approach, flag for flag, exactly as printed there.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, tool, tempDir, write, PASS } from "./helpers.js";

describe("handbook flags", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const self = join(t.dir, "var", "db", "ca", "self");
  mkdirSync(self, { recursive: true });
  after(() => t.cleanup());

  it("-r creates a root valid for -v days", () => {
    sigilOk(home, [
      "-r",
      "genfic",
      "-v",
      "7300",
      "--subject",
      "/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA",
    ]);
    const ca = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout)[0] as {
      name: string;
      notAfter: string;
    };
    assert.equal(ca.name, "genfic");
    const days = (Date.parse(ca.notAfter) - Date.now()) / 86_400_000;
    assert.ok(days > 7299 && days < 7301, String(days));
  });

  it("-p PARENT -c NAME -v DAYS creates children", () => {
    sigilOk(home, ["-p", "genfic", "-c", "genfic-system", "-v", "3650"]);
    sigilOk(home, ["-p", "genfic", "-c", "genfic-user", "-v", "3650", "--default-profile", "user"]);
    const names = (
      JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{ name: string; parent: string }>
    ).map((c) => `${c.name}<${c.parent}`);
    assert.deepEqual(names, ["genfic<null", "genfic-system<genfic", "genfic-user<genfic"]);
  });

  it("-R PATH writes PATH.key and PATH.req; -p CA -s REQ -o CRT signs it", () => {
    sigilOk(home, ["-R", join(self, "myhostname"), "--no-encrypt"]);
    assert.ok(existsSync(join(self, "myhostname.key")));
    assert.equal(statSync(join(self, "myhostname.key")).mode & 0o777, 0o600);
    const req = tool("openssl", ["req", "-in", join(self, "myhostname.req"), "-noout", "-subject"]);
    assert.match(req.stdout, /CN = myhostname/);
    sigilOk(home, [
      "-p",
      "genfic-system",
      "-s",
      join(self, "myhostname.req"),
      "-o",
      join(self, "myhostname.crt"),
    ]);
    const root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    const sys = write(t.dir, "sys.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    const v = tool("openssl", ["verify", "-CAfile", root, "-untrusted", sys, join(self, "myhostname.crt")]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(
      tool("openssl", ["x509", "-in", join(self, "myhostname.crt"), "-noout", "-ext", "subjectAltName"])
        .stdout,
      /DNS:myhostname/,
    );
  });

  it("long options work beside the short flags", () => {
    sigilOk(home, [
      "-R",
      join(self, "web"),
      "--subject",
      "/CN=web.genfic.internal",
      "--san",
      "dns:web.genfic.internal,ip:10.1.2.3",
      "--no-encrypt",
      "--key",
      "rsa2048",
    ]);
    sigilOk(home, [
      "-p",
      "genfic-system",
      "-s",
      join(self, "web.req"),
      "-o",
      join(self, "web.crt"),
      "-v",
      "90",
      "--profile",
      "system",
    ]);
    const text = tool("openssl", ["x509", "-in", join(self, "web.crt"), "-noout", "-text"]).stdout;
    assert.match(text, /DNS:web\.genfic\.internal, IP Address:10\.1\.2\.3/);
    sigilOk(home, [
      "-R",
      join(self, "amber"),
      "--subject",
      "/CN=Amber McStone/emailAddress=amber@genfic.com",
    ]);
    assert.match(readFileSync(join(self, "amber.key"), "utf8"), /ENCRYPTED/);
    sigilOk(home, ["-R", join(self, "bert"), "--subject", "/CN=Bert"], {
      env: { SIGIL_KEY_PASSPHRASE: "bert's own passphrase" },
    });
    assert.equal(
      tool("openssl", [
        "pkey",
        "-in",
        join(self, "bert.key"),
        "-passin",
        "pass:bert's own passphrase",
        "-noout",
      ]).status,
      0,
    );
    assert.notEqual(
      tool("openssl", ["pkey", "-in", join(self, "bert.key"), "-passin", `pass:${PASS}`, "-noout"]).status,
      0,
    );
    sigilOk(home, ["-p", "genfic-user", "-s", join(self, "amber.req"), "-o", join(self, "amber.crt")]);
  });

  it("-p CA -x VALUE revokes by CN, e-mail or serial, and refuses ambiguity", () => {
    sigilOk(home, ["-p", "genfic-system", "-x", "web.genfic.internal", "--reason", "superseded"]);
    const revoked = JSON.parse(sigilOk(home, ["certs", "--status", "revoked", "--json"]).stdout) as Array<{
      subject: string;
    }>;
    assert.deepEqual(
      revoked.map((c) => c.subject),
      ["CN=web.genfic.internal"],
    );
    const serial = (
      JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-user", "--json"]).stdout) as Array<{
        serial: string;
      }>
    )[0]!.serial;
    sigilOk(home, ["-p", "genfic-user", "-x", serial]);
    // two valid certificates for the same CN: -x refuses and names both
    sigilOk(home, [
      "-p",
      "genfic-system",
      "-s",
      join(self, "myhostname.req"),
      "-o",
      join(self, "myhostname2.crt"),
    ]);
    const r = sigil(home, ["-p", "genfic-system", "-x", "myhostname"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: "myhostname" matches 2 certificates/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
  });

  it("refuses a command without its -p, and two commands at once", () => {
    const r = sigil(home, ["-s", join(self, "myhostname.req")]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /needs -p/);
    const r2 = sigil(home, ["-r", "a", "-R", "b"]);
    assert.equal(r2.status, 2);
  });
});
