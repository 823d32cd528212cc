/**
 * Reading the admin API's JSON bodies: a field is the type asked for, within its bound, or
 * the call is refused as a usage error (HTTP 400) naming the field.
 */
import { ErrorCodes, SigilError } from "../errors.js";

/** A string field (at most `max` characters, default 1024); missing is an error unless optional. */
export function str(
  v: unknown,
  what: string,
  opts: { optional?: boolean; max?: number } = {},
): string | undefined {
  if (v === undefined || v === null || v === "") {
    if (opts.optional) return undefined;
    throw new SigilError(ErrorCodes.USAGE, `missing ${what}`);
  }
  if (typeof v !== "string" || v.length > (opts.max ?? 1024))
    throw new SigilError(ErrorCodes.USAGE, `bad ${what}: give a string`);
  return v;
}

/** A whole-number field (a number, or up to 9 digits as text); undefined when absent. */
export function int(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,9}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n)) throw new SigilError(ErrorCodes.USAGE, `bad ${what}: give a whole number`);
  return n;
}
