/**
 * The layout of a Sigil home folder (SIGIL_HOME): every file, folder and socket name the
 * program uses in it, in one place. Nothing here touches the file system.
 *
 * ```
 * sigil.json            the configuration (config/load.ts)
 * sigil.db              the SQLite store (absent with PostgreSQL)
 * keys/                 passphrase-encrypted key files, and the admin-token key (keys/token-key.ts)
 * tls/                  the admin API's TLS key and certificate
 * crl/                  the published CRLs, NAME.crl
 * audit/checkpoints.jsonl  every signed audit checkpoint, one JSON line each: the copy
 *                       outside the database (app/checkpoint-sinks.ts)
 * audit/audit-key.pem   the audit key's public key, as pinned in sigil.json (keep a copy)
 * run/backend-PID.sock  each `sigil serve` primary's backend socket (public listener -> primary)
 * run/cli.token         the running service's operator token for this home's one-shot commands
 *                       (0600; written at start, removed and revoked at stop: daemon/cli-credential.ts)
 * admin.sock            the admin API's Unix socket (sigil.json admin.socket)
 * ```
 */
import { isAbsolute, join, resolve } from "node:path";

/** The home folder when neither --home nor SIGIL_HOME names one (relative to the working folder). */
export const DEFAULT_HOME = "sigil-data";
/** The configuration file. */
export const CONFIG_FILE = "sigil.json";
/** The SQLite database file. */
export const DB_FILE = "sigil.db";
/** The key folder. */
export const KEYS_DIR = "keys";
/** The admin API's TLS material. */
export const TLS_DIR = "tls";
/** The published CRLs. */
export const CRL_DIR = "crl";
/** The audit log's outside copies: the checkpoint file and the pinned key. */
export const AUDIT_DIR = "audit";
/** Runtime sockets of `sigil serve`. */
export const RUN_DIR = "run";
/** The credential `sigil serve` writes for the home's own CLI (in RUN_DIR). */
export const CLI_TOKEN_FILE = "cli.token";
/** The default of sigil.json `admin.socket` (config/schema.ts spells the same default). */
export const DEFAULT_ADMIN_SOCKET = "admin.sock";

/** Environment variables that move a home's sockets (deploy/systemd/sigil.service sets both). */
export const ADMIN_SOCKET_ENV = "SIGIL_ADMIN_SOCKET";
export const BACKEND_SOCKET_ENV = "SIGIL_BACKEND_SOCKET";
/** The home folder's environment variable. */
export const HOME_ENV = "SIGIL_HOME";

/** The paths of one home folder. */
export interface HomePaths {
  home: string;
  config: string;
  db: string;
  keys: string;
  tls: string;
  crl: string;
  run: string;
  /** The audit folder. */
  audit: string;
  /** Every signed audit checkpoint, one JSON line each (appended). */
  checkpointFile: string;
  /** The pinned audit key's public key (PEM). */
  auditKeyPem: string;
  /**
   * The operator token the `sigil serve` that holds the admin socket writes for the home's
   * one-shot commands (`sign`, `revoke`, `crl` go through it instead of opening keys).
   */
  cliToken: string;
  /** The published CRL of CA `name`. */
  crlFile(name: string): string;
  /** The backend socket of the `sigil serve` primary `pid` (SIGIL_BACKEND_SOCKET wins). */
  backendSocket(pid: number, env?: NodeJS.ProcessEnv): string;
  /**
   * The admin socket: SIGIL_ADMIN_SOCKET, else sigil.json `admin.socket` (relative: in the
   * home; null: none), else `admin.sock`.
   */
  adminSocket(configured?: string | null, env?: NodeJS.ProcessEnv): string | undefined;
}

/** The data folder: --home, else SIGIL_HOME, else ./sigil-data; absolute. */
export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(explicit ?? env[HOME_ENV] ?? DEFAULT_HOME);
}

/** The paths of the home folder `home` (made absolute). */
export function homePaths(home: string): HomePaths {
  const h = resolve(home);
  const keys = join(h, KEYS_DIR);
  return {
    home: h,
    config: join(h, CONFIG_FILE),
    db: join(h, DB_FILE),
    keys,
    tls: join(h, TLS_DIR),
    crl: join(h, CRL_DIR),
    run: join(h, RUN_DIR),
    audit: join(h, AUDIT_DIR),
    checkpointFile: join(h, AUDIT_DIR, "checkpoints.jsonl"),
    auditKeyPem: join(h, AUDIT_DIR, "audit-key.pem"),
    cliToken: join(h, RUN_DIR, CLI_TOKEN_FILE),
    crlFile: (name) => join(h, CRL_DIR, `${name}.crl`),
    backendSocket: (pid, env = process.env) =>
      env[BACKEND_SOCKET_ENV] || join(h, RUN_DIR, `backend-${pid}.sock`),
    adminSocket: (configured = DEFAULT_ADMIN_SOCKET, env = process.env) => {
      const s = env[ADMIN_SOCKET_ENV] || configured;
      if (!s) return undefined;
      return isAbsolute(s) ? s : join(h, s);
    },
  };
}
