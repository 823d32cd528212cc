/**
 * Key custody acts of a security admin: export a CA key for offline media, take a CA
 * offline (its key leaves the online store), split the home passphrase into k-of-n shares,
 * restore from shares (and put an exported key back online), and the custody status of
 * every CA. Each act is one audit event; nothing here writes key material anywhere but the
 * export folder and the key store, and nothing logs it.
 */
import { sha256 } from "./common.js";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { CaRecord, Store } from "../store/types.js";
import { exists, parseFileKeyRef, writePublicFile, writeSecretFile, syncDir } from "../keys/file-keystore.js";
import { newSetId, splitSecret, type ShareLabel } from "../keys/shares.js";
import { toPem, parsePemBlocks } from "../x509/der.js";
import type { Authority, CaStanding } from "./authority.js";
import { OFFLINE_KEYREF_SCHEME, isOfflineKeyRef } from "./offline-key.js";

/** What the custody acts need. */
export interface CustodyDeps {
  authority: Authority;
  store: Store;
  /** The online key folder (`SIGIL_HOME/keys`). */
  keyDir: string;
  actor: string;
  clock: () => number;
  /** Written into export manifests. */
  version: string;
}

/** manifest.json of an export folder. */
export interface ExportManifest {
  format: "sigil-ca-export";
  version: 1;
  ca: string;
  subject: string;
  serial: string;
  keyType: string;
  notBefore: string;
  notAfter: string;
  keyFile: string;
  certFile: string;
  /** Hex SHA-256 of the certificate (DER). */
  certSha256: string;
  /** Hex SHA-256 of the encrypted key file, byte for byte. */
  keySha256: string;
  createdAt: string;
  sigilVersion: string;
  note: string;
}

const DAY_MS = 86_400_000;
const exportMark = (ca: string): string => `ca.export:${ca}`;

/** The file's bytes; null when it does not exist. */
export async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function draft(d: CustodyDeps, action: string, target: string, details: Record<string, unknown>) {
  return { at: d.clock(), actor: d.actor, action, target, details };
}

/** The online key file of a `file:` CA; other custody: a clear error. */
function onlineKeyPath(d: CustodyDeps, ca: CaRecord): string {
  if (isOfflineKeyRef(ca.keyRef))
    throw new SigilError(
      ErrorCodes.KEY_OFFLINE,
      `CA ${ca.name} is offline: its key is not in the online store`,
    );
  if (!ca.keyRef.startsWith("file:"))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `CA ${ca.name}'s key is not a file key (${ca.keyRef.split(":")[0]}:): use the token's own backup tools`,
    );
  return join(d.keyDir, `${parseFileKeyRef(ca.keyRef)}.key.pem`);
}

async function readOnlineKey(d: CustodyDeps, ca: CaRecord): Promise<{ path: string; bytes: Buffer }> {
  const path = onlineKeyPath(d, ca);
  const bytes = await readOrNull(path);
  if (!bytes)
    throw new SigilError(ErrorCodes.KEY_NOT_FOUND, `the key file of CA ${ca.name} (${path}) is missing`);
  return { path, bytes };
}

