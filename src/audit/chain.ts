/**
 * The audit hash chain, pure (no I/O): each event's hash covers the previous event's hash
 * and this event's canonical form, so editing, deleting or reordering any stored event
 * breaks every hash after it (see verify.ts).
 */
import * as nodeCrypto from "node:crypto";

/** The `prevHash` of the first event: 64 zeros. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields of an audit event that its hash covers. */
export interface ChainedFields {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

/**
 * JSON with object keys sorted (recursively), no whitespace. Follows `JSON.stringify`
 * for everything else: `toJSON` is honoured, `undefined` / functions / symbols are
 * dropped from objects and become `null` in arrays, non-finite numbers become `null`.
 * Keys are sorted by UTF-16 code units (the default `Array.prototype.sort` order).
 */
export function stableStringify(value: unknown): string {
  const out = encode(value, true);
  return out === undefined ? "null" : out;
}

function encode(value: unknown, topOrArray: boolean): string | undefined {
  if (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { toJSON?: unknown }).toJSON === "function"
  ) {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "bigint":
      throw new TypeError("stableStringify: BigInt is not JSON");
    case "undefined":
    case "function":
    case "symbol":
      return topOrArray ? "null" : undefined;
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    return "[" + value.map((v) => encode(v, true) ?? "null").join(",") + "]";
  }
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = encode(obj[key], false);
    if (v !== undefined) parts.push(JSON.stringify(key) + ":" + v);
  }
  return "{" + parts.join(",") + "}";
}

/** The canonical form of an event that is hashed: its chained fields as sorted-key JSON. */
export function canonicalEvent(e: ChainedFields): string {
  return stableStringify({
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    details: e.details,
  });
}

/**
 * Lowercase hex SHA-256 of a string's UTF-8 bytes: one `crypto.hash` call where Node has it
 * (20.12 and later: no Hash object per call), else createHash.
 */
export const sha256Hex: (data: string) => string =
  typeof nodeCrypto.hash === "function"
    ? (data) => nodeCrypto.hash("sha256", data, "hex")
    : (data) => nodeCrypto.createHash("sha256").update(data).digest("hex");

/** Lowercase hex SHA-256 of `prevHash + "\n" + canonicalEvent(e)`. */
export function chainHash(prevHash: string, e: ChainedFields): string {
  return sha256Hex(prevHash + "\n" + canonicalEvent(e));
}

/**
 * The details a stored `details` text stands for, as every reader of the store sees them
 * (`sigil audit log`, the chain check): the parsed JSON object, or `{ $unparseable: text }`
 * when the text is not JSON or not an object (the column was edited by hand), so the chain
 * check reports that event as edited instead of the read failing.
 */
export function parseDetails(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // not JSON: below
  }
  return { $unparseable: text };
}

/** An event's chained fields with `details` as the store keeps them: the JSON text. */
export interface StoredChainedFields extends Omit<ChainedFields, "details"> {
  details: string;
}

/**
 * `chainHash(prevHash, { ...e, details: parseDetails(e.details) })`, the hash of the event
 * as readers see it, computed without parsing when it can be: the writer stores
 * `stableStringify(details)`, and when {@link isCanonicalDetails} proves the text is exactly
 * what stableStringify gives for its own parse, that text is the `details` part of the
 * canonical form as it stands. Any other text (edited by hand, from an older writer) is
 * parsed and re-serialised as before, so an edit is caught the same way on both paths.
 */
export function storedChainHash(prevHash: string, e: StoredChainedFields): string {
  const { seq, at, actor, action, target, details } = e;
  if (
    typeof action === "string" &&
    typeof actor === "string" &&
    Number.isFinite(at) &&
    Number.isFinite(seq) &&
    (target === null || typeof target === "string") &&
    isCanonicalDetails(details)
  ) {
    // canonicalEvent's key order (sorted): action, actor, at, details, seq, target. A finite
    // number prints as JSON.stringify prints it.
    return sha256Hex(
      `${prevHash}\n{"action":${JSON.stringify(action)},"actor":${JSON.stringify(actor)},"at":${at},"details":${details},"seq":${seq},"target":${target === null ? "null" : JSON.stringify(target)}}`,
    );
  }
  return chainHash(prevHash, { seq, at, actor, action, target, details: parseDetails(details) });
}

