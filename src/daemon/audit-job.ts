/**
 * The service's audit checkpoints (authority/audit-checkpoints.ts): once a second it looks
 * at the log's head, and signs a checkpoint when `audit.checkpointEvery` events are
 * unsigned or the oldest unsigned one is `audit.checkpointSeconds` old, on one instance at
 * a time (a lease). Sealed, it signs nothing and says so (`/healthz`, the
 * `sigil_audit_checkpoint_signing` gauge); the next unseal signs one at once that covers
 * what was logged meanwhile. The first unsealed run makes and pins the audit key of a home
 * that has none.
 */
import type { Logger } from "pino";
import type { Context } from "../app/open.js";
import type { CheckpointStatus } from "../authority/audit-checkpoints.js";
import type { JobMetrics } from "../http/metrics.js";
import { NOT_HELD, holdsLease, leaseGauge, leaseTtl, releaseLease, whileLeased } from "./leases.js";

const LEASE = "serve.audit-checkpoint";
const TICK_MS = 1000;
/**
 * The lease's lifetime: a minute on SQLite, 15 s on PostgreSQL (leases.ts). It is taken when
 * a checkpoint is due, then kept alive by its holder between checkpoints, and given up as
 * soon as the holder cannot sign (sealed, or the key not in its custody), so that an
 * instance that can takes the signing over.
 */
const leaseTtlMs = (shared: boolean): number => leaseTtl(20_000, shared);

/** The running job. */
export interface AuditJob {
  /** Runs a round now (after an unseal). */
  kick(): void;
  /** The last status seen (for `/healthz`). */
  status(): CheckpointStatus | undefined;
  stop(): Promise<void>;
}

/** Starts the checkpoint job. */
export function startAuditJob(ctx: Context, log: Logger, jm: JobMetrics, unsealed: () => boolean): AuditJob {
  const { authority, config, store } = ctx;
  const cps = authority.checkpoints;
  const watch = leaseGauge(jm);
  const ttl = leaseTtlMs(ctx.storeKind === "postgres");
  let last: CheckpointStatus | undefined;
  let firstUnsignedAt: number | undefined;
  let keyChecked = false;
  let stopped = false;
  let busy: Promise<void> = Promise.resolve();
  let refusal: string | undefined;
  /** Sign at the next round whatever is due (after an unseal: cover what was logged while sealed). */
  let force = false;

  const round = async (): Promise<void> => {
    if (stopped) return;
    try {
      if (unsealed() && !keyChecked) {
        const k = await ctx.ensureAuditKey();
        keyChecked = true;
        if (k.created || k.pinned)
          log.warn(
            { keyId: k.keyId, file: k.file },
            k.created
              ? "audit key made and pinned in sigil.json (audit.publicKey): keep a copy of its public key outside this machine"
              : "this home had no audit key pinned: pinned the database's (sigil.json audit.publicKey); check its id against the security admin's copy",
          );
      }
      let s = await cps.status();
      if (s.unsigned === 0) firstUnsignedAt = undefined;
      else firstUnsignedAt ??= Date.now();
      const due =
        s.unsigned > 0 &&
        (force ||
          s.unsigned >= config.audit.checkpointEvery ||
          Date.now() - firstUnsignedAt! >= config.audit.checkpointSeconds * 1000 ||
          s.last === undefined);
      if (s.signing && due) {
        const r = await whileLeased(store, LEASE, ttl, () => cps.sign(), watch);
        force = false;
        if (r !== NOT_HELD) {
          jm.jobRuns.inc({ job: "audit-checkpoint", result: "ok" });
          if (r) {
            log.info(
              { treeSize: r.treeSize, rootHash: r.rootHash, keyId: r.keyId },
              "audit checkpoint signed",
            );
            firstUnsignedAt = undefined;
          }
          s = await cps.status();
        }
        refusal = undefined;
      }
      if (!s.signing && holdsLease(LEASE)) await releaseLease(store, LEASE, watch);
      if (!s.signing && s.reason !== refusal && s.reason !== "sealed")
        log.error({ reason: s.reason }, "audit checkpoints not signed");
      refusal = s.reason;
      last = s;
    } catch (e) {
      jm.jobRuns.inc({ job: "audit-checkpoint", result: "error" });
      const msg = (e as Error).message;
      if (msg !== refusal) log.error({ err: msg }, "audit checkpoint failed");
      refusal = msg;
      last = { ...(last ?? { events: 0, unsigned: 0 }), signing: false, reason: msg };
    }
    jm.auditSigning.set(last?.signing ? 1 : 0);
    jm.auditUnsigned.set(last?.unsigned ?? 0);
  };
  const next = () => {
    busy = busy.then(round);
  };
  next();
  const timer = setInterval(next, TICK_MS);
  timer.unref();
  return {
    kick: () => {
      force = true;
      next();
    },
    status: () => last,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await busy;
      // A last checkpoint covers what was logged up to the stop (while unsealed).
      if (unsealed() && last?.signing)
        await whileLeased(store, LEASE, ttl, () => cps.sign(), watch).catch((e: unknown) =>
          log.error({ err: (e as Error).message }, "audit checkpoint at stop failed"),
        );
      await releaseLease(store, LEASE, watch);
    },
  };
}
