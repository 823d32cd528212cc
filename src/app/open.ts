/**
 * The composition root: home folder -> config -> store -> keys -> authority, for a one-shot
 * command (cli/context.ts) and for the daemon's primary (daemon/primary.ts). Everything is
 * loaded lazily: a command pays only for what it opens.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import type { RequestQueue } from "../authority/queue.js";
import type { Store } from "../store/types.js";
import type { Pkcs11KeyStore } from "../keys/pkcs11-keystore.js";
import { homePaths, type HomePaths } from "./paths.js";

/** An opened home. */
export interface Context {
  home: string;
  /** The layout of `home` (app/paths.ts). */
  paths: HomePaths;
  config: Config;
  store: Store;
  /** The store's backend: PostgreSQL may be shared by instances on several hosts. */
  storeKind: "sqlite" | "postgres";
  authority: Authority;
  /**
   * The admin-token key (`keys/token-hmac.key`, keys/token-key.ts), made on first need:
   * tokens verify only under it, and it is never in the database.
   */
  tokenKey(): Promise<Buffer>;
  /**
   * Makes the audit signing key when there is none and pins it (sigil.json
   * `audit.publicKey`, `audit/audit-key.pem`): see app/audit-key.ts.
   */
  ensureAuditKey(): Promise<{ created: boolean; pinned: boolean; keyId: string; pem: string; file: string }>;
  /** Where warnings of the checkpoint sinks go (default: stderr; the service: its log). */
  warn: (msg: string) => void;
  close(): Promise<void>;
}

/** Inputs of {@link openHome}. */
export interface OpenHomeOptions {
  /** The home folder (absolute: app/paths.ts resolveHome). */
  home: string;
  /** The actor recorded in the audit log for acts of this context. */
  actor: string;
  /** Makes the home folder when missing (init, create-root); otherwise a missing home is an error. */
  create?: boolean;
  passphraseFile?: string;
  /** Supplies the home passphrase instead of --passphrase-file/env/prompt (e.g. from key shares). */
  passphrase?: () => Promise<Buffer>;
  /**
   * Where SIGIL_PASSPHRASE is read from (default `process.env`): `sigil serve` takes it out
   * of its environment at start and hands it in here.
   */
  passphraseEnv?: NodeJS.ProcessEnv;
  /**
   * The service (`sigil serve`): it signs each new certificate's and revocation's OCSP answer
   * in the same transaction. A one-shot command (the default) stores them unsigned and due
   * instead, and opens no OCSP responder key (a second PBKDF2 unlock): the service signs them
   * when first asked and in its refresh job.
   */
  service?: boolean;
  /**
   * The CA whose key this command is about to open (`sign`, `crl`), or the offline key file
   * it was given: its derivation is started ahead (app/key-ahead.ts).
   */
  keyAhead?: { ca: string; keyFile?: string };
}

/** The error for a home that holds no Sigil data. */
function noData(home: string): SigilError {
  return new SigilError(
    ErrorCodes.CONFIG,
    `no Sigil data in ${home}: run 'sigil init' (or set SIGIL_HOME / --home)`,
  );
}

