/**
 * The `pkcs11:` key store: keys generated and kept inside a PKCS#11 token (an HSM, or
 * SoftHSM2 in tests), private, sensitive and non-extractable; Sigil only ever asks the
 * token to sign. keyRefs are RFC 7512 URIs, `pkcs11:token=LABEL;object=NAME` (pkcs11-uri.ts).
 *
 * One store is bound to one module and one token (config `pkcs11`). The module is loaded,
 * the session opened and the user logged in once, lazily, on first use; {@link close}
 * logs out and finalizes. The PIN is asked for only then, and never appears in a message.
 */
import { createHash, createPublicKey, randomBytes } from "node:crypto";
import { access, constants } from "node:fs/promises";
import type * as Pkcs11Types from "pkcs11js";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import { signatureAlgorithmFor } from "../asn1/signature-algorithms.js";
import { intBytes, oid, seq, decodeOid } from "../asn1/der.js";
import { CurveOid } from "../asn1/oids.js";
import { KEY_NAME_PATTERN } from "./file-keystore.js";
import { parsePkcs11KeyRef, pkcs11KeyRef } from "./pkcs11-uri.js";
import type { KeyStore, KeyType, Signer } from "./types.js";

export { parsePkcs11KeyRef, pkcs11KeyRef, PKCS11_KEYREF_SCHEME } from "./pkcs11-uri.js";

type Pkcs11Module = typeof Pkcs11Types;
type Handle = Buffer;

/** Options of {@link Pkcs11KeyStore}. */
export interface Pkcs11KeyStoreOptions {
  /** Path of the PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so. */
  module: string;
  /** Label of the token keys are made on and read from. */
  token: string;
  /** Returns the user PIN; called once, on first use. Throw SigilError NO_PASSPHRASE when there is none. */
  pin: () => Promise<Buffer>;
}

/** EC curves Sigil makes in a token: key type, named-curve OID (RFC 5480 §2.1.1.1), field size, JWK name, hash. */
const EC_CURVES = {
  p256: { oid: CurveOid["P-256"], size: 32, crv: "P-256", hash: "sha256" },
  p384: { oid: CurveOid["P-384"], size: 48, crv: "P-384", hash: "sha384" },
} as const;

const RSA_BITS: Partial<Record<KeyType, number>> = { rsa2048: 2048, rsa3072: 3072, rsa4096: 4096 };

/** A loaded, initialized module, shared by the stores of one process (C_Initialize is per process). */
interface LoadedModule {
  lib: Pkcs11Module;
  mod: Pkcs11Types.PKCS11;
  refs: number;
}
const loaded = new Map<string, LoadedModule>();

async function loadLib(): Promise<Pkcs11Module> {
  // Loaded on first use only: file-key users never load the native addon.
  const m = (await import("pkcs11js")) as unknown as { default?: Pkcs11Module } & Pkcs11Module;
  return m.default ?? m;
}

async function acquireModule(path: string): Promise<LoadedModule> {
  const hit = loaded.get(path);
  if (hit) {
    hit.refs++;
    return hit;
  }
  const hint = "install softhsm2 (Debian: apt-get install softhsm2) or fix pkcs11.module in sigil.json";
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new SigilError(ErrorCodes.CONFIG, `PKCS#11 module ${path} not found: ${hint}`);
  }
  const lib = await loadLib();
  const mod = new lib.PKCS11();
  try {
    mod.load(path);
  } catch (e) {
    throw new SigilError(
      ErrorCodes.CONFIG,
      `PKCS#11 module ${path} cannot be loaded (${oneLine(e)}): ${hint}`,
    );
  }
  try {
    mod.C_Initialize();
  } catch (e) {
    if (!(e instanceof lib.Pkcs11Error && e.code === lib.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      try {
        mod.close();
      } catch {
        // best effort
      }
      throw new SigilError(ErrorCodes.CONFIG, `PKCS#11 module ${path} failed to initialize: ${oneLine(e)}`);
    }
  }
  const l: LoadedModule = { lib, mod, refs: 1 };
  loaded.set(path, l);
  return l;
}

