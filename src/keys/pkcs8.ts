/**
 * Encrypted PKCS#8 (RFC 5958 §3 EncryptedPrivateKeyInfo) with PBES2 (RFC 8018 §6.2).
 *
 * Written: PBKDF2-HMAC-SHA256 (RFC 8018 §5.2, RFC 8018 App. B.1.2) with
 * {@link DEFAULT_PBKDF2_ITERATIONS} iterations and a 16-byte random salt, then
 * AES-256-CBC (RFC 8018 App. B.2.5 via NIST OIDs, RFC 3565) with a random IV.
 * Node's `KeyObject.export({cipher})` fixes PBKDF2 at 2048 iterations, so the structure is
 * built here with the DER writer.
 *
 * Read: PBES2 with PBKDF2 (PRF hmacWithSHA1/SHA256/SHA384/SHA512) or scrypt (RFC 7914 §7),
 * and AES-128/192/256-CBC. Unencrypted PKCS#8 and traditional ("RSA/EC PRIVATE KEY") PEM
 * are read by {@link readPrivateKeyPem}. Passphrases never appear in errors.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  pbkdf2 as pbkdf2Cb,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
  type KeyObject,
  type ScryptOptions,
} from "node:crypto";
import { promisify } from "node:util";
import { SigilError, ErrorCodes } from "../errors.js";
import {
  NULL,
  Tag,
  children,
  decodeInt,
  decodeOid,
  expectTag,
  intNum,
  octetString,
  oid,
  parsePemBlocks,
  readWhole,
  seq,
  toPem,
  type Node,
} from "../asn1/der.js";

const pbkdf2 = promisify(pbkdf2Cb);
const scrypt = promisify(scryptCb) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
) => Promise<Buffer>;

/** PBKDF2 iterations Sigil writes, and the least it accepts for new keys (OWASP 2023 for HMAC-SHA256). */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

/** Most PBKDF2 iterations accepted when reading, so a hostile file cannot stall the process. */
export const MAX_PBKDF2_ITERATIONS = 100_000_000;

/** PEM label of an EncryptedPrivateKeyInfo (RFC 7468 §11). */
export const ENCRYPTED_PRIVATE_KEY_LABEL = "ENCRYPTED PRIVATE KEY";

const OID_PBES2 = "1.2.840.113549.1.5.13";
const OID_PBKDF2 = "1.2.840.113549.1.5.12";
const OID_SCRYPT = "1.3.6.1.4.1.11591.4.11";

const PRFS: Record<string, "sha1" | "sha256" | "sha384" | "sha512"> = {
  "1.2.840.113549.2.7": "sha1", // hmacWithSHA1 (RFC 8018 App. B.1.1), the PBKDF2 default
  "1.2.840.113549.2.9": "sha256", // hmacWithSHA256 (RFC 8018 App. B.1.2)
  "1.2.840.113549.2.10": "sha384",
  "1.2.840.113549.2.11": "sha512",
};
const OID_HMAC_SHA256 = "1.2.840.113549.2.9";

const CIPHERS: Record<string, { name: string; keyLength: number }> = {
  "2.16.840.1.101.3.4.1.2": { name: "aes-128-cbc", keyLength: 16 },
  "2.16.840.1.101.3.4.1.22": { name: "aes-192-cbc", keyLength: 24 },
  "2.16.840.1.101.3.4.1.42": { name: "aes-256-cbc", keyLength: 32 },
};
const OID_AES256_CBC = "2.16.840.1.101.3.4.1.42";

/** Options for {@link encryptPkcs8}. */
export interface EncryptPkcs8Options {
  /** PBKDF2 iterations; default and minimum {@link DEFAULT_PBKDF2_ITERATIONS}. */
  iterations?: number;
  /**
   * Allows `iterations` below the minimum. For tests only: a key written so is weak.
   */
  insecureAllowLowIterations?: boolean;
}

/**
 * Checks a PBKDF2 iteration count for writing: a positive integer, at least
 * {@link DEFAULT_PBKDF2_ITERATIONS} unless `insecureAllowLow`. Throws SigilError CONFIG.
 */
