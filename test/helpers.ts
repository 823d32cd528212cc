/**
 * Test helpers: run the built CLI as a user would, run the real verifiers, read the DB.
 */
import { execFile, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { createTestDatabaseSync, psqlQuerySync, psqlSync } from "./postgres.js";

/** Repository root. */
export const ROOT = resolve(import.meta.dirname, "..");
/** The launcher users run. */
export const BIN = join(ROOT, "bin", "sigil.js");
/** The passphrase tests use for CA keys. */
export const PASS = "correct horse battery staple";

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = "sigil-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Result of a process run. */
export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * How long one synchronous child (a sigil command, openssl, certtool) may run. A child that
 * hangs would otherwise block the test file until the runner kills it after 10 minutes with
 * no word of which command it was (seen once in CI); this names it instead.
 */
const CHILD_TIMEOUT_MS = 180_000;

function done(r: SpawnSyncReturns<string>, what: string[]): Run {
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ETIMEDOUT")
      throw new Error(
        `${what.join(" ")}: still running after ${CHILD_TIMEOUT_MS / 1000} s, killed; stderr so far: ${r.stderr}`,
      );
    throw r.error;
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs `sigil ARGS` with SIGIL_HOME=home and the test passphrase in the environment. */
export function sigil(
  home: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {},
): Run {
  const env: Record<string, string | undefined> = {
    ...process.env,
    SIGIL_HOME: home,
    SIGIL_PASSPHRASE: PASS,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return done(
    spawnSync(process.execPath, [BIN, ...args], {
      env: env as NodeJS.ProcessEnv,
      cwd: opts.cwd ?? dirname(home),
      encoding: "utf8",
      input: opts.input ?? "",
      maxBuffer: 64 * 1024 * 1024,
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGKILL",
    }),
    ["sigil", ...args],
  );
}

/** Runs sigil and fails the test with its stderr unless it exits 0. */
export function sigilOk(home: string, args: string[], opts: Parameters<typeof sigil>[2] = {}): Run {
  const r = sigil(home, args, opts);
  if (r.status !== 0) throw new Error(`sigil ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return r;
}

/** Runs an external tool (openssl, certtool). */
export function tool(cmd: string, args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Run {
  return done(
    spawnSync(cmd, args, {
      cwd: opts.cwd,
      encoding: "utf8",
      input: opts.input,
      maxBuffer: 64 * 1024 * 1024,
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGKILL",
    }),
    [cmd, ...args],
  );
}

/** Writes a file and returns its path. */
export function write(dir: string, name: string, data: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** Row counts of the tables that matter, for "nothing was written" checks. */
export function counts(home: string): { cas: number; certificates: number; requests: number; audit: number } {
  if (pgHomes) {
    const n = (t: string): number =>
      Number(psqlQuerySync(`select count(*) from ${t}`, pgDatabaseOf(home))[0]);
    return {
      cas: n("cas"),
      certificates: n("certificates"),
      requests: n("requests"),
      audit: n("audit_events"),
    };
  }
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    const n = (t: string): number => (db.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n;
    return {
      cas: n("cas"),
      certificates: n("certificates"),
      requests: n("requests"),
      audit: n("audit_events"),
    };
  } finally {
    db.close();
  }
}

/** The actions of audit events after `afterSeq`. */
export function auditActionsSince(home: string, afterSeq: number): string[] {
  if (pgHomes)
    return psqlQuerySync(
      `select action from audit_events where seq > ${Math.floor(afterSeq)} order by seq`,
      pgDatabaseOf(home),
    );
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare("select action from audit_events where seq > ? order by seq").all(afterSeq) as Array<{
        action: string;
      }>
    ).map((r) => r.action);
  } finally {
    db.close();
  }
}

/**
 * The store new test homes use: `sqlite` (default), or `postgres` once
 * {@link usePostgresHomes} was called (test/cli-flow-postgres.test.ts): then each
 * {@link initHome} gets a fresh database on the test PostgreSQL (test/postgres.ts).
 */
let pgHomes = false;

/** Makes {@link initHome} put new homes on PostgreSQL (the test server must be started). */
export function usePostgresHomes(): void {
  pgHomes = true;
}

/** The store kind of test homes. */
export function storeKind(): "sqlite" | "postgres" {
  return pgHomes ? "postgres" : "sqlite";
}

/** Sets up a home with the genfic hierarchy (fast: p256 unless told). */
export function initHome(home: string, extra: string[] = []): void {
  if (!pgHomes) {
    sigilOk(home, ["init", ...extra]);
    return;
  }
  const { url } = createTestDatabaseSync();
  sigilOk(home, ["init", ...extra], { env: { SIGIL_DATABASE_URL: url } });
  const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(
    join(home, "sigil.json"),
    JSON.stringify({ ...cfg, store: { kind: "postgres", url } }, null, 2),
  );
}

/** The PostgreSQL database name of a test home (postgres homes only). */
function pgDatabaseOf(home: string): string {
  const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as { store?: { url?: string } };
  return new URL(cfg.store!.url!).pathname.slice(1);
}

/**
 * Copies `home`'s database into the new home folder `to` (SQLite: VACUUM INTO; PostgreSQL:
 * a new database from it as template, named in `to`/sigil.json), for tampering tests.
 */
export function copyHomeStore(home: string, to: string): void {
  mkdirSync(to, { recursive: true });
  if (!pgHomes) {
    const db = new Database(join(home, "sigil.db"));
    db.exec(`VACUUM INTO '${join(to, "sigil.db")}'`);
    db.close();
    return;
  }
  const { url } = createTestDatabaseSync(pgDatabaseOf(home));
  writeFileSync(join(to, "sigil.json"), JSON.stringify({ store: { kind: "postgres", url } }, null, 2));
}

/** The rows of one SELECT on a test home's database (SQLite or PostgreSQL alike), as objects. */
export function queryHome<R>(home: string, select: string): R[] {
  if (pgHomes) {
    const out = psqlQuerySync(
      `SELECT coalesce(json_agg(t), '[]'::json) FROM (${select}) t`,
      pgDatabaseOf(home),
    );
    return JSON.parse(out.join("")) as R[];
  }
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(select).all() as R[];
  } finally {
    db.close();
  }
}

/** Runs raw SQL (one or more statements) on a test home's database. */
export function execHomeSql(home: string, sql: string): void {
  if (!pgHomes) {
    const db = new Database(join(home, "sigil.db"));
    db.exec(sql);
    db.close();
    return;
  }
  psqlSync(sql, pgDatabaseOf(home));
}

/**
 * Runs `sigil ARGS` without blocking this process (needed when the test process itself
 * serves something the command talks to, like the in-process SMTP server).
 */
export function sigilAsync(
  home: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; input?: string | Buffer } = {},
): Promise<Run> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    SIGIL_HOME: home,
    SIGIL_PASSPHRASE: PASS,
    ...opts.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return toolAsync(process.execPath, [BIN, ...args], {
    env,
    cwd: dirname(home),
    input: opts.input ?? "",
  });
}

/**
 * Runs `cmd` without blocking the test's event loop (its servers keep answering), killed
 * after `timeoutMs` (default: as tool()) so that a command that hangs fails its test with
 * what it printed. `input` is written to stdin and closed; without it stdin is ignored.
 */
export function toolAsync(
  cmd: string,
  args: string[],
  opts: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    input?: string | Buffer;
    timeoutMs?: number;
  } = {},
): Promise<Run> {
  const timeoutMs = opts.timeoutMs ?? CHILD_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: (opts.env ?? process.env) as NodeJS.ProcessEnv,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[killed: no exit within ${timeoutMs / 1000} s]`;
      p.kill("SIGKILL");
    }, timeoutMs);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    if (opts.input !== undefined) p.stdin!.end(opts.input);
  });
}