function releaseModule(path: string): void {
  const l = loaded.get(path);
  if (!l || --l.refs > 0) return;
  loaded.delete(path);
  try {
    l.mod.C_Finalize();
  } catch {
    // already finalized
  }
  try {
    l.mod.close();
  } catch {
    // best effort
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim();
}

/** The session of an opened store. */
interface Opened {
  lib: Pkcs11Module;
  mod: Pkcs11Types.PKCS11;
  session: Handle;
}

/** The value of a DER OCTET STRING (CKA_EC_POINT holds the point wrapped in one, PKCS#11 v2.40 §2.3.3). */
function unwrapOctetString(der: Buffer): Buffer {
  if (der[0] !== 0x04 || der.length < 2) return der;
  let len = der[1]!;
  let off = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
    off = 2 + n;
  }
  return off + len === der.length ? der.subarray(off) : der;
}

/**
 * A raw ECDSA signature r||s (PKCS#11 v2.40 §2.3.1 CKM_ECDSA) as the DER Ecdsa-Sig-Value
 * that goes into certificates (RFC 3279 §2.2.3: SEQUENCE { r INTEGER, s INTEGER }).
 */
export function ecdsaRawToDer(raw: Buffer, size: number): Buffer {
  if (raw.length !== 2 * size)
    throw new SigilError(
      ErrorCodes.INTERNAL,
      `PKCS#11 ECDSA signature is ${raw.length} bytes, expected ${2 * size}`,
    );
  return seq(intBytes(raw.subarray(0, size)), intBytes(raw.subarray(size)));
}

/** Keys in a PKCS#11 token (see the file comment). */
export class Pkcs11KeyStore implements KeyStore {
  readonly #opts: Pkcs11KeyStoreOptions;
  #opened: Promise<Opened> | undefined;
  #closed = false;

  constructor(opts: Pkcs11KeyStoreOptions) {
    this.#opts = opts;
  }

  /** The configured token label. */
  get token(): string {
    return this.#opts.token;
  }

  /** Loads the module, finds the token, opens a read-write session and logs in (once). */
  #open(): Promise<Opened> {
    if (this.#closed) throw new SigilError(ErrorCodes.INTERNAL, "PKCS#11 key store used after close");
    if (!this.#opened) {
      this.#opened = this.#doOpen();
      this.#opened.catch(() => (this.#opened = undefined));
    }
    return this.#opened;
  }

