/**
 * Issue 13 §1: a public key whose certificate was revoked for keyCompromise is never
 * certified again, on any channel: e-mail intake, the web portal, the drop folder, the
 * admin API (and the CLI and ACME, in internal-profiles.test.ts and acme.test.ts). Each
 * refusal is one clear line naming the certificate and when it was revoked; nothing is
 * issued or queued for an operator.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, sigilAsync, tempDir, initHome, counts, newRequest, write } from "./helpers.js";
import { serveWithToken, type Served } from "./serve-helpers.js";

const COMPROMISED =
  /public key was reported compromised: certificate [0-9a-f]+ of CA genfic-system was revoked for keyCompromise on \d{4}-\d\d-\d\dT/;

describe("a compromised key, on every channel", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let s: Served;
  let operator: Record<string, string>;
  let again = "";

  before(async () => {
    initHome(home);
    const first = newRequest(t.dir, "victim.genfic.internal");
    const crt = join(t.dir, "victim.crt");
    sigilOk(home, ["sign", first.req, "--ca", "genfic-system", "-o", crt]);
    sigilOk(home, ["revoke", "--cert", crt, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    again = newRequest(t.dir, "again.genfic.internal", { keyFile: first.key }).req;
    ({ served: s, env: operator } = await serveWithToken(home, "operator", "olga"));
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("e-mail intake: the request is rejected at intake with the reason", async () => {
    const before = counts(home);
    const pem = readFileSync(again, "utf8");
    const r = await sigilAsync(home, ["intake", "mail"], {
      input: `From: ops@genfic.com\r\nTo: ca@genfic.com\r\nSubject: renewal\r\nMessage-ID: <c1@genfic.com>\r\n\r\n${pem}`,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /rejected/);
    assert.match(r.stderr, COMPROMISED);
    const after = counts(home);
    assert.equal(after.certificates, before.certificates);
    const last = (
      JSON.parse(sigilOk(home, ["requests", "list", "--json"]).stdout) as Array<{ state: string }>
    ).at(-1)!;
    assert.equal(last.state, "rejected", "not left pending for an operator");
  });

  it("web portal: the submission is refused with the reason, nothing queued", async () => {
    const sess = await fetch(`${s.url}/api/v1/portal/session`);
    const cookie = (sess.headers.get("set-cookie") ?? "").split(";")[0]!;
    const { csrf } = (await sess.json()) as { csrf: string };
    const before = counts(home);
    const r = await fetch(`${s.url}/api/v1/portal/requests`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf },
      body: JSON.stringify({ csr: readFileSync(again, "utf8"), kind: "system", email: "ops@genfic.com" }),
    });
    const text = await r.text();
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${text}`);
    assert.match(text, COMPROMISED);
    assert.equal(counts(home).certificates, before.certificates);
    assert.equal(counts(home).requests, before.requests, "nothing queued");
  });

  it("drop folder: the file goes to rejected/ with the reason", () => {
    const drop = join(t.dir, "drop");
    mkdirSync(drop);
    write(drop, "again.csr", readFileSync(again));
    const before = counts(home);
    const r = sigil(home, ["requests", "import", drop, "--ca", "genfic-system"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(counts(home).certificates, before.certificates);
    const rejected = join(drop, "rejected");
    assert.ok(existsSync(rejected));
    const reasons = readdirSync(rejected).filter((f) => f.endsWith(".reason.txt"));
    assert.equal(reasons.length, 1, readdirSync(rejected).join(","));
    assert.match(readFileSync(join(rejected, reasons[0]!), "utf8"), COMPROMISED);
  });

  it("the admin API (an operator token): refused, audited", () => {
    const before = counts(home);
    const r = sigil(home, ["sign", again, "--ca", "genfic-system"], { env: operator });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, COMPROMISED);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.equal(counts(home).certificates, before.certificates);
  });
});
