import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import MailComposer from "nodemailer/lib/mail-composer";
import type { MailComposerOptions } from "nodemailer/lib/mail-composer";
import { parseCsr } from "../x509/csr.js";
import { openssl, tempDir } from "../x509/testkit.test.js";
import { DEFAULT_MAIL_LIMITS, addressDomain, parseMail } from "./parse.js";
import type { ParsedMail } from "./parse.js";

const t = tempDir();
/** Requests and a certificate made by openssl: PEM text and DER bytes. */
const f = {
  alicePem: "",
  aliceDer: Buffer.alloc(0) as Buffer,
  bobPem: "",
  bobDer: Buffer.alloc(0) as Buffer,
  certPem: "",
  keyPem: "",
};

function makeCsr(name: string, cn: string): { pem: string; der: Buffer } {
  const subj = `/O=Gentoo Fictional, Inc./CN=${cn}`;
  let r = openssl(
    ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subj].concat([
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-outform",
      "PEM",
    ]),
    t.dir,
  );
  assert.equal(r.status, 0, r.out);
  r = openssl(["req", "-in", `${name}.csr`, "-outform", "DER", "-out", `${name}.der`], t.dir);
  assert.equal(r.status, 0, r.out);
  return { pem: readFileSync(t.file(`${name}.csr`), "utf8"), der: readFileSync(t.file(`${name}.der`)) };
}

before(() => {
  const a = makeCsr("alice", "alice@genfic.com");
  const b = makeCsr("bob", "bob.genfic.com");
  f.alicePem = a.pem;
  f.aliceDer = a.der;
  f.bobPem = b.pem;
  f.bobDer = b.der;
  f.keyPem = readFileSync(t.file("alice.key"), "utf8");
  const r = openssl(
    ["req", "-x509", "-key", "alice.key", "-subj", "/CN=alice@genfic.com", "-days", "30", "-out", "cert.pem"],
    t.dir,
  );
  assert.equal(r.status, 0, r.out);
  f.certPem = readFileSync(t.file("cert.pem"), "utf8");
});
after(() => t.done());

/** Builds a message with nodemailer's MailComposer; From and To default to a requester and the CA. */
async function compose(opts: MailComposerOptions): Promise<Buffer> {
  return new MailComposer({
    from: "Alice Example <Alice@GenFic.com>",
    to: "ca@genfic.com",
    subject: "certificate request",
    ...opts,
  })
    .compile()
    .build();
}

/** A hand-written message: header lines, a blank line, the body; LF turned into CRLF. */
function handMade(headers: string[], body: string): Buffer {
  return Buffer.from(`${headers.join("\r\n")}\r\n\r\n${body.replace(/\r?\n/g, "\r\n")}`, "utf8");
}

const CN = (data: Buffer): string => {
  const dn = parseCsr(data).subject;
  return JSON.stringify(dn);
};

function ok(m: ParsedMail): void {
  assert.equal(m.rejectReason, undefined, `unexpected rejectReason: ${m.rejectReason}`);
}

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

