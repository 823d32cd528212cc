/**
 * Loads `SIGIL_HOME/sigil.json` (absent file: all defaults) and writes the first one.
 */
import { readFile, writeFile, mkdir, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { SigilError, ErrorCodes } from "../errors.js";
import { validateConfig, type Config } from "./schema.js";

/** Path of the config file inside a home folder. */
export const configPath = (home: string): string => join(home, "sigil.json");

/** Reads and validates the config of `home`. */
export async function loadConfig(home: string): Promise<Config> {
  const path = configPath(home);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return validateConfig({}, path);
    throw new SigilError(ErrorCodes.CONFIG, `cannot read ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SigilError(ErrorCodes.CONFIG, `${path}: not valid JSON: ${(e as Error).message}`);
  }
  return validateConfig(raw, path);
}

/** Writes a config file unless one exists; returns true when written. */
export async function writeInitialConfig(home: string, raw: Record<string, unknown>): Promise<boolean> {
  validateConfig(raw);
  await mkdir(home, { recursive: true, mode: 0o700 });
  try {
    await writeFile(configPath(home), JSON.stringify(raw, null, 2) + "\n", { flag: "wx", mode: 0o644 });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  }
}

/**
 * Pins the audit key in sigil.json (`audit.publicKey`, base64 DER), keeping everything
 * else in the file as it is. A different key pinned already is refused: replacing the pin
 * is the security admin's edit, never the program's. The file is replaced atomically.
 */
export async function pinAuditKey(home: string, publicKey: string): Promise<void> {
  const path = configPath(home);
  let raw: Record<string, unknown> = {};
  let mode = 0o644;
  try {
    const text = await readFile(path, "utf8");
    raw = JSON.parse(text) as Record<string, unknown>;
    mode = (await stat(path)).mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT")
      throw new SigilError(ErrorCodes.CONFIG, `cannot pin the audit key in ${path}: ${(e as Error).message}`);
  }
  const audit = (raw.audit ?? {}) as Record<string, unknown>;
  if (audit.publicKey === publicKey) return;
  if (audit.publicKey !== undefined)
    throw new SigilError(
      ErrorCodes.CONFIG,
      `${path} pins another audit key (audit.publicKey); remove that line to pin the new one`,
    );
  const next = { ...raw, audit: { ...audit, publicKey } };
  validateConfig(next, path);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(next, null, 2) + "\n", { flag: "wx", mode });
  await rename(tmp, path);
}
