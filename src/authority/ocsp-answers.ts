/**
 * The OCSP responder's read side (RFC 6960, RFC 5019): turns a request into an answer by
 * lookup. Answers come from the store's pre-signed answers through an in-memory cache; what
 * they cannot serve goes to a `live` signer (in `sigil serve`, the process holding the
 * responder keys). Never throws: every fault becomes an OCSP error status (RFC 6960 §2.3).
 */
import { createHash } from "node:crypto";
import { totalmem } from "node:os";
import type { Store } from "../store/types.js";
import { parseCertificate } from "../x509/cert-reader.js";
import {
  issuerHashes,
  ocspErrorResponse,
  parseOcspRequest,
  OCSP_HASHES,
  type OcspCertId,
  type OcspErrorStatus,
  type OcspRequest,
} from "../x509/ocsp.js";

/** What an answer says, for metrics: a certificate status, or the error status sent. */
export type OcspOutcome = "good" | "revoked" | "unknown" | "mixed" | OcspErrorStatus;

/** An answer ready to send. */
export interface OcspAnswer {
  der: Buffer;
  outcome: OcspOutcome;
  /** HTTP caching data (RFC 5019 §6.2); absent for errors and nonce answers (not cacheable). */
  cache?: { etag: string; lastModified: string; expires: string; thisUpdate: number; nextUpdate: number };
}

/**
 * Signs an answer now, for one CA's certificates (the authority's answerLive); resolves
 * undefined when it cannot sign at the moment (sealed), which answers `tryLater`.
 */
export type LiveSigner = (
  caId: number,
  items: Array<{ certIdDer: Buffer; serialHex: string }>,
  nonce?: Buffer,
) => Promise<{ der: Buffer; statuses: string[]; thisUpdate: number; nextUpdate: number } | undefined>;

/** Dependencies of {@link OcspAnswers}. */
export interface OcspAnswersDeps {
  store: Store;
  clock: () => number;
  /** `ignore`: a nonce gets the pre-signed answer (RFC 5019 §2.2.1); `sign`: live, nonce echoed. */
  nonce: "ignore" | "sign";
  /** Live signing; undefined when no responder key is available (answers `tryLater`). */
  live?: LiveSigner;
  /** Reports faults (never with request bytes or keys). */
  onError?: (e: unknown) => void;
  /**
   * Bytes of answers kept in memory (each counted as its DER plus {@link ENTRY_OVERHEAD});
   * least recently used go first. Default {@link defaultCacheBytes}.
   */
  cacheBytes?: number;
  /** How often the store's data version is checked, ms. */
  pollMs?: number;
}

interface CacheEntry extends OcspAnswer {
  cache: NonNullable<OcspAnswer["cache"]>;
  /**
   * Served from memory until then (ms); afterwards the store is asked again. Three quarters
   * into the answer's validity, past the half-way point where the refresh job re-signs it,
   * so a refreshed answer reaches clients without a server dropping its cache for it.
   */
  staleAt: number;
  /** Asked for since it was last passed over for eviction (see {@link OcspAnswers.remember}). */
  used?: boolean;
}

/** When a cached answer that is past its refresh point is looked up again at the earliest. */
const RECHECK_MS = 60_000;

/** Answers about serials the store does not hold, kept until the next commit anywhere. */
const UNISSUED_MAX = 4096;

function staleAt(thisUpdate: number, nextUpdate: number, now: number): number {
  return Math.min(nextUpdate, Math.max(thisUpdate + 0.75 * (nextUpdate - thisUpdate), now + RECHECK_MS));
}

/**
 * What an answer costs in memory beside its DER: the entry, its caching headers' strings and
 * its key in the map (measured: about 400 bytes; rounded up).
 */
export const ENTRY_OVERHEAD = 512;

/**
 * The default answer cache of one serving process: 1/64 of the machine's memory, at least
 * 16 MiB and at most 256 MiB (on 24 GiB: 256 MiB, about 160,000 P-256 answers), so a
 * responder keeps its working set in memory instead of reading the store per request.
 */
export function defaultCacheBytes(totalMemBytes: number): number {
  const MiB = 1024 * 1024;
  return Math.min(256 * MiB, Math.max(16 * MiB, Math.floor(totalMemBytes / 64)));
}

/** What {@link OcspAnswers.cacheUsage} tells (metrics: `sigil_ocsp_cache_*`). */
export interface OcspCacheUsage {
  /** Bytes the cached answers count for (DER plus {@link ENTRY_OVERHEAD} each). */
  bytes: number;
  /** Answers held. */
  entries: number;
  /** Single-certificate lookups answered from memory since start. */
  hits: number;
  /** Those that asked the store (not held, or past their refresh point). */
  misses: number;
}

