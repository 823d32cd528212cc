/**
 * Composition for CLI commands: home folder -> config -> store -> keys -> authority.
 * Everything is opened lazily and only by the commands that need it.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { userInfo } from "node:os";
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import type { RequestQueue } from "../authority/queue.js";
import type { Store } from "../store/types.js";
import type { Pkcs11KeyStore } from "../keys/pkcs11-keystore.js";

/** Options every command accepts. */
export interface GlobalOptions {
  home?: string;
  passphraseFile?: string;
}

/** An opened CLI context. */
export interface Context {
  home: string;
  config: Config;
  store: Store;
  authority: Authority;
  /**
   * The admin-token key (`keys/token-hmac.key`, keys/token-key.ts), made on first need:
   * tokens verify only under it, and it is never in the database.
   */
  tokenKey(): Promise<Buffer>;
  close(): Promise<void>;
}

/** The request queue over an opened context (acting as `actor`, default the CLI user). */
export async function queueOf(ctx: Context, actor = cliActor()): Promise<RequestQueue> {
  const { RequestQueue } = await import("../authority/queue.js");
  return new RequestQueue({
    authority: ctx.authority,
    store: ctx.store,
    config: ctx.config,
    clock: () => Date.now(),
    actor,
  });
}

/** The data folder: --home, else SIGIL_HOME, else ./sigil-data. */
export function resolveHome(opts: GlobalOptions): string {
  return resolve(opts.home ?? process.env.SIGIL_HOME ?? "sigil-data");
}

/** The actor recorded in the audit log for CLI acts. */
export function cliActor(): string {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? "unknown";
  }
  return `cli:${name}`;
}

/**
 * Opens the context. `create` makes the home folder when missing (init, create-root);
 * otherwise a missing home is a clear error instead of an empty new CA.
 */
export async function openContext(
  opts: GlobalOptions & {
    create?: boolean;
    /** Supplies the home passphrase instead of --passphrase-file/env/prompt (e.g. from key shares). */
    passphrase?: () => Promise<Buffer>;
    /**
     * Where SIGIL_PASSPHRASE is read from (default `process.env`): `sigil serve` takes it out
     * of its environment at start and hands it in here.
     */
    passphraseEnv?: NodeJS.ProcessEnv;
  },
): Promise<Context> {
  const home = resolveHome(opts);
  const noData = () =>
    new SigilError(
      ErrorCodes.CONFIG,
      `no Sigil data in ${home}: run 'sigil init' (or set SIGIL_HOME / --home)`,
    );
  // A PostgreSQL home has sigil.json but no sigil.db (checked below, once the config is read).
  if (
    !opts.create &&
    !existsSync(join(home, "sigil.db")) &&
    !existsSync(join(home, "sigil.json")) &&
    !process.env.SIGIL_DATABASE_URL
  )
    throw noData();
  await mkdir(home, { recursive: true, mode: 0o700 });
  const [
    { loadConfig },
    { openStore, resolveStore },
    { FileKeyStore, writePublicFile },
    { Authority },
    { resolvePassphrase, promptHidden },
    { KeyRouter },
  ] = await Promise.all([
    import("../config/load.js"),
    import("../store/open.js"),
    import("../keys/file-keystore.js"),
    import("../authority/authority.js"),
    import("../keys/passphrase.js"),
    import("../keys/key-router.js"),
  ]);
  const config = await loadConfig(home);
  if (
    !opts.create &&
    !existsSync(join(home, "sigil.db")) &&
    resolveStore(home, config.store).kind === "sqlite"
  )
    throw noData();
  const store = await openStore(home, { store: config.store });
  const keys = new KeyRouter({
    file: new FileKeyStore(join(home, "keys")),
    pkcs11: config.pkcs11 ? await pkcs11Factory(config.pkcs11) : undefined,
  });
  const authority = new Authority({
    store,
    keys,
    config,
    clock: () => Date.now(),
    random: (n) => randomBytes(n),
    actor: cliActor(),
    passphrase: async (purpose) =>
      opts.passphrase?.() ??
      resolvePassphrase({
        passphraseFile: opts.passphraseFile,
        env: opts.passphraseEnv ?? process.env,
        isTty: Boolean(process.stdin.isTTY),
        prompt: promptHidden,
        purpose: purpose === "new-key" ? "new CA key" : "CA key",
        confirm: purpose === "new-key",
      }),
    publisher: {
      async publishCrl(ca, der) {
        await mkdir(join(home, "crl"), { recursive: true, mode: 0o755 });
        await writePublicFile(join(home, "crl", `${ca.name}.crl`), der, { overwrite: true });
      },
    },
  });
  return {
    home,
    config,
    store,
    authority,
    tokenKey: async () => {
      const { ensureTokenKey, tokenKeyPath } = await import("../keys/token-key.js");
      return (await ensureTokenKey(tokenKeyPath(join(home, "keys")), (n) => randomBytes(n))).key;
    },
    close: async () => {
      try {
        await keys.close();
      } finally {
        await store.close();
      }
    },
  };
}

/**
 * The PKCS#11 key store of `cfg` (made when a `pkcs11:` key is first used). Its PIN is read
 * then: from `pinFile` (first line; refused when group/world-readable), else `$pinEnv`;
 * neither: SigilError NO_PASSPHRASE. The PIN is never shown.
 */
async function pkcs11Factory(cfg: NonNullable<Config["pkcs11"]>): Promise<() => Pkcs11KeyStore> {
  const { Pkcs11KeyStore } = await import("../keys/pkcs11-keystore.js");
  return () =>
    new Pkcs11KeyStore({
      module: cfg.module,
      token: cfg.token,
      pin: async () => {
        const what = `PIN of PKCS#11 token ${cfg.token}`;
        if (cfg.pinFile !== undefined) {
          const { readSecret } = await import("../config/secret.js");
          const pin = await readSecret({ passwordFile: cfg.pinFile }, what, process.env, {
            privateFile: true,
          });
          return Buffer.from(pin!, "utf8");
        }
        const v = process.env[cfg.pinEnv];
        if (!v)
          throw new SigilError(
            ErrorCodes.NO_PASSPHRASE,
            `no PIN for PKCS#11 token ${cfg.token}: set ${cfg.pinEnv} or pkcs11.pinFile in sigil.json`,
          );
        return Buffer.from(v, "utf8");
      },
    });
}
