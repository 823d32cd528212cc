/**
 * OCSP responders (`ocsp_responders`), each certificate's pre-signed answer (`ocsp_responses`)
 * and the answers' change mark (`ocsp_epoch`).
 */
import { randomBytes } from "node:crypto";
import { toResponderRecord } from "../schema.js";
import type { OcspEntry, OcspStore, OcspStoreTx } from "../types.js";
import { many, one, oneWhere, run, type Ctx, type Db } from "./context.js";
import { toRow, type Columns } from "./rows.js";

/** A certificate's state and its answer, as one row (`ocspLookup`, `ocspDue`; no answer yet: NULL times). */
export type OcspEntryRow = Columns<
  Omit<OcspEntry, "thisUpdate" | "nextUpdate"> & { thisUpdate: number | null; nextUpdate: number | null }
>;

export function toOcspEntry(r: OcspEntryRow): OcspEntry {
  return {
    certId: Number(r.cert_id),
    caId: Number(r.ca_id),
    serialHex: r.serial_hex,
    status: r.status as OcspEntry["status"],
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revocationReason: r.revocation_reason,
    notAfter: Number(r.not_after),
    der: r.der,
    thisUpdate: Number(r.this_update ?? 0),
    nextUpdate: Number(r.next_update ?? 0),
  };
}

const ENTRY_COLUMNS = [
  "c.id as cert_id",
  "c.ca_id",
  "c.serial_hex",
  "c.status",
  "c.revoked_at",
  "c.revocation_reason",
  "c.not_after",
  "o.der",
  "o.this_update",
  "o.next_update",
] as const;

/** The OCSP hot path: one certificate and its answer (two primary-key lookups). */
export function ocspLookupQuery(db: Db, caId: number, serialHex: string) {
  return db
    .selectFrom("certificates as c")
    .leftJoin("ocsp_responses as o", "o.cert_id", "c.id")
    .select(ENTRY_COLUMNS)
    .where("c.serial_hex", "=", serialHex)
    .where("c.ca_id", "=", caId);
}

/**
 * Sets the answers' change mark to a new random value (not a counter: a restored database
 * carries an older mark, which a counter could bring back to the value a server holds). Run
 * in the transaction of every write that changes an answer a server may have cached: a
 * certificate's status, a new issuer, a restore.
 */
export async function markOcspChanged(c: Ctx): Promise<void> {
  await run(c, "mark OCSP answers changed", (db) =>
    db
      .updateTable("ocsp_epoch")
      .set({ token: randomBytes(8).toString("hex") })
      .where("id", "=", 1)
      .execute(),
  );
}

export function ocspReads(c: Ctx): OcspStore {
  return {
    ocspEpoch: async () =>
      (await oneWhere(c, "read OCSP change mark", "ocsp_epoch", { id: 1 }, (r) => r.token)) ?? "",
    currentOcspResponder: (caId) =>
      oneWhere(c, "read OCSP responder", "ocsp_responders", { ca_id: caId }, toResponderRecord, {
        order: ["-not_after", "-id"],
        limit: 1,
      }),
    ocspLookup: (caId, serialHex) =>
      one(
        c,
        "read OCSP answer",
        (db) => ocspLookupQuery(db, caId, serialHex).executeTakeFirst(),
        toOcspEntry,
      ),
    ocspDue: (dueBefore, limit, afterCertId) =>
      many(
        c,
        "read due OCSP answers",
        (db) => {
          const q = db
            .selectFrom("ocsp_responses as o")
            .innerJoin("certificates as c", "c.id", "o.cert_id")
            .select(ENTRY_COLUMNS)
            .where("o.next_update", "<=", dueBefore);
          // Oldest first through the next_update index, or a cursor in certificate order.
          return (
            afterCertId === undefined
              ? q.orderBy("o.next_update").orderBy("o.cert_id")
              : q.where("o.cert_id", ">", afterCertId).orderBy("o.cert_id")
          )
            .limit(limit)
            .execute();
        },
        toOcspEntry,
      ),
    async countOcspDue(dueBefore) {
      const r = await run(c, "count due OCSP answers", (db) =>
        db
          .selectFrom("ocsp_responses")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("next_update", "<=", dueBefore)
          .executeTakeFirstOrThrow(),
      );
      return Number(r.n);
    },
  };
}

export function ocspWrites(c: Ctx): OcspStoreTx {
  return {
    invalidateOcspAnswers: () => markOcspChanged(c),
    async insertOcspResponder(r) {
      const res = await run(c, "insert OCSP responder", (db) =>
        db.insertInto("ocsp_responders").values(toRow(r)).returning("id").executeTakeFirstOrThrow(),
      );
      return { ...r, id: Number(res.id) };
    },
    async putOcspResponses(rows) {
      // A few hundred rows per statement, not one round trip per answer.
      for (let i = 0; i < rows.length; i += 500)
        await run(c, "store OCSP answer", (db) =>
          db
            .insertInto("ocsp_responses")
            .values(rows.slice(i, i + 500).map((r) => toRow(r)))
            .onConflict((oc) =>
              oc.column("cert_id").doUpdateSet((eb) => ({
                der: eb.ref("excluded.der"),
                this_update: eb.ref("excluded.this_update"),
                next_update: eb.ref("excluded.next_update"),
              })),
            )
            .execute(),
        );
      void c.db; // a transaction that ended refuses even an empty batch
    },
  };
}
