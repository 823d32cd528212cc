import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { intBytes } from "./der.js";
import { hexToSerialBytes, newSerial, normalizeSerialHex, serialToHex } from "./serial.js";

describe("serial numbers", () => {
  it("newSerial: 16 octets, positive, never zero, input untouched", () => {
    for (let i = 0; i < 1000; i++) {
      const r = randomBytes(16);
      const copy = Buffer.from(r);
      const s = newSerial(r);
      assert.equal(s.length, 16);
      assert.ok(s[0]! >= 1 && s[0]! <= 0x7f);
      assert.deepEqual(r, copy);
      assert.equal(intBytes(s).length, 18); // 02 10 + 16 octets, no sign octet
    }
    assert.deepEqual(newSerial(Buffer.alloc(16)), Buffer.from("01" + "00".repeat(15), "hex"));
    assert.equal(newSerial(Buffer.alloc(16, 0xff))[0], 0x7f);
    assert.throws(() => newSerial(Buffer.alloc(8)), SigilError);
  });

  it("hex forms", () => {
    assert.equal(serialToHex(Buffer.from("000a0b", "hex")), "a0b");
    assert.equal(serialToHex(Buffer.from([0])), "0");
    assert.equal(normalizeSerialHex("0x00AB:CD"), "abcd");
    assert.equal(normalizeSerialHex(" 6A:0F:01 "), "6a0f01");
    assert.equal(normalizeSerialHex("23"), "23");
    assert.deepEqual(hexToSerialBytes("abc"), Buffer.from("0abc", "hex"));
    assert.throws(
      () => normalizeSerialHex("xyz"),
      (e: unknown) => e instanceof SigilError && e.code === "bad_input",
    );
    assert.throws(() => normalizeSerialHex("1".repeat(41)), /20 octets/);
  });
});
