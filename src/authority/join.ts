/**
 * Joining an instance (issue 18): what a new machine needs from the shared database and
 * from what the security admin carries (CA exports, the passphrase), checked before any
 * file of the new home is written, and the audit record of the join. The home itself is
 * written by app/join.ts; this file reads the store and the export folders only.
 */
import { X509Certificate } from "node:crypto";
import { join, resolve } from "node:path";
import { SigilError, ErrorCodes } from "../errors.js";
import type { CaRecord, Store } from "../store/types.js";
import { parseFileKeyRef } from "../keys/file-keystore.js";
import { parsePemBlocks } from "../x509/der.js";
import { sha256 } from "./common.js";
import { readExportManifest, readOrNull } from "./custody.js";
import { isOfflineKeyRef } from "./offline-key.js";

/** A CA key the joining home gets: the export's encrypted key file, under the name its keyRef expects. */
export interface JoinKey {
  ca: string;
  /** The key file's name in `keys/` (`NAME.key.pem` of keyRef `file:NAME`). */
  fileName: string;
  /** The encrypted key file, byte for byte as exported. */
  bytes: Buffer;
  /** The export folder it came from. */
  from: string;
  keySha256: string;
  /** The CA's public key (DER SubjectPublicKeyInfo), which the key must match. */
  caSpki: Buffer;
}

/** What a join installs and what it leaves out. */
export interface JoinPlan {
  /** The CA keys installed from the exports given. */
  keys: JoinKey[];
  /** Online CAs whose key file stays off this machine (no export given): it starts sealed. */
  missing: string[];
  /** CAs whose key is in a PKCS#11 token: the token must be configured on this machine. */
  hsm: string[];
  /** The database's audit key (DER SubjectPublicKeyInfo), if it has one. */
  auditSpki: Buffer | undefined;
}

/** The DER SubjectPublicKeyInfo of a certificate. */
function spkiOf(certDer: Buffer): Buffer {
  return new X509Certificate(certDer).publicKey.export({ format: "der", type: "spki" });
}

/**
 * Reads the export folder `dir` (`sigil ca export NAME --out DIR`: manifest.json, NAME.crt.pem,
 * NAME.key.pem) and matches it to its CA in `cas`: the export's certificate must carry the
 * CA's public key, and the key file the manifest's hash. Any mismatch: one-line BAD_INPUT.
 */
async function readJoinExport(cas: CaRecord[], dir: string): Promise<JoinKey> {
  const m = await readExportManifest(dir);
  const ca = cas.find((c) => c.name === m.ca);
  if (!ca)
    throw new SigilError(
      ErrorCodes.CA_NOT_FOUND,
      `${dir} holds an export of CA ${m.ca}, which the database does not have`,
    );
  const certPem = await readOrNull(join(dir, `${ca.name}.crt.pem`));
  const certDer = certPem ? parsePemBlocks(certPem.toString("utf8"))[0]?.der : undefined;
  if (!certDer) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${dir}/${ca.name}.crt.pem is missing`);
  const caSpki = spkiOf(ca.certDer);
  let same = false;
  try {
    same = spkiOf(certDer).equals(caSpki);
  } catch {
    throw new SigilError(ErrorCodes.BAD_INPUT, `${dir}/${ca.name}.crt.pem is not a certificate`);
  }
  if (!same)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${dir} holds a key of CA ${ca.name} that is not the database's (the certificates' public keys differ); nothing written`,
    );
  const keyPath = join(dir, `${ca.name}.key.pem`);
  const bytes = await readOrNull(keyPath);
  if (!bytes) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${keyPath} is missing`);
  const keySha256 = sha256(bytes);
  if (keySha256 !== m.keySha256)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${keyPath} does not match manifest.json (damaged or replaced)`,
    );
  if (isOfflineKeyRef(ca.keyRef))
    throw new SigilError(
      ErrorCodes.KEY_OFFLINE,
      `CA ${ca.name} is offline in the database: its key stays off every instance ('sigil key restore ${ca.name} --from DIR' puts it back online)`,
    );
  if (!ca.keyRef.startsWith("file:"))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `CA ${ca.name}'s key is not a file key (${ca.keyRef.split(":")[0]}:): its export is not used; configure the token on this machine`,
    );
  return {
    ca: ca.name,
    fileName: `${parseFileKeyRef(ca.keyRef)}.key.pem`,
    bytes,
    from: dir,
    keySha256,
    caSpki,
  };
}

/**
 * Checks the database and the exports for a join: the database must hold Sigil data (a CA);
 * each export must match its CA (see {@link readJoinExport}), one export per CA. Reads only.
 */
export async function planJoin(
  store: Pick<Store, "listCas" | "auditKeys">,
  exportDirs: string[],
): Promise<JoinPlan> {
  const cas = await store.listCas();
  if (cas.length === 0)
    throw new SigilError(
      ErrorCodes.CONFIG,
      "the database holds no CA: it is not a Sigil database to join (run 'sigil init' on the first instance)",
    );
  const keys: JoinKey[] = [];
  for (const d of exportDirs) {
    const k = await readJoinExport(cas, resolve(d));
    if (keys.some((x) => x.ca === k.ca))
      throw new SigilError(ErrorCodes.USAGE, `CA ${k.ca} is given twice (--ca-export ${d})`);
    keys.push(k);
  }
  const online = cas.filter((c) => c.keyRef.startsWith("file:"));
  return {
    keys,
    missing: online.filter((c) => !keys.some((k) => k.ca === c.name)).map((c) => c.name),
    hsm: cas.filter((c) => c.keyRef.startsWith("pkcs11:")).map((c) => c.name),
    auditSpki: (await store.auditKeys())[0]?.spki,
  };
}

/** What the audit record of a join says. */
export interface JoinRecord {
  /** The instance's name (sigil.json serve.instanceName), or null: the default. */
  name: string | null;
  /** The new home folder. */
  home: string;
  /** The CA keys installed, and whether the passphrase was proved on them. */
  keys: { ca: string; keySha256: string }[];
  passphraseChecked: boolean;
  missing: string[];
  tokenKey: boolean;
  /** Where the audit pin came from: the security admin's copy, or the database (trust on first use). */
  auditPin: "given" | "database" | "none";
  auditKeyId: string | null;
}

/** Records a join (audit `instance.join`), in one transaction. */
export async function recordJoin(
  store: Pick<Store, "transaction">,
  d: { actor: string; clock: () => number },
  r: JoinRecord,
): Promise<void> {
  const { home, name, ...details } = r;
  await store.transaction((tx) =>
    tx.appendAudit({
      at: d.clock(),
      actor: d.actor,
      action: "instance.join",
      target: name ?? home,
      details: { home, name, ...details },
    }),
  );
}
