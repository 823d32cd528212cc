/**
 * The revocation state of one certificate, read inside a transaction: written once over
 * Kysely for SQLite and PostgreSQL. Issuance checks its CA chain with it at commit time.
 */
import type { Kysely } from "kysely";
import type { SigilDatabase } from "./schema.js";
import type { CertStatusRow } from "./types.js";

/** Status of certificate (caId, serialHex), as the transaction sees it. */
export async function getCertStatus(
  db: Kysely<SigilDatabase>,
  caId: number,
  serialHex: string,
): Promise<CertStatusRow | undefined> {
  const r = await db
    .selectFrom("certificates")
    .select(["status", "revoked_at", "revocation_reason"])
    .where("ca_id", "=", caId)
    .where("serial_hex", "=", serialHex)
    .executeTakeFirst();
  if (!r) return undefined;
  return {
    status: r.status === "revoked" ? "revoked" : "valid",
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    revocationReason: r.revocation_reason === null ? null : Number(r.revocation_reason),
  };
}
