/** Background jobs: named marks (`job_marks`) and leases (`job_leases`). */
import type { RawBuilder } from "kysely";
import type { JobStore, JobStoreTx } from "../types.js";
import { many, one, run, type Ctx, type Db } from "./context.js";

/** How leases are written: outside any transaction, timed by one clock. */
export interface LeaseWriter {
  /** Runs one write on its own (autocommit), queued behind this store's transactions. */
  write<T>(f: (db: Db) => Promise<T>): Promise<T>;
  /** Now in epoch ms by the clock that times leases (PostgreSQL: the database's, shared by all hosts). */
  nowMs(): RawBuilder<number>;
}

export function jobReads(c: Ctx, w: LeaseWriter): JobStore {
  return {
    getJobMark: (name) =>
      one(
        c,
        "read job mark",
        (db) =>
          db.selectFrom("job_marks").select(["value", "at"]).where("name", "=", name).executeTakeFirst(),
        (r) => ({ value: r.value, at: Number(r.at) }),
      ),
    async tryLease(name, holder, ttlMs) {
      const r = await w.write((db) =>
        run({ db, dialect: c.dialect }, "job lease", () =>
          db
            .insertInto("job_leases")
            .values((eb) => ({ name, holder, expires_at: eb(w.nowMs(), "+", Math.round(ttlMs)) }))
            .onConflict((oc) =>
              oc
                .column("name")
                .doUpdateSet((eb) => ({
                  holder: eb.ref("excluded.holder"),
                  expires_at: eb.ref("excluded.expires_at"),
                }))
                .where((eb) =>
                  eb.or([
                    eb("job_leases.holder", "=", eb.ref("excluded.holder")),
                    eb("job_leases.expires_at", "<=", w.nowMs()),
                  ]),
                ),
            )
            .executeTakeFirst(),
        ),
      );
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async releaseLease(name, holder) {
      await w.write((db) =>
        run({ db, dialect: c.dialect }, "job lease", () =>
          db.deleteFrom("job_leases").where("name", "=", name).where("holder", "=", holder).execute(),
        ),
      );
    },
    jobLeases: () =>
      many(
        c,
        "read job leases",
        (db) =>
          db.selectFrom("job_leases").select(["name", "holder", "expires_at"]).orderBy("name").execute(),
        (r) => ({ name: r.name, holder: r.holder, expiresAt: Number(r.expires_at) }),
      ),
    async leaseClock() {
      const r = await run(c, "read the lease clock", (db) =>
        db.selectNoFrom(w.nowMs().as("now")).executeTakeFirstOrThrow(),
      );
      return Number(r.now);
    },
  };
}

export function jobWrites(c: Ctx): JobStoreTx {
  return {
    async setJobMark(name, value, at) {
      await run(c, "set job mark", (db) =>
        db
          .insertInto("job_marks")
          .values({ name, value, at })
          .onConflict((oc) =>
            oc
              .column("name")
              .doUpdateSet((eb) => ({ value: eb.ref("excluded.value"), at: eb.ref("excluded.at") })),
          )
          .execute(),
      );
    },
  };
}
