import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  type ChainedFields,
  GENESIS_HASH,
  canonicalEvent,
  chainHash,
  exportLineChainHash,
  isCanonicalDetails,
  parseDetails,
  parsedChainHash,
  stableStringify,
  storedChainHash,
} from "./chain.js";

const PREV = "ab".repeat(32);
const FIELDS: Omit<ChainedFields, "details"> = {
  seq: 7,
  at: 1_700_000_000_123,
  actor: "cli:root",
  action: "cert.issue",
  target: "genfic/1f",
};

/** The hash as every reader sees the event: details parsed from the stored text, then canonicalised. */
const slowHash = (text: string, fields = FIELDS) =>
  chainHash(PREV, { ...fields, details: parseDetails(text) });

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters that exercise every escape and code-unit ordering case. */
const CHARS = [
  "a",
  "b",
  "Z",
  "0",
  "9",
  " ",
  '"',
  "\\",
  "/",
  "\n",
  "\t",
  "\b",
  "\f",
  "\r",
  "\u0001",
  "\u001f",
  "\u007f",
  "é",
  "ü",
  "\u2028",
  "😀",
  "\ud800",
  "\udc00",
  "~",
  ",",
];
const NUMBERS = [
  0,
  -0,
  1,
  -1,
  42,
  1.5,
  -0.25,
  1e21,
  1e-7,
  123456789012345,
  1234567890123456,
  2 ** 53 + 2,
  0.1 + 0.2,
  5e-324,
  Infinity,
  NaN,
];

function randomString(r: () => number): string {
  let out = "";
  const n = Math.floor(r() * 6);
  for (let i = 0; i < n; i++) out += CHARS[Math.floor(r() * CHARS.length)]!;
  return out;
}

function randomValue(r: () => number, depth: number): unknown {
  const k = Math.floor(r() * (depth > 3 ? 4 : 6));
  if (k === 0) return randomString(r);
  if (k === 1) return NUMBERS[Math.floor(r() * NUMBERS.length)]!;
  if (k === 2) return r() < 0.5;
  if (k === 3) return null;
  if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  return randomObject(r, depth + 1);
}

