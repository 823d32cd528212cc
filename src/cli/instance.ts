/**
 * `sigil instance join`: the edge of app/join.ts. It reads the options, says what was
 * written and what was left out, one line each; the checks, the files and the audit record
 * are app/join.ts's and authority/join.ts's.
 */
import { cliActor, resolveHome, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";

/** Options of `sigil instance join`. */
export interface JoinCliOptions extends GlobalOptions {
  databaseUrl?: string;
  name?: string;
  caExport?: string[];
  tokenKey?: string;
  auditKey?: string;
  listen?: string;
  adminListen?: string;
  publicUrl?: string;
  serve?: boolean;
  workers?: number;
}

/** `sigil instance join --database-url URL [--name N] [--ca-export DIR...] [--token-key F] [--audit-key PEM]`. */
export async function runJoin(opts: JoinCliOptions): Promise<void> {
  const url = opts.databaseUrl ?? process.env.SIGIL_DATABASE_URL;
  if (url === undefined || url === "")
    throw new SigilError(
      ErrorCodes.USAGE,
      "give the shared database with --database-url URL (or SIGIL_DATABASE_URL)",
    );
  if (opts.workers !== undefined && !opts.serve)
    throw new SigilError(ErrorCodes.USAGE, "--workers goes with --serve");
  const { parseListen } = await import("../daemon/listen.js");
  if (opts.listen !== undefined) parseListen(opts.listen);
  if (opts.adminListen !== undefined && opts.adminListen !== "off") parseListen(opts.adminListen);
  const home = resolveHome(opts);
  const { joinInstance } = await import("../app/join.js");
  // The passphrase is proved on the installed keys only when it is at hand (never asked for).
  const passphrase = async (): Promise<Buffer | undefined> => {
    if (opts.passphraseFile === undefined && !process.env.SIGIL_PASSPHRASE) return undefined;
    const { resolvePassphrase } = await import("../keys/passphrase.js");
    return resolvePassphrase({
      passphraseFile: opts.passphraseFile,
      env: process.env,
      isTty: false,
      purpose: "CA key",
      warn: (m) => process.stderr.write(`sigil: warning: ${m}\n`),
    });
  };
  const r = await joinInstance({
    home,
    databaseUrl: url,
    name: opts.name,
    ...(opts.listen !== undefined ? { listen: opts.listen } : {}),
    ...(opts.adminListen !== undefined ? { adminListen: opts.adminListen } : {}),
    ...(opts.publicUrl !== undefined ? { publicUrl: opts.publicUrl } : {}),
    exports: opts.caExport ?? [],
    tokenKey: opts.tokenKey,
    auditKey: opts.auditKey,
    passphrase,
    actor: cliActor(),
    clock: () => Date.now(),
  });
  const out = (line: string): boolean => process.stderr.write(`${line}\n`);
  const keys = r.plan.keys.map((k) => k.ca);
  out(
    `joined${opts.name === undefined ? "" : ` instance ${opts.name}`}: wrote ${r.home} (sigil.json; ${keys.length === 0 ? "no CA key" : `CA keys ${keys.join(", ")}`}${r.tokenKey ? "; the token key" : ""})`,
  );
  if (r.passwordLeftOut)
    out(
      "the database password is not written into sigil.json: give it to this instance with PGPASSWORD or ~/.pgpass",
    );
  if (r.plan.missing.length > 0)
    out(
      `not here: the keys of CA ${r.plan.missing.join(", ")}: this instance will start sealed and cannot sign for ${r.plan.missing.length === 1 ? "it" : "them"} until they are in ${home}/keys`,
    );
  if (r.plan.hsm.length > 0)
    out(
      `CA ${r.plan.hsm.join(", ")}: key in a PKCS#11 token; configure pkcs11 in sigil.json on this machine`,
    );
  if (!r.tokenKey)
    out(
      "no --token-key: admin tokens made on other instances will not work here (this home makes its own token key)",
    );
  if (r.auditPin === "database")
    out(
      `sigil: warning: the audit key ${r.auditKeyId} was pinned as the database has it (trust on first use): compare ${home}/audit/audit-key.pem with the security admin's copy`,
    );
  if (r.auditPin === "none")
    out("the database has no audit key yet: the first unsealed start makes and pins it");
  if (r.plan.keys.length > 0)
    out(
      r.passphraseChecked
        ? "the passphrase opens each installed key"
        : "the passphrase was not checked (no SIGIL_PASSPHRASE or --passphrase-file)",
    );
  if (!opts.serve) {
    out(
      opts.listen === undefined || opts.publicUrl === undefined
        ? `next: set serve.listen and publicUrl in ${home}/sigil.json as this machine needs, then 'sigil serve --home ${home}'`
        : `next: 'sigil serve --home ${home}'`,
    );
    return;
  }
  // The service, in this process: as `sigil serve --home HOME` (its workers are forked
  // with those arguments, not with this join's).
  out(`starting the service: sigil serve --home ${home}`);
  const cluster = (await import("node:cluster")).default;
  cluster.setupPrimary({ args: ["serve", "--home", home] });
  const { runServe } = await import("./serve.js");
  await runServe({
    home,
    ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}),
    ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
  });
}
