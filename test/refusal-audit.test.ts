/**
 * Refusals at the service's edges are audited, and bounded, against a real `sigil serve`:
 * bad admin tokens from one source (500 of them) leave a handful of events whose counts
 * add up to every refusal; an ACME rejectedIdentifier and an unauthorized revokeCert, a
 * portal CSRF failure and a rate-limited submission each leave an event; summaries are
 * written at the latest when the service stops, and the audit chain still verifies.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, tempDir, tool, initHome, auditLog, type AuditLogEvent } from "./helpers.js";
import { adminCall, startServe, type Served } from "./serve-helpers.js";
import { RawAcme } from "./acme-client.js";

type Event = AuditLogEvent;

/** Refusals an action's events account for: one per event, plus each summary's count. */
function accounted(events: Event[]): number {
  return events.reduce((n, e) => n + (e.details.summary === true ? Number(e.details.count) : 1), 0);
}

describe("refusals are audited, aggregated per source and minute", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sock: string;
  let operator = "";
  let stopped = false;

  before(async () => {
    initHome(home);
    operator = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "operator",
      "--name",
      "olga",
    ]).stdout.trim();
    const cfgFile = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
    writeFileSync(
      cfgFile,
      JSON.stringify({
        ...cfg,
        web: { submitPerMinute: 1 },
        acme: { cas: { "genfic-system": { allow: ["*.genfic.internal"] } } },
      }),
    );
    s = await startServe(home, ["--workers", "1"]);
    RawAcme.diagnose = () => s.logTail();
    sock = s.admin.find((a) => a.startsWith("unix:"))!;
  });
  after(async () => {
    if (s && !stopped) await s.stop();
    t.cleanup();
  });

  it("500 bad tokens from one source leave a handful of events (the loopback listener cannot grow the log)", async () => {
    const before = auditLog(home).length;
    for (let i = 0; i < 500; i++) {
      // Unknown ids (a new one each time), garbage, and no token at all.
      const token =
        i % 3 === 0
          ? `sigil_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`
          : i % 3 === 1
            ? "garbage"
            : undefined;
      const r = await adminCall(s.url, token, "GET", "/api/v1/admin/whoami");
      assert.equal(r.status, 401, r.text);
    }
    const added = auditLog(home)
      .slice(before)
      .filter((e) => e.action === "admin.token.refused");
    assert.ok(added.length >= 1 && added.length <= 4, `${added.length} events: ${JSON.stringify(added)}`);
    assert.equal(added[0]!.actor, "ip:127.0.0.1");
    // A token the database knows, with a wrong secret: recorded under its id.
    const forged = operator.slice(0, -4) + (operator.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (let i = 0; i < 20; i++)
      assert.equal((await adminCall(sock, forged, "GET", "/api/v1/admin/whoami")).status, 401);
    const id = operator.slice("sigil_".length, "sigil_".length + 16);
    const mine = auditLog(home).filter(
      (e) => e.action === "admin.token.refused" && e.actor === `token-id:${id}`,
    );
    assert.equal(mine.length, 1, JSON.stringify(mine));
    assert.equal(mine[0]!.details.reason, "mismatch");
  });

  it("audits an ACME rejectedIdentifier and an unauthorized revokeCert", async () => {
    const c = await new RawAcme(`${s.url}/acme/genfic-system/directory`).init();
    assert.equal((await c.newAccount()).status, 201);
    const account = c.kid!.split("/").pop()!;
    const rejected = await c.newOrder([{ type: "dns", value: "www.evil.example" }]);
    assert.equal(rejected.status, 400, rejected.text);
    assert.equal(rejected.body.type, "urn:ietf:params:acme:error:rejectedIdentifier");
    // A certificate this account neither ordered nor holds authorizations for.
    const req = join(t.dir, "victim.csr");
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(t.dir, "victim.key"),
      "-out", req, "-subj", "/CN=victim.genfic.internal", "-addext", "subjectAltName=DNS:victim.genfic.internal",
    ]); // prettier-ignore
    const pem = sigilOk(home, ["sign", req, "--ca", "genfic-system"]).stdout;
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    const revoke = await c.post(c.dir.revokeCert!, { certificate: der.toString("base64url") });
    assert.equal(revoke.status, 403, revoke.text);
    assert.equal(revoke.body.type, "urn:ietf:params:acme:error:unauthorized");
    const log = auditLog(home);
    const order = log.find((e) => e.action === "acme.order.refused")!;
    assert.ok(order, "rejectedIdentifier audited");
    assert.equal(order.actor, `acme:${account}`);
    assert.equal(order.details.type, "rejectedIdentifier");
    assert.match(String(order.details.detail), /www\.evil\.example/);
    const rv = log.find((e) => e.action === "acme.revoke.refused")!;
    assert.ok(rv, "unauthorized revokeCert audited");
    assert.equal(rv.actor, `acme:${account}`);
    assert.equal(rv.details.type, "unauthorized");
    assert.equal(
      JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-system", "--status", "revoked", "--json"]).stdout)
        .length,
      0,
    );
  });

  it("audits a portal CSRF failure and a rate-limited submission", async () => {
    const submit = (headers: Record<string, string>) =>
      fetch(`${s.url}/api/v1/portal/requests`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ csr: "x", kind: "system", email: "a@genfic.internal" }),
      });
    assert.equal((await submit({})).status, 403);
    const sess = await fetch(`${s.url}/api/v1/portal/session`);
    const cookie = (sess.headers.get("set-cookie") ?? "").split(";")[0]!;
    const { csrf } = (await sess.json()) as { csrf: string };
    const ok = { cookie, "x-csrf-token": csrf };
    assert.equal((await submit(ok)).status, 400); // counted by the limiter (1 a minute), a bad CSR
    assert.equal((await submit(ok)).status, 429);
    const log = auditLog(home);
    const csrfEv = log.find((e) => e.action === "portal.csrf.refused")!;
    assert.ok(csrfEv, "CSRF refusal audited");
    assert.equal(csrfEv.actor, "ip:127.0.0.1");
    assert.ok(
      log.some((e) => e.action === "portal.rate.refused" && e.actor === "ip:127.0.0.1"),
      "rate limit audited",
    );
  });

  it("writes the summaries when the service stops: every refusal is counted; the chain verifies", async () => {
    stopped = true;
    assert.equal(await s.stop(), 0);
    const refusals = auditLog(home).filter((e) => e.action === "admin.token.refused");
    const fromLoopback = refusals.filter((e) => e.actor === "ip:127.0.0.1");
    assert.ok(fromLoopback.length <= 4, JSON.stringify(fromLoopback));
    assert.equal(accounted(fromLoopback), 500);
    // One event for the first refusal of each minute, one summary for the rest: the burst may
    // straddle a minute's end, so there may be two of each (a first summary of only a few).
    const summaries = fromLoopback.filter((e) => e.details.summary === true);
    assert.ok(summaries.length >= 1 && summaries.length <= 2, JSON.stringify(fromLoopback));
    assert.ok(accounted(summaries) >= 498, JSON.stringify(summaries));
    for (const summary of summaries) {
      assert.equal(typeof summary.details.firstAt, "string");
      assert.equal(typeof summary.details.lastAt, "string");
    }
    const byId = refusals.filter((e) => e.actor.startsWith("token-id:"));
    assert.equal(accounted(byId), 20);
    const v = sigil(home, ["audit", "verify"]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /audit chain OK/);
  });
});
