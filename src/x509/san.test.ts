import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { isIP } from "node:net";
import {
  bytesToIp,
  decodeSan,
  decodeSanAll,
  encodeSan,
  ipFamily,
  ipToBytes,
  isHostname,
  parseSanList,
} from "./san.js";

function bad(text: string, msg: RegExp): void {
  assert.throws(
    () => parseSanList(text),
    (e: unknown) => e instanceof SigilError && e.code === "bad_san" && msg.test(e.message),
    text,
  );
}

describe("SAN lists", () => {
  it("parses dns/ip/email/uri, case-insensitive prefixes, normalizing", () => {
    assert.deepEqual(
      parseSanList(
        "dns:Host.Example.com, IP:10.0.0.1,email:Jane@Genfic.Example,uri:https://x.example/a,DNS:*.apps.example.com,ip:2001:DB8:0:0::1",
      ),
      [
        { type: "dns", value: "host.example.com" },
        { type: "ip", value: "10.0.0.1" },
        { type: "email", value: "Jane@genfic.example" },
        { type: "uri", value: "https://x.example/a" },
        { type: "dns", value: "*.apps.example.com" },
        { type: "ip", value: "2001:db8::1" },
      ],
    );
    assert.deepEqual(parseSanList(""), []);
    assert.deepEqual(parseSanList("dns:a.example,dns:A.example"), [{ type: "dns", value: "a.example" }]);
  });

  it("refuses bad names", () => {
    bad("a.example", /must start with dns:/);
    bad("foo:bar", /must start with dns:/);
    bad("dns:", /empty value/);
    bad("dns:a..b", /not a valid DNS name/);
    bad("dns:-a.example", /not a valid DNS name/);
    bad("dns:a_b.example", /not a valid DNS name/);
    bad("dns:a.*.example", /not a valid DNS name/);
    bad("dns:" + "a".repeat(64) + ".example", /not a valid DNS name/);
    bad("dns:" + "abcdefghi.".repeat(26) + "example", /not a valid DNS name/);
    bad("dns:bücher.example", /punycode/);
    bad("dns:1.2.3.4", /not a valid DNS name/);
    bad("ip:1.2.3", /not an IPv4 or IPv6/);
    bad("ip:fe80::1%eth0", /not an IPv4 or IPv6/);
    bad("email:nobody", /not a valid e-mail/);
    bad("email:a@b@c.example", /not a valid e-mail/);
    bad("uri:not a uri", /not an absolute URI/);
    bad("uri:http://", /not an absolute URI/);
    bad("dns:a.example,,dns:b.example", /empty entry/);
  });

  it("isHostname", () => {
    assert.equal(isHostname("myhostname"), true);
    assert.equal(isHostname("a-b.example.com"), true);
    assert.equal(isHostname("GenFic Root CA"), false);
    assert.equal(isHostname("*.example.com"), false);
    assert.equal(isHostname("example.com."), false);
    assert.equal(isHostname("10.0.0.1"), false);
  });

  it("IP conversions, RFC 5952 text", () => {
    for (const [inp, out] of [
      ["::", "::"],
      ["::1", "::1"],
      ["2001:db8::", "2001:db8::"],
      ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
      ["::ffff:192.0.2.1", "::ffff:c000:201"],
      ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
      ["1:0:3:4:5:6:7:8", "1:0:3:4:5:6:7:8"],
    ]) {
      assert.equal(bytesToIp(ipToBytes(inp!)!), out, inp);
    }
  });

  it("encodes like @peculiar/x509 and decodes back; skips otherName/dirName", () => {
    const names = parseSanList(
      "dns:a.example,ip:192.0.2.1,ip:2001:db8::5,email:x@y.example,uri:https://z.example/",
    );
    const ours = encodeSan(names);
    const theirs = new x509.SubjectAlternativeNameExtension([
      { type: "dns", value: "a.example" },
      { type: "ip", value: "192.0.2.1" },
      { type: "ip", value: "2001:db8::5" },
      { type: "email", value: "x@y.example" },
      { type: "url", value: "https://z.example/" },
    ]);
    assert.deepEqual(ours, Buffer.from(theirs.value));
    assert.deepEqual(decodeSan(ours), names);
    const withOdd = new x509.SubjectAlternativeNameExtension([
      { type: "dn", value: "CN=x" },
      { type: "upn", value: "a@b" },
      { type: "dns", value: "b.example" },
    ]);
    assert.deepEqual(decodeSan(Buffer.from(withOdd.value)), [{ type: "dns", value: "b.example" }]);
    assert.throws(() => decodeSan(Buffer.from([0x30, 0])), /empty/);
    assert.throws(
      () => decodeSan(Buffer.from([0x30, 5, 0x82, 1])),
      (e: unknown) => e instanceof SigilError && e.code === "bad_san",
    );
    assert.throws(() => encodeSan([]), /at least one/);
  });

  it("decodeSanAll keeps the types Sigil never issues, named, so a request's are refused and never dropped", () => {
    const ext = new x509.SubjectAlternativeNameExtension([
      { type: "dn", value: "CN=x" },
      { type: "upn", value: "user@genfic.internal" },
      { type: "dns", value: "b.example" },
      { type: "id", value: "1.2.3.4" },
      { type: "guid", value: "6a5b1f6e-1d2c-4e3f-8a9b-0c1d2e3f4a5b" },
    ]);
    assert.deepEqual(decodeSanAll(Buffer.from(ext.value)), {
      names: [{ type: "dns", value: "b.example" }],
      unsupported: [
        { type: "directoryName", detail: "" },
        { type: "otherName", detail: "1.3.6.1.4.1.311.20.2.3, Microsoft UPN" },
        { type: "registeredID", detail: "1.2.3.4" },
        { type: "otherName", detail: "1.3.6.1.4.1.311.25.1" },
      ],
    });
    // x400Address [3] and ediPartyName [5], by tag (their content is not read).
    assert.deepEqual(decodeSanAll(Buffer.from([0x30, 4, 0xa3, 0, 0xa5, 0])).unsupported, [
      { type: "x400Address", detail: "" },
      { type: "ediPartyName", detail: "" },
    ]);
    // An otherName without its [0] value is malformed, not skipped.
    assert.throws(
      () => decodeSanAll(Buffer.from([0x30, 7, 0xa0, 5, 0x06, 3, 0x2a, 0x03, 0x04])),
      (e: unknown) => e instanceof SigilError && e.code === "bad_san" && /otherName/.test(e.message),
    );
  });
});

describe("ipFamily", () => {
  it("says what net.isIP says, for addresses and for what only looks like one", () => {
    const samples = [
      "10.0.0.1", "255.255.255.255", "256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.", "::", "::1", "fe80::1%eth0",
      "2001:db8::1", "2001:db8::192.0.2.1", "::ffff:10.0.0.1", "2001:db8:::1", "host.example.com", "a:b", "abc",
      "1e3", "0x7f.1", "", ".", ":", "1.2.3.4:443", "[::1]", "deadbeef", "café", "١.٢.٣.٤",
    ]; // prettier-ignore
    for (const s of samples) assert.equal(ipFamily(s), isIP(s), s);
  });
});
