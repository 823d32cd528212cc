/**
 * One {@link KeyStore} over the backends: keyRefs are dispatched by their URI scheme
 * (`file:` → encrypted files, `pkcs11:` → the configured token, `store:` → encrypted in the
 * database), new keys by `generate(..., { backend })`. The PKCS#11 store is created on first use only, so file-key
 * users never load a PKCS#11 module or need a PIN.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import { FILE_KEYREF_SCHEME, type FileKeyStore } from "./file-keystore.js";
import { PKCS11_KEYREF_SCHEME } from "./pkcs11-uri.js";
import type { Pkcs11KeyStore } from "./pkcs11-keystore.js";
import { STORE_KEYREF_SCHEME, type StoreKeyStore } from "./store-keystore.js";
import type { GenerateKeyOptions, KeyBackend, KeyStore, KeyType, Signer } from "./types.js";

/**
 * The backend a keyRef belongs to, by its scheme (`file:`, `pkcs11:` (RFC 7512 §3) or `store:`).
 * Anything else: SigilError BAD_INPUT.
 */
export function keyBackendOf(keyRef: string): KeyBackend {
  if (keyRef.startsWith(FILE_KEYREF_SCHEME)) return "file";
  if (keyRef.startsWith(PKCS11_KEYREF_SCHEME)) return "pkcs11";
  if (keyRef.startsWith(STORE_KEYREF_SCHEME)) return "store";
  throw new SigilError(
    ErrorCodes.BAD_INPUT,
    `key reference ${JSON.stringify(keyRef)} has an unknown scheme (expected file:, pkcs11: or store:)`,
  );
}

/** Backends of a {@link KeyRouter}. */
export interface KeyRouterBackends {
  file: FileKeyStore;
  /** Makes the PKCS#11 store; absent when sigil.json has no `pkcs11` section. Called at most once. */
  pkcs11?: () => Pkcs11KeyStore;
  /** Keys encrypted in the database; absent: `store:` keys are refused (SigilError CONFIG). */
  store?: StoreKeyStore;
}

/** Routes each key operation to the backend of its keyRef (see the file comment). */
export class KeyRouter implements KeyStore {
  readonly #file: FileKeyStore;
  readonly #makePkcs11: (() => Pkcs11KeyStore) | undefined;
  #pkcs11: Pkcs11KeyStore | undefined;
  readonly #storeKeys: StoreKeyStore | undefined;

  constructor(backends: KeyRouterBackends) {
    this.#file = backends.file;
    this.#makePkcs11 = backends.pkcs11;
    this.#storeKeys = backends.store;
  }

  /** The file store. */
  get file(): FileKeyStore {
    return this.#file;
  }

  /** The PKCS#11 store, made now if needed; no `pkcs11` config: SigilError CONFIG. */
  pkcs11(): Pkcs11KeyStore {
    if (!this.#pkcs11) {
      if (!this.#makePkcs11)
        throw new SigilError(
          ErrorCodes.CONFIG,
          'PKCS#11 keys need a "pkcs11" section in sigil.json (module, token, pinFile or pinEnv)',
        );
      this.#pkcs11 = this.#makePkcs11();
    }
    return this.#pkcs11;
  }

  #store(backend: KeyBackend): KeyStore {
    if (backend === "pkcs11") return this.pkcs11();
    if (backend === "store") {
      if (!this.#storeKeys)
        throw new SigilError(ErrorCodes.CONFIG, "keys in the database (store:) are not available here");
      return this.#storeKeys;
    }
    return this.#file;
  }

  #of(keyRef: string): KeyStore {
    return this.#store(keyBackendOf(keyRef));
  }

  /** Generates in `opts.backend` (default file). */
  async generate(
    name: string,
    keyType: KeyType,
    passphrase: Buffer,
    opts: GenerateKeyOptions = {},
  ): Promise<string> {
    return this.#store(opts.backend ?? "file").generate(name, keyType, passphrase);
  }

  async open(keyRef: string, passphrase: Buffer): Promise<Signer> {
    return this.#of(keyRef).open(keyRef, passphrase);
  }

  async exists(keyRef: string): Promise<boolean> {
    return this.#of(keyRef).exists(keyRef);
  }

  async remove(keyRef: string): Promise<void> {
    return this.#of(keyRef).remove(keyRef);
  }

  /** True for file and store keys; false for token keys (the PIN comes from config). Needs no PKCS#11 module. */
  needsPassphrase(keyRef: string): boolean {
    return keyBackendOf(keyRef) !== "pkcs11";
  }

  /** Closes the PKCS#11 session (logout, finalize) if one was opened. */
  async close(): Promise<void> {
    const p = this.#pkcs11;
    this.#pkcs11 = undefined;
    await p?.close();
  }
}
