/**
 * Signature and public-key algorithms: which Sigil writes, which it accepts when reading,
 * and the strict checks on public keys found in CSRs and certificates.
 *
 * Pure: node:crypto is used for verification only; no I/O, no clock.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { Tag, children, expectTag, readWhole } from "./der.js";
import type { Node } from "./der.js";
import { CurveOid, KeyOid, SigOid, oidFromContent } from "./oids.js";
import type { PublicKeyInfo } from "./types.js";

export { signatureAlgorithmFor, type SignatureAlgorithm } from "../asn1/signature-algorithms.js";

type KeyFamily = "rsa" | "ec" | "ed25519" | "ed448";

interface AcceptedAlgorithm {
  name: string;
  family: KeyFamily;
  hash: string | null;
  /** RSA PKCS#1 v1.5 algorithms carry NULL parameters (RFC 4055 §5); others carry none. */
  nullParams: boolean;
}

const ACCEPTED = new Map<string, AcceptedAlgorithm>([
  [
    SigOid.sha256WithRSAEncryption,
    { name: "sha256WithRSAEncryption", family: "rsa", hash: "sha256", nullParams: true },
  ],
  [
    SigOid.sha384WithRSAEncryption,
    { name: "sha384WithRSAEncryption", family: "rsa", hash: "sha384", nullParams: true },
  ],
  [
    SigOid.sha512WithRSAEncryption,
    { name: "sha512WithRSAEncryption", family: "rsa", hash: "sha512", nullParams: true },
  ],
  [SigOid.ecdsaWithSHA256, { name: "ecdsa-with-SHA256", family: "ec", hash: "sha256", nullParams: false }],
  [SigOid.ecdsaWithSHA384, { name: "ecdsa-with-SHA384", family: "ec", hash: "sha384", nullParams: false }],
  [SigOid.ecdsaWithSHA512, { name: "ecdsa-with-SHA512", family: "ec", hash: "sha512", nullParams: false }],
  [SigOid.Ed25519, { name: "Ed25519", family: "ed25519", hash: null, nullParams: false }],
  [SigOid.Ed448, { name: "Ed448", family: "ed448", hash: null, nullParams: false }],
]);

const REFUSED = new Map<string, string>([
  [SigOid.md2WithRSAEncryption, "MD2 signatures are refused (md2WithRSAEncryption is broken)"],
  [SigOid.md4WithRSAEncryption, "MD4 signatures are refused (md4WithRSAEncryption is broken)"],
  [SigOid.md5WithRSAEncryption, "MD5 signatures are refused (md5WithRSAEncryption is broken)"],
  [SigOid.sha1WithRSAEncryption, "SHA-1 signatures are refused (sha1WithRSAEncryption)"],
  [SigOid.sha1WithRSAOiw, "SHA-1 signatures are refused (sha1WithRSASignature)"],
  [SigOid.ecdsaWithSHA1, "SHA-1 signatures are refused (ecdsa-with-SHA1)"],
  [SigOid.dsaWithSHA1, "DSA is refused (dsa-with-sha1 signature)"],
  [SigOid.dsaWithSHA224, "DSA is refused (dsa-with-sha224 signature)"],
  [SigOid.dsaWithSHA256, "DSA is refused (dsa-with-sha256 signature)"],
  [
    SigOid.rsassaPss,
    "RSASSA-PSS signatures are not supported yet; sign with PKCS#1 v1.5 (sha256WithRSAEncryption)",
  ],
  [SigOid.sha224WithRSAEncryption, "sha224WithRSAEncryption is not supported (use SHA-256 or stronger)"],
  [SigOid.ecdsaWithSHA224, "ecdsa-with-SHA224 is not supported (use SHA-256 or stronger)"],
]);

function algError(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_SIGNATURE_ALGORITHM, msg);
}

