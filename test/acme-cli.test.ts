/**
 * `sigil acme enable|disable|show` and `sigil acme eab create|list`, and the ACME part of
 * `sigil ca show`, through the built CLI on a home made by `sigil init`.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { counts, initHome, sigil, sigilOk, tempDir } from "./helpers.js";

describe("sigil acme (CLI)", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const auditLog = () =>
    sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map(
        (l) => JSON.parse(l) as { action: string; target: string | null; details: Record<string, unknown> },
      );

  before(() => initHome(home));
  after(() => t.cleanup());

  it("enable stores the settings, audited; show and ca show print them", () => {
    const r = sigilOk(home, [
      "acme", "enable", "genfic-system", "--allow", "*.genfic.internal", "--allow", "10.0.0.0/8",
      "--max-days", "90", "--eab", "--manual-approval",
    ]); // prettier-ignore
    assert.match(
      r.stderr,
      /ACME enabled for CA genfic-system: http:\/\/127\.0\.0\.1:8080\/acme\/genfic-system\/directory/,
    );
    const shown = JSON.parse(sigilOk(home, ["acme", "show", "genfic-system", "--json"]).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(shown.enabled, true);
    assert.deepEqual(shown.allow, ["*.genfic.internal", "10.0.0.0/8"]);
    assert.equal(shown.maxDays, 90);
    assert.equal(shown.eab, true);
    assert.equal(shown.manualApproval, true);
    assert.equal(shown.profile, "system");
    assert.equal(shown.source, "store");
    assert.equal(shown.directory, "http://127.0.0.1:8080/acme/genfic-system/directory");

    const text = sigilOk(home, ["acme", "show"]).stdout;
    assert.match(text, /CA genfic-system/);
    assert.match(text, /allow: +\*\.genfic\.internal, 10\.0\.0\.0\/8/);

    const ca = sigilOk(home, ["ca", "show", "genfic-system"]).stdout;
    assert.match(ca, /^acme:$/m);
    assert.match(ca, /directory: +http:\/\/127\.0\.0\.1:8080\/acme\/genfic-system\/directory$/m);
    assert.match(ca, /allow: +\*\.genfic\.internal, 10\.0\.0\.0\/8/);
    assert.match(ca, /max days: +90/);
    assert.match(ca, /EAB required: +yes/);
    assert.match(ca, /manual approval: +yes/);
    const caJson = JSON.parse(sigilOk(home, ["ca", "show", "genfic-system", "--json"]).stdout) as {
      acme: { allow: string[]; eab: boolean } | null;
    };
    assert.deepEqual(caJson.acme?.allow, ["*.genfic.internal", "10.0.0.0/8"]);
    // A CA without ACME shows none.
    assert.doesNotMatch(sigilOk(home, ["ca", "show", "genfic-user"]).stdout, /acme/);

    const ev = auditLog().filter((e) => e.action === "acme.enable");
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.target, "genfic-system");
    assert.deepEqual(ev[0]!.details.allow, ["*.genfic.internal", "10.0.0.0/8"]);
  });

  it("refuses a bad pattern, a root, an unknown CA and a missing --allow: one line, exit 1 or 2, nothing written", () => {
    const before = counts(home);
    const bad = sigil(home, [
      "acme",
      "enable",
      "genfic-user",
      "--allow",
      "*.genfic.internal",
      "--allow",
      "foo*.bar",
    ]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^sigil: bad ACME allow pattern "foo\*\.bar": .+\n$/);
    const cidr = sigil(home, ["acme", "enable", "genfic-user", "--allow", "10.1.2.3/8"]);
    assert.equal(cidr.status, 1);
    assert.match(cidr.stderr, /^sigil: bad ACME allow pattern "10\.1\.2\.3\/8": host bits are set.*\n$/);
    const root = sigil(home, ["acme", "enable", "genfic", "--allow", "*.genfic.internal"]);
    assert.equal(root.status, 1);
    assert.match(
      root.stderr,
      /^sigil: CA genfic is a root: ACME certificates come from an intermediate.*\n$/,
    );
    const unknown = sigil(home, ["acme", "enable", "nope", "--allow", "*.genfic.internal"]);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /^sigil: unknown CA "nope".*\n$/);
    const profile = sigil(home, [
      "acme",
      "enable",
      "genfic-user",
      "--allow",
      "a.genfic.internal",
      "--profile",
      "user",
    ]);
    assert.equal(profile.status, 1);
    assert.match(profile.stderr, /^sigil: profile user cannot carry DNS or IP names.*\n$/);
    const missing = sigil(home, ["acme", "enable", "genfic-user"]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /--allow/);
    assert.deepEqual(counts(home), before);
    assert.equal(JSON.parse(sigilOk(home, ["acme", "show", "genfic-user", "--json"]).stdout).enabled, false);
  });

  it("eab create prints the key once (with the certbot flags); eab list and the audit log never show it", () => {
    const r = sigilOk(home, ["acme", "eab", "create", "genfic-system"]);
    const kid = /^kid: +(\S+)$/m.exec(r.stdout)?.[1];
    const key = /^hmac-key: +(\S+)$/m.exec(r.stdout)?.[1];
    assert.ok(kid && key, r.stdout);
    assert.match(kid, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(Buffer.from(key, "base64url").length, 32);
    assert.ok(r.stdout.includes(`certbot:  --eab-kid=${kid} --eab-hmac-key=${key}\n`), r.stdout);
    assert.match(r.stderr, /shown only now/);
    const j = JSON.parse(sigilOk(home, ["acme", "eab", "create", "genfic-system", "--json"]).stdout) as {
      kid: string;
      hmacKey: string;
    };
    assert.notEqual(j.kid, kid);
    assert.notEqual(j.hmacKey, key);

    const list = sigilOk(home, ["acme", "eab", "list", "genfic-system"]).stdout;
    assert.ok(list.includes(kid) && list.includes(j.kid));
    assert.match(list, /unused/);
    const listJson = sigilOk(home, ["acme", "eab", "list", "genfic-system", "--json"]).stdout;
    assert.equal((JSON.parse(listJson) as unknown[]).length, 2);
    const everything = [
      list,
      listJson,
      sigilOk(home, ["audit", "log", "--json"]).stdout,
      sigilOk(home, ["acme", "show", "--json"]).stdout,
    ].join("\n");
    for (const secret of [key, j.hmacKey]) {
      assert.ok(!everything.includes(secret));
      assert.ok(!everything.includes(Buffer.from(secret, "base64url").toString("hex")));
      assert.ok(!everything.includes(Buffer.from(secret, "base64url").toString("base64")));
    }
    const ev = auditLog().filter((e) => e.action === "acme.eab.create");
    assert.deepEqual(
      ev.map((e) => [e.target, e.details.kid]),
      [
        ["genfic-system", kid],
        ["genfic-system", j.kid],
      ],
    );
    assert.equal(sigilOk(home, ["acme", "eab", "list", "genfic-user"]).stdout.includes(kid), false);
    const root = sigil(home, ["acme", "eab", "create", "genfic"]);
    assert.equal(root.status, 1);
    assert.match(root.stderr, /is a root/);
  });

  it("config-enabled CAs show as such; disable writes a disabled row that wins, audited", () => {
    const cfgPath = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
    writeFileSync(
      cfgPath,
      JSON.stringify({ ...cfg, acme: { cas: { "genfic-user": { allow: ["10.9.0.0/16"] } } } }),
    );
    const fromConfig = JSON.parse(sigilOk(home, ["acme", "show", "genfic-user", "--json"]).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(fromConfig.enabled, true);
    assert.equal(fromConfig.source, "config");
    assert.deepEqual(fromConfig.allow, ["10.9.0.0/16"]);
    assert.match(sigilOk(home, ["ca", "show", "genfic-user"]).stdout, /enabled: +yes \(config\)/);
    assert.deepEqual(
      (JSON.parse(sigilOk(home, ["acme", "show", "--json"]).stdout) as Array<{ ca: string }>).map(
        (s) => s.ca,
      ),
      ["genfic-system", "genfic-user"],
    );

    sigilOk(home, ["acme", "disable", "genfic-user"]);
    assert.equal(JSON.parse(sigilOk(home, ["acme", "show", "genfic-user", "--json"]).stdout).enabled, false);
    sigilOk(home, ["acme", "disable", "genfic-system"]);
    const off = JSON.parse(sigilOk(home, ["acme", "show", "genfic-system", "--json"]).stdout) as Record<
      string,
      unknown
    >;
    assert.equal(off.enabled, false);
    assert.deepEqual(off.allow, ["*.genfic.internal", "10.0.0.0/8"]); // kept for a later enable
    assert.doesNotMatch(sigilOk(home, ["ca", "show", "genfic-system"]).stdout, /^acme:/m);
    const again = sigil(home, ["acme", "disable", "genfic-system"]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^sigil: ACME is not enabled for CA genfic-system\n$/);
    assert.deepEqual(
      auditLog()
        .filter((e) => e.action === "acme.disable")
        .map((e) => e.target),
      ["genfic-user", "genfic-system"],
    );
  });

  it("refuses a retired CA", () => {
    sigilOk(home, ["ca", "retire", "genfic-user"]);
    const r = sigil(home, ["acme", "enable", "genfic-user", "--allow", "*.genfic.internal"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: CA genfic-user was retired .*\n$/);
  });

  it("sigil audit verify passes", () => {
    const r = sigilOk(home, ["audit", "verify"]);
    assert.equal(r.status, 0);
  });
});
