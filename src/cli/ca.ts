/**
 * `sigil ca ...`: create roots and children, list and show CAs.
 */
import { openContext, prepareHomeKeys, type GlobalOptions } from "./context.js";
import { resolveSubject } from "./prompt.js";
import { caView, printCaTable, printJson, iso } from "./output.js";
import type { KeyBackend, KeyType } from "../keys/types.js";
import type { CaRecord } from "../store/types.js";

interface CreateOpts extends GlobalOptions {
  subject?: string;
  days: number;
  key?: KeyType;
  keyStore?: KeyBackend;
  pathLen?: number;
  defaultProfile?: string;
  parent?: string;
  clamp?: boolean;
  keyFile?: string;
}

/** ", key in PKCS#11 token" for token keys (the stderr line of create-root / create-child). */
const keyNote = (ca: CaRecord): string => (ca.keyRef.startsWith("pkcs11:") ? `, key in ${ca.keyRef}` : "");

/**
 * The line of `sigil ca create-child`, local or through the server: from the CA's view
 * (authority/views.ts), as both the data folder and the admin API give it.
 */
export function printChildCreated(view: Record<string, unknown>): void {
  const keyRef = String(view.keyRef);
  process.stderr.write(
    `created CA ${String(view.name)} under ${String(view.parent)}: ${String(view.subject)}, valid until ${String(view.notAfter)}, pathLen ${String(view.pathLen)}${keyRef.startsWith("pkcs11:") ? `, key in ${keyRef}` : ""}\n`,
  );
}

/** `sigil ca create-root NAME`. */
export async function createRoot(name: string, opts: CreateOpts): Promise<CaRecord> {
  const ctx = await openContext({ ...opts, create: true });
  try {
    // Name and passphrase first (as `openssl req` asks the passphrase first): a too-short
    // one is refused before any subject field is typed, whatever its source.
    await ctx.authority.precheckNewCa(name, { passphrase: (opts.keyStore ?? "file") === "file" });
    const subject = await resolveSubject(ctx.config, opts.subject, name);
    const ca = await ctx.authority.createRoot({
      name,
      subject,
      days: opts.days,
      keyType: opts.key ?? (ctx.config.defaultKeyType as KeyType),
      pathLen: opts.pathLen ?? null,
      defaultProfile: opts.defaultProfile,
      keyBackend: opts.keyStore,
    });
    process.stderr.write(
      `created root CA ${ca.name}: ${ca.subject}, valid until ${iso(ca.notAfter)}${keyNote(ca)}\n`,
    );
    await prepareHomeKeys(ctx, (line) => process.stderr.write(`sigil: ${line}\n`));
    return ca;
  } finally {
    await ctx.close();
  }
}

/** `sigil ca create-child NAME --parent P`. */
export async function createChild(name: string, opts: CreateOpts): Promise<CaRecord> {
  const ctx = await openContext(opts);
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.parent!, opts.keyFile);
    await ctx.authority.getCa(opts.parent!);
    // The name, then the parent's key (the passphrase, checked): refused before any
    // subject field is typed.
    await ctx.authority.precheckNewCa(name, { passphrase: false });
    await ctx.authority.unlock(opts.parent!);
    const subject = await resolveSubject(ctx.config, opts.subject, name);
    const ca = await ctx.authority.createChild({
      name,
      parent: opts.parent!,
      subject,
      days: opts.days,
      clamp: opts.clamp,
      keyType: opts.key ?? (ctx.config.defaultKeyType as KeyType),
      pathLen: opts.pathLen,
      defaultProfile: opts.defaultProfile,
      keyBackend: opts.keyStore,
    });
    printChildCreated(caView(ca, opts.parent!));
    return ca;
  } finally {
    await ctx.close();
  }
}

