/**
 * Every key type, both profiles: the chain passes `openssl verify -x509_strict` and GnuTLS.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sigilOk, tool, tempDir, write } from "./helpers.js";

const KEY_TYPES = ["p256", "p384", "ed25519", "rsa2048", "rsa3072", "rsa4096"] as const;

describe("key types", () => {
  const t = tempDir();
  after(() => t.cleanup());

  for (const kt of KEY_TYPES) {
    it(`a ${kt} hierarchy issues user and system certificates that openssl and certtool verify`, () => {
      const home = join(t.dir, kt);
      sigilOk(home, ["init", "--key", kt], { cwd: t.dir });
      const root = write(home, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
      for (const [ca, profile, subject, leafKey] of [
        ["genfic-system", "system", `/CN=host-${kt}.genfic.internal`, kt === "rsa3072" ? "rsa2048" : "p256"],
        ["genfic-user", "user", `/CN=User ${kt}/emailAddress=${kt}@genfic.com`, kt],
      ] as const) {
        const inter = write(home, `${ca}.pem`, sigilOk(home, ["ca", "show", ca, "--pem"]).stdout);
        const base = join(home, `${profile}-leaf`);
        sigilOk(home, [
          "request",
          "create",
          base,
          "--subject",
          subject,
          "--no-encrypt",
          "--key",
          leafKey === "rsa3072" ? "rsa2048" : leafKey,
        ]);
        sigilOk(home, ["sign", `${base}.req`, "--ca", ca, "--profile", profile, "-o", `${base}.crt`]);
        const v = tool("openssl", [
          "verify",
          "-x509_strict",
          "-CAfile",
          root,
          "-untrusted",
          inter,
          `${base}.crt`,
        ]);
        assert.equal(v.status, 0, `${kt}/${profile}: ${v.stdout}${v.stderr}`);
        const chain = write(
          home,
          `${profile}-chain.pem`,
          readFileSync(`${base}.crt`, "utf8") + readFileSync(inter, "utf8") + readFileSync(root, "utf8"),
        );
        const g = tool("certtool", ["--verify-chain", "--infile", chain]);
        assert.equal(g.status, 0, `${kt}/${profile} certtool: ${g.stdout}${g.stderr}`);
      }
      const chainPem = sigilOk(home, ["ca", "show", "genfic-user", "--chain"]).stdout;
      assert.equal((chainPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    });
  }

  it("creates a hierarchy of any depth with path lengths that openssl enforces", () => {
    const home = join(t.dir, "deep");
    sigilOk(home, ["ca", "create-root", "r", "--subject", "/CN=Deep Root"], { cwd: t.dir });
    sigilOk(home, [
      "ca",
      "create-child",
      "l1",
      "--parent",
      "r",
      "--subject",
      "/CN=L1",
      "--days",
      "3000",
      "--path-len",
      "2",
    ]);
    sigilOk(home, [
      "ca",
      "create-child",
      "l2",
      "--parent",
      "l1",
      "--subject",
      "/CN=L2",
      "--days",
      "2000",
      "--path-len",
      "1",
    ]);
    sigilOk(home, ["ca", "create-child", "l3", "--parent", "l2", "--subject", "/CN=L3", "--days", "1000"]);
    const leaf = join(home, "leaf");
    sigilOk(home, ["request", "create", leaf, "--subject", "/CN=deep.genfic.internal", "--no-encrypt"]);
    sigilOk(home, ["sign", `${leaf}.req`, "--ca", "l3", "-o", `${leaf}.crt`]);
    const chain = sigilOk(home, ["ca", "show", "l3", "--chain"]).stdout;
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    assert.equal(blocks.length, 4);
    const root = write(home, "root.pem", blocks[3]!);
    const untrusted = write(home, "untrusted.pem", blocks.slice(0, 3).join(""));
    const v = tool("openssl", [
      "verify",
      "-x509_strict",
      "-CAfile",
      root,
      "-untrusted",
      untrusted,
      `${leaf}.crt`,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(tool("openssl", ["x509", "-in", root, "-noout", "-text"]).stdout, /CA:TRUE\n/);
  });
});
