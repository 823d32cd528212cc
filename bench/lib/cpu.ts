/**
 * CPU time and peak memory of processes, read from /proc (Linux): the benchmark's waited-for
 * children (a `spawnSync`'d fetchmail and everything it waited for), one running process
 * (`sigil serve`), and a whole process tree (dovecot's master, its live children and the
 * children it has reaped).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of the times in /proc/PID/stat. */
export const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  return Number(r.stdout?.trim()) || 100;
})();

interface Stat {
  ppid: number;
  /** utime + stime, in seconds */
  self: number;
  /** cutime + cstime (children waited for), in seconds */
  children: number;
}

function readStat(pid: number | "self"): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ")".
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state): field n is f[n - 3]
  const n = (i: number) => Number(f[i - 3]);
  return { ppid: n(4), self: (n(14) + n(15)) / CLK_TCK, children: (n(16) + n(17)) / CLK_TCK };
}

/** CPU seconds of this process's children that it has waited for (all of them, so far). */
export function waitedChildrenCpu(): number {
  return readStat("self")?.children ?? NaN;
}

/** CPU seconds (user + system) a running process has used, or NaN when it is gone. */
export function processCpu(pid: number): number {
  return readStat(pid)?.self ?? NaN;
}

/**
 * CPU seconds of the process tree under `root`: every live process's own time plus what
 * each has reaped of its dead children. Call it twice and subtract for an interval.
 */
export function treeCpu(root: number): number {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s) stats.set(Number(name), s);
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
      if (p === root) return true;
      const s = stats.get(p);
      if (!s) return false;
      p = s.ppid;
    }
    return false;
  };
  let total = 0;
  for (const [pid, s] of stats) if (inTree(pid)) total += s.self + s.children;
  return total;
}

/** Peak resident set size of a running process in KiB (VmHWM), or null. */
export function peakRssKb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds the whole machine has spent busy since boot (all cores: /proc/stat's first
 * line less idle and iowait). Call it twice and subtract: less what the measured processes
 * used, that is what other processes took during the interval.
 */
export function machineBusyCpu(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest times are inside user/nice)
  const total = v.slice(0, 8).reduce((a, b) => a + (b || 0), 0);
  return (total - (v[3] ?? 0) - (v[4] ?? 0)) / CLK_TCK;
}
