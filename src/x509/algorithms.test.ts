import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { generateKeyPairSync, sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import {
  checkKeyStrength,
  describePublicKey,
  importPublicKey,
  publicKeyId,
  signatureAlgorithmFor,
  verifySignature,
} from "./algorithms.js";
import { NULL, bitString, oid, seq } from "./der.js";
import { SigOid } from "./oids.js";

const spkiOf = (k: { publicKey: KeyObject }): Buffer => k.publicKey.export({ format: "der", type: "spki" });

function refused(f: () => unknown, code: string, msg: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof SigilError && e.code === code && msg.test(e.message));
}

describe("algorithms", () => {
  it("signatureAlgorithmFor encodes RFC 4055 / 5758 / 8410 AlgorithmIdentifiers", () => {
    assert.equal(signatureAlgorithmFor("rsa2048").der.toString("hex"), "300d06092a864886f70d01010b0500");
    assert.equal(signatureAlgorithmFor("p256").der.toString("hex"), "300a06082a8648ce3d040302");
    assert.equal(signatureAlgorithmFor("p384").der.toString("hex"), "300a06082a8648ce3d040303");
    assert.equal(signatureAlgorithmFor("ed25519").der.toString("hex"), "300506032b6570");
    assert.equal(signatureAlgorithmFor("ed25519").hash, null);
    assert.equal(signatureAlgorithmFor("rsa4096").oid, SigOid.sha256WithRSAEncryption);
  });

  it("describePublicKey accepts RSA, P-256/384/521, Ed25519, Ed448 and refuses the rest", () => {
    assert.deepEqual(describePublicKey(spkiOf(generateKeyPairSync("rsa", { modulusLength: 3072 }))), {
      kind: "rsa",
      bits: 3072,
    });
    for (const c of ["P-256", "P-384", "P-521"] as const)
      assert.deepEqual(describePublicKey(spkiOf(generateKeyPairSync("ec", { namedCurve: c }))), {
        kind: "ec",
        curve: c,
      });
    assert.deepEqual(describePublicKey(spkiOf(generateKeyPairSync("ed25519"))), { kind: "ed25519" });
    assert.deepEqual(describePublicKey(spkiOf(generateKeyPairSync("ed448"))), { kind: "ed448" });
    refused(
      () => describePublicKey(spkiOf(generateKeyPairSync("ec", { namedCurve: "secp256k1" }))),
      "weak_key",
      /^curve secp256k1 is not accepted \(P-256, P-384, P-521 only\)$/,
    );
    refused(
      () => describePublicKey(spkiOf(generateKeyPairSync("ec", { namedCurve: "brainpoolP256r1" }))),
      "weak_key",
      /brainpoolP256r1 is not accepted/,
    );
    refused(() => describePublicKey(spkiOf(generateKeyPairSync("x25519"))), "weak_key", /cannot sign/);
    refused(
      () =>
        describePublicKey(spkiOf(generateKeyPairSync("dsa", { modulusLength: 1024, divisorLength: 160 }))),
      "weak_key",
      /^DSA keys are refused$/,
    );
    refused(
      () => describePublicKey(spkiOf(generateKeyPairSync("rsa-pss", { modulusLength: 2048 }))),
      "weak_key",
      /RSASSA-PSS keys are not supported/,
    );
    refused(() => describePublicKey(Buffer.from("3003020100", "hex")), "bad_input", /./);
  });

  it("checkKeyStrength", () => {
    refused(
      () => checkKeyStrength({ kind: "rsa", bits: 1024 }),
      "weak_key",
      /^RSA key of 1024 bits is too weak \(minimum 2048\)$/,
    );
    refused(() => checkKeyStrength({ kind: "rsa", bits: 16385 }), "weak_key", /too large \(maximum 16384\)/);
    checkKeyStrength({ kind: "rsa", bits: 2048 });
    checkKeyStrength({ kind: "ec", curve: "P-256" });
  });

  it("verifySignature: good, bad, mismatched and refused algorithms", () => {
    const data = Buffer.from("to be signed");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-384" });
    const ed = generateKeyPairSync("ed448");
    for (const [o, h] of [
      [SigOid.sha256WithRSAEncryption, "sha256"],
      [SigOid.sha384WithRSAEncryption, "sha384"],
      [SigOid.sha512WithRSAEncryption, "sha512"],
    ] as const) {
      const sig = sign(h, data, rsa.privateKey);
      assert.equal(verifySignature(spkiOf(rsa), o, NULL, data, sig), true);
      assert.equal(verifySignature(spkiOf(rsa), o, undefined, data, sig), true);
      assert.equal(verifySignature(spkiOf(rsa), o, NULL, Buffer.from("other"), sig), false);
    }
    for (const [o, h] of [
      [SigOid.ecdsaWithSHA256, "sha256"],
      [SigOid.ecdsaWithSHA384, "sha384"],
      [SigOid.ecdsaWithSHA512, "sha512"],
    ] as const) {
      const sig = sign(h, data, ec.privateKey);
      assert.equal(verifySignature(spkiOf(ec), o, undefined, data, sig), true);
      assert.equal(verifySignature(spkiOf(ec), o, undefined, data, Buffer.from([1, 2, 3])), false);
    }
    assert.equal(
      verifySignature(spkiOf(ed), SigOid.Ed448, undefined, data, sign(null, data, ed.privateKey)),
      true,
    );
    refused(
      () => verifySignature(spkiOf(ec), SigOid.ecdsaWithSHA256, NULL, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /must not carry parameters/,
    );
    assert.equal(
      verifySignature(
        spkiOf(rsa),
        SigOid.ecdsaWithSHA256,
        undefined,
        data,
        sign("sha256", data, ec.privateKey),
      ),
      false,
    );
    refused(
      () => verifySignature(spkiOf(rsa), SigOid.md5WithRSAEncryption, NULL, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /^MD5 signatures are refused/,
    );
    refused(
      () => verifySignature(spkiOf(rsa), SigOid.sha1WithRSAEncryption, NULL, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /^SHA-1 signatures are refused/,
    );
    refused(
      () => verifySignature(spkiOf(ec), SigOid.ecdsaWithSHA1, undefined, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /^SHA-1 signatures are refused/,
    );
    refused(
      () => verifySignature(spkiOf(rsa), SigOid.dsaWithSHA256, undefined, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /^DSA is refused/,
    );
    refused(
      () => verifySignature(spkiOf(rsa), SigOid.rsassaPss, seq(), data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /RSASSA-PSS signatures are not supported yet/,
    );
    refused(
      () => verifySignature(spkiOf(rsa), "1.2.3", undefined, data, Buffer.alloc(1)),
      "bad_signature_algorithm",
      /unknown signature algorithm 1\.2\.3 is refused/,
    );
  });
});

describe("importPublicKey", () => {
  it("loads RSA and EC keys through JWK to the same key the DER decoder gives", () => {
    const pairs = [
      crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }),
      crypto.generateKeyPairSync("rsa", { modulusLength: 3072, publicExponent: 3 }),
      crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }),
      crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }),
      crypto.generateKeyPairSync("ec", { namedCurve: "P-521" }),
      crypto.generateKeyPairSync("ed25519"),
    ];
    for (const { publicKey } of pairs) {
      const spki = publicKey.export({ type: "spki", format: "der" });
      const k = importPublicKey(spki);
      assert.ok(k.export({ type: "spki", format: "der" }).equals(spki), publicKey.asymmetricKeyType);
    }
  });

  it("takes compressed EC points through the DER decoder and refuses points off the curve", () => {
    const ecdh = crypto.createECDH("prime256v1");
    ecdh.generateKeys();
    const algId = seq(oid("1.2.840.10045.2.1"), oid("1.2.840.10045.3.1.7"));
    const compressed = seq(algId, bitString(ecdh.getPublicKey(undefined, "compressed")));
    const k = importPublicKey(compressed);
    assert.equal(k.asymmetricKeyType, "ec");
    const uncompressed = ecdh.getPublicKey();
    const jwk = k.export({ format: "jwk" });
    assert.equal(jwk.x, uncompressed.subarray(1, 33).toString("base64url"));
    assert.equal(jwk.y, uncompressed.subarray(33).toString("base64url"));
    const off = Buffer.from(uncompressed);
    off[off.length - 1]! ^= 0x01;
    assert.throws(() => importPublicKey(seq(algId, bitString(off))));
  });
  it("publicKeyId: one id per key, whatever the point encoding; different keys differ", () => {
    const curveOids: Record<string, string> = {
      "P-256": "1.2.840.10045.3.1.7",
      "P-384": "1.3.132.0.34",
      "P-521": "1.3.132.0.35",
    };
    for (const namedCurve of ["P-256", "P-384", "P-521"]) {
      const { publicKey } = generateKeyPairSync("ec", { namedCurve });
      const uncompressed = publicKey.export({ type: "spki", format: "der" });
      const jwk = publicKey.export({ format: "jwk" });
      const x = Buffer.from(jwk.x!, "base64url");
      const y = Buffer.from(jwk.y!, "base64url");
      const point = Buffer.concat([Buffer.from([y[y.length - 1]! & 1 ? 0x03 : 0x02]), x]);
      // The same key with the compressed point (RFC 5480 §2.2).
      const inner = seq(seq(oid("1.2.840.10045.2.1"), oid(curveOids[namedCurve]!)), bitString(point));
      const compressed = crypto.createPublicKey({ key: inner, format: "der", type: "spki" });
      assert.ok(compressed.asymmetricKeyDetails, "OpenSSL reads the compressed SPKI");
      assert.equal(publicKeyId(inner), publicKeyId(uncompressed), namedCurve);
    }
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({
      type: "spki",
      format: "der",
    });
    const ed = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
    const ids = new Set([rsa, ed].map((k) => publicKeyId(k)));
    assert.equal(ids.size, 2);
    assert.match(publicKeyId(rsa), /^[0-9a-f]{64}$/);
  });
});