export function checkIterations(iterations: number, insecureAllowLow = false): number {
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS)
    throw new SigilError(ErrorCodes.CONFIG, `bad PBKDF2 iteration count ${iterations}`);
  if (iterations < DEFAULT_PBKDF2_ITERATIONS && !insecureAllowLow)
    throw new SigilError(
      ErrorCodes.CONFIG,
      `PBKDF2 iteration count ${iterations} is below the minimum ${DEFAULT_PBKDF2_ITERATIONS}`,
    );
  return iterations;
}

/**
 * Encrypts a private key as PEM "ENCRYPTED PRIVATE KEY": PBES2 (RFC 8018 §6.2) with
 * PBKDF2-HMAC-SHA256 (16-byte random salt) and AES-256-CBC (random IV) over the key's
 * PKCS#8 PrivateKeyInfo (RFC 5958 §2). The KDF runs on the thread pool.
 */
export async function encryptPkcs8(
  privateKey: KeyObject,
  passphrase: Buffer,
  opts: EncryptPkcs8Options = {},
): Promise<string> {
  if (privateKey.type !== "private") throw new TypeError("encryptPkcs8 needs a private key");
  const iterations = checkIterations(
    opts.iterations ?? DEFAULT_PBKDF2_ITERATIONS,
    opts.insecureAllowLowIterations,
  );
  const plain = privateKey.export({ type: "pkcs8", format: "der" });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const key = await pbkdf2(passphrase, salt, iterations, 32, "sha256");
  let encrypted: Buffer;
  try {
    const cipher = createCipheriv("aes-256-cbc", key, iv);
    encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  } finally {
    key.fill(0);
    plain.fill(0);
  }
  // RFC 8018 App. A.2 PBKDF2-params: salt, iterationCount, keyLength OPTIONAL (omitted, as
  // OpenSSL does for AES), prf AlgorithmIdentifier {hmacWithSHA256, NULL}.
  const pbkdf2Params = seq(octetString(salt), intNum(iterations), seq(oid(OID_HMAC_SHA256), NULL));
  const pbes2Params = seq(seq(oid(OID_PBKDF2), pbkdf2Params), seq(oid(OID_AES256_CBC), octetString(iv)));
  const epki = seq(seq(oid(OID_PBES2), pbes2Params), octetString(encrypted));
  return toPem(epki, ENCRYPTED_PRIVATE_KEY_LABEL);
}

type Kdf =
  | {
      kind: "pbkdf2";
      salt: Buffer;
      iterations: number;
      keyLength?: number;
      hash: "sha1" | "sha256" | "sha384" | "sha512";
    }
  | { kind: "scrypt"; salt: Buffer; N: number; r: number; p: number; keyLength?: number };

interface Pbes2 {
  kdf: Kdf;
  cipher: { name: string; keyLength: number; iv: Buffer };
  encrypted: Buffer;
}

function unsupported(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `unsupported encrypted key: ${msg}`);
}

function smallInt(node: Node | undefined, what: string, max: number): number {
  const v = decodeInt(expectTag(node, Tag.INTEGER, what).content);
  if (v < 1n || v > BigInt(max)) throw unsupported(`${what} out of range`);
  return Number(v);
}

