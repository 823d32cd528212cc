/**
 * Shared helpers for the parseMail tests (a *.test.ts file so the build leaves it out; it holds
 * no tests and registers nothing when imported): openssl-made requests and a certificate, a
 * message composer, a hand-written message builder and small assertions.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before } from "node:test";
import MailComposer from "nodemailer/lib/mail-composer";
import type { MailComposerOptions } from "nodemailer/lib/mail-composer";
import { parseCsr } from "../x509/csr.js";
import { openssl, tempDir } from "../x509/testkit.test.js";
import type { ParsedMail } from "./parse.js";

/** Requests and a certificate made by openssl: PEM text and DER bytes. */
export interface MailFixtures {
  alicePem: string;
  aliceDer: Buffer;
  bobPem: string;
  bobDer: Buffer;
  certPem: string;
  keyPem: string;
}

function makeCsr(t: ReturnType<typeof tempDir>, name: string, cn: string): { pem: string; der: Buffer } {
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

/**
 * Registers, in the calling test file, a `before` hook that makes the fixtures in a temp dir and
 * an `after` hook that removes it. Call it at the top level of a test file; the object it returns
 * is filled in by the time the tests run.
 */
export function useMailFixtures(): MailFixtures {
  const f: MailFixtures = {
    alicePem: "",
    aliceDer: Buffer.alloc(0),
    bobPem: "",
    bobDer: Buffer.alloc(0),
    certPem: "",
    keyPem: "",
  };
  let t: ReturnType<typeof tempDir> | undefined;
  before(() => {
    t = tempDir();
    const a = makeCsr(t, "alice", "alice@genfic.com");
    const b = makeCsr(t, "bob", "bob.genfic.com");
    f.alicePem = a.pem;
    f.aliceDer = a.der;
    f.bobPem = b.pem;
    f.bobDer = b.der;
    f.keyPem = readFileSync(t.file("alice.key"), "utf8");
    const r = openssl(
      [
        "req",
        "-x509",
        "-key",
        "alice.key",
        "-subj",
        "/CN=alice@genfic.com",
        "-days",
        "30",
        "-out",
        "cert.pem",
      ],
      t.dir,
    );
    assert.equal(r.status, 0, r.out);
    f.certPem = readFileSync(t.file("cert.pem"), "utf8");
  });
  after(() => t?.done());
  return f;
}

/** Builds a message with nodemailer's MailComposer; From and To default to a requester and the CA. */
export async function compose(opts: MailComposerOptions): Promise<Buffer> {
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
export function handMade(headers: string[], body: string): Buffer {
  return Buffer.from(`${headers.join("\r\n")}\r\n\r\n${body.replace(/\r?\n/g, "\r\n")}`, "utf8");
}

export const CN = (data: Buffer): string => {
  const dn = parseCsr(data).subject;
  return JSON.stringify(dn);
};

export function ok(m: ParsedMail): void {
  assert.equal(m.rejectReason, undefined, `unexpected rejectReason: ${m.rejectReason}`);
}

/** `n` bytes from the seeded PRNG `r` (so a fuzz failure can be replayed). */
export function randomBytesFrom(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}
