/**
 * Certificates, their revocation, the public keys never to be certified again, and each
 * CA's latest CRL (tables `certificates`, `ocsp_responses` for a new certificate's answer,
 * `blocked_keys`, `crls`).
 */
import { sql, type CompiledQuery, type Selectable } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import { tryNormalizeSerialHex } from "../../x509/serial.js";
import { toCertRecord, type BlockedKeysTable, type CrlsTable } from "../schema.js";
import type { BlockedKey, CertQuery, CertRecord, CertStore, CertStoreTx, CrlRecord } from "../types.js";
import { isUniqueViolation, many, mustChange, one, oneWhere, run, type Ctx, type Db } from "./context.js";
import { markOcspChanged } from "./ocsp.js";
import { fromRow, toRow } from "./rows.js";

/** The row of a certificate, for an insert. */
export function certRow(c: Omit<CertRecord, "id">) {
  return {
    ca_id: c.caId,
    serial_hex: c.serialHex,
    subject: c.subject,
    common_name: c.commonName,
    email: c.email,
    sans: JSON.stringify(c.sans),
    profile: c.profile,
    not_before: c.notBefore,
    not_after: c.notAfter,
    der: c.der,
    fingerprint: c.fingerprint,
    status: c.status,
    revoked_at: c.revokedAt,
    revocation_reason: c.revocationReason,
    request_id: c.requestId,
    issued_at: c.issuedAt,
  };
}

/** The columns of a new certificate's row, in the order of the backends' prepared inserts. */
export const CERT_COLUMNS = Object.keys(certRow({ sans: [] } as never)) as Array<
  keyof ReturnType<typeof certRow>
>;

/**
 * Inserts a certificate through `insert` (its row in; its id out): these queries, or a
 * backend's prepared statements. A duplicate serial: SigilError STORE, details.duplicateSerial.
 */
export async function insertCertWith(
  c: Ctx,
  cert: Omit<CertRecord, "id">,
  insert: (row: ReturnType<typeof certRow>) => Promise<number>,
): Promise<CertRecord> {
  try {
    return { id: await insert(certRow(cert)), ...cert };
  } catch (e) {
    throw isUniqueViolation(e)
      ? new SigilError(ErrorCodes.STORE, "duplicate serial", {
          details: { duplicateSerial: true, caId: cert.caId, serialHex: cert.serialHex },
          cause: e,
        })
      : c.dialect.fail(e, "insert certificate");
  }
}

const toCrl = (r: Selectable<CrlsTable>) => fromRow<CrlRecord>(r);

/** The record of a `blocked_keys` row; a kind other than `compromised` reads as `sigil`. */
function toBlocked(r: Selectable<BlockedKeysTable>): BlockedKey {
  const b = fromRow<BlockedKey>(r);
  return { ...b, kind: b.kind === "compromised" ? "compromised" : "sigil" };
}

/** Certificates matching `q`, by notAfter then id. */
function findCerts(c: Ctx, q: CertQuery) {
  let sel = c.db.selectFrom("certificates").selectAll();
  if (q.caId !== undefined) {
    // SQLite: with a match, `+ca_id` keeps the planner from scanning all of the CA's
    // certificates through (ca_id, status) instead of the match's own indexes; with an
    // expiry window, it keeps the walk on not_after's index, in the listing's order, so a
    // page (LIMIT) stops early instead of sorting every valid certificate of the CA.
    sel =
      c.dialect.kind === "sqlite" && (q.match !== undefined || q.expiringBefore !== undefined)
        ? sel.where(sql<number>`+${sql.ref("ca_id")}`, "=", q.caId)
        : sel.where("ca_id", "=", q.caId);
  }
  if (q.status === "expired") sel = sel.where("not_after", "<", q.now);
  else if (q.status === "valid") sel = sel.where("status", "=", "valid").where("not_after", ">=", q.now);
  else if (q.status === "revoked") sel = sel.where("status", "=", "revoked");
  if (q.expiringBefore !== undefined) {
    sel = sel.where("not_after", "<=", q.expiringBefore);
    if (q.status !== "expired") sel = sel.where("not_after", ">=", q.now);
  }
  if (q.match !== undefined) {
    const m = q.match.trim();
    const serial = tryNormalizeSerialHex(m);
    sel = sel.where((eb) => {
      const lowerM = eb.fn<string>("lower", [eb.val(m)]);
      const terms = [
        eb(eb.fn<string>("lower", [eb.ref("common_name")]), "=", lowerM),
        eb(eb.fn<string>("lower", [eb.ref("email")]), "=", lowerM),
      ];
      if (serial !== undefined) terms.push(eb("serial_hex", "=", serial));
      return eb.or(terms);
    });
  }
  if (q.profile !== undefined) sel = sel.where("profile", "=", q.profile);
  if (q.excludeProfiles?.length) sel = sel.where("profile", "not in", [...q.excludeProfiles]);
  sel = sel.orderBy("not_after").orderBy("id");
  if (q.limit !== undefined) sel = sel.limit(q.limit);
  return many(c, "find certificates", () => sel.execute(), toCertRecord);
}

