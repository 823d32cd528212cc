/**
 * The admin API with mutual TLS (`admin.mtls: true`): the client must also show a
 * certificate issued by one of Sigil's CAs, and the token is still required.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sigilOk, sigilAsync, tempDir, tool, initHome, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";

describe("admin API over mutual TLS", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let token: string;
  let env: Record<string, string>;

  before(async () => {
    initHome(home);
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(home, "sigil.json"), JSON.stringify({ ...cfg, admin: { mtls: true } }));
    token = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "auditor",
      "--name",
      "audrey",
    ]).stdout.trim();
    s = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"]);
    const https = s.admin.find((a) => a.startsWith("https:"))!;
    assert.ok(https, s.stderr());
    const root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    env = { SIGIL_SERVER: https, SIGIL_CA_FILE: root, SIGIL_TOKEN: token };
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("refuses a client without a certificate, and one whose certificate Sigil did not issue", async () => {
    const none = await sigilAsync(home, ["audit", "verify"], { env });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^sigil: cannot reach the admin API/);
    // A self-signed client certificate.
    tool("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-keyout", join(t.dir, "self.key"), "-out", join(t.dir, "self.crt"), "-subj", "/CN=self",
    ]); // prettier-ignore
    const self = await sigilAsync(home, ["audit", "verify"], {
      env: { ...env, SIGIL_CLIENT_CERT: join(t.dir, "self.crt"), SIGIL_CLIENT_KEY: join(t.dir, "self.key") },
    });
    assert.equal(self.status, 1);
  });

  it("accepts a client certificate issued by Sigil, with the token still required", async () => {
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, "client.key"), "-out", join(t.dir, "client.csr"), "-subj", "/CN=admin-client.genfic.internal",
    ]); // prettier-ignore
    sigilOk(home, [
      "sign",
      join(t.dir, "client.csr"),
      "--ca",
      "genfic-system",
      "-o",
      join(t.dir, "client.crt"),
    ]);
    const client = {
      SIGIL_CLIENT_CERT: join(t.dir, "client.crt"),
      SIGIL_CLIENT_KEY: join(t.dir, "client.key"),
    };
    const ok = await sigilAsync(home, ["audit", "verify"], { env: { ...env, ...client } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain OK/);
    const noToken = await sigilAsync(home, ["audit", "verify"], {
      env: { ...env, ...client, SIGIL_TOKEN: "" },
    });
    assert.equal(noToken.status, 1);
    assert.match(noToken.stderr, /admin token is required/);
  });
});
