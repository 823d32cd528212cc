/**
 * Separation of duties through the admin API, against a real `sigil serve`: a sealed start,
 * unseal and seal, the role matrix (operator, security, auditor), 401 for missing,
 * expired and revoked tokens, every denial audited, no key material or passphrase in any
 * answer, tokens stored hashed, the remote CLI over the Unix socket and over TLS (the
 * server certificate Sigil issued to itself, checked by openssl s_client).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { readFileSync, readdirSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { PASS, sigil, sigilOk, sigilAsync, tempDir, tool, initHome, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** Every answer the tests saw, to check none carries secrets. */
const seen: string[] = [];

function call(
  socketPath: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method,
        headers: {
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          ...(payload
            ? { "content-type": "application/json", "content-length": String(payload.length) }
            : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          seen.push(text);
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, text });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

function auditRows(
  home: string,
): Array<{ seq: number; actor: string; action: string; target: string | null }> {
  const db = new Database(join(home, "sigil.db"), { readonly: true });
  try {
    return db.prepare("select seq, actor, action, target from audit_events order by seq").all() as Array<{
      seq: number;
      actor: string;
      action: string;
      target: string | null;
    }>;
  } finally {
    db.close();
  }
}

function newToken(home: string, role: string, name: string, expires = "1d"): string {
  const r = sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name, "--expires", expires]);
  const token = r.stdout.trim();
  assert.match(token, /^sigil_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.match(r.stderr, /shown only now/);
  return token;
}

/** The audit actor of a token: its name, id (the token's first part) and role. */
function actorOf(token: string, name: string, role: string): string {
  return `token:${name}#${token.slice("sigil_".length, "sigil_".length + 16)}(${role})`;
}

/** Security-only acts, as (method, path, body). */
const SECURITY_ONLY: Array<[string, string, unknown?]> = [
  ["POST", "/api/v1/admin/unseal", { passphrase: "x" }],
  ["POST", "/api/v1/admin/seal"],
  ["GET", "/api/v1/admin/tokens"],
  ["POST", "/api/v1/admin/tokens", { name: "mallory", role: "security" }],
  ["DELETE", "/api/v1/admin/tokens/0123456789abcdef"],
  ["GET", "/api/v1/admin/policy"],
  ["POST", "/api/v1/admin/cas", { name: "rogue", parent: "genfic", subject: "/CN=Rogue CA" }],
  ["POST", "/api/v1/admin/cas/genfic-user/retire"],
];

/** Operator acts (writes), as (method, path, body). */
const OPERATOR_WRITES: Array<[string, string, unknown?]> = [
  ["POST", "/api/v1/admin/certs/sign", { csr: "x", ca: "genfic-system" }],
  ["POST", "/api/v1/admin/certs/revoke", { ca: "genfic-system", serial: "01" }],
  ["POST", "/api/v1/admin/requests/1/approve", {}],
  ["POST", "/api/v1/admin/requests/1/reject", { reason: "no" }],
  ["POST", "/api/v1/admin/crl/genfic-system"],
  ["POST", "/api/v1/admin/notices/run"],
];

