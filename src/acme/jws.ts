/**
 * The JWS layer of the ACME server (RFC 8555 §6.2–§6.4, RFC 7515, RFC 7638, RFC 8037):
 * parsing the flattened JSON serialization, checking the protected header, verifying the
 * signature against a JWK, JWK thumbprints, and External Account Binding (RFC 8555 §7.3.4).
 *
 * Pure: no I/O, no clock (node:crypto only). Nonce freshness (§6.5) and the `url` match
 * (§6.4) against the request URL are the server's: this module only requires that both are
 * present and well-formed. Every error is an {@link AcmeProblem}.
 */
import crypto from "node:crypto";
import { AcmeProblem } from "./problem.js";

/** A JSON Web Key (RFC 7517) as node:crypto types it. */
export type Jwk = crypto.JsonWebKey;

/** The JWS algorithms accepted for ACME requests (RFC 8555 §6.2: no `none`, no MACs). */
export const JWS_ALGORITHMS = ["ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/** MAC algorithms accepted for the inner JWS of an External Account Binding (§7.3.4). */
export const EAB_ALGORITHMS = ["HS256", "HS384", "HS512"] as const;
export type EabAlgorithm = (typeof EAB_ALGORITHMS)[number];

/** RSA account keys: at least 2048 bits; the upper bound keeps verification cheap. */
export const RSA_MIN_BITS = 2048;
export const RSA_MAX_BITS = 8192;

/** The decoded protected header of an ACME JWS. Other members are kept as they were sent. */
export interface JwsProtectedHeader {
  alg: JwsAlgorithm;
  nonce?: string;
  url: string;
  jwk?: Jwk;
  kid?: string;
  [member: string]: unknown;
}

/** A parsed, not yet verified, flattened JWS. */
export interface ParsedJws {
  /** The three members as sent (base64url). */
  protectedB64: string;
  payloadB64: string;
  signatureB64: string;
  header: JwsProtectedHeader;
  alg: JwsAlgorithm;
  /** Absent only when the caller allowed it (`requireNonce: false`). */
  nonce?: string;
  url: string;
  /** Exactly one of jwk / kid is set. */
  jwk?: Jwk;
  kid?: string;
  /** RFC 8555 §6.3: an empty payload is a POST-as-GET. */
  postAsGet: boolean;
  /** The decoded payload bytes (empty for POST-as-GET). */
  payloadBytes: Buffer;
  /** The payload parsed as JSON; undefined for POST-as-GET. */
  payload: unknown;
  signature: Buffer;
  /** ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)), RFC 7515 §5.2. */
  signingInput: Buffer;
}

export interface ParseJwsOptions {
  /** Require the `nonce` header (default true; RFC 8555 §6.5). */
  requireNonce?: boolean;
  /**
   * Which key reference the endpoint takes (RFC 8555 §6.2): "jwk" for newAccount and
   * revokeCert signed with the certificate key, "kid" for everything else. Default: either.
   */
  key?: "jwk" | "kid" | "either";
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Decodes strict base64url (RFC 7515 §2: no padding, no other characters). */
function b64url(value: string, what: string): Buffer {
  if (!B64URL.test(value) || value.length % 4 === 1) {
    throw new AcmeProblem("malformed", `JWS ${what} is not base64url`);
  }
  return Buffer.from(value, "base64url");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJsonObject(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new AcmeProblem("malformed", `JWS ${what} is not JSON`);
  }
  if (!isObject(v)) throw new AcmeProblem("malformed", `JWS ${what} is not a JSON object`);
  return v;
}

/** Reads the three members of a flattened JWS (RFC 7515 §7.2.2) and nothing else. */
function flattened(body: unknown): { p: string; pl: string; s: string } {
  let obj: unknown = body;
  if (typeof body === "string" || Buffer.isBuffer(body)) {
    try {
      obj = JSON.parse(body.toString());
    } catch {
      throw new AcmeProblem("malformed", "request body is not JSON");
    }
  }
  if (!isObject(obj)) throw new AcmeProblem("malformed", "request body is not a JWS object");
  // RFC 8555 §6.2: flattened serialization only, no unprotected header, one signature.
  if ("signatures" in obj) {
    throw new AcmeProblem("malformed", "JWS must use the flattened JSON serialization (one signature)");
  }
  if ("header" in obj) throw new AcmeProblem("malformed", "JWS unprotected header is not allowed");
  for (const k of Object.keys(obj)) {
    if (k !== "protected" && k !== "payload" && k !== "signature") {
      throw new AcmeProblem("malformed", `unexpected JWS member "${k}"`);
    }
  }
  const { protected: p, payload: pl, signature: s } = obj;
  if (typeof p !== "string" || p === "") throw new AcmeProblem("malformed", "JWS protected header missing");
  if (typeof pl !== "string") throw new AcmeProblem("malformed", "JWS payload missing");
  if (typeof s !== "string" || s === "") throw new AcmeProblem("malformed", "JWS signature missing");
  return { p, pl, s };
}

function isJwsAlgorithm(a: string): a is JwsAlgorithm {
  return (JWS_ALGORITHMS as readonly string[]).includes(a);
}

/**
 * Parses an ACME request body: a flattened JWS (RFC 8555 §6.2) whose protected header has
 * `alg` (an asymmetric algorithm of {@link JWS_ALGORITHMS}), `nonce`, `url` and exactly one
 * of `jwk` / `kid`. Does not verify the signature ({@link verifyJws}).
 */
export function parseJws(body: unknown, opts: ParseJwsOptions = {}): ParsedJws {
  const { p, pl, s } = flattened(body);
  const header = parseJsonObject(b64url(p, "protected header"), "protected header");
  const payloadBytes = b64url(pl, "payload");
  const signature = b64url(s, "signature");

  const alg = header.alg;
  if (typeof alg !== "string") throw new AcmeProblem("malformed", "JWS header has no alg");
  // RFC 8555 §6.2: "none" and MAC algorithms MUST NOT be accepted.
  if (!isJwsAlgorithm(alg)) {
    throw new AcmeProblem("badSignatureAlgorithm", `JWS algorithm "${alg}" is not accepted`, {
      algorithms: [...JWS_ALGORITHMS],
    });
  }
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; Sigil knows none
  // (this also refuses RFC 7797 unencoded payloads).
  if ("crit" in header) throw new AcmeProblem("malformed", "JWS crit header parameters are not supported");

  const nonce = header.nonce;
  if (nonce === undefined) {
    // RFC 8555 §6.5: a missing nonce is rejected as badNonce.
    if (opts.requireNonce ?? true) throw new AcmeProblem("badNonce", "JWS header has no nonce");
  } else if (typeof nonce !== "string" || nonce === "" || !B64URL.test(nonce)) {
    // RFC 8555 §6.5.1: the nonce is a base64url string.
    throw new AcmeProblem("badNonce", "JWS nonce is not a base64url string");
  }

  const url = header.url;
  // RFC 8555 §6.4: the url header is required.
  if (typeof url !== "string" || url === "") throw new AcmeProblem("malformed", "JWS header has no url");

  const hasJwk = "jwk" in header;
  const hasKid = "kid" in header;
  // RFC 8555 §6.2: "jwk" and "kid" are mutually exclusive; one of them is required.
  if (hasJwk && hasKid) throw new AcmeProblem("malformed", "JWS header has both jwk and kid");
  if (!hasJwk && !hasKid) throw new AcmeProblem("malformed", "JWS header has neither jwk nor kid");
  let jwk: Jwk | undefined;
  let kid: string | undefined;
  if (hasJwk) {
    if (!isObject(header.jwk)) throw new AcmeProblem("malformed", "JWS jwk is not a JSON object");
    jwk = header.jwk as Jwk;
  } else {
    if (typeof header.kid !== "string" || header.kid === "") {
      throw new AcmeProblem("malformed", "JWS kid is not a string");
    }
    kid = header.kid;
  }
  const want = opts.key ?? "either";
  if (want === "kid" && !kid)
    throw new AcmeProblem("malformed", "this request must be signed with the account kid, not a jwk");
  if (want === "jwk" && !jwk)
    throw new AcmeProblem("malformed", "this request must carry the public key as jwk, not a kid");

  const postAsGet = payloadBytes.length === 0;
  let payload: unknown;
  if (!postAsGet) {
    try {
      payload = JSON.parse(payloadBytes.toString("utf8"));
    } catch {
      throw new AcmeProblem("malformed", "JWS payload is not JSON");
    }
  }
  return {
    protectedB64: p,
    payloadB64: pl,
    signatureB64: s,
    header: header as JwsProtectedHeader,
    alg,
    ...(typeof nonce === "string" ? { nonce } : {}),
    url,
    ...(jwk ? { jwk } : {}),
    ...(kid ? { kid } : {}),
    postAsGet,
    payloadBytes,
    payload,
    signature,
    signingInput: Buffer.from(`${p}.${pl}`, "ascii"),
  };
}

/** JWK members that carry private key material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** The required public members per key type (RFC 7638 §3.2, RFC 8037 §2). */
const REQUIRED_MEMBERS: Record<string, readonly string[]> = {
  EC: ["crv", "kty", "x", "y"],
  RSA: ["e", "kty", "n"],
  OKP: ["crv", "kty", "x"],
};

function checkPublicMembers(jwk: unknown): Record<string, string> {
  if (!isObject(jwk)) throw new AcmeProblem("badPublicKey", "the JWK is not a JSON object");
  for (const m of PRIVATE_MEMBERS) {
    if (m in jwk) throw new AcmeProblem("badPublicKey", "the JWK carries private key material");
  }
  const kty = jwk.kty;
  if (typeof kty !== "string" || !Object.hasOwn(REQUIRED_MEMBERS, kty)) {
    throw new AcmeProblem("badPublicKey", `unsupported JWK key type ${JSON.stringify(kty ?? null)}`);
  }
  const out: Record<string, string> = {};
  for (const m of REQUIRED_MEMBERS[kty] ?? []) {
    const v = jwk[m];
    if (typeof v !== "string" || v === "") throw new AcmeProblem("badPublicKey", `the JWK has no "${m}"`);
    if (m !== "kty" && m !== "crv" && !B64URL.test(v)) {
      throw new AcmeProblem("badPublicKey", `the JWK member "${m}" is not base64url`);
    }
    out[m] = v;
  }
  return out;
}

/**
 * The public part of a JWK: only the required public members of its key type (RFC 7638
 * §3.2), so optional members (`kid`, `use`, `alg`, ...) are dropped. Refuses private keys.
 */
export function publicJwk(jwk: unknown): Jwk {
  return checkPublicMembers(jwk) as Jwk;
}

/**
 * RFC 7638 JWK thumbprint: the required members in lexicographic order, serialized with no
 * whitespace, hashed with SHA-256, base64url. Used for account uniqueness and key
 * authorizations (RFC 8555 §8.1).
 */
export function jwkThumbprint(jwk: unknown): string {
  const members = checkPublicMembers(jwk);
  // REQUIRED_MEMBERS lists each type's members already sorted; JSON.stringify keeps the order.
  const ordered: Record<string, string> = {};
  for (const [m, v] of Object.entries(members).sort(([a], [b]) => (a < b ? -1 : 1))) ordered[m] = v;
  return crypto.createHash("sha256").update(JSON.stringify(ordered), "utf8").digest("base64url");
}

/** The curve each EC algorithm requires (RFC 7518 §3.4). */
const EC_CURVE: Partial<Record<JwsAlgorithm, string>> = { ES256: "P-256", ES384: "P-384", ES512: "P-521" };

/**
 * Imports an ACME account key (public JWK) and checks it is one Sigil accepts: EC P-256,
 * P-384 or P-521, RSA of {@link RSA_MIN_BITS}..{@link RSA_MAX_BITS} bits, or Ed25519/Ed448.
 * Throws badPublicKey otherwise (RFC 8555 §6.7).
 */
export function importPublicJwk(jwk: unknown): crypto.KeyObject {
  const pub = checkPublicMembers(jwk);
  if (pub.kty === "EC" && !["P-256", "P-384", "P-521"].includes(pub.crv ?? "")) {
    throw new AcmeProblem("badPublicKey", `unsupported EC curve ${pub.crv}`);
  }
  if (pub.kty === "OKP" && pub.crv !== "Ed25519" && pub.crv !== "Ed448") {
    throw new AcmeProblem("badPublicKey", `unsupported OKP curve ${pub.crv}`);
  }
  let key: crypto.KeyObject;
  try {
    key = crypto.createPublicKey({ key: pub as crypto.JsonWebKey, format: "jwk" });
  } catch {
    throw new AcmeProblem("badPublicKey", "the JWK is not a valid public key");
  }
  if (pub.kty === "RSA") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw new AcmeProblem(
        "badPublicKey",
        `RSA key of ${bits} bits: ${RSA_MIN_BITS} to ${RSA_MAX_BITS} are accepted`,
      );
    }
  }
  return key;
}

