/** parseMail: limits, broken messages and fuzz. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { compose, handMade, ok, randomBytesFrom, useMailFixtures } from "./parse-kit.test.js";
import { DEFAULT_MAIL_LIMITS, parseMail } from "./parse.js";
import type { ParsedMail } from "./parse.js";

const f = useMailFixtures();

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
