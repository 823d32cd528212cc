/**
 * `sigil instance join`: a new home for instance N+1 on a new machine, from the database URL
 * and what the security admin carries (issue 18). The database is checked (it holds Sigil
 * data; each CA export matches its CA) before anything is written; the home is made in a
 * temp folder next to the target and renamed into place at the end, so a refused or failed
 * join leaves nothing behind. It holds sigil.json (the store without the URL's password, the
 * instance name, the audit pin), the CA keys given and no other, the token key when given,
 * and audit/audit-key.pem; folders get the modes of a home `sigil init` makes.
 */
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import { planJoin, recordJoin, type JoinPlan } from "../authority/join.js";
import { homePaths } from "./paths.js";

/** Inputs of {@link joinInstance}. */
export interface JoinOptions {
  /** The new home folder: absent, or an empty folder. */
  home: string;
  /** The database URL, password included when it has one (used to connect, never written). */
  databaseUrl: string;
  /** sigil.json serve.instanceName. */
  name?: string;
  /** sigil.json serve.listen (HOST:PORT), admin.listen (HOST:PORT or off) and publicUrl. */
  listen?: string;
  adminListen?: string;
  publicUrl?: string;
  /** Folders written by `sigil ca export NAME --out DIR`. */
  exports: string[];
  /** A home's keys/token-hmac.key, copied so admin tokens made elsewhere verify here. */
  tokenKey?: string;
  /** The security admin's copy of the pinned audit public key (PEM). */
  auditKey?: string;
  /** The passphrase, when one is at hand: each installed key is proved to open with it. */
  passphrase?: () => Promise<Buffer | undefined>;
  actor: string;
  clock: () => number;
}

/** What {@link joinInstance} did. */
export interface JoinResult {
  home: string;
  plan: JoinPlan;
  /** The URL had a password: it was left out of sigil.json. */
  passwordLeftOut: boolean;
  tokenKey: boolean;
  auditPin: "given" | "database" | "none";
  auditKeyId: string | null;
  passphraseChecked: boolean;
}

