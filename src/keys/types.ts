/**
 * Key custody interfaces. Everything that signs (certificates, CRLs, OCSP) goes through a
 * {@link Signer}; where the key lives is the {@link KeyStore}'s business, chosen by the
 * `keyRef` URI scheme (`file:NAME`, `pkcs11:token=T;object=NAME`, `store:NAME`).
 */

/** Key types Sigil creates and accepts for CAs. */
export type KeyType = "rsa2048" | "rsa3072" | "rsa4096" | "p256" | "p384" | "ed25519";

/** All key types, in the order shown in help texts. */
export const KEY_TYPES: readonly KeyType[] = ["rsa2048", "rsa3072", "rsa4096", "p256", "p384", "ed25519"];

/** Signs with one private key; the key itself is never exposed. */
export interface Signer {
  /** The key's type. */
  readonly keyType: KeyType;
  /** DER SubjectPublicKeyInfo of the key. */
  readonly spki: Buffer;
  /**
   * DER AlgorithmIdentifier of the signature this signer makes (RFC 5280 §4.1.1.2):
   * sha256WithRSAEncryption for RSA, ecdsa-with-SHA256 for P-256, ecdsa-with-SHA384 for
   * P-384, id-Ed25519 for Ed25519.
   */
  readonly algorithmIdentifier: Buffer;
  /** Signs `data`; returns the signature value as it goes in the BIT STRING (ECDSA: DER Ecdsa-Sig-Value). */
  sign(data: Buffer): Promise<Buffer>;
}

/**
 * Key backends: encrypted files (`file:`), a PKCS#11 token (`pkcs11:`), or encrypted in the
 * shared database (`store:`, for the keys the service makes for itself).
 */
export type KeyBackend = "file" | "pkcs11" | "store";

/** Options of {@link KeyStore.generate}. */
export interface GenerateKeyOptions {
  /** Where the new key is made (a {@link KeyStore} that routes between backends reads it); default file. */
  backend?: KeyBackend;
}

/** Where private keys live. */
export interface KeyStore {
  /**
   * Generates a new key named `name`, stores it, and returns its keyRef (`file:NAME`,
   * `pkcs11:token=T;object=NAME`, `store:NAME`). Backends that do not encrypt keys ignore `passphrase`.
   */
  generate(name: string, keyType: KeyType, passphrase: Buffer, opts?: GenerateKeyOptions): Promise<string>;
  /** Opens the key behind `keyRef` for signing. Wrong passphrase: SigilError WRONG_PASSPHRASE. */
  open(keyRef: string, passphrase: Buffer): Promise<Signer>;
  /** True when the key exists. */
  exists(keyRef: string): Promise<boolean>;
  /** Removes a key (used to roll back a CA creation that failed before commit). */
  remove(keyRef: string): Promise<void>;
  /**
   * False when the key behind `keyRef` is unlocked without a key passphrase (a PKCS#11
   * token's PIN); absent or true: {@link open} needs the passphrase.
   */
  needsPassphrase?(keyRef: string): boolean;
}
