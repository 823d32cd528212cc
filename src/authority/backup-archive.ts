/**
 * The backup archive format (see backup.ts): its manifest and members, and reading an
 * archive back: every member checked against the manifest before and after it is unpacked.
 * Files only; no store.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { extract as tarExtract, list as tarList } from "tar";
import { SigilError, ErrorCodes } from "../errors.js";
import type { StoreSnapshot } from "../store/types.js";

/** The `format` of a backup manifest. */
export const BACKUP_FORMAT = "sigil-backup";
/** The manifest version this Sigil writes and reads. */
export const BACKUP_FORMAT_VERSION = 1;

/** The file name of the SQLite database in a home folder and in an archive. */
export const DB_MEMBER = "sigil.db";
export const MANIFEST = "manifest.json";
export const MANIFEST_HASH = "manifest.json.sha256";
/** The folders of a home that a backup holds (regular files only, at any depth). */
export const FOLDERS = ["keys", "tls", "crl", "audit"] as const;
/** The member paths an archive may hold. */
export const MEMBER_PATTERN =
  /^(manifest\.json|manifest\.json\.sha256|sigil\.db|sigil\.json|(keys|tls|crl|audit)(\/[^/]+)+)$/;

/** A key the archive does not hold, and why. */
export interface KeyNotIncluded {
  /** The CA the key belongs to ("" for the audit key). */
  ca: string;
  role: "ca" | "ocsp-responder" | "audit";
  keyRef: string;
  /** `pkcs11`: in the HSM token; `offline`: taken offline (`sigil ca offline`). */
  where: "pkcs11" | "offline" | "other";
}

/** `manifest.json` of a backup archive. */
export interface BackupManifest {
  format: typeof BACKUP_FORMAT;
  version: typeof BACKUP_FORMAT_VERSION;
  sigilVersion: string;
  createdAt: string;
  /** The home folder backed up (for the operator's information only). */
  home: string;
  store: { kind: StoreSnapshot["kind"]; member: string };
  counts: StoreSnapshot["counts"];
  auditHead: StoreSnapshot["auditHead"];
  keys: {
    /** Key files in the archive, under `keys/`. */
    included: string[];
    /**
     * Keys kept encrypted in the database (`store:NAME` keyRefs: the service's own keys), so
     * in the archive's database copy itself. Absent when there are none.
     */
    inDatabase?: string[];
    notIncluded: KeyNotIncluded[];
  };
  /** Every member but the manifest and its hash. */
  members: Array<{ path: string; size: number; mode: number; sha256: string }>;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), bytes };
}

export async function existsPath(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** Syncs a file or folder to disk (best effort for a folder). */
export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } catch {
    // A folder that cannot be synced on this platform.
  } finally {
    await fh.close();
  }
}

/** A damaged or foreign archive (one line). */
export function damaged(file: string, why: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `backup ${file} is damaged or not a Sigil backup: ${why}`);
}

/** Regular files under `dir` (relative, `/`-separated); anything else is reported as `!path`. */
export async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel === "" ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) out.push(...(await listFiles(dir, p)));
    else if (d.isFile()) out.push(p);
    else out.push(`!${p}`);
  }
  return out;
}

/** True for a member path (or a folder of members) an archive may hold, as a plain file or folder. */
export function allowedEntry(p: string, type: string | undefined): boolean {
  const path = p.replace(/\/+$/, "");
  if (type === "File" || type === "OldFile") return MEMBER_PATTERN.test(path);
  return type === "Directory" && /^(keys|tls|crl)(\/[^/]+)*$/.test(path);
}

/**
 * Reads the whole archive once without writing anything: every entry must be an allowed
 * member (no links, devices, absolute paths or `..`), the gzip and tar framing intact, and
 * the manifest's hashes must match. Returns the manifest. Throws SigilError BAD_INPUT.
 */
