/**
 * `sigil audit verify | log`.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { iso } from "./output.js";
import { SigilError, ErrorCodes } from "../errors.js";

/** Runs `sigil audit verify`: exit 0 and a summary, or exit 1 naming the first broken event. */
export async function verify(opts: GlobalOptions): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const r = await ctx.authority.verifyAudit();
    if (!r.ok)
      throw new SigilError(ErrorCodes.AUDIT_BROKEN, `audit chain broken at event ${r.firstBad}: ${r.reason}`);
    process.stdout.write(`audit chain OK: ${r.count} events, head ${r.headHash}\n`);
  } finally {
    await ctx.close();
  }
}

/** Runs `sigil audit log`. */
export async function log(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    for await (const e of ctx.authority.auditLog()) {
      if (opts.json) process.stdout.write(JSON.stringify(e) + "\n");
      else
        process.stdout.write(
          `${String(e.seq).padStart(6)}  ${iso(e.at)}  ${e.actor.padEnd(14)}  ${e.action.padEnd(20)}  ${e.target ?? "-"}  ${JSON.stringify(e.details)}\n`,
        );
    }
  } finally {
    await ctx.close();
  }
}