/** Overwrites a key file with zeros, syncs, then unlinks it (best effort against recovery). */
async function wipe(path: string): Promise<void> {
  try {
    const fh = await open(path, "r+");
    try {
      const { size } = await fh.stat();
      await fh.write(Buffer.alloc(size), 0, size, 0);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  await unlink(path);
}

/** The manifest.json of the export folder `dir` (`sigil ca export`), checked for its format; one-line errors. */
export async function readExportManifest(dir: string): Promise<ExportManifest> {
  const mpath = join(dir, "manifest.json");
  const raw = await readOrNull(mpath);
  if (!raw)
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `no manifest.json in ${dir}: not a Sigil CA export`);
  let m: ExportManifest;
  try {
    m = JSON.parse(raw.toString("utf8")) as ExportManifest;
  } catch {
    throw new SigilError(ErrorCodes.BAD_INPUT, `${mpath} is not valid JSON`);
  }
  if (m?.format !== "sigil-ca-export" || m.version !== 1 || typeof m.ca !== "string")
    throw new SigilError(ErrorCodes.BAD_INPUT, `${mpath} is not a Sigil CA export manifest (version 1)`);
  return m;
}

/**
 * Checks that folder `dir` holds an export of CA `ca`: manifest.json for this CA, the
 * certificate equal to the CA's, and the key file with the manifest's hash. Returns the
 * key file's path, bytes and hash.
 */
export async function verifyExport(
  ca: CaRecord,
  dir: string,
): Promise<{ keyPath: string; keyBytes: Buffer; keySha256: string; manifest: ExportManifest }> {
  const m = await readExportManifest(dir);
  if (m.ca !== ca.name)
    throw new SigilError(ErrorCodes.BAD_INPUT, `${dir} holds an export of CA ${m.ca}, not ${ca.name}`);
  if (m.certSha256 !== sha256(ca.certDer))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${dir} holds another certificate of ${ca.name} than the store's`,
    );
  const certPem = await readOrNull(join(dir, `${ca.name}.crt.pem`));
  const certDer = certPem ? parsePemBlocks(certPem.toString("utf8"))[0]?.der : undefined;
  if (!certDer || sha256(certDer) !== m.certSha256)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${dir}/${ca.name}.crt.pem is missing or does not match manifest.json`,
    );
  const keyPath = join(dir, `${ca.name}.key.pem`);
  const keyBytes = await readOrNull(keyPath);
  if (!keyBytes) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${keyPath} is missing`);
  const keySha256 = sha256(keyBytes);
  if (keySha256 !== m.keySha256)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${keyPath} does not match manifest.json (damaged or replaced)`,
    );
  return { keyPath, keyBytes, keySha256, manifest: m };
}

/**
 * `sigil ca export NAME --out DIR`: proves the passphrase opens the key, then writes
 * DIR/NAME.key.pem (the encrypted key file as stored, 0600), DIR/NAME.crt.pem and
 * DIR/manifest.json (last), reads the key back, and records the export (audit
 * `ca.export`). Any of the three files already in DIR: FILE_EXISTS, nothing written.
 */
export async function exportCa(
  d: CustodyDeps,
  name: string,
  outDir: string,
): Promise<{ dir: string; manifest: ExportManifest }> {
  const ca = await d.authority.getCa(name);
  const key = await readOnlineKey(d, ca);
  await d.authority.unlock(ca.name); // an export that cannot be opened is worthless
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyOut = join(dir, `${ca.name}.key.pem`);
  const certOut = join(dir, `${ca.name}.crt.pem`);
  const manOut = join(dir, "manifest.json");
  for (const p of [keyOut, certOut, manOut])
    if (await exists(p))
      throw new SigilError(ErrorCodes.FILE_EXISTS, `${p} already exists: export into an empty folder`);
  const keySha256 = sha256(key.bytes);
  const manifest: ExportManifest = {
    format: "sigil-ca-export",
    version: 1,
    ca: ca.name,
    subject: ca.subject,
    serial: ca.serialHex,
    keyType: ca.keyType,
    notBefore: new Date(ca.notBefore).toISOString(),
    notAfter: new Date(ca.notAfter).toISOString(),
    keyFile: `${ca.name}.key.pem`,
    certFile: `${ca.name}.crt.pem`,
    certSha256: sha256(ca.certDer),
    keySha256,
    createdAt: new Date(d.clock()).toISOString(),
    sigilVersion: d.version,
    note:
      `CA ${ca.name}: its private key, encrypted (PKCS#8, PBES2) under the Sigil home passphrase, ` +
      "and its certificate. Keep this folder on offline media in a safe; the passphrase (or enough " +
      "of its key shares) is kept apart.",
  };
  const written: string[] = [];
  try {
    await writeSecretFile(keyOut, key.bytes);
    written.push(keyOut);
    await writePublicFile(certOut, toPem(ca.certDer, "CERTIFICATE"));
    written.push(certOut);
    const back = await readFile(keyOut);
    if (!back.equals(key.bytes))
      throw new SigilError(ErrorCodes.INTERNAL, `${keyOut} reads back differently: the medium is faulty`);
    await writePublicFile(manOut, JSON.stringify(manifest, null, 2) + "\n");
    written.push(manOut);
    await syncDir(dir);
    await d.store.transaction(async (tx) => {
      await tx.setJobMark(exportMark(ca.name), JSON.stringify({ keySha256, dir }), d.clock());
      await tx.appendAudit(
        draft(d, "ca.export", ca.name, { dir, keySha256, certSha256: manifest.certSha256 }),
      );
    });
  } catch (e) {
    for (const p of written.reverse()) await unlink(p).catch(() => undefined);
    throw e;
  }
  return { dir, manifest };
}

