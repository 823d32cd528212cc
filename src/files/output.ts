/**
 * Where Sigil writes a file, and how: the one rule every command that writes files follows
 * (certificates, CRLs, requests and their keys, backups, exports, key shares).
 *
 * - `-` is standard output (where the caller allows it).
 * - An existing character device (`/dev/null`, a terminal) or FIFO is written into
 *   directly: it is never replaced, and needs no `--force`. So are `/dev/stdout`,
 *   `/dev/stderr`, `/dev/fd/N` and `/proc/self/fd/N` (the caller's own descriptors).
 * - A regular file is written atomically: a temporary file beside it (created exclusively
 *   with the final mode), fsync, then `link` (a new file: never over one that appeared
 *   meanwhile) or `rename` (replacing), then an fsync of the folder. An existing regular
 *   file is replaced only with `overwrite` (the commands' `--force`).
 * - A symbolic link is followed to its final target and these rules apply there: a link to
 *   a device or FIFO is written into; a link to a regular file replaces that file where it
 *   is (with `overwrite`), keeping the link. A link to nothing is refused (it could point
 *   anywhere the writer may write).
 * - Folders, sockets, block devices and anything else: refused, nothing written.
 *
 * {@link checkOutput} applies the rule without writing, so a command checks every
 * destination before it changes any state (issues, publishes); {@link writeOutput} applies
 * it again at write time. The checks and the final link or rename are a handful of
 * metadata calls on local folders, made synchronously; the data is written asynchronously
 * by {@link writeOutput}, or synchronously by {@link writeOutputSync} for a command that
 * writes thousands of small files one after the other (`sign --out-dir`), where each
 * thread-pool round trip of an asynchronous call costs more than the call.
 */
import { randomBytes } from "node:crypto";
import {
  accessSync,
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  fsyncSync,
  linkSync,
  lstatSync,
  openSync,
  realpathSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import { open, stat, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { SigilError, ErrorCodes } from "../errors.js";

/**
 * How a destination is written: `stdout`; `stream` (written into: a character device or
 * FIFO); `new` (a file created atomically); `replace` (an existing regular file replaced
 * atomically).
 */
export type OutputKind = "stdout" | "stream" | "new" | "replace";

/** A checked destination. */
export interface OutputTarget {
  /** The path as given. */
  path: string;
  kind: OutputKind;
  /**
   * What is written: for `new` and `replace` the absolute path of the regular file (the
   * final target of a link); for `stream` the path as given; `-` for stdout.
   */
  file: string;
}

/** Options of {@link checkOutput} and {@link writeOutput}. */
export interface OutputOptions {
  /** Replace an existing regular file (the commands' `--force`). Default: refuse. */
  overwrite?: boolean;
  /** `-` means standard output. Default false: `-` is a file named `-`. */
  stdout?: boolean;
}

/** Options of {@link writeOutput}. */
export interface WriteOutputOptions extends OutputOptions {
  /** Mode of a file created or replaced (exactly: the umask does not apply). */
  mode: number;
  /**
   * fsync the file and its folder before returning (default true). Batch writers of files
   * that can be re-created from the store pass false and call {@link syncDir} once at the
   * end; the rename stays atomic either way.
   */
  durable?: boolean;
}

/** How a device, FIFO or descriptor path is opened: write-only, never created or truncated. */
const STREAM_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_NOCTTY;

/** The caller's own descriptors: written into whatever they are. */
const OWN_DESCRIPTOR = /^(\/dev\/(stdout|stderr|fd\/\d+)|\/proc\/self\/fd\/\d+)$/;

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** The one-line refusal for an existing regular file. */
export function existsError(path: string): SigilError {
  return new SigilError(ErrorCodes.FILE_EXISTS, `${path} already exists (use --force to replace it)`);
}

function notWritable(path: string, what: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `${path} is ${what}: not written there`);
}

/** What a non-regular, non-stream file is, in words. */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a folder";
  if (st.isSocket()) return "a socket";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/**
 * Checks that files can be created in folder `dir`: it exists, is a folder, and this
 * process may write in it. SigilError FILE_NOT_FOUND or BAD_INPUT otherwise.
 */
export function checkFolder(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = errno(e);
    if (code === "ENOENT") throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `folder ${dir} does not exist`);
    if (code === "ENOTDIR") throw new SigilError(ErrorCodes.BAD_INPUT, `${dir} is not a folder`);
    if (code === "EACCES")
      throw new SigilError(ErrorCodes.BAD_INPUT, `cannot reach ${dir}: permission denied`);
    throw e;
  }
  if (!st.isDirectory()) throw new SigilError(ErrorCodes.BAD_INPUT, `${dir} is not a folder`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = errno(e);
    if (code === "EROFS")
      throw new SigilError(ErrorCodes.BAD_INPUT, `cannot write in ${dir}: read-only file system`);
    throw new SigilError(ErrorCodes.BAD_INPUT, `cannot write in ${dir}: permission denied`);
  }
}

