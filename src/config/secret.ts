/**
 * Secrets named by the config (mail passwords): read from a file (its first line) or an
 * environment variable, never from sigil.json itself. Errors name the source, never the value.
 */
import { readFile } from "node:fs/promises";
import { SigilError, ErrorCodes } from "../errors.js";

/** Reads the secret `what` from `passwordFile` or `passwordEnv`; undefined when neither is set. */
export async function readSecret(
  src: { passwordFile?: string | undefined; passwordEnv?: string | undefined },
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (src.passwordFile !== undefined) {
    let text: string;
    try {
      text = await readFile(src.passwordFile, "utf8");
    } catch (e) {
      throw new SigilError(
        ErrorCodes.CONFIG,
        `${what}: cannot read passwordFile ${src.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const line = text.split(/\r?\n/)[0] ?? "";
    if (!line) throw new SigilError(ErrorCodes.CONFIG, `${what}: passwordFile ${src.passwordFile} is empty`);
    return line;
  }
  if (src.passwordEnv !== undefined) {
    const v = env[src.passwordEnv];
    if (!v)
      throw new SigilError(ErrorCodes.CONFIG, `${what}: environment variable ${src.passwordEnv} is not set`);
    return v;
  }
  return undefined;
}
