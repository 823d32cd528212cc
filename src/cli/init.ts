/**
 * `sigil init`: the handbook's genfic hierarchy in one step: a root, a user CA and a system
 * CA, with staggered validity (the user CA expires two weeks before the system CA, so a
 * forgotten renewal shows up on user certificates first).
 */
import { openContext, prepareHomeKeys, resolveHome, type Context, type GlobalOptions } from "./context.js";
import { writeInitialConfig } from "../config/load.js";
import { iso } from "./output.js";
import type { KeyType } from "../keys/types.js";

interface InitOpts extends GlobalOptions {
  name: string;
  dnPrefix: string;
  cnPrefix?: string;
  key?: KeyType;
  rootDays: number;
  systemDays: number;
  userDays?: number;
  publicUrl?: string;
}

/** The defaults of `sigil init` (also used by `sigil serve --init`). */
export const INIT_DEFAULTS = {
  name: "genfic",
  dnPrefix: "/C=BE/ST=Antwerp/L=Mechelen/O=Gentoo Fictional, Inc.",
  rootDays: 7300,
  systemDays: 1109,
} as const;

/** Runs `sigil init`. */
export async function runInit(opts: InitOpts): Promise<void> {
  const home = resolveHome(opts);
  await writeInitConfig(home, opts);
  const ctx = await openContext({ ...opts, home, create: true });
  try {
    if ((await ctx.authority.listCas()).length > 0) {
      const { SigilError, ErrorCodes } = await import("../errors.js");
      throw new SigilError(
        ErrorCodes.CA_EXISTS,
        `${home} already holds CAs; init runs once (use 'sigil ca create-root')`,
      );
    }
    process.stdout.write(await initHierarchy(ctx, opts));
    await prepareHomeKeys(ctx, (line) =>
      process.stdout.write(`${line[0]!.toUpperCase()}${line.slice(1)}.\n`),
    );
  } finally {
    await ctx.close();
  }
}

/** Writes the first sigil.json (subject defaults from the DN prefix) unless one exists. */
export async function writeInitConfig(
  home: string,
  opts: Pick<InitOpts, "dnPrefix" | "publicUrl">,
): Promise<void> {
  const { parseDn } = await import("../x509/dn.js");
  const prefix = parseDn(opts.dnPrefix);
  const fromPrefix = (k: string): string | undefined => prefix.find((a) => a.name === k)?.value;
  await writeInitialConfig(home, {
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    subjectDefaults: Object.fromEntries(
      (["C", "ST", "L", "O", "OU"] as const).flatMap((k) => (fromPrefix(k) ? [[k, fromPrefix(k)]] : [])),
    ),
  });
}

/**
 * Creates the root, system and user CAs in an opened context and publishes their first
 * CRLs; returns the summary to print.
 */
export async function initHierarchy(
  ctx: Context,
  opts: Omit<InitOpts, "home" | "passphraseFile" | "publicUrl">,
): Promise<string> {
  const { parseDn } = await import("../x509/dn.js");
  const prefix = parseDn(opts.dnPrefix);
  const userDays = opts.userDays ?? opts.systemDays - 14;
  const cn = opts.cnPrefix ?? titleCase(opts.name);
  const keyType = opts.key ?? (ctx.config.defaultKeyType as KeyType);
  const subject = (label: string) => [...prefix, { oid: "2.5.4.3", name: "CN", value: `${cn} ${label}` }];
  const root = await ctx.authority.createRoot({
    name: opts.name,
    subject: subject("Root CA"),
    days: opts.rootDays,
    keyType,
    defaultProfile: "system",
  });
  const system = await ctx.authority.createChild({
    name: `${opts.name}-system`,
    parent: root.name,
    subject: subject("System CA"),
    days: opts.systemDays,
    keyType,
    defaultProfile: "system",
  });
  const user = await ctx.authority.createChild({
    name: `${opts.name}-user`,
    parent: root.name,
    subject: subject("User CA"),
    days: userDays,
    keyType,
    defaultProfile: "user",
  });
  for (const ca of [root, system, user]) await ctx.authority.publishCrl(ca.name);
  return [
    `Sigil initialised in ${ctx.home}`,
    `  ${root.name.padEnd(16)} root    until ${iso(root.notAfter)}  ${root.subject}`,
    `  ${system.name.padEnd(16)} system  until ${iso(system.notAfter)}  ${system.subject}`,
    `  ${user.name.padEnd(16)} user    until ${iso(user.notAfter)}  ${user.subject}`,
    `Keys are encrypted in ${ctx.home}/keys (0600). Keep the root offline once the children exist.`,
    "",
  ].join("\n");
}

function titleCase(name: string): string {
  if (name === "genfic") return "GenFic";
  return name.charAt(0).toUpperCase() + name.slice(1);
}
