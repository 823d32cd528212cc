/**
 * Starting and stopping `sigil serve` in tests, and small HTTP helpers.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { request as httpRequest } from "node:http";
import { BIN, PASS, tool, type Run } from "./helpers.js";
import { dirname } from "node:path";

/** A running `sigil serve`. */
export interface Served {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The admin API's addresses from the banner (unix:PATH, https://HOST:PORT). */
  admin: string[];
  proc: ChildProcess;
  /** Everything the service wrote so far. */
  stdout: () => string;
  stderr: () => string;
  /** The last lines the service wrote (stderr, then its stdout log), for a failure's message. */
  logTail: (chars?: number) => string;
  /** SIGTERM, then waits for the exit; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/** Starts `sigil serve --listen 127.0.0.1:0 ARGS` and waits for its banner. */
export async function startServe(
  home: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
  command: string[] = [process.execPath, BIN, "serve"],
): Promise<Served> {
  const e: Record<string, string | undefined> = {
    ...process.env,
    SIGIL_HOME: home,
    SIGIL_PASSPHRASE: PASS,
    ...env,
  };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  // No admin TLS listener unless a test asks for one (--admin-listen 127.0.0.1:0): the
  // default port would collide between tests running at once.
  const admin = args.includes("--admin-listen") ? [] : ["--admin-listen", "off"];
  const proc = spawn(command[0]!, [...command.slice(1), "--listen", "127.0.0.1:0", ...admin, ...args], {
    env: e as NodeJS.ProcessEnv,
    cwd: dirname(home),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  let signal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((resolve) =>
    proc.once("exit", (code, sig) => {
      signal = sig;
      resolve(code);
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 30 s: ${err}`)), 30_000);
    const check = () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stderr!.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code} before listening: ${err}`));
    });
  });
  return {
    url,
    admin: [...err.matchAll(/admin API (\S+)/g)].map((m) => m[1]!),
    proc,
    stdout: () => out,
    stderr: () => err,
    logTail: (chars = 4000) =>
      `sigil serve stderr ends:\n${err.slice(-chars)}\nsigil serve stdout ends:\n${out.slice(-chars)}`,
    stop: async () => {
      // A test that killed the service itself (proc.kill) expects no exit code.
      const killedByTest = proc.killed || proc.signalCode !== null;
      if (proc.exitCode === null && !killedByTest) proc.kill("SIGTERM");
      let killed = false;
      const t = setTimeout(() => {
        killed = true;
        proc.kill("SIGKILL");
      }, 15_000);
      const code = await exited;
      clearTimeout(t);
      // A service that does not stop on SIGTERM (or dies of a signal) says so, with its last
      // words, instead of a bare "null !== 0".
      if (code === null && !killedByTest)
        throw new Error(
          `serve ${killed ? "did not stop within 15 s of SIGTERM (killed)" : `died of ${signal}`}; stderr ends: ${err.slice(-2000)}`,
        );
      return code;
    },
  };
}

/** The responseStatus of a DER OCSPResponse (RFC 6960 §4.2.1), by name. */
export function ocspResponseStatus(der: Buffer): string {
  const names = [
    "successful",
    "malformedRequest",
    "internalError",
    "tryLater",
    "?4",
    "sigRequired",
    "unauthorized",
  ];
  // SEQUENCE { ENUMERATED status, ... }: the ENUMERATED is the first element.
  const lenBytes = der[1]! & 0x80 ? 1 + (der[1]! & 0x7f) : 1;
  const p = 1 + lenBytes;
  if (der[0] !== 0x30 || der[p] !== 0x0a || der[p + 1] !== 1)
    throw new Error(`not an OCSPResponse: ${der.toString("hex").slice(0, 40)}`);
  return names[der[p + 2]!] ?? `?${der[p + 2]}`;
}

/** POSTs bytes to a URL and returns status, headers and body. */
export async function post(
  url: string,
  body: Buffer | string,
  contentType = "application/ocsp-request",
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const r = await fetch(url, { method: "POST", body, headers: { "content-type": contentType } });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

/** GETs a URL. */
export async function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const r = await fetch(url, { headers });
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
}

/** An admin API answer. */
export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/**
 * Calls the admin API: `where` is the admin socket (`unix:PATH` or a bare path) or a base
 * URL (`http://127.0.0.1:PORT`, the public listener on loopback).
 */
export function adminCall(
  where: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const target = /^https?:/.test(where)
    ? (() => {
        const u = new URL(where);
        return { host: u.hostname, port: Number(u.port) };
      })()
    : { socketPath: where.replace(/^unix:/, "") };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...target,
        path,
        method,
        headers: {
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          ...(payload
            ? { "content-type": "application/json", "content-length": String(payload.length) }
            : {}),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Makes a token of `role` named `name` in `home`, starts `sigil serve` with the admin API
 * on its Unix socket, and returns the service and the environment that makes the CLI a
 * remote client under that token (SIGIL_SERVER, SIGIL_TOKEN).
 */
export async function serveWithToken(
  home: string,
  role: "operator" | "security" | "auditor",
  name: string,
): Promise<{ served: Served; env: Record<string, string> }> {
  const made = spawnSync(
    process.execPath,
    [BIN, "admin", "token", "create", "--role", role, "--name", name],
    {
      env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
      encoding: "utf8",
    },
  );
  if (made.status !== 0) throw new Error(`token create: ${made.stderr}`);
  const served = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"]);
  const socket = served.admin.find((a) => a.startsWith("unix:"));
  if (!socket) throw new Error(`no admin socket: ${served.stderr()}`);
  return { served, env: { SIGIL_SERVER: socket, SIGIL_TOKEN: made.stdout.trim() } };
}

/**
 * `openssl ocsp` against a running service, as a relying party would: `target` is a
 * certificate file, or a serial (`0x...`) for `-serial`; the answer is verified against
 * `root` (the issuer `issuer` and its responder certificate chain to it).
 */
export function ocspQuery(
  s: Pick<Served, "url">,
  issuer: string,
  root: string,
  target: string,
  extra: string[] = [],
): Run {
  return tool("openssl", [
    "ocsp",
    "-issuer",
    issuer,
    ...(target.startsWith("0x") ? ["-serial", target] : ["-cert", target]),
    "-url",
    `${s.url}/ocsp`,
    "-CAfile",
    root,
    "-no_nonce",
    ...extra,
  ]);
}
