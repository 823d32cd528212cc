/** parseMail: where requests are found (limits, broken mail: parse-limits; envelope: parse-envelope). */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { parseCsr } from "../x509/csr.js";
import { CN, compose, handMade, ok, useMailFixtures } from "./parse-kit.test.js";
import { parseMail } from "./parse.js";

const f = useMailFixtures();

describe("parseMail: where requests are found", () => {
  it("reads a PEM request attached as .csr", async () => {
    const m = await parseMail(
      await compose({ attachments: [{ filename: "alice.csr", content: f.alicePem }] }),
    );
    ok(m);
    assert.equal(m.candidates.length, 1);
    const c = m.candidates[0]!;
    assert.equal(c.name, "alice.csr");
    assert.equal(c.pemLabel, "CERTIFICATE REQUEST");
    assert.deepEqual(parseCsr(c.data).der, f.aliceDer);
    assert.match(CN(c.data), /alice@genfic\.com/);
    assert.deepEqual(m.notes, []);
  });

  it("reads a binary DER request attached as .der", async () => {
    const m = await parseMail(
      await compose({ attachments: [{ filename: "alice.der", content: f.aliceDer }] }),
    );
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.equal(m.candidates[0]!.name, "alice.der");
    assert.equal(m.candidates[0]!.pemLabel, undefined);
    assert.deepEqual(m.candidates[0]!.data, f.aliceDer);
    assert.deepEqual(parseCsr(m.candidates[0]!.data).der, f.aliceDer);
  });

  it("reads an unnamed application/pkcs10 part (DER and PEM), naming it attachment#N", async () => {
    const m = await parseMail(
      await compose({
        text: "see attached",
        attachments: [
          { content: f.aliceDer, contentType: "application/pkcs10", filename: false },
          { content: f.bobPem, contentType: "application/x-pkcs10", filename: false },
        ],
      }),
    );
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => [c.name, c.pemLabel]),
      [
        ["attachment#1", undefined],
        ["attachment#2", "CERTIFICATE REQUEST"],
      ],
    );
    assert.deepEqual(m.candidates[0]!.data, f.aliceDer);
    assert.deepEqual(parseCsr(m.candidates[1]!.data).der, f.bobDer);

    // The same, written by hand: no name at all, base64 body.
    const raw = handMade(
      ["From: alice@genfic.com", "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=b1"],
      [
        "--b1",
        "Content-Type: text/plain",
        "",
        "hi",
        "--b1",
        "Content-Type: application/pkcs10",
        "Content-Transfer-Encoding: base64",
        "",
        f.aliceDer.toString("base64"),
        "--b1--",
        "",
      ].join("\n"),
    );
    const h = await parseMail(raw);
    ok(h);
    assert.deepEqual(
      h.candidates.map((c) => c.name),
      ["attachment#1"],
    );
    assert.deepEqual(h.candidates[0]!.data, f.aliceDer);
  });

  it("reads a .req file with the legacy NEW CERTIFICATE REQUEST label (certreq, MSIE)", async () => {
    const legacy = f.alicePem
      .replace(/CERTIFICATE REQUEST/g, "NEW CERTIFICATE REQUEST")
      .replace(/\n/g, "\r\n");
    const m = await parseMail(await compose({ attachments: [{ filename: "host.REQ", content: legacy }] }));
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.equal(m.candidates[0]!.name, "host.REQ");
    assert.equal(m.candidates[0]!.pemLabel, "NEW CERTIFICATE REQUEST");
    assert.deepEqual(parseCsr(m.candidates[0]!.data).der, f.aliceDer);
  });

  it("reads a .p10 and a .csr in DER, and a .csr of unarmoured base64", async () => {
    const m = await parseMail(
      await compose({
        attachments: [
          { filename: "a.p10", content: f.aliceDer },
          { filename: "b.csr", content: f.bobDer, contentType: "application/octet-stream" },
          { filename: "c.csr", content: f.aliceDer.toString("base64") },
        ],
      }),
    );
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["a.p10", "b.csr"],
      "c.csr is the same request as a.p10: once",
    );
    assert.deepEqual(m.candidates[1]!.data, f.bobDer);
  });

  it("reads two requests from two attachments, and two from one .pem file", async () => {
    const two = await parseMail(
      await compose({
        attachments: [
          { filename: "alice.csr", content: f.alicePem },
          { filename: "bob.csr", content: f.bobPem },
        ],
      }),
    );
    ok(two);
    assert.deepEqual(
      two.candidates.map((c) => c.name),
      ["alice.csr", "bob.csr"],
    );
    assert.deepEqual(parseCsr(two.candidates[1]!.data).der, f.bobDer);

    const bundle = await parseMail(
      await compose({ attachments: [{ filename: "both.pem", content: `${f.alicePem}\n${f.bobPem}` }] }),
    );
    ok(bundle);
    assert.deepEqual(
      bundle.candidates.map((c) => c.name),
      ["both.pem", "both.pem#2"],
    );
    assert.deepEqual(parseCsr(bundle.candidates[0]!.data).der, f.aliceDer);
    assert.deepEqual(parseCsr(bundle.candidates[1]!.data).der, f.bobDer);
  });

  it("gives same-named attachments distinct names", async () => {
    const m = await parseMail(
      await compose({
        attachments: [
          { filename: "request.csr", content: f.alicePem },
          { filename: "request.csr", content: f.bobPem },
        ],
      }),
    );
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["request.csr", "request.csr#2"],
    );
  });

  it("reads a request pasted into a plain text body, quoted or not", async () => {
    const m = await parseMail(
      await compose({ text: `Hello CA,\n\nplease sign:\n\n${f.alicePem}\nThanks, Alice` }),
    );
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.equal(m.candidates[0]!.name, "body");
    assert.equal(m.candidates[0]!.pemLabel, "CERTIFICATE REQUEST");
    assert.deepEqual(parseCsr(m.candidates[0]!.data).der, f.aliceDer);

    const quoted = f.bobPem
      .trim()
      .split("\n")
      .map((l) => `> ${l}`)
      .join("\n");
    const q = await parseMail(await compose({ text: `On Monday Bob wrote:\n${quoted}\n\n  ${f.alicePem}` }));
    ok(q);
    assert.deepEqual(
      q.candidates.map((c) => c.name),
      ["body", "body#2"],
    );
    assert.deepEqual(parseCsr(q.candidates[0]!.data).der, f.bobDer);
    assert.deepEqual(parseCsr(q.candidates[1]!.data).der, f.aliceDer);
  });

  it("reads a request pasted into an HTML-only body (<pre>, <br> lines, entities)", async () => {
    const pre = await parseMail(
      await compose({ html: `<html><body><p>Please sign</p><pre>${f.alicePem}</pre>` }),
    );
    ok(pre);
    assert.equal(pre.candidates.length, 1);
    assert.equal(pre.candidates[0]!.name, "body");
    assert.deepEqual(parseCsr(pre.candidates[0]!.data).der, f.aliceDer);

    const lines = f.bobPem.trim().split("\n");
    const html =
      `<div dir="ltr"><div>${lines[0]!.replace(/ /g, "&nbsp;")}</div>` +
      lines
        .slice(1, -1)
        .map(
          (l) =>
            `<span style="font-family:monospace">${l.replace(/\+/g, "&#43;").replace(/\//g, "&#x2F;")}</span><br>`,
        )
        .join("") +
      `<div>${lines.at(-1)}</div></div>`;
    const divs = await parseMail(await compose({ html }));
    ok(divs);
    assert.equal(divs.candidates.length, 1);
    assert.deepEqual(parseCsr(divs.candidates[0]!.data).der, f.bobDer);
  });

  it("reads text and HTML alternatives of the same request once", async () => {
    const m = await parseMail(await compose({ text: f.alicePem, html: `<pre>${f.alicePem}</pre>` }));
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.equal(m.candidates[0]!.name, "body");
  });

  it("reads requests inside multipart/alternative", async () => {
    // A part of its own among the alternatives (nodemailer's `alternatives`)...
    const m = await parseMail(
      await compose({
        text: "see the request",
        alternatives: [{ contentType: "application/pkcs10", content: f.aliceDer, filename: "alice.p10" }],
      }),
    );
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["alice.p10"],
    );
    // ... and an alternative nested in mixed, written by hand, with the request in the HTML only.
    const raw = handMade(
      ["From: alice@genfic.com", "Content-Type: multipart/mixed; boundary=outer"],
      [
        "--outer",
        'Content-Type: multipart/alternative; boundary="inner"',
        "",
        "--inner",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        "(HTML mail)",
        "--inner",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        `<pre>${f.bobPem.replace(/=/g, "=3D")}</pre>`,
        "--inner--",
        "--outer",
        "Content-Type: application/octet-stream; name=alice.csr",
        "Content-Disposition: attachment; filename=alice.csr",
        "",
        f.alicePem,
        "--outer--",
      ].join("\n"),
    );
    const h = await parseMail(raw);
    ok(h);
    assert.deepEqual(
      h.candidates.map((c) => c.name),
      ["body", "alice.csr"],
    );
    assert.deepEqual(parseCsr(h.candidates[0]!.data).der, f.bobDer);
  });

  it("follows forwarded messages (message/rfc822) down to maxDepth", async () => {
    const inner = await compose({
      from: "Bob <bob@genfic.com>",
      text: `my request:\n${f.bobPem}`,
      attachments: [
        { filename: "alice.csr", content: f.alicePem },
        { filename: "notes.pdf", content: Buffer.from("%PDF-1.4 ..."), contentType: "application/pdf" },
      ],
    });
    const m = await parseMail(
      await compose({
        text: "Forwarding Bob's mail.",
        attachments: [{ filename: "fwd.eml", content: inner, contentType: "message/rfc822" }],
      }),
    );
    ok(m);
    assert.equal(m.from, "alice@genfic.com", "the outer From");
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["body", "alice.csr"],
    );
    assert.deepEqual(parseCsr(m.candidates[0]!.data).der, f.bobDer);
    assert.deepEqual(m.notes, [
      "ignored attachment notes.pdf (application/pdf) in forwarded message fwd.eml",
    ]);

    // Forwarded as an attachment disposition, and a message/rfc822 part written by hand.
    const asAttachment = await parseMail(
      await compose({
        attachments: [
          {
            filename: "fwd.eml",
            content: inner,
            contentType: "message/rfc822",
            contentDisposition: "attachment",
          },
        ],
      }),
    );
    assert.equal(asAttachment.candidates.length, 2);

    // Four levels deep: the default (3) does not look into the innermost one.
    let nested = await compose({
      from: "l4@genfic.com",
      attachments: [{ filename: "l4.csr", content: f.bobPem }],
    });
    for (const level of [3, 2, 1]) {
      nested = await compose({
        from: `l${level}@genfic.com`,
        attachments: [
          { filename: `l${level}.csr`, content: level === 1 ? f.alicePem : "nothing" },
          { filename: `l${level + 1}.eml`, content: nested, contentType: "message/rfc822" },
        ],
      });
    }
    const top = await compose({
      attachments: [{ filename: "l1.eml", content: nested, contentType: "message/rfc822" }],
    });
    const deep = await parseMail(top);
    ok(deep);
    assert.deepEqual(
      deep.candidates.map((c) => c.name),
      ["l1.csr"],
    );
    assert.ok(
      deep.notes.includes(
        "did not look inside forwarded message l4.eml (nested more than 3 deep) in forwarded message l3.eml",
      ),
      deep.notes.join("\n"),
    );
    const deeper = await parseMail(top, { maxDepth: 4 });
    assert.deepEqual(
      deeper.candidates.map((c) => c.name),
      ["l1.csr", "l4.csr"],
    );
    const flat = await parseMail(top, { maxDepth: 0 });
    assert.deepEqual(flat.candidates, []);
    assert.match(
      flat.notes.join("\n"),
      /did not look inside forwarded message l1\.eml \(nested more than 0 deep\)/,
    );
  });

  it("finds nothing, without rejecting, in a mail with no request", async () => {
    const m = await parseMail(
      await compose({
        text: "Hi, how do I get a certificate?",
        html: "<p>Hi, how do I get a <b>certificate</b>?</p>",
        attachments: [
          { filename: "report.pdf", content: Buffer.from("%PDF-1.4"), contentType: "application/pdf" },
          { filename: "logo.png", content: randomBytes(64), contentType: "image/png", cid: "logo@x" },
        ],
      }),
    );
    ok(m);
    assert.deepEqual(m.candidates, []);
    assert.deepEqual(m.notes.toSorted(), [
      "ignored attachment logo.png (image/png)",
      "ignored attachment report.pdf (application/pdf)",
    ]);
    const bare = await parseMail(await compose({ text: "nothing here" }));
    ok(bare);
    assert.deepEqual(bare.candidates, []);
    assert.deepEqual(bare.notes, []);
  });

  it("notes and drops an oversized attachment (5 MB of garbage named x.csr)", async () => {
    const big = randomBytes(5 * 1024 * 1024);
    const m = await parseMail(
      await compose({
        attachments: [
          { filename: "x.csr", content: big },
          { filename: "alice.csr", content: f.alicePem },
        ],
      }),
    );
    ok(m);
    assert.deepEqual(m.notes, ["attachment x.csr is 5242880 bytes (over 65536)"]);
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["alice.csr"],
    );
  });

  it("hands over a certificate attached instead of a request, labelled CERTIFICATE", async () => {
    const m = await parseMail(
      await compose({ attachments: [{ filename: "mycert.pem", content: f.certPem }] }),
    );
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.equal(m.candidates[0]!.name, "mycert.pem");
    assert.equal(m.candidates[0]!.pemLabel, "CERTIFICATE");
    assert.throws(
      () => parseCsr(m.candidates[0]!.data),
      /not a PKCS#10 certificate request \(found a CERTIFICATE/,
    );
    // A certificate in the body (a quoted earlier reply, a signature) is not a candidate.
    const body = await parseMail(await compose({ text: `Here is my old one:\n${f.certPem}` }));
    ok(body);
    assert.deepEqual(body.candidates, []);
  });

  it("warns about a private key sent along, and never hands it over", async () => {
    const m = await parseMail(
      await compose({
        text: `key:\n${f.keyPem}`,
        attachments: [{ filename: "alice.pem", content: `${f.keyPem}${f.alicePem}` }],
      }),
    );
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => [c.name, c.pemLabel]),
      [["alice.pem", "CERTIFICATE REQUEST"]],
    );
    assert.equal(m.notes.length, 2);
    for (const n of m.notes) assert.match(n, /holds a private key \(PRIVATE KEY\).*make a new key/);
  });

  it("reads a request from a text/plain attachment of any name", async () => {
    const m = await parseMail(
      await compose({ attachments: [{ filename: "my request.txt", content: f.alicePem }] }),
    );
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["my request.txt"],
    );
    const none = await parseMail(
      await compose({ attachments: [{ filename: "readme.txt", content: "hello" }] }),
    );
    assert.deepEqual(none.notes, ["ignored attachment readme.txt (text/plain)"]);
  });

  it("notes attachments that hold no request and keeps names safe to show", async () => {
    const m = await parseMail(
      await compose({
        attachments: [
          { filename: "../../etc/evil.csr", content: "just text, no PEM" },
          { filename: "empty.csr", content: "" },
          { filename: "other.pem", content: "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n" },
          { filename: "trunc.pem", content: f.alicePem.slice(0, 120) },
        ],
      }),
    );
    ok(m);
    assert.deepEqual(m.candidates, []);
    assert.deepEqual(m.notes, [
      "attachment evil.csr holds no certificate request (neither PEM nor DER)",
      "attachment empty.csr is empty",
      "ignored a X509 CRL PEM block in attachment other.pem",
      "the CERTIFICATE REQUEST PEM block in attachment trunc.pem has no END line",
    ]);
  });

  it("reads a single-part request message and RFC 2231 file names", async () => {
    const single = await parseMail(
      handMade(
        ["From: alice@genfic.com", "Content-Type: application/pkcs10", "Content-Transfer-Encoding: base64"],
        f.aliceDer.toString("base64"),
      ),
    );
    ok(single);
    assert.deepEqual(
      single.candidates.map((c) => c.name),
      ["attachment#1"],
    );
    assert.deepEqual(single.candidates[0]!.data, f.aliceDer);
    const intl = await parseMail(
      handMade(
        ["From: alice@genfic.com", "Content-Type: multipart/mixed; boundary=X"],
        [
          "--X",
          "Content-Type: application/octet-stream",
          "Content-Disposition: attachment; filename*=utf-8''J%C3%BCrgen%20req.csr",
          "",
          f.alicePem,
          "--X--",
        ].join("\n"),
      ),
    );
    ok(intl);
    assert.deepEqual(
      intl.candidates.map((c) => c.name),
      ["Jürgen req.csr"],
    );
  });

  it("ignores S/MIME signature parts without a note", async () => {
    const m = await parseMail(
      await compose({
        text: f.alicePem,
        attachments: [
          { filename: "smime.p7s", content: randomBytes(300), contentType: "application/pkcs7-signature" },
        ],
      }),
    );
    ok(m);
    assert.equal(m.candidates.length, 1);
    assert.deepEqual(m.notes, []);
  });
});
