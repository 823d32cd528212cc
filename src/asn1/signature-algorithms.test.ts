import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KeyType } from "../keys/types.js";
import { readWhole, children, decodeOid } from "./der.js";
import { SigOid } from "./oids.js";
import { signatureAlgorithmFor } from "./signature-algorithms.js";

describe("signature algorithms", () => {
  it("one AlgorithmIdentifier per key type, parameters as the RFCs say", () => {
    // RFC 4055 §5 (NULL parameters), RFC 5758 §3.2 and RFC 8410 §3 (absent parameters).
    // A Record over KeyType: a new key type does not compile until it is listed here.
    const expected: Record<KeyType, [string, string, string | null]> = {
      rsa2048: ["300d06092a864886f70d01010b0500", SigOid.sha256WithRSAEncryption, "sha256"],
      rsa3072: ["300d06092a864886f70d01010b0500", SigOid.sha256WithRSAEncryption, "sha256"],
      rsa4096: ["300d06092a864886f70d01010b0500", SigOid.sha256WithRSAEncryption, "sha256"],
      p256: ["300a06082a8648ce3d040302", SigOid.ecdsaWithSHA256, "sha256"],
      p384: ["300a06082a8648ce3d040303", SigOid.ecdsaWithSHA384, "sha384"],
      ed25519: ["300506032b6570", SigOid.Ed25519, null],
    };
    for (const [kt, [der, oid, hash]] of Object.entries(expected)) {
      const a = signatureAlgorithmFor(kt as KeyType);
      assert.equal(a.der.toString("hex"), der, kt);
      assert.equal(a.oid, oid, kt);
      assert.equal(a.hash, hash, kt);
      assert.equal(decodeOid(children(readWhole(a.der))[0]!.content), oid, kt);
    }
  });
});
