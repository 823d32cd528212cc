import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { checkCaRule, namePermitted, parseNamePattern, permittedProfiles } from "./ca-rules.js";

const ALL = ["user", "system"] as const;

describe("CA rules", () => {
  it("a root issues under no profile unless its rule lists some; others under all by default", () => {
    assert.deepEqual(permittedProfiles(true, undefined, ALL), []);
    assert.deepEqual(permittedProfiles(false, undefined, ALL), ["user", "system"]);
    assert.deepEqual(permittedProfiles(true, { profiles: ["system"] }, ALL), ["system"]);
    assert.deepEqual(permittedProfiles(false, { profiles: ["user", "ocsp"] }, ALL), ["user"]);
    const root = checkCaRule({
      caName: "genfic",
      isRoot: true,
      rule: undefined,
      publicProfiles: ALL,
      profile: "system",
      sans: [],
    });
    assert.equal(root.allow, false);
    assert.match((root as { reason: string }).reason, /^CA genfic is a root: it signs CA certificates only/);
    const user = checkCaRule({
      caName: "u",
      isRoot: false,
      rule: { profiles: ["user"] },
      publicProfiles: ALL,
      profile: "system",
      sans: [],
    });
    assert.match((user as { reason: string }).reason, /may issue under user only, not system/);
  });

  it("names: DNS subtrees and exact names, address ranges, mailboxes; URIs only without a names rule", () => {
    const p = (s: string) => parseNamePattern(s);
    assert.ok(namePermitted(p("*.genfic.internal"), { type: "dns", value: "a.b.genfic.internal" }));
    assert.ok(!namePermitted(p("*.genfic.internal"), { type: "dns", value: "genfic.internal" }));
    assert.ok(!namePermitted(p("*.genfic.internal"), { type: "dns", value: "evilgenfic.internal" }));
    assert.ok(namePermitted(p("host.genfic.internal"), { type: "dns", value: "HOST.genfic.internal" }));
    assert.ok(namePermitted(p("10.0.0.0/8"), { type: "ip", value: "10.1.2.3" }));
    assert.ok(!namePermitted(p("10.0.0.0/8"), { type: "ip", value: "11.1.2.3" }));
    assert.ok(!namePermitted(p("10.0.0.0/8"), { type: "dns", value: "10.0.0.1" }));
    assert.ok(namePermitted(p("*@genfic.com"), { type: "email", value: "Alice@GenFic.com" }));
    assert.ok(!namePermitted(p("*@genfic.com"), { type: "email", value: "alice@sub.genfic.com" }));
    assert.ok(!namePermitted(p("*@genfic.com"), { type: "email", value: "alice@evilgenfic.com" }));
    assert.ok(namePermitted(p("*@*.genfic.com"), { type: "email", value: "alice@sub.genfic.com" }));
    assert.ok(namePermitted(p("bob@genfic.com"), { type: "email", value: "bob@genfic.com" }));
    assert.ok(!namePermitted(p("bob@genfic.com"), { type: "email", value: "alice@genfic.com" }));
    assert.ok(!namePermitted(p("*.genfic.com"), { type: "email", value: "a@x.genfic.com" }));
    assert.ok(!namePermitted(p("*.genfic.com"), { type: "uri", value: "https://x.genfic.com/" }));
    for (const bad of ["", "a b", "@genfic.com", "*@", "x@*", "10.0.0.0/99"])
      assert.throws(() => parseNamePattern(bad), SigilError, bad);
    const rule = { names: ["*.genfic.internal", "10.0.0.0/8"] };
    const ok = checkCaRule({
      caName: "sys",
      isRoot: false,
      rule,
      publicProfiles: ALL,
      profile: "system",
      sans: [
        { type: "dns", value: "w.genfic.internal" },
        { type: "ip", value: "10.0.0.7" },
      ],
    });
    assert.deepEqual(ok, { allow: true });
    const no = checkCaRule({
      caName: "sys",
      isRoot: false,
      rule,
      publicProfiles: ALL,
      profile: "system",
      sans: [
        { type: "dns", value: "w.genfic.internal" },
        { type: "dns", value: "www.example.com" },
      ],
    });
    assert.match(
      (no as { reason: string }).reason,
      /^CA sys may not certify dns:www\.example\.com \(permitted: \*\.genfic\.internal, 10\.0\.0\.0\/8; caRules\.sys\.names in sigil\.json\)$/,
    );
  });
});
