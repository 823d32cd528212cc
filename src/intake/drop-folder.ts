/**
 * The drop folder (the handbook's munpack folder): every .csr/.req/.pem/.der/.p10 file in
 * it becomes a queued request, then moves to `processed/` or `rejected/` next to it (with a
 * `.reason.txt` beside a rejected one). Nothing is deleted. Each file is recorded in the
 * intake log before it moves, so a crash between the two steps only leaves the move to do.
 */
import { mkdir, readFile, readdir, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { contentKey, type RequestQueue } from "../authority/queue.js";

/** File names the drop folder takes. */
export const DROP_EXTENSIONS = /\.(csr|req|pem|der|p10)$/i;
/** Larger files are rejected without being read whole. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Options of {@link importDropFolder}. */
export interface DropOptions {
  submitter: string | null;
  caName?: string;
  profile?: string;
  report?: (line: string) => void;
}

/** What one pass did. */
export interface DropResult {
  processed: number;
  rejected: number;
  /** Files recorded before (a crash before the move): moved now. */
  skipped: number;
}

async function freeName(dir: string, name: string): Promise<string> {
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? name : name.replace(/(\.[^.]*)?$/, (ext) => `.${i}${ext}`);
    try {
      await stat(join(dir, candidate));
    } catch {
      return candidate;
    }
  }
}

/** One pass over `dir`. */
export async function importDropFolder(
  queue: RequestQueue,
  dir: string,
  opts: DropOptions,
): Promise<DropResult> {
  const out: DropResult = { processed: 0, rejected: 0, skipped: 0 };
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && DROP_EXTENSIONS.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const name of entries) {
    const path = join(dir, name);
    let data: Buffer;
    let tooBig = false;
    try {
      const st = await stat(path);
      tooBig = st.size > MAX_FILE_BYTES;
      data = tooBig ? Buffer.alloc(0) : await readFile(path);
    } catch {
      continue; // gone meanwhile (another pass took it)
    }
    const key = tooBig ? `drop:too-big:${name}:${Date.now()}` : contentKey("drop", data, name);
    const res = await queue.take(
      tooBig ? [] : [{ name, data }],
      {
        channel: "drop",
        submitter: opts.submitter,
        replyTo: null,
        source: path,
        ...(tooBig ? { refuse: `file is over ${MAX_FILE_BYTES} bytes: not a certificate request` } : {}),
        ...(opts.caName ? { caName: opts.caName } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
      },
      { key, origin: path },
    );
    const target = res.outcome === "processed" ? "processed" : "rejected";
    const destDir = join(dir, target);
    await mkdir(destDir, { recursive: true, mode: 0o750 });
    const dest = await freeName(destDir, name);
    await rename(path, join(destDir, dest));
    if (target === "rejected" && res.reason)
      await writeFile(join(destDir, `${dest}.reason.txt`), `${res.reason}\n`, { mode: 0o640 });
    if (res.duplicate) out.skipped++;
    else if (target === "processed") out.processed++;
    else out.rejected++;
    const ids = res.requests.map((r) => `#${r.id} ${r.state}`).join(", ");
    opts.report?.(
      `${name}: ${target}${ids ? ` (${ids})` : ""}${res.reason && target === "rejected" ? `: ${res.reason}` : ""}`,
    );
  }
  return out;
}
