/**
 * The `file:` key store: each key is an encrypted PKCS#8 PEM file (see pkcs8.ts) at
 * `DIR/NAME.key.pem`, mode 0600, in a directory of mode 0700. Files are written atomically
 * (temporary file, fsync, link/rename, directory fsync; see files/output.ts): a crash never
 * leaves a partial key.
 */
import type { KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SigilError, ErrorCodes } from "../errors.js";
import { syncDir as syncFolder, writeOutput } from "../files/output.js";
import { generateKeyPairAsync } from "./generate.js";
import { NodeSigner } from "./node-signer.js";
import {
  encryptPkcs8,
  readPrivateKeyPem,
  checkIterations,
  DEFAULT_PBKDF2_ITERATIONS,
  type EncryptPkcs8Options,
} from "./pkcs8.js";
import { checkKeyName, keyFileName } from "./key-name.js";
import type { KeyStore, KeyType, Signer } from "./types.js";

export { checkKeyName, KEY_NAME_PATTERN } from "./key-name.js";

/** The keyRef URI scheme of this store. */
export const FILE_KEYREF_SCHEME = "file:";

/** The keyRef for key `name` (`file:NAME`); throws BAD_INPUT for an unsafe name. */
export function fileKeyRef(name: string): string {
  checkKeyName(name);
  return FILE_KEYREF_SCHEME + name;
}

/** The key name inside a `file:NAME` keyRef; throws SigilError BAD_INPUT for anything else. */
export function parseFileKeyRef(keyRef: string): string {
  if (!keyRef.startsWith(FILE_KEYREF_SCHEME))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `key reference ${JSON.stringify(keyRef)} is not a file: reference`,
    );
  const name = keyRef.slice(FILE_KEYREF_SCHEME.length);
  checkKeyName(name);
  return name;
}

/** Options for {@link FileKeyStore}. */
export interface FileKeyStoreOptions {
  /** PBKDF2 iterations for new keys (default and minimum {@link DEFAULT_PBKDF2_ITERATIONS}). */
  pbkdf2Iterations?: number;
  /** Allows fewer iterations than the minimum. Tests only. */
  insecureAllowLowIterations?: boolean;
}

/** Options for {@link writeSecretFile} and {@link writePublicFile}. */
export interface WriteFileOptions {
  /** Replace an existing file (atomically). Default false: SigilError FILE_EXISTS. */
  overwrite?: boolean;
  /**
   * fsync the file and its folder before returning (default true). Batch writers of files
   * that can be re-created from the store (issued certificates) pass false and call
   * {@link syncDir} once at the end; the rename stays atomic either way.
   */
  durable?: boolean;
}

/** fsyncs a folder, making renames into it durable (after non-durable batch writes). */
export const syncDir = syncFolder;

/** True when `path` exists (ENOENT: false; other errors are thrown). */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/**
 * Writes a secret (a private key, a passphrase file) atomically with mode 0600. Refuses to
 * replace an existing file (SigilError FILE_EXISTS) unless `overwrite`; never renames over
 * a device, FIFO or folder (the rule of files/output.ts).
 */
export async function writeSecretFile(
  path: string,
  data: string | Buffer,
  opts: WriteFileOptions = {},
): Promise<void> {
  await writeOutput(path, data, { ...opts, mode: 0o600 });
}

/**
 * Writes a public file (certificate, request, CRL) atomically with mode 0644. Refuses to
 * replace an existing file (SigilError FILE_EXISTS) unless `overwrite`; never renames over
 * a device, FIFO or folder (the rule of files/output.ts).
 */
export async function writePublicFile(
  path: string,
  data: string | Buffer,
  opts: WriteFileOptions = {},
): Promise<void> {
  await writeOutput(path, data, { ...opts, mode: 0o644 });
}

/**
 * Keys as passphrase-encrypted PKCS#8 files (RFC 5958 §3, PBES2 per RFC 8018 §6.2).
 * keyRefs are `file:NAME`; the file is `DIR/NAME.key.pem`.
 */
export class FileKeyStore implements KeyStore {
  readonly #dir: string;
  readonly #iterations: number;
  readonly #insecure: boolean;

  /**
   * @param dir the key directory; created with mode 0700 on first write (and tightened to
   *   0700 if it exists with a looser mode).
   */
  constructor(dir: string, opts: FileKeyStoreOptions = {}) {
    this.#dir = dir;
    this.#insecure = opts.insecureAllowLowIterations === true;
    this.#iterations = checkIterations(opts.pbkdf2Iterations ?? DEFAULT_PBKDF2_ITERATIONS, this.#insecure);
  }

