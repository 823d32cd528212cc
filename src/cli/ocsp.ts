/**
 * `sigil ocsp refresh`: signs the pre-signed OCSP answers that are due (RFC 5019 §4: fresh
 * answers before nextUpdate), or all of them. `sigil serve` does the same in the background.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";

/** Runs `sigil ocsp refresh`. */
export async function runOcspRefresh(
  opts: GlobalOptions & { all?: boolean; ca?: string; keyFile?: string },
): Promise<void> {
  if (opts.keyFile !== undefined && opts.ca === undefined)
    throw new SigilError(ErrorCodes.USAGE, "--key-file needs --ca: the CA whose key it is");
  const ctx = await openContext(opts);
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca!, opts.keyFile);
    const t0 = process.hrtime.bigint();
    await ctx.authority.ensureResponders();
    const r = await ctx.authority.refreshOcsp({ all: opts.all === true, caName: opts.ca });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stderr.write(
      `signed ${r.signed} OCSP answer${r.signed === 1 ? "" : "s"}${r.parked ? `, parked ${r.parked} of long-expired certificates` : ""} in ${s.toFixed(1)} s${r.signed && s > 0 ? ` (${Math.round(r.signed / s)}/s)` : ""}\n`,
    );
  } finally {
    await ctx.close();
  }
}
