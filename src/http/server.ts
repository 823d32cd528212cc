/**
 * The public HTTP surface of `sigil serve` (fastify): OCSP (RFC 6960 Appendix A, RFC 5019),
 * CRLs and CA certificates (the CDP and AIA targets of issued certificates, RFC 5280
 * §4.2.1.13 and §4.2.2.1), the trust bundle, /healthz and /metrics. Holds no keys: OCSP
 * answers come from {@link OcspAnswers}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { Logger } from "pino";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { OcspAnswer, OcspAnswers } from "../authority/ocsp-answers.js";
import { errorAnswer } from "../authority/ocsp-answers.js";
import type { CaRecord, Store } from "../store/types.js";
import { toPem } from "../x509/der.js";
import { MAX_OCSP_REQUEST_BYTES } from "../x509/ocsp.js";
import { httpMetricsFor, reportOcspCache } from "./metrics.js";
import { registerBackendProxy, type ProxyOptions } from "./backend-proxy.js";
import { registerWebApp } from "./web-static.js";
import { cacheHeaders, ocspFastPath, OCSP_RESPONSE } from "./ocsp-fast.js";

/** What the server needs. */
export interface ServerDeps {
  store: Store;
  answers: OcspAnswers;
  logger: Logger;
  /** RFC 5019 §6.2 max-age cap, seconds. */
  maxAgeSeconds: number;
  clock: () => number;
  /** The Prometheus exposition (content type and text). */
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** Health details (CA count, whether the service can sign, ...). */
  health: () => Promise<Record<string, unknown>>;
  /** Where the CLI publishes CRL files (fallback for CAs with no stored CRL yet). */
  crlDir?: string;
  /** Log each request (off by default: /metrics counts them). */
  logRequests?: boolean;
  /** The web app, and the portal and admin API passed on to the backend socket. */
  web?: ProxyOptions;
}

/** Longest GET path accepted: a base64 request of the POST cap, percent-encoded. */
const MAX_GET_PATH = Math.ceil((MAX_OCSP_REQUEST_BYTES * 4) / 3) * 3 + 16;

