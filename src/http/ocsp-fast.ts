/**
 * The OCSP hot path of the public listener, answered before fastify's routing, hooks and
 * reply machinery (about half of a cached answer's cost there): POST /ocsp with Content-Type
 * application/ocsp-request and a Content-Length within the cap (RFC 6960 Appendix A.1), and
 * GET /ocsp/{url-encoded base64 of the DER request} (RFC 5019 §5). Everything else about
 * /ocsp (other media types, chunked or oversized bodies, HEAD, query strings, a service
 * shutting down) is left to fastify's routes in http/server.ts, which answer it as before.
 * The answers, headers and metrics are the same on both paths.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { OcspAnswer, OcspAnswers } from "../authority/ocsp-answers.js";
import { errorAnswer } from "../authority/ocsp-answers.js";
import { MAX_OCSP_REQUEST_BYTES } from "../x509/ocsp.js";

/** The media type of OCSP answers (RFC 6960 Appendix A.1). */
export const OCSP_RESPONSE = "application/ocsp-response";

/** What the fast path needs from the listener. */
export interface OcspFastDeps {
  answers: OcspAnswers;
  clock: () => number;
  maxAgeSeconds: number;
  /** Counts one answer as fastify's hooks count a routed one (route, method, status, seconds, outcome). */
  record: (route: string, method: string, status: number, seconds: number, outcome: string) => void;
  /** Logs a fault (never the request's bytes). */
  fault: (e: unknown) => void;
  /** The DER request a GET path carries (server.ts decodeGetPath), or undefined when malformed. */
  decodeGetPath: (url: string) => Buffer | undefined;
}

/** RFC 5019 §6.2 caching headers for an answer: max-age capped by nextUpdate, ETag, dates. */
export function cacheHeaders(a: OcspAnswer, now: number, maxAgeSeconds: number): Record<string, string> {
  if (!a.cache) return { "cache-control": "no-store" };
  const left = Math.floor((a.cache.nextUpdate - now) / 1000);
  const maxAge = Math.max(0, Math.min(maxAgeSeconds, left));
  return {
    "cache-control": `max-age=${maxAge}, public, no-transform, must-revalidate`,
    "last-modified": a.cache.lastModified,
    expires: a.cache.expires,
    etag: a.cache.etag,
  };
}

/**
 * A request listener step: answers the requests described above and returns true, or
 * returns false (having touched nothing) so that fastify handles the request.
 */
export function ocspFastPath(deps: OcspFastDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const send = (
    res: ServerResponse,
    route: string,
    method: string,
    started: number,
    a: OcspAnswer,
    notModified = false,
  ) => {
    const headers = cacheHeaders(a, deps.clock(), deps.maxAgeSeconds);
    if (notModified) {
      res.writeHead(304, headers).end();
    } else {
      headers["content-type"] = OCSP_RESPONSE;
      headers["content-length"] = String(a.der.length);
      res.writeHead(200, headers).end(a.der);
    }
    deps.record(route, method, res.statusCode, (performance.now() - started) / 1000, a.outcome);
  };
  const answer = (der: Buffer): Promise<OcspAnswer> =>
    deps.answers.answer(der).catch((e: unknown) => {
      // The responder never answers a fault with an HTTP error page (RFC 6960 §2.3).
      deps.fault(e);
      return errorAnswer("internalError");
    });

  return (req, res) => {
    const url = req.url ?? "";
    if (req.method === "POST" && url === "/ocsp") {
      const ct = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      const len = Number(req.headers["content-length"]);
      if (ct !== "application/ocsp-request" || !Number.isInteger(len) || len > MAX_OCSP_REQUEST_BYTES)
        return false;
      const started = performance.now();
      const body = Buffer.allocUnsafe(len);
      let at = 0;
      req.on("data", (chunk: Buffer) => {
        // The HTTP parser delivers no more than Content-Length bytes.
        chunk.copy(body, at);
        at += chunk.length;
      });
      req.on("end", () => {
        // An empty body is a malformed request (RFC 6960 §2.3), not a fault.
        void answer(body.subarray(0, at)).then((a) => send(res, "/ocsp", "POST", started, a));
      });
      req.on("error", () => res.destroy());
      return true;
    }
    if (req.method === "GET" && url.startsWith("/ocsp/") && !url.includes("?")) {
      const started = performance.now();
      const der = deps.decodeGetPath(url);
      void (der ? answer(der) : Promise.resolve(errorAnswer("malformedRequest"))).then((a) =>
        send(
          res,
          "/ocsp/*",
          "GET",
          started,
          a,
          a.cache !== undefined && req.headers["if-none-match"] === a.cache.etag,
        ),
      );
      return true;
    }
    return false;
  };
}