/** The URL without its password, and whether it had one. Not a postgres:// URL: USAGE. */
export function withoutPassword(url: string): { url: string; hadPassword: boolean } {
  let u: URL;
  try {
    if (!/^postgres(ql)?:\/\//.test(url)) throw new Error();
    u = new URL(url);
  } catch {
    // Never echo the URL: it may hold a password.
    throw new SigilError(ErrorCodes.USAGE, "--database-url must be a postgres://... URL");
  }
  if (u.password === "") return { url, hadPassword: false };
  u.password = "";
  return { url: u.toString(), hadPassword: true };
}

/** Refuses a home that exists and is not an empty folder; says whether it exists (empty). */
async function checkTarget(home: string): Promise<boolean> {
  let st;
  try {
    st = await stat(home);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
  if (!st.isDirectory()) throw new SigilError(ErrorCodes.FILE_EXISTS, `${home} exists and is not a folder`);
  if ((await readdir(home)).length > 0)
    throw new SigilError(
      ErrorCodes.FILE_EXISTS,
      `${home} is not empty: an instance joins into a new (or empty) folder; nothing written`,
    );
  return true;
}

/** Joins: checks, writes the home (see the file comment), records `instance.join`. */
export async function joinInstance(opts: JoinOptions): Promise<JoinResult> {
  const home = resolve(opts.home);
  const existedEmpty = await checkTarget(home);
  const { url: configUrl, hadPassword } = withoutPassword(opts.databaseUrl);
  const [{ validateConfig }, { openStore }, { readTokenKey, tokenKeyPath }, { writeSecretFile }, checkpoint] =
    await Promise.all([
      import("../config/schema.js"),
      import("../store/open.js"),
      import("../keys/token-key.js"),
      import("../keys/file-keystore.js"),
      import("../audit/checkpoint.js"),
    ]);
  const config: Record<string, unknown> = { store: { kind: "postgres", url: configUrl } };
  const serve: Record<string, unknown> = {};
  if (opts.name !== undefined) serve.instanceName = opts.name;
  if (opts.listen !== undefined) serve.listen = opts.listen;
  if (Object.keys(serve).length > 0) config.serve = serve;
  if (opts.adminListen !== undefined)
    config.admin = { listen: opts.adminListen === "off" ? null : opts.adminListen };
  if (opts.publicUrl !== undefined) config.publicUrl = opts.publicUrl;
  try {
    validateConfig(config, "--name, --listen, --admin-listen or --public-url");
  } catch (e) {
    // A bad --name is a usage error (exit 2), said as the schema says it.
    if (isSigilError(e)) throw new SigilError(ErrorCodes.USAGE, e.message);
    throw e;
  }

  // What the admin carries, read before the database is asked anything.
  let token: Buffer | undefined;
  if (opts.tokenKey !== undefined) {
    token = await readTokenKey(resolve(opts.tokenKey));
    if (!token) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `no token key ${resolve(opts.tokenKey)}`);
  }
  let givenAudit: Buffer | undefined;
  if (opts.auditKey !== undefined) {
    const p = resolve(opts.auditKey);
    let text: string;
    try {
      text = await readFile(p, "utf8");
    } catch {
      throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `cannot read the audit key ${p}`);
    }
    try {
      givenAudit = checkpoint.parsePinnedKey(text);
    } catch (e) {
      throw new SigilError(ErrorCodes.BAD_INPUT, `${p}: ${(e as Error).message}`);
    }
  }

  // The database, read only: Sigil data, the CAs the exports must match, the audit key.
  const store = { kind: "postgres" as const, url: opts.databaseUrl };
  const ro = await openStore(home, { readonly: true, store, env: {} });
  let plan: JoinPlan;
  try {
    plan = await planJoin(ro, opts.exports);
  } finally {
    await ro.close();
  }
  if (givenAudit && plan.auditSpki && !givenAudit.equals(plan.auditSpki))
    throw new SigilError(
      ErrorCodes.AUDIT_BROKEN,
      `the database's audit key (${checkpoint.auditKeyId(plan.auditSpki)}) is not the one in ${resolve(opts.auditKey!)}; nothing written`,
    );
  const pin = givenAudit ?? plan.auditSpki;
  if (pin) config.audit = { publicKey: pin.toString("base64") };
  validateConfig(config);

  let passphraseChecked = false;
  const pass = plan.keys.length > 0 ? await opts.passphrase?.() : undefined;
  if (pass) {
    const { openSealedKey } = await import("../keys/file-keystore.js");
    for (const k of plan.keys) {
      const signer = await openSealedKey(k.bytes.toString("utf8"), pass, k.ca);
      if (!signer.spki.equals(k.caSpki))
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          `the key exported in ${k.from} is not CA ${k.ca}'s key; nothing written`,
        );
    }
    passphraseChecked = true;
  }

  const parent = dirname(home);
  await mkdir(parent, { recursive: true });
  const stage = await mkdtemp(join(parent, `.${basename(home)}.join-`));
  let placed = false;
  try {
    const paths = homePaths(stage);
    await chmod(stage, 0o700);
    await mkdir(paths.keys, { mode: 0o700 });
    await mkdir(paths.crl, { mode: 0o755 });
    await mkdir(paths.audit, { mode: 0o755 });
    await writeFile(paths.config, JSON.stringify(config, null, 2) + "\n", { flag: "wx", mode: 0o644 });
    for (const k of plan.keys) await writeSecretFile(join(paths.keys, k.fileName), k.bytes);
    if (token) await writeSecretFile(tokenKeyPath(paths.keys), token.toString("base64") + "\n");
    if (pin) await writeFile(paths.auditKeyPem, checkpoint.spkiPem(pin), { flag: "wx", mode: 0o644 });
    // Modes as a home made by `sigil init` has them, whatever the umask did.
    await chmod(paths.crl, 0o755);
    await chmod(paths.audit, 0o755);
    if (pin) await chmod(paths.auditKeyPem, 0o644);
    await chmod(paths.config, 0o644);

    const auditPin = givenAudit ? "given" : pin ? "database" : "none";
    const rw = await openStore(home, { store, env: {} });
    try {
      await recordJoin(
        rw,
        { actor: opts.actor, clock: opts.clock },
        {
          name: opts.name ?? null,
          home,
          keys: plan.keys.map((k) => ({ ca: k.ca, keySha256: k.keySha256 })),
          passphraseChecked,
          missing: plan.missing,
          tokenKey: token !== undefined,
          auditPin,
          auditKeyId: pin ? checkpoint.auditKeyId(pin) : null,
        },
      );
    } finally {
      await rw.close();
    }
    if (existedEmpty) await rmdir(home);
    await rename(stage, home);
    placed = true;
    return {
      home,
      plan,
      passwordLeftOut: hadPassword,
      tokenKey: token !== undefined,
      auditPin,
      auditKeyId: pin ? checkpoint.auditKeyId(pin) : null,
      passphraseChecked,
    };
  } catch (e) {
    if (isSigilError(e)) throw e;
    throw new SigilError(ErrorCodes.INTERNAL, `join failed: ${e instanceof Error ? e.message : String(e)}`, {
      kind: "internal",
      cause: e,
    });
  } finally {
    if (!placed) await rm(stage, { recursive: true, force: true }).catch(() => undefined);
  }
}
