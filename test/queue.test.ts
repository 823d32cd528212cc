/**
 * The request queue through the CLI: drop-folder import (files move, nothing deleted),
 * checks at intake, approve (certificate verifies with openssl), reject with a reason, auto
 * approval by rules, no double issuance under concurrent approvals, and the expiry notices.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { BIN, PASS, sigil, sigilOk, tool, tempDir, write, initHome } from "./helpers.js";
import { startServe } from "./serve-helpers.js";

interface Req {
  id: number;
  state: string;
  reason: string | null;
  source: string | null;
  checks: Array<{ check: string; ok: boolean; detail: string }>;
  certificateId: number | null;
  decidedBy: string | null;
}

function list(home: string, state?: string): Req[] {
  return JSON.parse(
    sigilOk(home, ["requests", "list", "--json", ...(state ? ["--state", state] : [])]).stdout,
  ) as Req[];
}

function runAsync(home: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("exit", (code) => resolve({ code, stderr: err }));
  });
}

describe("the request queue (CLI, drop folder)", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const drop = join(t.dir, "incoming");
  let root: string;
  let userCa: string;

  before(() => {
    initHome(home);
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    userCa = write(t.dir, "user.pem", sigilOk(home, ["ca", "show", "genfic-user", "--pem"]).stdout);
    mkdirSync(drop);
    sigilOk(home, [
      "request",
      "create",
      join(drop, "amber"),
      "--subject",
      "/CN=Amber McStone/emailAddress=amber@genfic.com",
      "--no-encrypt",
    ]);
    sigilOk(home, [
      "request",
      "create",
      join(drop, "bob"),
      "--subject",
      "/CN=Bob/emailAddress=bob@genfic.com",
      "--no-encrypt",
    ]);
    // A CSR with a broken signature, garbage, a certificate, and RSA-1024.
    const good = readFileSync(join(drop, "bob.req"));
    const der = Buffer.from(
      good
        .toString()
        .replace(/-----[^-]+-----/g, "")
        .replace(/\s+/g, ""),
      "base64",
    );
    der[der.length - 5] = der[der.length - 5]! ^ 0xff;
    writeFileSync(join(drop, "badsig.der"), der);
    writeFileSync(join(drop, "junk.csr"), "this is not a request\n");
    tool("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(t.dir, "k.pem"), "-subj", "/CN=x", "-out", join(drop, "cert.pem")]); // prettier-ignore
    tool("openssl", ["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", join(t.dir, "weak.key"), "-subj", "/CN=weak", "-out", join(drop, "weak.csr")]); // prettier-ignore
    for (const f of readdirSync(drop))
      if (f.endsWith(".key")) writeFileSync(join(t.dir, f), readFileSync(join(drop, f)));
    for (const f of readdirSync(drop)) if (f.endsWith(".key")) tool("rm", [join(drop, f)]);
    writeFileSync(join(drop, "notes.txt"), "left alone");
  });
  after(() => t.cleanup());

  it("imports a drop folder: checks at intake, files moved to processed/ or rejected/, nothing deleted", () => {
    const r = sigilOk(home, ["requests", "import", drop, "--ca", "genfic-user"]);
    assert.match(r.stderr, /2 processed, 4 rejected/);
    assert.deepEqual(readdirSync(join(drop, "processed")).sort(), ["amber.req", "bob.req"]);
    assert.deepEqual(
      readdirSync(join(drop, "rejected"))
        .filter((f) => !f.endsWith(".reason.txt"))
        .sort(),
      ["badsig.der", "cert.pem", "junk.csr", "weak.csr"],
    );
    assert.ok(existsSync(join(drop, "notes.txt")), "other files are left alone");
    assert.match(readFileSync(join(drop, "rejected", "weak.csr.reason.txt"), "utf8"), /1024/);
    const reqs = list(home);
    const bySource = (n: string) => reqs.find((x) => x.source?.endsWith(n))!;
    assert.equal(bySource("amber.req").state, "pending");
    assert.deepEqual(
      bySource("amber.req").checks.map((c) => [c.check, c.ok]),
      [
        ["csr", true],
        ["signature", true],
        ["key", true],
        ["policy", true],
      ],
    );
    const failed = (n: string) => bySource(n).checks.find((c) => !c.ok)!;
    assert.equal(failed("badsig.der").check, "signature");
    assert.equal(failed("weak.csr").check, "key");
    assert.match(failed("cert.pem").detail, /certificate/i);
    assert.equal(failed("junk.csr").check, "csr");
    for (const n of ["badsig.der", "weak.csr", "cert.pem", "junk.csr"])
      assert.equal(bySource(n).state, "rejected");
    // Importing again finds nothing new.
    assert.match(sigilOk(home, ["requests", "import", drop]).stderr, /0 processed, 0 rejected/);
  });

  it("shows a request with its checks; approves it into a certificate openssl verifies", () => {
    const amber = list(home, "pending").find((x) => x.source?.endsWith("amber.req"))!;
    const show = sigilOk(home, ["requests", "show", String(amber.id)]).stdout;
    assert.match(show, /subject: +emailAddress=amber@genfic\.com,CN=Amber McStone/);
    assert.match(show, /key: +EC P-256/);
    assert.match(show, /ok +signature/);
    const out = join(t.dir, "amber.crt");
    sigilOk(home, ["requests", "approve", String(amber.id), "-o", out]);
    const v = tool("openssl", ["verify", "-CAfile", root, "-untrusted", userCa, out]);
    assert.equal(v.status, 0, v.stderr);
    const after = list(home).find((x) => x.id === amber.id)!;
    assert.equal(after.state, "issued");
    assert.ok(after.certificateId);
    assert.match(after.decidedBy!, /^cli:/);
    // Twice is refused.
    const again = sigil(home, ["requests", "approve", String(amber.id)]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^sigil: request \d+ is issued/);
  });

  it("rejects with a reason; refuses bad ids and empty reasons", () => {
    const bob = list(home, "pending").find((x) => x.source?.endsWith("bob.req"))!;
    assert.equal(sigil(home, ["requests", "reject", String(bob.id), "--reason", "  "]).status, 2);
    sigilOk(home, ["requests", "reject", String(bob.id), "--reason", "Bob left the company"]);
    const r = list(home).find((x) => x.id === bob.id)!;
    assert.equal(r.state, "rejected");
    assert.equal(r.reason, "Bob left the company");
    assert.equal(sigil(home, ["requests", "approve", String(bob.id)]).status, 1);
    const nope = sigil(home, ["requests", "show", "99999"]);
    assert.equal(nope.status, 1);
    assert.match(nope.stderr, /no request 99999/);
    assert.equal(sigil(home, ["requests", "show", "abc"]).status, 2);
  });

  it("issues once when two operators approve the same request at once", async () => {
    sigilOk(home, [
      "request",
      "create",
      join(t.dir, "carol"),
      "--subject",
      "/CN=Carol/emailAddress=carol@genfic.com",
      "--no-encrypt",
    ]);
    sigilOk(home, ["requests", "submit", join(t.dir, "carol.req"), "--ca", "genfic-user"]);
    const carol = list(home, "pending").find((x) => x.source?.endsWith("carol.req"))!;
    const rs = await Promise.all(
      [1, 2, 3].map(() => runAsync(home, ["requests", "approve", String(carol.id)])),
    );
    assert.equal(rs.filter((r) => r.code === 0).length, 1, rs.map((r) => r.stderr).join(""));
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    const n = (
      db.prepare("select count(*) n from certificates where subject like '%Carol%'").get() as { n: number }
    ).n;
    db.close();
    assert.equal(n, 1);
  });

  it("auto-approves under the rules, and leaves the rest pending with the reason", () => {
    const cfgPath = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
    writeFileSync(
      cfgPath,
      JSON.stringify({
        ...cfg,
        intake: {
          autoApprove: [
            {
              name: "hosts",
              ca: "genfic-system",
              channels: ["drop", "cli"],
              dnsNames: ["*.genfic.internal"],
            },
          ],
        },
      }),
    );
    const d2 = join(t.dir, "drop2");
    mkdirSync(d2);
    sigilOk(home, [
      "request",
      "create",
      join(d2, "web01"),
      "--subject",
      "/O=Gentoo Fictional, Inc./OU=Ops/CN=web01.genfic.internal/emailAddress=ceo@genfic.com",
      "--no-encrypt",
    ]);
    sigilOk(home, ["request", "create", join(d2, "evil"), "--subject", "/CN=www.evil.com", "--no-encrypt"]);
    // A wildcard under the rule's pattern: a pattern matches names, not wildcards.
    sigilOk(home, ["request", "create", join(d2, "wild"), "--subject", "/CN=Wildcard Hosts", "--san", "dns:*.genfic.internal", "--no-encrypt"]); // prettier-ignore
    tool("sh", ["-c", `rm ${d2}/*.key`]);
    sigilOk(home, ["requests", "import", d2]);
    const reqs = list(home);
    const web = reqs.find((x) => x.source?.endsWith("web01.req"))!;
    const evil = reqs.find((x) => x.source?.endsWith("evil.req"))!;
    const wild = reqs.find((x) => x.source?.endsWith("wild.req"))!;
    assert.equal(web.state, "issued");
    assert.equal(web.decidedBy, "auto:hosts");
    // Signed without an operator: the subject holds what the rule approved, nothing else.
    const certs = JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-system", "--json"]).stdout) as Array<{
      subject: string;
      email: string | null;
    }>;
    const webCert = certs.find((c) => c.subject.includes("web01"))!;
    assert.equal(webCert.subject, "CN=web01.genfic.internal");
    assert.equal(webCert.email, null);
    assert.equal(evil.state, "pending");
    assert.match(evil.checks.find((c) => c.check === "auto-approval")!.detail, /www\.evil\.com is outside/);
    assert.equal(wild.state, "pending");
    assert.match(
      wild.checks.find((c) => c.check === "auto-approval")!.detail,
      /wildcard \*\.genfic\.internal needs an operator/,
    );
    writeFileSync(cfgPath, JSON.stringify(cfg));
  });

  it("watches a drop folder inside sigil serve", async () => {
    const cfgPath = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
    const watched = join(t.dir, "watched");
    mkdirSync(watched);
    writeFileSync(
      cfgPath,
      JSON.stringify({ ...cfg, intake: { dropFolder: watched, dropIntervalSeconds: 1, ca: "genfic-user" } }),
    );
    const s = await startServe(home, ["--workers", "1"]);
    try {
      sigilOk(home, [
        "request",
        "create",
        join(t.dir, "dave"),
        "--subject",
        "/CN=Dave/emailAddress=dave@genfic.com",
        "--no-encrypt",
      ]);
      writeFileSync(join(watched, "dave.req"), readFileSync(join(t.dir, "dave.req")));
      const deadline = Date.now() + 20_000;
      while (!existsSync(join(watched, "processed", "dave.req")) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(existsSync(join(watched, "processed", "dave.req")), "moved to processed/");
      const dave = list(home).find((x) => x.source === join(watched, "dave.req"));
      assert.equal(dave?.state, "pending");
    } finally {
      assert.equal(await s.stop(), 0);
      writeFileSync(cfgPath, JSON.stringify(cfg));
    }
  });
});
