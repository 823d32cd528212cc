/**
 * Migrations 0001-0004, as shipped (never edit one: add a new migration instead). Listed,
 * named and run by ../migrations.ts.
 */
import { sql } from "kysely";
import type { CreateTableBuilder, Migration } from "kysely";
import { idColumn, index } from "./common.js";
import type { AnyDb, SqlDialectKind } from "./common.js";

export function init(kind: SqlDialectKind): Migration {
  const binary = kind === "postgres" ? "bytea" : "blob";
  const withId = (t: CreateTableBuilder<string>, autoIncrement = false) => idColumn(kind, t, autoIncrement);

  return {
    async up(db: AnyDb): Promise<void> {
      await withId(db.schema.createTable("cas"), true)
        .addColumn("name", "text", (c) => c.notNull().unique())
        .addColumn("parent_id", "integer", (c) => c.references("cas.id"))
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("cert_der", binary, (c) => c.notNull())
        .addColumn("key_ref", "text", (c) => c.notNull())
        .addColumn("key_type", "text", (c) => c.notNull())
        .addColumn("serial_hex", "text", (c) => c.notNull())
        .addColumn("not_before", "bigint", (c) => c.notNull())
        .addColumn("not_after", "bigint", (c) => c.notNull())
        .addColumn("path_len", "integer")
        .addColumn("default_profile", "text", (c) => c.notNull())
        .addColumn("crl_number", "bigint", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();

      await withId(db.schema.createTable("requests"))
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("submitter", "text")
        .addColumn("email", "text")
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addColumn("csr_der", binary, (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("ca_name", "text")
        .addColumn("profile", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("reason", "text")
        // No foreign key: certificates references requests, and PostgreSQL cannot
        // reference a table that does not exist yet.
        .addColumn("certificate_id", "integer")
        .execute();
      await index(db, "requests_state", "requests", ["state", "id"]);

      await withId(db.schema.createTable("certificates"))
        .addColumn("ca_id", "integer", (c) => c.notNull().references("cas.id"))
        .addColumn("serial_hex", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("common_name", "text")
        .addColumn("email", "text")
        .addColumn("sans", "text", (c) => c.notNull())
        .addColumn("profile", "text", (c) => c.notNull())
        .addColumn("not_before", "bigint", (c) => c.notNull())
        .addColumn("not_after", "bigint", (c) => c.notNull())
        .addColumn("der", binary, (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .addColumn("revocation_reason", "integer")
        .addColumn("request_id", "integer", (c) => c.references("requests.id"))
        .addColumn("issued_at", "bigint", (c) => c.notNull())
        // UNIQUE(ca_id, serial_hex), with serial first so a serial lookup without a CA
        // (`--match` across CAs) uses the same index.
        .addUniqueConstraint("certificates_serial_unique", ["serial_hex", "ca_id"])
        .execute();
      await index(db, "certificates_not_after", "certificates", ["not_after"]);
      await index(db, "certificates_ca_status", "certificates", ["ca_id", "status"]);
      await db.schema
        .createIndex("certificates_common_name")
        .on("certificates")
        .expression(sql`lower(common_name)`)
        .execute();
      await db.schema
        .createIndex("certificates_email")
        .on("certificates")
        .expression(sql`lower(email)`)
        .execute();

      await db.schema
        .createTable("audit_events")
        // SQLite: `integer primary key` makes seq the rowid (no second index).
        .addColumn("seq", kind === "postgres" ? "bigint" : "integer", (c) => c.primaryKey())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text")
        .addColumn("details", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("audit_head")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addCheckConstraint("audit_head_single_row", sql`id = 1`)
        .execute();
    },

    async down(db: AnyDb): Promise<void> {
      for (const t of ["audit_head", "audit_events", "certificates", "requests", "cas"]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}

/**
 * 0002: the OCSP responder's state (RFC 6960): each CA's delegated responder certificates,
 * one pre-signed answer per certificate, and each CA's latest CRL (served by `sigil serve`).
 * Certificates issued before this migration get an answer row that is due at once, so the
 * responder's refresh job signs them.
 */
export function ocsp(kind: SqlDialectKind): Migration {
  const binary = kind === "postgres" ? "bytea" : "blob";
  return {
    async up(db: AnyDb): Promise<void> {
      await idColumn(kind, db.schema.createTable("ocsp_responders"), true)
        .addColumn("ca_id", "integer", (c) => c.notNull().references("cas.id"))
        .addColumn("cert_id", "integer", (c) => c.notNull().references("certificates.id"))
        .addColumn("cert_der", binary, (c) => c.notNull())
        .addColumn("key_ref", "text", (c) => c.notNull())
        .addColumn("key_type", "text", (c) => c.notNull())
        .addColumn("not_before", "bigint", (c) => c.notNull())
        .addColumn("not_after", "bigint", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await index(db, "ocsp_responders_ca", "ocsp_responders", ["ca_id", "not_after"]);

      await db.schema
        .createTable("ocsp_responses")
        // One row per certificate; SQLite: `integer primary key` is the rowid (no second index).
        .addColumn("cert_id", "integer", (c) => c.primaryKey().references("certificates.id"))
        .addColumn("ca_id", "integer", (c) => c.notNull())
        // NULL: not signed yet (due).
        .addColumn("der", binary)
        .addColumn("this_update", "bigint", (c) => c.notNull())
        .addColumn("next_update", "bigint", (c) => c.notNull())
        .execute();
      await index(db, "ocsp_responses_next_update", "ocsp_responses", ["next_update"]);
      await sql`INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update)
                SELECT id, ca_id, NULL, 0, 0 FROM certificates`.execute(db);

      await db.schema
        .createTable("crls")
        .addColumn("ca_id", "integer", (c) => c.primaryKey().references("cas.id"))
        .addColumn("crl_number", "bigint", (c) => c.notNull())
        .addColumn("der", binary, (c) => c.notNull())
        .addColumn("this_update", "bigint", (c) => c.notNull())
        .addColumn("next_update", "bigint", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of ["crls", "ocsp_responses", "ocsp_responders"])
        await db.schema.dropTable(t).ifExists().execute();
    },
  };
}

/**
 * 0003: the request queue's details (source, checks run at intake, who decided, where the
 * reply goes), the mail outbox (replies and notices, retried with backoff), the intake log
 * (a mail or a dropped file is recorded once, however often it is seen), and the expiry
 * notices sent (one per certificate and threshold).
 */
export function queue(kind: SqlDialectKind): Migration {
  const id = (t: CreateTableBuilder<string>) => idColumn(kind, t, true);
  return {
    async up(db: AnyDb): Promise<void> {
      for (const [col, type] of [
        ["source", "text"],
        ["checks", "text"],
        ["decided_by", "text"],
        ["decided_at", "bigint"],
        ["reply_to", "text"],
      ] as const)
        await db.schema.alterTable("requests").addColumn(col, type).execute();

      await id(db.schema.createTable("outbox"))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("to_addr", "text", (c) => c.notNull())
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        // JSON: [{filename, contentType, base64}]
        .addColumn("attachments", "text", (c) => c.notNull())
        .addColumn("request_id", "integer")
        .addColumn("cert_id", "integer")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("last_error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("sent_at", "bigint")
        .execute();
      await index(db, "outbox_due", "outbox", ["state", "next_attempt_at"]);
      await index(db, "outbox_request", "outbox", ["request_id"]);

      await id(db.schema.createTable("intake_log"))
        .addColumn("key", "text", (c) => c.notNull().unique())
        .addColumn("channel", "text", (c) => c.notNull())
        .addColumn("origin", "text")
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("reason", "text")
        .addColumn("request_ids", "text", (c) => c.notNull())
        .addColumn("moved", "integer", (c) => c.notNull().defaultTo(0))
        .execute();

      // Named marks (e.g. the day of the last expiry summary), so jobs survive restarts.
      await db.schema
        .createTable("job_marks")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("expiry_notices")
        .addColumn("cert_id", "integer", (c) => c.notNull().references("certificates.id"))
        .addColumn("threshold_days", "integer", (c) => c.notNull())
        .addColumn("sent_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("expiry_notices_pk", ["cert_id", "threshold_days"])
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of ["expiry_notices", "job_marks", "intake_log", "outbox"])
        await db.schema.dropTable(t).ifExists().execute();
      for (const c of ["reply_to", "decided_at", "decided_by", "checks", "source"])
        await db.schema.alterTable("requests").dropColumn(c).execute();
    },
  };
}

/**
 * 0004: admin API tokens. Only a SHA-256 of each token's secret part is stored (the
 * secret is 256 random bits, so a fast hash does not help guessing); `id` is the token's
 * public prefix, used to find the row.
 */
export function adminTokens(kind: SqlDialectKind): Migration {
  const binary = kind === "postgres" ? "bytea" : "blob";
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("admin_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("secret_hash", binary, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("revoked_at", "bigint")
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("admin_tokens").ifExists().execute();
    },
  };
}
