/**
 * Records and rows: a column is its record field's name in snake_case (`certDer` ->
 * `cert_der`), except where a codec renames it; a few columns hold JSON text or 0/1 flags
 * (so the same rows work on both backends). Numbers need no conversion: better-sqlite3
 * returns numbers, and the PostgreSQL pool parses int8 as numbers.
 */

/** How a record's fields differ from plain columns. */
export interface Codec {
  /** Fields stored as JSON text (null stays null). */
  readonly json?: readonly string[];
  /** Booleans stored as 0/1. */
  readonly flags?: readonly string[];
  /** Fields whose column is not their snake_case name: field -> column. */
  readonly renames?: Readonly<Record<string, string>>;
}

const names = new Map<string, string>();
const convert = (key: string, f: (k: string) => string): string => {
  let n = names.get(key);
  if (n === undefined) names.set(key, (n = f(key)));
  return n;
};
const snake = (k: string) => convert(k, (s) => s.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`));
const camel = (k: string) =>
  convert(`_${k}`, (s) => s.slice(1).replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase()));

/** The row of record `rec` (undefined fields left out, so a partial record is a patch). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- checked by the table types at run time
export function toRow(rec: object, codec: Codec = {}): any {
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (v === undefined) continue;
    const col = codec.renames?.[k] ?? snake(k);
    if (codec.json?.includes(k)) row[col] = v === null ? null : JSON.stringify(v);
    else if (codec.flags?.includes(k)) row[col] = v ? 1 : 0;
    else row[col] = v;
  }
  return row;
}

/** The record of row `row`. */
export function fromRow<T>(row: object, codec: Codec = {}): T {
  const rec: Record<string, unknown> = {};
  const renamed = codec.renames && Object.fromEntries(Object.entries(codec.renames).map(([f, c]) => [c, f]));
  for (const [col, v] of Object.entries(row)) {
    const k = renamed?.[col] ?? camel(col);
    if (v === null) rec[k] = null;
    else if (codec.json?.includes(k)) rec[k] = JSON.parse(v as string);
    else if (codec.flags?.includes(k)) rec[k] = Number(v) !== 0;
    else rec[k] = v;
  }
  return rec as T;
}