/** Throws badSignatureAlgorithm when the key cannot make signatures of `alg` (RFC 7518 §3.1). */
function checkAlgMatchesKey(alg: string, pub: Record<string, string>): void {
  const ok = Object.hasOwn(EC_CURVE, alg)
    ? pub.kty === "EC" && pub.crv === EC_CURVE[alg as JwsAlgorithm]
    : alg === "RS256" || alg === "PS256"
      ? pub.kty === "RSA"
      : alg === "EdDSA"
        ? pub.kty === "OKP"
        : false;
  if (!ok) {
    const keyDesc = pub.crv ? `${pub.kty} ${pub.crv}` : pub.kty;
    throw new AcmeProblem("badSignatureAlgorithm", `JWS algorithm ${alg} does not fit a ${keyDesc} key`, {
      algorithms: [...JWS_ALGORITHMS],
    });
  }
}

/**
 * Verifies the signature of a parsed JWS with `jwk` (the header's jwk, or the account key
 * the kid names). Returns false on a wrong signature. Throws badPublicKey for a key Sigil
 * does not accept (including any JWK with private members) and badSignatureAlgorithm when
 * `alg` does not fit the key (ES256 needs P-256, ES384 P-384, ES512 P-521).
 */
export function verifyJws(parsed: ParsedJws, jwk: Jwk): boolean {
  const key = importPublicJwk(jwk);
  const pub = checkPublicMembers(jwk);
  const alg = parsed.alg;
  if (!isJwsAlgorithm(alg)) {
    throw new AcmeProblem("badSignatureAlgorithm", `JWS algorithm "${String(alg)}" is not accepted`, {
      algorithms: [...JWS_ALGORITHMS],
    });
  }
  checkAlgMatchesKey(alg, pub);
  const data = parsed.signingInput;
  const sig = parsed.signature;
  try {
    switch (alg) {
      // RFC 7518 §3.4: ECDSA signatures are R || S, fixed length (IEEE P1363), not DER.
      case "ES256":
        return crypto.verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, sig);
      case "ES384":
        return crypto.verify("sha384", data, { key, dsaEncoding: "ieee-p1363" }, sig);
      case "ES512":
        return crypto.verify("sha512", data, { key, dsaEncoding: "ieee-p1363" }, sig);
      // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256.
      case "RS256":
        return crypto.verify("sha256", data, { key, padding: crypto.constants.RSA_PKCS1_PADDING }, sig);
      // RFC 7518 §3.5: RSASSA-PSS, SHA-256, MGF1 SHA-256, salt of the hash length.
      case "PS256":
        return crypto.verify(
          "sha256",
          data,
          { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
          sig,
        );
      // RFC 8037 §3.1: EdDSA (Ed25519 or Ed448), no pre-hash.
      case "EdDSA":
        return crypto.verify(null, data, key, sig);
    }
  } catch {
    // A signature of the wrong length or shape is a wrong signature.
    return false;
  }
  return false;
}

