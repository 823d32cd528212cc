/**
 * Backup and restore of a Sigil home folder, online.
 *
 * A backup is one gzip-compressed tar archive (mode 0600: it holds the encrypted CA keys and
 * the admin TLS key, so it is a secret as a whole) with these members:
 *
 * - `manifest.json` (first): format, versions, time, store kind, counts and audit head of the
 *   snapshot, which keys are in it and which are not (HSM, offline), and the size, mode and
 *   SHA-256 of every other member; `manifest.json.sha256` holds the manifest's own SHA-256;
 * - `sigil.db`: a consistent snapshot of the store ({@link Store.snapshot}: SQLite `VACUUM
 *   INTO`, taken while `sigil serve` keeps writing);
 * - `sigil.json`, `keys/` (the passphrase-encrypted key files as they are, and the
 *   admin-token key), `tls/` (the admin API's certificate and key), `crl/` (the published CRLs).
 *
 * Keys and snapshot: key files are read once before the snapshot and once after it, and the
 * archive holds the union (the later copy wins). A key the snapshot refers to existed before
 * the snapshot was taken (keys are written before the row that names them commits), so the
 * first read has it even when an OCSP responder renewal deletes it right after the snapshot;
 * a key made after the snapshot is only an unused file in the archive. A `file:` key the
 * snapshot refers to that is in neither read is an error (nothing is written). Keys in a
 * PKCS#11 token (`pkcs11:`) and offline keys (`offline:`) are not in the archive: the
 * manifest and the output say so.
 *
 * Restore checks every member against the manifest, refuses a non-empty target (unless
 * forced) and always a target a running `sigil serve` holds, unpacks into a folder beside
 * the target, sets the modes, opens the store, verifies the audit chain and the referenced
 * keys, records `backup.restore`, and only then renames the folder into place: a failed
 * restore leaves nothing behind.
 */
import { createWriteStream } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { create as tarCreate } from "tar";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import { verifyAuditChain } from "../audit/verify.js";
import { parseFileKeyRef } from "../keys/file-keystore.js";
import { parseStoreKeyRef, STORE_KEYREF_SCHEME } from "../keys/store-keystore.js";
import { checkOutput, placeFile, stagingFolder } from "../files/output.js";
import type { Store } from "../store/types.js";
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  DB_MEMBER,
  FOLDERS,
  MANIFEST,
  MANIFEST_HASH,
  damaged,
  existsPath,
  fsyncPath,
  sha256,
  sha256File,
  unpackBackup,
  type BackupManifest,
  type KeyNotIncluded,
} from "./backup-archive.js";

export {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  unpackBackup,
  type BackupManifest,
  type KeyNotIncluded,
} from "./backup-archive.js";

/** What {@link createBackup} made. */
export interface BackupResult {
  file: string;
  bytes: number;
  /** SHA-256 of the archive file. */
  sha256: string;
  manifest: BackupManifest;
}

/** Inputs of {@link createBackup}. */
export interface BackupOptions {
  /** The home folder (the store's folder). */
  home: string;
  /** The opened store of `home`. */
  store: Store;
  /** The archive to write. */
  out: string;
  /** Replace an existing `out`. */
  force?: boolean;
  clock: () => number;
  actor: string;
  sigilVersion: string;
}

/**
 * Regular files under `home/folder` (relative paths with `/`), and their bytes. Dot files
 * (a key store's temporary files) and anything not a regular file are left out.
 */
async function readTree(home: string, folder: string): Promise<Map<string, { data: Buffer; mode: number }>> {
  const out = new Map<string, { data: Buffer; mode: number }>();
  const walk = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(join(home, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    for (const d of entries) {
      if (d.name.startsWith(".")) continue;
      const p = `${rel}/${d.name}`;
      if (d.isDirectory()) await walk(p);
      else if (d.isFile()) {
        try {
          const full = join(home, p);
          const [data, st] = await Promise.all([readFile(full), stat(full)]);
          out.set(p, { data, mode: st.mode & 0o777 });
        } catch (e) {
          // Deleted between listing and reading (a responder key being renewed).
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        }
      }
    }
  };
  await walk(folder);
  return out;
}

function whereOf(keyRef: string): KeyNotIncluded["where"] {
  if (keyRef.startsWith("pkcs11:")) return "pkcs11";
  if (keyRef.startsWith("offline:")) return "offline";
  return "other";
}

/** Writes `data` to `path` (a new file) with `mode`. */
async function writeNew(path: string, data: Buffer | string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, data, { flag: "wx", mode });
  await chmod(path, mode);
}