export async function verifyArchive(file: string): Promise<BackupManifest> {
  const seen = new Map<string, { size: number; sha256: string; data?: Buffer }>();
  const refused: string[] = [];
  const pending: Array<Promise<void>> = [];
  try {
    await tarList({
      file,
      strict: true,
      noResume: true,
      onReadEntry: (entry) => {
        const path = entry.path.replace(/\/+$/, "");
        if (!allowedEntry(entry.path, entry.type)) {
          refused.push(entry.path);
          entry.resume();
          return;
        }
        if (entry.type === "Directory") {
          entry.resume();
          return;
        }
        const h = createHash("sha256");
        const keep = path === MANIFEST || path === MANIFEST_HASH;
        const chunks: Buffer[] = [];
        let size = 0;
        pending.push(
          new Promise<void>((done, fail) => {
            entry.on("data", (c: Buffer) => {
              h.update(c);
              size += c.length;
              if (keep) chunks.push(c);
            });
            entry.on("end", () => {
              if (seen.has(path)) refused.push(`${path} (twice)`);
              seen.set(path, {
                size,
                sha256: h.digest("hex"),
                ...(keep ? { data: Buffer.concat(chunks) } : {}),
              });
              done();
            });
            entry.on("error", fail);
          }),
        );
      },
    });
    await Promise.all(pending);
  } catch (e) {
    throw damaged(file, e instanceof Error ? e.message : String(e));
  }
  if (refused.length > 0) throw damaged(file, `unexpected member ${refused[0]}`);
  const manifestText = seen.get(MANIFEST)?.data;
  const hashLine = seen.get(MANIFEST_HASH)?.data?.toString("utf8");
  if (!manifestText || hashLine === undefined) throw damaged(file, "no manifest");
  if (hashLine.split(/\s+/)[0] !== sha256(manifestText))
    throw damaged(file, "manifest.json does not match its SHA-256");
  let m: BackupManifest;
  try {
    m = JSON.parse(manifestText.toString("utf8")) as BackupManifest;
  } catch {
    throw damaged(file, "manifest.json is not JSON");
  }
  if (m.format !== BACKUP_FORMAT) throw damaged(file, "manifest.json is not a Sigil backup manifest");
  if (m.version !== BACKUP_FORMAT_VERSION)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `backup ${file} has format version ${String(m.version)}; this Sigil reads version ${BACKUP_FORMAT_VERSION}`,
    );
  if (!Array.isArray(m.members)) throw damaged(file, "manifest.json lists no members");
  const listed = new Set<string>();
  for (const x of m.members) {
    if (typeof x.path !== "string" || !MEMBER_PATTERN.test(x.path) || x.path.startsWith("manifest"))
      throw damaged(file, `manifest lists a bad member ${JSON.stringify(x.path)}`);
    listed.add(x.path);
    const got = seen.get(x.path);
    if (!got) throw damaged(file, `member ${x.path} is missing`);
    if (got.size !== x.size || got.sha256 !== x.sha256)
      throw damaged(file, `member ${x.path} does not match its SHA-256 in the manifest`);
  }
  for (const p of seen.keys())
    if (p !== MANIFEST && p !== MANIFEST_HASH && !listed.has(p))
      throw damaged(file, `member ${p} is not in the manifest`);
  if (!listed.has(m.store?.member)) throw damaged(file, "the manifest names no database member");
  return m;
}

/**
 * Checks `file` (see {@link verifyArchive}: nothing is written for a damaged archive), then
 * unpacks it into the empty folder `dir` and checks the unpacked files against the manifest
 * again. Returns the manifest. Throws SigilError BAD_INPUT (one line) on any difference.
 */
export async function unpackBackup(file: string, dir: string): Promise<BackupManifest> {
  const m = await verifyArchive(file);
  try {
    await tarExtract({
      file,
      cwd: dir,
      strict: true,
      preserveOwner: false,
      filter: (p, entry) => allowedEntry(p, (entry as { type?: string }).type),
    });
  } catch (e) {
    throw damaged(file, e instanceof Error ? e.message : String(e));
  }
  for (const x of m.members) {
    let data: Buffer;
    try {
      data = await readFile(join(dir, ...x.path.split("/")));
    } catch {
      throw damaged(file, `member ${x.path} is missing`);
    }
    if (data.length !== x.size || sha256(data) !== x.sha256)
      throw damaged(file, `member ${x.path} changed while it was unpacked`);
  }
  const listed = new Set(m.members.map((x) => x.path));
  for (const p of await listFiles(dir))
    if (p !== MANIFEST && p !== MANIFEST_HASH && !listed.has(p))
      throw damaged(file, `member ${p.replace(/^!/, "")} is not in the manifest`);
  return m;
}
