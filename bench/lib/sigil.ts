/**
 * The Sigil side of the benchmarks: an Authority composed as the CLI composes it
 * (src/cli/context.ts), CAs of a given key type, request generation, and marking stored
 * certificates revoked in bulk for the CRL benchmark.
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Authority } from "../../src/authority/authority.js";
import { loadConfig } from "../../src/config/load.js";
import { FileKeyStore } from "../../src/keys/file-keystore.js";
import { NodeSigner } from "../../src/keys/node-signer.js";
import { openStore, SQLITE_FILE_NAME } from "../../src/store/open.js";
import type { CaRecord, Store } from "../../src/store/types.js";
import { buildCsr } from "../../src/x509/csr-build.js";
import { toPem } from "../../src/x509/der.js";
import { parseDn } from "../../src/x509/dn.js";
import type { BenchKeyType } from "./openssl.js";

/** The passphrase of every CA key in the benchmark homes (also given to the CLI as SIGIL_PASSPHRASE). */
export const BENCH_PASSPHRASE = "sigil-bench-passphrase";

/** An opened benchmark home. */
export interface SigilHome {
  home: string;
  store: Store;
  authority: Authority;
  close(): Promise<void>;
}

/**
 * Opens (creating) a Sigil home the way `openContext` does: loadConfig, openStore,
 * FileKeyStore (default 600,000 PBKDF2 iterations), system clock and randomness; the
 * passphrase is a constant and CRLs are not written to disk (`publisher` absent).
 */
export async function openHome(home: string): Promise<SigilHome> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const config = await loadConfig(home);
  const store = await openStore(home);
  const pass = Buffer.from(BENCH_PASSPHRASE);
  const authority = new Authority({
    store,
    keys: new FileKeyStore(join(home, "keys")),
    config,
    clock: () => Date.now(),
    random: (n) => randomBytes(n),
    passphrase: async () => Buffer.from(pass),
    actor: "bench",
  });
  return { home, store, authority, close: () => store.close() };
}

/** A root and an issuing child CA, both of `keyType` (the child issues; profile "system"). */
export async function createCas(
  h: SigilHome,
  keyType: BenchKeyType,
): Promise<{ root: CaRecord; issuing: CaRecord; chainPem: string }> {
  const root = await h.authority.createRoot({
    name: `bench-root-${keyType}`,
    subject: parseDn(`/O=Sigil Bench/CN=Bench Root ${keyType}`),
    days: 7300,
    keyType,
  });
  const issuing = await h.authority.createChild({
    name: `bench-${keyType}`,
    parent: root.name,
    subject: parseDn(`/O=Sigil Bench/CN=Bench System CA ${keyType}`),
    days: 3650,
    keyType,
    defaultProfile: "system",
  });
  const chainPem = toPem(issuing.certDer, "CERTIFICATE") + toPem(root.certDer, "CERTIFICATE");
  return { root, issuing, chainPem };
}

/**
 * Builds `n` DER PKCS#10 requests of `keyType`, subject `/O=Sigil Bench/CN=host<i>.bench.example`,
 * no SAN attribute (Sigil's system profile adds the CN as a DNS SAN), signed by `keyPairs`
 * key pairs in turn (`keyPairs >= n`: one key per request).
 *
 * Mind src/x509/algorithms.ts: Sigil keeps the last 64 public keys it verified with as
 * KeyObjects, so requests from 64 or fewer keys skip the SPKI import (about half the cost
 * of an ECDSA verify in Node). Real requests each bring their own key; round-robin over
 * more than 64 keys never hits that cache.
 */
export async function makeCsrs(n: number, keyType: BenchKeyType, keyPairs: number): Promise<Buffer[]> {
  const gen = promisify(generateKeyPair);
  const signers: NodeSigner[] = [];
  const count = Math.min(n, keyPairs);
  for (let i = 0; i < count; i += 64) {
    const keys = await Promise.all(
      Array.from({ length: Math.min(64, count - i) }, () =>
        keyType === "p256" ? gen("ec", { namedCurve: "prime256v1" }) : gen("rsa", { modulusLength: 2048 }),
      ),
    );
    for (const k of keys) signers.push(new NodeSigner(k.privateKey));
  }
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const signer = signers[i % signers.length]!;
    out.push(
      await buildCsr({
        subject: parseDn(`/O=Sigil Bench/CN=host${i}.bench.example`),
        sans: [],
        spki: signer.spki,
        signer,
      }),
    );
  }
  return out;
}

/** The SQLite file of a home. */
export function dbPath(home: string): string {
  return join(home, SQLITE_FILE_NAME);
}

/**
 * Marks certificates of `caId` revoked (keyCompromise) until `total` are revoked, straight
 * in SQL: the revocation status the CRL reads, without `sigil revoke`'s per-certificate
 * audit event and CRL. Returns the number revoked afterwards.
 */
export function revokeInStore(home: string, caId: number, total: number): number {
  const db = new Database(dbPath(home));
  try {
    db.pragma("busy_timeout = 10000");
    const count = () =>
      (
        db
          .prepare("SELECT count(*) AS n FROM certificates WHERE ca_id = ? AND status = 'revoked'")
          .get(caId) as { n: number }
      ).n;
    const need = total - count();
    if (need > 0) {
      const at = Date.now() - 3_600_000;
      db.prepare(
        `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = 1
         WHERE id IN (SELECT id FROM certificates WHERE ca_id = ? AND status = 'valid' ORDER BY id LIMIT ?)`,
      ).run(at, caId, need);
    }
    return count();
  } finally {
    db.close();
  }
}

/** Number of certificates stored for `caId`. */
export function countCerts(home: string, caId: number): number {
  const db = new Database(dbPath(home), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM certificates WHERE ca_id = ?").get(caId) as { n: number })
      .n;
  } finally {
    db.close();
  }
}