/**
 * Takes an online backup of `opts.home` into `opts.out` (see the file comment), then records
 * `backup.create` in the live store's audit log (after the snapshot, so the archive does
 * not hold its own event). Writes nothing at `out` unless everything succeeded.
 */
export async function createBackup(opts: BackupOptions): Promise<BackupResult> {
  const out = opts.out === "-" ? "-" : resolve(opts.out);
  // The output rule (files/output.ts): a new file, an existing one only when forced, a
  // device, FIFO or stdout written into; checked before anything is read or recorded.
  const target = await checkOutput(out, { overwrite: opts.force === true, stdout: true });
  const outDir = stagingFolder(target);
  const home = resolve(opts.home);
  const stage = await mkdtemp(join(outDir, ".sigil-backup-"));
  const tmpArchive = `${stage}.tar.gz`;
  try {
    await chmod(stage, 0o700);
    // Keys before the snapshot (see the file comment), the snapshot, then everything else.
    const keysBefore = await readTree(home, "keys");
    const snap = await opts.store.snapshot(join(stage, DB_MEMBER));
    const files = new Map<string, { data: Buffer; mode: number }>(keysBefore);
    for (const folder of FOLDERS) for (const [p, f] of await readTree(home, folder)) files.set(p, f);
    try {
      const data = await readFile(join(home, "sigil.json"));
      files.set("sigil.json", { data, mode: 0o644 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }

    const notIncluded: KeyNotIncluded[] = [];
    const inDatabase: string[] = [];
    for (const k of snap.keys) {
      const what =
        k.role === "ca"
          ? `the key of CA ${k.ca}`
          : k.role === "audit"
            ? "the audit signing key"
            : `the OCSP responder key of CA ${k.ca}`;
      if (k.keyRef.startsWith(STORE_KEYREF_SCHEME)) {
        // Kept encrypted in the database: the snapshot holds it.
        if (!k.inCopy)
          throw new SigilError(
            ErrorCodes.KEY_NOT_FOUND,
            `${what} (${k.keyRef}) is missing from the database; no backup written`,
          );
        inDatabase.push(k.keyRef);
        continue;
      }
      if (!k.keyRef.startsWith("file:")) {
        notIncluded.push({ ca: k.ca, role: k.role, keyRef: k.keyRef, where: whereOf(k.keyRef) });
        continue;
      }
      const member = `keys/${parseFileKeyRef(k.keyRef)}.key.pem`;
      if (!files.has(member)) {
        throw new SigilError(
          ErrorCodes.KEY_NOT_FOUND,
          `${what} (${member}) is missing from ${home}; no backup written`,
        );
      }
    }

    // Stage the files with safe modes; the archive keeps these modes.
    const members: BackupManifest["members"] = [];
    const dbInfo = await sha256File(join(stage, DB_MEMBER));
    members.push({ path: DB_MEMBER, size: dbInfo.bytes, mode: 0o600, sha256: dbInfo.sha256 });
    for (const [p, f] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const mode = p.startsWith("keys/") || p.startsWith("tls/") ? 0o600 : f.mode & 0o644;
      await writeNew(join(stage, ...p.split("/")), f.data, mode);
      members.push({ path: p, size: f.data.length, mode, sha256: sha256(f.data) });
    }
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      version: BACKUP_FORMAT_VERSION,
      sigilVersion: opts.sigilVersion,
      createdAt: new Date(opts.clock()).toISOString(),
      home,
      store: { kind: snap.kind, member: DB_MEMBER },
      counts: snap.counts,
      auditHead: snap.auditHead,
      keys: {
        included: members.filter((m) => m.path.startsWith("keys/")).map((m) => m.path.slice(5)),
        ...(inDatabase.length > 0 ? { inDatabase } : {}),
        notIncluded,
      },
      members,
    };
    const manifestText = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
    await writeNew(join(stage, MANIFEST), manifestText, 0o600);
    await writeNew(join(stage, MANIFEST_HASH), `${sha256(manifestText)}  ${MANIFEST}\n`, 0o600);

    // The archive: a temporary file (0600) beside `out`, synced, then put in place at once
    // (or copied into a device, FIFO or stdout).
    await pipeline(
      tarCreate({ gzip: true, cwd: stage, portable: true, noDirRecurse: true, strict: true }, [
        MANIFEST,
        MANIFEST_HASH,
        ...members.map((m) => m.path),
      ]),
      createWriteStream(tmpArchive, { flags: "wx", mode: 0o600 }),
    );
    await chmod(tmpArchive, 0o600);
    await fsyncPath(tmpArchive);
    const { sha256: archiveHash, bytes } = await sha256File(tmpArchive);
    await placeFile(tmpArchive, target, { overwrite: opts.force === true });
    if (target.kind === "new" || target.kind === "replace") await fsyncPath(outDir);

    await opts.store.transaction((tx) =>
      tx.appendAudit({
        at: opts.clock(),
        actor: opts.actor,
        action: "backup.create",
        target: out,
        details: {
          sha256: archiveHash,
          bytes,
          store: snap.kind,
          counts: snap.counts,
          auditHead: snap.auditHead,
          keysIncluded: manifest.keys.included.length + inDatabase.length,
          keysNotIncluded: notIncluded.map((k) => `${k.ca}:${k.role}:${k.where}`),
        },
      }),
    );
    return { file: out, bytes, sha256: archiveHash, manifest };
  } finally {
    await rm(stage, { recursive: true, force: true });
    await rm(tmpArchive, { force: true });
  }
}

/** What {@link restoreBackup} did. */
export interface RestoreResult {
  home: string;
  manifest: BackupManifest;
  audit: { count: number; headHash: string };
  /** Where a replaced (forced) home folder was moved, if one was. */
  previousMovedTo: string | null;
}

/** Inputs of {@link restoreBackup}. */
export interface RestoreOptions {
  /** The archive. */
  from: string;
  /** The home folder to restore into (new or empty unless `force`). */
  home: string;
  force?: boolean;
  clock: () => number;
  actor: string;
  /** Opens (and migrates) the store of a home folder: the composition root's openStore. */
  openStore: (home: string) => Promise<Store>;
  /** True when a running `sigil serve` holds the home folder (the composition root's probe, app/restore.ts). */
  serveHolds: (home: string) => Promise<boolean>;
}

/** Sets the modes of a restored home: folders 0700 (crl 0755), keys, TLS files and the database 0600. */
async function setModes(dir: string, m: BackupManifest): Promise<void> {
  await chmod(dir, 0o700);
  for (const f of FOLDERS) {
    if (await existsPath(join(dir, f))) await chmod(join(dir, f), f === "crl" ? 0o755 : 0o700);
  }
  for (const x of m.members) {
    const secret = x.path === DB_MEMBER || x.path.startsWith("keys/") || x.path.startsWith("tls/");
    await chmod(join(dir, ...x.path.split("/")), secret ? 0o600 : x.mode & 0o644);
  }
  await rm(join(dir, MANIFEST), { force: true });
  await rm(join(dir, MANIFEST_HASH), { force: true });
}

/**
 * A PostgreSQL backup's database member is a pg_dump archive: it is restored (pg_restore,
 * one transaction) into the database the restored home points at (SIGIL_DATABASE_URL, else
 * `store.url` of its sigil.json). That database must hold no Sigil tables unless `force`
 * (then they are dropped first). The dump file is not kept in the home.
 */
async function restorePostgres(stage: string, force: boolean): Promise<void> {
  const { restoreDatabaseDump } = await import("../store/open.js");
  const dump = join(stage, DB_MEMBER);
  await restoreDatabaseDump(stage, dump, force);
  await rm(dump, { force: true });
}

/**
 * Restores the archive `opts.from` into `opts.home` (see the file comment). Nothing is left
 * at or beside the target when it fails; with `force`, an existing home is moved aside to
 * `.NAME.replaced-TIME` next to it (never deleted) once the restored one is ready.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const from = resolve(opts.from);
  const home = resolve(opts.home);
  try {
    if (!(await stat(from)).isFile()) throw new Error();
  } catch {
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `no backup file ${from}`);
  }
  let targetState: "absent" | "empty" | "full" = "absent";
  if (await existsPath(home)) {
    if (!(await stat(home)).isDirectory())
      throw new SigilError(ErrorCodes.BAD_INPUT, `${home} exists and is not a folder`);
    targetState = (await readdir(home)).length === 0 ? "empty" : "full";
  }
  if (targetState === "full" && (await opts.serveHolds(home)))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `a sigil serve is running on ${home}: stop it before restoring into that folder`,
    );
  if (targetState === "full" && !opts.force)
    throw new SigilError(
      ErrorCodes.FILE_EXISTS,
      `${home} is not empty: restore into a new folder, or use --force to replace it (it is moved aside, not deleted)`,
    );
  const parent = dirname(home);
  await mkdir(parent, { recursive: true });
  const stage = await mkdtemp(join(parent, `.${basename(home)}.restore-`));
  let placed = false;
  try {
    await chmod(stage, 0o700);
    const manifest = await unpackBackup(from, stage);
    await setModes(stage, manifest);
    if (manifest.store.kind === "postgres") await restorePostgres(stage, opts.force === true);

    const store = await opts.openStore(stage);
    let audit: { count: number; headHash: string };
    try {
      const v = await verifyAuditChain(store.auditEvents(), await store.auditHead());
      if (!v.ok)
        throw new SigilError(
          ErrorCodes.AUDIT_BROKEN,
          `the backup's audit chain is broken at event ${v.firstBad}: ${v.reason}; nothing restored`,
        );
      if (manifest.auditHead && v.headHash !== manifest.auditHead.hash)
        throw damaged(from, "the database's audit head differs from the manifest");
      // Every key the restored store names must be there (or be one the manifest says is not).
      for (const ca of await store.listCas()) {
        const refs = [ca.keyRef, (await store.currentOcspResponder(ca.id))?.keyRef];
        for (const ref of refs) {
          if (ref?.startsWith(STORE_KEYREF_SCHEME)) {
            if (!(await store.getServiceKey(parseStoreKeyRef(ref))))
              throw damaged(from, `the OCSP responder key ${ref} of CA ${ca.name} is not in the database`);
            continue;
          }
          if (!ref?.startsWith("file:")) continue;
          const p = join(stage, "keys", `${parseFileKeyRef(ref)}.key.pem`);
          if (!(await existsPath(p)))
            throw damaged(from, `keys/${basename(p)} of CA ${ca.name} is not in the archive`);
        }
      }
      const ev = await store.transaction(async (tx) => {
        // Servers of the same PostgreSQL database drop the answers they cached before.
        await tx.invalidateOcspAnswers();
        return tx.appendAudit({
          at: opts.clock(),
          actor: opts.actor,
          action: "backup.restore",
          target: home,
          details: {
            from,
            createdAt: manifest.createdAt,
            sigilVersion: manifest.sigilVersion,
            counts: manifest.counts,
            auditHead: manifest.auditHead,
          },
        });
      });
      audit = { count: v.count + 1, headHash: ev.hash };
    } finally {
      await store.close();
    }
    for (const f of await readdir(stage))
      if (f.startsWith(`${DB_MEMBER}-`)) await rm(join(stage, f), { force: true }); // -wal/-shm left empty

    // Into place: rename (same folder, atomic). A forced replace moves the old home aside first.
    let previousMovedTo: string | null = null;
    if (targetState === "empty") await rmdir(home);
    if (targetState === "full") {
      previousMovedTo = join(
        parent,
        `.${basename(home)}.replaced-${new Date(opts.clock()).toISOString().replace(/[:.]/g, "")}`,
      );
      await rename(home, previousMovedTo);
    }
    try {
      await rename(stage, home);
      placed = true;
    } catch (e) {
      if (previousMovedTo) await rename(previousMovedTo, home).catch(() => undefined);
      throw e;
    }
    await fsyncPath(parent);
    return { home, manifest, audit, previousMovedTo };
  } catch (e) {
    if (isSigilError(e)) throw e;
    throw new SigilError(
      ErrorCodes.INTERNAL,
      `restore failed: ${e instanceof Error ? e.message : String(e)}`,
      {
        kind: "internal",
        cause: e,
      },
    );
  } finally {
    // Retries: an unpack that failed half-way may still be finishing its writes.
    if (!placed)
      await rm(stage, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 }).catch(
        () => undefined,
      );
  }
}
