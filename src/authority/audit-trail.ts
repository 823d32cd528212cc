/**
 * The audit trail of the use cases: how an act, or a refusal of one, is written to the
 * hash-chained audit log (src/audit/ computes the chain; the store appends). Every use case
 * appends its own events through this (or inside its own transaction); the edges never do.
 */
import type { SigilError } from "../errors.js";
import { ErrorCodes, isSigilError } from "../errors.js";
import { currentActor } from "../audit/actor.js";
import type { AuditDraft, AuditEvent, Store } from "../store/types.js";

/** What the audit trail needs: a store that appends audit events, a clock, the default actor. */
export interface AuditTrailDeps {
  store: Pick<Store, "transaction">;
  /** Epoch milliseconds; a fake clock in tests. */
  clock: () => number;
  /** Who is acting when no caller identity is set ({@link currentActor}). */
  actor: string;
}

/** Appends audit events, each act or refusal in its own transaction. */
export class AuditTrail {
  constructor(private readonly deps: AuditTrailDeps) {}

  /** An event by the current actor (the caller's identity, else the trail's actor), now. */
  draft(action: string, target: string | null, details: Record<string, unknown>): AuditDraft {
    return { at: this.deps.clock(), actor: currentActor(this.deps.actor), action, target, details };
  }

  /** Appends one event by the current actor, in its own transaction. */
  append(action: string, target: string | null, details: Record<string, unknown>): Promise<AuditEvent> {
    return this.deps.store.transaction((tx) => tx.appendAudit(this.draft(action, target, details)));
  }

  /** Appends one event by `actor` (named by the caller, e.g. an admin token), in its own transaction. */
  appendAs(
    actor: string,
    action: string,
    target: string | null,
    details: Record<string, unknown>,
  ): Promise<AuditEvent> {
    return this.deps.store.transaction((tx) =>
      tx.appendAudit({ at: this.deps.clock(), actor, action, target, details }),
    );
  }

  /** Records a refusal in the audit log (its own transaction), then throws `err`. */
  async refuse(action: string, target: string | null, err: SigilError): Promise<never> {
    try {
      await this.append(action, target, { code: err.code, reason: err.message });
    } catch {
      // The refusal stands even when it cannot be recorded (e.g. a read-only store).
    }
    throw err;
  }

  /**
   * Runs `fn`, recording any user error as a refusal under `action` (a missing passphrase
   * and a sealed service are not refusals of the act: nobody decided).
   */
  async guarded<T>(action: string, target: string | null, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (
        isSigilError(e) &&
        e.kind === "user" &&
        e.code !== ErrorCodes.NO_PASSPHRASE &&
        e.code !== ErrorCodes.SEALED
      )
        return this.refuse(action, target, e);
      throw e;
    }
  }
}

/**
 * One audit event by a named actor in its own transaction: the admin API's record of each
 * allowed or denied call (the caller is authenticated by the edge; the act of recording is
 * the use case's).
 */
export function recordAdminDecision(
  deps: Pick<AuditTrailDeps, "store" | "clock">,
  actor: string,
  action: string,
  target: string | null,
  details: Record<string, unknown>,
): Promise<AuditEvent> {
  return new AuditTrail({ ...deps, actor }).appendAs(actor, action, target, details);
}