/**
 * `sigil ca offline NAME [--export DIR]`: checks an export of the CA's current key was
 * made (and, with `exportDir`, that the files there match), then in one transaction sets
 * the keyRef to `offline:NAME` with audit `ca.offline`, then wipes and deletes the key
 * file. Re-running it on an offline CA whose key file is still there (a crash after the
 * commit) finishes the deletion.
 */
export async function takeOffline(
  d: CustodyDeps,
  name: string,
  exportDir?: string,
): Promise<{ exportDir: string; keySha256: string; responderNotAfter: number | null; finished?: boolean }> {
  const ca = await d.authority.getCa(name);
  const responder = await d.store.currentOcspResponder(ca.id);
  const responderNotAfter = responder?.notAfter ?? null;
  if (isOfflineKeyRef(ca.keyRef)) {
    const left = join(d.keyDir, `${ca.keyRef.slice(OFFLINE_KEYREF_SCHEME.length)}.key.pem`);
    if (await exists(left)) {
      await wipe(left);
      return { exportDir: "", keySha256: "", responderNotAfter, finished: true };
    }
    throw new SigilError(ErrorCodes.KEY_OFFLINE, `CA ${ca.name} is already offline`);
  }
  const key = await readOnlineKey(d, ca);
  const keySha256 = sha256(key.bytes);
  const mark = await d.store.getJobMark(exportMark(ca.name));
  let recorded: { keySha256?: string; dir?: string } = {};
  try {
    recorded = mark ? (JSON.parse(mark.value) as typeof recorded) : {};
  } catch {
    recorded = {};
  }
  if (recorded.keySha256 !== keySha256)
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `CA ${ca.name} has no export of its current key: run 'sigil ca export ${ca.name} --out DIR' first`,
    );
  let dir = recorded.dir ?? "";
  if (exportDir !== undefined) {
    const v = await verifyExport(ca, resolve(exportDir));
    if (v.keySha256 !== keySha256)
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `the key in ${v.keyPath} is not CA ${ca.name}'s current key file`,
      );
    dir = resolve(exportDir);
  }
  await d.store.transaction(async (tx) => {
    await tx.setCaKeyRef(ca.id, OFFLINE_KEYREF_SCHEME + ca.name);
    await tx.appendAudit(
      draft(d, "ca.offline", ca.name, {
        keySha256,
        exportDir: dir,
        checkedExport: exportDir !== undefined,
        responderNotAfter: responderNotAfter === null ? null : new Date(responderNotAfter).toISOString(),
      }),
    );
  });
  await wipe(key.path);
  return { exportDir: dir, keySha256, responderNotAfter };
}

/**
 * `sigil key split NAME`: proves `passphrase` opens CA NAME's key (online, or the key
 * file given to the authority), then writes `shares` share files of it, any `threshold`
 * of which restore it, as OUT/NAME.share-I-of-N.txt (0600, never over existing files).
 * Audit `key.split` (never the secret).
 */
export async function splitKey(
  d: CustodyDeps,
  name: string,
  opts: { shares: number; threshold: number; outDir: string; passphrase: Buffer; keyFile?: string },
): Promise<{ files: string[]; label: ShareLabel }> {
  const ca = await d.authority.getCa(name);
  const keyBytes =
    opts.keyFile !== undefined ? await readFile(opts.keyFile) : (await readOnlineKey(d, ca)).bytes;
  await d.authority.unlock(ca.name);
  const label: ShareLabel = {
    ca: ca.name,
    keyFingerprint: sha256(keyBytes),
    setId: newSetId(),
    createdAt: new Date(d.clock()).toISOString(),
  };
  const texts = await splitSecret(opts.passphrase, { shares: opts.shares, threshold: opts.threshold, label });
  const dir = resolve(opts.outDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = texts.map((_, i) => join(dir, `${ca.name}.share-${i + 1}-of-${opts.shares}.txt`));
  for (const f of files)
    if (await exists(f)) throw new SigilError(ErrorCodes.FILE_EXISTS, `${f} already exists: nothing written`);
  const written: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      await writeSecretFile(files[i]!, texts[i]!);
      written.push(files[i]!);
    }
    await d.store.transaction((tx) =>
      tx.appendAudit(
        draft(d, "key.split", ca.name, {
          shares: opts.shares,
          threshold: opts.threshold,
          setId: label.setId,
          keyFingerprint: label.keyFingerprint,
          dir,
        }),
      ),
    );
  } catch (e) {
    for (const p of written) await unlink(p).catch(() => undefined);
    throw e;
  }
  return { files, label };
}