/**
 * {@link verifyJws}, throwing unauthorized when the signature is wrong (RFC 8555 §6.2: the
 * request is not authorized by the key it names).
 */
export function requireValidJws(parsed: ParsedJws, jwk: Jwk): void {
  if (!verifyJws(parsed, jwk)) throw new AcmeProblem("unauthorized", "JWS signature does not verify");
}

/** RFC 8555 §6.4: the `url` header must equal the URL the request was sent to. */
export function requireUrl(parsed: ParsedJws, requestUrl: string): void {
  if (parsed.url !== requestUrl) {
    throw new AcmeProblem("unauthorized", "JWS url header does not match the request URL");
  }
}

/** A parsed External Account Binding whose MAC is not yet checked. */
export interface ParsedEab {
  kid: string;
  alg: EabAlgorithm;
  signingInput: Buffer;
  mac: Buffer;
}

const HMAC_HASH: Record<EabAlgorithm, string> = { HS256: "sha256", HS384: "sha384", HS512: "sha512" };

/**
 * Parses the `externalAccountBinding` member of a newAccount payload (RFC 8555 §7.3.4):
 * a flattened JWS with a MAC algorithm, a `kid`, no `nonce`, the `url` of the newAccount
 * request, and the outer account key as payload. Throws externalAccountRequired when it is
 * missing, malformed for a wrong shape, unauthorized when it binds another URL or key.
 */
