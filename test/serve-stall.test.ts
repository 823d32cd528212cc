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

  it("the primary, stopped for 4 s, says so once it runs again", async () => {
    await pause(s.proc.pid!, 4000);
    await until(() => stalls(s).some((w) => w.role === "primary"));
    // The 4 s pause: late by 3 to 4 s (it may begin just after a tick). A loaded machine
    // could add a stall of its own: not counted.
    const w = stalls(s).filter((x) => x.role === "primary");
    assert.ok(
      w.some((x) => x.blockedMs >= 2900 && x.blockedMs < 60_000),
      JSON.stringify(w),
    );
    assert.equal((await get(`${s.url}/healthz`)).status, 200);
  });

  it("a worker, stopped for 4 s, says so once it runs again", async () => {
    const workers = children(s.proc.pid!);
    assert.equal(workers.length, 2, "two worker processes");
    await pause(workers[0]!, 4000);
    await until(() => stalls(s).some((w) => w.role === "worker"));
    // The 4 s pause: late by 3 to 4 s (it may begin just after a tick). A loaded machine
    // could add a stall of its own: not counted.
    const w = stalls(s).filter((x) => x.role === "worker");
    assert.ok(
      w.some((x) => x.blockedMs >= 2900 && x.blockedMs < 60_000),
      JSON.stringify(w),
    );
    assert.equal((await get(`${s.url}/healthz`)).status, 200);
  });
});