/** Parses an EncryptedPrivateKeyInfo with PBES2 strictly (RFC 5958 §3, RFC 8018 App. A.4). */
function parsePbes2(der: Buffer): Pbes2 {
  const top = children(expectTag(readWhole(der), Tag.SEQUENCE, "EncryptedPrivateKeyInfo"));
  if (top.length !== 2) throw unsupported("EncryptedPrivateKeyInfo must have two fields");
  const alg = children(expectTag(top[0], Tag.SEQUENCE, "encryptionAlgorithm"));
  const scheme = decodeOid(expectTag(alg[0], Tag.OID, "encryption algorithm").content);
  if (scheme !== OID_PBES2) throw unsupported(`encryption scheme ${scheme} (only PBES2 is read)`);
  if (alg.length !== 2) throw unsupported("PBES2 parameters missing");
  const params = children(expectTag(alg[1], Tag.SEQUENCE, "PBES2-params"));
  if (params.length !== 2) throw unsupported("PBES2-params must have two fields");
  const kdfAlg = children(expectTag(params[0], Tag.SEQUENCE, "keyDerivationFunc"));
  const kdfOid = decodeOid(expectTag(kdfAlg[0], Tag.OID, "key derivation function").content);
  if (kdfAlg.length !== 2) throw unsupported("KDF parameters missing");
  const kp = children(expectTag(kdfAlg[1], Tag.SEQUENCE, "KDF parameters"));
  let kdf: Kdf;
  if (kdfOid === OID_PBKDF2) {
    // RFC 8018 App. A.2: salt CHOICE { specified OCTET STRING, otherSource } (only specified).
    const salt = expectTag(kp[0], Tag.OCTET_STRING, "PBKDF2 salt").content;
    const iterations = smallInt(kp[1], "PBKDF2 iteration count", MAX_PBKDF2_ITERATIONS);
    let i = 2;
    let keyLength: number | undefined;
    if (kp[i]?.tag === Tag.INTEGER) keyLength = smallInt(kp[i++], "PBKDF2 key length", 64);
    let hash: "sha1" | "sha256" | "sha384" | "sha512" = "sha1";
    if (kp[i]) {
      const prf = children(expectTag(kp[i++], Tag.SEQUENCE, "PBKDF2 prf"));
      const prfOid = decodeOid(expectTag(prf[0], Tag.OID, "PBKDF2 prf").content);
      const h = PRFS[prfOid];
      if (!h) throw unsupported(`PBKDF2 PRF ${prfOid}`);
      if (prf.length > 2 || (prf[1] && (prf[1].tag !== Tag.NULL || prf[1].content.length !== 0)))
        throw unsupported("PBKDF2 PRF parameters must be NULL or absent");
      hash = h;
    }
    if (i !== kp.length) throw unsupported("trailing PBKDF2 parameters");
    kdf = { kind: "pbkdf2", salt, iterations, keyLength, hash };
  } else if (kdfOid === OID_SCRYPT) {
    // RFC 7914 §7: scrypt-params ::= SEQUENCE { salt, costParameter, blockSize, parallelizationParameter, keyLength OPTIONAL }
    const salt = expectTag(kp[0], Tag.OCTET_STRING, "scrypt salt").content;
    const N = smallInt(kp[1], "scrypt cost", 1 << 22);
    const r = smallInt(kp[2], "scrypt block size", 64);
    const p = smallInt(kp[3], "scrypt parallelization", 64);
    if (N & (N - 1) || N < 2) throw unsupported("scrypt cost must be a power of two");
    const keyLength = kp[4] ? smallInt(kp[4], "scrypt key length", 64) : undefined;
    if (kp.length > 5) throw unsupported("trailing scrypt parameters");
    if (128 * N * r * p > 1024 * 1024 * 1024) throw unsupported("scrypt parameters need too much memory");
    kdf = { kind: "scrypt", salt, N, r, p, keyLength };
  } else {
    throw unsupported(`key derivation function ${kdfOid}`);
  }
  const encAlg = children(expectTag(params[1], Tag.SEQUENCE, "encryptionScheme"));
  const encOid = decodeOid(expectTag(encAlg[0], Tag.OID, "encryption scheme").content);
  const c = CIPHERS[encOid];
  if (!c) throw unsupported(`cipher ${encOid}`);
  const iv = expectTag(encAlg[1], Tag.OCTET_STRING, "cipher IV").content;
  if (encAlg.length !== 2 || iv.length !== 16) throw unsupported("AES-CBC needs a 16-byte IV");
  if (kdf.keyLength !== undefined && kdf.keyLength !== c.keyLength)
    throw unsupported("KDF key length does not match the cipher");
  const encrypted = expectTag(top[1], Tag.OCTET_STRING, "encryptedData").content;
  if (encrypted.length === 0 || encrypted.length % 16 !== 0)
    throw unsupported("encrypted data is not whole AES blocks");
  return { kdf, cipher: { ...c, iv }, encrypted };
}

