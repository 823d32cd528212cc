/**
 * The home's CLI credential: while `sigil serve` holds the admin socket of a home, the
 * one-shot commands that sign (`sigil sign`, `revoke`, `crl`) go through it instead of
 * opening the CA keys themselves (cli/local-service.ts). They authenticate with an operator
 * token the service makes at start (token use case: audited, `token.create`) and writes to
 * `run/cli.token` in the home, mode 0600: only the home's owner can read it. At a graceful
 * stop the file is removed and the token revoked (audited, `token.revoke`).
 *
 * The token is named `local-cli@INSTANCE` (its acts are audited under that name; INSTANCE
 * is the instance's name, `sigil status`, so two homes on one database never claim the same
 * token name) and created by `serve:USER@HOST:HOME`: a start revokes the unrevoked CLI
 * credentials of that creator (a crashed run leaves one behind), never another home's or
 * another person's token. Only
 * the instance that serves the admin socket does any of this: several instances on one
 * home (one PostgreSQL store) leave the credential to the one holding the socket.
 */
import { constants } from "node:fs";
import { mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { ErrorCodes, isSigilError } from "../errors.js";
import type { Context } from "../app/open.js";
import { createToken, revokeToken } from "../authority/tokens.js";

/**
 * How long the CLI credential's token is good for: a day, renewed every six hours while the
 * service runs (and revoked at a clean stop).
 */
export const CLI_TOKEN_TTL_MS = 86_400_000;

/** The running credential: {@link CliCredential.stop} removes the file and revokes the token. */
export interface CliCredential {
  /** The token's name (what the audit log says for acts done with it). */
  name: string;
  stop(): Promise<void>;
}

/**
 * The name of a home's CLI credential: `local-cli@INSTANCE`, the instance's name (config
 * `serve.instanceName`, else the host name and a hash of the home's path) as a token name
 * may spell it (64 characters, no `:`).
 */
export function cliCredentialName(instance: string): string {
  const h = instance.replace(/[^A-Za-z0-9._@-]/g, "-").slice(0, 54);
  return /^[A-Za-z0-9]/.test(h) ? `local-cli@${h}` : "local-cli";
}

/** Who makes (and revokes) the credential of the home `home`: `serve:USER@HOST:HOME`. */
export function cliCredentialCreator(home: string): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? "unknown";
  }
  return `serve:${user}@${hostname()}:${home}`;
}

/**
 * Makes the home's CLI credential: revokes the earlier ones of this home (by name and
 * creator), creates a fresh operator token and writes it to `paths.cliToken` (a new 0600
 * file, renamed into place). Failures are logged and leave no credential: the CLI then
 * opens the keys itself, as without a service.
 */
export async function startCliCredential(
  ctx: Context,
  log: Logger,
  instance: string,
  ttlMs = CLI_TOKEN_TTL_MS,
): Promise<CliCredential | undefined> {
  const { store, paths } = ctx;
  const name = cliCredentialName(instance);
  const by = cliCredentialCreator(paths.home);
  const deps = { store, clock: () => Date.now(), random: (n: number) => randomBytes(n) };
  try {
    // Every earlier credential of this home and user, whatever instance name it had (a
    // renamed instance, a run that had to take a suffixed name): one credential per home.
    const earlier = (await store.listAdminTokens()).filter(
      (t) => t.name.startsWith("local-cli") && t.createdBy === by && t.revokedAt === null,
    );
    for (const t of earlier)
      await revokeToken(deps, t.id, by).catch((e: unknown) => {
        // Revoked in the meantime by someone else: what was wanted.
        if (!isSigilError(e, ErrorCodes.ALREADY_REVOKED)) throw e;
      });
    await removeIfPresent(paths.cliToken);
    /** Makes a token and writes it over the file; the one it replaces is revoked after. */
    const issue = async (): Promise<{ token: string; id: string }> => {
      const { token, record } = await createToken(
        { ...deps, key: await ctx.tokenKey() },
        { name, role: "operator", ttlMs, createdBy: by },
      );
      try {
        await writePrivateFile(paths.cliToken, token + "\n");
      } catch (e) {
        await revokeToken(deps, record.id, by).catch(() => undefined);
        throw e;
      }
      return { token, id: record.id };
    };
    const revoke = (id: string) =>
      revokeToken(deps, id, by).catch((e: unknown) => {
        if (!isSigilError(e, ErrorCodes.ALREADY_REVOKED))
          log.error({ err: (e as Error).message }, "the CLI credential could not be revoked");
      });
    let current: { token: string; id: string } | undefined = await issue();
    log.info({ file: paths.cliToken, token: current.id, name }, "CLI credential written");
    // A new token every quarter of its life: one that a crashed run leaves behind (or a copy
    // of the file) is good for a day at most. The old one is revoked first (one live token
    // per name); a command that meanwhile reads it is refused (401) and works locally, as
    // with a stale file.
    let rotating: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      rotating = rotating.then(async () => {
        try {
          if (current) await revoke(current.id);
          current = undefined;
          current = await issue();
        } catch (e) {
          log.error({ err: (e as Error).message }, "the CLI credential could not be renewed");
          await removeIfPresent(paths.cliToken).catch(() => undefined);
        }
      });
    }, ttlMs / 4);
    timer.unref();
    return {
      name,
      async stop() {
        clearInterval(timer);
        await rotating;
        if (!current) return;
        // The file first: a command that still finds it is refused (401) and works locally.
        try {
          if ((await readFile(paths.cliToken, "utf8")).trim() === current.token) await unlink(paths.cliToken);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT")
            log.error({ err: (e as Error).message }, "the CLI credential file could not be removed");
        }
        await revoke(current.id);
      },
    };
  } catch (e) {
    log.warn(
      { err: (e as Error).message },
      "no CLI credential: sign, revoke and crl open the keys themselves while this service runs",
    );
    return undefined;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
}

/**
 * Writes `text` to `path` readable by this user only: a new file (O_EXCL, O_NOFOLLOW, mode
 * 0600) beside it, synced, then renamed over `path` (which replaces a symbolic link there
 * rather than following it).
 */
async function writePrivateFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}`);
  const fh = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    try {
      await fh.chmod(0o600); // whatever the umask
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
