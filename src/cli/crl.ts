/**
 * `sigil crl --ca CA`: publishes the next CRL (RFC 5280 §5) and writes it.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";
import { checkOutput, writeFailure, writeOutput } from "../files/output.js";

/**
 * The error for a CRL that was published (numbered, stored, audited) but could not be
 * written to `out`: it names the CRL and where it is, so nobody publishes another for it.
 */
export function crlNotWrittenError(
  ca: string,
  crlNumber: number,
  where: string,
  out: string,
  e: unknown,
): SigilError {
  return new SigilError(
    ErrorCodes.BAD_INPUT,
    `CRL #${crlNumber} of ${ca} was published (${where}) but not written to ${out} (${writeFailure(e)})`,
  );
}

/**
 * The line `sigil crl` ends with: the CRL, where it was written (`out`; - is stdout) and
 * where it was published (the home's `crl/CA.crl`; unknown through a remote server).
 */
export function crlSummary(
  ca: string,
  crlNumber: number,
  entries: number,
  out: string | undefined,
  published: string | undefined,
): string {
  const to = out !== undefined ? (out === "-" ? "stdout" : out) : undefined;
  const where = [
    ...(to ? [`written to ${to}`] : []),
    ...(published !== undefined ? [`published at ${published}`] : []),
  ].join(" and ");
  return `CRL #${crlNumber} for ${ca}: ${entries} revoked entr${entries === 1 ? "y" : "ies"}${where ? `; ${where}` : ""}\n`;
}

/** Runs `sigil crl`. */
export async function runCrl(
  opts: GlobalOptions & { ca: string; out?: string; pem?: boolean; force?: boolean; keyFile?: string },
): Promise<void> {
  const force = Boolean(opts.force);
  // Checked before the CRL is numbered and published.
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const ctx = await openContext({
    ...opts,
    keyAhead: { ca: opts.ca, ...(opts.keyFile !== undefined ? { keyFile: opts.keyFile } : {}) },
  });
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca, opts.keyFile);
    const { der, crlNumber, entries } = await ctx.authority.publishCrl(opts.ca);
    const { toPem } = await import("../x509/der.js");
    const body = opts.pem ? Buffer.from(toPem(der, "X509 CRL")) : der;
    const published = `${ctx.home}/crl/${opts.ca}.crl`;
    if (opts.out !== undefined) {
      try {
        await writeOutput(opts.out, body, { mode: 0o644, overwrite: force, stdout: true });
      } catch (e) {
        throw crlNotWrittenError(opts.ca, crlNumber, published, opts.out, e);
      }
    } else if (opts.pem) {
      process.stdout.write(body);
    }
    process.stderr.write(crlSummary(opts.ca, crlNumber, entries, opts.out, published));
  } finally {
    await ctx.close();
  }
}
