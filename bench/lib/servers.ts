/**
 * Long-running children of bench/ocsp: the servers under load (`sigil serve`, `openssl
 * ocsp`, a private nginx), wrk, and the RSS sampler. Every child is tracked so that it is
 * stopped on every way out: normal end, an error, SIGINT/SIGTERM of the benchmark.
 * Servers run in their own process group (`detached`), so one signal reaches a server's
 * workers too; only groups this module started are ever signalled.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The wrk script (next to this file). */
export const WRK_LUA = join(dirname(fileURLToPath(import.meta.url)), "wrk-ocsp.lua");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Children still running: process-group leaders (servers) and plain children (wrk). */
const running = new Map<number, { child: ChildProcess; group: boolean; name: string }>();

/** Kills everything still running at once (SIGKILL); for the exit paths. Synchronous. */
export function killAll(): void {
  for (const [pid, r] of running) {
    if (r.group) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // no such group (yet): the process alone
      }
    }
    try {
      r.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  running.clear();
}

let handlersInstalled = false;
/** On exit, SIGINT, SIGTERM and SIGHUP: kill every child, then leave. */
export function installCleanup(onSignal?: () => void): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping every server started\n`);
      killAll();
      onSignal?.();
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
    });
}

/** A started server. */
export interface Server {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last 64 KiB of its stdout and stderr. */
  output(): string;
  exited: Promise<number | null>;
  /** Whether it has exited. */
  done(): boolean;
  /** Milliseconds from spawn until ready. */
  readyMs: number;
}

/**
 * Spawns `cmd args` in its own process group, collecting its output (pipes are always read,
 * so a chatty server never blocks on a full pipe). `makesOwnGroup`: the program calls
 * setpgid itself, which fails in a new session (`openssl ocsp -multi` exits 1 when it
 * cannot), so it is not detached here.
 */
export function spawnServer(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; makesOwnGroup?: boolean } = {},
): Server {
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    detached: !opts.makesOwnGroup,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const pid = child.pid;
  running.set(pid, { child, group: true, name });
  let out = "";
  const keep = (b: Buffer) => {
    out += b.toString("utf8");
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let isDone = false;
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      isDone = true;
      resolve(code);
    });
    child.on("error", (e) => {
      keep(Buffer.from(`\nspawn error: ${e.message}\n`));
      isDone = true;
      resolve(null);
    });
  });
  return { name, pid, child, output: () => out, exited, done: () => isDone, readyMs: NaN };
}

/** True while some process of group `pgid` exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops a server: SIGTERM to the leader (`leader`: it stops its own workers, as `sigil
 * serve` and nginx do) or to the whole group (`group`: openssl ocsp's parent waits for
 * its children before it looks at signals). Then waits for the group to be empty;
 * SIGKILL to the group after `graceMs`.
 */
export async function stopServer(s: Server, how: "leader" | "group", graceMs = 15_000): Promise<void> {
  try {
    if (!s.done()) process.kill(how === "group" ? -s.pid : s.pid, "SIGTERM");
  } catch {
    // already gone
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until && (!s.done() || groupAlive(s.pid))) await sleep(50);
  if (!s.done() || groupAlive(s.pid)) {
    try {
      process.kill(-s.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
    await Promise.race([s.exited, sleep(5000)]);
  }
  running.delete(s.pid);
}

/** Resolves when `test` (polled every `everyMs`) is true; rejects when the server exits or after `timeoutMs`. */
export async function waitUntil(
  s: Server,
  what: string,
  test: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (s.done()) throw new Error(`${s.name} exited before ${what}:\n${s.output().slice(-3000)}`);
    if (await test()) return;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${s.name}: no ${what} after ${timeoutMs / 1000} s:\n${s.output().slice(-3000)}`);
    await sleep(everyMs);
  }
}

/** Whether TCP `port` can be bound on every address (as `openssl ocsp -port` binds). */
export async function portFree(port: number): Promise<boolean> {
  const tryListen = (host: string) =>
    new Promise<boolean | "no-host">((resolve) => {
      const srv = createServer();
      srv.once("error", (e: NodeJS.ErrnoException) =>
        resolve(e.code === "EADDRNOTAVAIL" || e.code === "EAFNOSUPPORT" ? "no-host" : false),
      );
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
    });
  const v6 = await tryListen("::");
  if (v6 !== "no-host") return v6;
  return (await tryListen("0.0.0.0")) === true;
}

