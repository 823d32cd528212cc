/**
 * The web app's static files (web/, built by Vite into dist/web): read once at start and
 * served from memory, with a strict Content-Security-Policy (no inline script or style, no
 * other origin) and the usual hardening headers. Every page route of the single-page app
 * (`/`, `/status/ID`, `/confirm/TOKEN`, `/ca`, `/admin...`) gets index.html.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** The CSP of every page and asset. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Where the built web app is: SIGIL_WEB_DIR, else `web/` beside the bundle (dist/web). */
export function webDir(): string {
  return process.env.SIGIL_WEB_DIR ?? fileURLToPath(new URL("./web/", import.meta.url));
}

function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set("/" + relative(dir, p).split("\\").join("/"), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Sets the security headers on an answer. */
export function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("referrer-policy", "no-referrer")
    .header("cross-origin-opener-policy", "same-origin");
}

/** Registers the web app's routes; without a built app, its pages say how to build it. */
export function registerWebApp(app: FastifyInstance, dir = webDir()): void {
  const files = existsSync(join(dir, "index.html")) ? readTree(dir) : new Map<string, Buffer>();
  const index = files.get("/index.html");
  const page = async (_req: unknown, reply: FastifyReply) => {
    securityHeaders(reply).header("cache-control", "no-cache");
    if (!index)
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send("the web app is not built: run 'npm run build'\n");
    return reply.type(TYPES[".html"]!).send(index);
  };
  for (const url of ["/", "/ca", "/admin", "/admin/*", "/status/:id", "/confirm/:token"]) app.get(url, page);
  app.get<{ Params: { "*": string } }>("/assets/*", async (req, reply) => {
    const f = files.get("/assets/" + req.params["*"]);
    securityHeaders(reply);
    if (!f) return reply.code(404).type("text/plain; charset=utf-8").send("not found\n");
    // Vite names assets by content hash: they never change.
    return reply
      .header("cache-control", "public, max-age=31536000, immutable")
      .type(TYPES[extname(req.params["*"])] ?? "application/octet-stream")
      .send(f);
  });
  for (const [path, data] of files)
    if (!path.startsWith("/assets/") && path !== "/index.html" && !path.includes("/", 1))
      app.get(path, async (_req, reply) =>
        securityHeaders(reply)
          .header("cache-control", "public, max-age=3600")
          .type(TYPES[extname(path)] ?? "application/octet-stream")
          .send(data),
      );
}
