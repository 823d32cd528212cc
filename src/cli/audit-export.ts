/**
 * The events of an audit export (`sigil audit export`: events.jsonl, one event per line, the
 * format in README.md "Audit log"), read for `sigil audit verify --offline`: one stream on
 * the calling thread ({@link readExportEvents}), or, for a large file, in byte ranges on
 * worker threads ({@link scanExportRanges}) whose parts join as the database's do
 * (audit/log-verify.ts).
 *
 * The parallel read decides only logs that verify: a part takes only lines in the form the
 * export writes (audit/chain.ts exportLineChainHash) separated by \n; any other line (a
 * blank, a \r, an event written by hand) sends the whole file to the one-stream read. A
 * verdict other than ok is made again by the one-stream read too, so every failure is
 * named exactly as it always was, whatever the parts saw first.
 */
import { isAscii } from "node:buffer";
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { ErrorCodes, SigilError } from "../errors.js";
import { verifyAuditLog, type LogVerdict, type LogVerifyInput } from "../audit/log-verify.js";
import { exportLineChainHash, parsedChainHash, type HashedLink } from "../audit/chain.js";
import { AuditRangeScan, partFails, partsInOrder, type AuditRangeSummary } from "../audit/segment.js";
import type { AuditEvent } from "../store/types.js";
import {
  partQueue,
  runWorkers,
  takeParts,
  workerError,
  workerScript,
  type WorkerEnd,
} from "../worker-script.js";

/** UTF-8 text of `b`; ASCII (the usual export) is decoded as latin1, the same characters for less work. */
const decode = (b: Buffer): string => (isAscii(b) ? b.toString("latin1") : b.toString("utf8"));

/** Where a line ends, as node:readline splits them (crlfDelay Infinity): \r\n, \n or a lone \r. */
const LINE_END = /\r\n|\n|\r/;

/**
 * The events of an export's events.jsonl, each with the hash its content gives, in batches
 * (one per chunk read): the lines node:readline would give, blank ones skipped. A line in the
 * form the export writes is hashed as it stands (audit/chain.ts exportLineChainHash); any
 * other is parsed and hashed as JSON.parse gives it. Chunks are cut after their last \n or
 * \r byte (never inside a UTF-8 sequence) and only then decoded.
 */
export async function* readExportEvents(file: string): AsyncGenerator<HashedLink[]> {
  let n = 0;
  let rest: Buffer = Buffer.alloc(0);
  /** A line that parses but is no event (`null`): the walk fails on it once it gets there, as it did on the parsed event. */
  let broken: unknown;
  const parse = (text: string): HashedLink[] => {
    const out: HashedLink[] = [];
    const lines = text.includes("\r") ? text.split(LINE_END) : text.split("\n");
    if (lines.at(-1) === "") lines.pop(); // after the last line end: not a line
    for (const line of lines) {
      n++;
      const fast = broken === undefined ? exportLineChainHash(line) : undefined;
      if (fast !== undefined) {
        out.push(fast);
        continue;
      }
      if (line.trim() === "") continue;
      let e: AuditEvent;
      try {
        e = JSON.parse(line) as AuditEvent;
      } catch {
        throw new SigilError(ErrorCodes.BAD_INPUT, `${file}:${n}: not a JSON event`);
      }
      if (broken !== undefined) continue; // still checked to be JSON, as before
      try {
        const computed = parsedChainHash(e.prevHash, e);
        out.push({ seq: e.seq, prevHash: e.prevHash, hash: e.hash, computed });
      } catch (err) {
        broken = err;
      }
    }
    return out;
  };
  const pending = () => {
    if (broken !== undefined) throw broken;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    const buf = rest.length ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    // Up to the last line end; a final \r may be the first half of a \r\n: wait for the next chunk.
    let end = buf.length;
    if (buf[end - 1] === 0x0d) end--;
    const cut = Math.max(buf.lastIndexOf(0x0a, end - 1), buf.lastIndexOf(0x0d, end - 1));
    if (cut < 0) {
      rest = buf;
      continue;
    }
    rest = buf.subarray(cut + 1);
    yield parse(decode(buf.subarray(0, cut + 1)));
    pending();
  }
  if (rest.length) yield parse(decode(rest));
  pending();
}

/**
 * Verifies the export's events file `file` against `input` (audit/log-verify.ts): in parts
 * on worker threads when it is large (`parted`), else, or when the parts cannot decide, as
 * one stream. The verdict is the one the stream gives.
 */
export async function verifyExportEvents(
  file: string,
  input: Omit<LogVerifyInput, "events" | "onEvent" | "frontier">,
  opts: ExportScanOptions = {},
): Promise<{ verdict: LogVerdict; parted: boolean }> {
  let parted = true;
  const verdict = await verifyAuditLog({
    ...input,
    events: {
      ranges: async (sizes) => {
        const parts = await scanExportRanges(file, sizes, opts);
        parted = parts !== undefined;
        return parts ?? [];
      },
    },
  });
  if (parted && verdict.ok) return { verdict, parted };
  // Read again as one stream: it names every failure as it always has.
  return {
    verdict: await verifyAuditLog({ ...input, events: { hashed: readExportEvents(file) } }),
    parted: false,
  };
}

/** Options of {@link scanExportRanges} (tests force the workers on small files). */
export interface ExportScanOptions {
  /** Bytes per part (default 4 MiB). */
  partBytes?: number;
  /** Worker threads (default: one per core, at most 8). */
  threads?: number;
  /** Smaller files are left to the one-stream read (default 32 MiB, about 50,000 events). */
  minBytes?: number;
}