function randomObject(r: () => number, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) {
    const key = r() < 0.2 ? String(Math.floor(r() * 20)) : randomString(r);
    o[key] = randomValue(r, depth);
  }
  return o;
}

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

  it("hashes stored details text as the parsed, canonicalised details (storedChainHash)", () => {
    const r = prng(17);
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const text = stableStringify(randomObject(r, 0));
      if (isCanonicalDetails(text)) {
        fast++;
        // The claim the fast path rests on: the text is what readers re-serialise it to.
        assert.equal(stableStringify(parseDetails(text)), text, text);
      }
      assert.equal(storedChainHash(PREV, { ...FIELDS, details: text }), slowHash(text), text);
    }
    // Much of it takes the fast path, though these texts are dense with the cases it leaves to
    // the slow one (escaped keys, surrogates).
    assert.ok(fast > 500, `${fast} of 3000 on the fast path`);
    const issue =
      '{"fingerprint":"ab","notAfter":"2027-01-01T00:00:00.000Z","profile":"system","request":12,"sans":["dns:a.example","ip:10.0.0.1"],"subject":"CN=a,O=Gentoo Fictional\\\\, Inc."}';
    assert.ok(isCanonicalDetails(issue));
    assert.equal(storedChainHash(PREV, { ...FIELDS, details: issue }), slowHash(issue));
    for (const fields of [
      { ...FIELDS, target: null },
      { ...FIELDS, actor: 'a"\\\u0000é' },
      { ...FIELDS, at: -0 },
      { ...FIELDS, at: NaN },
      { ...FIELDS, seq: Infinity },
    ])
      assert.equal(storedChainHash(PREV, { ...fields, details: issue }), slowHash(issue, fields));
  });

  it("refuses non-canonical details text and hashes it as readers see it", () => {
    const texts = [
      "",
      "{}",
      "[]",
      "null",
      '"x"',
      "1",
      '{"a":1} ',
      ' {"a":1}',
      '{"a": 1}',
      '{"b":1,"a":2}',
      '{"a":1,"a":2}',
      '{"a":1.0}',
      '{"a":1E5}',
      '{"a":1e5}',
      '{"a":100000}',
      '{"a":1e+21}',
      '{"a":1e21}',
      '{"a":-0}',
      '{"a":-0.0}',
      '{"a":0}',
      '{"a":01}',
      '{"a":.5}',
      '{"a":0.5}',
      '{"a":1e999}',
      '{"a":12345678901234567}',
      '{"a":123456789012345}',
      '{"a":"\\/"}',
      '{"a":"/"}',
      '{"a":"\\u0041"}',
      '{"a":"\\u001F"}',
      '{"a":"\\u001f"}',
      '{"a":"\\u000a"}',
      '{"a":"\\n"}',
      '{"a":"\u0001"}',
      '{"a":"\ud800"}',
      '{"a":"\\ud800"}',
      '{"a":"😀"}',
      '{"a":"\\ud83d\\ude00"}',
      '{"\\u0061":1}',
      '{"10":1,"9":2}',
      '{"9":1,"10":2}',
      '{"a":[1,2,]}',
      '{"a":[1 ,2]}',
      '{"a":tru}',
      '{"a":true}',
      '{"a":nul}',
      '{"a":{"c":1,"b":2}}',
      '{"a":{"b":1,"c":2}}',
      '{"$unparseable":"x"}',
      '{"a":1}{"b":2}',
      '{"a":1',
      '{"a":"x',
      '{"__proto__":1}',
      "{".repeat(40) + "}".repeat(40),
      '{"a":' + "[".repeat(40) + "]".repeat(40) + "}",
    ];
    for (const text of texts) {
      if (isCanonicalDetails(text)) assert.equal(stableStringify(parseDetails(text)), text, text);
      assert.equal(storedChainHash(PREV, { ...FIELDS, details: text }), slowHash(text), text);
    }
    for (const canonical of ['{"a":0.5}', '{"a":true}', '{"a":{"b":1,"c":2}}', '{"10":2,"9":1}'])
      assert.ok(isCanonicalDetails(canonical), canonical);
    for (const not of [
      '{"b":1,"a":2}',
      '{"a":1.0}',
      '{"a":-0}',
      '{"a":"\\/"}',
      '{"a":"\\u0041"}',
      '{"a": 1}',
      "[]",
    ])
      assert.ok(!isCanonicalDetails(not), not);
  });

  it("never takes the fast path for a text readers would show differently (mutated texts)", () => {
    const r = prng(99);
    const alphabet = ['"', "\\", "{", "}", "[", "]", ",", ":", "0", "1", "-", ".", "e", "a", " ", "u", "n"];
    let changed = 0;
    for (let i = 0; i < 4000; i++) {
      let text = stableStringify(randomObject(r, 0));
      for (let m = 1 + Math.floor(r() * 3); m > 0; m--) {
        const at = Math.floor(r() * (text.length + 1));
        const c = alphabet[Math.floor(r() * alphabet.length)]!;
        const op = Math.floor(r() * 3);
        text = text.slice(0, at) + (op === 2 ? "" : c) + text.slice(op === 0 ? at : at + 1);
      }
      if (isCanonicalDetails(text)) {
        changed++;
        assert.equal(stableStringify(parseDetails(text)), text, text);
      }
      assert.equal(storedChainHash(PREV, { ...FIELDS, details: text }), slowHash(text), text);
    }
    assert.ok(changed > 0);
  });

  it("takes the fast path for every canonical text without raw controls or surrogates (the indexOf scan)", () => {
    const r = prng(2024);
    // Characters JSON.stringify escapes short or as \u00xx, and plain ones; no surrogates.
    const chars = [
      '"',
      "\\",
      "\n",
      "\t",
      "\u0001",
      "\u001f",
      "\b",
      "/",
      "a",
      "Z",
      "ü",
      "\u2028",
      " ",
      ",",
      ":",
    ];
    const str = () =>
      Array.from({ length: Math.floor(r() * 7) }, () => chars[Math.floor(r() * chars.length)]!).join("");
    const value = (depth: number): unknown => {
      const k = Math.floor(r() * (depth > 3 ? 3 : 5));
      if (k === 0) return str();
      if (k === 1) return [0, 1.5, -2, 1e21, true, null][Math.floor(r() * 6)];
      if (k === 2) return r() < 0.5 ? "x" : false;
      if (k === 3) return Array.from({ length: Math.floor(r() * 3) }, () => value(depth + 1));
      return object(depth + 1);
    };
    const object = (depth: number): Record<string, unknown> => {
      const o: Record<string, unknown> = {};
      // Keys without escapes (an escaped key is left to the slow path on purpose).
      for (let n = Math.floor(r() * 5); n > 0; n--) {
        const key = str();
        o[JSON.stringify(key).includes("\\") ? "k" : key] = value(depth);
      }
      return o;
    };
    for (let i = 0; i < 3000; i++) {
      const text = stableStringify(object(0));
      assert.ok(isCanonicalDetails(text), text);
      // One character changed: still never accepted unless it is canonical.
      const at = Math.floor(r() * text.length);
      const mutated = text.slice(0, at) + chars[Math.floor(r() * chars.length)]! + text.slice(at + 1);
      if (isCanonicalDetails(mutated)) assert.equal(stableStringify(parseDetails(mutated)), mutated, mutated);
      assert.equal(storedChainHash(PREV, { ...FIELDS, details: mutated }), slowHash(mutated), mutated);
    }
  });

  it("hashes an export line as it stands as parsedChainHash hashes it parsed (exportLineChainHash)", () => {
    const r = prng(4242);
    const alphabet = [
      '"',
      "\\",
      "{",
      "}",
      "[",
      "]",
      ",",
      ":",
      "0",
      "1",
      "-",
      ".",
      "e",
      "a",
      " ",
      "u",
      "n",
      "\u0001",
      "\ud800",
    ];
    let fast = 0;
    for (let i = 0; i < 4000; i++) {
      const e = {
        seq: r() < 0.9 ? 1 + Math.floor(r() * 1e6) : NUMBERS[Math.floor(r() * NUMBERS.length)]!,
        at:
          r() < 0.9 ? 1_700_000_000_000 + Math.floor(r() * 1e9) : NUMBERS[Math.floor(r() * NUMBERS.length)]!,
        actor: randomString(r),
        action: randomString(r),
        target: r() < 0.3 ? null : randomString(r),
        details: randomObject(r, 0),
        prevHash: r() < 0.9 ? createHash("sha256").update(`p${i}`).digest("hex") : randomString(r),
        hash: createHash("sha256").update(`h${i}`).digest("hex"),
      };
      let line = JSON.stringify(e);
      if (i % 2 === 1) {
        // Mutated lines: the fast path takes only what parses to the same event.
        const at = Math.floor(r() * (line.length + 1));
        line =
          line.slice(0, at) +
          alphabet[Math.floor(r() * alphabet.length)]! +
          line.slice(at + (r() < 0.5 ? 1 : 0));
      }
      const got = exportLineChainHash(line);
      if (got === undefined) continue;
      fast++;
      const parsed = JSON.parse(line) as typeof e;
      assert.deepEqual(
        got,
        {
          seq: parsed.seq,
          prevHash: parsed.prevHash,
          hash: parsed.hash,
          computed: parsedChainHash(parsed.prevHash, parsed),
        },
        line,
      );
    }
    assert.ok(fast > 300, `${fast} lines on the fast path`); // the random texts are dense with what it leaves to JSON.parse
    for (const not of [
      "",
      "null",
      "[]",
      '{"seq":1}',
      '{"seq":1,"at":2,"actor":"a","action":"b","target":null,"details":{},"prevHash":"x","hash":"y"} ',
    ])
      assert.equal(exportLineChainHash(not), undefined, not);
  });

  it("hashes events read from JSON as chainHash does (parsedChainHash)", () => {
    const r = prng(5);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(r, 0);
      // As an export line holds it: JSON.stringify of the event, parsed back.
      const e = JSON.parse(JSON.stringify({ ...FIELDS, details: v })) as typeof FIELDS & {
        details: Record<string, unknown>;
      };
      assert.equal(parsedChainHash(PREV, e), chainHash(PREV, e));
    }
    const e = JSON.parse(
      '{"seq":1,"at":2,"actor":"a","action":"b","target":null,"details":{"10":1,"9":{"b":1,"a":2}}}',
    );
    assert.equal(parsedChainHash(PREV, e), chainHash(PREV, e));
  });
});