/** Builds the fastify app (not listening yet). */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const m = httpMetricsFor();
  reportOcspCache(() => deps.answers.cacheUsage());
  // Label children cached per (route, method, status): prom-client hashes label objects on
  // every inc otherwise, on the hot path.
  const counters = new Map<string, { inc(): void }>();
  const histograms = new Map<string, { observe(v: number): void }>();
  const count = (route: string, method: string, status: number, seconds: number) => {
    const key = `${route}\u0000${method}\u0000${status}`;
    let c = counters.get(key);
    if (!c) {
      c = m.requests.labels({ route, method, status: String(status) });
      counters.set(key, c);
    }
    c.inc();
    let h = histograms.get(route);
    if (!h) {
      h = m.duration.labels({ route });
      histograms.set(route, h);
    }
    h.observe(seconds);
  };
  let closing = false;
  const fast = ocspFastPath({
    answers: deps.answers,
    clock: deps.clock,
    maxAgeSeconds: deps.maxAgeSeconds,
    decodeGetPath,
    record: (route, method, status, seconds, outcome) => {
      countOcsp(outcome, method);
      count(route, method, status, seconds);
    },
    fault: (e) =>
      deps.logger.error(
        { err: { message: (e as Error)?.message, code: (e as { code?: string })?.code } },
        "request failed",
      ),
  });
  const app = Fastify({
    // The OCSP hot path first (http/ocsp-fast.ts); the rest, and a service shutting down
    // (503 with Connection: close), through fastify. Node's server with fastify's settings.
    serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
      const server = createServer((req, res) => {
        if (closing || !fast(req, res)) handler(req, res);
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      return server;
    },
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !deps.logRequests }),
    routerOptions: { maxParamLength: MAX_GET_PATH },
    bodyLimit: MAX_OCSP_REQUEST_BYTES,
    keepAliveTimeout: KEEP_ALIVE_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    return503OnClosing: true,
    // A path that is not valid percent-encoding: under /ocsp it is a malformed OCSP request
    // (RFC 6960 §2.3), elsewhere a plain 400.
    frameworkErrors: (err, req, res) => {
      const reply = res as unknown as FastifyReply;
      if (req.url.startsWith("/ocsp/"))
        return void sendOcsp(reply, errorAnswer("malformedRequest"), deps, "GET");
      void reply
        .code(err.statusCode ?? 400)
        .type("text/plain; charset=utf-8")
        .send(`${oneLine(err.message)}\n`);
    },
  });
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  app.addHook("onResponse", (req, reply, done) => {
    count(req.routeOptions.url ?? "unmatched", req.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // RFC 6960 Appendix A.1: requests are POSTed as application/ocsp-request.
  app.addContentTypeParser(
    "application/ocsp-request",
    { parseAs: "buffer", bodyLimit: MAX_OCSP_REQUEST_BYTES },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err: { message: err.message, code: err.code } }, "request failed");
    if (status >= 500 && req.url.startsWith("/ocsp")) {
      // The responder never answers a fault with an HTTP error page (RFC 6960 §2.3).
      return sendOcsp(reply, errorAnswer("internalError"), deps, "POST");
    }
    if (req.url.startsWith("/acme/"))
      // Refused here before reaching the ACME server (size, media type): still a problem
      // document, as ACME clients expect (RFC 8555 §6.7).
      return reply
        .code(status)
        .type("application/problem+json")
        .send({
          type: `urn:ietf:params:acme:error:${status >= 500 ? "serverInternal" : "malformed"}`,
          detail: status >= 500 ? "internal error" : oneLine(err.message),
          status,
        });
    if (req.url.startsWith("/api/"))
      return reply.code(status).send({
        error:
          status === 413
            ? { code: "too_large", message: "the upload is too large (at most 100 KiB)" }
            : status >= 500
              ? { code: "internal", message: "internal error" }
              : { code: "bad_request", message: oneLine(err.message) },
      });
    return reply
      .code(status)
      .type("text/plain; charset=utf-8")
      .send(status >= 500 ? "internal error\n" : `${oneLine(err.message)}\n`);
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.code(404).type("text/plain; charset=utf-8").send("not found\n"),
  );

  const wrongType = (reply: FastifyReply) =>
    reply
      .code(415)
      .type("text/plain; charset=utf-8")
      .send("POST /ocsp takes Content-Type: application/ocsp-request (RFC 6960 Appendix A.1)\n");
  app.post(
    "/ocsp",
    {
      // Refuse other media types before any body parser runs on them.
      onRequest: (req, reply, done) => {
        const ct = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
        if (ct !== "application/ocsp-request") return void wrongType(reply);
        done();
      },
    },
    async (req, reply) => {
      // An empty body arrives as undefined: a malformed request, not a fault.
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      return sendOcsp(reply, await deps.answers.answer(body), deps, "POST");
    },
  );

  // RFC 6960 Appendix A.1 / RFC 5019 §5: GET {url}/{url-encoding of base64 of DER request}.
  const getOcsp = async (req: FastifyRequest, reply: FastifyReply) => {
    const der = decodeGetPath(req.url);
    const answer = der ? await deps.answers.answer(der) : errorAnswer("malformedRequest");
    if (answer.cache && req.headers["if-none-match"] === answer.cache.etag) {
      setCacheHeaders(reply, answer, deps);
      return reply.code(304).send();
    }
    return sendOcsp(reply, answer, deps, "GET");
  };
  app.get("/ocsp/*", getOcsp);
  app.get("/ocsp", getOcsp);

  // CRLs (RFC 5280 §5; application/pkix-crl, RFC 2585 §4).
  const crlCache = new Map<number, { version: number; crlNumber: number; der: Buffer; etag: string }>();
  app.get<{ Params: { file: string } }>("/crl/:file", async (req, reply) => {
    const name = req.params.file.replace(/\.crl$/, "");
    if (name === req.params.file) return reply.callNotFound();
    const ca = await deps.store.getCa(name);
    if (!ca) return reply.callNotFound();
    const version = await deps.store.dataVersion();
    let hit = crlCache.get(ca.id);
    if (!hit || hit.version !== version) {
      const crl = await deps.store.latestCrl(ca.id);
      let der = crl?.der;
      let crlNumber = crl?.crlNumber ?? -1;
      if (!der && deps.crlDir) {
        der = await readFile(join(deps.crlDir, `${ca.name}.crl`)).catch(() => undefined);
        crlNumber = -1;
      }
      if (!der)
        return reply
          .code(404)
          .type("text/plain; charset=utf-8")
          .send(`no CRL published yet for CA ${ca.name}\n`);
      hit = { version, crlNumber, der, etag: `"crl-${ca.id}-${crlNumber}-${der.length}"` };
      crlCache.set(ca.id, hit);
    }
    if (req.headers["if-none-match"] === hit.etag) return reply.code(304).send();
    return reply
      .type("application/pkix-crl")
      .header("ETag", hit.etag)
      .header("Cache-Control", `max-age=${deps.maxAgeSeconds}, public, no-transform`)
      .send(hit.der);
  });

  // CA certificates: .crt is DER (the AIA caIssuers target, RFC 5280 §4.2.2.1: application/pkix-cert), .pem is PEM.
  app.get<{ Params: { file: string } }>("/ca/:file", async (req, reply) => {
    const file = req.params.file;
    if (file === "bundle.pem") {
      const cas = orderRootsFirst(await deps.store.listCas());
      return reply
        .type("application/x-pem-file")
        .header("Cache-Control", `max-age=${deps.maxAgeSeconds}, public`)
        .send(cas.map((c) => toPem(c.certDer, "CERTIFICATE")).join(""));
    }
    const m2 = /^(.+)\.(crt|der|cer|pem)$/.exec(file);
    if (!m2) return reply.callNotFound();
    const ca = await deps.store.getCa(m2[1]!);
    if (!ca) return reply.callNotFound();
    reply.header("Cache-Control", `max-age=${deps.maxAgeSeconds}, public`);
    if (m2[2] === "pem") return reply.type("application/x-pem-file").send(toPem(ca.certDer, "CERTIFICATE"));
    return reply.type("application/pkix-cert").send(ca.certDer);
  });

  app.get("/healthz", async (_req, reply) => {
    const h = await deps.health();
    return reply.code(h.status === "ok" ? 200 : 503).send(h);
  });

  app.get("/metrics", async (_req, reply) => {
    const { contentType, body } = await deps.metrics();
    return reply.type(contentType).send(body);
  });

  if (deps.web) {
    registerWebApp(app);
    registerBackendProxy(app, deps.web);
  }

  return app;
}

