/**
 * Migrations 0005-0014, as shipped (never edit one: add a new migration instead). Listed,
 * named and run by ../migrations.ts.
 */
import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { CreateTableBuilder, Migration } from "kysely";
import { publicKeyId } from "../../x509/algorithms.js";
import { parseCertificate } from "../../x509/cert-reader.js";
import { idColumn, index } from "./common.js";
import type { AnyDb, SqlDialectKind } from "./common.js";

/**
 * 0005: every child CA's certificate is also a certificate of its parent (profile `ca`), so
 * an intermediate has an OCSP answer and can be revoked onto its parent's CRL. New CAs get
 * the row when they are made; this adds it for CAs made before, with a due OCSP row.
 */
export function caCertificates(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      const cas = (await db
        .selectFrom("cas")
        .select(["parent_id", "serial_hex", "subject", "cert_der", "not_before", "not_after", "created_at"])
        .where("parent_id", "is not", null)
        .execute()) as Array<{
        parent_id: number;
        serial_hex: string;
        subject: string;
        cert_der: Uint8Array;
        not_before: number | string;
        not_after: number | string;
        created_at: number | string;
      }>;
      for (const c of cas) {
        const seen = await db
          .selectFrom("certificates")
          .select("id")
          .where("ca_id", "=", c.parent_id)
          .where("serial_hex", "=", c.serial_hex)
          .executeTakeFirst();
        if (seen) continue;
        const der = Buffer.from(c.cert_der);
        const cn = /(?:^|,)CN=((?:[^,\\]|\\.)*)/.exec(c.subject)?.[1]?.replace(/\\(.)/g, "$1") ?? null;
        const row = (await db
          .insertInto("certificates")
          .values({
            ca_id: c.parent_id,
            serial_hex: c.serial_hex,
            subject: c.subject,
            common_name: cn,
            email: null,
            sans: "[]",
            profile: "ca",
            not_before: Number(c.not_before),
            not_after: Number(c.not_after),
            der,
            fingerprint: createHash("sha256").update(der).digest("hex"),
            status: "valid",
            revoked_at: null,
            revocation_reason: null,
            request_id: null,
            issued_at: Number(c.created_at),
          })
          .returning("id")
          .executeTakeFirstOrThrow()) as { id: number | string };
        await db
          .insertInto("ocsp_responses")
          .values({ cert_id: Number(row.id), ca_id: c.parent_id, der: null, this_update: 0, next_update: 0 })
          .execute();
      }
    },
    async down(db: AnyDb): Promise<void> {
      await sql`DELETE FROM ocsp_responses WHERE cert_id IN (SELECT id FROM certificates WHERE profile = 'ca')`.execute(
        db,
      );
      await sql`DELETE FROM certificates WHERE profile = 'ca'`.execute(db);
    },
  };
}

/** 0006: the unguessable id a web portal requester follows a request by. */
export function publicIds(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema.alterTable("requests").addColumn("public_id", "text").execute();
      await db.schema.createIndex("requests_public_id").unique().on("requests").column("public_id").execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropIndex("requests_public_id").execute();
      await db.schema.alterTable("requests").dropColumn("public_id").execute();
    },
  };
}

/**
 * 0007: job leases. A background job runs on one instance at a time: an instance holds a
 * job's lease (name, holder, expiry) and renews it while it runs; another may take it once
 * it has expired. Several `sigil serve` instances on one PostgreSQL database rely on it.
 */
export function jobLeases(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("job_leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("job_leases").ifExists().execute();
    },
  };
}

/**
 * 0008: the ACME server's state (RFC 8555, records of src/acme/types.ts): per-CA settings,
 * accounts, orders, authorizations, challenges, External Account Binding keys and used
 * nonces. Flags are 0/1 integers and lists JSON text, so the same rows work on both backends.
 */
