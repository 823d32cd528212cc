import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { verify, createPublicKey } from "node:crypto";
import { createRequire } from "node:module";
import type * as Pkcs11Types from "pkcs11js";
import { Pkcs11KeyStore, ecdsaRawToDer } from "./pkcs11-keystore.js";
import { parsePkcs11KeyRef, pkcs11KeyRef, encodePk11Value } from "./pkcs11-uri.js";
import { signatureAlgorithmFor } from "../asn1/signature-algorithms.js";
import { isSigilError, ErrorCodes, type ErrorCode } from "../errors.js";
import { startSoftHsm, type SoftHsm } from "../../test/softhsm.js";
import type { KeyType } from "./types.js";

let hsm: SoftHsm;
before(() => {
  hsm = startSoftHsm();
});
after(() => hsm?.cleanup());

const store = (over: Partial<{ module: string; token: string; pin: string | null }> = {}): Pkcs11KeyStore =>
  new Pkcs11KeyStore({
    module: over.module ?? hsm.module,
    token: over.token ?? hsm.token,
    pin: async () => {
      const pin = over.pin === undefined ? hsm.pin : over.pin;
      if (pin === null) throw new Error("no pin");
      return Buffer.from(pin);
    },
  });

const code = (c: ErrorCode, re?: RegExp) => (e: unknown) => {
  assert.ok(isSigilError(e, c), `expected ${c}, got ${String(e)}`);
  if (re) assert.match((e as Error).message, re);
  assert.doesNotMatch((e as Error).message, /\n/);
  return true;
};

/** Reads attributes of the objects labelled `label` with pkcs11js directly (an independent view of the token). */
function rawAttributes(label: string): Array<Record<string, boolean>> {
  const lib = createRequire(import.meta.url)("pkcs11js") as typeof Pkcs11Types;
  const mod = new lib.PKCS11();
  mod.load(hsm.module);
  mod.C_Initialize();
  try {
    const slot = mod.C_GetSlotList(true).find((s) => mod.C_GetTokenInfo(s).label.trim() === hsm.token)!;
    const session = mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION);
    mod.C_Login(session, lib.CKU_USER, hsm.pin);
    mod.C_FindObjectsInit(session, [
      { type: lib.CKA_LABEL, value: label },
      { type: lib.CKA_CLASS, value: lib.CKO_PRIVATE_KEY },
    ]);
    const hs = mod.C_FindObjects(session, 10);
    mod.C_FindObjectsFinal(session);
    const names = [
      "CKA_TOKEN",
      "CKA_PRIVATE",
      "CKA_SENSITIVE",
      "CKA_EXTRACTABLE",
      "CKA_NEVER_EXTRACTABLE",
      "CKA_ALWAYS_SENSITIVE",
      "CKA_SIGN",
    ] as const;
    const out = hs.map((h) => {
      const vals = mod.C_GetAttributeValue(
        session,
        h,
        names.map((n) => ({ type: lib[n] as number })),
      );
      return Object.fromEntries(names.map((n, i) => [n, (vals[i]!.value as Buffer)[0] === 1]));
    });
    // A sensitive key's value cannot be read (PKCS#11 v2.40 §4.9: CKR_ATTRIBUTE_SENSITIVE).
    for (const h of hs)
      assert.throws(
        () =>
          mod.C_GetAttributeValue(session, h, [{ type: lib.CKA_VALUE }, { type: lib.CKA_PRIVATE_EXPONENT }]),
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
    mod.C_Logout(session);
    mod.C_CloseSession(session);
    return out;
  } finally {
    mod.C_Finalize();
    mod.close();
  }
}

