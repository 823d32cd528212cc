/**
 * The daemon's listen addresses: parsing HOST:PORT, and the one-line error for a listener
 * that cannot start (which listener, where, why, and the flag or setting that moves it).
 */
import type { Server as NetServer } from "node:net";
import { ErrorCodes, SigilError } from "../errors.js";

/** A listener's address. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses HOST:PORT, [V6]:PORT or PORT. */
export function parseListen(s: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(s) ?? /^()()(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535))
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad --listen ${JSON.stringify(s)}: give HOST:PORT, e.g. 127.0.0.1:8080`,
    );
  return { host: m[1] || m[2] || "127.0.0.1", port };
}

/** True for a loopback host (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Why a listen failed, in words, by the system error's code. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no such address on this machine",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the host name could not be resolved",
};

/** The hint of {@link listenError} for the public listener (OCSP, CRLs, CA certificates, portal, ACME, metrics). */
export const PUBLIC_LISTEN_HINT = "use --listen HOST:PORT or serve.listen in sigil.json";
/** The hint of {@link listenError} for the admin API's TCP listener. */
export const ADMIN_LISTEN_HINT = "use --admin-listen HOST:PORT or off, or admin.listen in sigil.json";

/**
 * The one-line error for a listener that could not start: which listener, where, why, and
 * the flag or setting that moves it (`hint`). Errors that are not a failed listen (no
 * system error code) are returned unchanged.
 */
export function listenError(e: unknown, what: string, listen: ListenAddress, hint: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !/^E[A-Z_]+$/.test(code)) return e;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  const why = LISTEN_FAILURES[code] ?? (e as Error).message;
  const message = `cannot listen on ${host}:${listen.port} for ${what}: ${why} (${hint})`;
  return new SigilError(ErrorCodes.CONFIG, message, { cause: e });
}

/** A bound server's address as HOST:PORT ([V6]:PORT). */
export function serverAddress(a: ReturnType<NetServer["address"]>): string {
  if (!a || typeof a === "string") return String(a);
  return a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