/** What a worker is given. */
export interface ExportWorkerData {
  file: string;
  size: number;
  sizes: readonly number[];
  /** Byte ranges [from, to): a part holds the lines that start in it. */
  parts: ReadonlyArray<readonly [number, number]>;
  /** The parts' queue (worker-script.ts partQueue). */
  queue: SharedArrayBuffer;
}

/** A part's summary, or null: the part holds a line the parts cannot take (read the file as one stream). */
type PartMessage = { part: number; summary: AuditRangeSummary | null };

/**
 * Verifies the events of `file` in parts on worker threads: the parts' summaries in order up
 * to the first that fails, or undefined when the file is to be read as one stream instead
 * (small, no worker entry in this build, or a line the parts do not take). `sizes`: the
 * checkpoint sizes whose Merkle roots the join checks.
 */
export async function scanExportRanges(
  file: string,
  sizes: readonly number[],
  opts: ExportScanOptions = {},
): Promise<AuditRangeSummary[] | undefined> {
  const size = (await stat(file)).size;
  const script = workerScript(import.meta.url, "audit-export-worker");
  if (script === undefined || size < (opts.minBytes ?? 32 << 20)) return undefined;
  const partBytes = Math.max(1, opts.partBytes ?? 4 << 20);
  const parts: Array<[number, number]> = [];
  for (let from = 0; from < size; from += partBytes) parts.push([from, Math.min(size, from + partBytes)]);
  const threads = Math.min(opts.threads ?? Math.min(availableParallelism(), 8), parts.length);
  if (threads < 1) return undefined;
  const data: ExportWorkerData = { file, size, sizes, parts, queue: partQueue(parts.length) };
  const summaries: Array<AuditRangeSummary | null | undefined> = new Array(parts.length);
  try {
    await runWorkers<PartMessage>(script, threads, data, (m) => (summaries[m.part] = m.summary));
  } catch (e) {
    throw new SigilError(ErrorCodes.BAD_INPUT, `cannot read ${file}: ${(e as Error).message}`);
  }
  // A part the parts cannot take stops every reader, so parts before it may be unread too.
  if (summaries.includes(null)) return undefined;
  return partsInOrder(summaries as Array<AuditRangeSummary | undefined>);
}

/** The body of a worker thread (audit-export-worker.ts). */
export function runExportWorker(data: ExportWorkerData, post: (m: PartMessage | WorkerEnd) => void): void {
  let fd: number | undefined;
  try {
    fd = openSync(data.file, "r");
    const file = fd;
    takeParts(data.queue, data.parts.length, (i) => {
      const [from, to] = data.parts[i]!;
      const bytes = partLines(file, from, to, data.size);
      const summary =
        bytes === undefined ? new AuditRangeScan(0, 0, []).summary() : scanPartLines(bytes, data.sizes);
      post({ part: i, summary });
      return summary === null ? "stopAll" : partFails(summary);
    });
    post({ done: true });
  } catch (e) {
    post(workerError(e));
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Verifies a part's lines (audit/segment.ts); null when one is not in the export's own form
 * or the first names no event number: the file is then read as one stream.
 */
function scanPartLines(bytes: Buffer, sizes: readonly number[]): AuditRangeSummary | null {
  if (bytes.includes(0x0d)) return null;
  const lines = decode(bytes).split("\n");
  if (lines.at(-1) === "") lines.pop();
  let scan: AuditRangeScan | undefined;
  for (const line of lines) {
    const link = exportLineChainHash(line);
    if (link === undefined) return null;
    if (scan === undefined) {
      if (!Number.isSafeInteger(link.seq) || link.seq < 1) return null;
      scan = new AuditRangeScan(link.seq - 1, Number.MAX_SAFE_INTEGER, sizes);
    }
    // Stopped at a bad event: the lines after it do not count (the verdict fails there).
    if (!scan.addLink(link, link.computed)) break;
  }
  return scan?.summary() ?? null;
}

/** Reads `length` bytes at `position` (fewer at the end of the file). */
function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * The bytes of the lines that start in [from, to) of a file of `size` bytes, each with its
 * \n (the last line of the file may have none); undefined when no line starts there.
 */
function partLines(fd: number, from: number, to: number, size: number): Buffer | undefined {
  // From the byte before: a line starts at `from` when that byte ends a line.
  const lo = from === 0 ? 0 : from - 1;
  let buf = readAt(fd, to - lo, lo);
  let start = 0;
  if (from > 0) {
    const nl = buf.indexOf(0x0a);
    if (nl < 0 || lo + nl + 1 >= to) return undefined;
    start = nl + 1;
  }
  // The last line that starts before `to` ends at the first \n from `to - 1` on.
  if (buf.length > 0 && buf[buf.length - 1] !== 0x0a && to < size) {
    const more: Buffer[] = [buf];
    for (let at = to; at < size;) {
      const chunk = readAt(fd, 1 << 16, at);
      if (chunk.length === 0) break;
      const nl = chunk.indexOf(0x0a);
      if (nl >= 0) {
        more.push(chunk.subarray(0, nl + 1));
        break;
      }
      more.push(chunk);
      at += chunk.length;
    }
    buf = Buffer.concat(more);
  }
  return buf.subarray(start);
}
