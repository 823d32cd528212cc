/**
 * Custody of a browser-made private key until its certificate is issued: the PKCS#8 bytes
 * are encrypted at once under the user's password (PBKDF2-SHA256, 600 000 iterations, then
 * AES-256-GCM, all WebCrypto) and only that blob is kept (IndexedDB) or saved by the user.
 */
import { buf, fromBase64, toBase64 } from "./pem";

export const KDF_ITERATIONS = 600_000;

export interface SealedKey {
  format: "sigil-sealed-key";
  version: 1;
  /** The portal request the key belongs to (filled in once known). */
  requestId?: string;
  alg: string;
  kdf: { name: "PBKDF2"; hash: "SHA-256"; iterations: number; salt: string };
  cipher: { name: "AES-GCM"; iv: string };
  data: string;
}

async function deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveKey",
  ]);
  return crypto.subtle.deriveKey(
    { name: "PBKDF2", hash: "SHA-256", salt: buf(salt), iterations },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Exports the private key once as PKCS#8 and returns it encrypted; keeps no plaintext. */
export async function sealPrivateKey(
  privateKey: CryptoKey,
  password: string,
  alg: string,
  iterations = KDF_ITERATIONS,
): Promise<SealedKey> {
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
  try {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const key = await deriveKey(password, salt, iterations);
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv: buf(iv) }, key, buf(pkcs8)));
    return {
      format: "sigil-sealed-key",
      version: 1,
      alg,
      kdf: { name: "PBKDF2", hash: "SHA-256", iterations, salt: toBase64(salt) },
      cipher: { name: "AES-GCM", iv: toBase64(iv) },
      data: toBase64(ct),
    };
  } finally {
    pkcs8.fill(0);
  }
}

/** The PKCS#8 DER of a sealed key; throws "wrong password" when GCM's tag does not check. */
export async function openSealedKey(sealed: SealedKey, password: string): Promise<Uint8Array> {
  if (sealed.format !== "sigil-sealed-key" || sealed.version !== 1) throw new Error("not a Sigil key file");
  const key = await deriveKey(password, fromBase64(sealed.kdf.salt), sealed.kdf.iterations);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: buf(fromBase64(sealed.cipher.iv)) },
        key,
        buf(fromBase64(sealed.data)),
      ),
    );
  } catch {
    throw new Error("wrong password, or the key file is damaged");
  }
}

/** Parses a saved key file, or throws a one-line reason. */
export function parseSealedKey(text: string): SealedKey {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error("not a Sigil key file (not JSON)");
  }
  const s = v as SealedKey;
  if (!s || s.format !== "sigil-sealed-key" || typeof s.data !== "string")
    throw new Error("not a Sigil key file");
  return s;
}
