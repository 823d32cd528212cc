/**
 * BENCHMARKS.md is shared by several benchmarks: each one owns the text between
 * `<!-- bench/NAME:start -->` and `<!-- bench/NAME:end -->` and rewrites only that. The
 * file's top heading (`# Benchmarks`) and every other section stay as they are.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** The file's first line when {@link writeSection} creates it. */
export const BENCHMARKS_HEADING = "# Benchmarks";

/** The markers around section `name`. */
export function sectionMarkers(name: string): { start: string; end: string } {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`bad section name ${JSON.stringify(name)}`);
  return { start: `<!-- bench/${name}:start -->`, end: `<!-- bench/${name}:end -->` };
}

/**
 * The text of `doc` with section `name` set to `markdown`: replaced between its markers
 * when they are there, appended at the end otherwise. Throws when the markers are broken
 * (one without the other, in the wrong order, or twice), rather than guess.
 */
export function replaceSection(doc: string, name: string, markdown: string): string {
  const { start, end } = sectionMarkers(name);
  const block = `${start}\n${markdown.trim()}\n${end}`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 && j < 0) {
    const base = doc.trimEnd();
    return `${base === "" ? BENCHMARKS_HEADING : base}\n\n${block}\n`;
  }
  if (i < 0 || j < 0 || j < i || doc.indexOf(start, i + 1) >= 0 || doc.indexOf(end, j + 1) >= 0)
    throw new Error(`the markers of section bench/${name} are broken: fix them by hand`);
  return doc.slice(0, i) + block + doc.slice(j + end.length);
}

/**
 * Writes `markdown` as section `name` of `file` (created with a `# Benchmarks` heading
 * when missing); written to a temporary file first and renamed, so an interrupted run
 * leaves the old file.
 */
export function writeSection(file: string, name: string, markdown: string): void {
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "";
  const out = replaceSection(doc, name, markdown);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, out);
  renameSync(tmp, file);
}