function wrongPassphrase(name: string | undefined, cause?: unknown): SigilError {
  return new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong passphrase for key${name ? " " + name : ""}`, {
    kind: "user",
    cause,
  });
}

function badKey(name: string | undefined, why: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `key${name ? " " + name : ""} is not ${why}`);
}

/** Most PBKDF2 iterations {@link deriveAhead} spends on a key that may turn out not to be needed. */
const MAX_AHEAD_ITERATIONS = 4 * DEFAULT_PBKDF2_ITERATIONS;

type Pbkdf2 = Extract<Kdf, { kind: "pbkdf2" }>;

/** Derivations started before their key is opened ({@link deriveAhead}); each is taken once. */
const ahead = new Map<string, { passphrase: Buffer; key: Promise<Buffer> }>();

const aheadId = (kdf: Pbkdf2, keyLength: number): string =>
  `${kdf.hash}:${kdf.iterations}:${keyLength}:${kdf.salt.toString("hex")}`;

/**
 * Starts deriving the decryption key of an encrypted PKCS#8 PEM key on the thread pool now,
 * for a {@link decryptPkcs8} of the same key under the same passphrase later in this
 * process (a one-shot `sigil sign` runs PBKDF2-600,000 while it loads its modules and opens
 * its store, instead of after). Only the derivation is done ahead: decryption and every
 * check happen as before, and a later call with another passphrase derives afresh (the
 * passphrases are compared in constant time). Returns false, deriving nothing, when `pem`
 * is not PBES2 with PBKDF2 (RFC 8018 §6.2) or asks for more than four times Sigil's
 * iteration count (a guess that is not used must not hold the process up for long).
 */
export function deriveAhead(pem: string, passphrase: Buffer): boolean {
  let kdf: Kdf;
  let keyLength: number;
  try {
    const der = encryptedKeyDer(pem);
    if (!der) return false;
    ({
      kdf,
      cipher: { keyLength },
    } = parsePbes2(der));
  } catch {
    return false;
  }
  if (kdf.kind !== "pbkdf2" || kdf.iterations > MAX_AHEAD_ITERATIONS || passphrase.length === 0) return false;
  const id = aheadId(kdf, keyLength);
  if (ahead.has(id)) return true;
  const key = pbkdf2(passphrase, kdf.salt, kdf.iterations, keyLength, kdf.hash);
  key.catch(() => undefined);
  ahead.set(id, { passphrase: Buffer.from(passphrase), key });
  return true;
}

/** How many derivations {@link deriveAhead} started are not taken yet (for tests). */
export function derivationsAhead(): number {
  return ahead.size;
}

/** The derivation {@link deriveAhead} started for this key and passphrase, taken out; else undefined. */
function takeAhead(kdf: Pbkdf2, keyLength: number, passphrase: Buffer): Promise<Buffer> | undefined {
  const id = aheadId(kdf, keyLength);
  const a = ahead.get(id);
  if (!a) return undefined;
  ahead.delete(id);
  const same = a.passphrase.length === passphrase.length && timingSafeEqual(a.passphrase, passphrase);
  a.passphrase.fill(0);
  if (same) return a.key;
  void a.key.then(
    (k) => k.fill(0),
    () => undefined,
  );
  return undefined;
}

/** Decrypts an EncryptedPrivateKeyInfo given as DER. See {@link decryptPkcs8}. */
export async function decryptPkcs8Der(der: Buffer, passphrase: Buffer, name?: string): Promise<KeyObject> {
  const p = parsePbes2(der);
  const { kdf, cipher } = p;
  const key =
    kdf.kind === "pbkdf2"
      ? await (takeAhead(kdf, cipher.keyLength, passphrase) ??
          pbkdf2(passphrase, kdf.salt, kdf.iterations, cipher.keyLength, kdf.hash))
      : await scrypt(passphrase, kdf.salt, cipher.keyLength, {
          N: kdf.N,
          r: kdf.r,
          p: kdf.p,
          maxmem: 256 * kdf.N * kdf.r * kdf.p + 1024 * 1024,
        });
  let plain: Buffer;
  try {
    const d = createDecipheriv(cipher.name, key, cipher.iv);
    plain = Buffer.concat([d.update(p.encrypted), d.final()]);
  } catch (e) {
    // Bad PKCS#7 padding: almost always a wrong passphrase (RFC 8018 §6.2.2 step 5).
    throw wrongPassphrase(name, e);
  } finally {
    key.fill(0);
  }
  try {
    // Padding matched by chance (about 1 in 256 wrong passphrases): the content must still parse.
    return createPrivateKey({ key: plain, format: "der", type: "pkcs8" });
  } catch (e) {
    throw wrongPassphrase(name, e);
  } finally {
    plain.fill(0);
  }
}

/**
 * Decrypts PEM "ENCRYPTED PRIVATE KEY" (RFC 5958 §3, PBES2 per RFC 8018 §6.2).
 * A wrong passphrase throws SigilError WRONG_PASSPHRASE "wrong passphrase for key NAME";
 * a structure Sigil does not read throws BAD_INPUT. `name` is only used in messages.
 */
export async function decryptPkcs8(pem: string, passphrase: Buffer, name?: string): Promise<KeyObject> {
  const der = encryptedKeyDer(pem);
  if (!der) throw badKey(name, "an encrypted PKCS#8 PEM key");
  return decryptPkcs8Der(der, passphrase, name);
}

/** The DER of the first "ENCRYPTED PRIVATE KEY" block of `pem`; undefined when it holds none. */
function encryptedKeyDer(pem: string): Buffer | undefined {
  const block = findPrivateKeyBlock(pem);
  if (!block || block.label !== ENCRYPTED_PRIVATE_KEY_LABEL) return undefined;
  return parsePemBlocks(block.text)[0]?.der;
}

/** True when `pem` holds a passphrase-protected key (encrypted PKCS#8 or traditional with DEK-Info). */
export function isEncryptedPrivateKeyPem(pem: string): boolean {
  const block = findPrivateKeyBlock(pem);
  return (
    !!block && (block.label === ENCRYPTED_PRIVATE_KEY_LABEL || /Proc-Type:\s*4,ENCRYPTED/.test(block.text))
  );
}

function findPrivateKeyBlock(pem: string): { label: string; text: string } | undefined {
  const re = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----[\s\S]*?-----END \1-----/g;
  const m = re.exec(pem);
  return m ? { label: m[1]!, text: m[0] } : undefined;
}

/**
 * Reads a PEM private key: encrypted PKCS#8 (needs `passphrase`), plain PKCS#8
 * ("PRIVATE KEY", RFC 5958 §2), or traditional OpenSSL "RSA PRIVATE KEY" / "EC PRIVATE KEY"
 * (RFC 8017 App. A.1.2, RFC 5915 §3), including legacy DEK-Info encryption. Other blocks
 * (such as "EC PARAMETERS") are skipped.
 * Errors: NO_PASSPHRASE when encrypted and none given, WRONG_PASSPHRASE, BAD_INPUT.
 */
export async function readPrivateKeyPem(pem: string, passphrase?: Buffer, name?: string): Promise<KeyObject> {
  const block = findPrivateKeyBlock(pem);
  if (!block) throw badKey(name, "a PEM private key");
  const encrypted = isEncryptedPrivateKeyPem(block.text);
  if (encrypted && passphrase === undefined)
    throw new SigilError(
      ErrorCodes.NO_PASSPHRASE,
      `key${name ? " " + name : ""} is encrypted and no passphrase was given`,
    );
  if (block.label === ENCRYPTED_PRIVATE_KEY_LABEL) return decryptPkcs8(block.text, passphrase!, name);
  if (block.label === "PRIVATE KEY") {
    const [parsed] = parsePemBlocks(block.text);
    try {
      return createPrivateKey({ key: parsed!.der, format: "der", type: "pkcs8" });
    } catch (e) {
      throw new SigilError(ErrorCodes.BAD_INPUT, `key${name ? " " + name : ""} is not a valid PKCS#8 key`, {
        cause: e,
      });
    }
  }
  if (block.label === "RSA PRIVATE KEY" || block.label === "EC PRIVATE KEY") {
    try {
      return createPrivateKey(
        encrypted
          ? { key: block.text, format: "pem", passphrase: passphrase! }
          : { key: block.text, format: "pem" },
      );
    } catch (e) {
      if (encrypted) throw wrongPassphrase(name, e);
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `key${name ? " " + name : ""} is not a valid ${block.label}`,
        {
          cause: e,
        },
      );
    }
  }
  throw badKey(name, `a supported key (PEM ${block.label})`);
}
