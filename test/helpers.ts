/**
 * Test helpers: run the built CLI as a user would, run the real verifiers, read the DB.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";

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

function done(r: SpawnSyncReturns<string>): Run {
  if (r.error) throw r.error;
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
    }),
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
    spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", input: opts.input, maxBuffer: 64 * 1024 * 1024 }),
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

/** Sets up a home with the genfic hierarchy (fast: p256 unless told). */
export function initHome(home: string, extra: string[] = []): void {
  sigilOk(home, ["init", ...extra]);
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
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, cwd: dirname(home) });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("error", reject);
    p.on("close", (status) => resolve({ status, stdout, stderr }));
    p.stdin.end(opts.input ?? "");
  });
}
