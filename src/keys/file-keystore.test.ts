import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  FileKeyStore,
  fileKeyRef,
  parseFileKeyRef,
  writePublicFile,
  writeSecretFile,
} from "./file-keystore.js";
import { generateKeyPair } from "./generate.js";
import { signerAlgorithm } from "./node-signer.js";
import { isSigilError, ErrorCodes } from "../errors.js";

const PASS = Buffer.from("a good passphrase");
const OPTS = { pbkdf2Iterations: 1000, insecureAllowLowIterations: true };
let root: string;
before(() => (root = mkdtempSync(join(tmpdir(), "sigil-keys-"))));
after(() => rmSync(root, { recursive: true, force: true }));

const mode = (p: string): number => statSync(p).mode & 0o777;
const code = (c: string) => (e: unknown) => isSigilError(e, c as never);

test("generate writes NAME.key.pem 0600 in a 0700 dir; open signs; wrong passphrase and missing key", async () => {
  const dir = join(root, "a", "keys");
  const ks = new FileKeyStore(dir, OPTS);
  const ref = await ks.generate("genfic", "p256", PASS);
  assert.equal(ref, "file:genfic");
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, "genfic.key.pem")), 0o600);
  assert.match(readFileSync(join(dir, "genfic.key.pem"), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.deepEqual(readdirSync(dir), ["genfic.key.pem"]);
  assert.equal(await ks.exists(ref), true);

  const s = await ks.open(ref, PASS);
  assert.equal(s.keyType, "p256");
  const sig = await s.sign(Buffer.from("x"));
  assert.ok(
    verify("sha256", Buffer.from("x"), createPublicKey({ key: s.spki, format: "der", type: "spki" }), sig),
  );

  await assert.rejects(ks.open(ref, Buffer.from("not it")), (e: unknown) => {
    assert.ok(isSigilError(e, ErrorCodes.WRONG_PASSPHRASE));
    assert.equal((e as Error).message, "wrong passphrase for key genfic");
    return true;
  });
  await assert.rejects(ks.open("file:nokey", PASS), code(ErrorCodes.KEY_NOT_FOUND));
  await assert.rejects(ks.generate("genfic", "p256", PASS), code(ErrorCodes.FILE_EXISTS));
  await assert.rejects(
    ks.importKey("genfic", generateKeyPair("p256").privateKey, PASS),
    code(ErrorCodes.FILE_EXISTS),
  );
  // the original key is untouched and no temporary files were left behind
  assert.equal((await ks.open(ref, PASS)).spki.toString("hex"), s.spki.toString("hex"));
  assert.deepEqual(readdirSync(dir), ["genfic.key.pem"]);

  await ks.remove(ref);
  assert.equal(await ks.exists(ref), false);
  await ks.remove(ref); // idempotent
});

test("all key types round trip through the store", async () => {
  const ks = new FileKeyStore(join(root, "types"), OPTS);
  for (const kt of ["rsa2048", "p384", "ed25519"] as const) {
    const ref = await ks.generate(`k-${kt}`, kt, PASS);
    const s = await ks.open(ref, PASS);
    assert.equal(s.keyType, kt);
    const sig = await s.sign(Buffer.from("data"));
    const pub = createPublicKey({ key: s.spki, format: "der", type: "spki" });
    assert.ok(verify(signerAlgorithm(kt).hash, Buffer.from("data"), pub, sig));
  }
});

test("concurrent generate of one name: exactly one wins", async () => {
  const ks = new FileKeyStore(join(root, "race"), OPTS);
  const results = await Promise.allSettled([
    ks.generate("same", "p256", PASS),
    ks.generate("same", "p256", PASS),
    ks.importKey("same", generateKeyPair("p256").privateKey, PASS),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  for (const r of results)
    if (r.status === "rejected") assert.ok(isSigilError(r.reason, ErrorCodes.FILE_EXISTS), String(r.reason));
  await ks.open("file:same", PASS);
  assert.deepEqual(readdirSync(join(root, "race")), ["same.key.pem"]);
});

test("an existing looser key directory is tightened to 0700", async () => {
  const dir = join(root, "loose");
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const ks = new FileKeyStore(dir, OPTS);
  await ks.importKey("k", generateKeyPair("ed25519").privateKey, PASS);
  assert.equal(mode(dir), 0o700);
});

test("keyRefs and names are checked", async () => {
  const ks = new FileKeyStore(join(root, "names"), OPTS);
  const bad = code(ErrorCodes.BAD_INPUT);
  for (const ref of [
    "genfic",
    "pkcs11:token=x",
    "file:",
    "file:../etc/passwd",
    "file:.hidden",
    "file:a/b",
    "file:" + "x".repeat(65),
  ])
    await assert.rejects(ks.open(ref, PASS), bad, ref);
  await assert.rejects(ks.generate("../x", "p256", PASS), bad);
  await assert.rejects(ks.generate("ok-name", "p256", Buffer.alloc(0)), bad);
  assert.equal(fileKeyRef("genfic-user.2"), "file:genfic-user.2");
  assert.equal(parseFileKeyRef("file:A_b.c-d"), "A_b.c-d");
});

test("PBKDF2 iterations below 600,000 need the explicit test option", () => {
  assert.throws(() => new FileKeyStore(root, { pbkdf2Iterations: 1000 }), code(ErrorCodes.CONFIG));
  assert.doesNotThrow(() => new FileKeyStore(root));
});

test("writeSecretFile / writePublicFile: exact modes despite umask, atomic, no overwrite unless asked", async () => {
  const dir = join(root, "files");
  mkdirSync(dir);
  const old = process.umask(0o077);
  try {
    const sec = join(dir, "host.key");
    const pub = join(dir, "host.req");
    await writeSecretFile(sec, "SECRET");
    await writePublicFile(pub, Buffer.from("REQ"));
    assert.equal(mode(sec), 0o600);
    assert.equal(mode(pub), 0o644);
    await assert.rejects(writeSecretFile(sec, "OTHER"), code(ErrorCodes.FILE_EXISTS));
    await assert.rejects(writePublicFile(pub, "OTHER"), code(ErrorCodes.FILE_EXISTS));
    assert.equal(readFileSync(sec, "utf8"), "SECRET");
    await writePublicFile(pub, "NEW", { overwrite: true });
    await writeSecretFile(sec, "NEW2", { overwrite: true });
    assert.equal(readFileSync(pub, "utf8"), "NEW");
    assert.equal(readFileSync(sec, "utf8"), "NEW2");
    assert.equal(mode(sec), 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ["host.key", "host.req"]);
    // a pre-existing 0644 file replaced by overwrite gets 0600
    writeFileSync(join(dir, "loose.key"), "x", { mode: 0o644 });
    await writeSecretFile(join(dir, "loose.key"), "y", { overwrite: true });
    assert.equal(mode(join(dir, "loose.key")), 0o600);
  } finally {
    process.umask(old);
  }
  await assert.rejects(writeSecretFile(join(root, "no-such-dir", "x"), "y"), code(ErrorCodes.FILE_NOT_FOUND));
});
