/**
 * The `sigil serve` instances seen in the database (`instances`): each primary's heartbeat
 * row. Written like job leases (jobs.ts): outside any transaction, `last_seen` by the lease
 * clock, so that every instance judges every other's age by one clock.
 */
import type { InstanceRecord, InstanceStore } from "../types.js";
import { many, run, type Ctx } from "./context.js";
import type { LeaseWriter } from "./jobs.js";
import { fromRow, toRow } from "./rows.js";

export function instanceRecords(c: Ctx, w: LeaseWriter): InstanceStore {
  return {
    async heartbeat(i) {
      const row = toRow({ ...i, lastSeen: 0 });
      await w.write((db) =>
        run({ db, dialect: c.dialect }, "instance heartbeat", () =>
          db
            .insertInto("instances")
            .values({ ...row, last_seen: w.nowMs() })
            .onConflict((oc) =>
              oc.column("name").doUpdateSet((eb) => ({
                holder: eb.ref("excluded.holder"),
                address: eb.ref("excluded.address"),
                admin: eb.ref("excluded.admin"),
                pid: eb.ref("excluded.pid"),
                host: eb.ref("excluded.host"),
                version: eb.ref("excluded.version"),
                started_at: eb.ref("excluded.started_at"),
                last_seen: eb.ref("excluded.last_seen"),
                heartbeat_ms: eb.ref("excluded.heartbeat_ms"),
                sealed: eb.ref("excluded.sealed"),
              })),
            )
            .execute(),
        ),
      );
    },
    async removeInstance(name, holder) {
      await w.write((db) =>
        run({ db, dialect: c.dialect }, "remove instance", () =>
          db.deleteFrom("instances").where("name", "=", name).where("holder", "=", holder).execute(),
        ),
      );
    },
    instances: () =>
      many(
        c,
        "read instances",
        (db) => db.selectFrom("instances").selectAll().orderBy("name").execute(),
        (r) => fromRow<InstanceRecord>(r, { json: ["admin"], flags: ["sealed"] }),
      ),
  };
}
