/**
 * The `store:` key store: keys the service makes for itself (OCSP responder keys, the audit
 * signing key) kept in the shared database instead of one home's `keys/` folder, so every
 * instance on that database (several machines, no shared folder) can open them once
 * unsealed. Each key is kept exactly as the file store keeps it: PEM "ENCRYPTED PRIVATE KEY"
 * (PBES2, pkcs8.ts) under the home passphrase, written and opened by the same code
 * (file-keystore.ts {@link sealPrivateKey}, {@link openSealedKey}). The database never holds
 * a key in the clear: reading a row gives what reading a key file gives.
 *
 * keys/ does not import store/: the records are reached through the {@link SealedKeyRecords}
 * port, which the composition root (app/open.ts) implements over the store.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import { checkKeyName, checkNewPassphrase, openSealedKey, sealPrivateKey } from "./file-keystore.js";
import { generateKeyPairAsync } from "./generate.js";
import { checkIterations, DEFAULT_PBKDF2_ITERATIONS } from "./pkcs8.js";
import type { KeyStore, KeyType, Signer } from "./types.js";

/** The keyRef URI scheme of this store. */
export const STORE_KEYREF_SCHEME = "store:";

/** Where sealed keys are kept (the database: a store aggregate implements it). */
export interface SealedKeyRecords {
  /** The PEM of key `name`, if there is one. */
  get(name: string): Promise<string | undefined>;
  /** Keeps `pem` as key `name`; a name that is taken: SigilError FILE_EXISTS (never overwritten). */
  put(name: string, pem: string): Promise<void>;
  /** Deletes key `name`; one that is gone already is not an error. */
  remove(name: string): Promise<void>;
}

/** The keyRef for key `name` (`store:NAME`); throws BAD_INPUT for a bad name. */
export function storeKeyRef(name: string): string {
  checkKeyName(name);
  return STORE_KEYREF_SCHEME + name;
}

/** The key name inside a `store:NAME` keyRef; throws SigilError BAD_INPUT for anything else. */
export function parseStoreKeyRef(keyRef: string): string {
  if (!keyRef.startsWith(STORE_KEYREF_SCHEME))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `key reference ${JSON.stringify(keyRef)} is not a store: reference`,
    );
  const name = keyRef.slice(STORE_KEYREF_SCHEME.length);
  checkKeyName(name);
  return name;
}

/** Options for {@link StoreKeyStore}: as the file store's. */
export interface StoreKeyStoreOptions {
  /** PBKDF2 iterations for new keys (default and minimum {@link DEFAULT_PBKDF2_ITERATIONS}). */
  pbkdf2Iterations?: number;
  /** Allows fewer iterations than the minimum. Tests only. */
  insecureAllowLowIterations?: boolean;
}

/** Keys as passphrase-encrypted PKCS#8 PEM in the database (see the file comment). */
export class StoreKeyStore implements KeyStore {
  readonly #records: SealedKeyRecords;
  readonly #iterations: number;
  readonly #insecure: boolean;

  constructor(records: SealedKeyRecords, opts: StoreKeyStoreOptions = {}) {
    this.#records = records;
    this.#insecure = opts.insecureAllowLowIterations === true;
    this.#iterations = checkIterations(opts.pbkdf2Iterations ?? DEFAULT_PBKDF2_ITERATIONS, this.#insecure);
  }

  /**
   * Generates a `keyType` key, encrypts it under `passphrase` and keeps it as `name`.
   * Returns `store:NAME`. A name that is taken: SigilError FILE_EXISTS (checked before the
   * key is made, and again by the database's unique name). Empty passphrase: BAD_INPUT.
   */
  async generate(name: string, keyType: KeyType, passphrase: Buffer): Promise<string> {
    const keyRef = storeKeyRef(name);
    checkNewPassphrase(passphrase);
    if ((await this.#records.get(name)) !== undefined)
      throw new SigilError(ErrorCodes.FILE_EXISTS, `key ${name} already exists`);
    const { privateKey } = await generateKeyPairAsync(keyType);
    const pem = await sealPrivateKey(privateKey, passphrase, {
      iterations: this.#iterations,
      insecureAllowLowIterations: this.#insecure,
    });
    await this.#records.put(name, pem);
    return keyRef;
  }

  /**
   * Decrypts the key behind `keyRef` for signing. Missing: KEY_NOT_FOUND; wrong passphrase:
   * WRONG_PASSPHRASE "wrong passphrase for key NAME".
   */
  async open(keyRef: string, passphrase: Buffer): Promise<Signer> {
    const name = parseStoreKeyRef(keyRef);
    const pem = await this.#records.get(name);
    if (pem === undefined) throw new SigilError(ErrorCodes.KEY_NOT_FOUND, `key ${name} not found`);
    return openSealedKey(pem, passphrase, name);
  }

  /** True when the database holds the key. */
  async exists(keyRef: string): Promise<boolean> {
    return (await this.#records.get(parseStoreKeyRef(keyRef))) !== undefined;
  }

  /** Store keys are encrypted under the home passphrase, as file keys are. */
  needsPassphrase(_keyRef?: string): boolean {
    return true;
  }

  /** Deletes the key; one that is already gone is not an error. */
  async remove(keyRef: string): Promise<void> {
    await this.#records.remove(parseStoreKeyRef(keyRef));
  }
}
