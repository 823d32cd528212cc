/** The `cas` table: the certificate authorities Sigil holds. */
import { ErrorCodes, SigilError } from "../../errors.js";
import { toCaRecord } from "../schema.js";
import type { CaRecord, CaStore, CaStoreTx } from "../types.js";
import { isUniqueViolation, manyWhere, mustChange, oneWhere, run, type Ctx } from "./context.js";
import { markOcspChanged } from "./ocsp.js";
import { toRow } from "./rows.js";

export function caReads(c: Ctx): CaStore {
  return {
    getCa: (name) => oneWhere(c, "read CA", "cas", { name }, toCaRecord),
    getCaById: (id) => oneWhere(c, "read CA", "cas", { id }, toCaRecord),
    listCas: () => manyWhere(c, "list CAs", "cas", {}, toCaRecord, { order: ["id"] }),
  };
}

export function caWrites(c: Ctx): CaStoreTx {
  const notFound = (caId: number) => `CA id ${caId} not found`;
  return {
    async insertCa(ca: Omit<CaRecord, "id">): Promise<CaRecord> {
      try {
        const r = await c.db.insertInto("cas").values(toRow(ca)).returning("id").executeTakeFirstOrThrow();
        await markOcspChanged(c); // a new issuer for the servers' issuer index
        return { id: Number(r.id), ...ca };
      } catch (e) {
        if (isUniqueViolation(e))
          throw new SigilError(ErrorCodes.CA_EXISTS, `a CA named "${ca.name}" already exists`, {
            details: { name: ca.name },
            cause: e,
          });
        throw c.dialect.fail(e, "insert CA");
      }
    },
    async nextCrlNumber(caId) {
      // One UPDATE ... RETURNING: the row lock gives concurrent publishers distinct numbers.
      const r = await run(c, "take the next CRL number", (db) =>
        db
          .updateTable("cas")
          .set((eb) => ({ crl_number: eb("crl_number", "+", 1) }))
          .where("id", "=", caId)
          .returning("crl_number")
          .executeTakeFirst(),
      );
      if (r === undefined) throw new SigilError(ErrorCodes.CA_NOT_FOUND, notFound(caId));
      return Number(r.crl_number);
    },
    async setCrlNumber(caId, crlNumber) {
      const r = await run(c, "set CRL number", (db) =>
        db.updateTable("cas").set({ crl_number: crlNumber }).where("id", "=", caId).executeTakeFirst(),
      );
      mustChange(r, ErrorCodes.CA_NOT_FOUND, notFound(caId));
    },
    async setCaKeyRef(caId, keyRef) {
      const r = await run(c, "set CA key reference", (db) =>
        db.updateTable("cas").set({ key_ref: keyRef }).where("id", "=", caId).executeTakeFirst(),
      );
      mustChange(r, ErrorCodes.CA_NOT_FOUND, notFound(caId));
    },
  };
}
