/**
 * `sigil acme ...`: turn the ACME server (RFC 8555) on or off per CA, show its settings,
 * and make External Account Binding keys (RFC 8555 §7.3.4). Local store access, as the
 * `sigil ca` commands; every change is audited in the same transaction.
 */
import { randomBytes } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { AcmeSettings } from "../acme/types.js";
import type { CaRecord, Store } from "../store/types.js";
import { cliActor, openContext, type Context, type GlobalOptions } from "./context.js";
import { iso, printJson, printTable } from "./output.js";

/** Options of `sigil acme enable`. */
export interface EnableOpts extends GlobalOptions {
  allow: string[];
  maxDays?: number;
  eab?: boolean;
  manualApproval?: boolean;
  profile?: string;
}

/** The path of a CA's ACME directory on `sigil serve`. */
export const directoryPath = (ca: string): string => `/acme/${encodeURIComponent(ca)}/directory`;

/**
 * The URL clients give for a CA's ACME directory: `acme.baseUrl` when set (the server then
 * uses it too), else `publicUrl`, followed by {@link directoryPath}.
 */
export function directoryUrl(config: Pick<Config, "publicUrl" | "acme">, ca: string): string {
  const base = config.acme.baseUrl
    ? config.acme.baseUrl.replace(/\/+$/, "").replace(/\/acme$/, "")
    : config.publicUrl.replace(/\/+$/, "");
  return base + directoryPath(ca);
}

/** The CA named `name`; refuses a root and a CA its parent revoked (retired). */
async function acmeCa(ctx: Context, name: string): Promise<CaRecord> {
  const ca = await ctx.authority.getCa(name);
  if (ca.parentId === null)
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `CA ${name} is a root: ACME certificates come from an intermediate (make one with 'sigil ca create-child NAME --parent ${name}')`,
    );
  const own = await ctx.store.getCert(ca.parentId, ca.serialHex);
  if (own?.status === "revoked")
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `CA ${name} was retired (revoked by its parent on ${iso(own.revokedAt ?? 0)}): it signs nothing more`,
    );
  if (ca.notAfter <= Date.now())
    throw new SigilError(ErrorCodes.POLICY_DENIED, `CA ${name} expired on ${iso(ca.notAfter)}`);
  return ca;
}

/** `sigil acme enable CA --allow PATTERN ...`. */
export async function enable(caName: string, opts: EnableOpts): Promise<void> {
  const { parseAllowPattern } = await import("../policy/acme-identifiers.js");
  const { getProfile } = await import("../x509/profiles.js");
  const allow = [...new Set((opts.allow ?? []).map((p) => p.trim()))];
  if (allow.length === 0) throw new SigilError(ErrorCodes.USAGE, "give at least one --allow PATTERN");
  for (const p of allow) parseAllowPattern(p); // throws BAD_INPUT naming the pattern
  const profileName = opts.profile ?? "system";
  const profile = getProfile(profileName);
  if (profile.ca || !profile.sanTypes.some((t) => t === "dns" || t === "ip"))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `profile ${profileName} cannot carry DNS or IP names: ACME needs a server profile such as system`,
    );
  const ctx = await openContext(opts);
  try {
    const ca = await acmeCa(ctx, caName);
    const { acmeTx } = await import("../acme/store.js");
    const now = Date.now();
    const actor = cliActor();
    const settings: AcmeSettings = {
      caName: ca.name,
      enabled: true,
      allow,
      maxDays: opts.maxDays ?? null,
      eabRequired: opts.eab === true,
      manualApproval: opts.manualApproval === true,
      profile: profileName,
      updatedAt: now,
      updatedBy: actor,
    };
    await ctx.store.transaction(async (tx) => {
      await acmeTx(tx).putSettings(settings, ca.id);
      await tx.appendAudit({
        at: now,
        actor,
        action: "acme.enable",
        target: ca.name,
        details: {
          allow,
          maxDays: settings.maxDays,
          eab: settings.eabRequired,
          manualApproval: settings.manualApproval,
          profile: profileName,
        },
      });
    });
    process.stderr.write(
      `ACME enabled for CA ${ca.name}: ${directoryUrl(ctx.config, ca.name)} on 'sigil serve', allowing ${allow.join(", ")}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil acme disable CA`: keeps the settings, marked disabled (this wins over the config). */
export async function disable(caName: string, opts: GlobalOptions): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const ca = await ctx.authority.getCa(caName);
    const { acmeStore, acmeTx, effectiveSettings } = await import("../acme/store.js");
    const current = await effectiveSettings(acmeStore(ctx.store), ctx.config, ca.name);
    if (current === undefined || !current.enabled)
      throw new SigilError(ErrorCodes.NOT_FOUND, `ACME is not enabled for CA ${ca.name}`);
    const now = Date.now();
    const actor = cliActor();
    await ctx.store.transaction(async (tx) => {
      await acmeTx(tx).putSettings({ ...current, enabled: false, updatedAt: now, updatedBy: actor }, ca.id);
      await tx.appendAudit({
        at: now,
        actor,
        action: "acme.disable",
        target: ca.name,
        details: { was: current.updatedBy === "config" ? "config" : "store" },
      });
    });
    process.stderr.write(`ACME disabled for CA ${ca.name}\n`);
  } finally {
    await ctx.close();
  }
}