/** POSTs `bodyFile` as application/ocsp-request with curl; the status and the response bytes in `outFile`. */
export function curlPost(url: string, bodyFile: string, outFile: string, timeoutS = 10): number {
  const r = spawnSync(
    "curl",
    [
      "-sS",
      "--max-time",
      String(timeoutS),
      "-o",
      outFile,
      "-w",
      "%{http_code}",
      "-H",
      "Content-Type: application/ocsp-request",
      "--data-binary",
      `@${bodyFile}`,
      url,
    ],
    { encoding: "utf8" },
  );
  return Number(r.stdout.trim()) || 0;
}

// ------------------------------------------------------------------------------------
// The servers
// ------------------------------------------------------------------------------------

/** Starts `sigil serve` and waits for its banner ("listening on http://..."). */
export async function startSigil(
  sigilBin: string,
  env: NodeJS.ProcessEnv,
  port: number,
  workers: number,
): Promise<Server> {
  const t0 = performance.now();
  const s = spawnServer(
    "sigil serve",
    process.execPath,
    [sigilBin, "serve", "--workers", String(workers), "--listen", `127.0.0.1:${port}`],
    { env },
  );
  await waitUntil(s, "banner", () => /listening on http:\/\//.test(s.output()), 120_000);
  s.readyMs = performance.now() - t0;
  return s;
}

/** What `openssl ocsp` needs to answer for one CA. */
export interface OpensslResponder {
  index: string;
  caPem: string;
  signerPem: string;
  signerKey: string;
}

/**
 * Starts `openssl ocsp -index ... -port PORT -multi N` and waits until it answers `probe`
 * (it binds every address: OpenSSL 3.0's -port takes a port number only).
 */
export async function startOpenssl(
  r: OpensslResponder,
  port: number,
  multi: number,
  probe: { body: string; out: string },
  cwd: string,
): Promise<Server> {
  const t0 = performance.now();
  const s = spawnServer(
    "openssl ocsp",
    "openssl",
    [
      "ocsp",
      "-index",
      r.index,
      "-port",
      String(port),
      "-rsigner",
      r.signerPem,
      "-rkey",
      r.signerKey,
      "-CA",
      r.caPem,
      "-resp_key_id",
      "-nmin",
      "5",
      "-multi",
      String(multi),
    ],
    { cwd, makesOwnGroup: true },
  );
  await waitUntil(
    s,
    "answer",
    () => curlPost(`http://127.0.0.1:${port}/ocsp`, probe.body, probe.out, 5) === 200,
    600_000,
    200,
  );
  s.readyMs = performance.now() - t0;
  return s;
}

/**
 * Starts a private nginx (its own config, pid file, logs and temp paths in `dir`, no
 * daemon, listening on 127.0.0.1:PORT only) that answers POST /ocsp with the file
 * `dir/www/ocsp` as application/ocsp-response. The static module refuses POST with 405;
 * `error_page 405 =200 $uri` turns that into an internal GET of the same file, answered 200.
 * `dir` must be readable by nginx's workers (user nobody when started as root).
 */
export async function startNginx(
  dir: string,
  port: number,
  workers: number,
  answer: Buffer,
  probe: { body: string; out: string },
): Promise<Server> {
  mkdirSync(join(dir, "www"), { recursive: true });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "www"), 0o755);
  writeFileSync(join(dir, "www", "ocsp"), answer, { mode: 0o644 });
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `# bench/ocsp: a private nginx serving one pre-signed OCSP answer as a static file.
daemon off;
master_process on;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    root ${dir}/www;
    location = /ocsp {
      types { }
      default_type application/ocsp-response;
      # POST to a static file is 405; serve the file instead (internal GET).
      error_page 405 =200 $uri;
    }
  }
}
`,
  );
  const t0 = performance.now();
  const s = spawnServer("nginx", "nginx", ["-p", dir, "-c", conf, "-e", join(dir, "error.log")]);
  await waitUntil(
    s,
    "answer",
    () => curlPost(`http://127.0.0.1:${port}/ocsp`, probe.body, probe.out, 5) === 200,
    30_000,
    100,
  );
  s.readyMs = performance.now() - t0;
  return s;
}

// ------------------------------------------------------------------------------------
// RSS
// ------------------------------------------------------------------------------------

/** VmRSS of `pid` in KiB, or undefined when it is gone. */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `pid` and its children (`pgrep -P`). */
export function processTree(pid: number): number[] {
  const r = spawnSync("pgrep", ["-P", String(pid)], { encoding: "utf8" });
  return [
    pid,
    ...r.stdout
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .filter((n) => n > 0),
  ];
}

