/**
 * The drop folder (the handbook's munpack folder): every .csr/.req/.pem/.der/.p10 file in
 * it becomes a queued request, then moves to `processed/` or `rejected/` next to it (with a
 * `.reason.txt` beside a rejected one). Nothing is deleted. Each file is recorded in the
 * intake log before it moves, so a crash between the two steps only leaves the move to do.
 *
 * Files are hostile (DESIGN.md "Trust model"): whoever may write the folder may put links,
 * hard links, FIFOs or directories there, swap a file for a link between listing and
 * reading, or replace the service's own folders. So:
 * - the drop folder is opened once (a directory descriptor) and every later name is taken
 *   relative to that descriptor (`/proc/self/fd/N/NAME`, Linux's openat), so swapping the
 *   folder's path for a link afterwards changes nothing;
 * - `processing/`, `processed/` and `rejected/` are the service's own: made 0700 when missing,
 *   else opened without following links and refused unless they are directories owned by
 *   the service's uid and not writable by group or others (then nothing is taken and the
 *   pass fails with one line). They too are used through their descriptors;
 * - a dropped name is first renamed into `processing/` (rename moves the name, never follows
 *   it; the attacker cannot write there), then opened with O_NOFOLLOW | O_NONBLOCK and checked
 *   on the descriptor: a regular file, its only link (a hard link to a secret is refused),
 *   not over {@link MAX_FILE_BYTES}; only then read, from the descriptor;
 * - reason files are created exclusively (O_EXCL | O_NOFOLLOW, 0600): an existing name is never
 *   overwritten, a planted link never written through;
 * - what does not parse as a PKCS#10 request is refused and its bytes are not stored
 *   (RequestQueue stores only parsed requests) nor logged.
 */
import { constants as fsc } from "node:fs";
import { lstat, mkdir, open, readdir, rename, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import { contentKey, type RequestQueue } from "../authority/queue.js";

/** File names the drop folder takes. */
export const DROP_EXTENSIONS = /\.(csr|req|pem|der|p10)$/i;
/** Larger files are rejected without being read. */
export const MAX_FILE_BYTES = 1024 * 1024;

/** The service's own folders inside the drop folder. */
const OWN_FOLDERS = ["processing", "processed", "rejected"] as const;
type OwnFolder = (typeof OWN_FOLDERS)[number];

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

/** The path of `name` inside the directory open on `dir` (resolved by the kernel from the descriptor). */
function at(dir: FileHandle, name: string): string {
  return `/proc/self/fd/${dir.fd}/${name}`;
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** What kind of non-regular file `st` is, in words. */
function kindOf(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isSymbolicLink(): boolean;
}): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "a device";
}

/**
 * A drop folder opened once: its directory descriptor is kept, so every pass works on the
 * folder that was opened, whatever its path points to later. Close it when done.
 */
export class DropFolder {
  private constructor(
    /** The folder's path as configured, for messages and the requests' source. */
    readonly path: string,
    private readonly dir: FileHandle,
  ) {}

