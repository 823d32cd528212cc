import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createPublicKey, verify } from "node:crypto";
import { isSigilError, ErrorCodes, SigilError } from "../errors.js";
import { FileKeyStore } from "./file-keystore.js";
import { KeyRouter, keyBackendOf } from "./key-router.js";
import { StoreKeyStore, parseStoreKeyRef, storeKeyRef, type SealedKeyRecords } from "./store-keystore.js";

const PASS = Buffer.from("correct horse battery staple");
const OPTS = { pbkdf2Iterations: 1000, insecureAllowLowIterations: true };
const code = (c: string) => (e: unknown) => isSigilError(e, c as never);

/** The port as a database table would keep it: a map, names unique. */
function memoryRecords(): SealedKeyRecords & { rows: Map<string, string> } {
  const rows = new Map<string, string>();
  return {
    rows,
    get: async (name) => rows.get(name),
    put: async (name, pem) => {
      if (rows.has(name)) throw new SigilError(ErrorCodes.FILE_EXISTS, "taken");
      rows.set(name, pem);
    },
    remove: async (name) => void rows.delete(name),
  };
}

test("store keyRefs: store:NAME with the file store's name rule", () => {
  assert.equal(storeKeyRef("ocsp-1-abcd"), "store:ocsp-1-abcd");
  assert.equal(parseStoreKeyRef("store:audit-00ff"), "audit-00ff");
  assert.throws(() => parseStoreKeyRef("file:x"), code(ErrorCodes.BAD_INPUT));
  assert.throws(() => parseStoreKeyRef("store:../x"), code(ErrorCodes.BAD_INPUT));
  assert.throws(() => storeKeyRef(""), code(ErrorCodes.BAD_INPUT));
  assert.equal(keyBackendOf("store:x"), "store");
});

test("generate, open, exists, remove: the key signs, and is kept encrypted only", async () => {
  const recs = memoryRecords();
  const ks = new StoreKeyStore(recs, OPTS);
  const ref = await ks.generate("ocsp-1-00aa", "p256", PASS);
  assert.equal(ref, "store:ocsp-1-00aa");
  assert.equal(await ks.exists(ref), true);
  const pem = recs.rows.get("ocsp-1-00aa")!;
  // What an attacker reading the database sees: PBES2 ciphertext, no key in the clear.
  assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
  assert.doesNotMatch(pem, /BEGIN (EC |RSA )?PRIVATE KEY/);
  const signer = await ks.open(ref, PASS);
  assert.equal(signer.keyType, "p256");
  const data = Buffer.from("tbs");
  const sig = await signer.sign(data);
  const pub = createPublicKey({ key: signer.spki, format: "der", type: "spki" });
  assert.ok(verify("sha256", data, pub, sig));
  // The same bytes a key file holds: the file store (and OpenSSL) opens it.
  const dir = mkdtempSync(join(tmpdir(), "sigil-storekeys-"));
  try {
    writeFileSync(join(dir, "copy.key.pem"), pem, { mode: 0o600 });
    const viaFile = await new FileKeyStore(dir, OPTS).open("file:copy", PASS);
    assert.ok(viaFile.spki.equals(signer.spki));
    writeFileSync(join(dir, "pass"), PASS);
    const o = spawnSync("openssl", [
      "pkey",
      "-in",
      join(dir, "copy.key.pem"),
      "-passin",
      `file:${join(dir, "pass")}`,
      "-pubout",
      "-outform",
      "DER",
    ]);
    assert.equal(o.status, 0, o.stderr.toString());
    assert.ok(o.stdout.equals(signer.spki));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await ks.remove(ref);
  assert.equal(await ks.exists(ref), false);
  await ks.remove(ref); // idempotent
  await assert.rejects(
    ks.open(ref, PASS),
    (e) => code(ErrorCodes.KEY_NOT_FOUND)(e) && /key ocsp-1-00aa not found/.test(String(e)),
  );
});

test("a wrong passphrase is refused; an empty one makes no key; a taken name is never replaced", async () => {
  const recs = memoryRecords();
  const ks = new StoreKeyStore(recs, OPTS);
  const ref = await ks.generate("audit-1", "ed25519", PASS);
  await assert.rejects(
    ks.open(ref, Buffer.from("not the passphrase")),
    (e) => code(ErrorCodes.WRONG_PASSPHRASE)(e) && /wrong passphrase for key audit-1/.test(String(e)),
  );
  await assert.rejects(ks.generate("empty", "p256", Buffer.alloc(0)), code(ErrorCodes.BAD_INPUT));
  assert.equal(recs.rows.has("empty"), false);
  const before = recs.rows.get("audit-1");
  await assert.rejects(ks.generate("audit-1", "p256", PASS), code(ErrorCodes.FILE_EXISTS));
  assert.equal(recs.rows.get("audit-1"), before);
  assert.throws(() => new StoreKeyStore(recs, { pbkdf2Iterations: 1000 }), code(ErrorCodes.CONFIG));
});

test("the router sends store: keys to the database store, and refuses them without one", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-storekeys-"));
  try {
    const recs = memoryRecords();
    const router = new KeyRouter({
      file: new FileKeyStore(join(dir, "keys"), OPTS),
      store: new StoreKeyStore(recs, OPTS),
    });
    const ref = await router.generate("ocsp-2-ff", "p256", PASS, { backend: "store" });
    assert.equal(ref, "store:ocsp-2-ff");
    assert.ok(recs.rows.has("ocsp-2-ff"));
    assert.equal(router.needsPassphrase(ref), true);
    assert.equal((await router.open(ref, PASS)).keyType, "p256");
    await router.remove(ref);
    assert.equal(await router.exists(ref), false);
    const bare = new KeyRouter({ file: new FileKeyStore(join(dir, "keys"), OPTS) });
    await assert.rejects(bare.generate("x", "p256", PASS, { backend: "store" }), code(ErrorCodes.CONFIG));
    await assert.rejects(bare.open("store:x", PASS), code(ErrorCodes.CONFIG));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
