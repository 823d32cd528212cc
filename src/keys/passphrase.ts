/**
 * Where key passphrases come from (DESIGN.md "The command line"): `--passphrase-file`,
 * then the SIGIL_PASSPHRASE environment variable, then a no-echo prompt on a terminal.
 * Never argv. Passphrases are returned as Buffers and never printed or logged.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SigilError, ErrorCodes } from "../errors.js";

/** Minimum passphrase length, in bytes (UTF-8), for new keys. */
export const MIN_NEW_PASSPHRASE_LENGTH = 8;

/** Name of the environment variable holding a passphrase. */
export const PASSPHRASE_ENV = "SIGIL_PASSPHRASE";

/** Name of the systemd credential holding the home passphrase (`LoadCredential=passphrase:FILE`). */
export const PASSPHRASE_CREDENTIAL = "passphrase";

/**
 * The passphrase file systemd hands a service started with `LoadCredential=passphrase:FILE`
 * (or `LoadCredentialEncrypted=`): `$CREDENTIALS_DIRECTORY/passphrase` when that variable is
 * set and the file exists; else undefined. Used by `sigil serve` as if given with
 * `--passphrase-file` (which wins when both are there).
 */
export function credentialPassphraseFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir) return undefined;
  const path = join(dir, PASSPHRASE_CREDENTIAL);
  return existsSync(path) ? path : undefined;
}

/** Options for {@link resolvePassphrase}. */
export interface ResolvePassphraseOptions {
  /** Path given with `--passphrase-file`; one trailing newline (LF or CRLF) is stripped. */
  passphraseFile?: string;
  /** Environment to read SIGIL_PASSPHRASE from (default `process.env`). An empty value counts as unset. */
  env?: NodeJS.ProcessEnv;
  /** Prompt without echo (default {@link promptHidden}); used only when `isTty`. */
  prompt?: (question: string) => Promise<string>;
  /** True when stdin and stderr are a terminal a person can answer on. */
  isTty: boolean;
  /** What the passphrase is for, shown in the prompt, e.g. `CA genfic`. */
  purpose: string;
  /**
   * A new key: ask twice on a prompt and compare, refuse an empty passphrase or one shorter
   * than {@link MIN_NEW_PASSPHRASE_LENGTH} bytes, whatever the source.
   */
  confirm?: boolean;
  /** Receives warnings (e.g. a group/world-readable passphrase file); never passphrases. */
  warn?: (message: string) => void;
}

/** A resolved passphrase, where it came from, and warnings for the caller to show. */
export interface ResolvedPassphrase {
  passphrase: Buffer;
  source: "file" | "env" | "prompt";
  warnings: string[];
}

/**
 * Resolves a passphrase and reports its source and any warnings instead of printing them.
 * Errors (SigilError): NO_PASSPHRASE when no source is available, FILE_NOT_FOUND for a
 * missing passphrase file, BAD_INPUT for a mismatched confirmation or a too-short new passphrase.
 */
export async function resolvePassphraseDetailed(opts: ResolvePassphraseOptions): Promise<ResolvedPassphrase> {
  const warnings: string[] = [];
  let passphrase: Buffer;
  let source: ResolvedPassphrase["source"];
  const envValue = (opts.env ?? process.env)[PASSPHRASE_ENV];
  if (opts.passphraseFile !== undefined) {
    passphrase = await readPassphraseFile(opts.passphraseFile, warnings);
    source = "file";
  } else if (envValue !== undefined && envValue !== "") {
    passphrase = Buffer.from(envValue, "utf8");
    source = "env";
  } else if (opts.isTty) {
    const ask = opts.prompt ?? promptHidden;
    const first = await ask(`Passphrase for ${opts.purpose}: `);
    if (opts.confirm) {
      checkNew(Buffer.from(first, "utf8"), opts.purpose);
      const second = await ask(`Repeat passphrase for ${opts.purpose}: `);
      if (!sameSecret(first, second)) throw new SigilError(ErrorCodes.BAD_INPUT, "passphrases do not match");
    }
    passphrase = Buffer.from(first, "utf8");
    source = "prompt";
  } else {
    throw new SigilError(
      ErrorCodes.NO_PASSPHRASE,
      "no passphrase: set SIGIL_PASSPHRASE, use --passphrase-file, or run on a terminal",
    );
  }
  if (opts.confirm) checkNew(passphrase, opts.purpose);
  return { passphrase, source, warnings };
}