/**
 * Checks an output folder a command fills with files of its own naming (`--out-dir`,
 * `--out DIR`): it is a folder this process may write in, or it does not exist yet and its
 * nearest existing parent is one (the command creates it). Writes nothing.
 */
export async function checkOutputFolder(dir: string): Promise<void> {
  let st: Stats | undefined;
  try {
    st = await stat(dir);
  } catch (e) {
    if (errno(e) === "ENOTDIR") throw new SigilError(ErrorCodes.BAD_INPUT, `${dir} is not a folder`);
    if (errno(e) !== "ENOENT") throw e;
  }
  if (st) return checkFolder(dir);
  let parent = dirname(resolve(dir));
  for (;;) {
    try {
      await stat(parent);
      return checkFolder(parent);
    } catch (e) {
      if (errno(e) === "ENOTDIR")
        throw new SigilError(ErrorCodes.BAD_INPUT, `${dir}: a part of it is not a folder`);
      if (errno(e) !== "ENOENT" || parent === dirname(parent)) throw e;
      parent = dirname(parent);
    }
  }
}

/**
 * Applies the rule of this module to destination `path` without writing anything: how it
 * would be written, or a one-line SigilError (FILE_EXISTS for an existing regular file
 * without `overwrite`; FILE_NOT_FOUND for a missing folder; BAD_INPUT for a folder, socket,
 * block device, dangling link, or a folder this process may not write in).
 */
export function checkOutputSync(path: string, opts: OutputOptions = {}): OutputTarget {
  if (path === "-" && opts.stdout) return { path, kind: "stdout", file: "-" };
  if (path === "") throw new SigilError(ErrorCodes.USAGE, "an empty output path");
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch (e) {
    const code = errno(e);
    if (code === "ENOTDIR")
      throw new SigilError(ErrorCodes.BAD_INPUT, `${path}: a part of it is not a folder`);
    if (code !== "ENOENT") throw e;
  }
  if (!st) {
    if (/[/\\]$/.test(path)) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `folder ${path} does not exist`);
    const file = resolve(path);
    checkFolder(dirname(file));
    return { path, kind: "new", file };
  }
  if (st.isSymbolicLink()) {
    try {
      st = statSync(path);
    } catch (e) {
      const code = errno(e);
      if (code === "ENOENT")
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          `${path} is a symbolic link to nothing: not followed (give the final path)`,
        );
      if (code === "ELOOP") throw notWritable(path, "a loop of symbolic links");
      throw e;
    }
  }
  if (st.isCharacterDevice() || st.isFIFO() || (OWN_DESCRIPTOR.test(path) && st.isFile())) {
    try {
      accessSync(path, constants.W_OK);
    } catch {
      throw new SigilError(ErrorCodes.BAD_INPUT, `cannot write to ${path}: permission denied`);
    }
    return { path, kind: "stream", file: path };
  }
  if (!st.isFile()) throw notWritable(path, kindOf(st));
  if (!opts.overwrite) throw existsError(path);
  const file = realpathSync(path);
  checkFolder(dirname(file));
  return { path, kind: "replace", file };
}

/** {@link checkOutputSync}, for callers in an async flow. */
export async function checkOutput(path: string, opts: OutputOptions = {}): Promise<OutputTarget> {
  return checkOutputSync(path, opts);
}

/**
 * A folder for temporary files that become `target`: beside the file for `new` and
 * `replace` (so link and rename stay in one file system), else the system's temporary folder.
 */
export function stagingFolder(target: OutputTarget): string {
  return target.kind === "new" || target.kind === "replace" ? dirname(target.file) : tmpdir();
}

/** A fresh temporary file name beside `file`. */
function tempBeside(file: string): string {
  return join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
}

