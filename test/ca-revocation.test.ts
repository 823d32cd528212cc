/**
 * Issue 14 §7 and §8: revoking a CA certificate is the security role's act on every path
 * (an operator token cannot revoke an intermediate through `certs/revoke`), and a revoked
 * CA, or one below a revoked CA, signs nothing more in a running service: every issuance
 * checks the whole chain's status at commit time, whatever the service cached.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { sigil, sigilOk, tempDir, tool, initHome, counts, auditActionsSince, newRequest } from "./helpers.js";
import { serveWithToken, type Served } from "./serve-helpers.js";

const csr = (dir: string, name: string): string => newRequest(dir, `${name}.genfic.internal`).req;

describe("CA revocation: roles and chain status at commit", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let s: Served;
  let operator: Record<string, string>;

  before(async () => {
    initHome(home);
    sigilOk(home, [
      "ca",
      "create-child",
      "genfic-mid",
      "--parent",
      "genfic",
      "--days",
      "1000",
      "--path-len",
      "1",
    ]);
    sigilOk(home, ["ca", "create-child", "genfic-leaf", "--parent", "genfic-mid", "--days", "900"]);
    ({ served: s, env: operator } = await serveWithToken(home, "operator", "olga"));
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("an operator token cannot revoke an intermediate CA through certs/revoke; audited", () => {
    const system = tool("openssl", ["x509", "-noout", "-serial"], {
      input: sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout,
    })
      .stdout.split("=")[1]!
      .trim();
    const before = counts(home);
    const r = sigil(home, ["revoke", system, "--ca", "genfic", "--reason", "cACompromise"], {
      env: operator,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /revoking a CA is the security role's act/);
    const shown = sigilOk(home, ["cert", "show", system, "--ca", "genfic", "--json"]).stdout;
    assert.match(shown, /"status":\s*"valid"/);
    assert.ok(auditActionsSince(home, before.audit).includes("cert.revoke.refused"));
    // The service still signs from genfic-system: nothing was revoked.
    const ok = sigil(home, ["sign", csr(t.dir, "still"), "--ca", "genfic-system"], { env: operator });
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("after a revocation from the CLI, the running service signs nothing more from that CA or below it", () => {
    // Warm the service's issuer cache for both CAs first.
    for (const ca of ["genfic-mid", "genfic-leaf"]) {
      const r = sigil(home, ["sign", csr(t.dir, `warm-${ca}`), "--ca", ca, "--profile", "system"], {
        env: operator,
      });
      assert.equal(r.status, 0, r.stderr);
    }
    const mid = tool("openssl", ["x509", "-noout", "-serial"], {
      input: sigilOk(home, ["ca", "show", "genfic-mid", "--pem"]).stdout,
    })
      .stdout.split("=")[1]!
      .trim();
    // The home's owner (custody of the keys) revokes the intermediate locally.
    sigilOk(home, ["revoke", mid, "--ca", "genfic", "--reason", "cACompromise"]);
    const before = counts(home);
    for (const [ca, re] of [
      ["genfic-mid", /CA genfic-mid was revoked by its parent on .*: it signs nothing more/],
      [
        "genfic-leaf",
        /CA genfic-mid was revoked by its parent on .*: CA genfic-leaf under it signs nothing more/,
      ],
    ] as const) {
      const r = sigil(home, ["sign", csr(t.dir, `after-${ca}`), "--ca", ca, "--profile", "system"], {
        env: operator,
      });
      assert.equal(r.status, 1, `${ca}: ${r.stderr}`);
      assert.match(r.stderr, re);
      // The local CLI refuses as well (batch form too).
      const b = sigil(home, [
        "sign",
        csr(t.dir, `batch-${ca}`),
        "--ca",
        ca,
        "--profile",
        "system",
        "--out-dir",
        join(t.dir, `out-${ca}`),
      ]);
      assert.notEqual(b.status, 0, b.stderr);
      assert.match(b.stderr, /signs nothing more/);
    }
    assert.equal(counts(home).certificates, before.certificates, "nothing issued");
    const actions = auditActionsSince(home, before.audit);
    assert.ok(actions.filter((a) => a === "cert.issue.refused").length >= 4, actions.join(","));
  });
});
