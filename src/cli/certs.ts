/**
 * `sigil certs`: the handbook's expiry listing, from the store, soonest first.
 */
import { openContext, type GlobalOptions } from "./context.js";
import { certView, printCertTable, printCertView, printJson } from "./output.js";
import { SigilError, ErrorCodes } from "../errors.js";

/** Parses `30d`, `2w`, `12h` or a bare number of days into milliseconds. */
export function parsePeriod(v: string): number {
  const m = /^(\d+)\s*([dwh]?)$/.exec(v.trim());
  if (!m) throw new SigilError(ErrorCodes.USAGE, `bad period "${v}": use e.g. 30d, 2w or 12h`);
  const n = Number(m[1]);
  const unit = m[2] === "h" ? 3_600_000 : m[2] === "w" ? 7 * 86_400_000 : 86_400_000;
  return n * unit;
}

/** Rows a table shows unless told (`--limit N`, `--all`): a person reads the soonest first. */
export const TABLE_LIMIT = 1000;

/**
 * How many rows to list: `--all` every one, `--limit N` at most N, else the first
 * {@link TABLE_LIMIT} for a table and every one for `--json` (scripts want them all).
 */
export function listLimit(opts: { limit?: string; all?: boolean; json?: boolean }): number | undefined {
  if (opts.all && opts.limit !== undefined)
    throw new SigilError(ErrorCodes.USAGE, "give --limit or --all, not both");
  if (opts.all) return undefined;
  if (opts.limit !== undefined) {
    if (!/^\d{1,9}$/.test(opts.limit.trim()) || Number(opts.limit) < 1)
      throw new SigilError(
        ErrorCodes.USAGE,
        `bad --limit "${opts.limit}": give a whole number of rows, at least 1`,
      );
    return Number(opts.limit);
  }
  return opts.json ? undefined : TABLE_LIMIT;
}

/** Drops the probe row past `limit` and says on stderr that more match. */
export function trimToLimit<T>(rows: T[], limit: number | undefined): T[] {
  if (limit === undefined || rows.length <= limit) return rows;
  process.stderr.write(
    `sigil: showing the first ${limit} (soonest expiry); more match: narrow with --ca or --expiring, or give --all or --limit N\n`,
  );
  return rows.slice(0, limit);
}

/**
 * The profile filter of a listing: `--profile P` (any profile issued certificates carry)
 * lists that profile only; without it, the internal profiles (CA certificates, OCSP
 * responders, the admin API's TLS certificates) are left out.
 */
export async function profileFilter(
  profile: string | undefined,
): Promise<{ profile: string } | { excludeProfiles: readonly string[] }> {
  const { listedProfileName, INTERNAL_PROFILES } = await import("../x509/profiles.js");
  if (profile === undefined) return { excludeProfiles: INTERNAL_PROFILES };
  return { profile: listedProfileName(profile) };
}

/** Runs `sigil certs`. */
export async function listCerts(
  opts: GlobalOptions & {
    ca?: string;
    expiring?: string;
    status?: "valid" | "revoked" | "expired";
    profile?: string;
    json?: boolean;
    limit?: string;
    all?: boolean;
  },
): Promise<void> {
  const within = opts.expiring !== undefined ? parsePeriod(opts.expiring) : undefined;
  const limit = listLimit(opts);
  const profiles = await profileFilter(opts.profile);
  const ctx = await openContext(opts);
  try {
    const now = Date.now();
    const cas = await ctx.authority.listCas();
    const names = new Map(cas.map((c) => [c.id, c.name]));
    const caId = opts.ca ? (await ctx.authority.getCa(opts.ca)).id : undefined;
    // One row past the limit tells whether more match, without counting them (an index
    // range in notAfter order stops there: milliseconds at 10M certificates).
    const certs = trimToLimit(
      await ctx.authority.certs({
        caId,
        status: opts.status ?? (within !== undefined ? "valid" : undefined),
        expiringBefore: within !== undefined ? now + within : undefined,
        ...profiles,
        ...(limit !== undefined ? { limit: limit + 1 } : {}),
      }),
      limit,
    );
    const views = certs.map((c) => certView(c, names.get(c.caId) ?? "?", now));
    if (opts.json) return printJson(views);
    printCertTable(views);
  } finally {
    await ctx.close();
  }
}

/** Runs `sigil cert show SERIAL --ca CA`. */
export async function showCert(
  serial: string,
  opts: GlobalOptions & { ca: string; pem?: boolean; chain?: boolean; json?: boolean },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const c = await ctx.authority.findCert(opts.ca, serial);
    if (!c)
      throw new SigilError(
        ErrorCodes.CERT_NOT_FOUND,
        `no certificate with serial ${serial} issued by CA ${opts.ca}`,
      );
    const { toPem } = await import("../x509/der.js");
    if (opts.pem || opts.chain) {
      process.stdout.write(toPem(c.der, "CERTIFICATE"));
      if (opts.chain)
        for (const ca of await ctx.authority.chain(opts.ca))
          process.stdout.write(toPem(ca.certDer, "CERTIFICATE"));
      return;
    }
    const view = certView(c, opts.ca, Date.now());
    if (opts.json) return printJson(view);
    printCertView(view);
  } finally {
    await ctx.close();
  }
}