describe("admin API: sealing, roles and tokens", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sock: string;
  let https: string;
  let operator: string;
  let security: string;
  let auditor: string;
  let expired: string;
  let revoked: string;
  let rootPem: string;
  const csr = (name: string): string => {
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", `/CN=${name}.genfic.internal`,
    ]); // prettier-ignore
    return join(t.dir, `${name}.csr`);
  };

  before(async () => {
    initHome(home);
    operator = newToken(home, "operator", "alice");
    security = newToken(home, "security", "sam");
    auditor = newToken(home, "auditor", "audrey");
    expired = newToken(home, "operator", "old", "1s");
    revoked = newToken(home, "operator", "gone");
    sigilOk(home, ["admin", "token", "revoke", "gone"]);
    rootPem = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    // Sealed: no passphrase at start.
    s = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"], {
      SIGIL_PASSPHRASE: undefined,
    });
    sock = s.admin.find((a) => a.startsWith("unix:"))!.slice(5);
    assert.ok(sock, s.stderr());
    await new Promise((r) => setTimeout(r, 1100)); // the 1 s token expires
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("starts sealed: status says so, signing answers 503, the socket is 0660", async () => {
    assert.match(s.stderr(), /sealed: pre-signed answers only/);
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    const st = await call(sock, auditor, "GET", "/api/v1/admin/status");
    assert.equal(st.status, 200);
    assert.equal(st.body.sealed, true);
    const r = await call(sock, operator, "POST", "/api/v1/admin/certs/sign", {
      csr: readFileSync(csr("sealed"), "utf8"),
      ca: "genfic-system",
    });
    assert.equal(r.status, 503);
    assert.equal((r.body.error as { code: string }).code, "sealed");
    // No TLS listener before the first unseal (it needs a certificate).
    assert.equal(s.admin.filter((a) => a.startsWith("https:")).length, 0);
  });

  it("answers 401 without a token, with garbage, an expired, a revoked or a forged token", async () => {
    const forged = operator.slice(0, -4) + (operator.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const tok of [
      undefined,
      "",
      "garbage",
      "sigil_0000000000000000_" + "A".repeat(43),
      expired,
      revoked,
      forged,
    ]) {
      const r = await call(sock, tok, "GET", "/api/v1/admin/certs");
      assert.equal(r.status, 401, `token ${String(tok).slice(0, 12)}: ${r.text}`);
      assert.equal((r.body.error as { code: string }).code, "unauthorized");
    }
    const r = await call(sock, expired, "GET", "/api/v1/admin/certs");
    assert.match(r.text, /expired/);
    const rows = auditRows(home).filter((e) => e.action === "admin.token.refused");
    assert.ok(rows.length >= 3, "refused known tokens are audited");
  });

  it("unseal: the operator is denied; a wrong passphrase leaves it sealed; the security admin unseals", async () => {
    const denied = await call(sock, operator, "POST", "/api/v1/admin/unseal", { passphrase: PASS });
    assert.equal(denied.status, 403);
    assert.doesNotMatch(denied.text, new RegExp(PASS));
    const wrong = sigil(home, ["unseal"], {
      env: { SIGIL_TOKEN: security, SIGIL_PASSPHRASE: "not the passphrase" },
    });
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /^sigil: wrong passphrase .*still sealed\n$/);
    assert.doesNotMatch(wrong.stderr, /not the passphrase/);
    const ok = sigil(home, ["unseal"], { env: { SIGIL_TOKEN: security } });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /unsealed: 3 CA key\(s\) open/);
    const st = await call(sock, auditor, "GET", "/api/v1/admin/status");
    assert.equal(st.body.sealed, false);
    const actions = auditRows(home).map((e) => `${e.actor} ${e.action}`);
    assert.ok(actions.includes(`${actorOf(security, "sam", "security")} service.unseal`), actions.join("\n"));
    assert.ok(actions.includes(`${actorOf(security, "sam", "security")} service.unseal.refused`));
    assert.ok(actions.includes(`${actorOf(operator, "alice", "operator")} admin.deny`));
  });

  it("an operator issues, lists, approves, rejects and revokes through the remote CLI", async () => {
    const server = `unix:${sock}`;
    const env = { SIGIL_TOKEN: operator, SIGIL_SERVER: server, SIGIL_HOME: join(t.dir, "nowhere") };
    const out = join(t.dir, "op.crt");
    const signed = await sigilAsync(home, ["sign", csr("op"), "--ca", "genfic-system", "-o", out, "--json"], {
      env,
    });
    assert.equal(signed.status, 0, signed.stderr);
    // --json: one JSON document on stdout (the certificate is in the -o file), as the local sign.
    const summary = JSON.parse(signed.stdout) as {
      serial: string;
      subject: string;
      out: string;
      pem?: string;
    };
    assert.equal(summary.subject, "CN=op.genfic.internal");
    assert.equal(summary.out, out);
    assert.equal(summary.pem, undefined);
    const chain = write(t.dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    const v = tool("openssl", ["verify", "-x509_strict", "-CAfile", rootPem, "-untrusted", chain, out]);
    assert.match(v.stdout, /: OK/, v.stderr);
    const list = await sigilAsync(home, ["certs", "--ca", "genfic-system", "--json"], { env });
    assert.equal(list.status, 0, list.stderr);
    const certs = JSON.parse(list.stdout) as Array<{ subject: string; serial: string }>;
    const mine = certs.find((c) => c.subject === "CN=op.genfic.internal")!;
    assert.ok(mine);
    // Requests queued by someone with the data folder, decided remotely.
    sigilOk(home, ["requests", "submit", csr("queued1"), csr("queued2"), "--ca", "genfic-system"]);
    const reqs = await sigilAsync(home, ["requests", "list", "--state", "pending", "--json"], { env });
    const ids = (JSON.parse(reqs.stdout) as Array<{ id: number }>).map((r) => String(r.id));
    assert.equal(ids.length, 2);
    const ap = await sigilAsync(home, ["requests", "approve", ids[0]!], { env });
    assert.equal(ap.status, 0, ap.stderr);
    assert.match(ap.stderr, /approved request/);
    const rj = await sigilAsync(home, ["requests", "reject", ids[1]!, "--reason", "not ours"], { env });
    assert.equal(rj.status, 0, rj.stderr);
    const rv = await sigilAsync(
      home,
      ["revoke", mine.serial, "--ca", "genfic-system", "--reason", "superseded"],
      {
        env,
      },
    );
    assert.equal(rv.status, 0, rv.stderr);
    const after = await call(sock, operator, "GET", `/api/v1/admin/certs/genfic-system/${mine.serial}`);
    assert.equal(after.body.status, "revoked");
    assert.equal(after.body.serial, summary.serial);
    assert.equal(after.body.revocationReason, "superseded");
    assert.equal(after.body.revocationReasonCode, 4);
    // Every act names the operator's token in the audit log.
    const acts = auditRows(home)
      .filter((e) => e.actor === actorOf(operator, "alice", "operator"))
      .map((e) => e.action);
    for (const a of ["cert.issue", "cert.revoke", "crl.publish", "request.approve", "request.reject"])
      assert.ok(
        acts.some((x) => x.startsWith(a)),
        `${a} by alice in ${acts.join(",")}`,
      );
  });

  it("an operator gets 403 on every security-only call, each audited as denied", async () => {
    const before = auditRows(home).length;
    for (const [m, p, b] of SECURITY_ONLY) {
      const r = await call(sock, operator, m, p, b);
      assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
      assert.equal((r.body.error as { code: string }).code, "forbidden");
    }
    for (const [m, p] of [
      ["GET", "/api/v1/admin/audit"],
      ["GET", "/api/v1/admin/audit/verify"],
    ] as const)
      assert.equal((await call(sock, operator, m, p)).status, 403);
    const denied = auditRows(home)
      .slice(before)
      .filter((e) => e.action === "admin.deny" && e.actor === actorOf(operator, "alice", "operator"));
    assert.equal(denied.length, SECURITY_ONLY.length + 2);
    // Through the CLI: one line, exit 1.
    const r = sigil(home, ["admin", "token", "list"], {
      env: { SIGIL_TOKEN: operator, SIGIL_SERVER: `unix:${sock}` },
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: role operator may not token\.list/);
  });

  it("an auditor reads the audit log and inventories, and nothing else", async () => {
    const log = await call(sock, auditor, "GET", "/api/v1/admin/audit?limit=5000");
    assert.equal(log.status, 200);
    assert.ok((log.body.events as unknown[]).length > 10);
    const v = await call(sock, auditor, "GET", "/api/v1/admin/audit/verify");
    assert.equal(v.body.ok, true);
    assert.equal((await call(sock, auditor, "GET", "/api/v1/admin/certs")).status, 200);
    const before = auditRows(home).length;
    for (const [m, p, b] of [...OPERATOR_WRITES, ...SECURITY_ONLY]) {
      const r = await call(sock, auditor, m, p, b);
      assert.equal(r.status, 403, `${m} ${p}: ${r.text}`);
    }
    const denied = auditRows(home)
      .slice(before)
      .filter((e) => e.action === "admin.deny" && e.actor === actorOf(auditor, "audrey", "auditor"));
    assert.equal(denied.length, OPERATOR_WRITES.length + SECURITY_ONLY.length);
    // The remote CLI reads the log with the auditor's token.
    const r = sigil(home, ["audit", "verify"], {
      env: { SIGIL_TOKEN: auditor, SIGIL_SERVER: `unix:${sock}` },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /audit chain OK/);
  });

  it("the security admin manages tokens remotely but cannot sign", async () => {
    const env = { SIGIL_TOKEN: security, SIGIL_SERVER: `unix:${sock}` };
    const made = sigil(
      home,
      ["admin", "token", "create", "--role", "operator", "--name", "carol", "--json"],
      { env },
    );
    assert.equal(made.status, 0, made.stderr);
    const carol = (JSON.parse(made.stdout) as { token: string }).token;
    assert.equal((await call(sock, carol, "GET", "/api/v1/admin/certs")).status, 200);
    const rv = sigil(home, ["admin", "token", "revoke", "carol"], { env });
    assert.equal(rv.status, 0, rv.stderr);
    assert.equal((await call(sock, carol, "GET", "/api/v1/admin/certs")).status, 401);
    const sign = await call(sock, security, "POST", "/api/v1/admin/certs/sign", {
      csr: readFileSync(csr("sec"), "utf8"),
      ca: "genfic-system",
    });
    assert.equal(sign.status, 403);
    const list = sigil(home, ["admin", "token", "list"], { env });
    assert.match(list.stdout, /carol\s+operator\s+revoked/);
    // Creating a CA is the security admin's act (the service is unsealed).
    const ca = await call(sock, security, "POST", "/api/v1/admin/cas", {
      name: "genfic-team",
      parent: "genfic",
      subject: "/O=Gentoo Fictional/CN=GenFic Team CA",
      days: 365,
    });
    assert.equal(ca.status, 200, ca.text);
    assert.equal(ca.body.parent, "genfic");
    const pem = write(t.dir, "team.pem", sigilOk(home, ["ca", "show", "genfic-team", "--pem"]).stdout);
    assert.match(tool("openssl", ["verify", "-CAfile", rootPem, pem]).stdout, /: OK/);
    // ... and retiring one: the root revokes it (cessationOfOperation), it signs no more.
    const retired = sigil(home, ["ca", "retire", "genfic-team"], { env });
    assert.equal(retired.status, 0, retired.stderr);
    assert.match(retired.stderr, /retired CA genfic-team/);
    const cas = await call(sock, auditor, "GET", "/api/v1/admin/cas");
    const teamView = (cas.body.cas as Array<Record<string, unknown>>).find((c) => c.name === "genfic-team")!;
    assert.equal(teamView.status, "retired");
    assert.equal(teamView.revocationReason, "cessationOfOperation");
    const remoteList = sigil(home, ["ca", "list"], {
      env: { SIGIL_TOKEN: auditor, SIGIL_SERVER: `unix:${sock}` },
    });
    assert.match(remoteList.stdout, /^genfic-team\s+genfic\s+retired \d{4}-\d\d-\d\d\s/m);
    // CA certificates are listed when asked for (profile=ca), not among the leaves.
    const root = await call(sock, auditor, "GET", "/api/v1/admin/certs?ca=genfic&status=revoked&profile=ca");
    assert.deepEqual(
      (root.body.certs as Array<{ subject: string }>).map((c) => c.subject),
      ["CN=GenFic Team CA,O=Gentoo Fictional"],
    );
    const leaves = await call(sock, auditor, "GET", "/api/v1/admin/certs?ca=genfic&status=revoked");
    assert.deepEqual(leaves.body.certs, []);
    const all = await call(sock, auditor, "GET", "/api/v1/admin/certs");
    assert.deepEqual(
      (all.body.certs as Array<{ profile: string }>).filter(
        (c) => c.profile === "ocsp" || c.profile === "ca",
      ),
      [],
    );
    const responders = await call(sock, auditor, "GET", "/api/v1/admin/certs?profile=ocsp");
    assert.ok((responders.body.certs as Array<{ profile: string }>).every((c) => c.profile === "ocsp"));
    assert.equal((await call(sock, auditor, "GET", "/api/v1/admin/certs?profile=nope")).status, 400);
    const remote = sigil(
      home,
      ["certs", "--ca", "genfic", "--profile", "ca", "--status", "revoked", "--json"],
      {
        env: { SIGIL_TOKEN: auditor, SIGIL_SERVER: `unix:${sock}` },
      },
    );
    assert.equal(remote.status, 0, remote.stderr);
    assert.deepEqual(
      (JSON.parse(remote.stdout) as Array<{ subject: string }>).map((c) => c.subject),
      ["CN=GenFic Team CA,O=Gentoo Fictional"],
    );
    const rootRetire = await call(sock, security, "POST", "/api/v1/admin/cas/genfic/retire");
    assert.equal(rootRetire.status, 400);
    assert.match(rootRetire.text, /is a root/);
  });

  it("serves the admin API over TLS with a certificate Sigil issued to itself (after unseal)", async () => {
    // The TLS listener started when the service was unsealed.
    const st = await call(sock, security, "GET", "/api/v1/admin/status");
    assert.equal(st.status, 200);
    const tlsDir = join(home, "tls");
    assert.equal(statSync(join(tlsDir, "admin.key.pem")).mode & 0o777, 0o600);
    const m = /admin API (https:\/\/127\.0\.0\.1:\d+)/.exec(s.stderr());
    https = m![1]!;
    const port = new URL(https).port;
    const sc = tool("openssl", [
      "s_client", "-connect", `127.0.0.1:${port}`, "-CAfile", rootPem, "-verify_return_error",
      "-verify_hostname", "localhost", "-brief",
    ], { input: "" }); // prettier-ignore
    assert.match(sc.stdout + sc.stderr, /Verification: OK/);
    const env = { SIGIL_TOKEN: operator, SIGIL_SERVER: https, SIGIL_CA_FILE: rootPem };
    const signed = await sigilAsync(home, ["sign", csr("tls"), "--ca", "genfic-system"], { env });
    assert.equal(signed.status, 0, signed.stderr);
    assert.match(signed.stdout, /BEGIN CERTIFICATE/);
    // Without the root, the client refuses the server.
    const untrusted = await sigilAsync(home, ["certs"], { env: { ...env, SIGIL_CA_FILE: undefined } });
    assert.equal(untrusted.status, 1);
    assert.match(untrusted.stderr, /not trusted: give --ca-file/);
    // A token never goes over plain HTTP to a non-loopback address.
    const plain = sigil(home, ["certs", "--server", "http://192.0.2.1:8443"], {
      env: { SIGIL_TOKEN: operator },
    });
    assert.equal(plain.status, 2); // a usage error
    assert.match(plain.stderr, /refusing to send an admin token over plain HTTP/);
  });

  it("seal drops the keys: signing answers 503 again, OCSP still answers from pre-signed responses", async () => {
    const r = sigil(home, ["seal"], { env: { SIGIL_TOKEN: security } });
    assert.equal(r.status, 0, r.stderr);
    const sign = await call(sock, operator, "POST", "/api/v1/admin/certs/sign", {
      csr: readFileSync(csr("after-seal"), "utf8"),
      ca: "genfic-system",
    });
    assert.equal(sign.status, 503);
    const issued = join(t.dir, "op.crt");
    const chain = join(t.dir, "system.pem");
    const o = tool("openssl", [
      "ocsp", "-issuer", chain, "-cert", issued, "-url", `${s.url}/ocsp`, "-CAfile", rootPem, "-no_nonce",
    ]); // prettier-ignore
    assert.match(o.stdout, /: revoked/, o.stdout + o.stderr);
    const actions = auditRows(home).map((e) => `${e.actor} ${e.action}`);
    assert.ok(actions.includes(`${actorOf(security, "sam", "security")} service.seal`));
  });

  it("unseals with any 3 of 5 key shares; 2 shares or a share with one flipped byte do not", async () => {
    const dir = join(t.dir, "shares");
    sigilOk(home, ["key", "split", "genfic", "--shares", "5", "--threshold", "3", "--out", dir]);
    const files = readdirSync(dir)
      .filter((f) => f.endsWith(".txt"))
      .sort()
      .map((f) => join(dir, f));
    assert.equal(files.length, 5);
    const env = { SIGIL_TOKEN: security, SIGIL_PASSPHRASE: undefined };
    const two = await sigilAsync(home, ["unseal", "--share", files[0]!, "--share", files[3]!], { env });
    assert.equal(two.status, 1);
    assert.match(two.stderr, /^sigil: .*2 .*3/);
    // One flipped byte in the share data of file 2.
    const text = readFileSync(files[1]!, "utf8");
    const at = text.lastIndexOf("\n", text.length - 2) - 5;
    const flipped = write(
      t.dir,
      "flipped.txt",
      text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1),
    );
    const bad = await sigilAsync(
      home,
      ["unseal", "--share", files[0]!, "--share", flipped, "--share", files[4]!],
      {
        env,
      },
    );
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /flipped\.txt/);
    assert.equal((await call(sock, auditor, "GET", "/api/v1/admin/status")).body.sealed, true);
    const ok = await sigilAsync(
      home,
      ["unseal", "--share", files[4]!, "--share", files[1]!, "--share", files[2]!],
      {
        env,
      },
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((await call(sock, auditor, "GET", "/api/v1/admin/status")).body.sealed, false);
    const unseals = auditRows(home).filter((e) => e.action === "service.unseal");
    assert.ok(unseals.length >= 2);
    const signed = await call(sock, operator, "POST", "/api/v1/admin/certs/sign", {
      csr: readFileSync(csr("after-shares"), "utf8"),
      ca: "genfic-system",
    });
    assert.equal(signed.status, 200, signed.text);
  });

  it("never answers with key material or the passphrase; tokens are stored hashed; the chain verifies", () => {
    for (const text of seen) {
      assert.doesNotMatch(text, /PRIVATE KEY/);
      assert.ok(!text.includes(PASS), "passphrase in an answer");
    }
    assert.ok(!s.stderr().includes(PASS) && !s.stdout().includes(PASS), "passphrase in the service log");
    for (const tok of [operator, security, auditor])
      assert.ok(!s.stderr().includes(tok) && !s.stdout().includes(tok), "token in the service log");
    // Neither the token nor its secret part is anywhere in the database files.
    const files = readdirSync(home).filter((f) => f.startsWith("sigil.db"));
    for (const f of files) {
      const bytes = readFileSync(join(home, f));
      for (const tok of [operator, security, auditor]) {
        assert.equal(bytes.indexOf(tok), -1, `token in ${f}`);
        assert.equal(bytes.indexOf(tok.slice("sigil_".length + 17)), -1, `token secret in ${f}`); // base64url may hold "_"
      }
    }
    const v = sigilOk(home, ["audit", "verify"]);
    assert.match(v.stdout, /audit chain OK/);
    const actions = new Set(auditRows(home).map((e) => e.action));
    for (const a of [
      "service.unseal",
      "service.seal",
      "token.create",
      "token.revoke",
      "admin.deny",
      "admin.allow",
    ])
      assert.ok(actions.has(a), a);
  });

  it("refuses plain HTTP for the admin API on a non-loopback address", () => {
    const h2 = join(t.dir, "h2");
    initHome(h2);
    const cfg = JSON.parse(readFileSync(join(h2, "sigil.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(
      join(h2, "sigil.json"),
      JSON.stringify({ ...cfg, admin: { tls: false, listen: "0.0.0.0:0" } }),
    );
    const r = sigil(h2, ["serve", "--listen", "127.0.0.1:0", "--workers", "1"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /admin API needs TLS there/);
  });
});
