/**
 * The public listener's way to the process that writes the store and holds the keys: the
 * portal and admin API calls are passed, as they came, to the primary's backend socket (a
 * Unix socket, mode 0600, in the data folder or SIGIL_BACKEND_SOCKET), with the client's
 * address added. Workers keep a read-only store and no keys.
 *
 * The admin API goes through here only when the public listener is on loopback (a TLS
 * proxy in front) or `web.adminOnPublic` says so: tokens must not cross a network in clear.
 */
import { request } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CLIENT_HEADER, PORTAL_BODY_LIMIT } from "./portal.js";
import { ACME_BODY_LIMIT, HOST_HEADER } from "../acme/server.js";

const FORWARD_REQUEST = ["authorization", "cookie", "content-type", "x-csrf-token", "accept"];
const FORWARD_RESPONSE = [
  "content-type",
  "set-cookie",
  "content-disposition",
  "www-authenticate",
  "cache-control",
  // ACME (RFC 8555 §6.5, §7.1, §7.4): nonces, resource URLs, links, polling hints.
  "replay-nonce",
  "location",
  "link",
  "retry-after",
];

/** Options of {@link registerBackendProxy}. */
export interface ProxyOptions {
  /** The backend's Unix socket. */
  socketPath: string;
  /** Whether `/api/v1/admin/...` may be reached through this listener. */
  adminAllowed: boolean;
}

function forward(req: FastifyRequest, reply: FastifyReply, socketPath: string): Promise<FastifyReply> {
  // The client's address, and the Host it used (ACME URLs are absolute, RFC 8555 §7.1).
  const headers: Record<string, string> = { [CLIENT_HEADER]: req.ip, [HOST_HEADER]: req.headers.host ?? "" };
  for (const h of FORWARD_REQUEST) {
    const v = req.headers[h];
    if (typeof v === "string") headers[h] = v;
  }
  const body = Buffer.isBuffer(req.body) ? req.body : undefined;
  if (body) headers["content-length"] = String(body.length);
  return new Promise((resolve) => {
    const up = request({ socketPath, path: req.url, method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        for (const h of FORWARD_RESPONSE) {
          const v = res.headers[h];
          if (v !== undefined) void reply.header(h, v);
        }
        resolve(reply.code(res.statusCode ?? 502).send(Buffer.concat(chunks)));
      });
      res.on("error", () => resolve(unavailable(req, reply)));
    });
    up.setTimeout(120_000, () => up.destroy(new Error("backend timed out")));
    up.on("error", () => resolve(unavailable(req, reply)));
    up.end(body);
  });
}

function unavailable(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  // ACME clients read problem documents (RFC 8555 §6.7) and honour Retry-After.
  if (req.url.startsWith("/acme/"))
    return reply.code(503).header("retry-after", "5").type("application/problem+json").send({
      type: "urn:ietf:params:acme:error:serverInternal",
      detail: "the service is starting or stopping: try again",
      status: 503,
    });
  return reply
    .code(503)
    .type("application/json")
    .send({ error: { code: "unavailable", message: "the service is starting or stopping: try again" } });
}

/** Registers the portal and admin API routes that pass through to the backend. */
export function registerBackendProxy(app: FastifyInstance, opts: ProxyOptions): void {
  // Bodies are passed on as bytes, not parsed here.
  app.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: PORTAL_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );
  app.addContentTypeParser(
    "application/jose+json",
    { parseAs: "buffer", bodyLimit: ACME_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );
  const portal = (req: FastifyRequest, reply: FastifyReply) => forward(req, reply, opts.socketPath);
  const admin = (req: FastifyRequest, reply: FastifyReply) =>
    opts.adminAllowed
      ? forward(req, reply, opts.socketPath)
      : reply.code(403).send({
          error: {
            code: "forbidden",
            message:
              "the admin API is not offered on this listener (it is not loopback): use the admin listener (admin.listen, TLS), or set web.adminOnPublic behind a TLS proxy",
          },
        });
  for (const method of ["GET", "POST", "DELETE"] as const) {
    app.route({ method, url: "/api/v1/portal/*", bodyLimit: PORTAL_BODY_LIMIT, handler: portal });
    app.route({ method, url: "/api/v1/admin/*", bodyLimit: PORTAL_BODY_LIMIT, handler: admin });
  }
  // ACME: every CA's directory, nonces and JWS POSTs (RFC 8555), served by the backend.
  for (const method of ["GET", "POST"] as const)
    app.route({ method, url: "/acme/*", bodyLimit: ACME_BODY_LIMIT, handler: portal });
}
