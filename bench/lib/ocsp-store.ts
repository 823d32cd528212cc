/**
 * What bench/ocsp reads straight from a Sigil home's SQLite file (read-only): the CA
 * chain, the delegated OCSP responder, certificates to ask about, and the same
 * certificates as an OpenSSL index.txt for `openssl ocsp -index`.
 */
import { createWriteStream, writeFileSync } from "node:fs";
import { once } from "node:events";
import Database from "better-sqlite3";
import { indexTime } from "./openssl.js";
import { dbPath } from "./sigil.js";

/** A CA of the home. */
export interface StoreCa {
  id: number;
  name: string;
  certDer: Buffer;
  parentId: number | null;
}

/** The newest delegated responder of a CA. */
export interface StoreResponder {
  certDer: Buffer;
  /** `file:NAME`: the key is `keys/NAME.key.pem`, encrypted with the home's passphrase. */
  keyRef: string;
  keyType: string;
}

function open(home: string): Database.Database {
  const db = new Database(dbPath(home), { readonly: true, fileMustExist: true });
  db.pragma("busy_timeout = 10000");
  return db;
}

/** Every CA of the home. */
export function readCas(home: string): StoreCa[] {
  const db = open(home);
  try {
    return (
      db.prepare("SELECT id, name, cert_der, parent_id FROM cas ORDER BY id").all() as Array<{
        id: number;
        name: string;
        cert_der: Buffer;
        parent_id: number | null;
      }>
    ).map((r) => ({ id: r.id, name: r.name, certDer: r.cert_der, parentId: r.parent_id }));
  } finally {
    db.close();
  }
}

/** The CA's newest responder, if it has one. */
export function readResponder(home: string, caId: number): StoreResponder | undefined {
  const db = open(home);
  try {
    const r = db
      .prepare(
        "SELECT cert_der, key_ref, key_type FROM ocsp_responders WHERE ca_id = ? ORDER BY not_before DESC, id DESC LIMIT 1",
      )
      .get(caId) as { cert_der: Buffer; key_ref: string; key_type: string } | undefined;
    return r && { certDer: r.cert_der, keyRef: r.key_ref, keyType: r.key_type };
  } finally {
    db.close();
  }
}

/** Certificates of the CA, and how many of them have a pre-signed answer. */
export function countAnswered(home: string, caId: number): { certs: number; answered: number } {
  const db = open(home);
  try {
    const certs = (
      db.prepare("SELECT count(*) AS n FROM certificates WHERE ca_id = ?").get(caId) as { n: number }
    ).n;
    const answered = (
      db
        .prepare("SELECT count(*) AS n FROM ocsp_responses WHERE ca_id = ? AND der IS NOT NULL")
        .get(caId) as { n: number }
    ).n;
    return { certs, answered };
  } finally {
    db.close();
  }
}

/** A certificate with a pre-signed answer: the one at rank `rank` by id. */
export function pickCertificate(
  home: string,
  caId: number,
  rank: number,
): { id: number; serialHex: string; der: Buffer } {
  const db = open(home);
  try {
    const r = db
      .prepare(
        `SELECT c.id, c.serial_hex, c.der FROM certificates c JOIN ocsp_responses o ON o.cert_id = c.id
         WHERE c.ca_id = ? AND o.der IS NOT NULL ORDER BY c.id LIMIT 1 OFFSET ?`,
      )
      .get(caId, rank) as { id: number; serial_hex: string; der: Buffer } | undefined;
    if (!r) throw new Error(`no answered certificate at rank ${rank} in CA ${caId}`);
    return { id: r.id, serialHex: r.serial_hex, der: r.der };
  } finally {
    db.close();
  }
}

/** Serials of `n` certificates with a pre-signed answer, in random order (all of them when n ≥ their count). */
export function randomSerials(home: string, caId: number, n: number): string[] {
  const db = open(home);
  try {
    return (
      db
        .prepare(
          `SELECT c.serial_hex AS s FROM certificates c JOIN ocsp_responses o ON o.cert_id = c.id
           WHERE c.ca_id = ? AND o.der IS NOT NULL ORDER BY random() LIMIT ?`,
        )
        .all(caId, n) as Array<{ s: string }>
    ).map((r) => r.s);
  } finally {
    db.close();
  }
}

/** RFC 5280 reason codes as `openssl ca` writes them in index.txt. */
const REASONS: Record<number, string> = {
  0: "unspecified",
  1: "keyCompromise",
  2: "CACompromise",
  3: "affiliationChanged",
  4: "superseded",
  5: "cessationOfOperation",
  6: "certificateHold",
  8: "removeFromCRL",
};

/** A serial as index.txt holds it: upper-case hex, whole octets (OpenSSL's BN_bn2hex). */
export function indexSerial(serialHex: string): string {
  const h = serialHex.toUpperCase();
  return h.length % 2 ? `0${h}` : h;
}

/**
 * Writes every certificate of the CA as an index.txt line (V, or R with its revocation
 * time and reason; expiry as UTCTime), and `index.txt.attr` with `unique_subject = no`
 * (the benchmark reuses subjects). Returns the number of lines.
 */
export async function writeIndexFromStore(home: string, caId: number, path: string): Promise<number> {
  const db = open(home);
  const out = createWriteStream(path);
  let n = 0;
  try {
    const rows = db
      .prepare(
        "SELECT serial_hex, not_after, status, revoked_at, revocation_reason, common_name FROM certificates WHERE ca_id = ? ORDER BY id",
      )
      .raw(true)
      .iterate(caId) as IterableIterator<
      [string, number, string, number | null, number | null, string | null]
    >;
    let s = "";
    for (const [serialHex, notAfter, status, revokedAt, reason, cn] of rows) {
      const revoked = status === "revoked" && revokedAt !== null;
      const rev = revoked
        ? `${indexTime(revokedAt)}${reason !== null && REASONS[reason] ? `,${REASONS[reason]}` : ""}`
        : "";
      const subject = `/CN=${(cn ?? "").replace(/[/\t\n]/g, "_")}`;
      s += `${revoked ? "R" : "V"}\t${indexTime(notAfter)}\t${rev}\t${indexSerial(serialHex)}\tunknown\t${subject}\n`;
      n++;
      if (s.length > 1 << 20) {
        if (!out.write(s)) await once(out, "drain");
        s = "";
      }
    }
    out.end(s);
    await once(out, "finish");
  } finally {
    db.close();
    out.destroy();
  }
  writeFileSync(`${path}.attr`, "unique_subject = no\n");
  return n;
}
