/** parseMail: the envelope (From, Reply-To, Return-Path, Message-ID, Subject, Date); addressDomain. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { handMade, ok } from "./parse-kit.test.js";
import { addressDomain, parseMail } from "./parse.js";

describe("parseMail: envelope", () => {
  it("reads From, Reply-To, Return-Path, Message-ID, Subject and Date", async () => {
    const raw = handMade(
      [
        "Return-Path: <Bounces+Alice@Lists.GenFic.com>",
        "Received: from mx.genfic.com by ca.genfic.com; Mon, 1 Jan 2024 10:00:00 +0000",
        'From: "Example, Alice" <Alice.Example@GenFic.COM>, bob@genfic.com',
        "Reply-To: Help Desk <HelpDesk@GenFic.com>",
        "Message-ID:  <CA+abc.123@Mail.GenFic.com> ",
        "Subject: =?utf-8?q?Certificate_request_f=C3=BCr?=",
        " host\tone",
        "Date: Tue, 2 Jan 2024 10:30:15 +0100 (CET)",
      ],
      "hi",
    );
    const m = await parseMail(raw);
    ok(m);
    assert.equal(m.from, "alice.example@genfic.com");
    assert.equal(m.replyTo, "helpdesk@genfic.com");
    assert.equal(m.returnPath, "bounces+alice@lists.genfic.com");
    assert.equal(m.messageId, "CA+abc.123@Mail.GenFic.com");
    assert.equal(m.subject, "Certificate request für host one");
    assert.equal(m.date, Date.UTC(2024, 0, 2, 9, 30, 15));
  });

  it("leaves absent or unusable fields undefined", async () => {
    const m = await parseMail(
      handMade(["Return-Path: <>", "From: alice@genfic.com", "Reply-To: undisclosed-recipients:;"], "x"),
    );
    ok(m);
    assert.equal(m.returnPath, undefined, "a null reverse-path");
    assert.equal(m.replyTo, undefined);
    assert.equal(m.messageId, undefined);
    assert.equal(m.date, undefined);
    assert.equal(m.subject, "");
  });

  it("takes the first mailbox of a group and writes an internationalized domain in ASCII", async () => {
    const m = await parseMail(handMade(["From: Team: Jürgen <Juergen@Bücher.Example>, x@y.z;"], "x"));
    ok(m);
    assert.equal(m.from, "juergen@xn--bcher-kva.example");
    assert.equal(addressDomain(m.from), "xn--bcher-kva.example");
  });

  it("parses RFC 5322 dates, obsolete forms included, and nothing else", async () => {
    const cases: [string, number | undefined][] = [
      ["Mon, 1 Jan 2024 00:00:00 +0000", Date.UTC(2024, 0, 1)],
      ["1 Jan 2024 23:59 -0130", Date.UTC(2024, 0, 2, 1, 29)],
      ["Fri, 27 Nov 2026 20:31:00 GMT", Date.UTC(2026, 10, 27, 20, 31)],
      ["Thu, 04 Jul 96 12:00:00 EDT", Date.UTC(1996, 6, 4, 16)],
      ["Sat, 29 Feb 2020 12:00:00 Z", Date.UTC(2020, 1, 29, 12)],
      ["1 Jan 2024 12:00:00 A", Date.UTC(2024, 0, 1, 12)],
      ["mon , 1 jan 2024 10:00:00 +0000 (UTC)", Date.UTC(2024, 0, 1, 10)],
      ["1 Jan 2024 12:00:60 +0000", Date.UTC(2024, 0, 1, 12, 0, 59)],
      ["yesterday-ish", undefined],
      ["Message 2", undefined],
      ["30 Feb 2024 10:00:00 +0000", undefined],
      ["1 Foo 2024 10:00:00 +0000", undefined],
      ["1 Jan 2024 24:00:00 +0000", undefined],
      ["1 Jan 2024 10:00:00 +0090", undefined],
      ["2024-01-01T10:00:00Z", undefined],
      ["", undefined],
    ];
    for (const [date, want] of cases) {
      const m = await parseMail(handMade(["From: a@b.c", `Date: ${date}`], "x"));
      assert.equal(m.date, want, date);
    }
    const folded = await parseMail(
      Buffer.from("From: a@b.c\r\nDate: Mon, 1 Jan 2024\r\n 10:00:00 +0100\r\n\r\nx"),
    );
    assert.equal(folded.date, Date.UTC(2024, 0, 1, 9));
  });

  it("puts a multi-line subject on one line", async () => {
    const m = await parseMail(
      handMade(
        ["From: a@b.c", "Subject: =?utf-8?b?" + Buffer.from("a\r\nBcc: x").toString("base64") + "?="],
        "",
      ),
    );
    assert.equal(m.subject, "a Bcc: x");
  });
});

describe("addressDomain", () => {
  it("returns the lower-cased domain, or undefined", () => {
    assert.equal(addressDomain("alice@GenFic.com"), "genfic.com");
    assert.equal(addressDomain("<Alice@Mail.GenFic.com.>"), "mail.genfic.com");
    assert.equal(addressDomain('"a@b"@c.org'), "c.org");
    assert.equal(addressDomain("alice"), undefined);
    assert.equal(addressDomain("@genfic.com"), undefined);
    assert.equal(addressDomain("alice@"), undefined);
    assert.equal(addressDomain("alice@gen fic.com"), undefined);
    assert.equal(addressDomain(""), undefined);
    assert.equal(addressDomain(undefined), undefined);
  });
});
