/**
 * Secrets named by the config (mail passwords): read from a file (its first line) or an
 * environment variable, never from sigil.json itself. Errors name the source, never the value.
 */
import { readFile, stat } from "node:fs/promises";
import { SigilError, ErrorCodes } from "../errors.js";

/**
 * Reads the secret `what` from `passwordFile` or `passwordEnv`; undefined when neither is set.
 * With `privateFile`, a `passwordFile` readable by group or others is refused (CONFIG error).
 */
export async function readSecret(
  src: { passwordFile?: string | undefined; passwordEnv?: string | undefined },
  what: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: { privateFile?: boolean } = {},
): Promise<string | undefined> {
  if (src.passwordFile !== undefined) {
    let text: string;
    try {
      if (opts.privateFile) {
        const mode = (await stat(src.passwordFile)).mode & 0o777;
        if (mode & 0o077)
          throw new SigilError(
            ErrorCodes.CONFIG,
            `${what}: ${src.passwordFile} is readable by group or others (mode ${mode.toString(8).padStart(4, "0")}); run chmod 600 on it`,
          );
      }
      text = await readFile(src.passwordFile, "utf8");
    } catch (e) {
      if (e instanceof SigilError) throw e;
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
