/**
 * The audit hash chain, pure (no I/O): each event's hash covers the previous event's hash
 * and this event's canonical form, so editing, deleting or reordering any stored event
 * breaks every hash after it (see verify.ts).
 */
import { createHash } from "node:crypto";

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

/** Lowercase hex SHA-256 of `prevHash + "\n" + canonicalEvent(e)`. */
export function chainHash(prevHash: string, e: ChainedFields): string {
  return createHash("sha256")
    .update(prevHash + "\n" + canonicalEvent(e))
    .digest("hex");
}
