/**
 * ACME settings through the admin API (issue 15): enable, disable and EAB keys are acts of
 * the security admin. Anonymous callers get 401, operator and auditor tokens 403; each
 * refusal is audited as every other admin refusal, and changes nothing. A security token
 * enables, makes an EAB key (its HMAC key shown once, in that answer only: never in the
 * audit log nor the service log), lists the keys (never the keys themselves) and disables.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { auditLog, counts, initHome, sigil, sigilOk, tempDir } from "./helpers.js";
import { adminCall, serveWithToken, type Served } from "./serve-helpers.js";

const CA = "genfic-system";
const ACME = `/api/v1/admin/cas/${CA}/acme`;
const EAB = `${ACME}/eab`;
const ENABLE = { allow: ["*.genfic.internal", "10.0.0.0/8"], maxDays: 90, eab: true };

/** Every admin answer and route this file tries, by the action the matrix knows it as. */
const ACTS: Array<{ method: string; path: string; body?: unknown; action: string }> = [
  { method: "POST", path: ACME, body: ENABLE, action: "acme.enable" },
  { method: "DELETE", path: ACME, action: "acme.disable" },
  { method: "POST", path: EAB, body: {}, action: "acme.eab.create" },
  { method: "GET", path: EAB, action: "acme.eab.list" },
];