/** Looks up, caches and (when it must) live-signs OCSP answers. */
export class OcspAnswers {
  private readonly cache = new Map<string, CacheEntry>();
  /**
   * Live answers about serials the store does not hold ("unknown"): dropped at every commit
   * anywhere, since the next one may issue that serial.
   */
  private readonly unissued = new Map<string, CacheEntry>();
  private issuers = new Map<string, number>();
  /** The check that follows a change of the data version (see {@link OcspAnswers.poll}). */
  private current: Promise<void> | undefined;
  private version = -1;
  /** The store's answers' change mark that the cache and the issuer index match. */
  private epoch: string | undefined;
  /**
   * Counts the commits seen and the cache clears: an answer read from the store before one
   * is not cached after it (PostgreSQL reads can overlap a revocation's detection).
   */
  private generation = 0;
  private lastPollMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly cacheBytes: number;
  /** Bytes the cached answers count for (see {@link ENTRY_OVERHEAD}). */
  private cacheUsed = 0;
  /** Single-certificate lookups answered from memory, and those that asked the store. */
  private hits = 0;
  private misses = 0;

  constructor(private readonly deps: OcspAnswersDeps) {
    this.cacheBytes = deps.cacheBytes ?? defaultCacheBytes(totalmem());
  }

  /**
   * Starts watching the store. When another connection commits, the answers about unissued
   * serials are dropped; when the commit changed the store's answers' change mark (a
   * revocation, a new CA, a restore: `ocspEpoch`), every cached answer and the issuer index
   * are. Other commits (lease renewals, heartbeats, audit events, refreshed answers) keep
   * them. Each request checks; the timer (every `pollMs`, default 1 s) only keeps an idle
   * responder's memory current.
   */
  async start(): Promise<void> {
    this.version = await this.deps.store.dataVersion();
    this.epoch = await this.deps.store.ocspEpoch();
    await this.loadIssuers();
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs ?? 1000);
    this.timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async poll(): Promise<void> {
    try {
      // At most once per millisecond: a commit elsewhere (a CLI revocation) is seen by every
      // request that starts a millisecond or more after it, and a busy responder saves the query.
      const ms = Date.now();
      if (ms !== this.lastPollMs || !this.current) {
        this.lastPollMs = ms;
        const v = await this.deps.store.dataVersion();
        if (v !== this.version) {
          this.version = v;
          this.current = this.changed();
        }
      }
      // Requests that arrive while the change is checked wait for it.
      await this.current;
    } catch (e) {
      this.deps.onError?.(e);
    }
  }

  /** After another connection's commit: what it changed decides what is dropped. */
  private async changed(): Promise<void> {
    this.generation++;
    this.unissued.clear();
    try {
      const epoch = await this.deps.store.ocspEpoch();
      if (epoch === this.epoch) return;
      this.clearCache();
      await this.loadIssuers();
      this.epoch = epoch;
    } catch (e) {
      // Not known what changed: drop everything, and ask again at the next request.
      this.clearCache();
      this.epoch = undefined;
      this.version = -1;
      throw e;
    }
  }

  private async loadIssuers(): Promise<void> {
    const map = new Map<string, number>();
    for (const ca of await this.deps.store.listCas()) {
      const cert = parseCertificate(ca.certDer);
      const h = issuerHashes(cert.subjectDer, cert.spki);
      for (const alg of OCSP_HASHES) map.set(issuerKey(alg, h[alg].name, h[alg].key), ca.id);
    }
    this.issuers = map;
  }

  /** Drops every cached answer. */
  clearCache(): void {
    this.generation++;
    this.cache.clear();
    this.unissued.clear();
    this.cacheUsed = 0;
  }

  /** The answer cache: what it holds, and the lookups it answered and missed since start. */
  cacheUsage(): OcspCacheUsage {
    return { bytes: this.cacheUsed, entries: this.cache.size, hits: this.hits, misses: this.misses };
  }

  /** The answer to one DER OCSPRequest. Never throws. */
  async answer(body: Buffer): Promise<OcspAnswer> {
    let req: OcspRequest;
    try {
      req = parseOcspRequest(body);
    } catch {
      return errorAnswer("malformedRequest");
    }
    try {
      return await this.answerParsed(req);
    } catch (e) {
      this.deps.onError?.(e);
      return errorAnswer("internalError");
    }
  }

