/**
 * The audit signing key's pin outside the database: when the key is made (by `sigil init`,
 * `sigil audit checkpoint` or the first unsealed start of a home that has none), its public
 * key is written into sigil.json (`audit.publicKey`) and into `audit/audit-key.pem`, which
 * the security admin keeps a copy of. Verification trusts only the pin.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { auditKeyId, spkiPem } from "../audit/checkpoint.js";
import type { Authority } from "../authority/authority.js";
import { pinAuditKey } from "../config/load.js";
import type { HomePaths } from "./paths.js";

/** What {@link ensureAuditKey} did. */
export interface AuditKeyPin {
  /** A key was made now. */
  created: boolean;
  /** It was pinned now (sigil.json and the PEM file written). */
  pinned: boolean;
  keyId: string;
  pem: string;
  /** The PEM file. */
  file: string;
  /** The pinned key (DER): the database's key when pinned now, else the pin as it was. */
  spki: Buffer | undefined;
}

/**
 * Makes the audit key when there is none; pins it when nothing is pinned yet. A pin of
 * another key is left alone: signing then refuses until the security admin resolves it.
 */
export async function ensureAuditKey(
  paths: HomePaths,
  authority: Authority,
  pin: Buffer | undefined,
): Promise<AuditKeyPin> {
  const { key, created } = await authority.checkpoints.ensureKey();
  const pem = spkiPem(key.spki);
  if (pin !== undefined)
    return {
      created,
      pinned: false,
      keyId: auditKeyId(pin),
      pem: spkiPem(pin),
      file: paths.auditKeyPem,
      spki: pin,
    };
  await pinAuditKey(paths.home, key.spki.toString("base64"));
  await mkdir(paths.audit, { recursive: true, mode: 0o755 });
  await writeFile(paths.auditKeyPem, pem, { mode: 0o644 });
  return { created, pinned: true, keyId: key.keyId, pem, file: paths.auditKeyPem, spki: key.spki };
}