export function certReads(c: Ctx): CertStore {
  const byCaId = (db: Db, caId: number) => db.selectFrom("certificates").where("ca_id", "=", caId);
  return {
    getCert: (caId, serialHex) =>
      oneWhere(c, "read certificate", "certificates", { serial_hex: serialHex, ca_id: caId }, toCertRecord),
    getCertById: (id) => oneWhere(c, "read certificate", "certificates", { id }, toCertRecord),
    async findBlockedKeys(keyIds) {
      const out = new Map<string, BlockedKey>();
      const ids = [...new Set(keyIds)];
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await many(
          c,
          "read blocked keys",
          (db) =>
            db
              .selectFrom("blocked_keys")
              .selectAll()
              .where("key_id", "in", ids.slice(i, i + 500))
              .execute(),
          toBlocked,
        );
        for (const r of rows) out.set(r.keyId, r);
      }
      return out;
    },
    findCerts: (q) => findCerts(c, q),
    async expiryHistogram(from, bucketMs, buckets) {
      // Integer division on both backends: the bound numbers are cast to bigint.
      const rows = await run(c, "read expiry histogram", (db) =>
        db
          .selectFrom("certificates")
          .select((eb) => [
            "ca_id",
            sql<number>`(not_after - cast(${from} as bigint)) / cast(${bucketMs} as bigint)`.as("bucket"),
            eb.fn.countAll<number>().as("count"),
          ])
          .where("status", "=", "valid")
          .where("profile", "!=", "ocsp")
          .where("not_after", ">=", from)
          .where("not_after", "<", from + bucketMs * buckets)
          .groupBy(["ca_id", "bucket"])
          .orderBy("ca_id")
          .orderBy("bucket")
          .execute(),
      );
      return rows.map((r) => ({
        caId: Number(r.ca_id),
        bucket: Math.floor(Number(r.bucket)),
        count: Number(r.count),
      }));
    },
    revokedEntries(caId) {
      // Issuance (id) order, which the (ca_id, status) index yields without sorting.
      const q = byCaId(c.db, caId)
        .select(["serial_hex", "revoked_at", "revocation_reason"])
        .where("status", "=", "revoked")
        .orderBy("id")
        .compile() as CompiledQuery<unknown> as CompiledQuery<[string, number, number | null]>;
      const rows = c.dialect.stream("read revoked entries", q, true);
      return (async function* () {
        for await (const batch of rows)
          yield batch.map((r) => ({ serialHex: r[0], revokedAt: Number(r[1]), reason: r[2] }));
      })();
    },
    async countRevoked(caId) {
      const r = await run(c, "count revoked", (db) =>
        byCaId(db, caId)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("status", "=", "revoked")
          .executeTakeFirstOrThrow(),
      );
      return Number(r.n);
    },
    async lastNotAfter(caId) {
      const r = await run(c, "read last expiry", (db) =>
        byCaId(db, caId)
          .select((eb) => eb.fn.max("not_after").as("m"))
          .executeTakeFirst(),
      );
      return r?.m === null || r?.m === undefined ? undefined : Number(r.m);
    },
    latestCrl: (caId) => oneWhere(c, "read CRL", "crls", { ca_id: caId }, toCrl),
  };
}

export function certWrites(c: Ctx): CertStoreTx {
  return {
    insertCert: (cert, ocsp) =>
      insertCertWith(c, cert, async (row) => {
        const r = await c.db.insertInto("certificates").values(row).returning("id").executeTakeFirstOrThrow();
        const answer = {
          der: ocsp?.der ?? null,
          this_update: ocsp?.thisUpdate ?? 0,
          next_update: ocsp?.nextUpdate ?? 0,
        };
        await c.db
          .insertInto("ocsp_responses")
          .values({ cert_id: Number(r.id), ca_id: cert.caId, ...answer })
          .execute();
        return Number(r.id);
      }),
    async revokeCert(id, revokedAt, reason) {
      const r = await run(c, "revoke certificate", (db) =>
        db
          .updateTable("certificates")
          .set({ status: "revoked", revoked_at: revokedAt, revocation_reason: reason })
          .where("id", "=", id)
          .executeTakeFirst(),
      );
      mustChange(r, ErrorCodes.CERT_NOT_FOUND, `certificate id ${id} not found`);
      await markOcspChanged(c);
    },
    getCertStatus: (caId, serialHex) =>
      one(
        c,
        "read certificate status",
        (db) =>
          db
            .selectFrom("certificates")
            .select(["status", "revoked_at", "revocation_reason"])
            .where("ca_id", "=", caId)
            .where("serial_hex", "=", serialHex)
            .executeTakeFirst(),
        (r) => ({
          status: r.status === "revoked" ? ("revoked" as const) : ("valid" as const),
          revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
          revocationReason: r.revocation_reason === null ? null : Number(r.revocation_reason),
        }),
      ),
    async blockKeys(keys) {
      // A key blocked already keeps its first record, except that a compromise replaces a
      // "sigil" record (the stronger reason is the one to tell).
      for (const k of keys)
        await run(c, "block keys", (db) =>
          db
            .insertInto("blocked_keys")
            .values(toRow(k))
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
                  eb.and([
                    eb("excluded.kind", "=", "compromised"),
                    eb("blocked_keys.kind", "!=", "compromised"),
                  ]),
                ),
            )
            .execute(),
        );
    },
    async putCrl(crl: CrlRecord) {
      await run(c, "store CRL", (db) =>
        db
          .insertInto("crls")
          .values(toRow(crl))
          .onConflict((oc) =>
            oc
              .column("ca_id")
              .doUpdateSet((eb) => ({
                crl_number: eb.ref("excluded.crl_number"),
                der: eb.ref("excluded.der"),
                this_update: eb.ref("excluded.this_update"),
                next_update: eb.ref("excluded.next_update"),
              }))
              .where((eb) => eb("excluded.crl_number", ">", eb.ref("crls.crl_number"))),
          )
          .execute(),
      );
    },
  };
}