/** Largest RSS seen. */
export interface RssPeak {
  /** The largest RSS of any one process, KiB. */
  maxSingleKb: number;
  /** The largest sum over the processes at one sampling instant, KiB. */
  maxSumKb: number;
  /** Processes sampled. */
  processes: number;
  samples: number;
}

/** Samples the RSS of `pids` every `everyMs` until stopped. */
export function sampleRss(pids: number[], everyMs = 200): { stop(): RssPeak } {
  const peak: RssPeak = { maxSingleKb: 0, maxSumKb: 0, processes: pids.length, samples: 0 };
  const tick = () => {
    let sum = 0;
    for (const p of pids) {
      const r = rssKb(p) ?? 0;
      sum += r;
      if (r > peak.maxSingleKb) peak.maxSingleKb = r;
    }
    if (sum > peak.maxSumKb) peak.maxSumKb = sum;
    peak.samples++;
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(t);
      tick();
      return peak;
    },
  };
}

/** Merges peaks (the larger of each). */
export function maxPeak(a: RssPeak | undefined, b: RssPeak): RssPeak {
  if (!a) return b;
  return {
    maxSingleKb: Math.max(a.maxSingleKb, b.maxSingleKb),
    maxSumKb: Math.max(a.maxSumKb, b.maxSumKb),
    processes: Math.max(a.processes, b.processes),
    samples: a.samples + b.samples,
  };
}

// ------------------------------------------------------------------------------------
// wrk
// ------------------------------------------------------------------------------------

/** What one wrk run measured (from the script's done() line). */
export interface WrkResult {
  requests: number;
  seconds: number;
  perSec: number;
  bytes: number;
  /** Latency percentiles and mean, ms. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Socket errors (connect, read, write, timeout). */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** Responses that were not 2xx/3xx (wrk's count). */
  non2xx: number;
  /** With the check on: responses inspected, and those not 200 + ocsp-response + successful. */
  checked: number;
  failed: number;
  /** Distinct requests cycled through. */
  bodies: number;
  /** The 1-minute load average when the run started. */
  load1: number;
  /** wrk's own summary text, for the log. */
  text: string;
}

/** Runs wrk against `url` with the OCSP script; resolves when it is done. */
export async function runWrk(o: {
  url: string;
  bodiesFile: string;
  seconds: number;
  connections: number;
  threads: number;
  check?: boolean;
  load1: number;
}): Promise<WrkResult> {
  const args = [
    "-t",
    String(o.threads),
    "-c",
    String(o.connections),
    "-d",
    `${o.seconds}s`,
    "--timeout",
    "5s",
    "--latency",
    "-s",
    WRK_LUA,
    o.url,
  ];
  const child = spawn("wrk", args, {
    env: {
      ...process.env,
      OCSP_BODIES: o.bodiesFile,
      OCSP_THREADS: String(o.threads),
      OCSP_CHECK: o.check ? "1" : "0",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid === undefined) throw new Error("could not start wrk");
  running.set(child.pid, { child, group: false, name: "wrk" });
  let out = "";
  child.stdout!.on("data", (b: Buffer) => (out += b.toString("utf8")));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString("utf8")));
  const code = await new Promise<number | null>((resolve) => {
    child.on("exit", (c) => resolve(c));
    child.on("error", () => resolve(null));
  });
  running.delete(child.pid);
  const line = out.split("\n").find((l) => l.startsWith("OCSPBENCH "));
  if (code !== 0 || !line)
    throw new Error(`wrk ${args.join(" ")} failed (exit ${code}):\n${out.slice(-3000)}`);
  const j = JSON.parse(line.slice("OCSPBENCH ".length)) as Record<string, number>;
  const seconds = j.durationUs! / 1e6;
  return {
    requests: j.requests!,
    seconds,
    perSec: j.requests! / seconds,
    bytes: j.bytes!,
    p50Ms: j.p50! / 1000,
    p90Ms: j.p90! / 1000,
    p99Ms: j.p99! / 1000,
    maxMs: j.max! / 1000,
    meanMs: j.mean! / 1000,
    socketErrors: { connect: j.connect!, read: j.read!, write: j.write!, timeout: j.timeout! },
    non2xx: j.status!,
    checked: j.checked!,
    failed: j.failed!,
    bodies: j.bodies!,
    load1: o.load1,
    text: out.replace(/^OCSPBENCH .*\n?/m, "").trim(),
  };
}
