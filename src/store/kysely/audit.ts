/**
 * The audit chain (`audit_events`, and `audit_head`, the last event's seq and hash written
 * with each append so truncation shows). Hashes are computed by audit/chain.ts only.
 */
import { GENESIS_HASH, chainHash, stableStringify } from "../../audit/chain.js";
import { ErrorCodes, SigilError } from "../../errors.js";
import { toAuditEvent, toStoredAuditEvent } from "../schema.js";
import type {
  AuditCheckpoint,
  AuditDraft,
  AuditEvent,
  AuditKeyRecord,
  AuditStore,
  AuditStoreTx,
  StoredAuditEvent,
} from "../types.js";
import { isUniqueViolation, manyWhere, oneWhere, run, type Ctx, type Db } from "./context.js";
import { fromRow, toRow } from "./rows.js";

/** The advisory lock key that serializes audit appends (per database): "Sigl" in ASCII. */
export const AUDIT_LOCK_KEY = 0x5369676c;

/** The next event after `head` (undefined: the chain is empty), chained by audit/chain.ts. */
export function chainNext(head: { seq: number; hash: string } | undefined, draft: AuditDraft) {
  const prev = head ?? { seq: 0, hash: GENESIS_HASH };
  const { at, actor, action, target, details } = draft;
  const fields = { seq: Number(prev.seq) + 1, at, actor, action, target, details };
  const event: AuditEvent = { ...fields, prevHash: prev.hash, hash: chainHash(prev.hash, fields) };
  const row = { ...fields, details: stableStringify(details), prev_hash: event.prevHash, hash: event.hash };
  return { event, row };
}

/** The columns of an `audit_events` row, in the order of the backends' prepared inserts. */
export const AUDIT_COLUMNS = [
  "seq",
  "at",
  "actor",
  "action",
  "target",
  "details",
  "prev_hash",
  "hash",
] as const;

/** How one append reads the chain head and writes the event: these queries, or a backend's prepared statements. */
export interface AuditAppender {
  /** Takes the chain's lock (where one is needed) and reads its head: the recorded head, else the last event. */
  head(): Promise<{ seq: number; hash: string } | undefined>;
  write(row: ReturnType<typeof chainNext>["row"], event: AuditEvent): Promise<void>;
}

/** Appends `draft` after the head `a` reads; a seq that exists already means the head is behind the log. */
export async function appendChained(c: Ctx, draft: AuditDraft, a: AuditAppender): Promise<AuditEvent> {
  try {
    const { event, row } = chainNext(await a.head(), draft);
    await a.write(row, event);
    return event;
  } catch (e) {
    throw isUniqueViolation(e)
      ? new SigilError(
          ErrorCodes.AUDIT_BROKEN,
          "audit head is behind the audit log (audit_head tampered?); run `sigil audit verify`",
          { kind: "internal", cause: e },
        )
      : c.dialect.fail(e, "append audit event");
  }
}

const headQuery = (db: Db) => db.selectFrom("audit_head").select(["seq", "hash"]).where("id", "=", 1);

/**
 * Rows of (seq, at, actor, action, target, details, prev_hash, hash) as stored events: read
 * as arrays (no object per row from the driver), made into objects of one shape here.
 */
async function* storedBatches(rows: AsyncIterable<unknown[][]>): AsyncGenerator<StoredAuditEvent[]> {
  for await (const batch of rows) {
    const out: StoredAuditEvent[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      out[i] = toStoredAuditEvent(r);
    }
    yield out;
  }
}

export function auditReads(c: Ctx): AuditStore {
  const eventsAfter = (afterSeq: number): AsyncIterable<AuditEvent> => {
    const rows = c.dialect.stream(
      "read audit log",
      c.db.selectFrom("audit_events").selectAll().where("seq", ">", afterSeq).orderBy("seq").compile(),
    );
    return (async function* () {
      for await (const batch of rows) for (const r of batch) yield toAuditEvent(r);
    })();
  };
  return {
    auditEvents: () => eventsAfter(0),
    auditEventsAfter: eventsAfter,
    auditEventBatches: (afterSeq = 0) =>
      storedBatches(
        c.dialect.stream(
          "read audit log",
          c.db
            .selectFrom("audit_events")
            .select(["seq", "at", "actor", "action", "target", "details", "prev_hash", "hash"])
            .where("seq", ">", afterSeq)
            .orderBy("seq")
            .compile(),
          true,
        ) as AsyncIterable<unknown[][]>,
      ),
    auditCheckpoints: () =>
      manyWhere(c, "read audit checkpoints", "audit_checkpoints", {}, (r) => fromRow<AuditCheckpoint>(r), {
        order: ["tree_size"],
      }),
    lastAuditCheckpoint: () =>
      oneWhere(c, "read audit checkpoint", "audit_checkpoints", {}, (r) => fromRow<AuditCheckpoint>(r), {
        order: ["-tree_size"],
        limit: 1,
      }),
    auditKeys: () =>
      manyWhere(
        c,
        "read audit keys",
        "audit_keys",
        {},
        (r) => {
          const k = fromRow<AuditKeyRecord>(r);
          return { ...k, spki: Buffer.from(k.spki) };
        },
        { order: ["created_at", "key_id"] },
      ),
    async auditHead() {
      const r = await run(c, "read audit head", (db) => headQuery(db).executeTakeFirst());
      return r === undefined ? undefined : { seq: Number(r.seq), hash: r.hash };
    },
  };
}

export function auditWrites(c: Ctx): AuditStoreTx {
  return {
    appendAudit: (draft) =>
      appendChained(c, draft, {
        async head() {
          // Serializes appends across every connection to the database until COMMIT; the
          // head read after it sees the previous appender's commit.
          await c.dialect.lock(c.db, AUDIT_LOCK_KEY);
          return (
            (await headQuery(c.db).executeTakeFirst()) ??
            (await c.db
              .selectFrom("audit_events")
              .select(["seq", "hash"])
              .orderBy("seq", "desc")
              .limit(1)
              .executeTakeFirst())
          );
        },
        async write(row, event) {
          await c.db.insertInto("audit_events").values(row).execute();
          await c.db
            .insertInto("audit_head")
            .values({ id: 1, seq: event.seq, hash: event.hash })
            .onConflict((oc) => oc.column("id").doUpdateSet({ seq: event.seq, hash: event.hash }))
            .execute();
        },
      }),
    async insertAuditCheckpoint(cp) {
      const r = await run(c, "store audit checkpoint", (db) =>
        db
          .insertInto("audit_checkpoints")
          .values(toRow(cp))
          .onConflict((oc) => oc.column("tree_size").doNothing())
          .executeTakeFirst(),
      );
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
    async insertAuditKey(k) {
      await run(c, "store audit key", (db) => db.insertInto("audit_keys").values(toRow(k)).execute());
    },
  };
}
