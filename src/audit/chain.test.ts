import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { GENESIS_HASH, canonicalEvent, chainHash, stableStringify } from "./chain.js";

describe("audit chain", () => {
  it("stringifies with sorted keys, recursively, like JSON.stringify otherwise", () => {
    assert.equal(
      stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }),
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
    assert.equal(
      stableStringify({ u: undefined, f: () => 1, n: NaN, arr: [undefined, Infinity] }),
      '{"arr":[null,null],"n":null}',
    );
    assert.equal(stableStringify({ d: new Date(0) }), '{"d":"1970-01-01T00:00:00.000Z"}');
    assert.equal(stableStringify("é\n"), JSON.stringify("é\n"));
    assert.throws(() => stableStringify({ x: 1n }));
    const v = { s: "x", n: -0, t: true, a: [1, "2", [3]], o: { ü: 1, A: 2, a: 3 } };
    assert.deepEqual(JSON.parse(stableStringify(v)), JSON.parse(JSON.stringify(v)));
  });

  it("hashes prevHash, a newline and the canonical event", () => {
    const e = {
      seq: 1,
      at: 5,
      actor: "cli:root",
      action: "ca.create",
      target: "genfic",
      details: { b: 2, a: 1 },
    };
    const canon = canonicalEvent(e);
    assert.equal(
      canon,
      '{"action":"ca.create","actor":"cli:root","at":5,"details":{"a":1,"b":2},"seq":1,"target":"genfic"}',
    );
    assert.equal(GENESIS_HASH, "0".repeat(64));
    assert.equal(
      chainHash(GENESIS_HASH, e),
      createHash("sha256").update(`${GENESIS_HASH}\n${canon}`).digest("hex"),
    );
    assert.notEqual(chainHash(GENESIS_HASH, e), chainHash(GENESIS_HASH, { ...e, target: null }));
    assert.equal(chainHash(GENESIS_HASH, e), chainHash(GENESIS_HASH, { ...e, details: { a: 1, b: 2 } }));
  });
});