test("RFC 7512 keyRefs: format, percent-encoding, strict parsing", () => {
  assert.equal(pkcs11KeyRef("sigil-test", "root"), "pkcs11:token=sigil-test;object=root");
  assert.equal(pkcs11KeyRef("My Token;1", "a/b%"), "pkcs11:token=My%20Token%3B1;object=a%2Fb%25");
  assert.deepEqual(parsePkcs11KeyRef("pkcs11:token=My%20Token%3B1;object=a%2Fb%25"), {
    token: "My Token;1",
    object: "a/b%",
  });
  assert.deepEqual(parsePkcs11KeyRef("pkcs11:object=k;token=t"), { token: "t", object: "k" });
  assert.equal(encodePk11Value("é"), "%C3%A9");
  assert.deepEqual(parsePkcs11KeyRef(pkcs11KeyRef("tök", "ключ")), { token: "tök", object: "ключ" });
  for (const bad of [
    "file:root",
    "pkcs11:",
    "pkcs11:token=t",
    "pkcs11:object=o",
    "pkcs11:token=t;object=o;object=p",
    "pkcs11:token=t;object=",
    "pkcs11:token=t;object=o?pin-value=1234",
    "pkcs11:token=t;object=o;type=private",
    "pkcs11:token=t;object=a b",
    "pkcs11:token=t;object=%zz",
    "pkcs11:token=t;object=%ff",
    "pkcs11:token=t;;object=o",
  ])
    assert.throws(() => parsePkcs11KeyRef(bad), code(ErrorCodes.BAD_INPUT), bad);
});

test("ecdsaRawToDer: minimal INTEGERs, sign octet when the high bit is set", () => {
  const raw = Buffer.concat([Buffer.alloc(31, 0), Buffer.from([5]), Buffer.alloc(32, 0xff)]);
  const der = ecdsaRawToDer(raw, 32);
  assert.equal(der.toString("hex"), "3026020105022100" + "ff".repeat(32));
});

const TYPES: KeyType[] = ["p256", "p384", "rsa2048"];

test("generate in the token, open, sign: signatures verify with node:crypto as NodeSigner's would", async () => {
  const ks = store();
  try {
    for (const kt of TYPES) {
      const ref = await ks.generate(`k-${kt}`, kt);
      assert.equal(ref, `pkcs11:token=${hsm.token};object=k-${kt}`);
      assert.equal(await ks.exists(ref), true);
      const s = await ks.open(ref);
      assert.equal(s.keyType, kt);
      const alg = signatureAlgorithmFor(kt);
      assert.deepEqual(s.algorithmIdentifier, alg.der);
      const pub = createPublicKey({ key: s.spki, format: "der", type: "spki" });
      assert.equal(pub.asymmetricKeyType, kt.startsWith("rsa") ? "rsa" : "ec");
      assert.deepEqual(pub.export({ type: "spki", format: "der" }), s.spki);
      const data = Buffer.from(`to be signed by ${kt}`);
      // Concurrent signatures on the one session must not interleave.
      const sigs = await Promise.all([s.sign(data), s.sign(data), s.sign(Buffer.from("other"))]);
      assert.equal(verify(alg.hash, data, pub, sigs[0]!), true, kt);
      assert.equal(verify(alg.hash, data, pub, sigs[1]!), true, kt);
      assert.equal(verify(alg.hash, Buffer.from("other"), pub, sigs[2]!), true, kt);
      assert.equal(verify(alg.hash, Buffer.from("other"), pub, sigs[0]!), false, kt);
      if (!kt.startsWith("rsa")) assert.equal(sigs[0]![0], 0x30, "ECDSA signature is a DER Ecdsa-Sig-Value");
      // A second open (as another process would) gives the same public key.
      assert.deepEqual((await ks.open(ref)).spki, s.spki);
    }
    assert.equal(ks.needsPassphrase(), false);
  } finally {
    await ks.close();
  }
  for (const kt of TYPES)
    assert.deepEqual(rawAttributes(`k-${kt}`), [
      {
        CKA_TOKEN: true,
        CKA_PRIVATE: true,
        CKA_SENSITIVE: true,
        CKA_EXTRACTABLE: false,
        CKA_NEVER_EXTRACTABLE: true,
        CKA_ALWAYS_SENSITIVE: true,
        CKA_SIGN: true,
      },
    ]);
});