  async #doOpen(): Promise<Opened> {
    const { module: path, token } = this.#opts;
    const { lib, mod } = await acquireModule(path);
    let session: Handle | undefined;
    try {
      const labels: string[] = [];
      let slot: Handle | undefined;
      for (const s of mod.C_GetSlotList(true)) {
        const info = mod.C_GetTokenInfo(s);
        if (!(info.flags & lib.CKF_TOKEN_INITIALIZED)) continue;
        const label = info.label.replace(/[ \0]+$/, "");
        labels.push(label);
        if (label === token && slot === undefined) slot = s;
      }
      if (slot === undefined)
        throw new SigilError(
          ErrorCodes.CONFIG,
          `PKCS#11 token ${JSON.stringify(token)} not found in ${path}; tokens present: ${labels.length ? labels.map((l) => JSON.stringify(l)).join(", ") : "none"}`,
        );
      session = mod.C_OpenSession(slot, lib.CKF_SERIAL_SESSION | lib.CKF_RW_SESSION);
      const pin = await this.#opts.pin();
      try {
        mod.C_Login(session, lib.CKU_USER, pin.toString("utf8"));
      } catch (e) {
        if (e instanceof lib.Pkcs11Error) {
          // Login state is per application (PKCS#11 v2.40 §5.6): another store of this
          // process already logged in to this token.
          if (e.code === lib.CKR_USER_ALREADY_LOGGED_IN) return { lib, mod, session };
          if (
            e.code === lib.CKR_PIN_INCORRECT ||
            e.code === lib.CKR_PIN_INVALID ||
            e.code === lib.CKR_PIN_LEN_RANGE
          )
            throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong PIN for PKCS#11 token ${token}`);
          if (e.code === lib.CKR_PIN_LOCKED)
            throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `the PIN of PKCS#11 token ${token} is locked`);
        }
        throw new SigilError(
          ErrorCodes.CONFIG,
          `cannot log in to PKCS#11 token ${token}: ${pkcs11Reason(e)}`,
        );
      } finally {
        pin.fill(0);
      }
      return { lib, mod, session };
    } catch (e) {
      if (session !== undefined) {
        try {
          mod.C_CloseSession(session);
        } catch {
          // best effort
        }
      }
      releaseModule(path);
      throw e;
    }
  }

  /** Logs out, closes the session and finalizes the module (when no other store uses it). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const p = this.#opened;
    this.#opened = undefined;
    if (!p) return;
    const o = await p.catch(() => undefined);
    if (!o) return;
    try {
      o.mod.C_Logout(o.session);
    } catch {
      // not logged in (another store of this process logged out first)
    }
    try {
      o.mod.C_CloseSession(o.session);
    } catch {
      // best effort
    }
    releaseModule(this.#opts.module);
  }

  #ref(keyRef: string): string {
    const { token, object } = parsePkcs11KeyRef(keyRef);
    if (token !== this.#opts.token)
      throw new SigilError(
        ErrorCodes.CONFIG,
        `key ${keyRef} is on PKCS#11 token ${token}, but pkcs11.token in sigil.json is ${this.#opts.token}`,
      );
    return object;
  }

  #find(o: Opened, label: string, cls?: number): Handle[] {
    const tmpl: Pkcs11Types.Template = [{ type: o.lib.CKA_LABEL, value: label }];
    if (cls !== undefined) tmpl.push({ type: o.lib.CKA_CLASS, value: cls });
    o.mod.C_FindObjectsInit(o.session, tmpl);
    try {
      return o.mod.C_FindObjects(o.session, 64);
    } finally {
      o.mod.C_FindObjectsFinal(o.session);
    }
  }

  /**
   * Generates a key pair inside the token: the private key with CKA_TOKEN, CKA_PRIVATE,
   * CKA_SENSITIVE, CKA_SIGN true and CKA_EXTRACTABLE false (it never leaves the token), and
   * CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE false (sign only); the public key with CKA_TOKEN and
   * CKA_VERIFY (CKA_ENCRYPT, CKA_WRAP false); both labelled `name` with one random CKA_ID.
   * Returns `pkcs11:token=T;object=NAME`. An object labelled `name`: SigilError FILE_EXISTS.
   * Ed25519: BAD_INPUT (not offered on tokens yet). The passphrase is not used.
   */
  async generate(name: string, keyType: KeyType, _passphrase?: Buffer): Promise<string> {
    if (!KEY_NAME_PATTERN.test(name))
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `bad key name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
      );
    const ec = keyType === "p256" || keyType === "p384" ? EC_CURVES[keyType] : undefined;
    const bits = RSA_BITS[keyType];
    if (!ec && !bits)
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `${keyType} keys are not supported in PKCS#11 tokens; use p256, p384, rsa2048, rsa3072 or rsa4096`,
      );
    const o = await this.#open();
    const { lib, mod, session } = o;
    if (this.#find(o, name).length)
      throw new SigilError(
        ErrorCodes.FILE_EXISTS,
        `key ${name} already exists on PKCS#11 token ${this.#opts.token}`,
      );
    const id = randomBytes(16);
    const common = (cls: number): Pkcs11Types.Template => [
      { type: lib.CKA_CLASS, value: cls },
      { type: lib.CKA_KEY_TYPE, value: ec ? lib.CKK_EC : lib.CKK_RSA },
      { type: lib.CKA_TOKEN, value: true },
      { type: lib.CKA_LABEL, value: name },
      { type: lib.CKA_ID, value: id },
    ];
    const pub: Pkcs11Types.Template = [
      ...common(lib.CKO_PUBLIC_KEY),
      { type: lib.CKA_PRIVATE, value: false },
      { type: lib.CKA_VERIFY, value: true },
      { type: lib.CKA_ENCRYPT, value: false },
      { type: lib.CKA_WRAP, value: false },
      ...(ec
        ? [{ type: lib.CKA_EC_PARAMS, value: oid(ec.oid) }]
        : [
            { type: lib.CKA_MODULUS_BITS, value: bits! },
            { type: lib.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          ]),
    ];
    const priv: Pkcs11Types.Template = [
      ...common(lib.CKO_PRIVATE_KEY),
      { type: lib.CKA_PRIVATE, value: true },
      { type: lib.CKA_SENSITIVE, value: true },
      { type: lib.CKA_EXTRACTABLE, value: false },
      { type: lib.CKA_SIGN, value: true },
      // A CA key signs and does nothing else.
      { type: lib.CKA_DECRYPT, value: false },
      { type: lib.CKA_UNWRAP, value: false },
      { type: lib.CKA_DERIVE, value: false },
    ];
    const mechanism = { mechanism: ec ? lib.CKM_EC_KEY_PAIR_GEN : lib.CKM_RSA_PKCS_KEY_PAIR_GEN };
    try {
      await new Promise<void>((resolve, reject) =>
        mod.C_GenerateKeyPair(session, mechanism, pub, priv, (err) => (err ? reject(err) : resolve())),
      );
    } catch (e) {
      throw new SigilError(
        ErrorCodes.INTERNAL,
        `PKCS#11 token ${this.#opts.token} could not generate a ${keyType} key: ${pkcs11Reason(e)}`,
        { cause: e },
      );
    }
    return pkcs11KeyRef(this.#opts.token, name);
  }

  /**
   * Opens the key behind `keyRef` for signing through the token. The public key is read
   * from the token's public key object (EC: CKA_EC_PARAMS and CKA_EC_POINT; RSA: modulus
   * and exponent). No such private key: SigilError KEY_NOT_FOUND.
   */
  async open(keyRef: string, _passphrase?: Buffer): Promise<Signer> {
    const object = this.#ref(keyRef);
    const o = await this.#open();
    const { lib, mod, session } = o;
    const privs = this.#find(o, object, lib.CKO_PRIVATE_KEY);
    if (privs.length === 0)
      throw new SigilError(
        ErrorCodes.KEY_NOT_FOUND,
        `key ${object} not found on PKCS#11 token ${this.#opts.token}`,
      );
    if (privs.length > 1)
      throw new SigilError(
        ErrorCodes.BAD_INPUT,
        `${privs.length} private keys are labelled ${object} on PKCS#11 token ${this.#opts.token}; labels must be unique`,
      );
    const priv = privs[0]!;
    const attr = (h: Handle, types: number[]): Buffer[] =>
      mod
        .C_GetAttributeValue(
          session,
          h,
          types.map((type) => ({ type })),
        )
        .map((a) => a.value as Buffer);
    const [keyTypeBuf, idBuf] = attr(priv, [lib.CKA_KEY_TYPE, lib.CKA_ID]);
    const ckk = keyTypeBuf!.readUIntLE(0, Math.min(6, keyTypeBuf!.length));
    // The public key object with the same CKA_ID (fallback: same label).
    const pubTmpl: Pkcs11Types.Template = [{ type: lib.CKA_CLASS, value: lib.CKO_PUBLIC_KEY }];
    pubTmpl.push(
      idBuf && idBuf.length ? { type: lib.CKA_ID, value: idBuf } : { type: lib.CKA_LABEL, value: object },
    );
    mod.C_FindObjectsInit(session, pubTmpl);
    let pub: Handle | null;
    try {
      pub = mod.C_FindObjects(session);
    } finally {
      mod.C_FindObjectsFinal(session);
    }
    if (ckk === lib.CKK_EC) {
      if (!pub)
        throw new SigilError(
          ErrorCodes.KEY_NOT_FOUND,
          `public key of ${object} not found on PKCS#11 token ${this.#opts.token}`,
        );
      const [params, point] = attr(pub, [lib.CKA_EC_PARAMS, lib.CKA_EC_POINT]);
      const curveOid = params![0] === 0x06 ? decodeOid(params!.subarray(2)) : "";
      const entry = Object.entries(EC_CURVES).find(([, c]) => c.oid === curveOid);
      if (!entry)
        throw new SigilError(
          ErrorCodes.WEAK_KEY,
          `key ${object}: unsupported EC curve ${curveOid || "(explicit parameters)"}`,
        );
      const [keyType, curve] = entry as [KeyType, (typeof EC_CURVES)["p256"] | (typeof EC_CURVES)["p384"]];
      const q = unwrapOctetString(point!);
      if (q.length !== 1 + 2 * curve.size || q[0] !== 0x04)
        throw new SigilError(
          ErrorCodes.BAD_INPUT,
          `key ${object}: EC point is not an uncompressed ${curve.crv} point`,
        );
      const spki = createPublicKey({
        key: {
          kty: "EC",
          crv: curve.crv,
          x: q.subarray(1, 1 + curve.size).toString("base64url"),
          y: q.subarray(1 + curve.size).toString("base64url"),
        },
        format: "jwk",
      }).export({ type: "spki", format: "der" });
      return this.#signer(keyType, spki, (data) =>
        ecdsaRawToDer(
          this.#sign(
            o,
            priv,
            { mechanism: lib.CKM_ECDSA },
            createHash(curve.hash).update(data).digest(),
            2 * curve.size,
          ),
          curve.size,
        ),
      );
    }
    if (ckk === lib.CKK_RSA) {
      const [n, e] = attr(pub ?? priv, [lib.CKA_MODULUS, lib.CKA_PUBLIC_EXPONENT]);
      const key = createPublicKey({
        key: { kty: "RSA", n: n!.toString("base64url"), e: e!.toString("base64url") },
        format: "jwk",
      });
      const bits = key.asymmetricKeyDetails?.modulusLength;
      const keyType = (Object.entries(RSA_BITS).find(([, b]) => b === bits)?.[0] ?? undefined) as
        KeyType | undefined;
      if (!keyType)
        throw new SigilError(
          ErrorCodes.WEAK_KEY,
          `key ${object}: unsupported RSA key size ${String(bits)} bits`,
        );
      const spki = key.export({ type: "spki", format: "der" });
      // RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2), the token hashing: CKM_SHA256_RSA_PKCS.
      return this.#signer(keyType, spki, (data) =>
        this.#sign(o, priv, { mechanism: lib.CKM_SHA256_RSA_PKCS }, data, bits! / 8),
      );
    }
    throw new SigilError(
      ErrorCodes.WEAK_KEY,
      `key ${object}: unsupported PKCS#11 key type 0x${ckk.toString(16)}`,
    );
  }

  /** One C_SignInit + C_Sign, synchronous, so concurrent signers on the one session never interleave. */
  #sign(o: Opened, key: Handle, mechanism: Pkcs11Types.Mechanism, data: Buffer, outLen: number): Buffer {
    try {
      o.mod.C_SignInit(o.session, mechanism, key);
      return Buffer.from(o.mod.C_Sign(o.session, data, Buffer.alloc(outLen)));
    } catch (e) {
      throw new SigilError(
        ErrorCodes.INTERNAL,
        `PKCS#11 token ${this.#opts.token} failed to sign: ${pkcs11Reason(e)}`,
        { cause: e },
      );
    }
  }

  #signer(keyType: KeyType, spki: Buffer, sign: (data: Buffer) => Buffer): Signer {
    const algorithmIdentifier = signatureAlgorithmFor(keyType).der;
    return {
      keyType,
      spki,
      algorithmIdentifier,
      sign: async (data: Buffer) => {
        if (this.#closed) throw new SigilError(ErrorCodes.INTERNAL, "PKCS#11 key store used after close");
        return sign(data);
      },
    };
  }

  /** True when the token holds a private key labelled as in `keyRef`. */
  async exists(keyRef: string): Promise<boolean> {
    const object = this.#ref(keyRef);
    const o = await this.#open();
    return this.#find(o, object, o.lib.CKO_PRIVATE_KEY).length > 0;
  }

  /** Destroys the private and public key objects labelled as in `keyRef`; a missing key is not an error. */
  async remove(keyRef: string): Promise<void> {
    const object = this.#ref(keyRef);
    const o = await this.#open();
    for (const cls of [o.lib.CKO_PRIVATE_KEY, o.lib.CKO_PUBLIC_KEY])
      for (const h of this.#find(o, object, cls)) o.mod.C_DestroyObject(o.session, h);
  }

  /** Token keys are unlocked by the token's PIN, never by a key passphrase. */
  needsPassphrase(_keyRef?: string): boolean {
    return false;
  }
}

/** A PKCS#11 error as `CKR_NAME`, without anything the caller passed in. */
function pkcs11Reason(e: unknown): string {
  if (isSigilError(e)) return e.message;
  const msg = oneLine(e);
  const m = /CKR_[A-Z_]+/.exec(msg);
  return m ? m[0] : msg;
}
