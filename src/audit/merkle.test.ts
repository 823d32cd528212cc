import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import {
  HASH_SIZE,
  MerkleFrontier,
  MerkleRange,
  consistencyProof,
  inclusionProof,
  leafHash,
  leafHashOfHex,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.js";

/** The independent reference: RFC 9162's recursive definitions in Python (hashlib only). */
const REFERENCE = fileURLToPath(new URL("../../test/fixtures/merkle_ref.py", import.meta.url));

interface Job {
  leaves: string[];
  roots?: number[];
  inclusion?: [number, number][];
  consistency?: [number, number][];
}
interface Answer {
  leafHashes: string[];
  roots: string[];
  inclusion: string[][];
  consistency: string[][];
}

/** Runs the Python reference on `job`; fails (never skips) when python3 is not on PATH. */
function reference(job: Job): Answer {
  const r = spawnSync("python3", [REFERENCE], {
    input: JSON.stringify(job),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    assert.fail(
      "python3 is not on PATH: the Merkle tests compare src/audit/merkle.ts against the independent " +
        "reference test/fixtures/merkle_ref.py (install python3; scripts/test-deps.sh does it on Debian)",
    );
  }
  assert.ifError(r.error);
  assert.equal(r.status, 0, `merkle_ref.py failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Answer;
}

/** A small deterministic PRNG (mulberry32), so that a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` entries of varied lengths (0 to 40 bytes, the empty one included). */
function entries(count: number, seed: number): Buffer[] {
  const rand = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const len = i === 0 ? 0 : Math.floor(rand() * 41);
    return Buffer.from(Array.from({ length: len }, () => Math.floor(rand() * 256)));
  });
}

const hex = (list: readonly Buffer[]): string[] => list.map((b) => b.toString("hex"));
const unhex = (list: readonly string[]): Buffer[] => list.map((h) => Buffer.from(h, "hex"));

/** A copy of `b` with one bit flipped at byte `at`. */
function flipped(b: Buffer, at = 0): Buffer {
  const c = Buffer.from(b);
  const i = at % c.length;
  c[i] = c[i]! ^ 0x01;
  return c;
}

/** All (index, size) with size in 1..max, and all (m, n) with 1 <= m <= n <= max. */
function allPairs(max: number): { inclusion: [number, number][]; consistency: [number, number][] } {
  const inclusion: [number, number][] = [];
  const consistency: [number, number][] = [];
  for (let n = 1; n <= max; n++) {
    for (let i = 0; i < n; i++) inclusion.push([i, n]);
    for (let m = 1; m <= n; m++) consistency.push([m, n]);
  }
  return { inclusion, consistency };
}

/** The job, the reference's answer and our hashes for the exhaustive small trees. */
const SMALL = 40;
const smallData = entries(SMALL, 17);
const smallLeaves = smallData.map((d) => leafHash(d));
const smallRoots = Array.from({ length: SMALL + 1 }, (_, n) => rootOf(smallLeaves, 0, n));

describe("audit Merkle tree (RFC 9162 §2.1)", () => {
  it("hashes leaves and nodes with their domain-separation prefixes (§2.1.1)", () => {
    assert.equal(HASH_SIZE, 32);
    const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
    const d = Buffer.from("entry");
    assert.deepEqual(leafHash(d), sha(Buffer.from([0]), d));
    const [l, r] = [leafHash(Buffer.from("l")), leafHash(Buffer.from("r"))];
    assert.deepEqual(nodeHash(l, r), sha(Buffer.from([1]), l, r));
    assert.notDeepEqual(nodeHash(l, r), nodeHash(r, l));
    // Inputs of any length (not only 32-byte hashes) and plain Uint8Arrays.
    assert.deepEqual(nodeHash(new Uint8Array([7]), d), sha(Buffer.from([1, 7]), d));
    assert.deepEqual(leafHash(new Uint8Array(0)), sha(Buffer.from([0])));
    // Entries of every size class (short ones are hashed from a reused buffer), longer then
    // shorter, so that nothing of a previous entry leaks into the next hash.
    for (const len of [5000, 1025, 1024, 1023, 64, 1, 0, 1024, 3]) {
      const e = Buffer.alloc(len, len % 251);
      assert.deepEqual(leafHash(e), sha(Buffer.from([0]), e), `${len} bytes`);
    }
  });

  it("known answers: the empty tree, a one-leaf tree, and the Certificate Transparency test vectors", () => {
    const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert.equal(rootOf([]).toString("hex"), empty);
    assert.equal(new MerkleFrontier().root().toString("hex"), empty);
    const one = leafHash(Buffer.from("only"));
    assert.deepEqual(rootOf([one]), one);
    const f = new MerkleFrontier();
    f.push(one);
    assert.deepEqual(f.root(), one);
    // The eight-leaf tree of the Certificate Transparency reference tests (RFC 6962 hashing,
    // which RFC 9162 §2.1 keeps): the roots of its first 1..8 leaves.
    const data = [
      "",
      "00",
      "10",
      "2021",
      "3031",
      "40414243",
      "5051525354555657",
      "606162636465666768696a6b6c6d6e6f",
    ].map((h) => leafHash(Buffer.from(h, "hex")));
    const roots = [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    assert.deepEqual(
      roots.map((_, i) => rootOf(data, 0, i + 1).toString("hex")),
      roots,
    );
  });

  it("rootOf a sub-range is the root of that slice; the result is the caller's to keep", () => {
    for (const [s, e] of [
      [0, 0],
      [3, 3],
      [0, 1],
      [5, 6],
      [1, 40],
      [7, 23],
      [16, 32],
      [39, 40],
    ] as const) {
      assert.deepEqual(rootOf(smallLeaves, s, e), rootOf(smallLeaves.slice(s, e)), `[${s}, ${e})`);
    }
    const lone = rootOf(smallLeaves, 4, 5);
    lone[0] = lone[0]! ^ 0xff;
    assert.notDeepEqual(smallLeaves[4], lone, "a one-leaf root is a copy");
    assert.throws(() => rootOf(smallLeaves, 5, 4), RangeError);
    assert.throws(() => rootOf(smallLeaves, 0, SMALL + 1), RangeError);
    assert.throws(() => rootOf(smallLeaves, -1, 2), RangeError);
  });

  it("agrees with the Python reference on every root, inclusion path and consistency proof of sizes 1..40", () => {
    const pairs = allPairs(SMALL);
    const answer = reference({
      leaves: hex(smallData),
      roots: smallRoots.map((_, n) => n),
      ...pairs,
    });
    assert.deepEqual(hex(smallLeaves), answer.leafHashes, "leaf hashes");
    assert.deepEqual(hex(smallRoots), answer.roots, "roots");
    pairs.inclusion.forEach(([i, n], j) => {
      assert.deepEqual(hex(inclusionProof(i, n, smallLeaves)), answer.inclusion[j], `PATH(${i}, D[${n}])`);
    });
    pairs.consistency.forEach(([m, n], j) => {
      assert.deepEqual(
        hex(consistencyProof(m, n, smallLeaves)),
        answer.consistency[j],
        `PROOF(${m}, D[${n}])`,
      );
    });

    // The reference's proofs verify with our verifiers.
    pairs.inclusion.forEach(([i, n], j) => {
      const proof = unhex(answer.inclusion[j]!);
      const root = Buffer.from(answer.roots[n]!, "hex");
      assert.ok(verifyInclusion(i, n, smallLeaves[i]!, proof, root), `reference PATH(${i}, D[${n}])`);
    });
    pairs.consistency.forEach(([m, n], j) => {
      const proof = unhex(answer.consistency[j]!);
      const [rm, rn] = [Buffer.from(answer.roots[m]!, "hex"), Buffer.from(answer.roots[n]!, "hex")];
      assert.ok(verifyConsistency(m, n, rm, rn, proof), `reference PROOF(${m}, D[${n}])`);
    });
  });

  it("agrees with the Python reference on random proofs in trees of up to 1025 leaves", () => {
    const N = 1025;
    const data = entries(N, 9162);
    const leaves = data.map((d) => leafHash(d));
    const rand = prng(2026);
    const pick = (max: number) => 1 + Math.floor(rand() * max);
    const sizes = [0, 1, 2, 511, 512, 513, 999, 1000, 1023, 1024, 1025];
    const inclusion: [number, number][] = [
      [0, 1000],
      [999, 1000],
      [511, 512],
      [512, 513],
      [1024, 1025],
      [0, 1025],
      [700, 1000],
    ];
    const consistency: [number, number][] = [
      [1, 1000],
      [512, 1000],
      [999, 1000],
      [1000, 1000],
      [511, 512],
      [512, 513],
      [1024, 1025],
      [1, 1025],
      [333, 1025],
    ];
    for (let k = 0; k < 40; k++) {
      const n = pick(N);
      inclusion.push([Math.floor(rand() * n), n]);
      consistency.push([pick(n), n]);
    }
    const answer = reference({ leaves: hex(data), roots: sizes, inclusion, consistency });
    assert.deepEqual(hex(leaves), answer.leafHashes);
    assert.deepEqual(
      sizes.map((n) => rootOf(leaves, 0, n).toString("hex")),
      answer.roots,
    );
    inclusion.forEach(([i, n], j) => {
      const proof = inclusionProof(i, n, leaves);
      assert.deepEqual(hex(proof), answer.inclusion[j], `PATH(${i}, D[${n}])`);
      assert.ok(verifyInclusion(i, n, leaves[i]!, unhex(answer.inclusion[j]!), rootOf(leaves, 0, n)));
    });
    consistency.forEach(([m, n], j) => {
      const proof = consistencyProof(m, n, leaves);
      assert.deepEqual(hex(proof), answer.consistency[j], `PROOF(${m}, D[${n}])`);
      const [rm, rn] = [rootOf(leaves, 0, m), rootOf(leaves, 0, n)];
      assert.ok(verifyConsistency(m, n, rm, rn, unhex(answer.consistency[j]!)));
    });
  });

  it("verifies its own inclusion proofs and refuses every tampered one (§2.1.3.2)", () => {
    const other = leafHash(Buffer.from("not in the tree"));
    for (let n = 1; n <= SMALL; n++) {
      const root = smallRoots[n]!;
      for (let i = 0; i < n; i++) {
        const leaf = smallLeaves[i]!;
        const proof = inclusionProof(i, n, smallLeaves);
        const at = `(${i}, ${n})`;
        assert.ok(verifyInclusion(i, n, leaf, proof, root), at);
        // A flipped byte anywhere: in each proof node, the leaf, the root.
        proof.forEach((p, k) => {
          const bad = proof.slice();
          bad[k] = flipped(p, k * 7 + i);
          assert.equal(verifyInclusion(i, n, leaf, bad, root), false, `${at} node ${k}`);
        });
        assert.equal(verifyInclusion(i, n, flipped(leaf, 31), proof, root), false, at);
        assert.equal(verifyInclusion(i, n, other, proof, root), false, at);
        assert.equal(verifyInclusion(i, n, leaf, proof, flipped(root, 5)), false, at);
        // Any other index of the same tree.
        for (let j = 0; j < n; j++) {
          if (j !== i) assert.equal(verifyInclusion(j, n, leaf, proof, root), false, `${at} as index ${j}`);
        }
        // Any other tree size, with that tree's own root.
        for (let m = i + 1; m <= SMALL; m++) {
          if (m !== n)
            assert.equal(verifyInclusion(i, m, leaf, proof, smallRoots[m]!), false, `${at} as size ${m}`);
        }
        // The size checks of step 1: an index outside the tree.
        assert.equal(verifyInclusion(n, n, leaf, proof, root), false, at);
        assert.equal(verifyInclusion(i, i, leaf, proof, root), false, at);
        // Too long (a node appended or prepended), too short (a node dropped at either end),
        // and the nodes reversed.
        assert.equal(verifyInclusion(i, n, leaf, [...proof, other], root), false, `${at} too long`);
        assert.equal(verifyInclusion(i, n, leaf, [other, ...proof], root), false, `${at} too long`);
        if (proof.length > 0) {
          assert.equal(verifyInclusion(i, n, leaf, proof.slice(1), root), false, `${at} too short`);
          assert.equal(verifyInclusion(i, n, leaf, proof.slice(0, -1), root), false, `${at} too short`);
        }
        if (proof.length > 1) {
          assert.equal(verifyInclusion(i, n, leaf, proof.slice().reverse(), root), false, `${at} reversed`);
        }
      }
    }
  });

  it("inclusion: bad arguments give false from the verifier and RangeError from the prover", () => {
    const proof = inclusionProof(3, 10, smallLeaves);
    const [leaf, root] = [smallLeaves[3]!, smallRoots[10]!];
    assert.ok(verifyInclusion(3, 10, leaf, proof, root));
    for (const [i, n] of [
      [-1, 10],
      [3.5, 10],
      [NaN, 10],
      [3, 0],
      [3, -10],
      [3, 10.5],
      [3, Infinity],
      [2 ** 53, 2 ** 53 + 2],
    ] as const) {
      assert.equal(verifyInclusion(i, n, leaf, proof, root), false, `${i}, ${n}`);
    }
    assert.equal(verifyInclusion(3, 10, leaf.subarray(1), proof, root), false);
    assert.equal(verifyInclusion(3, 10, leaf, proof, Buffer.concat([root, Buffer.from([0])])), false);
    assert.equal(verifyInclusion(3, 10, leaf, [proof[0]!.subarray(0, 31), ...proof.slice(1)], root), false);
    assert.equal(verifyInclusion(3, 10, leaf, "nope" as unknown as Buffer[], root), false);
    assert.equal(verifyInclusion(3, 10, leaf, [null as unknown as Buffer], root), false);
    // Plain Uint8Arrays are accepted (and an empty proof compares the leaf with the root).
    const u8 = (b: Buffer) => new Uint8Array(b) as Buffer;
    assert.ok(verifyInclusion(3, 10, u8(leaf), proof.map(u8), u8(root)));
    assert.ok(verifyInclusion(0, 1, u8(leaf), [], u8(leaf)));
    assert.equal(verifyInclusion(0, 1, u8(leaf), [], u8(root)), false);
    // The proof of leaf 0 in the 2-leaf tree, told it is of the 3-leaf tree and given the
    // 2-leaf root: the hashes match, only the final "sn is 0" of step 5 refuses it.
    const two = inclusionProof(0, 2, smallLeaves);
    assert.ok(verifyInclusion(0, 2, smallLeaves[0]!, two, smallRoots[2]!));
    assert.equal(verifyInclusion(0, 3, smallLeaves[0]!, two, smallRoots[2]!), false);
    // A large tree size is handled with exact arithmetic (beyond 32 bits), never thrown on.
    assert.equal(verifyInclusion(2 ** 40, 2 ** 41 + 3, leaf, proof, root), false);

    assert.throws(() => inclusionProof(10, 10, smallLeaves), RangeError);
    assert.throws(() => inclusionProof(0, 0, smallLeaves), RangeError);
    assert.throws(() => inclusionProof(-1, 10, smallLeaves), RangeError);
    assert.throws(() => inclusionProof(0, SMALL + 1, smallLeaves), RangeError);
    assert.throws(() => inclusionProof(1.5, 10, smallLeaves), RangeError);
  });

  it("verifies its own consistency proofs and refuses every tampered one (§2.1.4.2)", () => {
    const other = leafHash(Buffer.from("not in the tree"));
    for (let n = 1; n <= SMALL; n++) {
      const rn = smallRoots[n]!;
      for (let m = 1; m <= n; m++) {
        const rm = smallRoots[m]!;
        const proof = consistencyProof(m, n, smallLeaves);
        const at = `(${m}, ${n})`;
        assert.ok(verifyConsistency(m, n, rm, rn, proof), at);
        if (m === n) {
          assert.deepEqual(proof, [], at);
          assert.equal(verifyConsistency(m, n, rm, rn, [other]), false, `${at} non-empty`);
          assert.equal(verifyConsistency(m, n, rm, smallRoots[n - 1]!, []), false, `${at} other root`);
          continue;
        }
        proof.forEach((p, k) => {
          const bad = proof.slice();
          bad[k] = flipped(p, k * 5 + m);
          assert.equal(verifyConsistency(m, n, rm, rn, bad), false, `${at} node ${k}`);
        });
        assert.equal(verifyConsistency(m, n, flipped(rm), rn, proof), false, `${at} old root`);
        assert.equal(verifyConsistency(m, n, rm, flipped(rn, 31), proof), false, `${at} new root`);
        assert.equal(verifyConsistency(m, n, rn, rm, proof), false, `${at} roots swapped`);
        assert.equal(verifyConsistency(n, m, rn, rm, proof), false, `${at} m > n`);
        assert.equal(verifyConsistency(n, m, rm, rn, proof), false, `${at} m > n`);
        assert.equal(verifyConsistency(0, n, smallRoots[0]!, rn, proof), false, `${at} m = 0`);
        assert.equal(verifyConsistency(0, n, smallRoots[0]!, rn, []), false, `${at} m = 0, empty proof`);
        assert.equal(verifyConsistency(m, n, rm, rn, []), false, `${at} empty`);
        assert.equal(verifyConsistency(m, n, rm, rn, [...proof, other]), false, `${at} too long`);
        assert.equal(verifyConsistency(m, n, rm, rn, [other, ...proof]), false, `${at} too long`);
        assert.equal(verifyConsistency(m, n, rm, rn, proof.slice(0, -1)), false, `${at} too short`);
        assert.equal(verifyConsistency(m, n, rm, rn, proof.slice(1)), false, `${at} too short`);
        if (proof.length > 1) {
          assert.equal(verifyConsistency(m, n, rm, rn, proof.slice().reverse()), false, `${at} reversed`);
        }
        // The proof with another old size, or another new size (each with its true root).
        for (let k = 1; k <= n; k++) {
          if (k !== m) {
            assert.equal(verifyConsistency(k, n, smallRoots[k]!, rn, proof), false, `${at} as (${k}, ${n})`);
          }
        }
        for (let k = m + 1; k <= SMALL; k++) {
          if (k !== n) {
            assert.equal(verifyConsistency(m, k, rm, smallRoots[k]!, proof), false, `${at} as (${m}, ${k})`);
          }
        }
      }
    }
  });

  it("consistency: bad arguments give false from the verifier and RangeError from the prover", () => {
    const proof = consistencyProof(3, 10, smallLeaves);
    const [r3, r10] = [smallRoots[3]!, smallRoots[10]!];
    assert.ok(verifyConsistency(3, 10, r3, r10, proof));
    for (const [m, n] of [
      [-3, 10],
      [3, -10],
      [3.5, 10],
      [NaN, 10],
      [3, Infinity],
      [11, 10],
    ] as const) {
      assert.equal(verifyConsistency(m, n, r3, r10, proof), false, `${m}, ${n}`);
    }
    assert.equal(verifyConsistency(3, 10, r3.subarray(1), r10, proof), false);
    assert.equal(verifyConsistency(3, 10, r3, r10, [...proof.slice(1), Buffer.alloc(33)]), false);
    assert.equal(verifyConsistency(3, 10, r3, r10, {} as unknown as Buffer[]), false);
    assert.equal(verifyConsistency(2 ** 40, 2 ** 41 + 3, r3, r10, proof), false);
    // PROOF(1, D[2]), told it is PROOF(1, D[3]) and given the 2-leaf root as the new one: fr
    // and sr match, only the final "sn is 0" of step 7 refuses it.
    const oneTwo = consistencyProof(1, 2, smallLeaves);
    assert.ok(verifyConsistency(1, 2, smallRoots[1]!, smallRoots[2]!, oneTwo));
    assert.equal(verifyConsistency(1, 3, smallRoots[1]!, smallRoots[2]!, oneTwo), false);
    // m === n: true iff the proof is empty and the roots are equal.
    assert.ok(verifyConsistency(10, 10, r10, Buffer.from(r10), []));
    assert.equal(verifyConsistency(0, 0, smallRoots[0]!, smallRoots[0]!, []), false, "m = 0");

    assert.throws(() => consistencyProof(0, 10, smallLeaves), RangeError);
    assert.throws(() => consistencyProof(11, 10, smallLeaves), RangeError);
    assert.throws(() => consistencyProof(3, SMALL + 1, smallLeaves), RangeError);
    assert.throws(() => consistencyProof(-1, 10, smallLeaves), RangeError);
    assert.throws(() => consistencyProof(2.5, 10, smallLeaves), RangeError);
    assert.deepEqual(consistencyProof(7, 7, smallLeaves), []);
  });

  it("MerkleFrontier: root equals rootOf for sizes 0..100, nodes() round-trips through from()", () => {
    const leaves = entries(100, 5).map((d) => leafHash(d));
    const f = new MerkleFrontier();
    for (let n = 0; n <= 100; n++) {
      if (n > 0) f.push(leaves[n - 1]!);
      assert.equal(f.size, n);
      assert.deepEqual(f.root(), rootOf(leaves, 0, n), `size ${n}`);
      const nodes = f.nodes();
      let popcount = 0;
      for (let v = n; v > 0; v >>= 1) popcount += v & 1;
      assert.equal(nodes.length, popcount, `size ${n}`);
      // The compact range: the roots of the perfect subtrees of n's binary decomposition.
      let start = 0;
      const expected: Buffer[] = [];
      for (let bit = 2 ** 7; bit >= 1; bit /= 2) {
        if (n & bit) {
          expected.push(rootOf(leaves, start, start + bit));
          start += bit;
        }
      }
      assert.deepEqual(nodes, expected, `size ${n}`);
      const back = MerkleFrontier.from(n, nodes);
      assert.equal(back.size, n);
      assert.deepEqual(back.root(), f.root());
      assert.deepEqual(back.nodes(), nodes);
      // Rebuilt and cloned frontiers go on as the original would.
      if (n < 100) {
        const c = f.clone();
        back.push(leaves[n]!);
        c.push(leaves[n]!);
        assert.deepEqual(back.root(), rootOf(leaves, 0, n + 1));
        assert.deepEqual(c.root(), rootOf(leaves, 0, n + 1));
        assert.equal(f.size, n, "pushing to a clone leaves the original alone");
        assert.deepEqual(f.root(), rootOf(leaves, 0, n));
      }
    }
  });

  it("MerkleFrontier: a random 5000-leaf tree; its nodes and root are copies", () => {
    const rand = prng(5000);
    const leaves = Array.from({ length: 5000 }, () =>
      leafHash(Buffer.from(Array.from({ length: 8 }, () => Math.floor(rand() * 256)))),
    );
    const f = new MerkleFrontier();
    const checkpoints = new Set([1, 2, 3, 1024, 1025, 2047, 2048, 4095, 4096, 4097, 4999, 5000]);
    for (let n = 1; n <= 5000; n++) {
      const leaf = Buffer.from(leaves[n - 1]!);
      f.push(leaf);
      leaf.fill(0); // the caller reusing its buffer changes nothing
      if (checkpoints.has(n)) assert.deepEqual(f.root(), rootOf(leaves, 0, n), `size ${n}`);
    }
    const root = f.root();
    f.nodes().forEach((node) => node.fill(0));
    assert.deepEqual(f.root(), root, "nodes() hands out copies");
    assert.deepEqual(MerkleFrontier.from(5000, f.nodes()).root(), rootOf(leaves));
    const g = new MerkleFrontier();
    g.push(leaves[0]!);
    g.root().fill(0);
    assert.deepEqual(g.root(), leaves[0], "root() of one leaf is a copy");
  });

  it("MerkleFrontier.from refuses a node count that is not popcount(size), and wrong hash sizes", () => {
    const f = new MerkleFrontier();
    for (const l of smallLeaves.slice(0, 11)) f.push(l); // 11 = 0b1011: three nodes
    const nodes = f.nodes();
    assert.equal(nodes.length, 3);
    assert.throws(() => MerkleFrontier.from(11, nodes.slice(0, 2)), RangeError);
    assert.throws(() => MerkleFrontier.from(11, [...nodes, nodes[0]!]), RangeError);
    assert.throws(() => MerkleFrontier.from(12, nodes), RangeError);
    assert.throws(() => MerkleFrontier.from(0, nodes), RangeError);
    assert.throws(() => MerkleFrontier.from(-1, []), RangeError);
    assert.throws(() => MerkleFrontier.from(1.5, [nodes[0]!]), RangeError);
    assert.throws(() => MerkleFrontier.from(11, [nodes[0]!, nodes[1]!.subarray(1), nodes[2]!]), RangeError);
    assert.throws(() => MerkleFrontier.from(1, [Buffer.alloc(33)]), RangeError);
    assert.equal(MerkleFrontier.from(0, []).size, 0);
    assert.deepEqual(MerkleFrontier.from(2 ** 40, [nodes[0]!]).nodes(), [nodes[0]]);
    assert.equal(MerkleFrontier.from(2 ** 40 + 1, nodes.slice(0, 2)).size, 2 ** 40 + 1);
    // A frontier beyond 32 bits keeps merging correctly: 2^32 - 1 leaves (32 nodes) plus one.
    const big = MerkleFrontier.from(
      2 ** 32 - 1,
      Array.from({ length: 32 }, (_, i) => smallLeaves[i]!),
    );
    big.push(smallLeaves[32]!);
    let expected = nodeHash(smallLeaves[31]!, smallLeaves[32]!);
    for (let i = 30; i >= 0; i--) expected = nodeHash(smallLeaves[i]!, expected);
    assert.equal(big.size, 2 ** 32);
    assert.deepEqual(big.nodes(), [expected]);
    assert.throws(() => f.push(Buffer.alloc(31)), TypeError);
    assert.equal(f.size, 11);
  });
  it("MerkleRange: parts of the leaves hashed apart, pushed into the frontier before them, give every root", () => {
    const rand = prng(777);
    const n = 700;
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
    const bin = leaves.map((l) => l.toString("latin1"));
    for (let trial = 0; trial < 60; trial++) {
      // Random cut points (some parts empty, some of one leaf), and random sizes to check inside parts.
      const cuts = [0, n];
      for (let k = Math.floor(rand() * 8); k > 0; k--) cuts.push(Math.floor(rand() * (n + 1)));
      cuts.sort((a, b) => a - b);
      const frontier = new MerkleFrontier();
      for (let p = 0; p + 1 < cuts.length; p++) {
        const [a, b] = [cuts[p]!, cuts[p + 1]!];
        const range = new MerkleRange(a);
        const at = a + Math.floor(rand() * (b - a + 1));
        for (let i = a; i < b; i++) {
          range.pushBinary(bin[i]!);
          if (i + 1 === at) {
            const f = frontier.clone();
            for (const [root, size] of range.subtrees()) f.pushSubtree(root, size);
            assert.equal(f.size, at);
            assert.deepEqual(f.root(), rootOf(leaves, 0, at), `size ${at}`);
          }
        }
        assert.equal(range.end, b);
        for (const [root, size] of range.subtrees()) frontier.pushSubtree(root, size);
        assert.equal(frontier.size, b);
        assert.deepEqual(frontier.root(), rootOf(leaves, 0, b), `size ${b}`);
      }
    }
    const f = new MerkleFrontier();
    f.pushBinary(bin[0]!);
    assert.throws(() => f.pushSubtree(bin[1]!, 2), RangeError, "a subtree of 2 does not start at 1");
    assert.throws(() => f.pushSubtree(bin[1]!, 3), RangeError);
    assert.throws(() => f.pushSubtree("short", 1), TypeError);
  });

  it("pushLeafOfHex is push(leafHashOfHex(hex))", () => {
    const a = new MerkleFrontier();
    const b = new MerkleFrontier();
    for (let i = 0; i < 300; i++) {
      const hex = createHash("sha256").update(`event ${i}`).digest("hex");
      a.pushLeafOfHex(hex);
      b.push(leafHashOfHex(hex));
      assert.deepEqual(leafHashOfHex(hex), leafHash(Buffer.from(hex, "hex")));
    }
    assert.deepEqual(a.root(), b.root());
    assert.deepEqual(a.nodes(), b.nodes());
  });
});
