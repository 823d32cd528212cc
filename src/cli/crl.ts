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

/** Runs `sigil crl`. */
export async function runCrl(
  opts: GlobalOptions & { ca: string; out?: string; pem?: boolean; force?: boolean; keyFile?: string },
): Promise<void> {
  const force = Boolean(opts.force);
  // Checked before the CRL is numbered and published.
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const ctx = await openContext(opts);
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
    const to = opts.out !== undefined ? (opts.out === "-" ? "stdout" : opts.out) : undefined;
    process.stderr.write(
      `CRL #${crlNumber} for ${opts.ca}: ${entries} revoked entr${entries === 1 ? "y" : "ies"}; ${to ? `written to ${to} and ` : ""}published at ${published}\n`,
    );
  } finally {
    await ctx.close();
  }
}
