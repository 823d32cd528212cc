/**
 * The CLI as a client of the admin API: with `--server URL` (or SIGIL_SERVER) an operator
 * signs, approves, revokes and lists through `sigil serve` and never needs read access to
 * the data folder. URL: `unix:/path/to/admin.sock`, `https://host:8443`, or `http://` to a
 * loopback address only (a token never crosses a network in clear). The token comes from
 * SIGIL_TOKEN or `--token-file`; the server's CA from `--ca-file` / SIGIL_CA_FILE.
 */
import { request as httpRequest } from "node:http";
import { connect as netConnect } from "node:net";
import { readFile, stat } from "node:fs/promises";
import type { PeerCertificate } from "node:tls";
import { EkuOid } from "../x509/oids.js";
import { ErrorCodes, SigilError, type ErrorCode } from "../errors.js";

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Options of every command that can talk to a server. */
export interface RemoteOptions {
  server?: string;
  tokenFile?: string;
  caFile?: string;
  /**
   * Set when the server is this data folder's own running service (cli/local-service.ts):
   * its home, whose files (published CRLs) it writes; the output names them as the local
   * command does.
   */
  serviceHome?: string;
  /** A token already read (the home's CLI credential), instead of --token-file/SIGIL_TOKEN. */
  bearer?: string;
  /** Told of every answer the server gives: HTTP status and error code (if any). */
  onAnswer?: (status: number, code: string | undefined) => void;
}

/** The server URL, when the command is to run remotely (`--server`, else SIGIL_SERVER). */
export function remoteTarget(opts: RemoteOptions): string | undefined {
  const s = opts.server ?? process.env.SIGIL_SERVER;
  return s === undefined || s === "" ? undefined : s;
}

async function token(opts: RemoteOptions): Promise<string | undefined> {
  if (opts.tokenFile) {
    let st;
    try {
      st = await stat(opts.tokenFile);
    } catch {
      throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `token file ${opts.tokenFile} not found`);
    }
    if ((st.mode & 0o077) !== 0)
      process.stderr.write(
        `sigil: warning: token file ${opts.tokenFile} is readable by others (chmod 600 it)\n`,
      );
    return (await readFile(opts.tokenFile, "utf8")).trim();
  }
  const env = process.env.SIGIL_TOKEN;
  return env === undefined || env === "" ? undefined : env.trim();
}

/** Marks the refusal of a server certificate of the wrong kind. */
const NOT_ADMIN = "ERR_SIGIL_NOT_ADMIN_SERVER";

/**
 * `checkServerIdentity` for the admin API: the host name check of node:tls (RFC 6125),
 * then the leaf must carry Sigil's admin-server purpose (only `sigil serve` issues it, to
 * its own key, under the internal `admin-tls` profile).
 */
