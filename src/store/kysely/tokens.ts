/** Admin API tokens (`admin_tokens`): only a keyed hash of each secret is stored. */
import type { AdminTokenRow } from "../schema.js";
import type { AdminTokenRecord, TokenStore, TokenStoreTx } from "../types.js";
import { manyWhere, one, oneWhere, run, type Ctx } from "./context.js";
import { fromRow, toRow } from "./rows.js";

/** The advisory lock key that serializes admin token creations (unique live names): "Stkn". */
const TOKEN_LOCK_KEY = 0x53746b6e;

/** The record of a token row; a scheme other than `hmac-sha256` reads as `sha256` (refused). */
function toAdminToken(r: AdminTokenRow): AdminTokenRecord {
  const t = fromRow<AdminTokenRecord>(r, { renames: { scheme: "hash_scheme" } });
  return {
    ...t,
    secretHash: Buffer.from(t.secretHash),
    scheme: t.scheme === "hmac-sha256" ? t.scheme : "sha256",
  };
}

export function tokenReads(c: Ctx): TokenStore {
  return {
    getAdminToken: (id) => oneWhere(c, "read admin token", "admin_tokens", { id }, toAdminToken),
    listAdminTokens: () =>
      manyWhere(c, "list admin tokens", "admin_tokens", {}, toAdminToken, { order: ["-created_at", "id"] }),
  };
}

export function tokenWrites(c: Ctx): TokenStoreTx {
  return {
    async insertAdminToken(t) {
      // Serializes token creations across every connection until the transaction ends (no
      // row to lock when the name is free); the check below then sees any earlier commit.
      await run(c, "lock admin tokens", (db) => c.dialect.lock(db, TOKEN_LOCK_KEY));
      const holder = await one(
        c,
        "read admin token",
        (db) =>
          db
            .selectFrom("admin_tokens")
            .selectAll()
            .where("name", "=", t.name)
            .where("revoked_at", "is", null)
            .where("expires_at", ">", t.createdAt)
            .orderBy("created_at")
            .orderBy("id")
            .limit(1)
            .executeTakeFirst(),
        toAdminToken,
      );
      if (holder) return holder;
      const { scheme, ...rest } = t;
      await run(c, "store admin token", (db) =>
        db
          .insertInto("admin_tokens")
          .values(toRow({ ...rest, hashScheme: scheme }))
          .execute(),
      );
      return undefined;
    },
    async revokeAdminToken(id, at) {
      const r = await run(c, "revoke admin token", (db) =>
        db
          .updateTable("admin_tokens")
          .set({ revoked_at: at })
          .where("id", "=", id)
          .where("revoked_at", "is", null)
          .executeTakeFirst(),
      );
      return r.numUpdatedRows === 1n;
    },
  };
}