  /** The key directory. */
  get dir(): string {
    return this.#dir;
  }

  /** The file holding key `name`. */
  pathOf(name: string): string {
    return join(this.#dir, keyFileName(name));
  }

  /** Creates the directory with mode 0700, or tightens an existing one to 0700. */
  async ensureDir(): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.#dir);
    if ((st.mode & 0o777) !== 0o700) await chmod(this.#dir, 0o700);
  }

  /**
   * Generates a `keyType` key, encrypts it under `passphrase` and stores it as `name`.
   * Returns `file:NAME`. An existing key: SigilError FILE_EXISTS (checked before the
   * possibly slow key generation, and again atomically on write). Empty passphrase: BAD_INPUT.
   */
  async generate(name: string, keyType: KeyType, passphrase: Buffer): Promise<string> {
    const path = this.pathOf(name);
    checkNewPassphrase(passphrase);
    if (await exists(path)) throw new SigilError(ErrorCodes.FILE_EXISTS, `key ${name} already exists`);
    const { privateKey } = await generateKeyPairAsync(keyType);
    return this.importKey(name, privateKey, passphrase);
  }

  /** Stores an existing private key as `name`, encrypted under `passphrase`. Returns `file:NAME`. */
  async importKey(name: string, privateKey: KeyObject, passphrase: Buffer): Promise<string> {
    const path = this.pathOf(name);
    const pem = await sealPrivateKey(privateKey, passphrase, {
      iterations: this.#iterations,
      insecureAllowLowIterations: this.#insecure,
    });
    await this.ensureDir();
    try {
      await writeSecretFile(path, pem);
    } catch (e) {
      if (e instanceof SigilError && e.code === ErrorCodes.FILE_EXISTS)
        throw new SigilError(ErrorCodes.FILE_EXISTS, `key ${name} already exists`);
      throw e;
    }
    return FILE_KEYREF_SCHEME + name;
  }

  /**
   * Decrypts the key behind `keyRef` and returns a {@link NodeSigner}. Missing key:
   * KEY_NOT_FOUND; wrong passphrase: WRONG_PASSPHRASE "wrong passphrase for key NAME".
   */
  async open(keyRef: string, passphrase: Buffer): Promise<Signer> {
    const name = parseFileKeyRef(keyRef);
    let pem: string;
    try {
      pem = await readFile(this.pathOf(name), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        throw new SigilError(ErrorCodes.KEY_NOT_FOUND, `key ${name} not found`);
      throw e;
    }
    return openSealedKey(pem, passphrase, name);
  }

  /** True when the key file exists. */
  async exists(keyRef: string): Promise<boolean> {
    return exists(this.pathOf(parseFileKeyRef(keyRef)));
  }

  /** File keys are encrypted under the CA key passphrase. */
  needsPassphrase(_keyRef?: string): boolean {
    return true;
  }

  /** Deletes the key file; a key that is already gone is not an error (rollback is idempotent). */
  async remove(keyRef: string): Promise<void> {
    try {
      await unlink(this.pathOf(parseFileKeyRef(keyRef)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
  }
}

/**
 * A new private key as Sigil keeps it at rest, in a file (this store) or in the database
 * (store-keystore.ts): PEM "ENCRYPTED PRIVATE KEY" under `passphrase` (pkcs8.ts). Empty
 * passphrase: BAD_INPUT.
 */
export async function sealPrivateKey(
  privateKey: KeyObject,
  passphrase: Buffer,
  opts: EncryptPkcs8Options,
): Promise<string> {
  checkNewPassphrase(passphrase);
  return encryptPkcs8(privateKey, passphrase, opts);
}

/**
 * Opens a key kept as {@link sealPrivateKey} wrote it, for signing. Wrong passphrase:
 * WRONG_PASSPHRASE "wrong passphrase for key NAME".
 */
export async function openSealedKey(pem: string, passphrase: Buffer, name: string): Promise<Signer> {
  return new NodeSigner(await readPrivateKeyPem(pem, passphrase, name));
}

/** Throws SigilError BAD_INPUT for an empty passphrase (a new key must be encrypted). */
export function checkNewPassphrase(passphrase: Buffer): void {
  if (passphrase.length === 0)
    throw new SigilError(ErrorCodes.BAD_INPUT, "an empty passphrase is not allowed for a new key");
}
