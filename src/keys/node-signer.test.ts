import { test } from "node:test";
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { NodeSigner, keyTypeOf, signerAlgorithm } from "./node-signer.js";
import { generateKeyPair } from "./generate.js";
import { KEY_TYPES } from "./types.js";
import { isSigilError, ErrorCodes } from "../errors.js";

const EXPECTED_ALG: Record<string, string> = {
  rsa2048: "300d06092a864886f70d01010b0500",
  rsa3072: "300d06092a864886f70d01010b0500",
  rsa4096: "300d06092a864886f70d01010b0500",
  p256: "300a06082a8648ce3d040302",
  p384: "300a06082a8648ce3d040303",
  ed25519: "300506032b6570",
};

for (const kt of KEY_TYPES) {
  test(`NodeSigner ${kt}: algorithm, SPKI, signature verifies`, async () => {
    const { privateKey, publicKey } = generateKeyPair(kt);
    const s = new NodeSigner(privateKey, kt);
    assert.equal(s.keyType, kt);
    assert.equal(s.algorithmIdentifier.toString("hex"), EXPECTED_ALG[kt]);
    assert.deepEqual(s.algorithmIdentifier, signerAlgorithm(kt).der);
    assert.deepEqual(s.spki, publicKey.export({ type: "spki", format: "der" }));
    const data = Buffer.from("tbs bytes");
    const sig = await s.sign(data);
    const spkiKey = createPublicKey({ key: s.spki, format: "der", type: "spki" });
    assert.equal(verify(signerAlgorithm(kt).hash, data, spkiKey, sig), true);
    assert.equal(verify(signerAlgorithm(kt).hash, Buffer.from("other"), spkiKey, sig), false);
    if (kt === "p256" || kt === "p384") assert.equal(sig[0], 0x30, "ECDSA signature is a DER SEQUENCE");
  });
}

test("signerAlgorithm OIDs and hashes", () => {
  assert.deepEqual(
    KEY_TYPES.map((k) => [signerAlgorithm(k).oid, signerAlgorithm(k).hash]),
    [
      ["1.2.840.113549.1.1.11", "sha256"],
      ["1.2.840.113549.1.1.11", "sha256"],
      ["1.2.840.113549.1.1.11", "sha256"],
      ["1.2.840.10045.4.3.2", "sha256"],
      ["1.2.840.10045.4.3.3", "sha384"],
      ["1.3.101.112", null],
    ],
  );
});

test("unsupported keys and mismatched types are refused with WEAK_KEY", () => {
  const weak = (e: unknown): boolean => isSigilError(e, ErrorCodes.WEAK_KEY);
  assert.throws(() => keyTypeOf(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey), weak);
  assert.throws(() => keyTypeOf(generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey), weak);
  assert.throws(() => keyTypeOf(generateKeyPairSync("ed448").privateKey), weak);
  assert.throws(() => new NodeSigner(generateKeyPair("p256").privateKey, "p384"), weak);
  assert.throws(() => new NodeSigner(generateKeyPair("p256").publicKey), TypeError);
});

test("P-256 sign rate (printed, not asserted)", async () => {
  const s = new NodeSigner(generateKeyPair("p256").privateKey);
  const data = Buffer.alloc(1200, 7);
  const n = 5000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.sign(data);
  const ms = performance.now() - t0;
  console.log(`NodeSigner P-256: ${Math.round((n / ms) * 1000)} signatures/s`);
});
