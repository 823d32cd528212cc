/**
 * The audit chain (`audit_events`, and `audit_head`, the last event's seq and hash written
 * with each append so truncation shows). Hashes are computed by audit/chain.ts only.
 */
import { GENESIS_HASH, chainHash, stableStringify } from "../../audit/chain.js";
import { ErrorCodes, SigilError } from "../../errors.js";
import { toAuditEvent } from "../schema.js";
import type { AuditDraft, AuditEvent, AuditStore, AuditStoreTx } from "../types.js";
import { isUniqueViolation, run, type Ctx, type Db } from "./context.js";

/** The advisory lock key that serializes audit appends (per database): "Sigl" in ASCII. */
const AUDIT_LOCK_KEY = 0x5369676c;

/** The next event after `head` (undefined: the chain is empty), chained by audit/chain.ts. */
export function chainNext(head: { seq: number; hash: string } | undefined, draft: AuditDraft) {
  const prev = head ?? { seq: 0, hash: GENESIS_HASH };
  const { at, actor, action, target, details } = draft;
  const fields = { seq: Number(prev.seq) + 1, at, actor, action, target, details };
  const event: AuditEvent = { ...fields, prevHash: prev.hash, hash: chainHash(prev.hash, fields) };
  const row = { ...fields, details: stableStringify(details), prev_hash: event.prevHash, hash: event.hash };
  return { event, row };
}

/** A seq that exists already: the recorded head is behind the log. */
export function auditError(c: Ctx["dialect"], e: unknown): SigilError {
  if (!isUniqueViolation(e)) return c.fail(e, "append audit event");
  return new SigilError(
    ErrorCodes.AUDIT_BROKEN,
    "audit head is behind the audit log (audit_head tampered?); run `sigil audit verify`",
    { kind: "internal", cause: e },
  );
}

const headQuery = (db: Db) => db.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1);

export function auditReads(c: Ctx): AuditStore {
  return {
    auditEvents() {
      const rows = c.dialect.stream(
        "read audit log",
        c.db.selectFrom("audit_events").selectAll().orderBy("seq").compile(),
      );
      return (async function* () {
        for await (const batch of rows) for (const r of batch) yield toAuditEvent(r);
      })();
    },
    async auditHead() {
      const r = await run(c, "read audit head", (db) => headQuery(db).executeTakeFirst());
      return r === undefined ? undefined : { seq: Number(r.seq), hash: r.hash };
    },
  };
}

export function auditWrites(c: Ctx): AuditStoreTx {
  return {
    async appendAudit(draft) {
      try {
        const db = c.db;
        // Serializes appends across every connection to the database until COMMIT; the head
        // read after it sees the previous appender's commit. The recorded head, else the last event.
        await c.dialect.lock(db, AUDIT_LOCK_KEY);
        const head =
          (await headQuery(db).executeTakeFirst()) ??
          (await db
            .selectFrom("audit_events")
            .select(["seq", "hash"])
            .orderBy("seq", "desc")
            .limit(1)
            .executeTakeFirst());
        const { event, row } = chainNext(head, draft);
        await db.insertInto("audit_events").values(row).execute();
        await db
          .insertInto("audit_head")
          .values({ id: 1, seq: event.seq, hash: event.hash })
          .onConflict((oc) => oc.column("id").doUpdateSet({ seq: event.seq, hash: event.hash }))
          .execute();
        return event;
      } catch (e) {
        throw auditError(c.dialect, e);
      }
    },
  };
}
