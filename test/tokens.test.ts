/**
 * Admin tokens against a real `sigil serve` (SQLite here; test/tokens-postgres.test.ts runs
 * the same on PostgreSQL): names repeat, but the audit log never confuses two tokens (the
 * token id is in every actor) and a name held by a live token cannot be taken again;
 * values a caller types about itself (submitter, source) are kept as claims beside the
 * caller, never as if verified.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, tempDir, tool, initHome } from "./helpers.js";
import { adminCall, startServe, type Served } from "./serve-helpers.js";

interface Event {
  seq: number;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

function auditLog(home: string): Event[] {
  return sigilOk(home, ["audit", "log", "--json"])
    .stdout.trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Event);
}

function newToken(home: string, role: string, name: string): { token: string; id: string } {
  const r = sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name, "--json"]);
  const out = JSON.parse(r.stdout) as { token: string; id: string };
  return { token: out.token, id: out.id };
}

describe("admin tokens: names, ids and claims", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sock: string;
  let security: { token: string; id: string };
  let olga: { token: string; id: string };
  const csr = (name: string): string => {
    const r = tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", `/CN=${name}.genfic.internal`,
    ]); // prettier-ignore
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(join(t.dir, `${name}.csr`), "utf8");
  };

  before(async () => {
    initHome(home);
    security = newToken(home, "security", "sam");
    olga = newToken(home, "operator", "olga");
    s = await startServe(home, ["--workers", "1"]);
    sock = s.admin.find((a) => a.startsWith("unix:"))!;
    assert.ok(sock, s.stderr());
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("refuses a second live token named olga, locally and through the API, in one line", async () => {
    const local = sigil(home, ["admin", "token", "create", "--role", "operator", "--name", "olga"]);
    assert.equal(local.status, 1, local.stderr);
    assert.equal(local.stdout, "");
    assert.equal(local.stderr.trimEnd().split("\n").length, 1, local.stderr);
    assert.match(local.stderr, new RegExp(`^sigil: a live token is already named olga \\(${olga.id}`));
    const api = await adminCall(sock, security.token, "POST", "/api/v1/admin/tokens", {
      name: "olga",
      role: "security",
    });
    assert.equal(api.status, 409, api.text);
    assert.equal((api.body.error as { code: string }).code, "token_name_taken");
    const remote = sigil(home, ["admin", "token", "create", "--role", "operator", "--name", "olga"], {
      env: { SIGIL_TOKEN: security.token, SIGIL_SERVER: sock },
    });
    assert.equal(remote.status, 1, remote.stderr);
    assert.match(remote.stderr, /^sigil: a live token is already named olga .*\n$/);
    const live = (
      JSON.parse(sigilOk(home, ["admin", "token", "list", "--json"]).stdout) as Array<{
        name: string;
        revokedAt: string | null;
      }>
    ).filter((x) => x.name === "olga");
    assert.equal(live.length, 1, "one olga, the first");
    const refusals = auditLog(home).filter((e) => e.action === "token.create.refused");
    assert.equal(refusals.length, 3, "each refusal audited");
  });

  it("names the token id in every act, so two tokens named olga are told apart", async () => {
    const first = await adminCall(sock, olga.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("first"),
      ca: "genfic-system",
    });
    assert.equal(first.status, 200, first.text);
    // olga's token is revoked; a new token may take the name now.
    sigilOk(home, ["admin", "token", "revoke", "olga"]);
    const olga2 = newToken(home, "operator", "olga");
    assert.notEqual(olga2.id, olga.id);
    const second = await adminCall(sock, olga2.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("second"),
      ca: "genfic-system",
    });
    assert.equal(second.status, 200, second.text);
    const who = await adminCall(sock, olga2.token, "GET", "/api/v1/admin/whoami");
    assert.equal(who.body.tokenId, olga2.id);
    const issuedBy = (serial: unknown) =>
      auditLog(home).find((e) => e.action === "cert.issue" && e.target === `genfic-system/${String(serial)}`)!
        .actor;
    assert.equal(issuedBy(first.body.serial), `token:olga#${olga.id}(operator)`);
    assert.equal(issuedBy(second.body.serial), `token:olga#${olga2.id}(operator)`);
    const allows = auditLog(home).filter(
      (e) => e.action === "admin.allow" && e.actor.startsWith("token:olga"),
    );
    assert.deepEqual(
      [...new Set(allows.map((e) => e.actor))].sort(),
      [`token:olga#${olga.id}(operator)`, `token:olga#${olga2.id}(operator)`].sort(),
    );
    olga = olga2;
  });

  it("keeps a caller's submitter and source as claims beside the token that sent them", async () => {
    const r = await adminCall(sock, olga.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("claimed"),
      ca: "genfic-system",
      submitter: "ceo@genfic.internal",
      source: "mail:<forged@genfic.internal>",
    });
    assert.equal(r.status, 200, r.text);
    const actor = `token:olga#${olga.id}(operator)`;
    const ev = auditLog(home).find(
      (e) => e.action === "cert.issue" && e.target === `genfic-system/${String(r.body.serial)}`,
    )!;
    assert.equal(ev.actor, actor);
    assert.equal(ev.details.submitter, actor);
    assert.equal(ev.details.source, "admin-api");
    assert.equal(ev.details.claimedSubmitter, "ceo@genfic.internal");
    assert.equal(ev.details.claimedSource, "mail:<forged@genfic.internal>");
    const req = await adminCall(
      sock,
      olga.token,
      "GET",
      `/api/v1/admin/requests/${String(ev.details.request)}`,
    );
    assert.equal(req.status, 200, req.text);
    assert.equal(req.body.submitter, actor);
    assert.equal(req.body.source, "admin-api");
    assert.equal(sigil(home, ["audit", "verify"]).status, 0);
  });
});
