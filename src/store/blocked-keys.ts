/**
 * Public keys never to be certified again, written once over Kysely for SQLite and
 * PostgreSQL (table `blocked_keys`, migration 0009). Both stores delegate here.
 */
import type { Kysely } from "kysely";
import type { SigilDatabase } from "./schema.js";
import type { BlockedKey } from "./types.js";

/** The records of those of `keyIds` that are blocked (one query per 500 ids). */
export async function findBlockedKeys(
  db: Kysely<SigilDatabase>,
  keyIds: string[],
): Promise<Map<string, BlockedKey>> {
  const out = new Map<string, BlockedKey>();
  const ids = [...new Set(keyIds)];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom("blocked_keys")
      .selectAll()
      .where("key_id", "in", ids.slice(i, i + 500))
      .execute();
    for (const r of rows)
      out.set(r.key_id, {
        keyId: r.key_id,
        kind: r.kind === "compromised" ? "compromised" : "sigil",
        detail: r.detail,
        caName: r.ca_name,
        serialHex: r.serial_hex,
        since: Number(r.since),
      });
  }
  return out;
}

/**
 * Blocks keys. A key already blocked keeps its first record, except that a compromise
 * replaces a "sigil" record (the stronger reason is the one to tell).
 */
export async function blockKeys(db: Kysely<SigilDatabase>, keys: BlockedKey[]): Promise<void> {
  for (const k of keys)
    await db
      .insertInto("blocked_keys")
      .values({
        key_id: k.keyId,
        kind: k.kind,
        detail: k.detail,
        ca_name: k.caName,
        serial_hex: k.serialHex,
        since: k.since,
      })
      .onConflict((oc) =>
        oc
          .column("key_id")
          .doUpdateSet((eb) => ({
            kind: eb.ref("excluded.kind"),
            detail: eb.ref("excluded.detail"),
            ca_name: eb.ref("excluded.ca_name"),
            serial_hex: eb.ref("excluded.serial_hex"),
            since: eb.ref("excluded.since"),
          }))
          .where((eb) =>
            eb.and([eb("excluded.kind", "=", "compromised"), eb("blocked_keys.kind", "!=", "compromised")]),
          ),
      )
      .execute();
}