  private async answerParsed(req: OcspRequest): Promise<OcspAnswer> {
    // Checked per request (one PRAGMA, microseconds), so the answer right after a commit
    // elsewhere (a CLI revocation) is already the new one, not a cached one.
    await this.poll();
    const caIds = new Set<number>();
    for (const id of req.certIds) {
      const caId = id.hash
        ? this.issuers.get(issuerKey(id.hash, id.issuerNameHash, id.issuerKeyHash))
        : undefined;
      // RFC 6960 §2.3 / RFC 5019 §2.2.3: a certificate whose issuer this responder does not
      // serve is answered "unauthorized".
      if (caId === undefined) return errorAnswer("unauthorized");
      caIds.add(caId);
    }
    // One signature covers the whole response; a delegated responder speaks for one CA only.
    if (caIds.size > 1) return errorAnswer("unauthorized");
    const caId = caIds.values().next().value as number;
    const wantsLive = req.nonce !== undefined && this.deps.nonce === "sign";
    const only: OcspCertId | undefined = req.certIds.length === 1 ? req.certIds[0] : undefined;
    if (!wantsLive && only && only.hash === "sha1") {
      const now = this.deps.clock();
      const key = `${caId}:${only.serialHex}`;
      const hit = this.cache.get(key);
      if (hit && hit.staleAt > now) {
        // Marked, not moved: a hit changes no map (remember() gives it a second chance).
        hit.used = true;
        this.hits++;
        return hit;
      }
      const unissued = this.unissued.get(key);
      if (unissued && unissued.staleAt > now) {
        this.hits++;
        return unissued;
      }
      this.misses++;
      const generation = this.generation;
      const e = await this.deps.store.ocspLookup(caId, only.serialHex);
      if (e && e.der && e.nextUpdate > now && e.thisUpdate <= now + 60_000) {
        const entry: CacheEntry = {
          der: e.der,
          outcome: e.status === "revoked" ? "revoked" : "good",
          cache: cacheData(e.der, e.thisUpdate, e.nextUpdate),
          staleAt: staleAt(e.thisUpdate, e.nextUpdate, now),
        };
        if (generation === this.generation) this.remember(key, entry);
        return entry;
      }
      // Not issued, or not (validly) signed yet: sign now; cache unless it carries a nonce.
      const live = await this.signLive(caId, req.certIds, undefined);
      if (live.cache && generation === this.generation) {
        const entry = { ...live, staleAt: staleAt(live.cache.thisUpdate, live.cache.nextUpdate, now) };
        if (e) this.remember(key, entry as CacheEntry);
        else this.rememberUnissued(key, entry as CacheEntry);
      }
      return live;
    }
    return this.signLive(caId, req.certIds, wantsLive ? req.nonce : undefined);
  }

  private async signLive(caId: number, ids: OcspCertId[], nonce: Buffer | undefined): Promise<OcspAnswer> {
    if (!this.deps.live) return errorAnswer("tryLater");
    const r = await this.deps.live(
      caId,
      ids.map((i) => ({ certIdDer: i.der, serialHex: i.serialHex })),
      nonce,
    );
    // RFC 6960 §2.3: tryLater when the responder cannot sign right now.
    if (!r) return errorAnswer("tryLater");
    const kinds = new Set(r.statuses);
    const outcome: OcspOutcome = kinds.size === 1 ? (r.statuses[0] as OcspOutcome) : "mixed";
    return nonce === undefined
      ? { der: r.der, outcome, cache: cacheData(r.der, r.thisUpdate, r.nextUpdate) }
      : { der: r.der, outcome };
  }

  private rememberUnissued(key: string, e: CacheEntry): void {
    if (this.unissued.size >= UNISSUED_MAX) {
      const first = this.unissued.keys().next().value;
      if (first !== undefined) this.unissued.delete(first);
    }
    this.unissued.set(key, e);
  }

  private remember(key: string, e: CacheEntry): void {
    const size = e.der.length + ENTRY_OVERHEAD;
    if (size > this.cacheBytes) return;
    const old = this.cache.get(key);
    if (old) {
      this.cache.delete(key);
      this.cacheUsed -= old.der.length + ENTRY_OVERHEAD;
    }
    // CLOCK, the second-chance approximation of least-recently-used: the oldest entry goes
    // first unless it was asked for since it was last passed over; then it moves to the end,
    // unmarked. A hit only sets a flag (moving it in the Map on every hit, as a strict LRU
    // does, cost a busy responder about a tenth of its rate once the map held thousands).
    while (this.cacheUsed + size > this.cacheBytes) {
      const first = this.cache.entries().next().value;
      if (first === undefined) break;
      this.cache.delete(first[0]);
      if (first[1].used) {
        first[1].used = false;
        this.cache.set(first[0], first[1]);
        continue;
      }
      this.cacheUsed -= first[1].der.length + ENTRY_OVERHEAD;
    }
    this.cache.set(key, e);
    this.cacheUsed += size;
  }
}

function issuerKey(alg: string, nameHash: Buffer, keyHash: Buffer): string {
  return `${alg}:${nameHash.toString("hex")}:${keyHash.toString("hex")}`;
}

const errorAnswers = new Map<OcspErrorStatus, OcspAnswer>();

/** An unsuccessful answer (RFC 6960 §4.2.1), shared constant buffers. */
export function errorAnswer(status: OcspErrorStatus): OcspAnswer {
  let a = errorAnswers.get(status);
  if (!a) {
    a = { der: ocspErrorResponse(status), outcome: status };
    errorAnswers.set(status, a);
  }
  return a;
}

/** RFC 5019 §6.2 caching data: ETag over the bytes, Last-Modified = thisUpdate, Expires = nextUpdate. */
function cacheData(der: Buffer, thisUpdate: number, nextUpdate: number): NonNullable<OcspAnswer["cache"]> {
  return {
    etag: `"${createHash("sha256").update(der).digest("hex").slice(0, 32)}"`,
    lastModified: new Date(thisUpdate).toUTCString(),
    expires: new Date(nextUpdate).toUTCString(),
    thisUpdate,
    nextUpdate,
  };
}
