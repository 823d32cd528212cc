/**
 * The CLI as a table of commands. Each command is declared once (name, arguments, flags,
 * help) in the file of its group (`commands/ca.ts`, `commands/certs.ts`, ...), with where it
 * may run:
 *
 * - `both`: a local implementation (the data folder) and a remote one (the admin API,
 *   `--server URL` or SIGIL_SERVER); the same flags and the same output either way. Those
 *   marked `viaService` (sign, revoke, crl) take the remote one without --server too while
 *   `sigil serve` holds the data folder's admin socket (cli/local-service.ts): the
 *   service's keys instead of opening them here.
 * - `local`: a local act (keys, files, the data folder itself). With `--server` or
 *   SIGIL_SERVER it refuses with one line and exit 2 before anything is opened or made
 *   (it never falls back to whatever data folder it finds here).
 * - `service`: always the running service: `--server`, SIGIL_SERVER, else the data
 *   folder's admin socket (seal, unseal, status, whoami).
 * - `client`: this machine only and no CA data (a key and request of one's own, removing a
 *   trust anchor): SIGIL_SERVER does not concern it, and it has no `--server` flag.
 *
 * Implementations are loaded when the command runs (Node start-up is the cost per process).
 */
import { Option, type Command } from "commander";
import { ErrorCodes, SigilError } from "../../errors.js";

/** An implementation: the command's arguments, then its options. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Impl = (...args: any[]) => Promise<unknown>;

/** Loads an implementation when the command runs. */
export type Lazy = () => Promise<Impl>;

/** Where a command may run (see the file's comment). */
export type Reach = "both" | "local" | "service" | "client";

/** One command of the table. */
export interface CommandDef {
  kind: "command";
  /** commander's name and arguments: `create-root <name>`. */
  name: string;
  /** Description, flags and argument parsers (the help text is built from them). */
  declare: (cmd: Command) => Command;
  reach: Reach;
  /** Adds --home and --passphrase-file (default true). */
  globals?: boolean;
  /** The local implementation (`both`, `local`, `client`). */
  local?: Lazy;
  /** The remote implementation (`both`, `service`). */
  remote?: Lazy;
  /**
   * `both` only: without --server, runs through the data folder's running service when
   * there is one (cli/local-service.ts); the words for the stderr line saying so (`signing`).
   */
  viaService?: string;
}

/** A group of commands (`sigil ca ...`). */
export interface GroupDef {
  kind: "group";
  name: string;
  description: string;
  entries: Entry[];
}

/** A line of the table: a command or a group. */
export type Entry = CommandDef | GroupDef;

/** Declares a command. */
export const command = (def: Omit<CommandDef, "kind">): CommandDef => ({ kind: "command", ...def });

/** Declares a group. */
export const group = (name: string, description: string, entries: Entry[]): GroupDef => ({
  kind: "group",
  name,
  description,
  entries,
});

/** The server URL the options or SIGIL_SERVER name, if any. */
export function serverOf(opts: { server?: string }): string | undefined {
  const s = opts.server ?? process.env.SIGIL_SERVER;
  return s === undefined || s === "" ? undefined : s;
}

/**
 * The one-line refusal of a local act asked to run through a server: a usage error
 * (exit 2), raised before any data folder is opened or created.
 */
export function localActError(what: string, opts: { server?: string }): SigilError {
  const via = opts.server !== undefined && opts.server !== "" ? "--server" : "--server (SIGIL_SERVER is set)";
  return new SigilError(
    ErrorCodes.USAGE,
    `${what} is a local act on this machine's data folder: it cannot be run with ${via}`,
  );
}

/** Adds --home and --passphrase-file to a command. */
function globals(cmd: Command): Command {
  return cmd
    .option("--home <dir>", "data folder (default: $SIGIL_HOME or ./sigil-data)")
    .option(
      "--passphrase-file <file>",
      "read the CA key passphrase from this file (else $SIGIL_PASSPHRASE or a prompt)",
    );
}

/** Adds --server, --token-file and --ca-file: the command can run through the admin API. */
function remoteOptions(cmd: Command): Command {
  return cmd
    .option(
      "--server <url>",
      "run through the admin API: unix:PATH or https://HOST:PORT (else $SIGIL_SERVER)",
    )
    .option("--token-file <file>", "admin token file (else $SIGIL_TOKEN)")
    .option("--ca-file <file>", "CA certificate(s) to trust for the server's TLS (else $SIGIL_CA_FILE)");
}

/** The implementation a command runs with these options, or the refusal. */
export async function pick(
  def: CommandDef,
  path: string,
  opts: { server?: string; home?: string; keyFile?: string },
): Promise<Impl> {
  const remote = serverOf(opts) !== undefined;
  switch (def.reach) {
    case "client":
      return def.local!();
    case "service":
      return def.remote!();
    case "local":
      if (remote) throw localActError(path, opts);
      return def.local!();
    case "both":
      if (remote) return def.remote!();
      if (def.viaService !== undefined) {
        const { preferLocalService } = await import("../local-service.js");
        return preferLocalService(def.viaService, def.local!, def.remote!, opts);
      }
      return def.local!();
  }
}

/** Registers one entry of the table under `parent`. */
export function register(parent: Command, entry: Entry, prefix: string[] = []): void {
  if (entry.kind === "group") {
    const g = parent.command(entry.name).description(entry.description);
    for (const e of entry.entries) register(g, e, [...prefix, entry.name]);
    return;
  }
  let cmd = entry.declare(parent.command(entry.name));
  if (entry.globals !== false) cmd = globals(cmd);
  if (entry.reach === "both" || entry.reach === "service") cmd = remoteOptions(cmd);
  // A local act takes --server only to refuse it in one line (not in its help).
  if (entry.reach === "local") cmd.addOption(new Option("--server <url>").hideHelp());
  const path = [...prefix, entry.name.split(" ")[0]!].join(" ");
  cmd.action(async (...a: unknown[]) => {
    // commander passes the arguments, the options, then the command.
    const args = a.slice(0, -2);
    const opts = a[a.length - 2] as { server?: string };
    const impl = await pick(entry, path, opts);
    await impl(...args, opts);
  });
}