describe("parseMail: limits", () => {
  it("has the documented defaults", () => {
    assert.deepEqual(
      { ...DEFAULT_MAIL_LIMITS },
      { maxMessageBytes: 10 * 1024 * 1024, maxAttachments: 20, maxCandidateBytes: 65536, maxDepth: 3 },
    );
  });

  it("rejects 100 attachments", async () => {
    const attachments = Array.from({ length: 100 }, (_, i) => ({
      filename: `r${i}.csr`,
      content: f.alicePem,
    }));
    const m = await parseMail(await compose({ attachments }));
    assert.equal(m.rejectReason, "too many attachments (100; at most 20)");
    assert.deepEqual(m.candidates, []);
    assert.equal(m.from, "alice@genfic.com", "the envelope is still read, for the reply");
  });

  it("counts attachments of forwarded messages too, and honours a lower limit", async () => {
    const inner = await compose({
      attachments: [
        { filename: "a.csr", content: f.alicePem },
        { filename: "b.csr", content: f.bobPem },
      ],
    });
    const raw = await compose({
      attachments: [{ filename: "fwd.eml", content: inner, contentType: "message/rfc822" }],
    });
    assert.equal((await parseMail(raw, { maxAttachments: 3 })).candidates.length, 2);
    const m = await parseMail(raw, { maxAttachments: 2 });
    assert.equal(m.rejectReason, "too many attachments (3; at most 2)");
    assert.deepEqual(m.candidates, []);
  });

  it("rejects a message over maxMessageBytes before parsing it", async () => {
    const raw = await compose({ attachments: [{ filename: "alice.csr", content: f.alicePem }] });
    const m = await parseMail(raw, { maxMessageBytes: 500 });
    assert.equal(m.rejectReason, `the message is too large (${raw.length} bytes; at most 500)`);
    assert.equal(m.from, undefined, "not parsed at all");
    const huge = Buffer.concat([Buffer.from("From: a@b.c\r\n\r\n"), Buffer.alloc(11 * 1024 * 1024, 0x61)]);
    assert.equal(
      (await parseMail(huge)).rejectReason,
      `the message is too large (${huge.length} bytes; at most 10485760)`,
    );
  });

  it("applies maxCandidateBytes to attachments and to PEM blocks in the body", async () => {
    const m = await parseMail(
      await compose({ text: f.bobPem, attachments: [{ filename: "alice.der", content: f.aliceDer }] }),
      { maxCandidateBytes: 200 },
    );
    ok(m);
    assert.deepEqual(m.candidates, []);
    assert.deepEqual(m.notes, [
      `the CERTIFICATE REQUEST PEM block in the body is ${f.bobPem.length} bytes (over 200)`,
      `attachment alice.der is ${f.aliceDer.length} bytes (over 200)`,
    ]);
  });

  it("ignores nonsense limits in favour of the defaults", async () => {
    const raw = await compose({ attachments: [{ filename: "alice.csr", content: f.alicePem }] });
    const m = await parseMail(raw, { maxAttachments: Number.NaN, maxMessageBytes: -1 });
    ok(m);
    assert.equal(m.candidates.length, 1);
  });
});

