/**
 * `sigil sign REQ... --ca CA`: one request to stdout or -o, or many into --out-dir in one
 * process (the handbook's folder of mailed requests, like `openssl ca -infiles`). Each
 * request is accepted or refused on its own; a summary follows. Every output file is
 * checked (files/output.ts) before anything is signed; a certificate issued but not
 * written is named by its serial.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, join, extname } from "node:path";
import { openContext, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";
import type * as CsrModule from "../x509/csr.js";
import { iso, printJson } from "./output.js";
import {
  checkOutput,
  checkOutputFolder,
  syncDir,
  writeFailure,
  writeOutput,
  writeOutputSync,
} from "../files/output.js";

interface SignOpts extends GlobalOptions {
  ca: string;
  profile?: string;
  days?: number;
  clamp?: boolean;
  out?: string;
  outDir?: string;
  /** Replace existing output files. */
  force?: boolean;
  json?: boolean;
  keyFile?: string;
}

/**
 * Reads a file as it is; a missing or unreadable file is a one-line error naming it. Read
 * synchronously: a request is a few hundred bytes, and a batch reads thousands of them one
 * after the other, where each thread-pool round trip would cost more than the read.
 */
export async function readInput(path: string): Promise<Buffer> {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SigilError(
      code === "ENOENT" ? ErrorCodes.FILE_NOT_FOUND : ErrorCodes.BAD_INPUT,
      code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${code})`,
    );
  }
}

let csrModule: Promise<typeof CsrModule> | undefined;

/**
 * Reads a request file ({@link readInput}); a private key given instead is refused here,
 * before it goes anywhere (the admin API with --server), with the one message every channel uses.
 */
export async function readRequest(path: string): Promise<Buffer> {
  const data = await readInput(path);
  // Imported once: each import() call resolves the path again (file-system calls).
  csrModule ??= import("../x509/csr.js");
  const { looksLikePrivateKey, PRIVATE_KEY_NOT_A_REQUEST } = await csrModule;
  if (looksLikePrivateKey(data))
    throw new SigilError(ErrorCodes.BAD_CSR, `${path}: ${PRIVATE_KEY_NOT_A_REQUEST}`);
  return data;
}

/**
 * The error for a certificate that was issued (committed and audited) but could not be
 * handed out: it names the serial so the user fetches it instead of signing again.
 */
export function notWrittenError(
  serial: string,
  ca: string,
  out: string,
  e: unknown,
  server = false,
): SigilError {
  return new SigilError(
    ErrorCodes.BAD_INPUT,
    `certificate ${serial} was issued but not written to ${out} (${writeFailure(e)}); get it with 'sigil cert show ${serial} --ca ${ca} --pem${server ? " --server ..." : ""}' instead of signing again`,
    { details: { serial, notWritten: true } },
  );
}

/** One request's outcome in a batch (`--json` prints them). */
export interface BatchLine {
  file: string;
  ok: boolean;
  serial?: unknown;
  out?: string;
  error?: string;
}

/**
 * Ends a batch, local or through a server: the JSON summary (--json), the one-line summary,
 * then the error naming the certificates issued but not written (`server`: the hint needs
 * --server) or exit status 1 when a request was refused.
 */
export function finishBatch(
  results: BatchLine[],
  notWritten: string[],
  total: number,
  opts: { ca: string; outDir?: string; json?: boolean },
  server = false,
): void {
  const ok = results.filter((r) => r.ok).length;
  const refused = results.length - ok - notWritten.length;
  if (opts.json) printJson({ signed: ok, refused, notWritten: notWritten.length, results });
  process.stderr.write(
    `signed ${ok}, refused ${refused}${notWritten.length ? `, issued but not written ${notWritten.length}` : ""} of ${results.length} request(s) into ${opts.outDir}\n`,
  );
  if (notWritten.length > 0) {
    const left = total - results.length;
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `stopped: ${notWritten.length} certificate(s) issued but not written (serial ${notWritten.join(", ")})${left ? `, ${left} request(s) not signed` : ""}; get each with 'sigil cert show SERIAL --ca ${opts.ca} --pem${server ? " --server ..." : ""}'`,
    );
  }
  if (refused > 0) process.exitCode = 1;
}

/**
 * The files `--out-dir DIR` would write for `reqs` (DIR/<request name>.crt), each checked
 * under the output rule (files/output.ts) before anything is signed. Two requests with the
 * same name would write one file: refused.
 */
export async function outDirTargets(reqs: string[], outDir: string, force: boolean): Promise<string[]> {
  await checkOutputFolder(outDir);
  const outs = reqs.map((file) => join(outDir, basename(file, extname(file)) + ".crt"));
  const seen = new Map<string, string>();
  for (const [i, out] of outs.entries()) {
    const other = seen.get(out);
    if (other !== undefined)
      throw new SigilError(ErrorCodes.USAGE, `${other} and ${reqs[i]} would both be written to ${out}`);
    seen.set(out, reqs[i]!);
  }
  if (existsSync(outDir)) for (const out of outs) await checkOutput(out, { overwrite: force });
  return outs;
}

/** Runs `sigil sign`. */
export async function runSign(reqs: string[], opts: SignOpts): Promise<void> {
  if (reqs.length > 1 && !opts.outDir)
    throw new SigilError(ErrorCodes.USAGE, "several requests need --out-dir DIR (one certificate file each)");
  if (opts.out && opts.outDir) throw new SigilError(ErrorCodes.USAGE, "give -o or --out-dir, not both");
  const force = Boolean(opts.force);
  // Every destination is checked before the CA is opened: a refusal issues nothing.
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const outs = opts.outDir !== undefined ? await outDirTargets(reqs, opts.outDir, force) : [];
  const ctx = await openContext({
    ...opts,
    keyAhead: { ca: opts.ca, ...(opts.keyFile !== undefined ? { keyFile: opts.keyFile } : {}) },
  });
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca, opts.keyFile);
    if (reqs.length === 1 && !opts.outDir) {
      const issued = await ctx.authority.sign(await readRequest(reqs[0]!), {
        caName: opts.ca,
        profile: opts.profile,
        days: opts.days,
        clamp: opts.clamp,
        source: basename(reqs[0]!),
      });
      const serial = issued.cert.serialHex;
      if (opts.out !== undefined && opts.out !== "-") {
        try {
          await writeOutput(opts.out, issued.pem, { mode: 0o644, overwrite: force, stdout: true });
        } catch (e) {
          throw notWrittenError(serial, opts.ca, opts.out, e);
        }
        process.stderr.write(
          `signed ${issued.cert.subject}: serial ${serial}, until ${new Date(issued.cert.notAfter).toISOString()}${issued.clamped ? " (capped at the CA's expiry)" : ""} -> ${opts.out}\n`,
        );
      } else if (!opts.json) {
        process.stdout.write(issued.pem);
      }
      // --json: one JSON document on stdout, as the batch form prints (without -o, the PEM is in it).
      if (opts.json)
        printJson({
          file: reqs[0],
          serial,
          subject: issued.cert.subject,
          notAfter: iso(issued.cert.notAfter),
          clamped: issued.clamped,
          ...(opts.out ? { out: opts.out } : { pem: issued.pem }),
        });
      return;
    }
    await mkdir(opts.outDir!, { recursive: true });
    // signBatch unlocks the CA key first, so a wrong passphrase stops before any request.
    const tty = Boolean(process.stderr.isTTY) && !opts.json;
    const results: BatchLine[] = [];
    const notWritten: string[] = [];
    // Request files are distinct (outDirTargets refused two with one output name).
    const outOf = new Map(reqs.map((file, i) => [file, outs[i]!]));
    let done = 0;
    await ctx.authority.signBatch(
      reqs.map((file) => ({ input: () => readRequest(file), source: file })),
      { caName: opts.ca, profile: opts.profile, days: opts.days, clamp: opts.clamp },
      async ({ source: file, issued, error }) => {
        const out = outOf.get(file)!;
        let stop: "stop" | undefined;
        if (tty) process.stderr.write("\r\x1b[K");
        if (issued) {
          const serial = issued.cert.serialHex;
          try {
            // Each certificate is committed to the store before it gets here, so its file
            // can be re-created: write without a per-file fsync and sync the folder once.
            writeOutputSync(out, issued.pem, { mode: 0o644, overwrite: force, durable: false });
            results.push({ file, ok: true, serial, out });
          } catch (e) {
            // Issued but not handed out: say which serial, and sign no further group.
            const err = notWrittenError(serial, opts.ca, out, e);
            results.push({ file, ok: false, serial, error: err.message });
            notWritten.push(serial);
            process.stderr.write(`sigil: ${file}: ${err.message}\n`);
            stop = "stop";
          }
        } else {
          results.push({ file, ok: false, error: error!.message });
          // Errors of reading the file already name it.
          const msg = error!.message.startsWith(`${file}: `) ? error!.message : `${file}: ${error!.message}`;
          process.stderr.write(`sigil: ${msg}\n`);
        }
        done++;
        if (tty) progress(done, reqs.length);
        return stop;
      },
    );
    await syncDir(opts.outDir!);
    if (tty) process.stderr.write("\n");
    finishBatch(results, notWritten, reqs.length, opts);
  } finally {
    await ctx.close();
  }
}

function progress(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`);
}