  /**
   * Opens `path` (following a link here, once: the path is the operator's choice) and checks
   * that it is a directory. Linux only (it relies on /proc/self/fd).
   */
  static async open(path: string): Promise<DropFolder> {
    let dir: FileHandle;
    try {
      dir = await open(path, fsc.O_RDONLY | fsc.O_DIRECTORY);
    } catch (e) {
      const code = errno(e);
      if (code === "ENOENT") throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `drop folder ${path} not found`);
      if (code === "ENOTDIR")
        throw new SigilError(ErrorCodes.BAD_INPUT, `drop folder ${path} is not a folder`);
      throw new SigilError(ErrorCodes.BAD_INPUT, `drop folder ${path} cannot be opened (${code ?? "error"})`);
    }
    try {
      if (!(await dir.stat()).isDirectory())
        throw new SigilError(ErrorCodes.BAD_INPUT, `drop folder ${path} is not a folder`);
      // The descriptor must be reachable by path (procfs); fails clearly where it is not.
      await readdir(`/proc/self/fd/${dir.fd}`);
    } catch (e) {
      await dir.close();
      if (e instanceof SigilError) throw e;
      throw new SigilError(
        ErrorCodes.CONFIG,
        `drop folder ${path}: /proc/self/fd is not available (${errno(e) ?? "error"}); the drop folder needs Linux with /proc`,
      );
    }
    return new DropFolder(path, dir);
  }

  /** Closes the folder's descriptor. */
  async close(): Promise<void> {
    await this.dir.close();
  }

  /**
   * Opens (making it, 0700, when missing) one of the service's own folders and checks it on
   * the descriptor: a directory, not a link, owned by this process's uid, not writable by
   * group or others. Anything else: SigilError naming the folder, and nothing is moved.
   */
  private async ownFolder(name: OwnFolder): Promise<FileHandle> {
    const shown = `drop folder ${this.path}: ${name}/`;
    const path = at(this.dir, name);
    try {
      await mkdir(path, { mode: 0o700 });
    } catch (e) {
      if (errno(e) !== "EEXIST")
        throw new SigilError(ErrorCodes.BAD_INPUT, `${shown} cannot be made (${errno(e) ?? "error"})`);
    }
    let fh: FileHandle;
    try {
      // Not O_DIRECTORY: with O_NOFOLLOW it reports a link as ENOTDIR; the descriptor's type
      // is checked below. O_NONBLOCK: a FIFO in its place does not hang the open.
      fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (e) {
      const code = errno(e);
      const why = code === "ELOOP" ? "is a symbolic link" : `cannot be opened (${code ?? "error"})`;
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `${shown} ${why}, not a folder the service made: nothing taken`,
      );
    }
    try {
      const st = await fh.stat();
      const uid = process.getuid?.();
      if (!st.isDirectory())
        throw new SigilError(ErrorCodes.BAD_INPUT, `${shown} is not a folder: nothing taken`);
      if (uid !== undefined && st.uid !== uid)
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          `${shown} is owned by uid ${st.uid}, not by the service (uid ${uid}): nothing taken (remove it; the service makes its own)`,
        );
      if (st.mode & 0o022)
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          `${shown} is writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}): nothing taken (chmod 700 it)`,
        );
    } catch (e) {
      await fh.close();
      throw e;
    }
    return fh;
  }

  /** One pass: takes every dropped file in (and finishes what a crash left in processing/). */
  async importOnce(queue: RequestQueue, opts: DropOptions): Promise<DropResult> {
    const opened: FileHandle[] = [];
    try {
      const own = {} as Record<OwnFolder, FileHandle>;
      for (const name of OWN_FOLDERS) {
        own[name] = await this.ownFolder(name);
        opened.push(own[name]);
      }
      return await this.pass(queue, opts, own);
    } finally {
      for (const fh of opened) await fh.close();
    }
  }

  private async pass(
    queue: RequestQueue,
    opts: DropOptions,
    own: Record<OwnFolder, FileHandle>,
  ): Promise<DropResult> {
    const out: DropResult = { processed: 0, rejected: 0, skipped: 0 };
    const processing = own.processing;
    // Left in processing/ by a crash: already the service's; taken again (the intake log
    // knows them when they were recorded) and moved.
    for (const name of (await readdir(at(processing, ""))).sort())
      await this.takeOne(queue, opts, own, name, name, out);
    const entries = (await readdir(at(this.dir, ""), { withFileTypes: true }))
      .filter((e) => !e.isDirectory() && DROP_EXTENSIONS.test(e.name))
      .map((e) => e.name)
      .sort();
    for (const name of entries) {
      // The name moves into the service's folder first: from there on nobody else can swap
      // it. rename never follows a link: a link moves as a link.
      const work = await freeName(processing, name);
      try {
        await rename(at(this.dir, name), at(processing, work));
      } catch (e) {
        if (errno(e) === "ENOENT") continue; // gone meanwhile (another pass took it)
        opts.report?.(`${name}: left in place: it cannot be moved into processing/ (${errno(e) ?? "error"})`);
        continue;
      }
      await this.takeOne(queue, opts, own, work, name, out);
    }
    return out;
  }

  /** Checks, records and moves one file of processing/ (`dropped`: its name in the drop folder). */
  private async takeOne(
    queue: RequestQueue,
    opts: DropOptions,
    own: Record<OwnFolder, FileHandle>,
    work: string,
    dropped: string,
    out: DropResult,
  ): Promise<void> {
    const processing = own.processing;
    const source = join(this.path, dropped);
    const read = await readDropped(at(processing, work));
    const key =
      "data" in read
        ? contentKey("drop", read.data, dropped)
        : `drop:refused:${dropped}:${Date.now()}:${work}`;
    const res = await queue.take(
      "data" in read ? [{ name: dropped, data: read.data }] : [],
      {
        channel: "drop",
        submitter: opts.submitter,
        replyTo: null,
        source,
        ...("refuse" in read ? { refuse: read.refuse } : {}),
        ...(opts.caName ? { caName: opts.caName } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
      },
      { key, origin: source },
    );
    const target = res.outcome === "processed" ? "processed" : "rejected";
    const dest = own[target];
    const withReason = target === "rejected" && Boolean(res.reason);
    const name = await freeName(dest, dropped, withReason ? ".reason.txt" : undefined);
    await rename(at(processing, work), at(dest, name));
    if (withReason) await writeReason(at(dest, `${name}.reason.txt`), res.reason!, opts, dropped);
    if (res.duplicate) out.skipped++;
    else if (target === "processed") out.processed++;
    else out.rejected++;
    const ids = res.requests.map((r) => `#${r.id} ${r.state}`).join(", ");
    opts.report?.(
      `${dropped}: ${target}${ids ? ` (${ids})` : ""}${res.reason && target === "rejected" ? `: ${res.reason}` : ""}`,
    );
  }
}

