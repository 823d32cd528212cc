/** The request queue (`requests`), the intake log (`intake_log`) and mailbox proofs. */
import { ErrorCodes, SigilError } from "../../errors.js";
import { MailboxProofReads, MailboxProofTx } from "../mailbox-proofs.js";
import { toIntakeRecord, toRequestRecord } from "../schema.js";
import type { RequestPatch, RequestStore, RequestStoreTx } from "../types.js";
import { isUniqueViolation, manyWhere, oneWhere, run, type Ctx } from "./context.js";
import { toRow } from "./rows.js";

export function requestReads(c: Ctx): RequestStore {
  return {
    getRequest: (id) => oneWhere(c, "read request", "requests", { id }, toRequestRecord),
    getRequestByPublicId: (publicId) =>
      oneWhere(c, "read request", "requests", { public_id: publicId }, toRequestRecord),
    listRequests: (q) =>
      manyWhere(c, "list requests", "requests", { state: q.state }, toRequestRecord, {
        order: ["id"],
        limit: q.limit,
      }),
    getIntake: (key) => oneWhere(c, "read intake", "intake_log", { key }, toIntakeRecord),
    mailboxProofs: new MailboxProofReads(() => c.db),
  };
}

/** The `requests` row of a new request (the columns, in one place for every insert path). */
export function requestRow(r: Parameters<RequestStoreTx["insertRequest"]>[0]) {
  return {
    channel: r.channel,
    submitter: r.submitter,
    email: r.email,
    received_at: r.receivedAt,
    csr_der: r.csrDer,
    subject: r.subject,
    ca_name: r.caName,
    profile: r.profile,
    state: r.state,
    reason: r.reason,
    certificate_id: r.certificateId,
    source: r.source,
    checks: JSON.stringify(r.checks),
    decided_by: r.decidedBy,
    decided_at: r.decidedAt,
    reply_to: r.replyTo,
    public_id: r.publicId ?? null,
  };
}

/** The columns a request patch sets (undefined fields are left alone). */
export function requestPatchSet(patch: RequestPatch) {
  const { state, reason, certificateId, caName, profile, decidedBy, decidedAt, checks } = patch;
  return toRow({ state, reason, certificateId, caName, profile, decidedBy, decidedAt, checks });
}

/** The error of an update that found no request `id`. */
export const requestNotFound = (id: number): SigilError =>
  new SigilError(ErrorCodes.STORE, `request ${id} not found`, { details: { notFound: true, id } });

export function requestWrites(c: Ctx): RequestStoreTx {
  return {
    async insertRequest(r) {
      const res = await run(c, "insert request", (db) =>
        db.insertInto("requests").values(requestRow(r)).returning("id").executeTakeFirstOrThrow(),
      );
      return { id: Number(res.id), ...r, publicId: r.publicId ?? null };
    },
    async updateRequest(id: number, patch: RequestPatch) {
      const set = requestPatchSet(patch);
      if (Object.keys(set).length === 0) return;
      const r = await run(c, "update request", (db) =>
        db.updateTable("requests").set(set).where("id", "=", id).executeTakeFirst(),
      );
      if (r.numUpdatedRows === 0n) throw requestNotFound(id);
    },
    getRequestForUpdate: (id) =>
      oneWhere(c, "read request", "requests", { id }, toRequestRecord, { lock: true }),
    async recordIntake(r) {
      try {
        const res = await c.db
          .insertInto("intake_log")
          .values(toRow(r))
          .returning("id")
          .executeTakeFirstOrThrow();
        return { ...r, id: Number(res.id) };
      } catch (e) {
        if (isUniqueViolation(e))
          throw new SigilError(ErrorCodes.STORE, `already taken in: ${r.key}`, {
            details: { duplicateIntake: true, key: r.key },
            cause: e,
          });
        throw c.dialect.fail(e, "record intake");
      }
    },
    async markIntakeMoved(key) {
      await run(c, "update intake", (db) =>
        db.updateTable("intake_log").set({ moved: 1 }).where("key", "=", key).execute(),
      );
    },
    mailboxProofs: new MailboxProofTx(() => c.db),
  };
}
