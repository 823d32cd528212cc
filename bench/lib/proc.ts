/**
 * Running and timing child processes for the benchmarks: wall time around `spawnSync`,
 * peak RSS through `/usr/bin/time -v` when it is installed (nothing is installed for it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";

/** What a finished child process left. */
export interface RunResult {
  /** Wall time in milliseconds, measured around the spawn. */
  ms: number;
  status: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link run}. */
export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Throw when the exit status is not 0 (default true). */
  check?: boolean;
}

/** Runs `cmd args` to completion, timing it; throws with stderr when it fails (unless check is false). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): RunResult {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  const res: RunResult = { ms, status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if ((opts.check ?? true) && res.status !== 0)
    throw new Error(
      `${cmd} ${args.slice(0, 6).join(" ")}${args.length > 6 ? " ..." : ""} exited ${res.status}: ${res.stderr.trim().slice(0, 2000)}`,
    );
  return res;
}

/** True when GNU time is available for peak-RSS measurement. */
export const HAVE_GNU_TIME = existsSync("/usr/bin/time");

/** A run with its peak resident set size. */
export interface MeasuredRun extends RunResult {
  /** Peak RSS in KiB (GNU time "Maximum resident set size"), or null without /usr/bin/time. */
  maxRssKb: number | null;
}

/** Runs `cmd args` under `/usr/bin/time -v` (when present) to learn its peak RSS. */
export function runMeasured(cmd: string, args: string[], opts: RunOptions = {}): MeasuredRun {
  if (!HAVE_GNU_TIME) return { ...run(cmd, args, opts), maxRssKb: null };
  const report = join(tmpdir(), `bench-time-${randomBytes(6).toString("hex")}.txt`);
  try {
    const r = run("/usr/bin/time", ["-v", "-o", report, cmd, ...args], opts);
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(readFileSync(report, "utf8"));
    return { ...r, maxRssKb: m ? Number(m[1]) : null };
  } finally {
    rmSync(report, { force: true });
  }
}

/** Summary of repeated timings. */
export interface Timings {
  n: number;
  meanMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/** Mean, median, min and max of `ms`. */
export function summarize(ms: number[]): Timings {
  const s = [...ms].sort((a, b) => a - b);
  const n = s.length;
  const median = n === 0 ? NaN : n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return {
    n,
    meanMs: n ? s.reduce((a, b) => a + b, 0) / n : NaN,
    medianMs: median,
    minMs: s[0] ?? NaN,
    maxMs: s[n - 1] ?? NaN,
  };
}

/** Runs `make(i)` `n` times, one process after the other, and summarizes the wall times. */
export function timeProcesses(
  n: number,
  make: (i: number) => { cmd: string; args: string[]; opts?: RunOptions },
): Timings {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const { cmd, args, opts } = make(i);
    ms.push(run(cmd, args, opts).ms);
  }
  return summarize(ms);
}
