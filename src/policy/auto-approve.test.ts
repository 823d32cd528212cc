import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { globMatch, ruleMatches } from "./auto-approve.js";
import type { AutoApproveRule } from "../config/schema.js";

const userRule: AutoApproveRule = {
  name: "staff",
  ca: "genfic-user",
  channels: ["mail", "web"],
  senderDomains: ["genfic.com"],
  emails: ["*@genfic.com"],
  senderMustMatchEmail: true,
};
const hostRule: AutoApproveRule = {
  name: "hosts",
  ca: "genfic-system",
  channels: ["mail", "drop"],
  senderDomains: ["genfic.com"],
  dnsNames: ["*.genfic.internal"],
  senderMustMatchEmail: true,
};

describe("auto-approval rules", () => {
  it("globs: * is a non-empty run, case-insensitive", () => {
    assert.ok(globMatch("*.genfic.internal", "a.genfic.internal"));
    assert.ok(globMatch("*.genfic.internal", "A.b.GENFIC.internal"));
    assert.ok(!globMatch("*.genfic.internal", "genfic.internal"));
    assert.ok(!globMatch("*.genfic.internal", "a.genfic.internal.evil.com"));
    assert.ok(!globMatch("*.genfic.internal", "agenfic.internal"));
    assert.ok(globMatch("*@genfic.com", "amber@genfic.com"));
    assert.ok(!globMatch("*@genfic.com", "@genfic.com"));
    assert.ok(!globMatch("*@genfic.com", "amber@genfic.com.evil"));
    assert.ok(globMatch("web*.genfic.internal", "web01.genfic.internal"));
    assert.ok(globMatch("exact.example", "EXACT.example"));
    assert.ok(globMatch("a*b*c", "axbyc"));
    assert.ok(!globMatch("a*b*c", "abc"));
  });

  it("approves a user's own address from an allowed domain", () => {
    const f = {
      channel: "mail" as const,
      submitter: "amber@genfic.com",
      sans: [{ type: "email" as const, value: "amber@genfic.com" }],
    };
    assert.deepEqual(ruleMatches(userRule, f), { ok: true });
  });

  it("refuses, with the reason, everything else", () => {
    const email = (v: string) => ({ type: "email" as const, value: v });
    const cases: Array<[AutoApproveRule, Parameters<typeof ruleMatches>[1], RegExp]> = [
      [userRule, { channel: "drop", submitter: "root", sans: [email("a@genfic.com")] }, /channel drop/],
      [userRule, { channel: "mail", submitter: "eve@evil.com", sans: [email("eve@evil.com")] }, /not in an allowed domain/],
      [userRule, { channel: "mail", submitter: "eve@genfic.com", sans: [email("amber@genfic.com")] }, /not the sender's own/],
      [userRule, { channel: "mail", submitter: "amber@genfic.com", sans: [] }, /names no e-mail/],
      [userRule, { channel: "mail", submitter: "a@genfic.com", sans: [email("a@genfic.com"), { type: "dns", value: "x.genfic.internal" }] }, /does not allow DNS/],
      [hostRule, { channel: "mail", submitter: "ops@genfic.com", sans: [{ type: "dns", value: "db.evil.com" }] }, /outside the allowed names/],
      [hostRule, { channel: "mail", submitter: "ops@genfic.com", sans: [{ type: "dns", value: "db.genfic.internal" }, { type: "ip", value: "10.0.0.1" }] }, /need an operator/],
      [hostRule, { channel: "drop", submitter: null, sans: [{ type: "dns", value: "db.genfic.internal" }] }, /not in an allowed domain/],
    ]; // prettier-ignore
    for (const [rule, facts, re] of cases) {
      const v = ruleMatches(rule, facts);
      assert.equal(v.ok, false, JSON.stringify(facts));
      if (!v.ok) assert.match(v.reason, re);
    }
    assert.deepEqual(
      ruleMatches(hostRule, {
        channel: "mail",
        submitter: "ops@genfic.com",
        sans: [{ type: "dns", value: "db.genfic.internal" }],
      }),
      { ok: true },
    );
  });

  it("a DNS pattern matches names, not a literal wildcard (attack: *.genfic.internal issued by rule)", () => {
    const wild = { channel: "mail" as const, submitter: "ops@genfic.com", sans: [{ type: "dns" as const, value: "*.genfic.internal" }] };
    const v = ruleMatches(hostRule, wild);
    assert.equal(v.ok, false, "a wildcard certificate needs an operator unless the rule says allowWildcards");
    if (!v.ok) assert.match(v.reason, /wildcard/);
    const deeper = ruleMatches(hostRule, { ...wild, sans: [{ type: "dns", value: "*.apps.genfic.internal" }] });
    assert.equal(deeper.ok, false);
    // With the explicit setting, a wildcard wholly inside a `*.` pattern's subtree is allowed...
    const allowing = { ...hostRule, allowWildcards: true };
    assert.deepEqual(ruleMatches(allowing, wild), { ok: true });
    assert.deepEqual(ruleMatches(allowing, { ...wild, sans: [{ type: "dns", value: "*.apps.genfic.internal" }] }), { ok: true });
    // ...but never one reaching outside it, nor through a pattern that is not a subtree.
    for (const value of ["*.internal", "*.evil.com", "*.genfic.internal.evil.com"])
      assert.equal(ruleMatches(allowing, { ...wild, sans: [{ type: "dns", value }] }).ok, false, value);
    const prefixRule = { ...hostRule, allowWildcards: true, dnsNames: ["web*.genfic.internal"] };
    assert.equal(ruleMatches(prefixRule, { ...wild, sans: [{ type: "dns", value: "*.genfic.internal" }] }).ok, false);
  }); // prettier-ignore
});
