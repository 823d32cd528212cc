import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dnsNameMatches, globMatch, isWildcardName, wildcardWithin } from "./names.js";

describe("name patterns", () => {
  it("a glob matches names; a * in the value is not a name", () => {
    assert.ok(globMatch("*.genfic.internal", "a.genfic.internal"));
    assert.ok(dnsNameMatches("*.genfic.internal", "a.b.genfic.internal", false));
    assert.ok(!dnsNameMatches("*.genfic.internal", "*.genfic.internal", false));
    assert.ok(!dnsNameMatches("*", "*.genfic.internal", false));
    assert.ok(isWildcardName("*.a.b"));
    assert.ok(!isWildcardName("a.b"));
  });

  it("a wildcard lies within a domain when every name it covers is below the domain", () => {
    assert.ok(wildcardWithin("*.genfic.internal", "genfic.internal"));
    assert.ok(wildcardWithin("*.apps.GENFIC.internal.", "genfic.internal"));
    for (const [w, d] of [
      ["*.internal", "genfic.internal"],
      ["*.genfic.internal.evil.com", "genfic.internal"],
      ["*.xgenfic.internal", "genfic.internal"],
      ["a.genfic.internal", "genfic.internal"],
      ["*.*.genfic.internal", "genfic.internal"],
      ["*.genfic.internal", ""],
    ])
      assert.ok(!wildcardWithin(w!, d!), `${w} within ${d}`);
  });

  it("allowWildcards lets only a subtree pattern match a wildcard", () => {
    assert.ok(dnsNameMatches("*.genfic.internal", "*.apps.genfic.internal", true));
    assert.ok(dnsNameMatches("*.genfic.internal", "*.genfic.internal", true));
    assert.ok(!dnsNameMatches("web*.genfic.internal", "*.genfic.internal", true));
    assert.ok(!dnsNameMatches("*genfic.internal", "*.genfic.internal", true));
    assert.ok(!dnsNameMatches("*.*.internal", "*.genfic.internal", true));
    assert.ok(!dnsNameMatches("host.genfic.internal", "*.host.genfic.internal", true));
  });
});
