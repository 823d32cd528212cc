/**
 * What the in-code migrations share: the dialects they support and the two places where
 * SQLite and PostgreSQL differ (binary column type, auto-incrementing key).
 */
import type { CreateTableBuilder, Kysely } from "kysely";

/** The SQL dialects the migrations support. */
export type SqlDialectKind = "sqlite" | "postgres";

export type AnyDb = Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * An auto-incrementing integer primary key. PostgreSQL: `serial primary key`. SQLite:
 * `integer primary key` (the rowid); `autoincrement` only where asked for, since it costs
 * one more page write (sqlite_sequence) per insert on the issuance path. Without it an id
 * could only be reused after deleting the newest row, and Sigil deletes none.
 */
export function idColumn(kind: SqlDialectKind, t: CreateTableBuilder<string>, autoIncrement: boolean) {
  return kind === "postgres"
    ? t.addColumn("id", "serial", (c) => c.primaryKey())
    : t.addColumn("id", "integer", (c) => (autoIncrement ? c.primaryKey().autoIncrement() : c.primaryKey()));
}

/** Creates index `name` on `table` (`columns`). */
export async function index(db: AnyDb, name: string, table: string, columns: string[]): Promise<void> {
  await db.schema.createIndex(name).on(table).columns(columns).execute();
}
