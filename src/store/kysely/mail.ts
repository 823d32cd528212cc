/** The mail outbox (`outbox`) and the expiry notices sent (`expiry_notices`). */
import { toOutboxRecord } from "../schema.js";
import type { MailStore, MailStoreTx, OutboxRecord } from "../types.js";
import { many, manyWhere, run, type Ctx } from "./context.js";
import { toRow } from "./rows.js";

export function mailReads(c: Ctx): MailStore {
  return {
    dueMail: (now, limit) =>
      many(
        c,
        "read outbox",
        (db) =>
          db
            .selectFrom("outbox")
            .selectAll()
            .where("state", "=", "pending")
            .where("next_attempt_at", "<=", now)
            .orderBy("next_attempt_at")
            .orderBy("id")
            .limit(limit)
            .execute(),
        toOutboxRecord,
      ),
    mailForRequest: (requestId) =>
      manyWhere(c, "read outbox", "outbox", { request_id: requestId }, toOutboxRecord, { order: ["id"] }),
    noticesSent: (certId) =>
      many(
        c,
        "read notices",
        (db) =>
          db
            .selectFrom("expiry_notices")
            .select("threshold_days")
            .where("cert_id", "=", certId)
            .orderBy("threshold_days", "desc")
            .execute(),
        (r) => Number(r.threshold_days),
      ),
  };
}

type MailPatch = Partial<Pick<OutboxRecord, "state" | "attempts" | "nextAttemptAt" | "lastError" | "sentAt">>;

export function mailWrites(c: Ctx): MailStoreTx {
  return {
    async enqueueMail(m) {
      const { to, ...rest } = m;
      const r = await run(c, "queue mail", (db) =>
        db
          .insertInto("outbox")
          .values(toRow({ ...rest, toAddr: to }))
          .returning("id")
          .executeTakeFirstOrThrow(),
      );
      return { ...m, id: Number(r.id) };
    },
    async claimMail(id, now, leaseUntil) {
      // One conditional UPDATE: a concurrent claimer waits on the row (or database) lock,
      // then re-checks the condition against the committed row and finds it no longer due.
      const r = await run(c, "claim mail", (db) =>
        db
          .updateTable("outbox")
          .set({ next_attempt_at: leaseUntil })
          .where("id", "=", id)
          .where("state", "=", "pending")
          .where("next_attempt_at", "<=", now)
          .executeTakeFirst(),
      );
      return r.numUpdatedRows > 0n;
    },
    async updateMail(id: number, p: MailPatch) {
      const { state, attempts, nextAttemptAt, lastError, sentAt } = p;
      const set = toRow({ state, attempts, nextAttemptAt, lastError, sentAt });
      if (Object.keys(set).length === 0) return;
      await run(c, "update mail", (db) => db.updateTable("outbox").set(set).where("id", "=", id).execute());
    },
    async recordNotice(certId, thresholdDays, sentAt) {
      const r = await run(c, "record notice", (db) =>
        db
          .insertInto("expiry_notices")
          .values({ cert_id: certId, threshold_days: thresholdDays, sent_at: sentAt })
          .onConflict((oc) => oc.columns(["cert_id", "threshold_days"]).doNothing())
          .executeTakeFirst(),
      );
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
  };
}
