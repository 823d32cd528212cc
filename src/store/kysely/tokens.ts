/** Admin API tokens (`admin_tokens`): only a keyed hash of each secret is stored. */
import type { AdminTokenRow } from "../schema.js";
import type { AdminRole, AdminTokenRecord, TokenStore, TokenStoreTx } from "../types.js";
import { many, one, run, type Ctx } from "./context.js";

/** The advisory lock key that serializes admin token creations (unique live names): "Stkn". */
const TOKEN_LOCK_KEY = 0x53746b6e;

function toAdminToken(r: AdminTokenRow): AdminTokenRecord {
  return {
    id: r.id,
    name: r.name,
    role: r.role as AdminRole,
    secretHash: Buffer.from(r.secret_hash),
    scheme: r.hash_scheme === "hmac-sha256" ? "hmac-sha256" : "sha256",
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: Number(r.expires_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

export function tokenReads(c: Ctx): TokenStore {
  return {
    getAdminToken: (id) =>
      one(
        c,
        "read admin token",
        (db) => db.selectFrom("admin_tokens").selectAll().where("id", "=", id).executeTakeFirst(),
        toAdminToken,
      ),
    listAdminTokens: () =>
      many(
        c,
        "list admin tokens",
        (db) =>
          db.selectFrom("admin_tokens").selectAll().orderBy("created_at", "desc").orderBy("id").execute(),
        toAdminToken,
      ),
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
      await run(c, "store admin token", (db) =>
        db
          .insertInto("admin_tokens")
          .values({
            id: t.id,
            name: t.name,
            role: t.role,
            secret_hash: t.secretHash,
            hash_scheme: t.scheme,
            created_at: t.createdAt,
            created_by: t.createdBy,
            expires_at: t.expiresAt,
            revoked_at: t.revokedAt,
          })
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
