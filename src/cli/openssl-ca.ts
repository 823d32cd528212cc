/**
 * `sigil import openssl` and `sigil export openssl`: moving in and out of an `openssl ca`
 * directory (see authority/openssl-ca.ts).
 */
import { existsSync } from "node:fs";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { ImportPlan, OpensslCaDeps } from "../authority/openssl-ca.js";
import type { Store } from "../store/types.js";
import { cliActor, openContext, resolveHome, type GlobalOptions } from "./context.js";
import { homePaths } from "../app/paths.js";
import { printJson } from "./output.js";
import { formatHexNumberFile } from "../x509/openssl-index.js";

/** Options of `sigil import openssl`. */
export interface ImportOpensslCliOptions extends GlobalOptions {
  dir: string;
  cert: string;
  key: string;
  name?: string;
  keyPassphraseFile?: string;
  allowPartial?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** The environment variable holding the passphrase of the openssl key being imported. */
export const IMPORT_PASSPHRASE_ENV = "SIGIL_IMPORT_PASSPHRASE";

async function keyPassphrase(opts: ImportOpensslCliOptions): Promise<Buffer> {
  const { resolvePassphrase, promptHidden } = await import("../keys/passphrase.js");
  try {
    return await resolvePassphrase({
      passphraseFile: opts.keyPassphraseFile,
      env: { SIGIL_PASSPHRASE: process.env[IMPORT_PASSPHRASE_ENV] },
      isTty: Boolean(process.stdin.isTTY),
      prompt: promptHidden,
      purpose: `the openssl key ${opts.key}`,
      warn: (w) => process.stderr.write(`sigil: ${w}\n`),
    });
  } catch (e) {
    if (isSigilError(e, ErrorCodes.NO_PASSPHRASE))
      throw new SigilError(
        ErrorCodes.NO_PASSPHRASE,
        `${opts.key} is encrypted: give --key-passphrase-file, set ${IMPORT_PASSPHRASE_ENV}, or run on a terminal`,
      );
    throw e;
  }
}

/** A store with no CAs: checks an import into a home that does not exist yet, creating nothing. */
const EMPTY_STORE = {
  getCa: async () => undefined,
  listCas: async () => [],
  getCert: async () => undefined,
} as unknown as Store;

/** `sigil import openssl --dir DIR --cert CRT --key KEY [--name NAME] [--dry-run] [--allow-partial]`. */
export async function runImportOpenssl(opts: ImportOpensslCliOptions): Promise<void> {
  const { importOpensslCa } = await import("../authority/openssl-ca.js");
  const home = resolveHome(opts);
  const fresh = !existsSync(homePaths(home).db);
  let asked: Promise<Buffer> | undefined; // asked once, even when checked twice
  const keyPass = (): Promise<Buffer> => (asked ??= keyPassphrase(opts));
  if (fresh) {
    // Check everything before the home is created: a refused import leaves no trace.
    const plan = await importOpensslCa(
      {
        store: EMPTY_STORE,
        keys: {
          importKey: () => Promise.reject(new Error("dry run")),
          open: () => Promise.reject(new Error("dry run")),
          remove: async () => undefined,
        },
        homePassphrase: () => Promise.reject(new Error("dry run")),
        actor: cliActor(),
        clock: () => Date.now(),
      },
      { ...opts, dryRun: true, keyPassphrase: keyPass },
    );
    if (opts.dryRun) return report(plan, opts);
  }
  const ctx = await openContext({ ...opts, create: true });
  try {
    const [{ FileKeyStore }, { resolvePassphrase, promptHidden }] = await Promise.all([
      import("../keys/file-keystore.js"),
      import("../keys/passphrase.js"),
    ]);
    const firstCa = (await ctx.store.listCas()).length === 0;
    const deps: OpensslCaDeps = {
      store: ctx.store,
      keys: new FileKeyStore(ctx.paths.keys),
      homePassphrase: () =>
        resolvePassphrase({
          passphraseFile: opts.passphraseFile,
          env: process.env,
          isTty: Boolean(process.stdin.isTTY),
          prompt: promptHidden,
          purpose: "CA keys (the Sigil home passphrase)",
          confirm: firstCa,
          warn: (w) => process.stderr.write(`sigil: ${w}\n`),
        }),
      actor: cliActor(),
      clock: () => Date.now(),
    };
    const plan = await importOpensslCa(deps, { ...opts, keyPassphrase: keyPass });
    report(plan, opts);
  } finally {
    await ctx.close();
  }
}

/** A number as openssl's `serial` and `crlnumber` files hold it: uppercase hex, even length. */
const fileHex = (n: bigint): string => formatHexNumberFile(n).trim();

function report(plan: ImportPlan, opts: ImportOpensslCliOptions): void {
  if (opts.json) return printJson(plan);
  const out = process.stdout;
  out.write(`${plan.dryRun ? "would import" : "imported"} CA ${plan.ca}: ${plan.subject}\n`);
  out.write(`  parent:        ${plan.parent ?? "(none: a self-signed root)"}\n`);
  out.write(`  key:           ${plan.keyType} (stored encrypted under the home passphrase)\n`);
  out.write(
    `  certificates:  ${plan.valid + plan.revoked + plan.expired} (${plan.valid} valid, ${plan.revoked} revoked, ${plan.expired} expired)\n`,
  );
  // CRL numbers are decimal (as `openssl crl -text` shows them); openssl's crlnumber and
  // serial files hold hex, shown as there and labelled.
  out.write(
    `  CRL number:    next is ${plan.crlNumber + 1} (hex ${fileHex(BigInt(plan.crlNumber + 1))} in openssl's crlnumber file)\n`,
  );
  if (plan.opensslNextSerial !== null)
    out.write(
      `  openssl serial: ${fileHex(BigInt("0x" + plan.opensslNextSerial))} (hex) was next; Sigil issues random 128-bit serials\n`,
    );
  if (plan.addedToParent) out.write(`  also listed with ${plan.parent}'s certificates (it issued this CA)\n`);
  for (const n of plan.notes) out.write(`  note: ${n}\n`);
  for (const s of plan.skipped)
    out.write(`  ${plan.dryRun ? "would skip" : "skipped"}: index.txt line ${s.line}: ${s.reason}\n`);
}

/** `sigil export openssl --ca NAME --dir OUT`. */
export async function runExportOpenssl(
  opts: GlobalOptions & { ca: string; dir: string; json?: boolean },
): Promise<void> {
  const { checkOutputFolder } = await import("../files/output.js");
  await checkOutputFolder(opts.dir); // a new or empty folder: exportOpensslCa checks that
  const ctx = await openContext(opts);
  try {
    const { exportOpensslCa } = await import("../authority/openssl-ca.js");
    const { FileKeyStore } = await import("../keys/file-keystore.js");
    const ca = await ctx.authority.getCa(opts.ca); // unknown CA: the usual message listing known ones
    const r = await exportOpensslCa(
      {
        store: ctx.store,
        keys: new FileKeyStore(ctx.paths.keys),
        homePassphrase: () => Promise.reject(new Error("not needed")),
        actor: cliActor(),
        clock: () => Date.now(),
      },
      ca.name,
      opts.dir,
    );
    if (opts.json) return printJson(r);
    process.stdout.write(
      `exported CA ${ca.name} to ${r.dir}: index.txt (${r.certificates} certificates, ${r.revoked} revoked), newcerts/, serial ${fileHex(BigInt("0x" + r.nextSerial))} (hex), crlnumber ${fileHex(BigInt(r.nextCrlNumber))} (hex: the next CRL is number ${r.nextCrlNumber}), cacert.pem, openssl.cnf\n` +
        `the CA key is not in it: 'sigil ca export ${ca.name} --out DIR' writes it (encrypted); give it to openssl ca with -keyfile\n`,
    );
    for (const s of r.reasonsDowngraded)
      process.stderr.write(
        `sigil: serial ${s}: its revocation reason has no openssl name; written as unspecified\n`,
      );
  } finally {
    await ctx.close();
  }
}
