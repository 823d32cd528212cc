import { createHash } from "node:crypto";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteDialect,
} from "kysely";
import { InCodeMigrationProvider, migrateToLatest, migrationNames, sigilMigrations } from "./migrations.js";

describe("migrations", () => {
  it("are named in order and provided from code", async () => {
    assert.deepEqual(migrationNames(), [
      "0001_init",
      "0002_ocsp",
      "0003_queue",
      "0004_admin_tokens",
      "0005_ca_certificates",
      "0006_public_ids",
      "0007_job_leases",
      "0008_acme",
      "0009_blocked_keys",
      "0010_mailbox_proofs",
      "0011_token_hmac",
      "0012_audit_checkpoints",
      "0013_service_keys",
      "0014_instances",
      "0015_ocsp_epoch",
    ]);
    assert.deepEqual(Object.keys(await new InCodeMigrationProvider("postgres").getMigrations()), [
      "0001_init",
      "0002_ocsp",
      "0003_queue",
      "0004_admin_tokens",
      "0005_ca_certificates",
      "0006_public_ids",
      "0007_job_leases",
      "0008_acme",
      "0009_blocked_keys",
      "0010_mailbox_proofs",
      "0011_token_hmac",
      "0012_audit_checkpoints",
      "0013_service_keys",
      "0014_instances",
      "0015_ocsp_epoch",
    ]);
  });

  it("migrate up and down on SQLite", async () => {
    const db = new Database(":memory:");
    const k = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
    const tables = () =>
      (
        db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
          name: string;
        }[]
      )
        .map((r) => r.name)
        .filter((n) => !n.startsWith("kysely_") && n !== "sqlite_sequence");
    await migrateToLatest(k, "sqlite");
    assert.deepEqual(tables(), [
      "acme_accounts",
      "acme_authzs",
      "acme_challenges",
      "acme_eab_keys",
      "acme_nonces",
      "acme_orders",
      "acme_settings",
      "admin_tokens",
      "audit_checkpoints",
      "audit_events",
      "audit_head",
      "audit_keys",
      "blocked_keys",
      "cas",
      "certificates",
      "crls",
      "expiry_notices",
      "instances",
      "intake_log",
      "job_leases",
      "job_marks",
      "mailbox_proofs",
      "ocsp_epoch",
      "ocsp_responders",
      "ocsp_responses",
      "outbox",
      "request_sessions",
      "requests",
      "service_keys",
    ]);
    await migrateToLatest(k, "sqlite"); // idempotent
    await sigilMigrations("sqlite")["0015_ocsp_epoch"]!.down!(k);
    await sigilMigrations("sqlite")["0014_instances"]!.down!(k);
    await sigilMigrations("sqlite")["0013_service_keys"]!.down!(k);
    await sigilMigrations("sqlite")["0012_audit_checkpoints"]!.down!(k);
    await sigilMigrations("sqlite")["0011_token_hmac"]!.down!(k);
    await sigilMigrations("sqlite")["0010_mailbox_proofs"]!.down!(k);
    await sigilMigrations("sqlite")["0009_blocked_keys"]!.down!(k);
    await sigilMigrations("sqlite")["0008_acme"]!.down!(k);
    await sigilMigrations("sqlite")["0007_job_leases"]!.down!(k);
    await sigilMigrations("sqlite")["0006_public_ids"]!.down!(k);
    await sigilMigrations("sqlite")["0005_ca_certificates"]!.down!(k);
    await sigilMigrations("sqlite")["0004_admin_tokens"]!.down!(k);
    await sigilMigrations("sqlite")["0003_queue"]!.down!(k);
    await sigilMigrations("sqlite")["0002_ocsp"]!.down!(k);
    await sigilMigrations("sqlite")["0001_init"]!.down!(k);
    assert.deepEqual(tables(), []);
    await k.destroy();
  });

  it("0005 lists each existing child CA's certificate under its parent, once, with a due OCSP row", async () => {
    const db = new Database(":memory:");
    const k = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
    await migrateToLatest(k, "sqlite");
    const ca = db.prepare(
      "insert into cas (name, parent_id, subject, cert_der, key_ref, key_type, serial_hex, not_before, not_after, " +
        "path_len, default_profile, crl_number, created_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    );
    ca.run(
      "root",
      null,
      "CN=Root",
      Buffer.from("root"),
      "file:root",
      "p256",
      "01",
      1,
      9,
      null,
      "system",
      0,
      1,
    );
    ca.run(
      "sub",
      1,
      "CN=Sub CA\\, West,O=X",
      Buffer.from("sub"),
      "file:sub",
      "p256",
      "02",
      2,
      8,
      0,
      "system",
      0,
      2,
    );
    await sigilMigrations("sqlite")["0005_ca_certificates"]!.up(k);
    await sigilMigrations("sqlite")["0005_ca_certificates"]!.up(k); // idempotent
    const rows = db
      .prepare("select ca_id, serial_hex, profile, common_name, fingerprint from certificates")
      .all();
    assert.deepEqual(rows, [
      {
        ca_id: 1,
        serial_hex: "02",
        profile: "ca",
        common_name: "Sub CA, West",
        fingerprint: createHash("sha256").update("sub").digest("hex"),
      },
    ]);
    const due = db.prepare("select der, next_update from ocsp_responses").all();
    assert.deepEqual(due, [{ der: null, next_update: 0 }]);
    await k.destroy();
  });

  it("0011 marks the admin tokens made before token keys as sha256 (refused), and new rows default to it", async () => {
    const db = new Database(":memory:");
    const k = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
    await migrateToLatest(k, "sqlite");
    await sigilMigrations("sqlite")["0011_token_hmac"]!.down!(k);
    const insert = (id: string) =>
      db
        .prepare(
          "insert into admin_tokens (id, name, role, secret_hash, created_at, created_by, expires_at, revoked_at) " +
            "values (?, 'olga', 'operator', ?, 1, 'cli:root', 9, null)",
        )
        .run(id, createHash("sha256").update("secret").digest());
    insert("0000000000000001");
    await sigilMigrations("sqlite")["0011_token_hmac"]!.up(k);
    insert("0000000000000002"); // a row written without naming the scheme
    assert.deepEqual(db.prepare("select id, hash_scheme from admin_tokens order by id").all(), [
      { id: "0000000000000001", hash_scheme: "sha256" },
      { id: "0000000000000002", hash_scheme: "sha256" },
    ]);
    await k.destroy();
  });

  it("compile to PostgreSQL DDL (bytea, serial, no SQLite-only syntax)", async () => {
    const statements: string[] = [];
    const k = new Kysely<unknown>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
      log: (e) => {
        if (e.level === "query") statements.push(e.query.sql);
      },
    });
    await sigilMigrations("postgres")["0001_init"]!.up(k);
    await sigilMigrations("postgres")["0002_ocsp"]!.up(k);
    await sigilMigrations("postgres")["0003_queue"]!.up(k);
    await sigilMigrations("postgres")["0004_admin_tokens"]!.up(k);
    await sigilMigrations("postgres")["0008_acme"]!.up(k);
    await sigilMigrations("postgres")["0010_mailbox_proofs"]!.up(k);
    await sigilMigrations("postgres")["0011_token_hmac"]!.up(k);
    await sigilMigrations("postgres")["0012_audit_checkpoints"]!.up(k);
    await sigilMigrations("postgres")["0013_service_keys"]!.up(k);
    const ddl = statements.join(";\n");
    assert.match(ddl, /"cert_der" bytea not null/);
    assert.match(ddl, /"id" serial primary key/);
    assert.match(ddl, /"seq" bigint primary key/);
    assert.match(ddl, /"hmac_key" bytea not null/);
    assert.match(ddl, /add column "hash_scheme" text default 'sha256' not null/);
    assert.match(ddl, /constraint "acme_accounts_thumbprint_unique" unique \("ca_id", "thumbprint"\)/);
    assert.match(ddl, /constraint "mailbox_proofs_request_address" unique \("request_id", "address"\)/);
    assert.doesNotMatch(ddl, /autoincrement|blob/i);
    await k.destroy();
  });
});