/** Keep-alive for OCSP clients and load balancers; short enough not to pin sockets. */
const KEEP_ALIVE_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

const ocspCounters = new Map<string, { inc(): void }>();

/** Counts an OCSP answer by outcome and method (both paths). */
function countOcsp(outcome: string, method: string): void {
  const key = `${outcome}\u0000${method}`;
  let c = ocspCounters.get(key);
  if (!c) {
    c = httpMetricsFor().ocsp.labels({ outcome, method });
    ocspCounters.set(key, c);
  }
  c.inc();
}

function sendOcsp(reply: FastifyReply, a: OcspAnswer, deps: ServerDeps, method: string): FastifyReply {
  countOcsp(a.outcome, method);
  setCacheHeaders(reply, a, deps);
  return reply.code(200).type(OCSP_RESPONSE).send(a.der);
}

/** RFC 5019 §6.2: max-age (capped by nextUpdate), public, no-transform, must-revalidate. */
function setCacheHeaders(reply: FastifyReply, a: OcspAnswer, deps: ServerDeps): void {
  reply.headers(cacheHeaders(a, deps.clock(), deps.maxAgeSeconds));
}

/**
 * The DER request in a GET path: percent-decoded (or not), standard or URL-safe base64,
 * padding optional. Undefined when it is not base64 at all.
 */
export function decodeGetPath(url: string): Buffer | undefined {
  let s = url.slice("/ocsp".length);
  const q = s.indexOf("?");
  if (q >= 0) s = s.slice(0, q);
  s = s.replace(/^\/+/, "");
  if (s === "" || s.length > MAX_GET_PATH) return undefined;
  if (s.includes("%")) {
    try {
      s = decodeURIComponent(s);
    } catch {
      return undefined;
    }
  }
  s = s.replace(/-/g, "+").replace(/_/g, "/").replace(/\s/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 === 1) return undefined;
  const der = Buffer.from(s, "base64");
  return der.length > 0 && der.length <= MAX_OCSP_REQUEST_BYTES ? der : undefined;
}

/** Roots first, then each CA after its parent. */
export function orderRootsFirst(cas: CaRecord[]): CaRecord[] {
  const out: CaRecord[] = [];
  const placed = new Set<number>();
  let layer = cas.filter((c) => c.parentId === null);
  while (layer.length) {
    for (const c of layer) {
      out.push(c);
      placed.add(c.id);
    }
    layer = cas.filter((c) => c.parentId !== null && placed.has(c.parentId) && !placed.has(c.id));
  }
  return out;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}