/**
 * `chainHash(prevHash, e)` for an event that is JSON.parse output (read from an export):
 * when its details object serialises (JSON.stringify) to canonical text, that text is what
 * stableStringify gives for it (JSON.parse output holds only strings, finite or infinite
 * numbers, booleans, null, arrays and plain objects, which both functions write alike but for
 * the key order that {@link isCanonicalDetails} checks), so it is used as it stands. Not for
 * objects made in code (a toJSON method, an undefined value): use chainHash.
 */
export function parsedChainHash(prevHash: string, e: ChainedFields): string {
  const d = e.details as unknown;
  if (d !== null && typeof d === "object" && !Array.isArray(d)) {
    const text = JSON.stringify(d);
    if (isCanonicalDetails(text)) return storedChainHash(prevHash, { ...e, details: text });
  }
  return chainHash(prevHash, e);
}

/** An event's link fields and the hash its content gives (`computed`): what the chain walk checks. */
export interface HashedLink {
  seq: number;
  prevHash: string;
  hash: string;
  computed: string;
}

/**
 * An export line (`JSON.stringify` of an event, audit export's events.jsonl) as a
 * {@link HashedLink}, without JSON.parse when it can be: when the line is exactly
 * `{"seq":N,"at":N,"actor":S,"action":S,"target":S|null,"details":D,"prevHash":H,"hash":H}`
 * with N numbers and S strings as JSON.stringify writes them, D a details text that
 * {@link isCanonicalDetails} accepts and H strings without escapes, every part of the
 * canonical form is a piece of the line as it stands, and the hash is the one
 * {@link parsedChainHash} gives for `JSON.parse(line)`. Otherwise undefined: the caller
 * parses the line and uses parsedChainHash.
 */
export function exportLineChainHash(line: string): HashedLink | undefined {
  if (!line.startsWith('{"seq":')) return undefined;
  plain = !CONTROL_OR_SURROGATE.test(line);
  nextBackslash = plain ? line.indexOf("\\") : -1;
  const seqAt = 7;
  const seqEnd = scanNumber(line, seqAt);
  if (seqEnd < 0 || !line.startsWith(',"at":', seqEnd)) return undefined;
  const atAt = seqEnd + 6;
  const atEnd = scanNumber(line, atAt);
  if (atEnd < 0 || !line.startsWith(',"actor":"', atEnd)) return undefined;
  const actorAt = atEnd + 9;
  const actorEnd = scanString(line, actorAt, true);
  if (actorEnd < 0 || !line.startsWith(',"action":"', actorEnd)) return undefined;
  const actionAt = actorEnd + 10;
  const actionEnd = scanString(line, actionAt, true);
  if (actionEnd < 0 || !line.startsWith(',"target":', actionEnd)) return undefined;
  const targetAt = actionEnd + 10;
  const targetEnd = line.startsWith("null", targetAt)
    ? targetAt + 4
    : line.charCodeAt(targetAt) === 0x22
      ? scanString(line, targetAt, true)
      : -1;
  if (targetEnd < 0 || !line.startsWith(',"details":{', targetEnd)) return undefined;
  const detailsAt = targetEnd + 11;
  const detailsEnd = scanValue(line, detailsAt, 0);
  if (detailsEnd < 0 || !line.startsWith(',"prevHash":"', detailsEnd)) return undefined;
  const prevAt = detailsEnd + 12;
  const prevEnd = scanString(line, prevAt, false);
  if (prevEnd < 0 || !line.startsWith(',"hash":"', prevEnd)) return undefined;
  const hashAt = prevEnd + 8;
  const hashEnd = scanString(line, hashAt, false);
  if (hashEnd < 0 || hashEnd + 1 !== line.length || line.charCodeAt(hashEnd) !== 0x7d) return undefined;
  const seq = Number(line.slice(seqAt, seqEnd));
  const at = Number(line.slice(atAt, atEnd));
  if (!Number.isFinite(seq) || !Number.isFinite(at)) return undefined;
  const prevHash = line.slice(prevAt + 1, prevEnd - 1);
  // canonicalEvent's key order (sorted): action, actor, at, details, seq, target.
  const computed = sha256Hex(
    `${prevHash}\n{"action":${line.slice(actionAt, actionEnd)},"actor":${line.slice(actorAt, actorEnd)},"at":${line.slice(atAt, atEnd)},"details":${line.slice(detailsAt, detailsEnd)},"seq":${line.slice(seqAt, seqEnd)},"target":${line.slice(targetAt, targetEnd)}}`,
  );
  return { seq, prevHash, hash: line.slice(hashAt + 1, hashEnd - 1), computed };
}

