/**
 * `sigil sign REQ... --ca CA`: one request to stdout or -o, or many into --out-dir in one
 * process (the handbook's folder of mailed requests, like `openssl ca -infiles`). Each
 * request is accepted or refused on its own; a summary follows.
 */
import { readFile, mkdir } from "node:fs/promises";
import { basename, join, extname } from "node:path";
import { openContext, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";
import { iso, printJson } from "./output.js";

interface SignOpts extends GlobalOptions {
  ca: string;
  profile?: string;
  days?: number;
  clamp?: boolean;
  out?: string;
  outDir?: string;
  json?: boolean;
  keyFile?: string;
}

/** Reads a file as it is; a missing or unreadable file is a one-line error naming it. */
export async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SigilError(
      code === "ENOENT" ? ErrorCodes.FILE_NOT_FOUND : ErrorCodes.BAD_INPUT,
      code === "ENOENT" ? `${path}: no such file` : `${path}: cannot read (${code})`,
    );
  }
}

/**
 * Reads a request file ({@link readInput}); a private key given instead is refused here,
 * before it goes anywhere (the admin API with --server), with the one message every channel uses.
 */
export async function readRequest(path: string): Promise<Buffer> {
  const data = await readInput(path);
  const { looksLikePrivateKey, PRIVATE_KEY_NOT_A_REQUEST } = await import("../x509/csr.js");
  if (looksLikePrivateKey(data))
    throw new SigilError(ErrorCodes.BAD_CSR, `${path}: ${PRIVATE_KEY_NOT_A_REQUEST}`);
  return data;
}

/** Runs `sigil sign`. */
export async function runSign(reqs: string[], opts: SignOpts): Promise<void> {
  if (reqs.length > 1 && !opts.outDir)
    throw new SigilError(ErrorCodes.USAGE, "several requests need --out-dir DIR (one certificate file each)");
  if (opts.out && opts.outDir) throw new SigilError(ErrorCodes.USAGE, "give -o or --out-dir, not both");
  const { writePublicFile, syncDir } = await import("../keys/file-keystore.js");
  const ctx = await openContext(opts);
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
      if (opts.out) {
        await writePublicFile(opts.out, Buffer.from(issued.pem), { overwrite: true });
        process.stderr.write(
          `signed ${issued.cert.subject}: serial ${issued.cert.serialHex}, until ${new Date(issued.cert.notAfter).toISOString()}${issued.clamped ? " (capped at the CA's expiry)" : ""} -> ${opts.out}\n`,
        );
      } else if (!opts.json) {
        process.stdout.write(issued.pem);
      }
      // --json: one JSON document on stdout, as the batch form prints (without -o, the PEM is in it).
      if (opts.json)
        printJson({
          file: reqs[0],
          serial: issued.cert.serialHex,
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
    const results: Array<{ file: string; ok: boolean; serial?: string; out?: string; error?: string }> = [];
    let done = 0;
    await ctx.authority.signBatch(
      reqs.map((file) => ({ input: () => readRequest(file), source: file })),
      { caName: opts.ca, profile: opts.profile, days: opts.days, clamp: opts.clamp },
      async ({ source: file, issued, error }) => {
        if (issued) {
          const out = join(opts.outDir!, basename(file, extname(file)) + ".crt");
          // Each certificate is committed to the store before it gets here, so its file
          // can be re-created: write without a per-file fsync and sync the folder once.
          await writePublicFile(out, Buffer.from(issued.pem), { overwrite: true, durable: false });
          results.push({ file, ok: true, serial: issued.cert.serialHex, out });
        } else {
          results.push({ file, ok: false, error: error!.message });
          if (tty) process.stderr.write("\r\x1b[K");
          // Errors of reading the file already name it.
          const msg = error!.message.startsWith(`${file}: `) ? error!.message : `${file}: ${error!.message}`;
          process.stderr.write(`sigil: ${msg}\n`);
        }
        done++;
        if (tty) progress(done, reqs.length);
      },
    );
    await syncDir(opts.outDir!);
    if (tty) process.stderr.write("\n");
    const ok = results.filter((r) => r.ok).length;
    const refused = results.length - ok;
    if (opts.json) process.stdout.write(JSON.stringify({ signed: ok, refused, results }, null, 2) + "\n");
    process.stderr.write(
      `signed ${ok}, refused ${refused} of ${results.length} request(s) into ${opts.outDir}\n`,
    );
    if (refused > 0) process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

function progress(done: number, total: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`);
}
