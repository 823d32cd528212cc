/**
 * `sigil audit verify | log`.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { printAuditEvent, printAuditVerdict } from "./output.js";

/** Runs `sigil audit verify`: exit 0 and a summary, or exit 1 naming the first broken event. */
export async function verify(opts: GlobalOptions): Promise<void> {
  const ctx = await openContext(opts);
  try {
    printAuditVerdict(await ctx.authority.verifyAudit());
  } finally {
    await ctx.close();
  }
}

/** Runs `sigil audit log`. */
export async function log(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    for await (const e of ctx.authority.auditLog()) printAuditEvent(e, opts.json);
  } finally {
    await ctx.close();
  }
}
