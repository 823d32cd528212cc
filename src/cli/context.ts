/**
 * The CLI's use of the composition root (src/app/): home folder -> config -> store -> keys
 * -> authority, opened lazily and only by the commands that need it, acting as the CLI user.
 */
import { userInfo } from "node:os";
import type { RequestQueue } from "../authority/queue.js";
import { resolveHome as resolveHomeFolder } from "../app/paths.js";
import type { Context } from "../app/open.js";

export type { Context } from "../app/open.js";

/** Options every command accepts. */
export interface GlobalOptions {
  home?: string;
  passphraseFile?: string;
}

/** The request queue over an opened context (acting as `actor`, default the CLI user). */
export async function queueOf(ctx: Context, actor = cliActor()): Promise<RequestQueue> {
  const { openQueue } = await import("../app/open.js");
  return openQueue(ctx, actor);
}

/** The data folder: --home, else SIGIL_HOME, else ./sigil-data. */
export function resolveHome(opts: GlobalOptions): string {
  return resolveHomeFolder(opts.home);
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
    /** `sigil serve` (see OpenHomeOptions.service). */
    service?: boolean;
    /** The CA key the command will open (see OpenHomeOptions.keyAhead). */
    keyAhead?: { ca: string; keyFile?: string };
  },
): Promise<Context> {
  const { openHome } = await import("../app/open.js");
  return openHome({
    home: resolveHome(opts),
    actor: cliActor(),
    ...(opts.create !== undefined ? { create: opts.create } : {}),
    ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}),
    ...(opts.passphrase ? { passphrase: opts.passphrase } : {}),
    ...(opts.passphraseEnv ? { passphraseEnv: opts.passphraseEnv } : {}),
    ...(opts.service ? { service: true } : {}),
    ...(opts.keyAhead ? { keyAhead: opts.keyAhead } : {}),
  });
}

/**
 * What a new home gets besides its first CA (`sigil init`, `sigil ca create-root`, `-r`): the
 * admin-token key (a file: a database insider must not be able to mint tokens) and the audit
 * key, pinned in sigil.json. Made here rather than at the first start, so that a copy of the
 * home made before that start (a second machine on the same PostgreSQL) has the same token
 * key and the same pin. `say` gets one line when the audit key was made or pinned now.
 */
export async function prepareHomeKeys(ctx: Context, say: (line: string) => void): Promise<void> {
  await ctx.tokenKey();
  const audit = await ctx.ensureAuditKey();
  if (audit.created || audit.pinned)
    say(
      `audit key ${audit.keyId.slice(0, 16)} pinned in sigil.json; keep a copy of ${audit.file} outside this machine`,
    );
}
