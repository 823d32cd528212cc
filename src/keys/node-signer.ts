/**
 * A {@link Signer} over a Node.js private {@link KeyObject} (software keys: `file:` keyRefs).
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from "node:crypto";
import { SigilError, ErrorCodes } from "../errors.js";
import { signatureAlgorithmFor, type SignatureAlgorithm } from "../asn1/signature-algorithms.js";
import type { KeyType, Signer } from "./types.js";

/** The signature algorithm a key type signs with (one table, in asn1/signature-algorithms.ts). */
export type SignerAlgorithm = SignatureAlgorithm;

/**
 * The signature algorithm Sigil uses for `keyType`: sha256WithRSAEncryption for every RSA
 * size, ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for P-384, Ed25519 for Ed25519
 * (RFC 5280 §4.1.1.2; RFC 4055 §5, RFC 5758 §3.2, RFC 8410 §3).
 */
export const signerAlgorithm = (keyType: KeyType): SignerAlgorithm => signatureAlgorithmFor(keyType);

/**
 * The {@link KeyType} of a public or private key. Keys Sigil does not support (RSA sizes
 * other than 2048/3072/4096, other curves, Ed448, DSA, RSA-PSS-only keys) throw SigilError
 * WEAK_KEY.
 */
export function keyTypeOf(key: KeyObject): KeyType {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const bits = details.modulusLength;
      if (bits === 2048) return "rsa2048";
      if (bits === 3072) return "rsa3072";
      if (bits === 4096) return "rsa4096";
      throw new SigilError(ErrorCodes.WEAK_KEY, `unsupported RSA key size ${String(bits)} bits`);
    }
    case "ec": {
      if (details.namedCurve === "prime256v1") return "p256";
      if (details.namedCurve === "secp384r1") return "p384";
      throw new SigilError(ErrorCodes.WEAK_KEY, `unsupported EC curve ${String(details.namedCurve)}`);
    }
    case "ed25519":
      return "ed25519";
    default:
      throw new SigilError(ErrorCodes.WEAK_KEY, `unsupported key type ${String(key.asymmetricKeyType)}`);
  }
}

/**
 * Signs with a private {@link KeyObject} held in memory. `sign` runs `crypto.sign`
 * synchronously on the reused KeyObject: one call per signature, no key re-parsing.
 */
export class NodeSigner implements Signer {
  /** The key's type. */
  readonly keyType: KeyType;
  /** DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7). */
  readonly spki: Buffer;
  /** DER AlgorithmIdentifier of the signatures made (RFC 5280 §4.1.1.2). */
  readonly algorithmIdentifier: Buffer;
  readonly #key: KeyObject;
  readonly #hash: string | null;

  /**
   * @param privateKey a private KeyObject.
   * @param keyType the expected type; when given it must match the key (else SigilError WEAK_KEY).
   */
  constructor(privateKey: KeyObject, keyType?: KeyType) {
    if (privateKey.type !== "private") throw new TypeError("NodeSigner needs a private key");
    const actual = keyTypeOf(privateKey);
    if (keyType !== undefined && keyType !== actual)
      throw new SigilError(ErrorCodes.WEAK_KEY, `key is ${actual}, expected ${keyType}`);
    this.keyType = actual;
    this.#key = privateKey;
    const alg = signerAlgorithm(actual);
    this.algorithmIdentifier = alg.der;
    this.#hash = alg.hash;
    this.spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  }

  /**
   * Signs `data`: RSASSA-PKCS1-v1_5 (RFC 8017 §8.2), ECDSA with a DER Ecdsa-Sig-Value
   * (RFC 5480 / RFC 3279 §2.2.3), or PureEdDSA (RFC 8032 §5.1).
   */
  sign(data: Buffer): Promise<Buffer> {
    // The callback form runs on libuv's thread pool, so concurrent signatures (a batch)
    // use every core while the caller's thread builds the next certificate.
    return new Promise((resolve, reject) =>
      cryptoSign(this.#hash, data, this.#key, (err, sig) => (err ? reject(err) : resolve(sig))),
    );
  }
}