/**
 * Throws SigilError BAD_SIGNATURE_ALGORITHM unless `algOid` with `algParams` (the DER of
 * the parameters field, or undefined when absent) is a signature algorithm Sigil accepts.
 * MD2/MD4/MD5, SHA-1, DSA, RSASSA-PSS and unknown algorithms are refused with a message
 * naming the algorithm. Returns a short display name.
 */
export function checkSignatureAlgorithm(algOid: string, algParams: Buffer | undefined): string {
  const refused = REFUSED.get(algOid);
  if (refused) throw algError(refused);
  const a = ACCEPTED.get(algOid);
  if (!a) throw algError(`unknown signature algorithm ${algOid} is refused`);
  if (a.nullParams) {
    // RFC 4055 §5 requires NULL; a missing field is tolerated as many encoders omit it.
    if (
      algParams !== undefined &&
      !(algParams.length === 2 && algParams[0] === Tag.NULL && algParams[1] === 0)
    )
      throw algError(`${a.name} parameters must be NULL`);
  } else if (algParams !== undefined) {
    // RFC 5758 §3.2 (ECDSA) and RFC 8410 §3 (EdDSA): the parameters field MUST be absent.
    throw algError(`${a.name} must not carry parameters`);
  }
  return a.name;
}

/** Human name of a signature algorithm OID, or the dotted OID when unknown. */
export function signatureAlgorithmName(algOid: string): string {
  const a = ACCEPTED.get(algOid);
  if (a) return a.name;
  for (const [name, o] of Object.entries(SigOid)) if (o === algOid) return name;
  return algOid;
}

const keyObjectCache = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 64;

function publicKeyObject(spki: Buffer): KeyObject {
  const k = spki.toString("latin1");
  const hit = keyObjectCache.get(k);
  if (hit) return hit;
  const key = importPublicKey(spki);
  // Only a handful of issuer keys are verified repeatedly; keep the cache tiny.
  if (keyObjectCache.size >= KEY_CACHE_MAX) keyObjectCache.clear();
  keyObjectCache.set(k, key);
  return key;
}

const JWK_CURVES: Record<string, { crv: string; size: number }> = {
  [CurveOid["P-256"]]: { crv: "P-256", size: 32 },
  [CurveOid["P-384"]]: { crv: "P-384", size: 48 },
  [CurveOid["P-521"]]: { crv: "P-521", size: 66 },
};

const b64url = (b: Buffer): string => b.toString("base64url");

/**
 * Turns a DER SubjectPublicKeyInfo into a KeyObject. This is on the issuing hot path (one
 * new key per request): OpenSSL 3.0's DER decoder costs ~95 µs per key here, while the
 * same key given as JWK loads in ~55 µs (EC, which still checks the point is on the curve)
 * or ~3 µs (RSA). RSA keys and uncompressed EC points on the accepted curves therefore go
 * through JWK (RFC 7518 §6.2.1, §6.3.1); anything else through the DER decoder. A test
 * checks both routes give the same key.
 */
export function importPublicKey(spki: Buffer): KeyObject {
  try {
    const { algOid, params, key } = splitSpki(spki);
    if (algOid === KeyOid.rsaEncryption) {
      const seqNode = readWhole(key);
      const [n, e] = children(expectTag(seqNode, Tag.SEQUENCE, "RSAPublicKey"));
      if (n?.tag === Tag.INTEGER && e?.tag === Tag.INTEGER && n.content[0]! < 0x80 && e.content[0]! < 0x80) {
        const strip = (b: Buffer): Buffer => (b.length > 1 && b[0] === 0 ? b.subarray(1) : b);
        return createPublicKey({
          key: { kty: "RSA", n: b64url(strip(n.content)), e: b64url(strip(e.content)) },
          format: "jwk",
        });
      }
    } else if (algOid === KeyOid.ecPublicKey && params?.tag === Tag.OID) {
      const curve = JWK_CURVES[oidFromContent(params.content)];
      if (curve && key.length === 1 + 2 * curve.size && key[0] === 0x04) {
        return createPublicKey({
          key: {
            kty: "EC",
            crv: curve.crv,
            x: b64url(key.subarray(1, 1 + curve.size)),
            y: b64url(key.subarray(1 + curve.size)),
          },
          format: "jwk",
        });
      }
    }
  } catch {
    // Fall through: the DER decoder gives the authoritative answer (or error).
  }
  return createPublicKey({ key: spki, format: "der", type: "spki" });
}