/**
 * Opens a file of processing/ without following a link and without blocking on a FIFO,
 * checks it on the descriptor and reads it from there: its bytes, or why it is refused unread.
 */
async function readDropped(path: string): Promise<{ data: Buffer } | { refuse: string }> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  } catch (e) {
    const code = errno(e);
    if (code === "ELOOP") return { refuse: "a symbolic link, not a file: not followed" };
    if (code === "ENXIO" || code === "EOPNOTSUPP") return { refuse: "not a regular file (a socket)" };
    return { refuse: `cannot be opened (${code ?? "error"})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { refuse: `not a regular file (${kindOf(st)})` };
    if (st.nlink !== 1)
      return { refuse: `the file has ${st.nlink} names (a hard link): refused unread, drop a copy instead` };
    if (st.size > MAX_FILE_BYTES)
      return { refuse: `file is over ${MAX_FILE_BYTES} bytes: not a certificate request` };
    // Read at most one byte past the limit: the file may grow while it is read.
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
    let len = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
      if (bytesRead === 0) break;
      len += bytesRead;
      if (len === buf.length) break;
    }
    if (len > MAX_FILE_BYTES)
      return { refuse: `file is over ${MAX_FILE_BYTES} bytes: not a certificate request` };
    return { data: buf.subarray(0, len) };
  } finally {
    await fh.close();
  }
}

/** Writes a reason file: created exclusively (never over an existing name or through a link), 0600. */
async function writeReason(path: string, reason: string, opts: DropOptions, dropped: string): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (e) {
    opts.report?.(
      `${dropped}: reason file not written (${errno(e) ?? "error"}); the reason is in the audit log`,
    );
    return;
  }
  try {
    await fh.writeFile(`${reason}\n`);
  } finally {
    await fh.close();
  }
}

/** A name in `dir` that is free (and whose `NAME + also`, when given, is free too). */
async function freeName(dir: FileHandle, name: string, also?: string): Promise<string> {
  const taken = async (n: string): Promise<boolean> => {
    try {
      await lstat(at(dir, n));
      return true;
    } catch (e) {
      if (errno(e) === "ENOENT") return false;
      throw e;
    }
  };
  for (let i = 0; ; i++) {
    const candidate = i === 0 ? name : name.replace(/(\.[^.]*)?$/, (ext) => `.${i}${ext}`);
    if (!(await taken(candidate)) && !(also !== undefined && (await taken(candidate + also))))
      return candidate;
  }
}

/** One pass over the folder at `dir` (opened for this pass, then closed). */
export async function importDropFolder(
  queue: RequestQueue,
  dir: string,
  opts: DropOptions,
): Promise<DropResult> {
  const folder = await DropFolder.open(dir);
  try {
    return await folder.importOnce(queue, opts);
  } finally {
    await folder.close();
  }
}
