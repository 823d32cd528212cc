import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { dkimVerdict, parseAuthResults } from "./auth-results.js";

const TRUSTED = ["mx.genfic.com"];

describe("Authentication-Results (RFC 8601)", () => {
  it("parses authserv-id, version, results, properties, comments and quoted strings", () => {
    const ar = parseAuthResults(
      'MX.genfic.com 1; (checked)\r\n dkim=pass (2048-bit key) reason="good; really" header.d=genfic.com header.s = s1;\r\n spf=fail smtp.mailfrom=evil.example; dmarc=pass',
    );
    assert.deepEqual(ar, {
      authservId: "mx.genfic.com",
      results: [
        { method: "dkim", result: "pass", props: { "header.d": "genfic.com", "header.s": "s1" } },
        { method: "spf", result: "fail", props: { "smtp.mailfrom": "evil.example" } },
        { method: "dmarc", result: "pass", props: {} },
      ],
    });
    assert.deepEqual(parseAuthResults("mx.genfic.com; none"), { authservId: "mx.genfic.com", results: [] });
    assert.equal(parseAuthResults("  "), undefined);
  });

  it("believes only the topmost header of a trusted MTA, DKIM aligned with the From domain", () => {
    const pass = "mx.genfic.com; dkim=pass header.d=genfic.com";
    assert.equal(dkimVerdict([pass], TRUSTED, "genfic.com").pass, true);
    assert.equal(
      dkimVerdict(["mx.genfic.com; dkim=pass header.d=GenFic.com."], TRUSTED, "genfic.com").pass,
      true,
    );
    // Forged by the sender: another authserv-id, or below the trusted MTA's own verdict.
    const cases: Array<[string[], RegExp]> = [
      [[pass], /no trusted MTA/],
      [
        ["evil.example; dkim=pass header.d=genfic.com"],
        /no Authentication-Results header from a trusted MTA/,
      ],
      [["mx.genfic.com; dkim=fail header.d=genfic.com", pass], /dkim=fail/],
      [["mx.genfic.com; dkim=none", pass], /no DKIM result|not dkim=pass/],
      [["mx.genfic.com; dkim=pass header.d=evil.example"], /header\.d=evil\.example/],
      [["mx.genfic.com; dkim=pass header.d=mail.genfic.com"], /not dkim=pass for genfic\.com/],
      [["mx.genfic.com; spf=pass smtp.mailfrom=genfic.com"], /no DKIM result/],
      [["mx.genfic.com; dkim=pass (header.d=genfic.com) header.d=evil.example"], /evil/],
    ];
    for (const [i, [headers, re]] of cases.entries()) {
      const v = dkimVerdict(headers, i === 0 ? [] : TRUSTED, "genfic.com");
      assert.equal(v.pass, false, headers.join(" | "));
      assert.match(v.detail, re);
    }
  });
});