/** `sigil ca list`. */
export async function listCas(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const cas = await ctx.authority.listCas();
    const byId = new Map(cas.map((c) => [c.id, c.name]));
    const standings = await Promise.all(cas.map((c) => ctx.authority.standing(c)));
    const views = cas.map((c, i) =>
      caView(c, c.parentId === null ? null : (byId.get(c.parentId) ?? null), standings[i]),
    );
    if (opts.json) return printJson(views);
    printCaTable(views);
  } finally {
    await ctx.close();
  }
}

/** `sigil ca show NAME [--pem | --chain]`. */
export async function showCa(
  name: string,
  opts: GlobalOptions & { pem?: boolean; chain?: boolean; json?: boolean },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const { toPem } = await import("../x509/der.js");
    const chain = await ctx.authority.chain(name);
    const ca = chain[0]!;
    if (opts.chain) {
      for (const c of chain) process.stdout.write(toPem(c.certDer, "CERTIFICATE"));
      return;
    }
    if (opts.pem) {
      process.stdout.write(toPem(ca.certDer, "CERTIFICATE"));
      return;
    }
    const { parseCertificate } = await import("../x509/cert-reader.js");
    const info = parseCertificate(ca.certDer);
    const revoked = await ctx.authority.countRevoked(ca.name);
    const { effectiveSettings } = await import("../authority/acme/context.js");
    const acme = await effectiveSettings(ctx.store.acme, ctx.config, ca.name);
    const { directoryUrl, settingsLines } = await import("./acme.js");
    const standing = await ctx.authority.standing(ca);
    const view = {
      ...caView(ca, chain[1]?.name ?? null, standing),
      issuer: chain[1]?.subject ?? ca.subject,
      chain: chain.map((c) => c.name).join(" -> "),
      fingerprint: info.fingerprint,
      revokedCertificates: revoked,
    };
    const acmeView = acme?.enabled
      ? {
          directory: directoryUrl(ctx.config, ca.name),
          allow: acme.allow,
          maxDays: acme.maxDays,
          eab: acme.eabRequired,
          manualApproval: acme.manualApproval,
          profile: acme.profile,
          source: acme.updatedBy === "config" ? "config" : "store",
        }
      : null;
    if (opts.json) return printJson({ ...view, acme: acmeView });
    // Text: the status in one line; --json keeps revokedAt and revocationReason as fields.
    const shown: Record<string, unknown> = { ...view };
    delete shown.revokedAt;
    delete shown.revocationReason;
    if (standing.revokedAt !== null) {
      const last = standing.state === "retired" ? await ctx.store.lastNotAfter(ca.id) : undefined;
      const duty =
        standing.state !== "retired"
          ? "signs nothing more"
          : last !== undefined && last > Date.now()
            ? `issues nothing more; signs its CRL until its last certificate expires (${iso(last)})`
            : last === undefined
              ? "issues nothing more (it issued none)"
              : `issues nothing more; its last certificate expired ${iso(last)}`;
      shown.status = `${standing.state} on ${iso(standing.revokedAt)} by ${chain[1]?.name ?? "its parent"} (${standing.reason ?? "unspecified"}): ${duty}`;
    }
    for (const [k, v] of Object.entries(shown))
      process.stdout.write(
        `${(k + ":").padEnd(21)}${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}\n`,
      );
    if (acmeView !== null) {
      process.stdout.write(`acme:\n${settingsLines(acme!, ctx.config, "  ").join("\n")}\n`);
    }
  } finally {
    await ctx.close();
  }
}

/** `sigil ca retire NAME`: the parent revokes the CA's certificate (cessationOfOperation). */
export async function retireCa(name: string, opts: GlobalOptions & { keyFile?: string }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const ca = await ctx.authority.getCa(name);
    if (opts.keyFile && ca.parentId !== null) {
      const parent = (await ctx.store.getCaById(ca.parentId))!;
      ctx.authority.useKeyFile(parent.name, opts.keyFile);
    }
    const r = await ctx.authority.retireCa(name);
    process.stderr.write(
      `retired CA ${name}: certificate ${r.cert.serialHex} revoked (cessationOfOperation), parent's CRL #${r.crlNumber}\n`,
    );
  } finally {
    await ctx.close();
  }
}