/** Opens the home `opts.home`: config, store, keys and authority. */
export async function openHome(opts: OpenHomeOptions): Promise<Context> {
  const paths = homePaths(opts.home);
  const { home } = paths;
  // A PostgreSQL home has sigil.json but no sigil.db (checked below, once the config is read).
  if (!opts.create && !existsSync(paths.db) && !existsSync(paths.config) && !process.env.SIGIL_DATABASE_URL)
    throw noData(home);
  await mkdir(home, { recursive: true, mode: 0o700 });
  // The CA key's PBKDF2 on the thread pool while the modules below load (app/key-ahead.ts);
  // `sigil sign` and `crl` start it earlier still, from their command line (bin/sigil.js);
  // a second start of the same key only reads its file again (keys/pkcs8.ts deriveAhead).
  if (opts.keyAhead && !opts.passphrase)
    void import("./key-ahead.js").then(({ deriveKeyAhead }) =>
      deriveKeyAhead(paths, opts.keyAhead!, {
        ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}),
        env: opts.passphraseEnv ?? process.env,
      }),
    );
  const [
    { loadConfig },
    { openStore, resolveStore },
    { FileKeyStore, writePublicFile },
    { Authority },
    { resolvePassphrase, promptHidden },
    { KeyRouter },
    { StoreKeyStore },
  ] = await Promise.all([
    import("../config/load.js"),
    import("../store/open.js"),
    import("../keys/file-keystore.js"),
    import("../authority/authority.js"),
    import("../keys/passphrase.js"),
    import("../keys/key-router.js"),
    import("../keys/store-keystore.js"),
  ]);
  const config = await loadConfig(home);
  if (!opts.create && !existsSync(paths.db) && resolveStore(home, config.store).kind === "sqlite")
    throw noData(home);
  const store = await openStore(home, { store: config.store });
  let auditPin: Buffer | undefined;
  if (config.audit.publicKey !== undefined) {
    const { parsePinnedKey } = await import("../audit/checkpoint.js");
    try {
      auditPin = parsePinnedKey(config.audit.publicKey);
    } catch (e) {
      throw new SigilError(ErrorCodes.CONFIG, `${paths.config}: audit.publicKey: ${(e as Error).message}`);
    }
  }
  const { checkpointSinks } = await import("./checkpoint-sinks.js");
  const publish = checkpointSinks(paths.checkpointFile, config.audit, (msg) => ctx.warn(msg));
  const keys = new KeyRouter({
    file: new FileKeyStore(paths.keys),
    pkcs11: config.pkcs11 ? await pkcs11Factory(config.pkcs11) : undefined,
    // The keys the service makes for itself, encrypted in the database every instance shares.
    store: new StoreKeyStore({
      get: async (name) => (await store.getServiceKey(name))?.pem,
      put: (name, pem) =>
        store.transaction((tx) => tx.insertServiceKey({ name, pem, createdAt: Date.now() })),
      remove: (name) => store.transaction((tx) => tx.deleteServiceKey(name)),
    }),
  });
  const authority = new Authority({
    store,
    keys,
    config,
    clock: () => Date.now(),
    random: (n) => randomBytes(n),
    actor: opts.actor,
    presignOcsp: opts.service === true,
    backgroundAuditScan: opts.service === true,
    auditPin: () => auditPin,
    publishCheckpoint: (cp) => publish(cp),
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
        await mkdir(paths.crl, { recursive: true, mode: 0o755 });
        await writePublicFile(paths.crlFile(ca.name), der, { overwrite: true });
      },
    },
  });
  const ctx: Context = {
    home,
    paths,
    config,
    store,
    storeKind: resolveStore(home, config.store).kind,
    authority,
    tokenKey: async () => (await ensureHomeTokenKey(paths)).key,
    ensureAuditKey: async () => {
      const { ensureAuditKey } = await import("./audit-key.js");
      const r = await ensureAuditKey(paths, authority, auditPin);
      auditPin = r.spki;
      return r;
    },
    warn: (msg) => process.stderr.write(`sigil: warning: ${msg}\n`),
    close: async () => {
      try {
        await keys.close();
      } finally {
        await store.close();
      }
    },
  };
  return ctx;
}

/** The admin-token key of a home, made now if there is none (`created`). */
export async function ensureHomeTokenKey(
  paths: HomePaths,
): Promise<{ key: Buffer; created: boolean; file: string }> {
  const { ensureTokenKey, tokenKeyPath } = await import("../keys/token-key.js");
  const file = tokenKeyPath(paths.keys);
  return { ...(await ensureTokenKey(file, (n) => randomBytes(n))), file };
}

/**
 * The store of a home alone (no keys, no authority), for `sigil backup`: a home with
 * neither a SQLite file nor a PostgreSQL store is an error (`nothing to back up`).
 */
export async function openHomeStore(home: string): Promise<Store> {
  const paths = homePaths(home);
  const [{ openStore, resolveStore }, { loadConfig }] = await Promise.all([
    import("../store/open.js"),
    import("../config/load.js"),
  ]);
  // A PostgreSQL home has its data in the database, not in sigil.db.
  if (
    !existsSync(paths.db) &&
    (!existsSync(paths.home) ||
      resolveStore(paths.home, (await loadConfig(paths.home)).store).kind === "sqlite")
  )
    throw new SigilError(ErrorCodes.CONFIG, `no Sigil data in ${paths.home}: nothing to back up`);
  return openStore(paths.home);
}

/** The request queue over an opened context, acting as `actor`. */
export async function openQueue(
  ctx: Context,
  actor: string,
  extra: { autoApprove?: () => boolean } = {},
): Promise<RequestQueue> {
  const { RequestQueue } = await import("../authority/queue.js");
  return new RequestQueue({
    authority: ctx.authority,
    store: ctx.store,
    config: ctx.config,
    clock: () => Date.now(),
    actor,
    ...extra,
  });
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

/**
 * The config and a read-only store of a home (nothing created or migrated; transactions
 * refused): what a worker of `sigil serve` serves from. No keys.
 */
export async function openHomeReadOnly(
  home: string,
  onStore?: (store: Store) => void,
): Promise<{ paths: HomePaths; config: Config; store: Store }> {
  const paths = homePaths(home);
  const [{ loadConfig }, { openStore }] = await Promise.all([
    import("../config/load.js"),
    import("../store/open.js"),
  ]);
  const config = await loadConfig(paths.home);
  const store = await openStore(paths.home, { readonly: true, store: config.store });
  onStore?.(store);
  return { paths, config, store };
}