test("an existing label is refused; ed25519 is refused; bad names are refused", async () => {
  const ks = store();
  try {
    await ks.generate("dup", "p256");
    await assert.rejects(
      ks.generate("dup", "p384"),
      code(ErrorCodes.FILE_EXISTS, /key dup already exists on PKCS#11 token sigil-test/),
    );
    await assert.rejects(
      ks.generate("ed", "ed25519"),
      code(ErrorCodes.BAD_INPUT, /ed25519 keys are not supported in PKCS#11 tokens/),
    );
    await assert.rejects(ks.generate("../x", "p256"), code(ErrorCodes.BAD_INPUT, /bad key name/));
    assert.equal((await ks.open(pkcs11KeyRef(hsm.token, "dup"))).keyType, "p256");
  } finally {
    await ks.close();
  }
});

test("remove destroys both objects; unknown objects are KEY_NOT_FOUND", async () => {
  const ks = store();
  try {
    const ref = await ks.generate("gone", "p256");
    await ks.remove(ref);
    assert.equal(await ks.exists(ref), false);
    await ks.remove(ref); // idempotent
    await assert.rejects(
      ks.open(ref),
      code(ErrorCodes.KEY_NOT_FOUND, /key gone not found on PKCS#11 token sigil-test/),
    );
    // Neither object is left: the label can be used again.
    await ks.generate("gone", "rsa2048");
    assert.equal((await ks.open(ref)).keyType, "rsa2048");
    await assert.rejects(
      ks.open(pkcs11KeyRef("other-token", "gone")),
      code(
        ErrorCodes.CONFIG,
        /is on PKCS#11 token other-token, but pkcs11.token in sigil.json is sigil-test/,
      ),
    );
  } finally {
    await ks.close();
  }
});

test("wrong PIN: WRONG_PASSPHRASE naming the token, never the PIN", async () => {
  const ks = store({ pin: "98765" });
  try {
    await assert.rejects(
      ks.open(pkcs11KeyRef(hsm.token, "k-p256")),
      (e: unknown) =>
        code(ErrorCodes.WRONG_PASSPHRASE, /^wrong PIN for PKCS#11 token sigil-test$/)(e) &&
        !(e as Error).message.includes("98765"),
    );
  } finally {
    await ks.close();
  }
  // The store recovers nothing by retrying with the same wrong PIN; a right PIN works in a new store.
  const good = store();
  try {
    assert.equal(await good.exists(pkcs11KeyRef(hsm.token, "k-p256")), true);
  } finally {
    await good.close();
  }
});

test("no PIN: the pin source's error comes through", async () => {
  const ks = store({ pin: null });
  try {
    await assert.rejects(ks.exists(pkcs11KeyRef(hsm.token, "x")), /no pin/);
  } finally {
    await ks.close();
  }
});

test("missing module and unknown token are one-line CONFIG errors", async () => {
  const a = store({ module: "/nonexistent/libnothing.so" });
  await assert.rejects(
    a.exists(pkcs11KeyRef(hsm.token, "x")),
    code(
      ErrorCodes.CONFIG,
      /^PKCS#11 module \/nonexistent\/libnothing.so not found: install softhsm2 .* or fix pkcs11.module/,
    ),
  );
  await a.close();
  // A file that is not a PKCS#11 module.
  const b = store({ module: "/etc/hostname" });
  await assert.rejects(
    b.exists(pkcs11KeyRef(hsm.token, "x")),
    code(ErrorCodes.CONFIG, /PKCS#11 module \/etc\/hostname cannot be loaded/),
  );
  await b.close();
  const c = store({ token: "no-such-token" });
  await assert.rejects(
    c.exists(pkcs11KeyRef("no-such-token", "x")),
    code(ErrorCodes.CONFIG, /^PKCS#11 token "no-such-token" not found in .*; tokens present: "sigil-test"$/),
  );
  await c.close();
});
