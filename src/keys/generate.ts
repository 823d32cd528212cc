/**
 * Key pair generation for the key types Sigil supports ({@link KeyType}).
 *
 * RSA keys use the public exponent 65537 (RFC 8017 §3.1 allows any odd e; 65537 is the
 * universal choice), EC keys the NIST curves P-256 / P-384 (RFC 5480 §2.1.1.1), and Ed25519
 * keys follow RFC 8410.
 */
import { generateKeyPair as generateKeyPairCb, generateKeyPairSync, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { KeyType } from "./types.js";

const generateKeyPairAsyncImpl = promisify(generateKeyPairCb);

/** A freshly generated key pair. */
export interface GeneratedKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** RSA modulus length in bits for an RSA {@link KeyType}, or undefined for other types. */
export function rsaBits(keyType: KeyType): number | undefined {
  switch (keyType) {
    case "rsa2048":
      return 2048;
    case "rsa3072":
      return 3072;
    case "rsa4096":
      return 4096;
    default:
      return undefined;
  }
}

/** OpenSSL curve name for an EC {@link KeyType}, or undefined for other types. */
export function ecCurve(keyType: KeyType): "prime256v1" | "secp384r1" | undefined {
  if (keyType === "p256") return "prime256v1";
  if (keyType === "p384") return "secp384r1";
  return undefined;
}

/**
 * Generates a key pair synchronously. RSA-4096 can take a second or more: prefer
 * {@link generateKeyPairAsync} on a server.
 */
export function generateKeyPair(keyType: KeyType): GeneratedKeyPair {
  const bits = rsaBits(keyType);
  if (bits !== undefined) return generateKeyPairSync("rsa", { modulusLength: bits, publicExponent: 0x10001 });
  const curve = ecCurve(keyType);
  if (curve !== undefined) return generateKeyPairSync("ec", { namedCurve: curve });
  if (keyType === "ed25519") return generateKeyPairSync("ed25519");
  throw new RangeError(`unknown key type ${String(keyType)}`);
}

/** Generates a key pair on libuv's thread pool, so the event loop keeps running. */
export async function generateKeyPairAsync(keyType: KeyType): Promise<GeneratedKeyPair> {
  const bits = rsaBits(keyType);
  if (bits !== undefined)
    return generateKeyPairAsyncImpl("rsa", { modulusLength: bits, publicExponent: 0x10001 });
  const curve = ecCurve(keyType);
  if (curve !== undefined) return generateKeyPairAsyncImpl("ec", { namedCurve: curve });
  if (keyType === "ed25519") return generateKeyPairAsyncImpl("ed25519", {});
  throw new RangeError(`unknown key type ${String(keyType)}`);
}