/** Nesting deeper than this is left to the slow path (no recursion limit to reason about). */
const MAX_DEPTH = 32;

/**
 * True only when `text` is a JSON object that is exactly `stableStringify(JSON.parse(text))`:
 * no whitespace, keys unique and sorted by UTF-16 code units, strings and numbers in the
 * form `JSON.stringify` writes them. Conservative: text it cannot decide cheaply (an escaped
 * key, an escaped surrogate, very deep nesting) answers false, and the caller parses it.
 * Pure string scan: no parse, no allocation but the keys' slices.
 */
export function isCanonicalDetails(text: string): boolean {
  if (text.charCodeAt(0) !== 0x7b) return false;
  // Text without raw controls or surrogates (the usual details) has its strings found with
  // indexOf (native search) instead of a loop over every character: only the quotes and
  // backslashes in them matter then.
  plain = !CONTROL_OR_SURROGATE.test(text);
  nextBackslash = plain ? text.indexOf("\\") : -1;
  return scanValue(text, 0, 0) === text.length;
}

/** A raw control character or a UTF-16 surrogate (paired or not). */
// eslint-disable-next-line no-control-regex -- the control characters are what it finds
const CONTROL_OR_SURROGATE = /[\u0000-\u001f\ud800-\udfff]/;
/** Set by isCanonicalDetails for the text being scanned (scans never nest across texts). */
let plain = false;
/** With `plain`: the index of a backslash at or after the scan's position, or -1 when none is left. */
let nextBackslash = -1;

/** Where the value starting at `i` ends (the index after it), or -1 when it is not canonical. */
function scanValue(s: string, i: number, depth: number): number {
  const c = s.charCodeAt(i);
  switch (c) {
    case 0x22: // "
      return scanString(s, i, true);
    case 0x7b: // {
      return depth >= MAX_DEPTH ? -1 : scanObject(s, i, depth + 1);
    case 0x5b: // [
      return depth >= MAX_DEPTH ? -1 : scanArray(s, i, depth + 1);
    case 0x74: // t
      return s.startsWith("true", i) ? i + 4 : -1;
    case 0x66: // f
      return s.startsWith("false", i) ? i + 5 : -1;
    case 0x6e: // n
      return s.startsWith("null", i) ? i + 4 : -1;
    default:
      return c === 0x2d || (c >= 0x30 && c <= 0x39) ? scanNumber(s, i) : -1;
  }
}

function scanObject(s: string, i: number, depth: number): number {
  i++;
  if (s.charCodeAt(i) === 0x7d) return i + 1; // {}
  let prev: string | undefined;
  for (;;) {
    if (s.charCodeAt(i) !== 0x22) return -1;
    // Keys without escapes only: their text is the key, so the slices compare as the keys do.
    const end = scanString(s, i, false);
    if (end < 0) return -1;
    const key = s.slice(i + 1, end - 1);
    // Strictly increasing in UTF-16 code units (Array.prototype.sort's default order): sorted, no duplicates.
    if (prev !== undefined && !(prev < key)) return -1;
    prev = key;
    if (s.charCodeAt(end) !== 0x3a) return -1; // :
    i = scanValue(s, end + 1, depth);
    if (i < 0) return -1;
    const c = s.charCodeAt(i);
    if (c === 0x7d) return i + 1; // }
    if (c !== 0x2c) return -1; // ,
    i++;
  }
}

