/**
 * The admin-token key: 32 random bytes (base64, one line) in `keys/token-hmac.key` of the
 * Sigil home, mode 0600, beside the CA key files and never in the database. Token rows
 * hold an HMAC-SHA256 under it (authority/tokens.ts), so a row written by someone who can
 * write the database but not read this file (a database insider) never authenticates.
 *
 * It is made on first need (`sigil admin token create`, `sigil serve`) and travels with
 * the home like the CA key files: `sigil backup` holds `keys/`, and instances sharing one
 * database need a copy of the same file (a new key makes every existing token fail).
 */
import { constants } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import { writeSecretFile } from "./file-keystore.js";

/** The token key's file name in the key folder. */
export const TOKEN_KEY_FILE = "token-hmac.key";
/** Bytes of key. */
const KEY_BYTES = 32;

/** The token key file of a key folder (`SIGIL_HOME/keys`). */
export function tokenKeyPath(keyDir: string): string {
  return join(keyDir, TOKEN_KEY_FILE);
}

/**
 * Reads the token key at `path`; undefined when there is none. A link, a file others may
 * read, or a file that is not one line of 32 base64 bytes: SigilError CONFIG.
 */
export async function readTokenKey(path: string): Promise<Buffer | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new SigilError(ErrorCodes.CONFIG, `the token key ${path} is a symbolic link`);
    throw new SigilError(
      ErrorCodes.CONFIG,
      `cannot read the token key ${path}: ${code ?? (e as Error).message}`,
    );
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SigilError(ErrorCodes.CONFIG, `the token key ${path} is not a file`);
    const mode = st.mode & 0o777;
    if (mode & 0o077)
      throw new SigilError(
        ErrorCodes.CONFIG,
        `the token key ${path} is readable by group or others (mode ${mode.toString(8).padStart(4, "0")}); run chmod 600 on it`,
      );
    const text = (await fh.readFile({ encoding: "utf8" })).trim();
    const key = Buffer.from(text, "base64");
    if (key.length !== KEY_BYTES || key.toString("base64") !== text)
      throw new SigilError(
        ErrorCodes.CONFIG,
        `the token key ${path} is damaged (not ${KEY_BYTES} bytes in base64): restore it from a backup`,
      );
    return key;
  } finally {
    await fh.close();
  }
}

/**
 * The token key at `path`, made (from `random`, written atomically with mode 0600) when
 * there is none; `created` says which. Two processes making it at once end with one key.
 */
export async function ensureTokenKey(
  path: string,
  random: (n: number) => Buffer,
): Promise<{ key: Buffer; created: boolean }> {
  const existing = await readTokenKey(path);
  if (existing) return { key: existing, created: false };
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = random(KEY_BYTES);
  try {
    await writeSecretFile(path, key.toString("base64") + "\n");
  } catch (e) {
    // Another process made it first: use that one.
    if (isSigilError(e, ErrorCodes.FILE_EXISTS)) {
      const theirs = await readTokenKey(path);
      if (theirs) return { key: theirs, created: false };
    }
    throw e;
  }
  return { key, created: true };
}
