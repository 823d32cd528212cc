/** The `service_keys` table: the service's own keys, encrypted (keys/store-keystore.ts). */
import { ErrorCodes, SigilError } from "../../errors.js";
import type { ServiceKeyRecord, ServiceKeyStore, ServiceKeyStoreTx } from "../types.js";
import { isUniqueViolation, oneWhere, run, type Ctx } from "./context.js";
import { fromRow, toRow } from "./rows.js";

export function serviceKeyReads(c: Ctx): ServiceKeyStore {
  return {
    getServiceKey: (name) =>
      oneWhere(c, "read service key", "service_keys", { name }, (r) => fromRow<ServiceKeyRecord>(r)),
  };
}

export function serviceKeyWrites(c: Ctx): ServiceKeyStoreTx {
  return {
    async insertServiceKey(k) {
      try {
        await c.db.insertInto("service_keys").values(toRow(k)).execute();
      } catch (e) {
        if (isUniqueViolation(e))
          throw new SigilError(ErrorCodes.FILE_EXISTS, `key ${k.name} already exists`, {
            details: { name: k.name },
            cause: e,
          });
        throw c.dialect.fail(e, "store service key");
      }
    },
    async deleteServiceKey(name) {
      await run(c, "delete service key", (db) =>
        db.deleteFrom("service_keys").where("name", "=", name).execute(),
      );
    },
  };
}
