/** Opens the store of a Sigil home folder. The composition root calls this; nothing else should. */
import fs from "node:fs";
import path from "node:path";
import { openSqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./types.js";

/** File name of the SQLite database inside the Sigil home folder. */
export const SQLITE_FILE_NAME = "sigil.db";

/**
 * Opens `${home}/sigil.db`, creating the folder (mode 0700) and the file (mode 0600) when
 * missing, and brings the schema up to date. With `readonly`, nothing is created or migrated.
 */
export async function openStore(home: string, opts: { readonly?: boolean } = {}): Promise<Store> {
  if (!opts.readonly) fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  return openSqliteStore(path.join(home, SQLITE_FILE_NAME), opts);
}