/**
 * `sigil key restore NAME --share ...`: the authority's passphrase is the one the shares
 * restored; this proves it by opening CA NAME's key (online, or from the export in
 * `from`). With `from`, an offline CA (or one whose key file is gone) gets its key back
 * in the online store, keyRef `file:NAME`. Audit `key.restore`.
 */
export async function restoreKey(
  d: CustodyDeps,
  name: string,
  opts: { label: ShareLabel; shareCount: number; from?: string },
): Promise<{ restored: boolean }> {
  const ca = await d.authority.getCa(name);
  let exp: Awaited<ReturnType<typeof verifyExport>> | undefined;
  if (opts.from !== undefined) {
    exp = await verifyExport(ca, resolve(opts.from));
    d.authority.useKeyFile(ca.name, exp.keyPath);
  } else if (isOfflineKeyRef(ca.keyRef)) {
    throw new SigilError(ErrorCodes.KEY_OFFLINE, `CA ${ca.name} is offline: give --from DIR with its export`);
  }
  try {
    await d.authority.unlock(ca.name);
  } catch (e) {
    if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
      throw new SigilError(ErrorCodes.BAD_SHARE, "the shares do not reconstruct the key's passphrase");
    throw e;
  }
  const details = {
    setId: opts.label.setId,
    shares: opts.shareCount,
    madeWith: opts.label.ca,
    from: exp ? resolve(opts.from!) : null,
  };
  if (!exp) {
    await d.store.transaction((tx) =>
      tx.appendAudit(draft(d, "key.restore", ca.name, { ...details, restored: false })),
    );
    return { restored: false };
  }
  const keyName = ca.name;
  const target = join(d.keyDir, `${keyName}.key.pem`);
  const current = isOfflineKeyRef(ca.keyRef) ? null : await readOrNull(onlineKeyPath(d, ca));
  if (current) {
    if (!current.equals(exp.keyBytes))
      throw new SigilError(
        ErrorCodes.FILE_EXISTS,
        `CA ${ca.name} has another key file online; nothing changed`,
      );
    await d.store.transaction((tx) =>
      tx.appendAudit(
        draft(d, "key.restore", ca.name, { ...details, restored: false, keySha256: exp.keySha256 }),
      ),
    );
    return { restored: false };
  }
  await mkdir(d.keyDir, { recursive: true, mode: 0o700 });
  let wrote = false;
  try {
    const there = await readOrNull(target);
    if (there && !there.equals(exp.keyBytes))
      throw new SigilError(ErrorCodes.FILE_EXISTS, `${target} exists and holds another key; nothing changed`);
    if (!there) {
      await writeSecretFile(target, exp.keyBytes);
      wrote = true;
    }
    await d.store.transaction(async (tx) => {
      await tx.setCaKeyRef(ca.id, `file:${keyName}`);
      await tx.appendAudit(
        draft(d, "key.restore", ca.name, { ...details, restored: true, keySha256: exp.keySha256 }),
      );
    });
  } catch (e) {
    if (wrote) await unlink(target).catch(() => undefined);
    throw e;
  }
  return { restored: true };
}

/**
 * `sigil key restore NAME --share ...` as a whole: waits for the shares to be read and
 * combined (`shares`), then {@link restoreKey}. Any refusal (bad shares, a passphrase they do
 * not make, a key that does not match) is recorded as `key.restore.refused`, then thrown.
 */
export async function restoreKeyFromShares(
  d: CustodyDeps,
  name: string,
  opts: { shares: Promise<{ label: ShareLabel }>; shareCount: number; from?: string | undefined },
): Promise<{ restored: boolean; label: ShareLabel }> {
  try {
    const { label } = await opts.shares;
    const r = await restoreKey(d, name, { label, shareCount: opts.shareCount, from: opts.from });
    return { ...r, label };
  } catch (e) {
    if (isSigilError(e) && e.kind === "user")
      await d.store
        .transaction((tx) =>
          tx.appendAudit(
            draft(d, "key.restore.refused", name, {
              code: e.code,
              reason: e.message,
              shares: opts.shareCount,
            }),
          ),
        )
        .catch(() => undefined);
    throw e;
  }
}

/** One CA's custody line. */
export interface CaStatus {
  name: string;
  parent: string | null;
  /** active, retired, revoked or expired ({@link CaStanding}). */
  status: CaStanding["state"];
  /** When its parent revoked (or retired) it. */
  revokedAt: string | null;
  custody: string;
  keyRef: string;
  notAfter: string;
  crlNumber: number;
  crlNextUpdate: string | null;
  responderNotAfter: string | null;
  warnings: string[];
  /** True when a CRL of this CA is already past its nextUpdate. */
  crlExpired: boolean;
}

