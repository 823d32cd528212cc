/** Number formatting for the benchmark tables. */

/** 12345.6 -> "12,346". */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
}

/** A rate: "12,346/s". */
export function rate(perSec: number): string {
  return `${int(perSec)}/s`;
}

/** Milliseconds with sensible precision. */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return "n/a";
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (v >= 100) return `${v.toFixed(0)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

/** A ratio: "0.45×". */
export function ratio(r: number): string {
  return Number.isFinite(r) ? `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×` : "n/a";
}

/** A percentage: "45%". */
export function pct(r: number): string {
  return Number.isFinite(r) ? `${(r * 100).toFixed(0)}%` : "n/a";
}

/** KiB -> "420 MB" (10^6 bytes). */
export function mb(kib: number | null): string {
  return kib === null ? "n/a" : `${((kib * 1024) / 1e6).toFixed(0)} MB`;
}

/** A Markdown table. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
