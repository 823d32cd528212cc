/**
 * PostgreSQL for the tests. With `SIGIL_TEST_DATABASE_URL` (a server the tests may create
 * and drop databases on), that server is used. Otherwise a private PostgreSQL cluster is
 * made in a temp folder (Debian's `postgresql` package: /usr/lib/postgresql/NN/bin) and
 * started on a free port on 127.0.0.1, once per test process; it is stopped and removed
 * when the process exits. As root, the cluster runs as the `postgres` user (initdb refuses
 * root). Each caller gets a fresh database (`sigil_test_<random>`), dropped by
 * {@link dropTestDatabases}.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

interface Cluster {
  /** URL of the maintenance database (`postgres`), as the superuser. */
  adminUrl: string;
  dir?: string;
}

let cluster: Promise<Cluster> | undefined;
let started: Cluster | undefined;
const created: string[] = [];

function pgBin(name: string): string {
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) {
    const p = path.join(base, v, "bin", name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(
    `PostgreSQL's ${name} not found under ${base} (apt-get install postgresql; see scripts/test-deps.sh)`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startCluster(): Promise<Cluster> {
  const url = process.env.SIGIL_TEST_DATABASE_URL;
  if (url) return { adminUrl: url };
  const root = process.getuid?.() === 0;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sigil-pg-"));
  const data = path.join(dir, "data");
  const asPg = (cmd: string, args: string[]) =>
    (root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]) as [string, string[]];
  if (root) execFileSync("chown", ["postgres:", dir]);
  const port = await freePort();
  const [c1, a1] = asPg(pgBin("initdb"), [
    "-D",
    data,
    "-U",
    "sigil",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
  ]);
  execFileSync(c1, a1, { stdio: ["ignore", "ignore", "pipe"] });
  // Test settings: no fsync (a crash loses the throwaway cluster, nothing else).
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
    "-c max_connections=200",
  ].join(" ");
  const [c2, a2] = asPg(pgBin("pg_ctl"), [
    "-D",
    data,
    "-o",
    opts,
    "-l",
    path.join(dir, "log"),
    "-w",
    "start",
  ]);
  const r = spawnSync(c2, a2, { encoding: "utf8" });
  if (r.status !== 0) {
    const log = fs.existsSync(path.join(dir, "log")) ? fs.readFileSync(path.join(dir, "log"), "utf8") : "";
    throw new Error(`pg_ctl start failed: ${r.stderr}\n${log}`);
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const [c3, a3] = asPg(pgBin("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
    spawnSync(c3, a3, { stdio: "ignore" });
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", stop);
  // A test run stopped by a signal (a timeout, ^C) must not leave the cluster running.
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(sig, () => {
      stop();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
  return { adminUrl: `postgres://sigil@127.0.0.1:${port}/postgres`, dir };
}

/** The test PostgreSQL server (started on first use). */
export function testCluster(): Promise<Cluster> {
  cluster ??= startCluster().then((c) => (started = c));
  return cluster;
}

function newName(): string {
  return `sigil_test_${randomBytes(6).toString("hex")}`;
}

function urlOf(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Runs SQL on the test server with psql, synchronously (for the spawnSync-style CLI tests).
 * The server must have been started ({@link testCluster} awaited) before.
 */
export function psqlSync(sql: string, database?: string): void {
  if (started === undefined) throw new Error("start the test PostgreSQL first (await testCluster())");
  const url = database === undefined ? started.adminUrl : urlOf(started.adminUrl, database);
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
}

/** Runs one query with psql and returns its rows, one per line, fields separated by `|`. */
export function psqlQuerySync(sql: string, database: string): string[] {
  if (started === undefined) throw new Error("start the test PostgreSQL first (await testCluster())");
  const r = spawnSync(
    "psql",
    ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", urlOf(started.adminUrl, database), "-c", sql],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "");
}

/** Like {@link createTestDatabase}, synchronously; `template` copies an existing test database. */
export function createTestDatabaseSync(template?: string): { name: string; url: string } {
  const name = newName();
  psqlSync(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`);
  created.push(name);
  return { name, url: urlOf(started!.adminUrl, name) };
}

/** A URL of a new, empty database on the test server. */
export async function createTestDatabase(): Promise<string> {
  const { adminUrl } = await testCluster();
  const name = newName();
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  created.push(name);
  return urlOf(adminUrl, name);
}

/** Drops every database {@link createTestDatabase} made in this process (connections are cut). */
export async function dropTestDatabases(): Promise<void> {
  if (cluster === undefined || created.length === 0) return;
  const { adminUrl } = await cluster;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    for (const name of created.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}
