import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatHexNumberFile,
  formatIndex,
  formatOpensslTime,
  opensslHex,
  parseHexNumberFile,
  parseIndex,
  parseOpensslTime,
} from "./openssl-index.js";

const SUBJ = "/C=BE/O=Gentoo Fictional, Inc./CN=amber/emailAddress=amber@genfic.example";

describe("openssl ca index.txt", () => {
  it("reads V, R (with and without reason) and E lines as openssl ca writes them", () => {
    const text =
      `V\t271228232823Z\t\t01\tunknown\t${SUBJ}\n` +
      `R\t271228232823Z\t261127232824Z,keyCompromise\t02\tunknown\t/CN=bob\n` +
      `R\t271228232823Z\t261127232824Z\t0A\tunknown\t/CN=carol\n` +
      `E\t210101000000Z\t\t0B\tunknown\t/CN=old\n` +
      `V\t20510101000000Z\t\t00FF\tunknown\t/CN=far\n`;
    const { entries, problems } = parseIndex(text);
    assert.deepEqual(problems, []);
    assert.equal(entries.length, 5);
    const [v, r, r2, e, far] = entries;
    assert.equal(v!.status, "V");
    assert.equal(v!.serialHex, "1");
    assert.equal(v!.serialText, "01");
    assert.equal(v!.subject, SUBJ);
    assert.equal(v!.expiry, Date.UTC(2027, 11, 28, 23, 28, 23));
    assert.equal(r!.revokedAt, Date.UTC(2026, 10, 27, 23, 28, 24));
    assert.equal(r!.reason, 1);
    assert.equal(r2!.reason, null);
    assert.equal(r2!.serialHex, "a");
    assert.equal(e!.status, "E");
    assert.equal(e!.expiry, Date.UTC(2021, 0, 1));
    assert.equal(far!.expiry, Date.UTC(2051, 0, 1));
    assert.equal(far!.serialHex, "ff");
  });

  it("maps every openssl reason name, case-insensitively, and the three-field forms", () => {
    const names: Array<[string, number]> = [
      ["unspecified", 0],
      ["keyCompromise", 1],
      ["CACompromise", 2],
      ["cACompromise", 2],
      ["affiliationChanged", 3],
      ["superseded", 4],
      ["cessationOfOperation", 5],
      ["certificateHold", 6],
      ["removeFromCRL", 8],
    ];
    for (const [n, code] of names) {
      const { entries, problems } = parseIndex(`R\t271228232823Z\t261127232824Z,${n}\t01\tunknown\t/CN=x\n`);
      assert.deepEqual(problems, [], n);
      assert.equal(entries[0]!.reason, code, n);
    }
    const three = parseIndex(
      "R\t271228232823Z\t261127232824Z,keyTime,20261101000000Z\t01\tunknown\t/CN=x\n" +
        "R\t271228232823Z\t261127232824Z,holdInstruction,1.2.840.10040.2.2\t02\tunknown\t/CN=y\n",
    );
    assert.deepEqual(three.problems, []);
    assert.equal(three.entries[0]!.reason, 1);
    assert.equal(three.entries[0]!.revocationExtra, "20261101000000Z");
    assert.equal(three.entries[1]!.reason, 6);
  });

  it("names the line of every malformed entry and keeps the good ones", () => {
    const text = [
      `V\t271228232823Z\t\t01\tunknown\t/CN=ok`, // 1
      `X\t271228232823Z\t\t02\tunknown\t/CN=x`, // 2 unknown status
      `V\t27122823282Z\t\t03\tunknown\t/CN=x`, // 3 bad date
      `V\t271328232823Z\t\t04\tunknown\t/CN=x`, // 4 month 13
      `R\t271228232823Z\t\t05\tunknown\t/CN=x`, // 5 R without date
      `R\t271228232823Z\t261127232824Z,sleepy\t06\tunknown\t/CN=x`, // 6 unknown reason
      `V\t271228232823Z\t261127232824Z\t07\tunknown\t/CN=x`, // 7 V with revocation
      `V\t271228232823Z\t\tZZ\tunknown\t/CN=x`, // 8 bad serial
      `V\t271228232823Z\t\t01\tunknown\t/CN=again`, // 9 duplicate serial
      `V 271228232823Z 08 unknown /CN=spaces`, // 10 not tab-separated
      `V\t270230000000Z\t\t09\tunknown\t/CN=x`, // 11 30 February
      ``, // 12 empty line inside the file
      `V\t271228232823Z\t\t0A\tunknown\t/CN=last`, // 13
      ``,
    ].join("\n");
    const { entries, problems } = parseIndex(text);
    assert.deepEqual(
      entries.map((e) => e.line),
      [1, 13],
    );
    assert.deepEqual(
      problems.map((p) => p.line),
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
    assert.match(problems[0]!.reason, /unknown status "X"/);
    assert.match(problems[1]!.reason, /bad expiry date "27122823282Z"/);
    assert.match(problems[3]!.reason, /status R without a revocation date/);
    assert.match(problems[4]!.reason, /unknown revocation reason "sleepy"/);
    assert.match(problems[5]!.reason, /status V with a revocation field/);
    assert.match(problems[6]!.reason, /hex expected/);
    assert.match(problems[7]!.reason, /already on line 1/);
    assert.match(problems[8]!.reason, /6 tab-separated fields/);
    assert.match(problems[10]!.reason, /empty line/);
  });

  it("times: UTCTime before 2050, GeneralizedTime after; RFC 5280 two-digit years", () => {
    assert.equal(parseOpensslTime("500101000000Z"), Date.UTC(1950, 0, 1));
    assert.equal(parseOpensslTime("491231235959Z"), Date.UTC(2049, 11, 31, 23, 59, 59));
    assert.equal(parseOpensslTime("20500101000000Z"), Date.UTC(2050, 0, 1));
    assert.equal(parseOpensslTime("2050010100000Z"), null);
    assert.equal(parseOpensslTime("500101000000"), null);
    assert.equal(formatOpensslTime(Date.UTC(2027, 11, 28, 23, 28, 23, 999)), "271228232823Z");
    assert.equal(formatOpensslTime(Date.UTC(2051, 0, 1)), "20510101000000Z");
    for (const t of [Date.UTC(1999, 5, 6, 7, 8, 9), Date.UTC(2049, 0, 1), Date.UTC(2100, 1, 28)])
      assert.equal(parseOpensslTime(formatOpensslTime(t)), t);
  });

  it("formatIndex writes what parseIndex reads, sorted by serial, with openssl's reason names", () => {
    const rows = [
      {
        serialHex: "1c7cbbed1403e148fb8c49f21ab35ce",
        notAfter: Date.UTC(2027, 0, 1),
        revokedAt: null,
        reason: null,
        subject: "/CN=big",
        expired: false,
      },
      {
        serialHex: "2",
        notAfter: Date.UTC(2027, 0, 1),
        revokedAt: Date.UTC(2026, 0, 1),
        reason: 2,
        subject: "/CN=ca-comp",
        expired: false,
      },
      {
        serialHex: "1",
        notAfter: Date.UTC(2021, 0, 1),
        revokedAt: null,
        reason: null,
        subject: "/CN=old",
        expired: true,
      },
      {
        serialHex: "a",
        notAfter: Date.UTC(2027, 0, 1),
        revokedAt: Date.UTC(2026, 0, 1),
        reason: 9,
        subject: "/CN=priv",
        expired: false,
      },
    ];
    const { text, reasonsDowngraded } = formatIndex(rows);
    assert.equal(
      text,
      "E\t210101000000Z\t\t01\tunknown\t/CN=old\n" +
        "R\t270101000000Z\t260101000000Z,CACompromise\t02\tunknown\t/CN=ca-comp\n" +
        "R\t270101000000Z\t260101000000Z,unspecified\t0A\tunknown\t/CN=priv\n" +
        "V\t270101000000Z\t\t01C7CBBED1403E148FB8C49F21AB35CE\tunknown\t/CN=big\n",
    );
    assert.deepEqual(reasonsDowngraded, ["a"]);
    const back = parseIndex(text);
    assert.deepEqual(back.problems, []);
    assert.deepEqual(
      back.entries.map((e) => [e.serialHex, e.status, e.reason]),
      [
        ["1", "E", null],
        ["2", "R", 2],
        ["a", "R", 0],
        ["1c7cbbed1403e148fb8c49f21ab35ce", "V", null],
      ],
    );
  });

  it("serial and crlnumber files: hex, even length", () => {
    assert.equal(parseHexNumberFile("06\n"), 6n);
    assert.equal(
      parseHexNumberFile("0D7DE05F005A604158B60102164E7A23\r\n"),
      0xd7de05f005a604158b60102164e7a23n,
    );
    assert.equal(parseHexNumberFile("six\n"), null);
    assert.equal(parseHexNumberFile(""), null);
    assert.equal(formatHexNumberFile(3n), "03\n");
    assert.equal(formatHexNumberFile(0x100n), "0100\n");
    assert.equal(opensslHex("abc"), "0ABC");
  });
});