describe("parseMail: broken messages", () => {
  const csrPart = (pem: string): string =>
    [
      "Content-Type: application/pkcs10; name=r.csr",
      "Content-Disposition: attachment; filename=r.csr",
      "",
      pem,
    ].join("\n");

  it("reads a multipart body whose closing boundary never comes, with a note", async () => {
    const raw = handMade(
      ["From: alice@genfic.com", "Content-Type: multipart/mixed; boundary=XX"],
      ["--XX", "Content-Type: text/plain", "", "hello", "--XX", csrPart(f.alicePem)].join("\n"),
    );
    const m = await parseMail(raw);
    ok(m);
    assert.deepEqual(
      m.candidates.map((c) => c.name),
      ["r.csr"],
    );
    assert.deepEqual(m.notes, ["the message's multipart body is not closed; the message may be truncated"]);
  });

  it("rejects a multipart body whose boundary never appears or is missing", async () => {
    const wrong = handMade(
      ["From: alice@genfic.com", "Content-Type: multipart/mixed; boundary=YY"],
      ["--XX", csrPart(f.alicePem), "--XX--"].join("\n"),
    );
    const m = await parseMail(wrong);
    assert.equal(m.rejectReason, 'the multipart/mixed body never uses its boundary "YY"');
    assert.equal(m.from, "alice@genfic.com");
    const missing = handMade(
      ["From: alice@genfic.com", "Content-Type: multipart/mixed"],
      ["--XX", csrPart(f.alicePem), "--XX--"].join("\n"),
    );
    assert.equal(
      (await parseMail(missing)).rejectReason,
      "the multipart/mixed body has no boundary parameter",
    );
  });

  it("rejects what is not an e-mail message", async () => {
    const cases: [string, Buffer, RegExp][] = [
      ["empty", Buffer.alloc(0), /^the message is empty$/],
      [
        "garbage",
        Buffer.concat([Buffer.from([0x00, 0xff, 0x10]), randomBytes(4000)]),
        /does not begin with a header/,
      ],
      ["a PEM file", Buffer.from(f.alicePem), /does not begin with a header field/],
      ["a DER file", f.aliceDer, /does not begin with a header field/],
      ["body only", Buffer.from("\r\nhello\r\n"), /no header \(it starts with an empty line\)/],
      [
        "no blank line",
        Buffer.from(`From: alice@genfic.com\nSubject: x\n${f.alicePem}`),
        /header is malformed/,
      ],
      ["NUL in header", Buffer.from("From: a@b.c\r\nX-\0: y\r\n\r\nhi"), /NUL bytes/],
      [
        "no From",
        handMade(["Subject: hi", "To: ca@genfic.com"], f.alicePem),
        /^the message has no From header$/,
      ],
      [
        "From w/o address",
        handMade(["From: Alice Example"], f.alicePem),
        /^the From header holds no usable address$/,
      ],
      ["From <>", handMade(["From: <>"], "x"), /^the From header holds no usable address$/],
      [
        "header too big",
        handMade(["From: a@b.c", `X-Big: ${"a".repeat(1_100_000)}`], "x"),
        /could not be parsed as MIME/,
      ],
    ];
    for (const [what, raw, reason] of cases) {
      const m = await parseMail(raw);
      assert.match(m.rejectReason ?? "(none)", reason, what);
      assert.ok(!m.rejectReason!.includes("\n"), `${what}: one line`);
      assert.deepEqual(m.candidates, [], what);
    }
  });

  it("accepts a header-only message (no body) and an mbox From_ line", async () => {
    const h = await parseMail(Buffer.from("From: alice@genfic.com\r\nSubject: empty\r\n"));
    ok(h);
    assert.equal(h.subject, "empty");
    assert.deepEqual(h.candidates, []);
    const mbox = await parseMail(
      Buffer.from(`From alice@genfic.com Mon Jan  1 00:00:00 2024\nFrom: alice@genfic.com\n\n${f.alicePem}`),
    );
    ok(mbox);
    assert.equal(mbox.candidates.length, 1);
  });

  it("notes malformed PEM and bad transfer encodings without throwing", async () => {
    const bad64 = f.alicePem.replace(/\n[A-Za-z0-9]/, "\n!!");
    const raw = handMade(
      ["From: alice@genfic.com", "Content-Type: multipart/mixed; boundary=b"],
      [
        "--b",
        "Content-Type: text/plain",
        "",
        bad64,
        "--b",
        "Content-Type: application/pkcs10; name=r.der",
        "Content-Transfer-Encoding: base64",
        "",
        "!!!!@@@@####",
        "--b--",
      ].join("\n"),
    );
    const m = await parseMail(raw);
    ok(m);
    assert.deepEqual(m.candidates, []);
    assert.deepEqual(m.notes, [
      "the CERTIFICATE REQUEST PEM block in the body is malformed (bad base64)",
      "attachment r.der is empty",
    ]);
  });

  it("takes a Uint8Array, and answers a non-buffer without throwing", async () => {
    const raw = await compose({ text: f.alicePem });
    const m = await parseMail(new Uint8Array(raw) as Buffer);
    assert.equal(m.candidates.length, 1);
    const n = await parseMail("From: a@b.c\r\n\r\nhi" as unknown as Buffer);
    assert.equal(n.rejectReason, "the message is not a byte buffer");
  });
});

