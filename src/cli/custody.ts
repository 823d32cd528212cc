/**
 * Key custody commands: `sigil ca export|offline|status`, `sigil key split|restore`.
 */
import { join } from "node:path";
import { openContext, cliActor, type Context, type GlobalOptions } from "./context.js";
import { printJson, printTable } from "./output.js";
import { VERSION } from "./version.js";
import { SigilError, ErrorCodes } from "../errors.js";
import type { CustodyDeps } from "../authority/custody.js";
import { checkOutputFolder } from "../files/output.js";

function deps(ctx: Context): CustodyDeps {
  return {
    authority: ctx.authority,
    store: ctx.store,
    keyDir: ctx.paths.keys,
    actor: cliActor(),
    clock: () => Date.now(),
    version: VERSION,
  };
}

/** `sigil ca export NAME --out DIR`. */
export async function runExport(name: string, opts: GlobalOptions & { out: string }): Promise<void> {
  // A folder of its own naming: files in it are never replaced (exportCa refuses them).
  await checkOutputFolder(opts.out);
  const ctx = await openContext(opts);
  try {
    const { exportCa } = await import("../authority/custody.js");
    const { dir, manifest } = await exportCa(deps(ctx), name, opts.out);
    process.stderr.write(
      `exported CA ${name} to ${dir}: ${manifest.keyFile} (encrypted, 0600), ${manifest.certFile}, manifest.json; key sha256 ${manifest.keySha256}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil ca offline NAME [--export DIR]`. */
export async function runOffline(name: string, opts: GlobalOptions & { export?: string }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const { takeOffline } = await import("../authority/custody.js");
    const r = await takeOffline(deps(ctx), name, opts.export);
    if (r.finished) {
      process.stderr.write(`CA ${name} was already offline; removed its key file left in the store\n`);
      return;
    }
    const resp =
      r.responderNotAfter === null
        ? ""
        : `; its OCSP responder key stays online (certificate until ${new Date(r.responderNotAfter).toISOString().slice(0, 10)}; renewing it needs the CA key)`;
    process.stderr.write(
      `CA ${name} is offline: its key file is deleted from the store; signing now needs --key-file ${join(r.exportDir || "DIR", `${name}.key.pem`)}${resp}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil ca status [--json]`: custody, CRL and responder dates, reminders. Exit 1 when a CRL has expired. */
export async function runStatus(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const { custodyStatus } = await import("../authority/custody.js");
    const rows = await custodyStatus(deps(ctx), ctx.config);
    if (opts.json) printJson(rows);
    else {
      const d = (s: string | null): string => (s ? s.replace(/\.\d{3}Z$/, "Z") : "-");
      printTable(
        ["NAME", "PARENT", "STATUS", "KEY", "NOT AFTER", "CRL", "CRL NEXT UPDATE", "OCSP RESPONDER UNTIL"],
        rows.map((r) => [
          r.name,
          r.parent ?? "-",
          r.revokedAt ? `${r.status} ${r.revokedAt.slice(0, 10)}` : r.status,
          r.custody,
          d(r.notAfter),
          r.crlNumber ? `#${r.crlNumber}` : "-",
          d(r.crlNextUpdate),
          d(r.responderNotAfter),
        ]),
      );
      for (const r of rows) for (const w of r.warnings) process.stdout.write(`warning: ${w}\n`);
    }
    if (rows.some((r) => r.crlExpired)) process.exitCode = 1;
  } finally {
    await ctx.close();
  }
}

/** Parses --shares / --threshold. */
export function parseCount(v: string): number {
  if (!/^\d{1,3}$/.test(v)) throw new SigilError(ErrorCodes.USAGE, `${v} is not a whole number`);
  return Number(v);
}

/** `sigil key split NAME --shares N --threshold K --out DIR [--key-file F]`. */
export async function runSplit(
  name: string,
  opts: GlobalOptions & { shares: number; threshold: number; out: string; keyFile?: string },
): Promise<void> {
  const { checkShareCounts } = await import("../keys/shares.js");
  checkShareCounts(opts.shares, opts.threshold);
  // Share files are never replaced (splitKey refuses them): another set's share would be lost.
  await checkOutputFolder(opts.out);
  const { resolvePassphrase, promptHidden } = await import("../keys/passphrase.js");
  let pass: Buffer | undefined;
  const ctx = await openContext({
    ...opts,
    passphrase: async () =>
      (pass ??= await resolvePassphrase({
        passphraseFile: opts.passphraseFile,
        env: process.env,
        isTty: Boolean(process.stdin.isTTY),
        prompt: promptHidden,
        purpose: "CA key",
        warn: (m) => process.stderr.write(`sigil: warning: ${m}\n`),
      })),
  });
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(name, opts.keyFile);
    const { splitKey } = await import("../authority/custody.js");
    const d = deps(ctx);
    // Opening the key resolves the passphrase (once) and proves it; nothing is written before.
    await d.authority.unlock(name);
    const r = await splitKey(d, name, { ...opts, outDir: opts.out, passphrase: pass! });
    process.stderr.write(
      `split the passphrase of CA ${name}'s key into ${opts.shares} shares, any ${opts.threshold} restore it (set ${r.label.setId}):\n`,
    );
    for (const f of r.files) process.stdout.write(`${f}\n`);
    process.stderr.write(
      "give each share to a different custodian; delete the copies here once handed over\n",
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil key restore NAME --share F... [--from DIR]`. */
export async function runRestore(
  name: string,
  opts: GlobalOptions & { share?: string[]; from?: string },
): Promise<void> {
  const paths = opts.share ?? [];
  if (paths.length === 0)
    throw new SigilError(ErrorCodes.USAGE, "give the share files with --share FILE (repeated)");
  const { readShares } = await import("../keys/shares.js");
  const shares = readShares(paths);
  shares.catch(() => undefined); // awaited below
  const ctx = await openContext({ ...opts, passphrase: async () => (await shares).secret });
  try {
    const { restoreKeyFromShares } = await import("../authority/custody.js");
    const r = await restoreKeyFromShares(deps(ctx), name, {
      shares,
      shareCount: paths.length,
      from: opts.from,
    });
    const { label } = r;
    if (label.ca !== name)
      process.stderr.write(
        `note: the shares were made with CA ${label.ca}'s key; they also open ${name}'s\n`,
      );
    process.stderr.write(
      r.restored
        ? `the shares open CA ${name}'s key; it is back in the online store (keyRef file:${name})\n`
        : `the shares open CA ${name}'s key (set ${label.setId}); nothing else changed\n`,
    );
  } finally {
    await ctx.close();
  }
}
