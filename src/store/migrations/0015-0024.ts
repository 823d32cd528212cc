/**
 * Migrations from 0015, as shipped (never edit one: add a new migration instead). Listed,
 * named and run by ../migrations.ts.
 */
import type { Migration } from "kysely";
import type { AnyDb } from "./common.js";

/**
 * 0015: the OCSP answers' change mark (store/kysely/ocsp.ts): one row whose `token` is set
 * to a new random value by every write that changes an answer a responder may have cached (a
 * revocation, a new CA, a restore). Serving processes drop their cached answers when it
 * changes, and only then: before this, any commit (a lease renewal, an audit event) dropped
 * them all.
 */
export function ocspEpoch(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("ocsp_epoch")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("token", "text", (c) => c.notNull())
        .execute();
      await db.insertInto("ocsp_epoch").values({ id: 1, token: "0" }).execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("ocsp_epoch").ifExists().execute();
    },
  };
}