export function acme(kind: SqlDialectKind): Migration {
  const binary = kind === "postgres" ? "bytea" : "blob";
  const withId = (t: CreateTableBuilder<string>) => idColumn(kind, t, false);
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("acme_settings")
        .addColumn("ca_id", "integer", (c) => c.primaryKey().references("cas.id"))
        .addColumn("enabled", "integer", (c) => c.notNull())
        .addColumn("allow", "text", (c) => c.notNull())
        .addColumn("max_days", "integer")
        .addColumn("eab_required", "integer", (c) => c.notNull())
        .addColumn("manual_approval", "integer", (c) => c.notNull())
        .addColumn("profile", "text", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addColumn("updated_by", "text", (c) => c.notNull())
        .execute();

      await withId(db.schema.createTable("acme_accounts"))
        .addColumn("public_id", "text", (c) => c.notNull().unique())
        .addColumn("ca_id", "integer", (c) => c.notNull().references("cas.id"))
        .addColumn("thumbprint", "text", (c) => c.notNull())
        .addColumn("jwk", "text", (c) => c.notNull())
        .addColumn("contact", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("eab_kid", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("acme_accounts_thumbprint_unique", ["ca_id", "thumbprint"])
        .execute();

      await withId(db.schema.createTable("acme_orders"))
        .addColumn("public_id", "text", (c) => c.notNull().unique())
        .addColumn("account_id", "integer", (c) => c.notNull().references("acme_accounts.id"))
        .addColumn("ca_id", "integer", (c) => c.notNull().references("cas.id"))
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("identifiers", "text", (c) => c.notNull())
        .addColumn("not_before", "bigint")
        .addColumn("not_after", "bigint")
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("error", "text")
        .addColumn("request_id", "integer", (c) => c.references("requests.id"))
        .addColumn("cert_id", "integer", (c) => c.references("certificates.id"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await index(db, "acme_orders_account", "acme_orders", ["account_id", "id"]);
      // The per-account order rate limit counts an account's orders of the last hour.
      await index(db, "acme_orders_account_created", "acme_orders", ["account_id", "created_at"]);
      await index(db, "acme_orders_request", "acme_orders", ["request_id"]);
      await index(db, "acme_orders_cert", "acme_orders", ["cert_id"]);

      await withId(db.schema.createTable("acme_authzs"))
        .addColumn("public_id", "text", (c) => c.notNull().unique())
        .addColumn("account_id", "integer", (c) => c.notNull().references("acme_accounts.id"))
        .addColumn("order_id", "integer", (c) => c.notNull().references("acme_orders.id"))
        .addColumn("identifier_type", "text", (c) => c.notNull())
        .addColumn("identifier_value", "text", (c) => c.notNull())
        .addColumn("wildcard", "integer", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await index(db, "acme_authzs_order", "acme_authzs", ["order_id"]);
      // Revocation by authorization (RFC 8555 §7.6) looks up an account's valid ones.
      await index(db, "acme_authzs_account", "acme_authzs", ["account_id", "status"]);

      await withId(db.schema.createTable("acme_challenges"))
        .addColumn("public_id", "text", (c) => c.notNull().unique())
        .addColumn("authz_id", "integer", (c) => c.notNull().references("acme_authzs.id"))
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("token", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("validated_at", "bigint")
        .addColumn("error", "text")
        .execute();
      await index(db, "acme_challenges_authz", "acme_challenges", ["authz_id"]);

      await db.schema
        .createTable("acme_eab_keys")
        .addColumn("kid", "text", (c) => c.primaryKey())
        .addColumn("ca_id", "integer", (c) => c.notNull().references("cas.id"))
        .addColumn("hmac_key", binary, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("account_id", "integer", (c) => c.references("acme_accounts.id"))
        .execute();
      await index(db, "acme_eab_keys_ca", "acme_eab_keys", ["ca_id"]);

      await db.schema
        .createTable("acme_nonces")
        .addColumn("nonce", "text", (c) => c.primaryKey())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .execute();
      await index(db, "acme_nonces_expires", "acme_nonces", ["expires_at"]);
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of [
        "acme_nonces",
        "acme_eab_keys",
        "acme_challenges",
        "acme_authzs",
        "acme_orders",
        "acme_accounts",
        "acme_settings",
      ])
        await db.schema.dropTable(t).ifExists().execute();
    },
  };
}

/**
 * 0010: proofs of mailbox control (DESIGN.md, trust model: an e-mail address is proven by a
 * round trip to the mailbox, or DKIM checked by a trusted MTA). One row per (request,
 * address): a challenge (only the SHA-256 of its secret is stored: 256 random bits, so a
 * fast hash does not help guessing), single-use and expiring, or a DKIM verdict recorded at
 * intake. And the web portal session that submitted a request (a SHA-256 of its cookie).
 */
export function mailboxProofs(kind: SqlDialectKind): Migration {
  const withId = (t: CreateTableBuilder<string>) => idColumn(kind, t, false);
  return {
    async up(db: AnyDb): Promise<void> {
      await withId(db.schema.createTable("mailbox_proofs"))
        .addColumn("request_id", "integer", (c) => c.notNull().references("requests.id"))
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("token_hash", "text", (c) => c.unique())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint")
        .addColumn("confirmed_at", "bigint")
        .addColumn("confirmed_via", "text")
        .addUniqueConstraint("mailbox_proofs_request_address", ["request_id", "address"])
        .execute();
      await db.schema
        .createTable("request_sessions")
        .addColumn("request_id", "integer", (c) => c.primaryKey().references("requests.id"))
        .addColumn("session_hash", "text", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("request_sessions").ifExists().execute();
      await db.schema.dropTable("mailbox_proofs").ifExists().execute();
    },
  };
}

/**
 * Public keys never to be certified again (issue: a key revoked for keyCompromise came back
 * in a new request; an operator could certify a CA's or responder's own key). Filled from
 * what the database already knows: CA certificates, responder certificates, and
 * certificates revoked for keyCompromise (1) or cACompromise (2) (RFC 5280 §5.3.1).
 */
export function blockedKeys(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("blocked_keys")
        .addColumn("key_id", "text", (c) => c.primaryKey())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("detail", "text", (c) => c.notNull())
        .addColumn("ca_name", "text")
        .addColumn("serial_hex", "text")
        .addColumn("since", "bigint", (c) => c.notNull())
        .execute();
      const cas = (await db
        .selectFrom("cas")
        .select(["id", "name", "cert_der", "created_at"])
        .execute()) as Array<{
        id: number;
        name: string;
        cert_der: Buffer;
        created_at: number | string;
      }>;
      const caName = new Map(cas.map((c) => [Number(c.id), c.name]));
      const rows: BlockedKeyRow[] = [];
      for (const c of cas) {
        const row = blockedRowFromCert(Buffer.from(c.cert_der), {
          kind: "sigil",
          detail: `the key of CA ${c.name}`,
          caName: c.name,
          serialHex: null,
          since: Number(c.created_at),
        });
        if (row) rows.push(row);
      }
      const certs = (await db
        .selectFrom("certificates")
        .select(["ca_id", "serial_hex", "profile", "der", "issued_at", "revoked_at", "revocation_reason"])
        .where((eb) => eb.or([eb("profile", "=", "ocsp"), eb("revocation_reason", "in", [1, 2])]))
        .execute()) as Array<{
        ca_id: number;
        serial_hex: string;
        profile: string;
        der: Buffer;
        issued_at: number | string;
        revoked_at: number | string | null;
        revocation_reason: number | null;
      }>;
      for (const c of certs) {
        const ca = caName.get(Number(c.ca_id)) ?? String(c.ca_id);
        const compromised = c.revocation_reason === 1 || c.revocation_reason === 2;
        const row = blockedRowFromCert(Buffer.from(c.der), {
          kind: compromised ? "compromised" : "sigil",
          detail: compromised
            ? `certificate ${c.serial_hex} of CA ${ca} was revoked for ${c.revocation_reason === 1 ? "keyCompromise" : "cACompromise"} on ${new Date(Number(c.revoked_at)).toISOString()}`
            : `the key of an OCSP responder of CA ${ca} (certificate ${c.serial_hex})`,
          caName: ca,
          serialHex: c.serial_hex,
          since: Number(compromised ? c.revoked_at : c.issued_at),
        });
        if (row) rows.push(row);
      }
      // Compromise wins over "sigil" for the same key; otherwise the first record stays.
      const byId = new Map<string, BlockedKeyRow>();
      for (const r of rows) {
        const seen = byId.get(r.key_id);
        if (!seen || (seen.kind !== "compromised" && r.kind === "compromised")) byId.set(r.key_id, r);
      }
      for (const r of byId.values()) await db.insertInto("blocked_keys").values(r).execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("blocked_keys").ifExists().execute();
    },
  };
}

interface BlockedKeyRow {
  key_id: string;
  kind: string;
  detail: string;
  ca_name: string | null;
  serial_hex: string | null;
  since: number;
}

function blockedRowFromCert(
  der: Buffer,
  r: { kind: string; detail: string; caName: string | null; serialHex: string | null; since: number },
): BlockedKeyRow | undefined {
  try {
    return {
      key_id: publicKeyId(parseCertificate(der).spki),
      kind: r.kind,
      detail: r.detail,
      ca_name: r.caName,
      serial_hex: r.serialHex,
      since: r.since,
    };
  } catch {
    return undefined; // a certificate Sigil cannot read names no key to block
  }
}

/**
 * 0011: admin tokens verified with a key the database does not hold. New rows store
 * HMAC-SHA256 under `keys/token-hmac.key` over the secret and the row's grant (id, name,
 * role, expiry), with `hash_scheme` 'hmac-sha256'. Rows made before keep their plain
 * SHA-256 and are marked 'sha256': they cannot be upgraded without the secret, and
 * accepting them would let anyone who can write the database add a working token, so they
 * are refused with a hint to re-create the token. The column's default is that refused
 * scheme: a row inserted without naming it never authenticates.
 */
export function tokenHmac(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .alterTable("admin_tokens")
        .addColumn("hash_scheme", "text", (c) => c.notNull().defaultTo("sha256"))
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.alterTable("admin_tokens").dropColumn("hash_scheme").execute();
    },
  };
}

/**
 * 0012: the audit log's signed checkpoints (RFC 9162 §2.1 Merkle tree heads, signed by the
 * audit key: authority/audit-checkpoints.ts) and the audit signing keys. A key's row only
 * says where it is; the key is trusted through its pin in sigil.json, never through this table.
 */
export function auditCheckpoints(kind: SqlDialectKind): Migration {
  const binary = kind === "postgres" ? "bytea" : "blob";
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("audit_checkpoints")
        .addColumn("tree_size", "bigint", (c) => c.primaryKey())
        .addColumn("root_hash", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("key_id", "text", (c) => c.notNull())
        .addColumn("signature", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("audit_keys")
        .addColumn("key_id", "text", (c) => c.primaryKey())
        .addColumn("key_ref", "text", (c) => c.notNull())
        .addColumn("spki", binary, (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of ["audit_keys", "audit_checkpoints"]) await db.schema.dropTable(t).ifExists().execute();
    },
  };
}

/**
 * 0013: the keys the service makes for itself (OCSP responder keys, the audit signing key),
 * kept in the database so that instances on several machines share them
 * (keys/store-keystore.ts): one passphrase-encrypted PKCS#8 PEM per name, the same bytes a
 * key file would hold. A name is never reused (primary key).
 */
export function serviceKeys(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("service_keys")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("pem", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("service_keys").ifExists().execute();
    },
  };
}

/**
 * 0014: the `sigil serve` instances seen in the database (store/types.ts InstanceRecord):
 * one row per instance name, written by its primary at start and at every heartbeat, and
 * deleted at a clean stop. `last_seen` is by the lease clock (PostgreSQL: the database's).
 * Self-contained (it depends on no other table), so it can take any later number.
 */
export function instances(): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable("instances")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("address", "text", (c) => c.notNull())
        .addColumn("admin", "text", (c) => c.notNull())
        .addColumn("pid", "integer", (c) => c.notNull())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "bigint", (c) => c.notNull())
        .addColumn("heartbeat_ms", "integer", (c) => c.notNull())
        .addColumn("sealed", "integer", (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      await db.schema.dropTable("instances").ifExists().execute();
    },
  };
}
