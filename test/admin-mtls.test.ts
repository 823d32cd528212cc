/**
 * The admin API with mutual TLS (`admin.mtls: true`): the client must show a certificate
 * from `sigil admin client-cert` (Sigil's admin-client purpose), and the token is still
 * required. The remote CLI, for its part, accepts only a server certificate of Sigil's
 * admin-server kind, even when the CA file trusts another server's chain.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  auditActionsSince,
  counts,
  sigil,
  sigilOk,
  sigilAsync,
  tempDir,
  tool,
  initHome,
  write,
} from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";

const ADMIN_SERVER_EKU = "2.25.109815092768667927952664030461592862196.1";
const ADMIN_CLIENT_EKU = "2.25.109815092768667927952664030461592862196.2";

describe("admin API over mutual TLS", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let token: string;
  let env: Record<string, string>;
  let root: string;
  let chainPem: string;

  /** A key and a Sigil certificate from `ca` under its default profile, via `sigil sign`. */
  const issue = (name: string, ca: string, subj: string, ext: string[] = []) => {
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", subj, ...ext,
    ]); // prettier-ignore
    sigilOk(home, ["sign", join(t.dir, `${name}.csr`), "--ca", ca, "-o", join(t.dir, `${name}.crt`)]);
    return { cert: join(t.dir, `${name}.crt`), key: join(t.dir, `${name}.key`) };
  };

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
    // An admin TLS certificate of the old kind (a `system` certificate, before admin-tls
    // existed): `sigil serve` must replace it at start.
    const old = issue("old-admin", "genfic-system", "/CN=localhost", [
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
    ]); // prettier-ignore
    mkdirSync(join(home, "tls"), { recursive: true, mode: 0o700 });
    writeFileSync(join(home, "tls", "admin.key.pem"), readFileSync(old.key), { mode: 0o600 });
    writeFileSync(join(home, "tls", "admin.crt.pem"), readFileSync(old.cert));
    s = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"]);
    const https = s.admin.find((a) => a.startsWith("https:"))!;
    assert.ok(https, s.stderr());
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    chainPem = sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout;
    env = { SIGIL_SERVER: https, SIGIL_CA_FILE: root, SIGIL_TOKEN: token };
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("serves an admin-tls certificate (replacing one of the old system kind) that openssl verifies", () => {
    const crt = join(home, "tls", "admin.crt.pem");
    const text = tool("openssl", ["x509", "-in", crt, "-noout", "-text"]).stdout;
    assert.match(
      text,
      new RegExp(`TLS Web Server Authentication, ${ADMIN_SERVER_EKU.replace(/\./g, "\\.")}`),
    );
    assert.doesNotMatch(text, /TLS Web Client Authentication/);
    const chain = write(t.dir, "admin-chain.pem", chainPem);
    const v = tool("openssl", ["verify", "-purpose", "sslserver", "-CAfile", root, "-untrusted", chain, crt]);
    assert.match(v.stdout, /: OK/);
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

  it("refuses a client certificate of another kind from Sigil's hierarchy (user, system), with a valid token, audited", async () => {
    const user = issue("user", "genfic-user", "/CN=Mallory/emailAddress=mallory@genfic.example");
    const system = issue("system", "genfic-system", "/CN=mallory.genfic.internal");
    // After the signing (through the running service, its own admin.allow events).
    const before = counts(home).audit;
    for (const c of [user, system]) {
      const r = await sigilAsync(home, ["audit", "verify"], {
        env: { ...env, SIGIL_CLIENT_CERT: c.cert, SIGIL_CLIENT_KEY: c.key },
      });
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, /^sigil: the client certificate is not an admin client certificate/);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    const acts = auditActionsSince(home, before);
    assert.equal(acts.filter((a) => a === "admin.client-cert.refused").length, 2, acts.join(","));
    assert.ok(!acts.includes("admin.allow"));
  });

  it("the admin profiles are internal: sigil sign --profile admin-client / admin-tls is refused", () => {
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, "x.key"), "-out", join(t.dir, "x.csr"), "-subj", "/CN=localhost",
    ]); // prettier-ignore
    for (const profile of ["admin-client", "admin-tls"]) {
      const r = sigil(home, ["sign", join(t.dir, "x.csr"), "--ca", "genfic-system", "--profile", profile]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`^sigil: profile ${profile} is internal`));
    }
  });

  it("accepts a certificate from 'sigil admin client-cert', with the token still required", async () => {
    const dir = join(t.dir, "admin-client");
    const made = sigilOk(home, ["admin", "client-cert", "alice", "--out-dir", dir, "--json"]);
    const info = JSON.parse(made.stdout) as { serial: string; ca: string };
    assert.equal(info.ca, "genfic-system");
    const key = join(dir, "alice.key.pem");
    const crt = join(dir, "alice.crt.pem");
    assert.equal(statSync(key).mode & 0o777, 0o600);
    const text = tool("openssl", ["x509", "-in", crt, "-noout", "-text"]).stdout;
    assert.match(
      text,
      new RegExp(`TLS Web Client Authentication, ${ADMIN_CLIENT_EKU.replace(/\./g, "\\.")}`),
    );
    const v = tool("openssl", ["verify", "-purpose", "sslclient", "-CAfile", root, "-untrusted", crt, crt]);
    assert.match(v.stdout, /: OK/);
    // Never replaces files.
    const again = sigil(home, ["admin", "client-cert", "alice", "--out-dir", dir]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^sigil: .*alice\.key\.pem exists/);

    const client = { SIGIL_CLIENT_CERT: crt, SIGIL_CLIENT_KEY: key };
    const ok = await sigilAsync(home, ["audit", "verify"], { env: { ...env, ...client } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain OK/);
    const noToken = await sigilAsync(home, ["audit", "verify"], {
      env: { ...env, ...client, SIGIL_TOKEN: "" },
    });
    assert.equal(noToken.status, 1);
    assert.match(noToken.stderr, /admin token is required/);
  });

  it("refuses a revoked admin client certificate, with a valid token, audited; a still-good one keeps working", async () => {
    const dir = join(t.dir, "admin-client-revoked");
    sigilOk(home, ["admin", "client-cert", "bob", "--out-dir", dir]);
    sigilOk(home, ["admin", "client-cert", "carol", "--out-dir", dir]);
    const bob = { SIGIL_CLIENT_CERT: join(dir, "bob.crt.pem"), SIGIL_CLIENT_KEY: join(dir, "bob.key.pem") };
    const carol = {
      SIGIL_CLIENT_CERT: join(dir, "carol.crt.pem"),
      SIGIL_CLIENT_KEY: join(dir, "carol.key.pem"),
    };
    const ok = await sigilAsync(home, ["audit", "verify"], { env: { ...env, ...bob } });
    assert.equal(ok.status, 0, ok.stderr);
    // Bob's laptop is stolen: his certificate is revoked. Its chain still verifies in TLS,
    // its purpose is the admin one, the token is good: refused all the same (RFC 5280 §6.3).
    sigilOk(home, [
      "revoke",
      "--cert",
      bob.SIGIL_CLIENT_CERT,
      "--ca",
      "genfic-system",
      "--reason",
      "keyCompromise",
    ]);
    const before = counts(home).audit;
    const r = await sigilAsync(home, ["audit", "verify"], { env: { ...env, ...bob } });
    assert.equal(r.status, 1, r.stdout);
    assert.match(
      r.stderr,
      /^sigil: the client certificate was revoked \(serial [0-9a-f]+, CA genfic-system\)\n$/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1);
    const acts = auditActionsSince(home, before);
    assert.ok(acts.includes("admin.client-cert.refused"), acts.join(","));
    assert.ok(!acts.includes("admin.allow"));
    const still = await sigilAsync(home, ["audit", "verify"], { env: { ...env, ...carol } });
    assert.equal(still.status, 0, still.stderr);
  });

  it("the remote CLI refuses a server whose chain the CA file trusts but which is not Sigil's admin listener", async () => {
    // Any Sigil serverAuth certificate for 127.0.0.1 (here a `system` one), chain and all.
    const impostor = issue("impostor", "genfic-system", "/CN=localhost", [
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]); // prettier-ignore
    let hits = 0;
    const srv: Server = createServer(
      { key: readFileSync(impostor.key), cert: readFileSync(impostor.cert, "utf8") + chainPem },
      (_req, res) => {
        hits++;
        res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      },
    );
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      const r = await sigilAsync(home, ["audit", "verify"], {
        env: { ...env, SIGIL_SERVER: `https://127.0.0.1:${port}` },
      });
      assert.equal(r.status, 1);
      assert.equal(
        r.stderr,
        `sigil: the server at https://127.0.0.1:${port} did not present Sigil's admin certificate (a certificate of another kind from the same CA is not trusted)\n`,
      );
      assert.equal(hits, 0, "the token must not have been sent");
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