describe("ACME settings through the admin API", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let s: Served;
  let socket: string;
  let security: string;
  let operator: string;
  let auditor: string;
  let socketEnv: Record<string, string>;

  const token = (role: string, name: string): string =>
    sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name]).stdout.trim();
  const shown = (): Record<string, unknown> =>
    JSON.parse(sigilOk(home, ["acme", "show", CA, "--json"]).stdout) as Record<string, unknown>;
  const eabKeys = (): unknown[] =>
    JSON.parse(sigilOk(home, ["acme", "eab", "list", CA, "--json"]).stdout) as [];

  before(async () => {
    initHome(home);
    operator = token("operator", "olga");
    auditor = token("auditor", "aude");
    const st = await serveWithToken(home, "security", "sam");
    s = st.served;
    socket = st.env.SIGIL_SERVER!;
    security = st.env.SIGIL_TOKEN!;
    socketEnv = st.env;
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("anonymous and bad tokens: 401, audited as admin.token.refused, nothing changed", async () => {
    const before = counts(home);
    const seqBefore = Math.max(0, ...auditLog(home).map((e) => e.seq));
    for (const act of ACTS)
      for (const tok of [undefined, "sigil_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
        const r = await adminCall(socket, tok, act.method, act.path, act.body);
        assert.equal(r.status, 401, `${act.method} ${act.path}: ${r.text}`);
        assert.equal((r.body.error as { code: string }).code, "unauthorized");
      }
    const after = auditLog(home).filter((e) => e.seq > seqBefore);
    // Aggregated per source and minute (authority/refusals.ts), like every token refusal.
    assert.ok(after.length > 0, "the refusals are audited");
    assert.ok(
      after.every((e) => e.action === "admin.token.refused"),
      JSON.stringify(after),
    );
    assert.ok(after.some((e) => e.target === "acme.enable"));
    assert.equal(shown().enabled, false);
    assert.deepEqual(eabKeys(), []);
    const now = counts(home);
    assert.deepEqual({ ...now, audit: 0 }, { ...before, audit: 0 });
  });

  it("operator and auditor tokens: 403, audited as admin.deny, nothing changed", async () => {
    const seqBefore = Math.max(0, ...auditLog(home).map((e) => e.seq));
    for (const [role, tok] of [
      ["operator", operator],
      ["auditor", auditor],
    ] as const)
      for (const act of ACTS) {
        const r = await adminCall(socket, tok, act.method, act.path, act.body);
        assert.equal(r.status, 403, `${role} ${act.method} ${act.path}: ${r.text}`);
        assert.equal((r.body.error as { code: string }).code, "forbidden");
        assert.match(
          (r.body.error as { message: string }).message,
          new RegExp(`role ${role} may not ${act.action}`),
        );
      }
    // The first test's refusals are summarised when their minute ends (authority/refusals.ts),
    // which may fall in this test: that summary is not one of this test's events.
    const after = auditLog(home).filter(
      (e) => e.seq > seqBefore && !(e.action === "admin.token.refused" && e.details?.summary === true),
    );
    assert.deepEqual(
      after.map((e) => `${e.action} ${e.target}`),
      [...ACTS, ...ACTS].map((a) => `admin.deny ${a.action}`),
    );
    assert.ok(after.every((e) => /^token:/.test(e.actor)));
    assert.equal(shown().enabled, false);
    assert.deepEqual(eabKeys(), []);
  });

  it("a security token enables, makes and lists EAB keys and disables; the HMAC key is shown once", async () => {
    const seqBefore = Math.max(0, ...auditLog(home).map((e) => e.seq));
    // Refusals of the act itself: a root, a bad pattern, a CA that does not exist.
    const root = await adminCall(socket, security, "POST", "/api/v1/admin/cas/genfic/acme", ENABLE);
    assert.equal(root.status, 400, root.text);
    assert.match((root.body.error as { message: string }).message, /is a root/);
    const bad = await adminCall(socket, security, "POST", ACME, { allow: ["foo*.bar"] });
    assert.equal(bad.status, 400, bad.text);
    assert.match((bad.body.error as { message: string }).message, /foo\*\.bar/);
    const none = await adminCall(socket, security, "POST", "/api/v1/admin/cas/nope/acme", ENABLE);
    assert.equal(none.status, 404, none.text);
    const noAllow = await adminCall(socket, security, "POST", ACME, {});
    assert.equal(noAllow.status, 400, noAllow.text);
    assert.equal(shown().enabled, false);

    const en = await adminCall(socket, security, "POST", ACME, ENABLE);
    assert.equal(en.status, 200, en.text);
    assert.equal(en.body.ca, CA);
    assert.equal(en.body.enabled, true);
    assert.deepEqual(en.body.allow, ENABLE.allow);
    assert.equal(en.body.maxDays, 90);
    assert.equal(en.body.eab, true);
    assert.equal(en.body.manualApproval, false);
    assert.equal(en.body.profile, "system");
    assert.match(String(en.body.directory), /\/acme\/genfic-system\/directory$/);
    const view = shown();
    assert.equal(view.enabled, true);
    assert.deepEqual(view.allow, ENABLE.allow);
    assert.match(String(view.updatedBy), /^token:/);

    const made = await adminCall(socket, security, "POST", EAB, {});
    assert.equal(made.status, 200, made.text);
    const kid = String(made.body.kid);
    const hmacKey = String(made.body.hmacKey);
    assert.match(kid, /^[A-Za-z0-9_-]{22}$/);
    assert.match(hmacKey, /^[A-Za-z0-9_-]{43}$/);
    const listed = await adminCall(socket, security, "GET", EAB);
    assert.equal(listed.status, 200, listed.text);
    const keys = listed.body.keys as Array<Record<string, unknown>>;
    assert.deepEqual(
      keys.map((k) => k.kid),
      [kid],
    );
    assert.equal(keys[0]!.accountId, null);
    assert.ok(!listed.text.includes(hmacKey), "the list never carries the key");
    assert.deepEqual(
      (eabKeys() as Array<{ kid: string }>).map((k) => k.kid),
      [kid],
    );

    const off = await adminCall(socket, security, "DELETE", ACME);
    assert.equal(off.status, 200, off.text);
    assert.equal(off.body.enabled, false);
    assert.equal(shown().enabled, false);
    // The settings are kept, marked disabled (as `sigil acme disable`).
    assert.deepEqual(shown().allow, ENABLE.allow);
    const again = await adminCall(socket, security, "DELETE", ACME);
    assert.equal(again.status, 404, again.text);

    const events = auditLog(home).filter((e) => e.seq > seqBefore);
    const acts = events.filter((e) => e.action.startsWith("acme."));
    assert.deepEqual(
      acts.map((e) => `${e.action} ${e.target}`),
      [`acme.enable ${CA}`, `acme.eab.create ${CA}`, `acme.disable ${CA}`],
    );
    assert.ok(
      acts.every((e) => /^token:/.test(e.actor)),
      JSON.stringify(acts),
    );
    assert.deepEqual(acts[1]!.details, { kid });
    assert.deepEqual(acts[2]!.details, { was: "store" });
    // The secret is in no audit event, and not in what the service logged.
    assert.ok(!JSON.stringify(auditLog(home)).includes(hmacKey));
    assert.ok(!s.stdout().includes(hmacKey) && !s.stderr().includes(hmacKey));
    // Each act was allowed under its own action first.
    const allowed = events.filter((e) => e.action === "admin.allow").map((e) => e.target);
    for (const a of ["acme.enable", "acme.eab.create", "acme.eab.list", "acme.disable"])
      assert.ok(allowed.includes(a), a);
  });

  it("sigil acme enable|disable|eab with --server: the same output, through the API, under the token", () => {
    const seqBefore = Math.max(0, ...auditLog(home).map((e) => e.seq));
    const asOperator = { ...socketEnv, SIGIL_TOKEN: operator };
    const denied = sigil(home, ["acme", "enable", CA, "--allow", "*.genfic.internal"], { env: asOperator });
    assert.equal(denied.status, 1, denied.stderr);
    assert.match(denied.stderr, /^sigil: role operator may not acme\.enable/);
    assert.equal(shown().enabled, false);

    const env = socketEnv;
    const en = sigilOk(home, ["acme", "enable", CA, "--allow", "*.genfic.internal", "--eab"], { env });
    assert.match(
      en.stderr,
      /^ACME enabled for CA genfic-system: http:\/\/127\.0\.0\.1:8080\/acme\/genfic-system\/directory on 'sigil serve', allowing \*\.genfic\.internal$/m,
    );
    assert.equal(shown().eab, true);
    const made = sigilOk(home, ["acme", "eab", "create", CA], { env });
    const m = /^kid: +(\S+)\nhmac-key: +(\S+)\ncertbot: +--eab-kid=\1 --eab-hmac-key=\2\n$/.exec(made.stdout);
    assert.ok(m, made.stdout);
    assert.match(made.stderr, /the HMAC key is shown only now/);
    const listed = JSON.parse(sigilOk(home, ["acme", "eab", "list", CA, "--json"], { env }).stdout) as Array<{
      kid: string;
    }>;
    assert.ok(listed.some((k) => k.kid === m[1]));
    assert.match(
      sigilOk(home, ["acme", "eab", "list", CA], { env }).stdout,
      new RegExp(`^${m[1]} .*unused$`, "m"),
    );
    const off = sigilOk(home, ["acme", "disable", CA], { env });
    assert.match(off.stderr, /^ACME disabled for CA genfic-system$/m);
    assert.equal(shown().enabled, false);

    const acts = auditLog(home).filter((e) => e.seq > seqBefore && e.action.startsWith("acme."));
    assert.deepEqual(
      acts.map((e) => e.action),
      ["acme.enable", "acme.eab.create", "acme.disable"],
    );
    assert.ok(
      acts.every((e) => /^token:/.test(e.actor)),
      JSON.stringify(acts),
    );
    assert.ok(!JSON.stringify(auditLog(home)).includes(m[2]!));
  });
});
