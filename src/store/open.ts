/** Opens the store of a Sigil home folder. The composition root calls this; nothing else should. */
import fs from "node:fs";
import path from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import type { StoreConfig } from "../config/schema.js";
import type { Store } from "./types.js";

/** File name of the SQLite database inside the Sigil home folder. */
export const SQLITE_FILE_NAME = "sigil.db";

/** The environment variable naming a PostgreSQL database; it overrides sigil.json's `store`. */
export const DATABASE_URL_ENV = "SIGIL_DATABASE_URL";

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /** Nothing is created or migrated; transactions are refused (serve's workers). */
  readonly?: boolean;
  /** sigil.json's `store` section; when omitted, it is read from the home's sigil.json. */
  store?: StoreConfig;
  /** The environment (default process.env), for SIGIL_DATABASE_URL. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Which store a home uses: SIGIL_DATABASE_URL when set, else `store` (sigil.json), else
 * SQLite in the home folder.
 */
export function resolveStore(
  home: string,
  store: StoreConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { kind: "sqlite"; path: string } | { kind: "postgres"; url: string } {
  const url = env[DATABASE_URL_ENV];
  if (url !== undefined && url !== "") {
    if (!/^postgres(ql)?:\/\/\S+$/.test(url))
      throw new SigilError(ErrorCodes.CONFIG, `${DATABASE_URL_ENV} must be a postgres://... URL`);
    return { kind: "postgres", url };
  }
  if (store?.kind === "postgres") return { kind: "postgres", url: store.url };
  return { kind: "sqlite", path: path.join(home, SQLITE_FILE_NAME) };
}

/**
 * Opens the store of `home`. SQLite: `${home}/sigil.db`, creating the folder (mode 0700)
 * and the file (mode 0600) when missing. PostgreSQL: connects to the configured database
 * (its password never appears in errors). Either way the schema is brought up to date,
 * except with `readonly`, where nothing is created or migrated.
 */
export async function openStore(home: string, opts: OpenStoreOptions = {}): Promise<Store> {
  let store = opts.store;
  if (store === undefined && !(opts.env ?? process.env)[DATABASE_URL_ENV]) {
    const { loadConfig } = await import("../config/load.js");
    store = (await loadConfig(home)).store;
  }
  const target = resolveStore(home, store, opts.env);
  if (target.kind === "postgres") {
    // Loaded only when used: SQLite homes never load pg.
    const { openPgStore } = await import("./postgres/pg-store.js");
    return openPgStore(target.url, { readonly: opts.readonly === true });
  }
  if (!opts.readonly) fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  // Likewise, PostgreSQL homes never load the SQLite native module.
  const { openSqliteStore } = await import("./sqlite/sqlite-store.js");
  return openSqliteStore(target.path, { readonly: opts.readonly === true });
}

/**
 * Restores a PostgreSQL backup's database member (a pg_dump archive at `dump`) into the
 * database the home `home` points at (SIGIL_DATABASE_URL, else `store.url` of its
 * sigil.json), in one transaction. That database must hold no Sigil tables unless `force`
 * (then they are dropped first).
 */
export async function restoreDatabaseDump(home: string, dump: string, force: boolean): Promise<void> {
  const { loadConfig } = await import("../config/load.js");
  const target = resolveStore(home, (await loadConfig(home)).store);
  if (target.kind !== "postgres")
    throw new SigilError(
      ErrorCodes.CONFIG,
      "this backup is of a PostgreSQL store: set SIGIL_DATABASE_URL (or store.url in sigil.json) to the database to restore into",
    );
  const { restorePgDump } = await import("./postgres/pg-store.js");
  await restorePgDump(target.url, dump, force);
}
