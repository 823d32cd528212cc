/**
 * `sigil serve` when a port it must listen on is taken (by a test's own server, or by
 * another `sigil serve`): one line naming the listener and the flag or setting that moves
 * it, exit 1, and nothing left running or behind (no backend or admin socket, no worker in
 * its process group, no timer keeping it alive: it exits by itself).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { BIN, PASS, initHome, tempDir } from "./helpers.js";
import { get, startServe } from "./serve-helpers.js";

/** A TCP server on a free loopback port: the port a test makes unavailable. */
async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const a = server.address();
  assert.ok(a && typeof a === "object");
  return { server, port: a.port };
}

/**
 * Runs `sigil serve ARGS` in its own process group and waits (at most a minute: a hang is
 * the failure this file is about) for it to exit by itself; then whatever is left of the
 * group is killed and reported.
 */
async function serveUntilExit(
  home: string,
  args: string[],
): Promise<{ code: number | null; stderr: string; leftover: boolean }> {
  const proc = spawn(process.execPath, [BIN, "serve", ...args], {
    env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
    cwd: dirname(home),
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => resolve(null), 60_000);
    proc.once("exit", (c) => {
      clearTimeout(t);
      resolve(c);
    });
  });
  // Workers are in the primary's process group: anyone still there is a stray.
  let leftover = true;
  try {
    process.kill(-proc.pid!, 0);
    process.kill(-proc.pid!, "SIGKILL");
  } catch {
    leftover = false;
  }
  return { code, stderr, leftover };
}

/** The sockets `sigil serve` made in the data folder (run/backend-PID.sock, admin.sock). */
function sockets(home: string): string[] {
  const run = join(home, "run");
  return [
    ...(existsSync(run) ? readdirSync(run).map((f) => `run/${f}`) : []),
    ...readdirSync(home).filter((f) => f.endsWith(".sock")),
  ];
}

const PUBLIC_HINT = "(use --listen HOST:PORT or serve.listen in sigil.json)";
const ADMIN_HINT = "(use --admin-listen HOST:PORT or off, or admin.listen in sigil.json)";

describe("sigil serve: a port already in use", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let taken: { server: Server; port: number };

  before(async () => {
    initHome(home);
    taken = await occupy();
  });
  after(() => {
    taken.server.close();
    t.cleanup();
  });

  for (const workers of ["1", "2"])
    it(`public listener, ${workers} worker(s): one line, exit 1, nothing left behind`, async () => {
      const r = await serveUntilExit(home, [
        "--listen",
        `127.0.0.1:${taken.port}`,
        "--admin-listen",
        "off",
        "--workers",
        workers,
      ]);
      assert.equal(r.code, 1, `exit status (null: still running after a minute); stderr: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `sigil: cannot listen on 127.0.0.1:${taken.port} for the public listener: address already in use ${PUBLIC_HINT}\n`,
      );
      assert.equal(r.leftover, false, "no process of its group is left");
      assert.deepEqual(sockets(home), []);
    });

  for (const workers of ["1", "2"])
    it(`admin TLS listener (--admin-listen), ${workers} worker(s): one line, exit 1, nothing left behind`, async () => {
      const r = await serveUntilExit(home, [
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        `127.0.0.1:${taken.port}`,
        "--workers",
        workers,
      ]);
      assert.equal(r.code, 1, `exit status (null: still running after a minute); stderr: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `sigil: cannot listen on 127.0.0.1:${taken.port} for the admin TLS listener: address already in use ${ADMIN_HINT}\n`,
      );
      assert.equal(r.leftover, false, "no process of its group is left");
      assert.deepEqual(sockets(home), []);
    });
});

/** Sets `patch`'s top-level sections into the home's sigil.json (merged one level deep). */
function setConfig(home: string, patch: Record<string, Record<string, unknown>>): void {
  const cfgPath = join(home, "sigil.json");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, Record<string, unknown>>;
  for (const [k, v] of Object.entries(patch)) cfg[k] = { ...(cfg[k] ?? {}), ...v };
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
}

describe("sigil serve: a port in use that sigil.json asks for (no flag given)", () => {
  const t = tempDir();
  let taken: { server: Server; port: number };
  const homes: string[] = [];
  const newHome = (name: string): string => {
    const home = join(t.dir, name, "sigil-data");
    mkdirSync(dirname(home));
    initHome(home);
    homes.push(home);
    return home;
  };

  before(async () => {
    taken = await occupy();
  });
  after(() => {
    taken.server.close();
    t.cleanup();
  });

  it("serve.listen: the public listener, named with its flag and setting", async () => {
    const home = newHome("public");
    setConfig(home, { serve: { listen: `127.0.0.1:${taken.port}` }, admin: { listen: null } });
    const r = await serveUntilExit(home, ["--workers", "2"]);
    assert.equal(r.code, 1, `exit status (null: still running after a minute); stderr: ${r.stderr}`);
    assert.equal(
      r.stderr,
      `sigil: cannot listen on 127.0.0.1:${taken.port} for the public listener: address already in use ${PUBLIC_HINT}\n`,
    );
    assert.equal(r.leftover, false, "no process of its group is left");
    assert.deepEqual(sockets(home), []);
  });

  for (const workers of ["1", "2"])
    it(`admin.listen with admin.tls false (plain HTTP on loopback), ${workers} worker(s): the admin HTTP listener`, async () => {
      const home = newHome(`admin-http-${workers}`);
      setConfig(home, { admin: { listen: `127.0.0.1:${taken.port}`, tls: false } });
      const r = await serveUntilExit(home, ["--listen", "127.0.0.1:0", "--workers", workers]);
      assert.equal(r.code, 1, `exit status (null: still running after a minute); stderr: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `sigil: cannot listen on 127.0.0.1:${taken.port} for the admin HTTP listener: address already in use ${ADMIN_HINT}\n`,
      );
      assert.equal(r.leftover, false, "no process of its group is left");
      assert.deepEqual(sockets(home), []);
    });
});

describe("sigil serve: a second instance on a machine where the admin port is taken", () => {
  const t = tempDir();
  const first = join(t.dir, "first", "sigil-data");
  const second = join(t.dir, "second", "sigil-data");

  before(() => {
    for (const home of [first, second]) {
      mkdirSync(dirname(home));
      initHome(home);
    }
  });
  after(() => t.cleanup());

  it("the second stops with one line naming admin.listen; the first keeps serving", async () => {
    const s = await startServe(first, ["--admin-listen", "127.0.0.1:0", "--workers", "2"]);
    try {
      const adminUrl = s.admin.find((a) => a.startsWith("https://"));
      assert.ok(adminUrl, s.stderr());
      const port = new URL(adminUrl).port;
      // The second home asks for the same admin port in sigil.json (as the default 8443 would).
      const cfgPath = join(second, "sigil.json");
      const cfg = JSON.parse(readFileSync(cfgPath, "utf8")) as Record<string, unknown>;
      writeFileSync(cfgPath, JSON.stringify({ ...cfg, admin: { listen: `127.0.0.1:${port}` } }));
      const r = await serveUntilExit(second, ["--listen", "127.0.0.1:0", "--workers", "2"]);
      assert.equal(r.code, 1, `exit status (null: still running after a minute); stderr: ${r.stderr}`);
      assert.equal(
        r.stderr,
        `sigil: cannot listen on 127.0.0.1:${port} for the admin TLS listener: address already in use ${ADMIN_HINT}\n`,
      );
      assert.equal(r.leftover, false, "no process of its group is left");
      assert.deepEqual(sockets(second), []);
      assert.equal((await get(`${s.url}/healthz`)).status, 200);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});
