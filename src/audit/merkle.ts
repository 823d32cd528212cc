/**
 * The Merkle tree of the audit log's signed checkpoints (issue 17), pure (no I/O, no clock):
 * exactly the tree of Certificate Transparency v2, RFC 9162 §2.1. Leaves are hashed with
 * `leafHash` (0x00 prefix) and interior nodes with `nodeHash` (0x01 prefix), so no leaf can
 * pass for a node (§2.1.1). Proofs are generated from the recursive definitions (PATH in
 * §2.1.3.1, PROOF/SUBPROOF in §2.1.4.1) walked top-down without recursion, and verified with
 * the step-by-step algorithms of §2.1.3.2 and §2.1.4.2.
 *
 * Tree sizes and indexes are JavaScript numbers: safe integers (below 2^53), which is why the
 * size arithmetic here divides by 2 instead of using 32-bit bitwise operators.
 */
import * as nodeCrypto from "node:crypto";

const { createHash } = nodeCrypto;

/**
 * SHA-256 of `data` as a new Buffer: one `crypto.hash` call where Node has it (20.12 and
 * later: no Hash object per call), else createHash.
 */
const sha256: (data: Uint8Array) => Buffer =
  typeof nodeCrypto.hash === "function"
    ? (data) => nodeCrypto.hash("sha256", data, "buffer")
    : (data) => createHash("sha256").update(data).digest();

/** SHA-256 output size. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);
/** 0x01 || left || right for two 32-byte hashes, filled and hashed synchronously by `nodeHash`. */
const NODE_INPUT = Buffer.alloc(1 + 2 * HASH_SIZE);
NODE_INPUT[0] = 0x01;

/** Entries up to this size are leaf-hashed from one reused buffer (one `update` call, not two). */
const LEAF_INPUT_MAX = 1024;
/** 0x00 || data for data of at most LEAF_INPUT_MAX bytes, filled and hashed synchronously. */
const LEAF_INPUT = Buffer.alloc(1 + LEAF_INPUT_MAX);

/** RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || data). */
export function leafHash(data: Uint8Array): Buffer {
  if (data.length <= LEAF_INPUT_MAX) {
    // Byte 0 of LEAF_INPUT is never written: it stays the 0x00 leaf prefix.
    LEAF_INPUT.set(data, 1);
    return sha256(LEAF_INPUT.subarray(0, 1 + data.length));
  }
  return createHash("sha256").update(LEAF_PREFIX).update(data).digest();
}

/** `leafHash(Buffer.from(hex, "hex"))` without the intermediate buffer (the same bytes: hex decoding stops at the first bad pair). */
export function leafHashOfHex(hex: string): Buffer {
  if (hex.length > 2 * LEAF_INPUT_MAX) return leafHash(Buffer.from(hex, "hex"));
  const n = LEAF_INPUT.write(hex, 1, "hex");
  return sha256(LEAF_INPUT.subarray(0, 1 + n));
}

/** RFC 9162 §2.1.1: node hash = SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length === HASH_SIZE && right.length === HASH_SIZE) {
    // The usual case: one update of a reused 65-byte buffer (nothing here yields, so the
    // shared buffer cannot be refilled before it is hashed).
    NODE_INPUT.set(left, 1);
    NODE_INPUT.set(right, 1 + HASH_SIZE);
    return sha256(NODE_INPUT);
  }
  return createHash("sha256").update(NODE_PREFIX).update(left).update(right).digest();
}

/** RFC 9162 §2.1.1: MTH({}) = SHA-256() (the hash of the empty string). */
function emptyRoot(): Buffer {
  return createHash("sha256").digest();
}

/** The largest power of 2 smaller than n, for n > 1 (the split point k of §2.1.1). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** 1 if n (a non-negative safe integer) is odd. */
function lsb(n: number): number {
  return n % 2;
}

/** n >> 1 for any non-negative safe integer (the `>>` operator truncates to 32 bits). */
function shr(n: number): number {
  return Math.floor(n / 2);
}