/**
 * Custody status of every CA: where the key is, its CRL and OCSP responder dates, and
 * reminders: an offline CA whose CRL nextUpdate (RFC 5280 §5.1.2.5) is within
 * `crl.offlineRemindDays` or past, or whose OCSP responder is due for renewal (which
 * needs the CA key); any CA whose CRL has expired. A retired CA is reminded of its CRL
 * until its final one; a revoked one of nothing (it signs nothing more).
 */
export async function custodyStatus(d: CustodyDeps, config: Config): Promise<CaStatus[]> {
  const now = d.clock();
  const cas = await d.store.listCas();
  const byId = new Map(cas.map((c) => [c.id, c.name]));
  const out: CaStatus[] = [];
  for (const ca of cas) {
    const crl = await d.store.latestCrl(ca.id);
    const resp = await d.store.currentOcspResponder(ca.id);
    const offline = isOfflineKeyRef(ca.keyRef);
    const scheme = ca.keyRef.includes(":") ? ca.keyRef.slice(0, ca.keyRef.indexOf(":")) : ca.keyRef;
    const warnings: string[] = [];
    const expired = now >= ca.notAfter;
    const standing = await d.authority.standing(ca);
    // Retired or revoked: no responder is renewed (that is issuing); CRLs while it owes them.
    const revoked = standing.revokedAt !== null;
    const crlDue = !expired && (await d.authority.publishesCrls(ca));
    const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
    const crlCmd = `sigil crl --ca ${ca.name}${offline ? " --key-file ..." : ""}`;
    let crlExpired = false;
    if (!expired) {
      if (!crlDue) {
        // Nothing to remind of: it publishes no more CRLs.
      } else if (!crl) {
        if (offline) warnings.push(`${ca.name} is offline and has no CRL: bring the key and run '${crlCmd}'`);
      } else if (crl.nextUpdate <= now) {
        crlExpired = true;
        warnings.push(
          offline
            ? `${ca.name} is offline; its CRL expired on ${day(crl.nextUpdate)}: bring the key and run '${crlCmd}'`
            : `the CRL of ${ca.name} expired on ${day(crl.nextUpdate)}: run '${crlCmd}' (or keep 'sigil serve' running)`,
        );
      } else if (offline && crl.nextUpdate - now <= config.crl.offlineRemindDays * DAY_MS) {
        const days = Math.ceil((crl.nextUpdate - now) / DAY_MS);
        warnings.push(
          `${ca.name} is offline; its CRL expires in ${days} day${days === 1 ? "" : "s"} (${day(crl.nextUpdate)}): bring the key and run '${crlCmd}'`,
        );
      }
      if (
        offline &&
        !revoked &&
        resp &&
        resp.notAfter < ca.notAfter &&
        resp.notAfter - now <= config.ocsp.responderRenewDays * DAY_MS
      )
        warnings.push(
          `${ca.name} is offline; its OCSP responder certificate ends ${day(resp.notAfter)}: bring the key and run 'sigil ocsp refresh --ca ${ca.name} --key-file ...'`,
        );
      if (offline && !revoked && !resp)
        warnings.push(
          `${ca.name} is offline and has no OCSP responder: bring the key and run 'sigil ocsp refresh --ca ${ca.name} --key-file ...'`,
        );
      if (
        offline &&
        (await exists(join(d.keyDir, `${ca.keyRef.slice(OFFLINE_KEYREF_SCHEME.length)}.key.pem`)))
      )
        warnings.push(
          `${ca.name} is offline but its key file is still in the store: run 'sigil ca offline ${ca.name}' again`,
        );
    }
    out.push({
      name: ca.name,
      parent: ca.parentId === null ? null : (byId.get(ca.parentId) ?? null),
      status: standing.state,
      revokedAt: standing.revokedAt === null ? null : new Date(standing.revokedAt).toISOString(),
      custody: expired ? `${scheme} (expired)` : scheme,
      keyRef: ca.keyRef,
      notAfter: new Date(ca.notAfter).toISOString(),
      crlNumber: ca.crlNumber,
      crlNextUpdate: crl ? new Date(crl.nextUpdate).toISOString() : null,
      responderNotAfter: resp ? new Date(resp.notAfter).toISOString() : null,
      warnings,
      crlExpired,
    });
  }
  return out;
}