/**
 * Verifies `sig` over `data` with the public key `spki` (DER SubjectPublicKeyInfo) under
 * the signature algorithm `algOid` / `algParams` (RFC 5280 §4.1.1.2, §4.1.1.3).
 *
 * Supports RSA PKCS#1 v1.5 with SHA-256/384/512, ECDSA with SHA-256/384/512 (DER
 * Ecdsa-Sig-Value, RFC 3279 §2.2.3), Ed25519 and Ed448 (RFC 8410).
 * Refused algorithms throw SigilError BAD_SIGNATURE_ALGORITHM. A wrong signature, or a key
 * of another family than the algorithm's, returns false.
 */
export function verifySignature(
  spki: Buffer,
  algOid: string,
  algParams: Buffer | undefined,
  data: Buffer,
  sig: Buffer,
): boolean {
  const v = verifierFor(spki, algOid, algParams);
  if (!v) return false;
  try {
    return cryptoVerify(v.hash, data, v.key, sig);
  } catch {
    // Malformed ECDSA signatures and the like make OpenSSL raise: that is a failed check.
    return false;
  }
}

/**
 * {@link verifySignature}, with the signature check run on libuv's thread pool (Node's
 * callback form of `crypto.verify`): the caller's thread goes on with other work, so a
 * batch of requests uses both cores. Same checks, same results.
 */