/** The number of bits set in a non-negative safe integer. */
function popcount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = shr(v)) count += lsb(v);
  return count;
}

function isSize(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

/**
 * MTH(D[start:end]) for start < end (§2.1.1), iteratively: the leaves are merged into a stack
 * of perfect subtrees as `MerkleFrontier.push` does (a perfect subtree of 2^j leaves splits at
 * 2^(j-1), its balanced halves), then the stack is folded from the right, which is the
 * recursion MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])) with k the largest perfect
 * subtree first. end - start - 1 node hashes. A single leaf is returned as it is (not copied).
 */
function mth(leaves: readonly Buffer[], start: number, end: number): Buffer {
  const stack: Buffer[] = [];
  for (let i = start, count = 0; i < end; i++, count++) {
    let h = leaves[i]!;
    // count < 2^32 (an array index), so the unsigned 32-bit operators are exact here.
    for (let c = count; (c & 1) === 1; c >>>= 1) h = nodeHash(stack.pop()!, h);
    stack.push(h);
  }
  let root = stack.pop()!;
  while (stack.length > 0) root = nodeHash(stack.pop()!, root);
  return root;
}

/** MTH(D[start:end]) as a buffer the caller may keep: a lone leaf hash is copied. */
function subtreeRoot(leaves: readonly Buffer[], start: number, end: number): Buffer {
  return end - start === 1 ? Buffer.from(leaves[start]!) : mth(leaves, start, end);
}

/** MTH over already-hashed leaves leafHashes[start..end) (default the whole array); the empty tree's root is SHA-256 of the empty string (§2.1.1). */
export function rootOf(leafHashes: readonly Buffer[], start = 0, end = leafHashes.length): Buffer {
  if (!isSize(start) || !isSize(end) || start > end || end > leafHashes.length) {
    throw new RangeError(`rootOf: bad range [${start}, ${end}) of ${leafHashes.length} leaves`);
  }
  if (start === end) return emptyRoot();
  return subtreeRoot(leafHashes, start, end);
}

/** The compact range (frontier) of a tree being appended to: the roots of the perfect subtrees of the binary decomposition of `size`, left to right; O(log n) memory. */
export class MerkleFrontier {
  #size = 0;
  /** The perfect subtrees' roots, largest (leftmost) first; never mutated, never handed out. */
  #nodes: Buffer[] = [];

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf (already leaf-hashed): one nodeHash per perfect subtree it completes. */
  push(leafHash: Buffer): void {
    if (!isHash(leafHash)) throw new TypeError(`MerkleFrontier.push: a leaf hash is ${HASH_SIZE} bytes`);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError("MerkleFrontier.push: tree is full");
    let h: Buffer;
    let c = this.#size;
    if (lsb(c) === 0) {
      // The leaf stays in the frontier as it is: keep a copy, the caller owns its buffer.
      h = Buffer.from(leafHash);
    } else {
      // Each trailing 1 bit of the old size is a perfect subtree of the same height as the
      // one being built: merge them (the trailing ones of size are the merges, so the total
      // over n pushes is n - popcount(n) node hashes).
      h = nodeHash(this.#nodes.pop()!, leafHash);
      c = shr(c);
      while (lsb(c) === 1) {
        h = nodeHash(this.#nodes.pop()!, h);
        c = shr(c);
      }
    }
    this.#nodes.push(h);
    this.#size++;
  }

  /** MTH of the first `size` leaves; equal to rootOf(all leaves). */
  root(): Buffer {
    const nodes = this.#nodes;
    if (nodes.length === 0) return emptyRoot();
    // §2.1.1: with k the largest power of 2 below n, D[0:k] is the leftmost (largest) perfect
    // subtree and D[k:n] the rest, so MTH folds the frontier from the right.
    let root = nodes[nodes.length - 1]!;
    if (nodes.length === 1) return Buffer.from(root);
    for (let i = nodes.length - 2; i >= 0; i--) root = nodeHash(nodes[i]!, root);
    return root;
  }

  /** Copies of the compact-range roots, left (largest) to right. */
  nodes(): Buffer[] {
    return this.#nodes.map((n) => Buffer.from(n));
  }

  clone(): MerkleFrontier {
    const copy = new MerkleFrontier();
    copy.#size = this.#size;
    // The node buffers are never mutated, so the clone may share them.
    copy.#nodes = this.#nodes.slice();
    return copy;
  }

  /** Rebuilds a frontier; throws on a node count that does not match popcount(size) or wrong hash sizes. */
  static from(size: number, nodes: readonly Buffer[]): MerkleFrontier {
    if (!isSize(size)) throw new RangeError(`MerkleFrontier.from: bad size ${String(size)}`);
    const expected = popcount(size);
    if (!Array.isArray(nodes) || nodes.length !== expected) {
      throw new RangeError(
        `MerkleFrontier.from: a tree of ${size} leaves has ${expected} frontier nodes, got ${Array.isArray(nodes) ? nodes.length : typeof nodes}`,
      );
    }
    nodes.forEach((n, i) => {
      if (!isHash(n)) throw new RangeError(`MerkleFrontier.from: node ${i} is not a ${HASH_SIZE}-byte hash`);
    });
    const frontier = new MerkleFrontier();
    frontier.#size = size;
    frontier.#nodes = nodes.map((n) => Buffer.from(n));
    return frontier;
  }
}

/** Inclusion proof (audit path) of leaf `index` in the tree of the first `treeSize` leaves (RFC 9162 §2.1.3.1). Throws RangeError on index >= treeSize or treeSize > leafHashes.length. */
export function inclusionProof(index: number, treeSize: number, leafHashes: readonly Buffer[]): Buffer[] {
  if (!isSize(index) || !isSize(treeSize) || index >= treeSize || treeSize > leafHashes.length) {
    throw new RangeError(
      `inclusionProof: bad index ${index} / tree size ${treeSize} (${leafHashes.length} leaves)`,
    );
  }
  // §2.1.3.1: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k, else
  // PATH(m - k, D[k:n]) : MTH(D[0:k]); PATH(0, {d0}) = {}. Walked top-down over the range
  // [lo, hi) holding leaf `index`; each step's sibling is appended after the deeper ones,
  // so the path is collected root-first and reversed. The siblings are disjoint subtrees:
  // fewer than treeSize node hashes in all.
  const path: Buffer[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index - lo < k) {
      path.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      path.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
    }
  }
  return path.reverse();
}

/** RFC 9162 §2.1.3.2 verification algorithm, step by step; false (never throws) on any mismatch, bad sizes, wrong proof length. */
export function verifyInclusion(
  index: number,
  treeSize: number,
  leafHash: Buffer,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!isSize(index) || !isSize(treeSize) || !isHash(leafHash) || !isHash(root)) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  // 1. If leaf_index >= tree_size, fail.
  if (index >= treeSize) return false;
  // 2. fn = leaf_index, sn = tree_size - 1.
  let fn = index;
  let sn = treeSize - 1;
  // 3. r = hash.
  let r: Uint8Array = leafHash;
  // 4. For each p in inclusion_path:
  for (const p of proof) {
    // a. If sn is 0, stop and fail (the proof is too long).
    if (sn === 0) return false;
    // b. If LSB(fn) is set, or fn equals sn:
    if (lsb(fn) === 1 || fn === sn) {
      // i. r = HASH(0x01 || p || r).
      r = nodeHash(p, r);
      // ii. If LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
      if (lsb(fn) === 0) {
        while (lsb(fn) === 0 && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // Otherwise: r = HASH(0x01 || r || p).
      r = nodeHash(r, p);
    }
    // c. Right-shift fn and sn once.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. Proven iff sn is 0 (the proof was not too short) and r equals root_hash.
  return sn === 0 && Buffer.compare(r, root) === 0;
}

/** Consistency proof between the trees of the first m and first n leaves, 0 < m <= n (RFC 9162 §2.1.4.1; m === n gives an empty proof). Throws RangeError on bad sizes. */
export function consistencyProof(m: number, n: number, leafHashes: readonly Buffer[]): Buffer[] {
  if (!isSize(m) || !isSize(n) || m === 0 || m > n || n > leafHashes.length) {
    throw new RangeError(`consistencyProof: bad sizes m=${m} n=${n} (${leafHashes.length} leaves)`);
  }
  // §2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true), where
  //   SUBPROOF(m, D[m], true) = {}, SUBPROOF(m, D[m], false) = {MTH(D[m])}, and for m < n,
  //   with k the largest power of 2 below n:
  //   m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
  //   m > k:  SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]).
  // Walked top-down over the range [lo, hi) (m' = m - lo leaves of the old tree in it); the
  // appended subtree roots are collected outermost-first and reversed. Disjoint subtrees:
  // fewer than n node hashes in all.
  const proof: Buffer[] = [];
  let lo = 0;
  let hi = n;
  let b = true;
  for (;;) {
    const size = hi - lo;
    const mm = m - lo;
    if (mm === size) {
      if (!b) proof.push(subtreeRoot(leafHashes, lo, hi));
      break;
    }
    const k = splitPoint(size);
    if (mm <= k) {
      proof.push(subtreeRoot(leafHashes, lo + k, hi));
      hi = lo + k;
    } else {
      proof.push(subtreeRoot(leafHashes, lo, lo + k));
      lo += k;
      b = false;
    }
  }
  return proof.reverse();
}

/** RFC 9162 §2.1.4.2 verification algorithm, step by step; false (never throws) on any mismatch. m === n: true iff proof empty and roots equal. */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Buffer,
  rootN: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (!isSize(m) || !isSize(n) || !isHash(rootM) || !isHash(rootN)) return false;
  if (!Array.isArray(proof) || !proof.every(isHash)) return false;
  // §2.1.4.1 defines proofs for 0 < m <= n only; PROOF(n, D[n]) is empty, and then the two
  // tree heads are consistent exactly when they are the same root. (The §2.1.4.2 algorithm
  // below assumes first < second.)
  if (m === 0 || m > n) return false;
  if (m === n) return proof.length === 0 && rootM.equals(rootN);
  // 1. If consistency_path is an empty array, fail.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, prepend first_hash to consistency_path.
  const path: readonly Uint8Array[] = popcount(m) === 1 ? [rootM, ...proof] : proof;
  // 3. fn = first - 1, sn = second - 1.
  let fn = m - 1;
  let sn = n - 1;
  // 4. If LSB(fn) is set, right-shift fn and sn until LSB(fn) is not set.
  while (lsb(fn) === 1) {
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. fr = sr = the first value of consistency_path.
  let fr = path[0]!;
  let sr = path[0]!;
  // 6. For each subsequent value c in consistency_path:
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    // a. If sn is 0, stop and fail (the proof is too long).
    if (sn === 0) return false;
    // b. If LSB(fn) is set, or fn equals sn:
    if (lsb(fn) === 1 || fn === sn) {
      // i. fr = HASH(0x01 || c || fr); ii. sr = HASH(0x01 || c || sr).
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // iii. If LSB(fn) is not set, right-shift fn and sn until LSB(fn) is set or fn is 0.
      if (lsb(fn) === 0) {
        while (lsb(fn) === 0 && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // Otherwise: sr = HASH(0x01 || sr || c).
      sr = nodeHash(sr, c);
    }
    // c. Right-shift fn and sn once.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 7. Consistent iff fr equals first_hash, sr equals second_hash and sn is 0.
  return sn === 0 && Buffer.compare(fr, rootM) === 0 && Buffer.compare(sr, rootN) === 0;
}