function checkAdminServer(
  checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined,
  host: string,
  cert: PeerCertificate,
): Error | undefined {
  const e = checkServerIdentity(host, cert);
  if (e) return e;
  if (!Array.isArray(cert.ext_key_usage) || !cert.ext_key_usage.includes(EkuOid.sigilAdminServer))
    return Object.assign(new Error("not Sigil's admin certificate"), { code: NOT_ADMIN });
  return undefined;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

/**
 * Calls the admin API: `method path` with an optional JSON body; returns the JSON answer.
 * An error answer becomes a SigilError with the server's code and one-line message.
 */
export async function api<T = Record<string, unknown>>(
  opts: RemoteOptions,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  const server = remoteTarget(opts);
  if (!server) throw new SigilError(ErrorCodes.USAGE, "no server: give --server URL or set SIGIL_SERVER");
  const tok = opts.bearer ?? (await token(opts));
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const headers: Record<string, string> = { accept: "application/json" };
  if (tok) headers.authorization = `Bearer ${tok}`;
  if (payload) {
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  let req: ReturnType<typeof httpRequest>;
  const where = server;
  if (server.startsWith("unix:")) {
    // The socket made here, not by an Agent: the Agent would work out a TLS server name
    // from the host (net.isIP's first use compiles a large pattern, ~9 ms of a one-shot
    // command), and one request per process keeps nothing alive anyway.
    const socketPath = server.slice(5);
    req = httpRequest({ path, method, headers, createConnection: () => netConnect(socketPath) });
  } else {
    let url: URL;
    try {
      url = new URL(path, server.endsWith("/") ? server : server + "/");
    } catch {
      throw new SigilError(
        ErrorCodes.USAGE,
        `bad --server ${JSON.stringify(server)}: give unix:PATH or https://HOST:PORT`,
      );
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (url.protocol === "http:") {
      if (!isLoopback(host))
        throw new SigilError(
          ErrorCodes.USAGE,
          `refusing to send an admin token over plain HTTP to ${host}: use https:// (or unix:PATH)`,
        );
      req = httpRequest(url, { method, headers });
    } else if (url.protocol === "https:") {
      const caFile = opts.caFile ?? process.env.SIGIL_CA_FILE;
      let ca: Buffer | undefined;
      if (caFile) {
        try {
          ca = await readFile(caFile);
        } catch {
          throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `CA file ${caFile} not found`);
        }
      }
      const cert = process.env.SIGIL_CLIENT_CERT;
      const key = process.env.SIGIL_CLIENT_KEY;
      // node:https and node:tls are loaded only here (about 5 ms of every other command's start).
      const [{ request: httpsRequest }, { checkServerIdentity }] = await Promise.all([
        import("node:https"),
        import("node:tls"),
      ]);
      req = httpsRequest(url, {
        method,
        headers,
        ...(ca ? { ca } : {}),
        // The chain check trusts every certificate the CA file's hierarchy issued (an ACME
        // host's too): pin the kind as well, Sigil's admin-server purpose (RFC 5280 §4.2.1.12).
        checkServerIdentity: (h: string, c: PeerCertificate) => checkAdminServer(checkServerIdentity, h, c),
        ...(cert && key ? { cert: await readFile(cert), key: await readFile(key) } : {}),
      });
    } else {
      throw new SigilError(
        ErrorCodes.USAGE,
        `bad --server ${JSON.stringify(server)}: give unix:PATH or https://HOST:PORT`,
      );
    }
  }
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    req.setTimeout(120_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.end(payload);
  }).catch((e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    if (err.code === NOT_ADMIN)
      throw new SigilError(
        ErrorCodes.REMOTE,
        `the server at ${where} did not present Sigil's admin certificate (a certificate of another kind from the same CA is not trusted)`,
      );
    const why =
      err.code === "ENOENT" || err.code === "ECONNREFUSED"
        ? "is sigil serve running?"
        : /self[- ]signed|unable to (get|verify)|certificate/i.test(err.message)
          ? "the server's certificate is not trusted: give --ca-file with Sigil's root certificate"
          : err.message;
    // Refused before a connection existed: the server saw nothing of this call.
    const unreached =
      err.syscall === "connect" && ["ENOENT", "ECONNREFUSED", "EACCES"].includes(err.code ?? "");
    throw new SigilError(ErrorCodes.REMOTE, `cannot reach the admin API at ${where}: ${why}`, {
      details: { unreached },
    });
  });
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    opts.onAnswer?.(status, undefined);
    throw new SigilError(ErrorCodes.REMOTE, `the admin API at ${where} answered HTTP ${status} without JSON`);
  }
  const answered = (json as { error?: { code?: unknown } } | null)?.error?.code;
  opts.onAnswer?.(status, typeof answered === "string" ? answered : undefined);
  if (status >= 200 && status < 300) return json as T;
  const e = (json as { error?: { code?: string; message?: string } }).error;
  const code = (
    e?.code && KNOWN_CODES.has(e.code) && e.code !== ErrorCodes.INTERNAL ? e.code : ErrorCodes.REMOTE
  ) as ErrorCode;
  throw new SigilError(code, e?.message ?? `the admin API answered HTTP ${status}`, { details: { status } });
}
