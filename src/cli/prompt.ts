/**
 * Asks for a subject field by field, as `openssl req` does, with defaults in brackets.
 */
import { createInterface } from "node:readline/promises";
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { DistinguishedName } from "../x509/types.js";

const FIELDS: Array<{ key: keyof Config["subjectDefaults"] | "CN"; label: string }> = [
  { key: "C", label: "Country Name (2 letter code)" },
  { key: "ST", label: "State or Province Name (full name)" },
  { key: "L", label: "Locality Name (eg, city)" },
  { key: "O", label: "Organization Name (eg, company)" },
  { key: "OU", label: "Organizational Unit Name (eg, section)" },
  { key: "CN", label: "Common Name (e.g. server FQDN or YOUR name)" },
  { key: "emailAddress", label: "Email Address" },
];

/**
 * Prompts on the terminal for each field; Enter takes the default, "." leaves it empty
 * (as in OpenSSL). Returns the subject in slash form for the DN parser. Lines typed ahead
 * (or pasted) answer the next fields; Ctrl-D ends it with a one-line error.
 */
export async function promptSubject(config: Config, defaultCn: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // The line iterator keeps lines that arrive before their question (rl.question drops them).
  const lines = rl[Symbol.asyncIterator]();
  try {
    process.stderr.write(
      "You are about to be asked to enter the subject of the certificate.\nEnter '.' to leave a field empty.\n",
    );
    const parts: string[] = [];
    for (const f of FIELDS) {
      const def = f.key === "CN" ? defaultCn : (config.subjectDefaults[f.key] ?? "");
      rl.setPrompt(`${f.label} [${def}]:`);
      rl.prompt();
      const next = await lines.next();
      if (next.done)
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          "subject prompt ended before the last field: nothing made (or give --subject)",
        );
      const answer = String(next.value).trim();
      const value = answer === "" ? def : answer === "." ? "" : answer;
      if (value) parts.push(`/${f.key}=${value.replace(/\//g, "\\/")}`);
    }
    return parts.join("");
  } finally {
    rl.close();
  }
}

/** The subject used when no --subject is given and there is no terminal to ask on. */
export function defaultSubject(config: Config, cn: string): string {
  const d = config.subjectDefaults;
  const parts: string[] = [];
  for (const k of ["C", "ST", "L", "O", "OU"] as const)
    if (d[k]) parts.push(`/${k}=${d[k]!.replace(/\//g, "\\/")}`);
  parts.push(`/CN=${cn.replace(/\//g, "\\/")}`);
  return parts.join("");
}

/** Resolves a subject: --subject, else a prompt on a TTY, else config defaults + CN. */
export async function resolveSubject(
  config: Config,
  given: string | undefined,
  defaultCn: string,
): Promise<DistinguishedName> {
  const { parseDn } = await import("../x509/dn.js");
  if (given !== undefined) return parseDn(given);
  if (process.stdin.isTTY) return parseDn(await promptSubject(config, defaultCn));
  const s = defaultSubject(config, defaultCn);
  process.stderr.write(`sigil: no --subject and no terminal to ask on; using ${s}\n`);
  return parseDn(s);
}
