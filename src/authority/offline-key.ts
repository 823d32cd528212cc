/**
 * Offline CA keys: a CA whose keyRef is `offline:NAME` has no key in the online store; an
 * operation that needs it takes the exported key file (`--key-file`), decrypted with the
 * home passphrase and checked against the CA certificate's public key.
 */
import { readFile } from "node:fs/promises";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import { NodeSigner } from "../keys/node-signer.js";
import { readPrivateKeyPem } from "../keys/pkcs8.js";
import type { Signer } from "../keys/types.js";
import type { CaRecord } from "../store/types.js";
import { parseCertificate } from "../x509/cert-reader.js";

/** The keyRef scheme of a CA whose key was taken offline. */
export const OFFLINE_KEYREF_SCHEME = "offline:";

/** True when the CA's key is not in the online store. */
export function isOfflineKeyRef(keyRef: string): boolean {
  return keyRef.startsWith(OFFLINE_KEYREF_SCHEME);
}

/** The error for an operation on an offline CA without its key file. */
export function keyOfflineError(ca: CaRecord): SigilError {
  return new SigilError(
    ErrorCodes.KEY_OFFLINE,
    `CA ${ca.name} is offline: give --key-file with its exported key (e.g. /media/safe1/${ca.name}/${ca.name}.key.pem)`,
    { details: { ca: ca.name } },
  );
}

/**
 * Opens the CA key in `path` (encrypted PKCS#8, RFC 5958 §3) with `passphrase` and checks
 * that its public key is the one in the CA certificate (RFC 5280 §4.1.2.7). Errors:
 * FILE_NOT_FOUND, WRONG_PASSPHRASE, BAD_INPUT "the key in FILE is not CA NAME's key".
 */
export async function openCaKeyFile(ca: CaRecord, path: string, passphrase: Buffer): Promise<Signer> {
  let pem: string;
  try {
    pem = await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `key file ${path} not found`);
    throw new SigilError(ErrorCodes.BAD_INPUT, `key file ${path} cannot be read (${code ?? "error"})`);
  }
  let signer: Signer;
  try {
    signer = new NodeSigner(await readPrivateKeyPem(pem, passphrase, path));
  } catch (e) {
    if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
      throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong passphrase for the key in ${path}`);
    if (isSigilError(e)) throw e; // names the file
    throw new SigilError(ErrorCodes.BAD_INPUT, `key file ${path} holds no private key Sigil can read`);
  }
  if (!signer.spki.equals(parseCertificate(ca.certDer).spki))
    throw new SigilError(ErrorCodes.BAD_INPUT, `the key in ${path} is not CA ${ca.name}'s key`);
  return signer;
}
