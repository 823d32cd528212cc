/**
 * `sigil ocsp refresh`: signs the pre-signed OCSP answers that are due (RFC 5019 §4: fresh
 * answers before nextUpdate), or all of them. `sigil serve` does the same in the background.
 */
import { openContext, type Context, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import { iso } from "./output.js";

/** Opens the home, with `--key-file` standing in for `--ca`'s key (an offline CA's export). */
async function openWithKeyFile(opts: GlobalOptions & { ca?: string; keyFile?: string }): Promise<Context> {
  if (opts.keyFile !== undefined && opts.ca === undefined)
    throw new SigilError(ErrorCodes.USAGE, "--key-file needs --ca: the CA whose key it is");
  const ctx = await openContext(opts);
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca!, opts.keyFile);
  } catch (e) {
    await ctx.close();
    throw e;
  }
  return ctx;
}

/** Runs `sigil ocsp refresh`. */
export async function runOcspRefresh(
  opts: GlobalOptions & { all?: boolean; ca?: string; keyFile?: string },
): Promise<void> {
  const ctx = await openWithKeyFile(opts);
  try {
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

/**
 * Runs `sigil ocsp renew-responder`: a new responder certificate and key for one CA (`--ca`)
 * or for every CA that can sign here (its key in this home or token, not expired, not
 * revoked). One line per CA on stderr.
 */
export async function runRenewResponder(
  opts: GlobalOptions & { ca?: string; keyFile?: string },
): Promise<void> {
  const ctx = await openWithKeyFile(opts);
  try {
    const now = Date.now();
    const names =
      opts.ca !== undefined
        ? [opts.ca]
        : (await ctx.authority.listCas())
            .filter((c) => c.notAfter > now && !ctx.authority.keyUnavailable(c))
            .map((c) => c.name);
    for (const name of names) {
      let r: Awaited<ReturnType<typeof ctx.authority.renewResponder>>;
      try {
        r = await ctx.authority.renewResponder(name);
      } catch (e) {
        // Every CA: one revoked by its parent has no responder to renew; say so, go on.
        if (opts.ca !== undefined || !isSigilError(e, ErrorCodes.POLICY_DENIED)) throw e;
        process.stderr.write(`sigil: ${e.message}; skipped\n`);
        continue;
      }
      process.stderr.write(
        `renewed the OCSP responder of CA ${r.ca}: certificate ${r.serial}, valid until ${iso(r.notAfter)}${r.replaced ? ` (replaces ${r.replaced})` : ""}\n`,
      );
    }
  } finally {
    await ctx.close();
  }
}