export function parseEab(eab: unknown, accountJwk: Jwk, url: string): ParsedEab {
  if (eab === undefined || eab === null) {
    throw new AcmeProblem("externalAccountRequired", "this CA requires an external account binding");
  }
  const { p, pl, s } = flattened(eab);
  const header = parseJsonObject(b64url(p, "EAB protected header"), "EAB protected header");
  const alg = header.alg;
  if (typeof alg !== "string" || !(EAB_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new AcmeProblem(
      "malformed",
      `EAB algorithm ${JSON.stringify(alg ?? null)} is not HS256, HS384 or HS512`,
    );
  }
  if ("crit" in header) throw new AcmeProblem("malformed", "EAB crit header parameters are not supported");
  // RFC 8555 §7.3.4: the inner JWS "MUST NOT contain a nonce".
  if ("nonce" in header) throw new AcmeProblem("malformed", "EAB header must not contain a nonce");
  if ("jwk" in header) throw new AcmeProblem("malformed", "EAB header must not contain a jwk");
  const kid = header.kid;
  if (typeof kid !== "string" || kid === "") throw new AcmeProblem("malformed", "EAB header has no kid");
  if (typeof header.url !== "string") throw new AcmeProblem("malformed", "EAB header has no url");
  // RFC 8555 §7.3.4: "url" ... MUST be the same value as in the outer JWS (the newAccount URL).
  if (header.url !== url) throw new AcmeProblem("unauthorized", "EAB url is not the newAccount URL");
  const payloadBytes = b64url(pl, "EAB payload");
  const inner = parseJsonObject(payloadBytes, "EAB payload");
  // RFC 8555 §7.3.4: the payload is the account key (the outer jwk). Compared as RFC 7638
  // thumbprints, so member order and optional members do not matter.
  let same: boolean;
  try {
    same = jwkThumbprint(inner) === jwkThumbprint(accountJwk);
  } catch (e) {
    if (e instanceof AcmeProblem) throw new AcmeProblem("malformed", `EAB payload: ${e.detail}`);
    throw e;
  }
  if (!same) throw new AcmeProblem("unauthorized", "EAB payload is not the account key");
  return {
    kid,
    alg: alg as EabAlgorithm,
    signingInput: Buffer.from(`${p}.${pl}`, "ascii"),
    mac: b64url(s, "EAB signature"),
  };
}

/**
 * Checks the MAC of a parsed EAB with the HMAC key of its kid (undefined: no such kid).
 * Throws unauthorized when the kid is unknown or the MAC is wrong. Constant-time compare.
 */
export function checkEabMac(parsed: ParsedEab, hmacKey: Buffer | undefined): void {
  if (!hmacKey) throw new AcmeProblem("unauthorized", "unknown EAB key identifier");
  const expected = crypto.createHmac(HMAC_HASH[parsed.alg], hmacKey).update(parsed.signingInput).digest();
  // The MAC length is fixed by the algorithm, so comparing lengths first reveals nothing.
  if (expected.length !== parsed.mac.length || !crypto.timingSafeEqual(expected, parsed.mac)) {
    throw new AcmeProblem("unauthorized", "EAB signature does not verify");
  }
}

/**
 * Verifies an External Account Binding (RFC 8555 §7.3.4) in one step and returns its kid.
 * `lookup` gives the HMAC key of a kid (undefined when unknown). For a store lookup that is
 * async, use {@link parseEab}, look the key up, then {@link checkEabMac}.
 */
export function verifyEab(
  eab: unknown,
  accountJwk: Jwk,
  url: string,
  lookup: (kid: string) => Buffer | undefined,
): string {
  const parsed = parseEab(eab, accountJwk, url);
  checkEabMac(parsed, lookup(parsed.kid));
  return parsed.kid;
}