/**
 * A new P-256 request made by openssl, as a user (or an attacker) would: `name` is the CN
 * and the file stem (DIR/NAME.req, DIR/NAME.key); `keyFile` reuses a key (with `passin`
 * for an encrypted one); `san` adds a subjectAltName (`DNS:a,IP:b,email:c`).
 */
export function newRequest(
  dir: string,
  name: string,
  opts: { keyFile?: string; passin?: string; san?: string } = {},
): { key: string; req: string } {
  const { key, req, args } = requestArgs(dir, name, opts);
  const r = tool("openssl", args);
  if (r.status !== 0) throw new Error(`openssl req ${name}: ${r.stderr}`);
  return { key, req };
}

/** {@link newRequest} without blocking: many requests made at once (batches of tests). */
export async function newRequestAsync(
  dir: string,
  name: string,
  opts: { keyFile?: string; passin?: string; san?: string } = {},
): Promise<{ key: string; req: string }> {
  const { key, req, args } = requestArgs(dir, name, opts);
  await new Promise<void>((done, fail) =>
    execFile("openssl", args, (e, _out, err) =>
      e ? fail(new Error(`openssl req ${name}: ${err}`)) : done(),
    ),
  );
  return { key, req };
}

/** The files and `openssl req` arguments of {@link newRequest}. */
function requestArgs(
  dir: string,
  name: string,
  opts: { keyFile?: string; passin?: string; san?: string },
): { key: string; req: string; args: string[] } {
  const key = opts.keyFile ?? join(dir, `${name}.key`);
  const req = join(dir, `${name}.req`);
  const keyArgs = opts.keyFile
    ? ["-key", opts.keyFile, ...(opts.passin ? ["-passin", `pass:${opts.passin}`] : [])]
    : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key];
  const args = [
    "req",
    "-new",
    ...keyArgs,
    "-subj",
    `/CN=${name}`,
    "-out",
    req,
    ...(opts.san ? ["-addext", `subjectAltName=${opts.san}`] : []),
  ];
  return { key, req, args };
}

