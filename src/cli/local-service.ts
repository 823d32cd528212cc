/**
 * One-shot commands through this data folder's running service: while `sigil serve` holds
 * the home's admin socket, `sigil sign`, `revoke` and `crl` (without --server) ask it
 * instead of opening the CA keys here (no passphrase, no key derivation, no store). They
 * authenticate with the operator token the service wrote for the home's owner
 * (`run/cli.token`, daemon/cli-credential.ts) and the service audits their acts under its
 * name. One line on stderr says so (once the service has done the act: a refusal is the
 * local command's one line).
 *
 * The local path is taken instead, silently, when no service answers on the socket (none,
 * or a stale one), when the service refuses the credential (a file left by a crash), when
 * it cannot sign (sealed) or when the credential's role may not do the act (revoking a CA
 * certificate is a custodian's act): in each case the service did nothing. Any other answer
 * (a policy refusal, a bad request) is the answer. A credential file that is not a regular
 * file of this user with mode 0600 is ignored with a warning. `--key-file` (an offline CA
 * key on this machine) always runs locally.
 *
 * Kept light: node:fs and the home's layout only, until the service has answered.
 */
import { constants } from "node:fs";
import { lstat, open } from "node:fs/promises";
import { ADMIN_SOCKET_ENV, homePaths, resolveHome } from "../app/paths.js";
import { ErrorCodes, type ErrorCode } from "../errors.js";
import type { Impl, Lazy } from "./commands/table.js";
import type { RemoteOptions } from "./remote.js";

/** The home's running service and the credential to use it with. */
export interface LocalService {
  home: string;
  socket: string;
  token: string;
}

const TOKEN_RE = /^sigil_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

/**
 * The home's admin socket (SIGIL_ADMIN_SOCKET as given, else `admin.sock` in the home), as
 * `sigil seal`, `unseal` and `status` find it.
 */
export function homeAdminSocket(home: string): string {
  return process.env[ADMIN_SOCKET_ENV] || homePaths(home).adminSocket(undefined, {})!;
}

function warn(file: string, why: string): undefined {
  process.stderr.write(`sigil: warning: ignoring ${file} (${why}); opening the keys here instead\n`);
  return undefined;
}

/**
 * The home's running service, when its admin socket is there and its credential file is a
 * regular file of this user, mode 0600, holding a token; else undefined.
 */
export async function findLocalService(opts: { home?: string }): Promise<LocalService | undefined> {
  const home = resolveHome(opts.home);
  const socket = homeAdminSocket(home);
  try {
    if (!(await lstat(socket)).isSocket()) return undefined;
  } catch {
    return undefined;
  }
  const file = homePaths(home).cliToken;
  let fh;
  try {
    // O_NOFOLLOW: a symbolic link is refused (ELOOP); O_NONBLOCK: a FIFO does not hang.
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    return warn(file, code === "ELOOP" ? "a symbolic link" : `cannot read it: ${code}`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return warn(file, "not a regular file");
    if (typeof process.getuid === "function" && st.uid !== process.getuid())
      return warn(file, `owned by uid ${st.uid}, not by this user`);
    if ((st.mode & 0o777) !== 0o600)
      return warn(file, `mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}, not 0600`);
    const token = (await fh.readFile("utf8")).trim();
    if (!TOKEN_RE.test(token)) return warn(file, "not a token");
    return { home, socket, token };
  } finally {
    await fh.close();
  }
}

/** Answers after which the service did nothing and the local path may act instead. */
const NOTHING_DONE = new Set<string>([
  ErrorCodes.UNAUTHORIZED, // the credential is stale (revoked, or another run's)
  ErrorCodes.SEALED, // the service holds no keys
  ErrorCodes.NO_PASSPHRASE, // nor a secret a key needs
  ErrorCodes.FORBIDDEN, // the credential's role may not: the home's owner may, locally
] satisfies ErrorCode[]);

/** True when `e` says the service did nothing for this call. */
function nothingDone(e: unknown): boolean {
  const err = e as { code?: unknown; details?: Record<string, unknown> };
  if (typeof err?.code !== "string") return false;
  if (err.code === ErrorCodes.REMOTE) return err.details?.unreached === true;
  return NOTHING_DONE.has(err.code);
}

/**
 * The implementation of a command that may run through the home's service (`doing`:
 * `signing`, ...): the remote one over the admin socket when {@link findLocalService}
 * finds it, falling back to the local one while the service has done nothing.
 */
export async function preferLocalService(
  doing: string,
  local: Lazy,
  remote: Lazy,
  opts: { home?: string; keyFile?: string },
): Promise<Impl> {
  if (opts.keyFile !== undefined) return local();
  const service = await findLocalService(opts);
  if (!service) return local();
  const remoteImpl = await remote();
  return async (...args: unknown[]) => {
    const given = args[args.length - 1] as RemoteOptions;
    let acted = false;
    let told = false;
    const via: RemoteOptions = {
      ...given,
      server: `unix:${service.socket}`,
      bearer: service.token,
      serviceHome: service.home,
      onAnswer: (status, code) => {
        if (!(status >= 400 && code !== undefined && NOTHING_DONE.has(code))) acted = true;
        // Said once, before the command's own lines, when the service did the act; a
        // refusal is the local command's one line.
        if (status >= 200 && status < 300 && !told) {
          told = true;
          process.stderr.write(
            `sigil: ${doing} through the running service (admin socket ${service.socket})\n`,
          );
        }
      },
    };
    try {
      return await remoteImpl(...args.slice(0, -1), via);
    } catch (e) {
      if (acted || !nothingDone(e)) throw e;
      return (await local())(...args);
    }
  };
}
