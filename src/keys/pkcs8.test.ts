import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DEFAULT_PBKDF2_ITERATIONS,
  decryptPkcs8,
  deriveAhead,
  derivationsAhead,
  encryptPkcs8,
  isEncryptedPrivateKeyPem,
  readPrivateKeyPem,
} from "./pkcs8.js";
import { generateKeyPair } from "./generate.js";
import { KEY_TYPES } from "./types.js";
import { isSigilError, ErrorCodes } from "../errors.js";

const PASS = Buffer.from("correct horse battery staple");
const WRONG = Buffer.from("incorrect horse battery staple");
const LOW = { iterations: 1000, insecureAllowLowIterations: true };
let dir: string;

before(() => (dir = mkdtempSync(join(tmpdir(), "sigil-pkcs8-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
}

const spkiHex = (k: KeyObject): string =>
  createPublicKey(k).export({ type: "spki", format: "der" }).toString("hex");

const wrong = (name?: string) => (e: unknown) => {
  assert.ok(isSigilError(e, ErrorCodes.WRONG_PASSPHRASE), String(e));
  assert.equal((e as Error).message, name ? `wrong passphrase for key ${name}` : "wrong passphrase for key");
  assert.ok(!(e as Error).message.includes(WRONG.toString()));
  return true;
};

for (const kt of KEY_TYPES) {
  test(`round trip ${kt}`, async () => {
    const { privateKey } = generateKeyPair(kt);
    const pem = await encryptPkcs8(privateKey, PASS, LOW);
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.ok(isEncryptedPrivateKeyPem(pem));
    const back = await decryptPkcs8(pem, PASS, "ca1");
    assert.equal(spkiHex(back), spkiHex(privateKey));
    await assert.rejects(decryptPkcs8(pem, WRONG, "ca1"), wrong("ca1"));
  });
}

test("iterations below 600,000 need the explicit test option", async () => {
  const { privateKey } = generateKeyPair("p256");
  assert.equal(DEFAULT_PBKDF2_ITERATIONS, 600_000);
  await assert.rejects(encryptPkcs8(privateKey, PASS, { iterations: 599_999 }), (e: unknown) =>
    isSigilError(e, ErrorCodes.CONFIG),
  );
  await assert.rejects(encryptPkcs8(privateKey, PASS, { iterations: 0, insecureAllowLowIterations: true }));
});

test("every wrong passphrase is WRONG_PASSPHRASE (also when the padding happens to match)", async () => {
  const { privateKey } = generateKeyPair("ed25519");
  const pem = await encryptPkcs8(privateKey, PASS, { iterations: 1, insecureAllowLowIterations: true });
  for (let i = 0; i < 600; i++) await assert.rejects(decryptPkcs8(pem, Buffer.from(`guess-${i}`)), wrong());
});

test("interop: openssl and certtool read our 600,000-iteration PBES2 key", async () => {
  const { privateKey } = generateKeyPair("p256");
  const pem = await encryptPkcs8(privateKey, PASS);
  const f = join(dir, "ours.pem");
  writeFileSync(f, pem);
  const ok = run("openssl", ["pkey", "-in", f, "-passin", `pass:${PASS}`, "-noout"]);
  assert.equal(ok.status, 0, ok.out);
  const pub = run("openssl", [
    "pkey",
    "-in",
    f,
    "-passin",
    `pass:${PASS}`,
    "-pubout",
    "-outform",
    "DER",
    "-out",
    f + ".spki",
  ]);
  assert.equal(pub.status, 0, pub.out);
  assert.equal(readFileSync(f + ".spki").toString("hex"), spkiHex(privateKey));
  const bad = run("openssl", ["pkey", "-in", f, "-passin", `pass:${WRONG}`, "-noout"]);
  assert.notEqual(bad.status, 0);
  const asn = run("openssl", ["asn1parse", "-in", f]);
  assert.equal(asn.status, 0, asn.out);
  assert.match(asn.out, /:PBES2\b/);
  assert.match(asn.out, /:PBKDF2\b/);
  assert.match(asn.out, /:hmacWithSHA256\b/);
  assert.match(asn.out, /INTEGER\s+:0927C0\b/); // 600000
  assert.match(asn.out, /:aes-256-cbc\b/);
  assert.match(asn.out, /\[HEX DUMP\]:[0-9A-F]{32}\n/); // 16-byte salt / IV

  const certtool = run("certtool", ["--version"]);
  if (certtool.status !== 0) return; // certtool not installed
  const ct = run("certtool", ["-k", "--password", PASS.toString(), "--infile", f]);
  assert.equal(ct.status, 0, ct.out);
  assert.match(ct.out, /Public Key Info:|Private Key Info/);
  const ctBad = run("certtool", ["-k", "--password", WRONG.toString(), "--infile", f]);
  assert.notEqual(ctBad.status, 0);
});

const OPENSSL_VARIANTS: [string, string[]][] = [
  ["aes-256-cbc + hmacWithSHA256", ["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"]],
  ["aes-128-cbc + hmacWithSHA512", ["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA512"]],
  ["aes-192-cbc + hmacWithSHA384", ["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA384"]],
  ["aes-256-cbc + hmacWithSHA1 (legacy)", ["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1"]],
  ["scrypt + aes-256-cbc", ["-scrypt"]],
];

for (const [label, flags] of OPENSSL_VARIANTS) {
  test(`interop: decryptPkcs8 reads openssl pkcs8 -topk8 ${label}`, async () => {
    const plain = join(dir, `plain-${flags.join("")}.pem`);
    const enc = join(dir, `enc-${flags.join("")}.pem`);
    const g = run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      plain,
    ]);
    assert.equal(g.status, 0, g.out);
    const t = run("openssl", [
      "pkcs8",
      "-topk8",
      ...flags,
      "-in",
      plain,
      "-out",
      enc,
      "-passout",
      `pass:${PASS}`,
    ]);
    assert.equal(t.status, 0, t.out);
    const key = await decryptPkcs8(readFileSync(enc, "utf8"), PASS, "imported");
    assert.equal(spkiHex(key), spkiHex(createPrivateKey(readFileSync(plain))));
    await assert.rejects(decryptPkcs8(readFileSync(enc, "utf8"), WRONG, "imported"), wrong("imported"));
  });
}

test("PBES1 (openssl -v1) is refused as unsupported, not as a wrong passphrase", async () => {
  const plain = join(dir, "v1-plain.pem");
  const enc = join(dir, "v1-enc.pem");
  run("openssl", ["genpkey", "-algorithm", "ED25519", "-out", plain]);
  const t = run("openssl", [
    "pkcs8",
    "-topk8",
    "-v1",
    "PBE-SHA1-3DES",
    "-in",
    plain,
    "-out",
    enc,
    "-passout",
    `pass:${PASS}`,
  ]);
  assert.equal(t.status, 0, t.out);
  await assert.rejects(readPrivateKeyPem(readFileSync(enc, "utf8"), PASS), (e: unknown) =>
    isSigilError(e, ErrorCodes.BAD_INPUT),
  );
});

test("readPrivateKeyPem: plain PKCS#8, traditional RSA/EC (with EC PARAMETERS), legacy-encrypted", async () => {
  const { privateKey } = generateKeyPair("p256");
  const want = spkiHex(privateKey);
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  assert.equal(spkiHex(await readPrivateKeyPem(pkcs8)), want);
  assert.equal(
    spkiHex(await readPrivateKeyPem(pkcs8, PASS)),
    want,
    "a passphrase given for a plain key is ignored",
  );
  const sec1 = privateKey.export({ type: "sec1", format: "pem" }) as string;
  const withParams = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n" + sec1;
  assert.equal(spkiHex(await readPrivateKeyPem(withParams)), want);

  const rsa = generateKeyPair("rsa2048").privateKey;
  const pkcs1 = rsa.export({ type: "pkcs1", format: "pem" }) as string;
  assert.equal(spkiHex(await readPrivateKeyPem(pkcs1)), spkiHex(rsa));
  const legacy = rsa.export({
    type: "pkcs1",
    format: "pem",
    cipher: "aes-256-cbc",
    passphrase: PASS,
  }) as string;
  assert.match(legacy, /Proc-Type: 4,ENCRYPTED/);
  assert.equal(spkiHex(await readPrivateKeyPem(legacy, PASS)), spkiHex(rsa));
  await assert.rejects(readPrivateKeyPem(legacy, WRONG, "old"), wrong("old"));
  await assert.rejects(readPrivateKeyPem(legacy), (e: unknown) => isSigilError(e, ErrorCodes.NO_PASSPHRASE));

  const enc = await encryptPkcs8(privateKey, PASS, LOW);
  assert.equal(spkiHex(await readPrivateKeyPem(enc, PASS)), want);
  await assert.rejects(readPrivateKeyPem(enc), (e: unknown) => isSigilError(e, ErrorCodes.NO_PASSPHRASE));
});

test("malformed input is BAD_INPUT", async () => {
  const bad = (e: unknown): boolean => isSigilError(e, ErrorCodes.BAD_INPUT);
  await assert.rejects(readPrivateKeyPem("hello"), bad);
  await assert.rejects(
    readPrivateKeyPem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    bad,
  );
  await assert.rejects(
    decryptPkcs8("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", PASS),
    bad,
  );
  const enc = await encryptPkcs8(generateKeyPair("p256").privateKey, PASS, LOW);
  const der = Buffer.from(enc.replace(/-----[^-]+-----|\s/g, ""), "base64");
  // Truncate the ciphertext by one byte (and fix nothing): the DER no longer parses.
  const cut = der.subarray(0, der.length - 1);
  const pemCut = `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${cut.toString("base64")}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
  await assert.rejects(decryptPkcs8(pemCut, PASS), bad);
});

test("deriveAhead: the derivation is taken once, by the open with the same passphrase", async () => {
  const { privateKey } = await generateKeyPair("p256");
  const pem = await encryptPkcs8(privateKey, PASS, LOW);
  assert.equal(deriveAhead(pem, PASS), true);
  assert.equal(derivationsAhead(), 1);
  assert.equal(deriveAhead(pem, PASS), true, "a second call for the same key starts nothing more");
  assert.equal(derivationsAhead(), 1);
  const k = await decryptPkcs8(pem, PASS, "ca");
  assert.equal(spkiHex(k), spkiHex(privateKey));
  assert.equal(derivationsAhead(), 0, "taken");
  // Taken once: the next open derives afresh and still works.
  assert.equal(spkiHex(await decryptPkcs8(pem, PASS, "ca")), spkiHex(privateKey));
});

test("deriveAhead: a derivation under one passphrase never opens the key for another", async () => {
  const { privateKey } = await generateKeyPair("p256");
  const pem = await encryptPkcs8(privateKey, PASS, LOW);
  // Derived ahead under the right passphrase, opened with a wrong one: refused, and the
  // derivation is thrown away (not kept for a later caller).
  deriveAhead(pem, PASS);
  await assert.rejects(decryptPkcs8(pem, WRONG, "ca"), wrong("ca"));
  assert.equal(derivationsAhead(), 0);
  // Derived ahead under a wrong passphrase, opened with the right one: derived afresh.
  deriveAhead(pem, WRONG);
  assert.equal(spkiHex(await decryptPkcs8(pem, PASS, "ca")), spkiHex(privateKey));
  assert.equal(derivationsAhead(), 0);
  // Same length, one byte apart: still another passphrase.
  const near = Buffer.from(PASS);
  near[0]! ^= 1;
  deriveAhead(pem, near);
  assert.equal(spkiHex(await decryptPkcs8(pem, PASS, "ca")), spkiHex(privateKey));
});

test("deriveAhead: nothing is started for what it should not guess at", async () => {
  const { privateKey } = await generateKeyPair("p256");
  assert.equal(deriveAhead("not a key", PASS), false);
  assert.equal(deriveAhead(privateKey.export({ type: "pkcs8", format: "pem" }) as string, PASS), false);
  const pem = await encryptPkcs8(privateKey, PASS, LOW);
  assert.equal(deriveAhead(pem, Buffer.alloc(0)), false, "an empty passphrase");
  // More than four times Sigil's count: a wrong guess would hold the process up.
  const heavy = await encryptPkcs8(privateKey, PASS, { iterations: 4 * DEFAULT_PBKDF2_ITERATIONS + 1 });
  assert.equal(deriveAhead(heavy, PASS), false);
  assert.equal(derivationsAhead(), 0);
});