/**
 * Resolves a passphrase: `--passphrase-file`, then SIGIL_PASSPHRASE, then a no-echo TTY
 * prompt (asked twice when `confirm`), else SigilError NO_PASSPHRASE. Warnings go to `opts.warn`.
 */
export async function resolvePassphrase(opts: ResolvePassphraseOptions): Promise<Buffer> {
  const r = await resolvePassphraseDetailed(opts);
  for (const w of r.warnings) opts.warn?.(w);
  return r.passphrase;
}

function checkNew(passphrase: Buffer, purpose: string): void {
  if (passphrase.length === 0)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `an empty passphrase is not allowed for a new key (${purpose})`,
    );
  if (passphrase.length < MIN_NEW_PASSPHRASE_LENGTH)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `passphrase for ${purpose} is too short: use at least ${MIN_NEW_PASSPHRASE_LENGTH} characters`,
    );
}

async function readPassphraseFile(path: string, warnings: string[]): Promise<Buffer> {
  let data: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile())
      throw new SigilError(ErrorCodes.BAD_INPUT, `passphrase file ${path} is not a regular file`);
    if (st.mode & 0o077)
      warnings.push(
        `passphrase file ${path} is readable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); run chmod 600 on it`,
      );
    data = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `passphrase file ${path} not found`);
    if ((e as NodeJS.ErrnoException).code === "EACCES")
      throw new SigilError(ErrorCodes.BAD_INPUT, `passphrase file ${path} is not readable`);
    throw e;
  }
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) {
    end--;
    if (end > 0 && data[end - 1] === 0x0d) end--;
  }
  return data.subarray(0, end);
}

/** Streams {@link promptHidden} talks to (default: process.stdin / process.stderr). */
export interface PromptStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  output: NodeJS.WritableStream;
}

/**
 * Asks `question` on the terminal and reads one line without echo: stdin goes into raw
 * mode, typed characters are not written back, Backspace edits, Enter finishes, Ctrl-C or
 * Ctrl-D on an empty line cancels (SigilError NO_PASSPHRASE). The question goes to stderr
 * so stdout stays clean for output.
 */
export function promptHidden(question: string, streams?: PromptStreams): Promise<string> {
  const input = streams?.input ?? process.stdin;
  const output = streams?.output ?? process.stderr;
  return new Promise<string>((resolve, reject) => {
    let value = "";
    const wasRaw = (input as { isRaw?: boolean }).isRaw === true;
    const finish = (err?: Error): void => {
      input.removeListener("data", onData);
      input.removeListener("end", onEnd);
      input.removeListener("error", onError);
      if (input.setRawMode) input.setRawMode(wasRaw);
      input.pause();
      output.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const cancelled = (): SigilError =>
      new SigilError(ErrorCodes.NO_PASSPHRASE, "passphrase prompt cancelled");
    const onData = (chunk: Buffer | string): void => {
      const s = typeof chunk === "string" ? chunk : chunk.toString("utf8");
      for (const ch of s) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") return finish(cancelled());
        if (ch === "\u0004") {
          if (value === "") return finish(cancelled());
          return finish();
        }
        if (ch === "\u007f" || ch === "\b") {
          value = Array.from(value).slice(0, -1).join("");
          continue;
        }
        if (ch === "\u0015") {
          value = ""; // Ctrl-U: kill line
          continue;
        }
        if (ch < " ") continue;
        value += ch;
      }
    };
    const onEnd = (): void => finish(value === "" ? cancelled() : undefined);
    const onError = (e: Error): void => finish(e);
    output.write(question);
    if (input.setRawMode) input.setRawMode(true);
    input.on("data", onData);
    input.on("end", onEnd);
    input.on("error", onError);
    input.resume();
  });
}

/** Compares two secrets in constant time (over their SHA-256, so lengths may differ). */
export function sameSecret(a: string | Buffer, b: string | Buffer): boolean {
  const h = (v: string | Buffer): Buffer => createHash("sha256").update(v).digest();
  return timingSafeEqual(h(a), h(b));
}