/** Writes into a device, FIFO or descriptor path: opened write-only, never created or replaced. */
async function writeStream(path: string, data: string | Buffer): Promise<void> {
  const fh = await open(path, STREAM_FLAGS);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

function writeStdout(data: string | Buffer): Promise<void> {
  return new Promise((ok, fail) => process.stdout.write(data, (e) => (e ? fail(e) : ok())));
}

/**
 * Puts the finished temporary file `tmp` (in {@link stagingFolder} of `target`) in place:
 * link for `new` (FILE_EXISTS when a file appeared meanwhile), rename for `replace`. For
 * `stdout` and `stream` its bytes are copied there. `tmp` is left for the caller to remove
 * unless it was renamed (returns true when it was consumed).
 */
export async function placeFile(
  tmp: string,
  target: OutputTarget,
  opts: OutputOptions = {},
): Promise<boolean> {
  if (target.kind === "stdout") {
    await pipeline(createReadStream(tmp), process.stdout, { end: false });
    return false;
  }
  if (target.kind === "stream") {
    // The write stream owns the handle and closes it (pipeline resolves on its close).
    await pipeline(createReadStream(tmp), (await open(target.file, STREAM_FLAGS)).createWriteStream());
    return false;
  }
  return placeFileSync(tmp, target, opts);
}

/**
 * {@link placeFile} for a file or stream target, synchronously (a stream gets the whole
 * file at once: for the small files of {@link writeOutputSync}, or a device that appeared
 * where a file was checked).
 */
function placeFileSync(tmp: string, target: OutputTarget, opts: OutputOptions): boolean {
  if (target.kind === "stdout") throw new TypeError("standard output is written asynchronously");
  if (target.kind === "stream") {
    writeStreamSync(target.file, readFileSync(tmp));
    return false;
  }
  if (target.kind === "replace") {
    // The target may have changed since it was checked: never rename over anything but a file.
    const now = lstatSync(target.file, { throwIfNoEntry: false });
    if (now && !now.isFile()) throw notWritable(target.path, kindOf(now));
    renameSync(tmp, target.file);
    return true;
  }
  try {
    linkSync(tmp, target.file); // atomic create-if-absent
    return false;
  } catch (e) {
    const code = errno(e);
    if (code === "EEXIST") {
      // Appeared meanwhile: apply the rule again (a device is written into, a file replaced).
      if (opts.overwrite) return placeFileSync(tmp, checkOutputSync(target.path, opts), opts);
      throw existsError(target.path);
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw e;
    // A file system without hard links: check, then rename (a small race window).
    if (lstatSync(target.file, { throwIfNoEntry: false })) throw existsError(target.path);
    renameSync(tmp, target.file);
    return true;
  }
}

/** The one-line error for a temporary file that cannot be created in `dir`, or `e` itself. */
function stagingError(e: unknown, dir: string): unknown {
  const code = errno(e);
  if (code === "ENOENT") return new SigilError(ErrorCodes.FILE_NOT_FOUND, `folder ${dir} does not exist`);
  if (code === "EACCES")
    return new SigilError(ErrorCodes.BAD_INPUT, `cannot write in ${dir}: permission denied`);
  return e;
}

/**
 * Writes `data` to `path` under the rule of this module (checked again now, however long
 * ago {@link checkOutput} ran). A regular file gets exactly `mode`; on any failure a
 * temporary file is removed and the destination is untouched.
 */
export async function writeOutput(
  path: string,
  data: string | Buffer,
  opts: WriteOutputOptions,
): Promise<void> {
  const target = checkOutputSync(path, opts);
  if (target.kind === "stdout") return writeStdout(data);
  if (target.kind === "stream") return writeStream(target.file, data);
  const dir = dirname(target.file);
  const tmp = tempBeside(target.file);
  let fh;
  try {
    fh = await open(tmp, "wx", opts.mode);
  } catch (e) {
    throw stagingError(e, dir);
  }
  let consumed = false;
  try {
    try {
      await fh.chmod(opts.mode); // the umask may have removed bits
      await fh.writeFile(data);
      if (opts.durable !== false) await fh.sync();
    } finally {
      await fh.close();
    }
    consumed = placeFileSync(tmp, target, opts);
  } finally {
    if (!consumed) await unlink(tmp).catch(() => undefined);
  }
  if (opts.durable !== false) await syncDir(dir);
}

/**
 * {@link writeOutput}, synchronously, for small files written one after the other (a
 * batch's certificates): the same rule, the same checks at write time, the same atomic
 * placement, in a few system calls instead of a thread-pool round trip each. Not for
 * standard output (`-` is a file named `-` here).
 */
export function writeOutputSync(
  path: string,
  data: string | Buffer,
  opts: Omit<WriteOutputOptions, "stdout">,
): void {
  const target = checkOutputSync(path, { ...opts, stdout: false });
  if (target.kind === "stream") return writeStreamSync(target.file, data);
  const dir = dirname(target.file);
  const tmp = tempBeside(target.file);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", opts.mode);
  } catch (e) {
    throw stagingError(e, dir);
  }
  let consumed = false;
  try {
    try {
      fchmodSync(fd, opts.mode); // the umask may have removed bits
      writeFileSync(fd, data);
      if (opts.durable !== false) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    consumed = placeFileSync(tmp, target, opts);
  } finally {
    if (!consumed) rmSync(tmp, { force: true });
  }
  if (opts.durable !== false) syncDirSync(dir);
}

/** {@link writeStream}, synchronously. */
function writeStreamSync(path: string, data: string | Buffer): void {
  const fd = openSync(path, STREAM_FLAGS);
  try {
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

/** {@link syncDir}, synchronously. */
function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Some platforms cannot fsync a directory; the files themselves are already synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** fsyncs a folder, making renames into it durable (after non-durable batch writes). */
export async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the files themselves are already synced.
  }
}

/** A short reason for a failed write, for messages that go on to say what was done. */
export function writeFailure(e: unknown): string {
  if (e instanceof SigilError) return e.message;
  const code = errno(e);
  if (code === "ENOSPC") return "no space left on the device";
  if (code === "EDQUOT") return "disk quota exceeded";
  if (code === "EIO") return "input/output error";
  if (code === "EPIPE") return "the reader went away";
  return e instanceof Error ? e.message : String(e);
}
