/**
 * A stopped event loop is said in the service's log (daemon/stall.ts): the primary and a
 * worker of a real `sigil serve --workers 2`, each stopped for 4 s (SIGSTOP, what a machine
 * under memory pressure or a debugger does), then continued, log a warning with how long
 * they answered nothing; and the service still answers afterwards.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { initHome, tempDir } from "./helpers.js";
import { get, startServe, type Served } from "./serve-helpers.js";

/** The service's warnings about a blocked event loop, by the role that logged them. */
function stalls(s: Served): Array<{ role: string; blockedMs: number }> {
  return s
    .stdout()
    .split("\n")
    .filter((l) => l.includes("event loop was blocked"))
    .map((l) => JSON.parse(l) as { role: string; blockedMs: number });
}

/** The processes whose parent is `pid` (from /proc: no procps needed). */
function children(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so after the last ")".
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** Stops `pid` for `ms`, then lets it run again. */
async function pause(pid: number, ms: number): Promise<void> {
  process.kill(pid, "SIGSTOP");
  try {
    await sleep(ms);
  } finally {
    process.kill(pid, "SIGCONT");
  }
}

/** Waits (at most 10 s) until `ok` holds. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await sleep(100);
}

describe("sigil serve: a blocked event loop is logged", () => {
  const t = tempDir("sigil-stall-");
  const home = join(t.dir, "home");
  let s: Served;

  before(async () => {
    initHome(home);
    s = await startServe(home, ["--workers", "2"]);
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  /** Stops `pid` for 4 s; then the service has logged it, as `role`, and still answers. */
  async function stopsAndSays(pid: number, role: string): Promise<void> {
    await pause(pid, 4000);
    const reported = () =>
      // Late by 3 to 4 s (the pause may begin just after a tick). A loaded machine could
      // add a stall of its own: not counted.
      stalls(s).some((w) => w.role === role && w.blockedMs >= 2900 && w.blockedMs < 60_000);
    await until(reported);
    assert.ok(reported(), JSON.stringify(stalls(s)));
    assert.equal((await get(`${s.url}/healthz`)).status, 200);
  }

  it("the primary, stopped for 4 s, says so once it runs again", async () => {
    await stopsAndSays(s.proc.pid!, "primary");
  });

  it("a worker, stopped for 4 s, says so once it runs again", async () => {
    const workers = children(s.proc.pid!);
    assert.equal(workers.length, 2, "two worker processes");
    await stopsAndSays(workers[0]!, "worker");
  });
});