function scanArray(s: string, i: number, depth: number): number {
  i++;
  if (s.charCodeAt(i) === 0x5d) return i + 1; // []
  for (;;) {
    i = scanValue(s, i, depth);
    if (i < 0) return -1;
    const c = s.charCodeAt(i);
    if (c === 0x5d) return i + 1; // ]
    if (c !== 0x2c) return -1; // ,
    i++;
  }
}

const isLowerHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);

/**
 * A string as JSON.stringify writes it: raw characters but `"`, `\`, controls and lone
 * surrogates; the short escapes \" \\ \b \f \n \r \t; `\u00xx` (lowercase) for the other
 * controls. `escapes` false: any backslash answers -1.
 */
function scanString(s: string, i: number, escapes: boolean): number {
  if (plain) return scanPlainString(s, i, escapes);
  for (let j = i + 1; ; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c >= 0x20 && c !== 0x5c && (c < 0xd800 || c > 0xdfff)) continue;
    if (c >= 0xd800 && c <= 0xdbff) {
      // A surrogate pair stays raw; a lone surrogate JSON.stringify escapes.
      const d = s.charCodeAt(j + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        j++;
        continue;
      }
      return -1;
    }
    if (c !== 0x5c || !escapes) return -1; // a raw control, a lone low surrogate, the end (NaN)
    const e = s.charCodeAt(j + 1);
    if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      j++;
      continue;
    }
    if (e !== 0x75) return -1; // \/ and anything else: not how JSON.stringify writes it
    // \u00xx for a control without a short escape (not \b \t \n \f \r), lowercase hex.
    if (!canonicalU00(s, j)) return -1;
    j += 5;
  }
}

/**
 * {@link scanString} for a text with no raw control character and no surrogate: every
 * character is written raw by JSON.stringify but `"` and `\`, so only the escapes need a
 * look. The same answers (chain.test.ts compares both on random text).
 */
function scanPlainString(s: string, i: number, escapes: boolean): number {
  for (let j = i + 1; ;) {
    const q = s.indexOf('"', j);
    if (q < 0) return -1;
    if (nextBackslash >= 0 && nextBackslash < j) nextBackslash = s.indexOf("\\", j);
    const b = nextBackslash;
    if (b < 0 || b > q) return q + 1;
    if (!escapes) return -1;
    const e = s.charCodeAt(b + 1);
    if (e === 0x22 || e === 0x5c || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      j = b + 2;
      continue;
    }
    if (e !== 0x75 || !canonicalU00(s, b)) return -1;
    j = b + 6;
  }
}

/** True when the `\u` escape at `b` is `\u00xx` (lowercase) for a control without a short escape, as JSON.stringify writes it. */
function canonicalU00(s: string, b: number): boolean {
  if (s.charCodeAt(b + 2) !== 0x30 || s.charCodeAt(b + 3) !== 0x30) return false;
  const h = s.charCodeAt(b + 4);
  const l = s.charCodeAt(b + 5);
  if ((h !== 0x30 && h !== 0x31) || !isLowerHex(l)) return false;
  const v = (h - 0x30) * 16 + (l <= 0x39 ? l - 0x30 : l - 0x61 + 10);
  return v !== 0x08 && v !== 0x09 && v !== 0x0a && v !== 0x0c && v !== 0x0d;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** A number in JSON's grammar whose text is what JSON.stringify writes for its value. */
function scanNumber(s: string, i: number): number {
  const start = i;
  if (s.charCodeAt(i) === 0x2d) i++; // -
  const first = s.charCodeAt(i);
  if (first === 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) while (isDigit(s.charCodeAt(i))) i++;
  else return -1;
  let plain = true;
  if (s.charCodeAt(i) === 0x2e) {
    // .
    plain = false;
    i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    // e E
    plain = false;
    i++;
    const sign = s.charCodeAt(i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const negative = s.charCodeAt(start) === 0x2d;
  // A plain integer of at most 15 digits (below 2^53) prints as written, but -0 prints as 0.
  if (plain && i - start - (negative ? 1 : 0) <= 15 && !(negative && first === 0x30)) return i;
  const tok = s.slice(start, i);
  return String(Number(tok)) === tok ? i : -1;
}