describe("parseMail: fuzz", () => {
  /** mulberry32: a small seeded PRNG, so a failure can be replayed. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let x = a;
      x = Math.imul(x ^ (x >>> 15), x | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
  }

  it("never throws on 2,000 mutations and truncations of a valid message", async () => {
    const inner = await compose({
      text: f.bobPem,
      attachments: [{ filename: "in.csr", content: f.alicePem }],
    });
    const base = await compose({
      text: `please sign\n${f.alicePem}`,
      html: `<pre>${f.bobPem}</pre>`,
      replyTo: "Alice <alice@genfic.com>",
      headers: { "Return-Path": "<bounce@genfic.com>" },
      attachments: [
        { filename: "alice.csr", content: f.alicePem },
        { filename: "bob.der", content: f.bobDer },
        { filename: "fwd.eml", content: inner, contentType: "message/rfc822" },
        { filename: "a.pdf", content: Buffer.from("%PDF"), contentType: "application/pdf" },
      ],
    });
    ok(await parseMail(base));
    const seed = Number(process.env.SIGIL_FUZZ_SEED ?? 20240501);
    const r = rng(seed);
    const int = (n: number): number => Math.floor(r() * n);
    const tokens = [
      "\r\n",
      "\n",
      "--",
      "\r\n\r\n",
      "=",
      ":",
      "-----BEGIN ",
      "-----END ",
      "boundary=",
      "\0",
      ";",
    ];
    for (let i = 0; i < 2000; i++) {
      let b = Buffer.from(base);
      const steps = 1 + int(4);
      for (let s = 0; s < steps; s++) {
        const pos = int(b.length + 1);
        switch (int(7)) {
          case 0: // truncate
            b = b.subarray(0, pos);
            break;
          case 1: // flip bytes
            for (let k = 0; k < 1 + int(8); k++) if (b.length) b[int(b.length)] = int(256);
            break;
          case 2: // insert random bytes
            b = Buffer.concat([b.subarray(0, pos), randomBytesFrom(r, 1 + int(32)), b.subarray(pos)]);
            break;
          case 3: // delete a range
            b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + int(200))]);
            break;
          case 4: // duplicate a range
            b = Buffer.concat([b.subarray(0, pos + int(300)), b.subarray(pos)]);
            break;
          case 5: // insert a MIME-ish token
            b = Buffer.concat([
              b.subarray(0, pos),
              Buffer.from(tokens[int(tokens.length)]!),
              b.subarray(pos),
            ]);
            break;
          default: // cut from the front (loses the header)
            b = b.subarray(int(Math.min(b.length, 400)));
        }
      }
      let m: ParsedMail;
      try {
        m = await parseMail(b, i % 10 === 0 ? { maxAttachments: int(4), maxDepth: int(3) } : undefined);
      } catch (e) {
        assert.fail(`seed ${seed}, case ${i}: threw ${String(e)}`);
      }
      if (m.rejectReason !== undefined) {
        assert.deepEqual(m.candidates, [], `case ${i}`);
        assert.ok(!m.rejectReason.includes("\n"), `case ${i}: one-line reason`);
      }
      const names = new Set(m.candidates.map((c) => c.name));
      assert.equal(names.size, m.candidates.length, `case ${i}: unique names`);
      for (const c of m.candidates) assert.ok(c.data.length > 0 && c.data.length <= 65536, `case ${i}: size`);
      assert.ok(m.notes.length <= 50, `case ${i}: notes capped`);
    }
  });

  it("stays linear on adversarial PEM-looking text", async () => {
    const noise = "-----BEGIN CERTIFICATE REQUEST-----\n".repeat(20_000) + "-----END A-----\n".repeat(20_000);
    const labels = Array.from({ length: 5_000 }, (_, i) => `-----BEGIN L${i}-----`).join("\n");
    const m = await parseMail(handMade(["From: a@b.c"], `${noise}${labels}\n${f.alicePem}`));
    ok(m);
    assert.deepEqual(m.candidates, [], "the scan stops after 100 blocks");
    assert.ok(m.notes.includes("stopped reading PEM blocks in the body after 100"), m.notes.join("\n"));
  });
});

function randomBytesFrom(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

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
