/**
 * `sigil init`: the handbook's genfic hierarchy in one step: a root, a user CA and a system
 * CA, with staggered validity (the user CA expires two weeks before the system CA, so a
 * forgotten renewal shows up on user certificates first).
 */
import { openContext, resolveHome, type GlobalOptions } from "./context.js";
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

/** Runs `sigil init`. */
export async function runInit(opts: InitOpts): Promise<void> {
  const home = resolveHome(opts);
  const { parseDn } = await import("../x509/dn.js");
  const prefix = parseDn(opts.dnPrefix);
  const userDays = opts.userDays ?? opts.systemDays - 14;
  const cn = opts.cnPrefix ?? titleCase(opts.name);
  const fromPrefix = (k: string): string | undefined => prefix.find((a) => a.name === k)?.value;
  await writeInitialConfig(home, {
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    subjectDefaults: Object.fromEntries(
      (["C", "ST", "L", "O", "OU"] as const).flatMap((k) => (fromPrefix(k) ? [[k, fromPrefix(k)]] : [])),
    ),
  });
  const ctx = await openContext({ ...opts, home, create: true });
  try {
    if ((await ctx.authority.listCas()).length > 0) {
      const { SigilError, ErrorCodes } = await import("../errors.js");
      throw new SigilError(
        ErrorCodes.CA_EXISTS,
        `${home} already holds CAs; init runs once (use 'sigil ca create-root')`,
      );
    }
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
    process.stdout.write(
      [
        `Sigil initialised in ${ctx.home}`,
        `  ${root.name.padEnd(16)} root    until ${iso(root.notAfter)}  ${root.subject}`,
        `  ${system.name.padEnd(16)} system  until ${iso(system.notAfter)}  ${system.subject}`,
        `  ${user.name.padEnd(16)} user    until ${iso(user.notAfter)}  ${user.subject}`,
        `Keys are encrypted in ${ctx.home}/keys (0600). Keep the root offline once the children exist.`,
        "",
      ].join("\n"),
    );
  } finally {
    await ctx.close();
  }
}

function titleCase(name: string): string {
  if (name === "genfic") return "GenFic";
  return name.charAt(0).toUpperCase() + name.slice(1);
}
