import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorCodes, isSigilError } from "../errors.js";
import { identifierAllowed, parseAllowPattern } from "./acme-identifiers.js";

const dns = (value: string) => ({ type: "dns" as const, value });
const ip = (value: string) => ({ type: "ip" as const, value });

describe("ACME allow patterns", () => {
  it("parses DNS patterns, addresses and CIDR ranges", () => {
    assert.deepEqual(parseAllowPattern("*.Genfic.Internal."), {
      kind: "dns",
      name: "genfic.internal",
      subtree: true,
    });
    assert.deepEqual(parseAllowPattern("host.genfic.internal"), {
      kind: "dns",
      name: "host.genfic.internal",
      subtree: false,
    });
    assert.deepEqual(parseAllowPattern("10.0.0.0/8"), {
      kind: "ip",
      network: Buffer.from([10, 0, 0, 0]),
      prefix: 8,
    });
    assert.deepEqual(parseAllowPattern("192.0.2.7"), {
      kind: "ip",
      network: Buffer.from([192, 0, 2, 7]),
      prefix: 32,
    });
    const v6 = parseAllowPattern("fd00::/8");
    assert.equal(v6.kind === "ip" && v6.prefix, 8);
    assert.equal(v6.kind === "ip" && v6.network.length, 16);
    assert.equal(parseAllowPattern("::1").kind, "ip");
  });

  for (const badPattern of [
    "",
    "*",
    "*.",
    "**.genfic.internal",
    "a.*.genfic.internal",
    "foo*.genfic.internal",
    "under_score.genfic.internal",
    "-lead.genfic.internal",
    "genfic..internal",
    "10.0.0.0/33",
    "10.0.0.0/",
    "10.0.0.0/x",
    "10.1.2.3/8",
    "fd00::/129",
    "fd00::1/8",
    "300.1.1.1",
    "10.0.0.0/8/8",
    "1.2.3",
    "http://genfic.internal",
  ])
    it(`refuses ${JSON.stringify(badPattern)} with BAD_INPUT`, () => {
      assert.throws(
        () => parseAllowPattern(badPattern),
        (e: unknown) => isSigilError(e, ErrorCodes.BAD_INPUT) && !e.message.includes("\n"),
      );
    });

  it("*.domain matches any name strictly below it, at any depth, case-insensitively", () => {
    const p = ["*.genfic.internal"];
    assert.equal(identifierAllowed(p, dns("www.genfic.internal")), true);
    assert.equal(identifierAllowed(p, dns("a.b.c.genfic.internal")), true);
    assert.equal(identifierAllowed(p, dns("WWW.GenFic.Internal.")), true);
    assert.equal(identifierAllowed(p, dns("genfic.internal")), false);
    assert.equal(identifierAllowed(p, dns("evilgenfic.internal")), false);
    assert.equal(identifierAllowed(p, dns("genfic.internal.evil.example")), false);
    assert.equal(identifierAllowed(p, dns("internal")), false);
    assert.equal(identifierAllowed(p, ip("10.0.0.1")), false);
  });

  it("a plain name matches itself only", () => {
    const p = ["host.genfic.internal"];
    assert.equal(identifierAllowed(p, dns("host.genfic.internal")), true);
    assert.equal(identifierAllowed(p, dns("HOST.genfic.internal.")), true);
    assert.equal(identifierAllowed(p, dns("a.host.genfic.internal")), false);
    assert.equal(identifierAllowed(p, dns("genfic.internal")), false);
    assert.equal(identifierAllowed(p, dns("ost.genfic.internal")), false);
  });

  it("a wildcard identifier is matched as a wildcard (the names it covers), never as a literal name", () => {
    // The same rule as auto-approval (policy/names.ts); ACME proves a wildcard by dns-01.
    const p = ["*.genfic.internal", "host.genfic.internal"];
    assert.equal(identifierAllowed(p, dns("*.genfic.internal")), true);
    assert.equal(identifierAllowed(p, dns("*.apps.genfic.internal")), true);
    assert.equal(identifierAllowed(p, dns("*.internal")), false);
    assert.equal(identifierAllowed(p, dns("*.genfic.internal.evil.example")), false);
    assert.equal(identifierAllowed(["host.genfic.internal"], dns("*.host.genfic.internal")), false);
    assert.equal(identifierAllowed(["host.genfic.internal"], dns("*.genfic.internal")), false);
  });

  it("IP ranges match addresses inside them, of the same family", () => {
    const p = ["10.0.0.0/8", "192.0.2.7", "fd00::/8"];
    assert.equal(identifierAllowed(p, ip("10.255.1.2")), true);
    assert.equal(identifierAllowed(p, ip("11.0.0.1")), false);
    assert.equal(identifierAllowed(p, ip("192.0.2.7")), true);
    assert.equal(identifierAllowed(p, ip("192.0.2.8")), false);
    assert.equal(identifierAllowed(p, ip("fd12:3456::1")), true);
    assert.equal(identifierAllowed(p, ip("fe80::1")), false);
    assert.equal(identifierAllowed(p, ip("::ffff:10.0.0.1")), false); // an IPv6 address, even if mapped
    assert.equal(identifierAllowed(p, ip("not-an-ip")), false);
    assert.equal(identifierAllowed(p, dns("10.0.0.1")), false);
    assert.equal(identifierAllowed(["0.0.0.0/0"], ip("203.0.113.9")), true);
    assert.equal(identifierAllowed(["::/0"], ip("2001:db8::1")), true);
    assert.equal(identifierAllowed(["10.0.0.0/12"], ip("10.15.255.255")), true);
    assert.equal(identifierAllowed(["10.0.0.0/12"], ip("10.16.0.0")), false);
  });

  it("nothing is allowed by no patterns, and a broken stored pattern allows nothing", () => {
    assert.equal(identifierAllowed([], dns("www.genfic.internal")), false);
    assert.equal(identifierAllowed(["*.", "10.0.0.0/8"], dns("x.genfic.internal")), false);
    assert.equal(identifierAllowed(["*.", "10.0.0.0/8"], ip("10.0.0.1")), true);
  });
});
