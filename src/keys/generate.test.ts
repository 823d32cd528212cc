import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, generateKeyPairAsync } from "./generate.js";
import { keyTypeOf } from "./node-signer.js";
import { KEY_TYPES } from "./types.js";

for (const kt of KEY_TYPES) {
  test(`generateKeyPair(${kt})`, async () => {
    for (const { privateKey, publicKey } of [generateKeyPair(kt), await generateKeyPairAsync(kt)]) {
      assert.equal(privateKey.type, "private");
      assert.equal(publicKey.type, "public");
      assert.equal(keyTypeOf(privateKey), kt);
      assert.equal(keyTypeOf(publicKey), kt);
      if (kt.startsWith("rsa")) assert.equal(privateKey.asymmetricKeyDetails?.publicExponent, 65537n);
    }
  });
}

test("unknown key type throws", () => {
  assert.throws(() => generateKeyPair("rsa1024" as never), RangeError);
});
