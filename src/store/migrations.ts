/**
 * Database migrations, in code (nothing is read from disk at run time), for Kysely's
 * Migrator. The same migrations run on SQLite and PostgreSQL: the only differences are the
 * binary column type (`blob` / `bytea`) and how an auto-incrementing key is declared.
 *
 * The migrations themselves live in migrations/ (files by number range, bodies as shipped);
 * this module lists them in order ({@link sigilMigrations}) and runs them.
 */
import { Migrator, sql } from "kysely";
import type { Kysely, Migration, MigrationProvider } from "kysely";
import { ErrorCodes, SigilError } from "../errors.js";
import { adminTokens, init, ocsp, queue } from "./migrations/0001-0004.js";
import {
  acme,
  auditCheckpoints,
  blockedKeys,
  caCertificates,
  instances,
  jobLeases,
  mailboxProofs,
  publicIds,
  serviceKeys,
  tokenHmac,
} from "./migrations/0005-0014.js";
import { ocspEpoch } from "./migrations/0015-0024.js";
import type { SqlDialectKind } from "./migrations/common.js";

export type { SqlDialectKind } from "./migrations/common.js";

/** Name of Kysely's bookkeeping table (the default). */
export const MIGRATION_TABLE = "kysely_migration";

type AnyDb = Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * All migrations for `kind`, keyed by name; names sort in the order they apply.
 * Add new ones as `0002_...`; never edit one that has shipped.
 */
export function sigilMigrations(kind: SqlDialectKind): Record<string, Migration> {
  return {
    "0001_init": init(kind),
    "0002_ocsp": ocsp(kind),
    "0003_queue": queue(kind),
    "0004_admin_tokens": adminTokens(kind),
    "0005_ca_certificates": caCertificates(),
    "0006_public_ids": publicIds(),
    "0007_job_leases": jobLeases(),
    "0008_acme": acme(kind),
    "0009_blocked_keys": blockedKeys(),
    "0010_mailbox_proofs": mailboxProofs(kind),
    "0011_token_hmac": tokenHmac(),
    "0012_audit_checkpoints": auditCheckpoints(kind),
    "0013_service_keys": serviceKeys(),
    "0014_instances": instances(),
    "0015_ocsp_epoch": ocspEpoch(),
  };
}

/** A Kysely {@link MigrationProvider} over {@link sigilMigrations} (no files). */
export class InCodeMigrationProvider implements MigrationProvider {
  /** @param kind - the dialect the migrations will run on. */
  constructor(private readonly kind: SqlDialectKind) {}

  /** Returns the migrations for this provider's dialect. */
  async getMigrations(): Promise<Record<string, Migration>> {
    return sigilMigrations(this.kind);
  }
}

/** Names of every migration this build knows, in order. */
export function migrationNames(kind: SqlDialectKind = "sqlite"): string[] {
  return Object.keys(sigilMigrations(kind)).sort();
}

/**
 * Brings the database to the latest schema. Throws SigilError STORE when a migration
 * fails or the database was migrated by a newer Sigil (a migration this build lacks).
 */
export async function migrateToLatest(db: AnyDb, kind: SqlDialectKind): Promise<void> {
  // The common case, an up-to-date schema, in one query instead of the migrator's lock
  // round trips: every command opens the store. Anything else (no table yet, an older or
  // a newer schema) goes through the migrator, which decides under its lock.
  const names = migrationNames(kind);
  const applied = await sql<{
    name: string | null;
    n: number | string;
  }>`SELECT max(name) AS name, count(*) AS n FROM ${sql.table(MIGRATION_TABLE)}`
    .execute(db)
    .then(
      (r) => r.rows[0],
      () => undefined, // no migration table yet
    );
  const latest = applied?.name;
  const count = Number(applied?.n ?? -1);
  if (latest === names[names.length - 1] && count === names.length) return;
  const migrator = new Migrator({ db, provider: new InCodeMigrationProvider(kind) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error");
    const msg = error instanceof Error ? error.message : String(error);
    const newer = /previously executed migration .* is missing/i.test(msg);
    throw new SigilError(
      ErrorCodes.STORE,
      newer
        ? `database schema is newer than this Sigil (${msg})`
        : `database migration ${failed?.migrationName ?? ""} failed: ${msg}`.replace("  ", " "),
      { kind: "internal", cause: error },
    );
  }
}
