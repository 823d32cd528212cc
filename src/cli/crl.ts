/**
 * `sigil crl --ca CA`: publishes the next CRL (RFC 5280 §5) and writes it.
 */
import { openContext, type GlobalOptions } from "./context.js";

/** Runs `sigil crl`. */
export async function runCrl(
  opts: GlobalOptions & { ca: string; out?: string; pem?: boolean; keyFile?: string },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca, opts.keyFile);
    const { der, crlNumber, entries } = await ctx.authority.publishCrl(opts.ca);
    const { toPem } = await import("../x509/der.js");
    const body = opts.pem ? Buffer.from(toPem(der, "X509 CRL")) : der;
    if (opts.out) {
      const { writePublicFile } = await import("../keys/file-keystore.js");
      await writePublicFile(opts.out, body, { overwrite: true });
    } else if (opts.pem) {
      process.stdout.write(body);
    }
    process.stderr.write(
      `CRL #${crlNumber} for ${opts.ca}: ${entries} revoked entr${entries === 1 ? "y" : "ies"}; ${opts.out ? `written to ${opts.out} and ` : ""}published at ${ctx.home}/crl/${opts.ca}.crl\n`,
    );
  } finally {
    await ctx.close();
  }
}
