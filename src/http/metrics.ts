/**
 * Prometheus metrics of `sigil serve` (prom-client). Each worker counts in the default
 * registry; the primary process aggregates the workers' registries (prom-client's
 * AggregatorRegistry over cluster IPC) and adds its own job gauges.
 */
import { Counter, Gauge, Histogram, Registry, register as defaultRegistry } from "prom-client";
import type { OcspCacheUsage } from "../authority/ocsp-answers.js";

/** The metrics a worker records. */
export interface HttpMetrics {
  requests: Counter<"route" | "method" | "status">;
  duration: Histogram<"route">;
  ocsp: Counter<"outcome" | "method">;
}

let httpMetrics: HttpMetrics | undefined;
/** The answer cache the `sigil_ocsp_cache_*` metrics read when collected (nothing is counted per request here). */
let ocspCache: (() => OcspCacheUsage) | undefined;

/**
 * Points the `sigil_ocsp_cache_*` metrics at the serving process's answer cache: its
 * figures are read when /metrics is collected, so the hot path pays only the cache's own two
 * counters (authority/ocsp-answers.ts). The
 * primary sums the workers' figures (one cache per process).
 */
export function reportOcspCache(figures: () => OcspCacheUsage): void {
  ocspCache = figures;
}

/** The worker's HTTP metrics, registered once in the default registry. */
export function httpMetricsFor(registry: Registry = defaultRegistry): HttpMetrics {
  if (httpMetrics) return httpMetrics;
  httpMetrics = {
    requests: new Counter({
      name: "sigil_http_requests_total",
      help: "HTTP requests by route, method and status code",
      labelNames: ["route", "method", "status"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "sigil_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    ocsp: new Counter({
      name: "sigil_ocsp_responses_total",
      help: "OCSP answers by outcome (good, revoked, unknown, mixed, or the error status) and method",
      labelNames: ["outcome", "method"],
      registers: [registry],
    }),
  };
  new Gauge({
    name: "sigil_ocsp_cache_answers",
    help: "OCSP answers held in memory (summed over the serving processes, each with its own cache)",
    registers: [registry],
    collect() {
      this.set(ocspCache?.().entries ?? 0);
    },
  });
  new Gauge({
    name: "sigil_ocsp_cache_bytes",
    help: "Bytes the OCSP answers in memory count for against ocsp.cacheMegabytes (DER plus a fixed overhead each)",
    registers: [registry],
    collect() {
      this.set(ocspCache?.().bytes ?? 0);
    },
  });
  new Counter({
    name: "sigil_ocsp_cache_lookups_total",
    help: "Single-certificate OCSP lookups answered from memory (hit) or from the store (miss)",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      const f = ocspCache?.();
      this.reset();
      this.inc({ result: "hit" }, f?.hits ?? 0);
      this.inc({ result: "miss" }, f?.misses ?? 0);
    },
  });
  return httpMetrics;
}

/** Gauges the process running background jobs keeps. */
export interface JobMetrics {
  registry: Registry;
  pendingRefresh: Gauge;
  jobRuns: Counter<"job" | "result">;
  keysUnlocked: Gauge;
  /** 1 while audit checkpoints can be signed (unsealed, key pinned). */
  auditSigning: Gauge;
  /** Audit events no signed checkpoint covers yet. */
  auditUnsigned: Gauge;
  /** Per job lease: 1 while this instance holds it (runs that job), else 0. */
  leaseHeld: Gauge<"job">;
}

/** Job gauges in their own registry (merged into /metrics output). */
export function makeJobMetrics(): JobMetrics {
  const registry = new Registry();
  return {
    registry,
    pendingRefresh: new Gauge({
      name: "sigil_ocsp_presigned_pending_refresh",
      help: "Pre-signed OCSP answers due for (re)signing: never signed or past half their validity",
      registers: [registry],
    }),
    jobRuns: new Counter({
      name: "sigil_job_runs_total",
      help: "Background job runs by job and result",
      labelNames: ["job", "result"],
      registers: [registry],
    }),
    keysUnlocked: new Gauge({
      name: "sigil_keys_unlocked",
      help: "1 when the service holds the passphrase and can sign (refresh answers, CRLs, responders)",
      registers: [registry],
    }),
    auditSigning: new Gauge({
      name: "sigil_audit_checkpoint_signing",
      help: "1 while audit checkpoints are signed (unsealed, audit key pinned); 0 while sealed or refused",
      registers: [registry],
    }),
    auditUnsigned: new Gauge({
      name: "sigil_audit_unsigned_events",
      help: "Audit events no signed checkpoint covers yet",
      registers: [registry],
    }),
    leaseHeld: new Gauge({
      name: "sigil_job_lease_held",
      help: "1 while this instance holds the job's lease (it runs the job; the others wait), else 0",
      labelNames: ["job"],
      registers: [registry],
    }),
  };
}
