/**
 * `sigil acme ...`: turn the ACME server (RFC 8555) on or off per CA, show its settings,
 * and make External Account Binding keys (RFC 8555 §7.3.4). Local store access, as the
 * `sigil ca` commands; the acts and their audit events are use cases
 * (authority/acme/settings.ts), which the admin API reaches too.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { AcmeSettings } from "../acme/types.js";
import {
  acmeSettingsActs,
  checkEnableAsk,
  directoryUrl,
  settingsView,
  type AcmeSettingsActs,
  type EabKeyView,
} from "../authority/acme/settings.js";
import { cliActor, openContext, type Context, type GlobalOptions } from "./context.js";
import { printJson, printTable } from "./output.js";
import { api, remoteTarget, type RemoteOptions } from "./remote.js";

export { directoryPath, directoryUrl } from "../authority/acme/settings.js";

/** Options of `sigil acme enable`. */
export interface EnableOpts extends GlobalOptions, RemoteOptions {
  allow: string[];
  maxDays?: number;
  eab?: boolean;
  manualApproval?: boolean;
  profile?: string;
}

/** The admin API path of a CA's ACME settings. */
const caPath = (ca: string): string => `/api/v1/admin/cas/${encodeURIComponent(ca)}/acme`;

const actsOf = (ctx: Context): AcmeSettingsActs =>
  acmeSettingsActs({ store: ctx.store, config: ctx.config, authority: ctx.authority });

/** `sigil acme enable CA --allow PATTERN ...`. */
export async function enable(caName: string, opts: EnableOpts): Promise<void> {
  if ((opts.allow ?? []).length === 0)
    throw new SigilError(ErrorCodes.USAGE, "give at least one --allow PATTERN");
  const ask = {
    allow: opts.allow,
    maxDays: opts.maxDays ?? null,
    eab: opts.eab === true,
    manualApproval: opts.manualApproval === true,
    profile: opts.profile ?? "system",
  };
  checkEnableAsk(ask); // the patterns and profile, before the store or server is asked
  const said = (ca: string, directory: string, allow: string[]) =>
    process.stderr.write(
      `ACME enabled for CA ${ca}: ${directory} on 'sigil serve', allowing ${allow.join(", ")}\n`,
    );
  if (remoteTarget(opts)) {
    const r = await api<{ ca: string; directory: string; allow: string[] }>(
      opts,
      "POST",
      caPath(caName),
      ask,
    );
    return void said(r.ca, r.directory, r.allow);
  }
  const ctx = await openContext(opts);
  try {
    const s = await actsOf(ctx).enable(caName, ask, cliActor());
    said(s.caName, directoryUrl(ctx.config, s.caName), s.allow);
  } finally {
    await ctx.close();
  }
}

/** `sigil acme disable CA`: keeps the settings, marked disabled (this wins over the config). */
export async function disable(caName: string, opts: GlobalOptions & RemoteOptions): Promise<void> {
  if (remoteTarget(opts)) {
    const r = await api<{ ca: string }>(opts, "DELETE", caPath(caName));
    return void process.stderr.write(`ACME disabled for CA ${r.ca}\n`);
  }
  const ctx = await openContext(opts);
  try {
    const s = await actsOf(ctx).disable(caName, cliActor());
    process.stderr.write(`ACME disabled for CA ${s.caName}\n`);
  } finally {
    await ctx.close();
  }
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
    const acts = actsOf(ctx);
    let list: AcmeSettings[];
    if (caName !== undefined) {
      const { ca, settings: s } = await acts.of(caName);
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
      list = await acts.list();
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

/**
 * certbot's flags for an EAB key, in the `--flag=value` form: a key id or HMAC key in
 * base64url begins with "-" about once in 64, and certbot (argparse) takes `--eab-kid -x...`
 * for a missing value followed by an option. (lego takes either form.)
 */
export function certbotEabFlags(kid: string, hmacKey: string): string[] {
  return [`--eab-kid=${kid}`, `--eab-hmac-key=${hmacKey}`];
}

/** `sigil acme eab create CA [--json]`: a key id and HMAC key, printed once, stored for newAccount. */
export async function eabCreate(
  caName: string,
  opts: GlobalOptions & RemoteOptions & { json?: boolean },
): Promise<void> {
  let out: { ca: string; kid: string; hmacKey: string };
  if (remoteTarget(opts)) {
    const r = await api<{ ca: string; kid: string; hmacKey: string }>(
      opts,
      "POST",
      `${caPath(caName)}/eab`,
      {},
    );
    out = { ca: r.ca, kid: r.kid, hmacKey: r.hmacKey };
  } else {
    const ctx = await openContext(opts);
    try {
      out = await actsOf(ctx).createEabKey(caName, cliActor());
    } finally {
      await ctx.close();
    }
  }
  if (opts.json) return printJson(out);
  process.stdout.write(
    `kid:      ${out.kid}\nhmac-key: ${out.hmacKey}\ncertbot:  ${certbotEabFlags(out.kid, out.hmacKey).join(" ")}\n`,
  );
  process.stderr.write(
    `EAB key ${out.kid} for CA ${out.ca}: the HMAC key is shown only now; it binds one ACME account\n`,
  );
}

/** `sigil acme eab list CA [--json]`: key ids and their use, never the keys. */
export async function eabList(
  caName: string,
  opts: GlobalOptions & RemoteOptions & { json?: boolean },
): Promise<void> {
  let rows: EabKeyView[];
  if (remoteTarget(opts)) {
    rows = (await api<{ keys: EabKeyView[] }>(opts, "GET", `${caPath(caName)}/eab`)).keys;
  } else {
    const ctx = await openContext(opts);
    try {
      rows = await actsOf(ctx).listEabKeys(caName);
    } finally {
      await ctx.close();
    }
  }
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
}