/** Every CA's effective settings (store rows, then the config's CAs without one), by name. */
async function allSettings(store: Store, config: Config): Promise<AcmeSettings[]> {
  const { acmeStore, effectiveSettings } = await import("../acme/store.js");
  const acme = acmeStore(store);
  const names = new Set([
    ...(await acme.listSettings()).map((s) => s.caName),
    ...Object.keys(config.acme.cas),
  ]);
  const out: AcmeSettings[] = [];
  for (const n of [...names].sort()) {
    const s = await effectiveSettings(acme, config, n);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** The settings as shown (JSON and text). */
function settingsView(s: AcmeSettings, config: Config): Record<string, unknown> {
  return {
    ca: s.caName,
    enabled: s.enabled,
    directory: directoryUrl(config, s.caName),
    allow: s.allow,
    maxDays: s.maxDays,
    eab: s.eabRequired,
    manualApproval: s.manualApproval,
    profile: s.profile,
    source: s.updatedBy === "config" ? "config" : "store",
    updatedAt: s.updatedBy === "config" ? null : iso(s.updatedAt),
    updatedBy: s.updatedBy,
  };
}

/** Lines for `sigil ca show` and `sigil acme show`: "key: value". */
export function settingsLines(s: AcmeSettings, config: Config, indent = ""): string[] {
  return [
    `${indent}enabled:          ${s.enabled ? "yes" : "no"}${s.updatedBy === "config" ? " (config)" : ""}`,
    `${indent}directory:        ${directoryUrl(config, s.caName)}`,
    `${indent}allow:            ${s.allow.join(", ")}`,
    `${indent}max days:         ${s.maxDays ?? "the profile's"}`,
    `${indent}EAB required:     ${s.eabRequired ? "yes" : "no"}`,
    `${indent}manual approval:  ${s.manualApproval ? "yes" : "no"}`,
    `${indent}profile:          ${s.profile}`,
  ];
}

/** `sigil acme show [CA] [--json]`. */
export async function show(
  caName: string | undefined,
  opts: GlobalOptions & { json?: boolean },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    let list: AcmeSettings[];
    if (caName !== undefined) {
      const ca = await ctx.authority.getCa(caName);
      const { acmeStore, effectiveSettings } = await import("../acme/store.js");
      const s = await effectiveSettings(acmeStore(ctx.store), ctx.config, ca.name);
      if (opts.json)
        return printJson(s === undefined ? { ca: ca.name, enabled: false } : settingsView(s, ctx.config));
      if (s === undefined) {
        process.stdout.write(
          `ACME is not enabled for CA ${ca.name} (sigil acme enable ${ca.name} --allow ...)\n`,
        );
        return;
      }
      list = [s];
    } else {
      list = await allSettings(ctx.store, ctx.config);
      if (opts.json) return printJson(list.map((s) => settingsView(s, ctx.config)));
      if (list.length === 0) {
        process.stdout.write("ACME is not enabled for any CA (sigil acme enable CA --allow PATTERN)\n");
        return;
      }
    }
    list.forEach((s, i) => {
      if (i > 0) process.stdout.write("\n");
      process.stdout.write(`CA ${s.caName}\n${settingsLines(s, ctx.config, "  ").join("\n")}\n`);
    });
  } finally {
    await ctx.close();
  }
}

/** `sigil acme eab create CA [--json]`: a key id and HMAC key, printed once, stored for newAccount. */
export async function eabCreate(caName: string, opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  let out: { ca: string; kid: string; hmacKey: string };
  try {
    const ca = await acmeCa(ctx, caName);
    const { acmeTx } = await import("../acme/store.js");
    // RFC 8555 §7.3.4: the CA gives the client a key identifier and a MAC key (HS256 here,
    // RFC 7518 §3.2: a key of at least 256 bits).
    const kid = randomBytes(16).toString("base64url");
    const hmacKey = randomBytes(32);
    const now = Date.now();
    const actor = cliActor();
    await ctx.store.transaction(async (tx) => {
      await acmeTx(tx).insertEabKey({
        kid,
        caId: ca.id,
        hmacKey,
        createdAt: now,
        createdBy: actor,
        accountId: null,
      });
      await tx.appendAudit({ at: now, actor, action: "acme.eab.create", target: ca.name, details: { kid } });
    });
    out = { ca: ca.name, kid, hmacKey: hmacKey.toString("base64url") };
    hmacKey.fill(0);
  } finally {
    await ctx.close();
  }
  if (opts.json) return printJson(out);
  process.stdout.write(
    `kid:      ${out.kid}\nhmac-key: ${out.hmacKey}\ncertbot:  --eab-kid ${out.kid} --eab-hmac-key ${out.hmacKey}\n`,
  );
  process.stderr.write(
    `EAB key ${out.kid} for CA ${out.ca}: the HMAC key is shown only now; it binds one ACME account\n`,
  );
}

/** `sigil acme eab list CA [--json]`: key ids and their use, never the keys. */
export async function eabList(caName: string, opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const ca = await ctx.authority.getCa(caName);
    const { acmeStore } = await import("../acme/store.js");
    const rows = (await acmeStore(ctx.store).listEabKeys(ca.id)).map((k) => ({
      kid: k.kid,
      createdAt: iso(k.createdAt),
      createdBy: k.createdBy,
      accountId: k.accountId,
    }));
    if (opts.json) return printJson(rows);
    printTable(
      ["KID", "CREATED", "BY", "ACCOUNT"],
      rows.map((r) => [
        r.kid,
        String(r.createdAt),
        r.createdBy,
        r.accountId === null ? "unused" : String(r.accountId),
      ]),
    );
  } finally {
    await ctx.close();
  }
}