export async function verifySignatureAsync(
  spki: Buffer,
  algOid: string,
  algParams: Buffer | undefined,
  data: Buffer,
  sig: Buffer,
): Promise<boolean> {
  const v = verifierFor(spki, algOid, algParams);
  if (!v) return false;
  return new Promise<boolean>((resolve) => {
    try {
      cryptoVerify(v.hash, data, v.key, sig, (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

/**
 * The key and hash to check a signature of `algOid` with, or null when the key is of
 * another family than the algorithm (e.g. an RSA key under ecdsa-with-SHA256): such a key
 * cannot have made the signature. Refused algorithms and unloadable keys throw.
 */
function verifierFor(
  spki: Buffer,
  algOid: string,
  algParams: Buffer | undefined,
): { key: KeyObject; hash: string | null } | null {
  checkSignatureAlgorithm(algOid, algParams);
  const a = ACCEPTED.get(algOid)!;
  let key: KeyObject;
  try {
    key = publicKeyObject(spki);
  } catch (e) {
    throw new SigilError(ErrorCodes.BAD_INPUT, "public key cannot be loaded", { cause: e });
  }
  return key.asymmetricKeyType === a.family ? { key, hash: a.hash } : null;
}

function weak(msg: string): SigilError {
  return new SigilError(ErrorCodes.WEAK_KEY, msg);
}

function badKey(msg: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `malformed public key: ${msg}`);
}

const CURVES: Record<string, { name: "P-256" | "P-384" | "P-521"; size: number }> = {
  [CurveOid["P-256"]]: { name: "P-256", size: 32 },
  [CurveOid["P-384"]]: { name: "P-384", size: 48 },
  [CurveOid["P-521"]]: { name: "P-521", size: 66 },
};

const CURVE_NAMES: Record<string, string> = {
  [CurveOid.secp256k1]: "secp256k1",
  [CurveOid["P-192"]]: "P-192",
  [CurveOid["P-224"]]: "P-224",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
  "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
};

/** Bit length of a non-negative big-endian INTEGER's content. */
function intBitLength(content: Buffer): number {
  let i = 0;
  while (i < content.length && content[i] === 0) i++;
  if (i === content.length) return 0;
  return (content.length - i - 1) * 8 + (32 - Math.clz32(content[i]!));
}

/** Splits a DER SubjectPublicKeyInfo into algorithm OID, parameters node and key bits. */
export function splitSpki(spki: Buffer | Node): { algOid: string; params: Node | undefined; key: Buffer } {
  const node = Buffer.isBuffer(spki) ? readWhole(spki) : spki;
  expectTag(node, Tag.SEQUENCE, "SubjectPublicKeyInfo");
  const parts = children(node);
  if (parts.length !== 2) throw badKey("SubjectPublicKeyInfo must have two fields");
  const alg = expectTag(parts[0], Tag.SEQUENCE, "AlgorithmIdentifier");
  const algParts = children(alg);
  if (algParts.length < 1 || algParts.length > 2) throw badKey("bad AlgorithmIdentifier");
  const algOid = oidFromContent(expectTag(algParts[0], Tag.OID, "algorithm").content);
  const bits = expectTag(parts[1], Tag.BIT_STRING, "subjectPublicKey").content;
  if (bits.length < 1 || bits[0] !== 0) throw badKey("subjectPublicKey must have no unused bits");
  return { algOid, params: algParts[1], key: bits.subarray(1) };
}

/**
 * Describes and strictly checks the public key in a DER SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7; RFC 3279 §2.3.1 RSA, RFC 5480 §2 EC, RFC 8410 §4 EdDSA).
 *
 * Accepts RSA (rsaEncryption with NULL parameters), EC keys on the named curves P-256,
 * P-384 and P-521 only, Ed25519 and Ed448. DSA, other curves, explicit curve parameters,
 * RSASSA-PSS-only keys and unknown algorithms throw SigilError WEAK_KEY with a clear
 * message; malformed structures throw BAD_INPUT. Does not judge RSA size: see
 * {@link checkKeyStrength}.
 */
export function describePublicKey(spki: Buffer | Node): PublicKeyInfo {
  const { algOid, params, key } = splitSpki(spki);
  switch (algOid) {
    case KeyOid.rsaEncryption: {
      // RFC 3279 §2.3.1: parameters MUST be NULL.
      if (!params || params.tag !== Tag.NULL || params.content.length !== 0)
        throw badKey("rsaEncryption parameters must be NULL");
      const rsa = readWhole(key);
      expectTag(rsa, Tag.SEQUENCE, "RSAPublicKey");
      const f = children(rsa);
      if (f.length !== 2) throw badKey("RSAPublicKey must have two fields");
      const n = expectTag(f[0], Tag.INTEGER, "modulus").content;
      const e = expectTag(f[1], Tag.INTEGER, "publicExponent").content;
      if (n.length === 0 || n[0]! & 0x80 || (n.length > 1 && n[0] === 0 && !(n[1]! & 0x80)))
        throw badKey("RSA modulus is not a minimal positive INTEGER");
      if (e.length === 0 || e[0]! & 0x80 || (e.length > 1 && e[0] === 0 && !(e[1]! & 0x80)))
        throw badKey("RSA exponent is not a minimal positive INTEGER");
      if (!(n[n.length - 1]! & 1)) throw badKey("RSA modulus is even");
      if (!(e[e.length - 1]! & 1) || intBitLength(e) < 2)
        throw weak("RSA public exponent must be odd and at least 3");
      return { kind: "rsa", bits: intBitLength(n) };
    }
    case KeyOid.ecPublicKey: {
      if (!params) throw badKey("EC key without curve parameters");
      if (params.tag !== Tag.OID)
        throw weak("EC keys with explicit curve parameters are not accepted (P-256, P-384, P-521 only)");
      const curveOid = oidFromContent(params.content);
      const curve = CURVES[curveOid];
      if (!curve)
        throw weak(`curve ${CURVE_NAMES[curveOid] ?? curveOid} is not accepted (P-256, P-384, P-521 only)`);
      // RFC 5480 §2.2: uncompressed (04 || X || Y) or compressed (02/03 || X) point.
      const ok =
        (key[0] === 0x04 && key.length === 1 + 2 * curve.size) ||
        ((key[0] === 0x02 || key[0] === 0x03) && key.length === 1 + curve.size);
      if (!ok) throw badKey(`bad ${curve.name} point`);
      return { kind: "ec", curve: curve.name };
    }
    case KeyOid.Ed25519:
      // RFC 8410 §3: parameters MUST be absent.
      if (params) throw badKey("Ed25519 key must not carry parameters");
      if (key.length !== 32) throw badKey("Ed25519 key must be 32 bytes");
      return { kind: "ed25519" };
    case KeyOid.Ed448:
      if (params) throw badKey("Ed448 key must not carry parameters");
      if (key.length !== 57) throw badKey("Ed448 key must be 57 bytes");
      return { kind: "ed448" };
    case KeyOid.dsa:
      throw weak("DSA keys are refused");
    case KeyOid.rsassaPss:
      throw weak("RSASSA-PSS keys are not supported yet; use an rsaEncryption key");
    case KeyOid.X25519:
    case KeyOid.X448:
      throw weak("X25519/X448 keys cannot sign and are refused");
    default:
      throw weak(
        `public key algorithm ${algOid} is not accepted (RSA, EC P-256/P-384/P-521, Ed25519, Ed448 only)`,
      );
  }
}

/** Smallest RSA modulus accepted, in bits. */
export const RSA_MIN_BITS = 2048;
/** Largest RSA modulus accepted, in bits (bigger keys are a denial-of-service vector). */
export const RSA_MAX_BITS = 16384;

/**
 * Throws SigilError WEAK_KEY unless the key is strong enough: RSA between
 * {@link RSA_MIN_BITS} and {@link RSA_MAX_BITS} bits (NIST SP 800-57 / CA/B Forum BR
 * §6.1.5). EC and EdDSA keys already passed the curve allow-list in {@link describePublicKey}.
 */
export function checkKeyStrength(pk: PublicKeyInfo): void {
  if (pk.kind !== "rsa") return;
  if (pk.bits < RSA_MIN_BITS) throw weak(`RSA key of ${pk.bits} bits is too weak (minimum ${RSA_MIN_BITS})`);
  if (pk.bits > RSA_MAX_BITS) throw weak(`RSA key of ${pk.bits} bits is too large (maximum ${RSA_MAX_BITS})`);
}

/** Short display form of a key, e.g. "RSA 2048", "EC P-256", "Ed25519". */
export function publicKeyLabel(pk: PublicKeyInfo): string {
  switch (pk.kind) {
    case "rsa":
      return `RSA ${pk.bits}`;
    case "ec":
      return `EC ${pk.curve}`;
    case "ed25519":
      return "Ed25519";
    case "ed448":
      return "Ed448";
  }
}

/**
 * A stable identity of the public key in a DER SubjectPublicKeyInfo, whatever its encoding:
 * hex SHA-256 over the algorithm, the curve and the key in one canonical form (an EC point
 * uncompressed, RFC 5480 §2.2; RSA's minimal-INTEGER RSAPublicKey as the strict reader
 * requires, RFC 3279 §2.3.1). The same key sent compressed and uncompressed gets the same
 * id, so a key reported compromised cannot come back re-encoded.
 */
export function publicKeyId(spki: Buffer): string {
  const { algOid, params, key } = splitSpki(spki);
  let curve = "";
  let canonical = key;
  if (algOid === KeyOid.ecPublicKey && params?.tag === Tag.OID) {
    curve = oidFromContent(params.content);
    if (key[0] === 0x02 || key[0] === 0x03) {
      // Decompressing needs the curve arithmetic: let OpenSSL do it (a rare encoding).
      const jwk = createPublicKey({ key: spki, format: "der", type: "spki" }).export({ format: "jwk" });
      canonical = Buffer.concat([
        Buffer.from([0x04]),
        Buffer.from(jwk.x!, "base64url"),
        Buffer.from(jwk.y!, "base64url"),
      ]);
    }
  }
  return createHash("sha256").update(`${algOid}\0${curve}\0`).update(canonical).digest("hex");
}
