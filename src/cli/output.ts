/**
 * Small output helpers: aligned tables for people, JSON for scripts.
 */

/** Prints rows as an aligned table with a header. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  process.stdout.write(line(headers) + "\n");
  for (const r of rows) process.stdout.write(line(r) + "\n");
}

/** Prints a JSON value. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}

/**
 * Prints a certificate view (`sigil cert show`) as "key: value" lines; the reason's numeric
 * code is left to --json (the name says it).
 */
export function printCertView(view: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(view)) {
    if (k === "revocationReasonCode") continue;
    process.stdout.write(`${(k + ":").padEnd(18)}${Array.isArray(v) ? v.join(", ") : String(v ?? "-")}\n`);
  }
}

export { iso, caView, certView } from "../authority/views.js";
