/**
 * `sigil certs`: the handbook's expiry listing, from the store, soonest first.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { certView, printJson, printTable } from "./output.js";
import { SigilError, ErrorCodes } from "../errors.js";

/** Parses `30d`, `2w`, `12h` or a bare number of days into milliseconds. */
export function parsePeriod(v: string): number {
  const m = /^(\d+)\s*([dwh]?)$/.exec(v.trim());
  if (!m) throw new SigilError(ErrorCodes.USAGE, `bad period "${v}": use e.g. 30d, 2w or 12h`);
  const n = Number(m[1]);
  const unit = m[2] === "h" ? 3_600_000 : m[2] === "w" ? 7 * 86_400_000 : 86_400_000;
  return n * unit;
}

/** Runs `sigil certs`. */
export async function listCerts(
  opts: GlobalOptions & {
    ca?: string;
    expiring?: string;
    status?: "valid" | "revoked" | "expired";
    json?: boolean;
  },
): Promise<void> {
  const within = opts.expiring !== undefined ? parsePeriod(opts.expiring) : undefined;
  const ctx = await openContext(opts);
  try {
    const now = Date.now();
    const cas = await ctx.authority.listCas();
    const names = new Map(cas.map((c) => [c.id, c.name]));
    const caId = opts.ca ? (await ctx.authority.getCa(opts.ca)).id : undefined;
    const certs = await ctx.authority.certs({
      caId,
      status: opts.status ?? (within !== undefined ? "valid" : undefined),
      expiringBefore: within !== undefined ? now + within : undefined,
    });
    const views = certs.map((c) => certView(c, names.get(c.caId) ?? "?", now));
    if (opts.json) return printJson(views);
    printTable(
      ["SERIAL", "NOT AFTER", "STATUS", "CA", "SUBJECT"],
      views.map((v) => [
        String(v.serial),
        String(v.notAfter),
        String(v.status),
        String(v.ca),
        String(v.subject),
      ]),
    );
  } finally {
    await ctx.close();
  }
}
