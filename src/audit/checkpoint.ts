/**
 * Signed checkpoints of the audit log, pure (no I/O, no clock). A checkpoint is the Merkle
 * tree head (RFC 9162 §2.1.1) of the first `treeSize` events, whose leaves are the events'
 * chain hashes (audit/chain.ts: each covers its event's canonical form and every event
 * before it), signed by the audit key. The signed text (one line per field, `\n` after
 * each) is:
 *
 * ```
 * sigil-audit-checkpoint/v1
 * <treeSize, decimal>
 * <rootHash, 64 lowercase hex>
 * <at, epoch milliseconds, decimal>
 * ```
 *
 * The signature is over those bytes: ECDSA P-256 with SHA-256 (DER Ecdsa-Sig-Value), or
 * Ed25519 for an Ed25519 key; `openssl dgst -sha256 -verify key.pem -signature sig` checks a
 * P-256 one. A verifier trusts only a key pinned outside the database (sigil.json
 * `audit.publicKey`, or the auditor's own copy of `audit/audit-key.pem`).
 */
import { createHash, createPublicKey, verify } from "node:crypto";
import type { AuditCheckpoint } from "../store/types.js";
import { leafHashOfHex } from "./merkle.js";

/** The first line of a checkpoint's signed text: its format and version. */
export const CHECKPOINT_FORMAT = "sigil-audit-checkpoint/v1";

/** The fields of a checkpoint its signature covers. */
export type CheckpointHead = Pick<AuditCheckpoint, "treeSize" | "rootHash" | "at">;

/** The bytes a checkpoint's signature covers. */
export function checkpointText(h: CheckpointHead): Buffer {
  return Buffer.from(`${CHECKPOINT_FORMAT}\n${h.treeSize}\n${h.rootHash}\n${h.at}\n`, "utf8");
}

/** The id of an audit key: hex SHA-256 of its DER SubjectPublicKeyInfo. */
export function auditKeyId(spki: Buffer): string {
  return createHash("sha256").update(spki).digest("hex");
}

/** The Merkle leaf of an event: RFC 9162 §2.1.1 leaf hash of its 32-byte chain hash. */
export function eventLeaf(hashHex: string): Buffer {
  return leafHashOfHex(hashHex);
}

/** True when `cp`'s signature verifies under the DER SubjectPublicKeyInfo `spki` and names its key id. */
export function checkpointSignedBy(cp: AuditCheckpoint, spki: Buffer): boolean {
  if (cp.keyId !== auditKeyId(spki)) return false;
  if (!/^[0-9a-f]{64}$/.test(cp.rootHash) || !Number.isSafeInteger(cp.treeSize) || cp.treeSize < 0)
    return false;
  try {
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    const alg = key.asymmetricKeyType === "ed25519" || key.asymmetricKeyType === "ed448" ? null : "sha256";
    return verify(alg, checkpointText(cp), key, Buffer.from(cp.signature, "base64"));
  } catch {
    return false;
  }
}

/** The PEM of a DER SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`). */
export function spkiPem(spki: Buffer): string {
  const b64 = spki.toString("base64").replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN PUBLIC KEY-----\n${b64}-----END PUBLIC KEY-----\n`;
}

/**
 * A pinned audit key as written in sigil.json (base64 DER) or a PEM file: its DER
 * SubjectPublicKeyInfo. Throws a one-line Error when it is neither.
 */
export function parsePinnedKey(text: string): Buffer {
  const t = text.trim();
  try {
    const key = t.startsWith("-----BEGIN")
      ? createPublicKey({ key: t, format: "pem" })
      : createPublicKey({ key: Buffer.from(t, "base64"), format: "der", type: "spki" });
    return key.export({ format: "der", type: "spki" });
  } catch {
    throw new Error("not a public key (PEM, or base64 DER SubjectPublicKeyInfo)");
  }
}

/** A checkpoint as one JSON line (the checkpoint file, the witness, the export). */
export function checkpointJson(cp: AuditCheckpoint): string {
  const { treeSize, rootHash, at, keyId, signature } = cp;
  return JSON.stringify({ treeSize, rootHash, at, keyId, signature });
}

/** Reads a checkpoint from parsed JSON; throws a one-line Error naming what is missing. */
export function checkpointFromJson(v: unknown): AuditCheckpoint {
  const o = (v ?? {}) as Record<string, unknown>;
  const { treeSize, rootHash, at, keyId, signature } = o;
  if (
    typeof treeSize !== "number" ||
    typeof rootHash !== "string" ||
    typeof at !== "number" ||
    typeof keyId !== "string" ||
    typeof signature !== "string"
  )
    throw new Error("not a checkpoint (treeSize, rootHash, at, keyId, signature)");
  return { treeSize, rootHash, at, keyId, signature };
}
