import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyRouter, keyBackendOf } from "./key-router.js";
import { FileKeyStore } from "./file-keystore.js";
import { Pkcs11KeyStore } from "./pkcs11-keystore.js";
import { isSigilError, ErrorCodes } from "../errors.js";

const PASS = Buffer.from("correct horse battery staple");

test("keyBackendOf: by scheme; anything else is BAD_INPUT", () => {
  assert.equal(keyBackendOf("file:root"), "file");
  assert.equal(keyBackendOf("pkcs11:token=t;object=o"), "pkcs11");
  assert.throws(
    () => keyBackendOf("hsm:root"),
    (e) => isSigilError(e, ErrorCodes.BAD_INPUT),
  );
});

test("file keys route to the file store and never create the PKCS#11 store", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-router-"));
  try {
    let made = 0;
    const router = new KeyRouter({
      file: new FileKeyStore(join(dir, "keys"), { pbkdf2Iterations: 1000, insecureAllowLowIterations: true }),
      pkcs11: () => {
        made++;
        return new Pkcs11KeyStore({
          module: "/nonexistent.so",
          token: "t",
          pin: async () => Buffer.from("x"),
        });
      },
    });
    const ref = await router.generate("root", "p256", PASS);
    assert.equal(ref, "file:root");
    assert.equal(await router.exists(ref), true);
    assert.equal((await router.open(ref, PASS)).keyType, "p256");
    assert.equal(router.needsPassphrase(ref), true);
    assert.equal(router.needsPassphrase("pkcs11:token=t;object=o"), false);
    await router.remove(ref);
    assert.equal(await router.exists(ref), false);
    assert.equal(made, 0);
    // The first pkcs11 use creates it (once), and its errors come through.
    await assert.rejects(router.exists("pkcs11:token=t;object=o"), (e) => isSigilError(e, ErrorCodes.CONFIG));
    await assert.rejects(router.generate("k", "p256", PASS, { backend: "pkcs11" }), (e) =>
      isSigilError(e, ErrorCodes.CONFIG),
    );
    assert.equal(made, 1);
    await router.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a pkcs11 keyRef without a pkcs11 config is a clear CONFIG error", async () => {
  const router = new KeyRouter({ file: new FileKeyStore(join(tmpdir(), "unused-sigil-keys")) });
  await assert.rejects(
    router.open("pkcs11:token=t;object=o", Buffer.alloc(0)),
    (e) => isSigilError(e, ErrorCodes.CONFIG) && /"pkcs11" section in sigil.json/.test((e as Error).message),
  );
  await assert.rejects(router.generate("k", "p256", PASS, { backend: "pkcs11" }), (e) =>
    isSigilError(e, ErrorCodes.CONFIG),
  );
  await router.close();
});
