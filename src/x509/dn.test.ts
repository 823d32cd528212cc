import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { decodeDn, dnCommonName, dnEmail, encodeDn, formatDn, formatDnOpenssl, parseDn } from "./dn.js";
import { intNum, oid, printable, seq, tlv } from "./der.js";
import { openssl, tempDir } from "./testkit.test.js";

function bad(text: string, msg: RegExp): void {
  assert.throws(
    () => parseDn(text),
    (e: unknown) =>
      e instanceof SigilError && e.code === "bad_dn" && msg.test(e.message) && !e.message.includes("\n"),
    text,
  );
}

const GENFIC = [
  { oid: "2.5.4.6", name: "C", value: "BE" },
  { oid: "2.5.4.10", name: "O", value: "Gentoo Fictional, Inc." },
  { oid: "2.5.4.3", name: "CN", value: "GenFic Root CA" },
];

describe("parseDn", () => {
  it("reads OpenSSL's slash form, commas in values and \\/ escapes", () => {
    assert.deepEqual(parseDn("/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA"), GENFIC);
    assert.deepEqual(parseDn("/CN=a\\/b/O=x+y"), [
      { oid: "2.5.4.3", name: "CN", value: "a/b" },
      { oid: "2.5.4.10", name: "O", value: "x+y" },
    ]);
    assert.deepEqual(
      parseDn("/c=be/emailAddress=ops@genfic.example/E=a@b.example/EMAIL=c@d.example/DC=genfic/UID=jdoe"),
      [
        { oid: "2.5.4.6", name: "C", value: "BE" },
        { oid: "1.2.840.113549.1.9.1", name: "emailAddress", value: "ops@genfic.example" },
        { oid: "1.2.840.113549.1.9.1", name: "emailAddress", value: "a@b.example" },
        { oid: "1.2.840.113549.1.9.1", name: "emailAddress", value: "c@d.example" },
        { oid: "0.9.2342.19200300.100.1.25", name: "DC", value: "genfic" },
        { oid: "0.9.2342.19200300.100.1.1", name: "UID", value: "jdoe" },
      ],
    );
  });

  it("reads RFC 4514, least significant first, with escapes", () => {
    assert.deepEqual(parseDn("CN=GenFic Root CA,O=Gentoo Fictional\\, Inc.,C=BE"), GENFIC);
    assert.deepEqual(parseDn("CN=GenFic Root CA, O=Gentoo Fictional\\2C Inc., C=BE"), GENFIC);
    assert.deepEqual(parseDn('CN=a\\+b\\"c\\\\d\\<e\\>f\\;g\\=h\\, i'), [
      { oid: "2.5.4.3", name: "CN", value: 'a+b"c\\d<e>f;g=h, i' },
    ]);
    assert.deepEqual(
      parseDn(
        "CN=J\\C3\\B6rg,2.5.4.10=Org,serialNumber=42,GN=Jane,SN=Doe,title=Boss,street=Main 1,postalCode=1000,L=Brussels,ST=Brabant,OU=IT",
      ),
      [
        { oid: "2.5.4.11", name: "OU", value: "IT" },
        { oid: "2.5.4.8", name: "ST", value: "Brabant" },
        { oid: "2.5.4.7", name: "L", value: "Brussels" },
        { oid: "2.5.4.17", name: "postalCode", value: "1000" },
        { oid: "2.5.4.9", name: "street", value: "Main 1" },
        { oid: "2.5.4.12", name: "title", value: "Boss" },
        { oid: "2.5.4.4", name: "SN", value: "Doe" },
        { oid: "2.5.4.42", name: "GN", value: "Jane" },
        { oid: "2.5.4.5", name: "serialNumber", value: "42" },
        { oid: "2.5.4.10", name: "O", value: "Org" },
        { oid: "2.5.4.3", name: "CN", value: "Jörg" },
      ],
    );
    assert.deepEqual(parseDn("CN=x,1.2.3.4=y"), [
      { oid: "1.2.3.4", name: "1.2.3.4", value: "y" },
      { oid: "2.5.4.3", name: "CN", value: "x" },
    ]);
  });

  it("refuses bad DNs with one clear line", () => {
    bad("", /empty/);
    bad("/", /empty/);
    bad("/C=BE//CN=x", /empty RDN/);
    bad("CN=x,,O=y", /empty RDN/);
    bad("/XX=1", /unknown attribute type "XX"/);
    bad("/C=BEL", /C must be a two-letter country code/);
    bad("/C=1A", /two-letter/);
    bad("/CN=", /CN has an empty value/);
    bad("/CN=" + "x".repeat(65), /CN is too long \(65 characters, at most 64/);
    bad("/O=" + "x".repeat(65), /O is too long/);
    bad("/OU=" + "x".repeat(65), /OU is too long/);
    bad("/L=" + "x".repeat(129), /L is too long/);
    bad("/ST=" + "x".repeat(129), /ST is too long/);
    bad("/emailAddress=" + "x".repeat(250) + "@a.example", /emailAddress is too long/);
    bad("CN=a+O=b", /multi-valued RDNs/);
    bad("/CN=a+O=b", /multi-valued RDNs/);
    bad("CN=#0403", /#hex/);
    bad("CN=a\\q", /bad escape/);
    bad("noequals", /not TYPE=VALUE/);
    bad("/serialNumber=ab_c", /PrintableString/);
    bad("/emailAddress=not-an-email", /not an e-mail address/);
    bad("/CN=a\u0001b", /control characters/);
    // Upper bounds count characters, not bytes.
    assert.equal(parseDn("/CN=" + "é".repeat(64))[0]!.value.length, 64);
  });
});

describe("encodeDn / decodeDn / formatDn", () => {
  it("encodes string types per RFC 5280 and round-trips", () => {
    const dn = parseDn(
      "/C=BE/O=Gentoo Fictional, Inc./CN=Jöhn/emailAddress=j@genfic.example/DC=genfic/serialNumber=A1",
    );
    const der = encodeDn(dn);
    // Tags: C PrintableString (0x13), O/CN UTF8String (0x0c), email/DC IA5String (0x16), serialNumber PrintableString.
    const name = new x509.Name(der);
    assert.deepEqual(name.toJSON(), [
      { C: ["BE"] },
      { O: ["Gentoo Fictional, Inc."] },
      { CN: ["Jöhn"] },
      { E: ["j@genfic.example"] },
      { DC: ["genfic"] },
      { "2.5.4.5": ["A1"] },
    ]);
    const tags = [
      ...der
        .toString("hex")
        .matchAll(
          /0603550406(..)|0603550403(..)|06092a864886f70d010901(..)|060a0992268993f22c640119(..)|0603550405(..)/g,
        ),
    ].map((m) => m.slice(1).find(Boolean));
    assert.deepEqual(tags, ["13", "0c", "16", "16", "13"]);
    assert.deepEqual(decodeDn(der), dn);
    assert.equal(
      formatDn(dn),
      "serialNumber=A1,DC=genfic,emailAddress=j@genfic.example,CN=Jöhn,O=Gentoo Fictional\\, Inc.,C=BE",
    );
    assert.equal(
      formatDnOpenssl(dn),
      "/C=BE/O=Gentoo Fictional, Inc./CN=Jöhn/emailAddress=j@genfic.example/DC=genfic/serialNumber=A1",
    );
    assert.deepEqual(parseDn(formatDn(dn)), dn);
    assert.deepEqual(parseDn(formatDnOpenssl(dn)), dn);
    assert.equal(dnEmail(dn), "j@genfic.example");
    assert.equal(dnCommonName(dn), "Jöhn");
    assert.deepEqual(encodeDn([]), Buffer.from([0x30, 0]));
  });

  it("formats and re-parses tricky values", () => {
    for (const v of [
      " lead",
      "trail ",
      "#hash",
      "a,b",
      "a+b",
      'q"q',
      "back\\slash",
      "semi;colon",
      "<>",
      "a/b",
      "x=y",
    ]) {
      const dn = [{ oid: "2.5.4.3", name: "CN", value: v }];
      assert.deepEqual(parseDn(formatDn(dn)), dn, formatDn(dn));
      if (!/^\s|\s$/.test(v)) assert.deepEqual(parseDn(formatDnOpenssl(dn)), dn, formatDnOpenssl(dn));
    }
  });

  it("matches what openssl writes for -subj", () => {
    const t = tempDir();
    try {
      const subj =
        "/C=BE/ST=Brabant/L=Leuven/O=Gentoo Fictional, Inc./OU=IT/CN=GenFic Root CA/emailAddress=ca@genfic.example";
      const r = openssl(
        [
          "req",
          "-new",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          "k.pem",
          "-subj",
          subj,
          "-utf8",
          "-outform",
          "DER",
          "-out",
          "r.der",
        ],
        t.dir,
      );
      assert.equal(r.status, 0, r.out);
      const s = openssl(
        ["req", "-in", "r.der", "-inform", "DER", "-noout", "-subject", "-nameopt", "RFC2253"],
        t.dir,
      );
      assert.equal(s.out.trim(), "subject=" + formatDn(parseDn(subj)));
    } finally {
      t.done();
    }
  });

  it("decodeDn refuses multi-valued RDNs and non-string values", () => {
    const atv = (v: Buffer): Buffer => seq(oid("2.5.4.3"), v);
    const multi = seq(tlv(0x31, atv(printable("a")), atv(printable("bb"))));
    assert.throws(
      () => decodeDn(multi),
      (e: unknown) => e instanceof SigilError && e.code === "bad_dn" && /multi-valued/.test(e.message),
    );
    const intValue = seq(tlv(0x31, atv(intNum(5))));
    assert.throws(
      () => decodeDn(intValue),
      (e: unknown) => e instanceof SigilError && /not a string/.test(e.message),
    );
  });
});