/** Polls `f` every 100 ms until it returns a value other than undefined, or fails after `ms`. */
export async function until<T>(
  what: string,
  ms: number,
  f: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Merges `patch` into the home's sigil.json (top-level keys replaced); returns the old text. */
export function patchConfig(home: string, patch: Record<string, unknown>): string {
  const file = join(home, "sigil.json");
  const saved = readFileSync(file, "utf8");
  writeFileSync(
    file,
    JSON.stringify({ ...(JSON.parse(saved) as Record<string, unknown>), ...patch }, null, 2),
  );
  return saved;
}

/** One audit event as `sigil audit log --json` prints it. */
export interface AuditLogEvent {
  seq: number;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
}

/** The home's audit log, read through the CLI (SQLite or PostgreSQL alike). */
export function auditLog(home: string): AuditLogEvent[] {
  return sigilOk(home, ["audit", "log", "--json"])
    .stdout.trim()
    .split("\n")
    .map((l) => JSON.parse(l) as AuditLogEvent);
}

/** An admin token of `role` named `name`, made in `home` (`sigil admin token create`). */
export function createAdminToken(
  home: string,
  role: "operator" | "security" | "auditor",
  name: string,
  opts: Parameters<typeof sigil>[2] = {},
): string {
  return sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name], opts).stdout.trim();
}

/**
 * A certificate for CN `cn` from `ca` (default genfic-system) issued through `home`: a key and
 * request made by `sigil request create` in `dir`, signed by `sigil sign`; the file's path.
 */
export function issueCert(home: string, dir: string, cn: string, ca = "genfic-system"): string {
  sigilOk(home, ["request", "create", join(dir, cn), "--subject", `/CN=${cn}`, "--no-encrypt"]);
  sigilOk(home, ["sign", join(dir, `${cn}.req`), "--ca", ca, "-o", join(dir, `${cn}.crt`)]);
  return join(dir, `${cn}.crt`);
}
