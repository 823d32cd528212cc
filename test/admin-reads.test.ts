/**
 * Reads stay cheap (issue 17), against a real `sigil serve`: a console polling the admin
 * API grows the audit log by a bounded number of events (the first read of each action per
 * token and minute as `admin.allow`, the rest counted in one `admin.reads` event per token
 * and minute, written at the latest when the service stops), while every write still gets
 * its own `admin.allow` and every denial its own `admin.deny`; the chain still verifies.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, auditLog, initHome, sigilOk, tempDir } from "./helpers.js";
import { adminCall, startServe, type Served } from "./serve-helpers.js";
import { ADMIN_ACTIONS, isReadAction, type AdminAction } from "../src/policy/roles.js";

function newToken(home: string, role: string, name: string): { token: string; actor: string } {
  const token = sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name]).stdout.trim();
  return { token, actor: `token:${name}#${token.slice("sigil_".length, "sigil_".length + 16)}(${role})` };
}

/** Waits, if needed, so that the next few seconds stay within one wall-clock minute. */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200));
}

describe("admin API: reads are audited bounded, writes and denials per call", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sock: string;
  let auditor: { token: string; actor: string };
  let security: { token: string; actor: string };
  let operator: { token: string; actor: string };

  before(async () => {
    initHome(home);
    auditor = newToken(home, "auditor", "audrey");
    security = newToken(home, "security", "sam");
    operator = newToken(home, "operator", "olga");
    s = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"]);
    sock = s.admin.find((a) => a.startsWith("unix:"))!;
    assert.ok(sock, s.stderr());
  });
  after(async () => {
    if (s?.proc.exitCode === null) await s.stop();
    t.cleanup();
  });

  it("declares every GET route as a read and every other route as a write", () => {
    // The classification is policy/roles.ts's; the routes are http/admin*.ts's: they agree.
    // Every src/http/admin*.ts, so that a route moved to a new file is still checked.
    const files = readdirSync(join(ROOT, "src/http")).filter(
      (f) => /^admin.*\.ts$/.test(f) && !f.endsWith(".test.ts"),
    );
    assert.ok(files.includes("admin.ts") && files.includes("admin-routes-operations.ts"), files.join(", "));
    const routes = files.flatMap((f) => [
      ...readFileSync(join(ROOT, "src/http", f), "utf8").matchAll(
        /route\(\s*"(GET|POST|DELETE)",\s*"([^"]+)",\s*"([^"]+)"/g,
      ),
    ]);
    assert.ok(routes.length >= 30, `${routes.length} routes found`);
    for (const [, method, url, action] of routes) {
      assert.ok(ADMIN_ACTIONS.includes(action as AdminAction), `${url}: unknown action ${action}`);
      assert.equal(isReadAction(action as AdminAction), method === "GET", `${method} ${url} (${action})`);
    }
  });

  it("50 GET status by one token grow the log by at most 2 events; writes and denials stay per call", async () => {
    await awayFromMinuteEnd();
    const before = Math.max(0, ...auditLog(home).map((e) => e.seq));
    for (let i = 0; i < 50; i++) {
      const r = await adminCall(sock, auditor.token, "GET", "/api/v1/admin/status");
      assert.equal(r.status, 200, r.text);
    }
    // The service's own jobs (the start-up OCSP refresh) may append meanwhile: not the token's.
    const since = () => auditLog(home).filter((e) => e.seq > before && e.actor.startsWith("token:"));
    const polled = since();
    assert.ok(polled.length <= 2, JSON.stringify(polled));
    assert.deepEqual(
      polled.map((e) => [e.actor, e.action, e.target, e.details]),
      [[auditor.actor, "admin.allow", "status", { method: "GET", path: "/api/v1/admin/status" }]],
    );

    // A write: its own admin.allow, every time (and the act's own event).
    for (const name of ["ci-1", "ci-2"]) {
      const r = await adminCall(sock, security.token, "POST", "/api/v1/admin/tokens", {
        name,
        role: "auditor",
      });
      assert.equal(r.status, 200, r.text);
    }
    // A denial: its own admin.deny, every time.
    for (let i = 0; i < 3; i++) {
      const r = await adminCall(sock, operator.token, "GET", "/api/v1/admin/tokens");
      assert.equal(r.status, 403, r.text);
    }
    const after = since().slice(polled.length);
    assert.deepEqual(
      after.map(
        (e) => `${e.actor} ${e.action} ${e.action === "token.create" ? String(e.details.name) : e.target}`,
      ),
      [
        `${security.actor} admin.allow token.create`,
        `${security.actor} token.create ci-1`,
        `${security.actor} admin.allow token.create`,
        `${security.actor} token.create ci-2`,
        `${operator.actor} admin.deny token.list`,
        `${operator.actor} admin.deny token.list`,
        `${operator.actor} admin.deny token.list`,
      ],
      JSON.stringify(after),
    );
  });

  it("a clean stop writes the counted reads as one admin.reads event per token; every read is accounted for", async () => {
    assert.equal(await s.stop(), 0, s.stderr());
    const log = auditLog(home);
    const allows = log.filter(
      (e) => e.actor === auditor.actor && e.action === "admin.allow" && e.target === "status",
    );
    const reads = log.filter((e) => e.action === "admin.reads");
    assert.ok(reads.length >= 1, "the counts were written at stop");
    assert.ok(
      reads.every((e) => e.actor === auditor.actor),
      JSON.stringify(reads),
    );
    const counted = reads.reduce((n, e) => n + ((e.details.counts as Record<string, number>).status ?? 0), 0);
    assert.equal(allows.length + counted, 50);
    for (const e of reads) {
      assert.match(String(e.details.minute), /^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
      assert.equal(e.details.total, (e.details.counts as Record<string, number>).status);
    }
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /audit chain OK/);
  });
});
