import { describe, it } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import * as jose from "jose";
import {
  checkEabMac,
  importPublicJwk,
  jwkThumbprint,
  parseEab,
  parseJws,
  publicJwk,
  requireUrl,
  requireValidJws,
  verifyEab,
  verifyJws,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  type Jwk,
} from "./jws.js";
import { AcmeProblem, type AcmeProblemType } from "./problem.js";

const URL_NEW_ACCOUNT = "http://127.0.0.1:8555/acme/genfic-system/new-account";
const NONCE = "Zm9vYmFyYmF6cXV1eA";

const b64 = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

interface KeyCase {
  alg: JwsAlgorithm;
  pair: crypto.KeyPairKeyObjectResult;
}

const P256 = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
const P384 = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" });
const RSA2048 = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const ED25519 = crypto.generateKeyPairSync("ed25519");

const keys: KeyCase[] = [
  { alg: "ES256", pair: P256 },
  { alg: "ES384", pair: P384 },
  { alg: "ES512", pair: crypto.generateKeyPairSync("ec", { namedCurve: "P-521" }) },
  { alg: "RS256", pair: RSA2048 },
  { alg: "PS256", pair: crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }) },
  { alg: "EdDSA", pair: ED25519 },
  { alg: "EdDSA", pair: crypto.generateKeyPairSync("ed448") },
];

function jwkOf(k: crypto.KeyObject): Jwk {
  return k.export({ format: "jwk" }) as Jwk;
}

/** Signs like an ACME client would, with node:crypto directly. */
function nodeSign(alg: string, key: crypto.KeyObject, data: Buffer): Buffer {
  switch (alg) {
    case "ES256":
      return crypto.sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    case "ES384":
      return crypto.sign("sha384", data, { key, dsaEncoding: "ieee-p1363" });
    case "ES512":
      return crypto.sign("sha512", data, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return crypto.sign("sha256", data, key);
    case "PS256":
      return crypto.sign("sha256", data, {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    case "EdDSA":
      return crypto.sign(null, data, key);
    default:
      throw new Error(`test helper cannot sign ${alg}`);
  }
}

function makeJws(
  alg: string,
  key: crypto.KeyObject,
  header: Record<string, unknown>,
  payload: unknown,
): { protected: string; payload: string; signature: string } {
  const p = b64(JSON.stringify({ alg, ...header }));
  const pl = payload === "" ? "" : b64(JSON.stringify(payload));
  const sig = nodeSign(alg, key, Buffer.from(`${p}.${pl}`));
  return { protected: p, payload: pl, signature: b64(sig) };
}

function problemOf(fn: () => unknown): AcmeProblem {
  try {
    fn();
  } catch (e) {
    if (e instanceof AcmeProblem) return e;
    throw e;
  }
  assert.fail("expected an AcmeProblem");
}

function assertProblem(fn: () => unknown, type: AcmeProblemType): AcmeProblem {
  const p = problemOf(fn);
  assert.equal(p.type, type, `got ${p.type}: ${p.detail}`);
  return p;
}

describe("AcmeProblem", () => {
  it("renders the RFC 8555 §6.7 problem document", () => {
    const p = new AcmeProblem("rejectedIdentifier", "not allowed", {
      subproblems: [
        {
          type: "rejectedIdentifier",
          detail: "x.example.com",
          identifier: { type: "dns", value: "x.example.com" },
        },
      ],
    });
    assert.equal(p.status, 400);
    assert.deepEqual(p.toJson(), {
      type: "urn:ietf:params:acme:error:rejectedIdentifier",
      detail: "not allowed",
      status: 400,
      subproblems: [
        {
          type: "urn:ietf:params:acme:error:rejectedIdentifier",
          detail: "x.example.com",
          identifier: { type: "dns", value: "x.example.com" },
        },
      ],
    });
    assert.equal(new AcmeProblem("unauthorized", "x").status, 403);
    assert.equal(new AcmeProblem("rateLimited", "x").status, 429);
    assert.equal(new AcmeProblem("serverInternal", "x").status, 500);
    assert.equal(new AcmeProblem("malformed", "x", { status: 405 }).toJson().status, 405);
    assert.deepEqual(new AcmeProblem("badNonce", "stale").toStored(), {
      type: "urn:ietf:params:acme:error:badNonce",
      detail: "stale",
      status: 400,
    });
  });
});

describe("parseJws / verifyJws with node:crypto signatures", () => {
  for (const { alg, pair } of keys) {
    const label = `${alg} ${pair.publicKey.asymmetricKeyType}`;
    it(`${label}: a jwk-signed request verifies; tampering does not`, () => {
      const jwk = jwkOf(pair.publicKey);
      const body = makeJws(
        alg,
        pair.privateKey,
        { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk },
        { termsOfServiceAgreed: true },
      );
      const parsed = parseJws(body, { key: "jwk" });
      assert.equal(parsed.alg, alg);
      assert.equal(parsed.nonce, NONCE);
      assert.equal(parsed.url, URL_NEW_ACCOUNT);
      assert.deepEqual(parsed.payload, { termsOfServiceAgreed: true });
      assert.equal(parsed.postAsGet, false);
      assert.equal(verifyJws(parsed, parsed.jwk!), true);
      requireValidJws(parsed, jwk);

      // A changed payload under the same signature.
      const tampered = { ...body, payload: b64(JSON.stringify({ termsOfServiceAgreed: false })) };
      assert.equal(verifyJws(parseJws(tampered), jwk), false);
      assertProblem(() => requireValidJws(parseJws(tampered), jwk), "unauthorized");
      // A flipped signature bit.
      const sig = Buffer.from(body.signature, "base64url");
      sig[sig.length - 1] = sig[sig.length - 1]! ^ 1;
      assert.equal(verifyJws(parseJws({ ...body, signature: b64(sig) }), jwk), false);
      // A truncated signature is a wrong signature, not a crash.
      assert.equal(verifyJws(parseJws({ ...body, signature: b64(sig.subarray(0, 10)) }), jwk), false);
    });
  }

  it("a kid-signed POST-as-GET verifies with the account key", () => {
    const { privateKey, publicKey } = P256;
    const kid = "http://127.0.0.1:8555/acme/genfic-system/acct/abc";
    const body = makeJws("ES256", privateKey, { nonce: NONCE, url: kid, kid }, "");
    const parsed = parseJws(JSON.stringify(body), { key: "kid" });
    assert.equal(parsed.postAsGet, true);
    assert.equal(parsed.payload, undefined);
    assert.equal(parsed.payloadBytes.length, 0);
    assert.equal(parsed.kid, kid);
    assert.equal(parsed.jwk, undefined);
    assert.equal(verifyJws(parsed, jwkOf(publicKey)), true);
    requireUrl(parsed, kid);
    assertProblem(() => requireUrl(parsed, kid + "x"), "unauthorized");
    assertProblem(() => parseJws(body, { key: "jwk" }), "malformed");
  });

  it("a signature by another key is refused (unauthorized)", () => {
    const signer = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
    const other = jwkOf(P256.publicKey);
    const body = makeJws("ES256", signer.privateKey, { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: other }, {});
    const parsed = parseJws(body);
    assert.equal(verifyJws(parsed, other), false);
    assertProblem(() => requireValidJws(parsed, other), "unauthorized");
  });

  it("a DER-encoded ECDSA signature (not JWS's R||S) does not verify", () => {
    const { privateKey, publicKey } = P256;
    const jwk = jwkOf(publicKey);
    const p = b64(JSON.stringify({ alg: "ES256", nonce: NONCE, url: URL_NEW_ACCOUNT, jwk }));
    const pl = b64("{}");
    const der = crypto.sign("sha256", Buffer.from(`${p}.${pl}`), privateKey);
    assert.equal(verifyJws(parseJws({ protected: p, payload: pl, signature: b64(der) }), jwk), false);
  });

  it("alg that does not fit the key is badSignatureAlgorithm", () => {
    const p384 = P384;
    const jwk = jwkOf(p384.publicKey);
    // ES256 header, P-384 key (signature made with SHA-256 over P-384 by hand).
    const p = b64(JSON.stringify({ alg: "ES256", nonce: NONCE, url: URL_NEW_ACCOUNT, jwk }));
    const sig = crypto.sign("sha256", Buffer.from(`${p}.`), {
      key: p384.privateKey,
      dsaEncoding: "ieee-p1363",
    });
    const parsed = parseJws({ protected: p, payload: "", signature: b64(sig) });
    const prob = assertProblem(() => verifyJws(parsed, jwk), "badSignatureAlgorithm");
    assert.ok(prob.toJson().algorithms?.includes("ES384"));
    // RS256 header with an EC key, EdDSA header with an RSA key.
    const ec = makeJws("ES256", P256.privateKey, { nonce: NONCE, url: URL_NEW_ACCOUNT, kid: "k" }, {});
    const asRs = parseJws({
      ...ec,
      protected: b64(JSON.stringify({ alg: "RS256", nonce: NONCE, url: URL_NEW_ACCOUNT, kid: "k" })),
    });
    assertProblem(() => verifyJws(asRs, jwkOf(P256.publicKey)), "badSignatureAlgorithm");
    const asEd = parseJws({
      ...ec,
      protected: b64(JSON.stringify({ alg: "EdDSA", nonce: NONCE, url: URL_NEW_ACCOUNT, kid: "k" })),
    });
    assertProblem(() => verifyJws(asEd, jwkOf(RSA2048.publicKey)), "badSignatureAlgorithm");
  });

  it("alg none and MAC algorithms are refused (RFC 8555 §6.2)", () => {
    const jwk = jwkOf(P256.publicKey);
    const none = {
      protected: b64(JSON.stringify({ alg: "none", nonce: NONCE, url: URL_NEW_ACCOUNT, jwk })),
      payload: b64("{}"),
      signature: "",
    };
    assertProblem(() => parseJws({ ...none, signature: "AA" }), "badSignatureAlgorithm");
    assertProblem(() => parseJws(none), "malformed");
    const secret = crypto.randomBytes(32);
    const p = b64(JSON.stringify({ alg: "HS256", nonce: NONCE, url: URL_NEW_ACCOUNT, jwk }));
    const mac = crypto
      .createHmac("sha256", secret)
      .update(`${p}.${b64("{}")}`)
      .digest();
    const prob = assertProblem(
      () => parseJws({ protected: p, payload: b64("{}"), signature: b64(mac) }),
      "badSignatureAlgorithm",
    );
    assert.deepEqual(prob.toJson().algorithms, [...JWS_ALGORITHMS]);
    assertProblem(
      () =>
        parseJws({
          ...none,
          protected: b64(JSON.stringify({ nonce: NONCE, url: "u", jwk })),
          signature: "AA",
        }),
      "malformed",
    );
  });

  it("header rules: jwk xor kid, url, nonce, crit", () => {
    const { privateKey, publicKey } = P256;
    const jwk = jwkOf(publicKey);
    const sign = (h: Record<string, unknown>) => makeJws("ES256", privateKey, h, {});
    assertProblem(() => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT, jwk, kid: "k" })), "malformed");
    assertProblem(() => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT })), "malformed");
    assertProblem(() => parseJws(sign({ nonce: NONCE, jwk })), "malformed");
    assertProblem(() => parseJws(sign({ nonce: NONCE, url: 7, jwk })), "malformed");
    assertProblem(() => parseJws(sign({ url: URL_NEW_ACCOUNT, jwk })), "badNonce");
    assertProblem(() => parseJws(sign({ nonce: "not base64url!", url: URL_NEW_ACCOUNT, jwk })), "badNonce");
    assertProblem(() => parseJws(sign({ nonce: 5, url: URL_NEW_ACCOUNT, jwk })), "badNonce");
    const noNonce = parseJws(sign({ url: URL_NEW_ACCOUNT, jwk }), { requireNonce: false });
    assert.equal(noNonce.nonce, undefined);
    assertProblem(() => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: "x" })), "malformed");
    assertProblem(() => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT, kid: 3 })), "malformed");
    assertProblem(
      () => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT, jwk, crit: ["b64"], b64: false })),
      "malformed",
    );
    assertProblem(
      () => parseJws(sign({ nonce: NONCE, url: URL_NEW_ACCOUNT, jwk }), { key: "kid" }),
      "malformed",
    );
  });

  it("serialization rules: flattened only, base64url, JSON", () => {
    const { privateKey, publicKey } = P256;
    const body = makeJws(
      "ES256",
      privateKey,
      { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: jwkOf(publicKey) },
      {},
    );
    assert.equal(parseJws(Buffer.from(JSON.stringify(body))).alg, "ES256");
    assertProblem(() => parseJws("not json"), "malformed");
    assertProblem(() => parseJws(null), "malformed");
    assertProblem(() => parseJws([body]), "malformed");
    assertProblem(() => parseJws({ ...body, header: { kid: "x" } }), "malformed");
    assertProblem(
      () =>
        parseJws({
          payload: body.payload,
          signatures: [{ protected: body.protected, signature: body.signature }],
        }),
      "malformed",
    );
    assertProblem(() => parseJws({ ...body, extra: 1 }), "malformed");
    assertProblem(() => parseJws({ protected: body.protected, signature: body.signature }), "malformed");
    assertProblem(() => parseJws({ ...body, signature: "" }), "malformed");
    assertProblem(() => parseJws({ ...body, payload: body.payload + "=" }), "malformed");
    assertProblem(() => parseJws({ ...body, signature: body.signature.replace(/.$/, "+") }), "malformed");
    assertProblem(() => parseJws({ ...body, protected: b64("[1]") }), "malformed");
    assertProblem(() => parseJws({ ...body, protected: b64("{") }), "malformed");
    assertProblem(() => parseJws({ ...body, payload: b64("{not json") }), "malformed");
  });
});

describe("account keys (badPublicKey)", () => {
  it("refuses private JWKs, weak RSA, foreign curves and broken points", () => {
    const { privateKey, publicKey } = P256;
    const priv = jwkOf(privateKey);
    assert.ok(priv.d);
    const body = makeJws("ES256", privateKey, { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: priv }, {});
    const parsed = parseJws(body);
    const prob = assertProblem(() => verifyJws(parsed, parsed.jwk!), "badPublicKey");
    assert.ok(!prob.detail.includes(priv.d!), "the private key never appears in the problem");
    assertProblem(() => publicJwk(priv), "badPublicKey");
    assertProblem(() => jwkThumbprint(priv), "badPublicKey");
    assertProblem(() => importPublicJwk({ kty: "oct", k: "AAAA" }), "badPublicKey");
    assertProblem(() => importPublicJwk({ kty: "oct" }), "badPublicKey");
    assertProblem(() => importPublicJwk({ kty: "toString" }), "badPublicKey");
    assertProblem(() => importPublicJwk({ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA" }), "badPublicKey");
    const pub = jwkOf(publicKey);
    assertProblem(() => importPublicJwk({ ...pub, y: pub.x }), "badPublicKey"); // not on the curve
    assertProblem(() => importPublicJwk({ kty: "EC", crv: "secp256k1", x: pub.x, y: pub.y }), "badPublicKey");
    assertProblem(
      () =>
        importPublicJwk({
          kty: "OKP",
          crv: "X25519",
          x: jwkOf(crypto.generateKeyPairSync("x25519").publicKey).x,
        }),
      "badPublicKey",
    );
    const weak = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 });
    const weakBody = makeJws(
      "RS256",
      weak.privateKey,
      { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: jwkOf(weak.publicKey) },
      {},
    );
    assertProblem(() => verifyJws(parseJws(weakBody), jwkOf(weak.publicKey)), "badPublicKey");
    assertProblem(() => importPublicJwk("nope"), "badPublicKey");
  });

  it("publicJwk keeps only the required public members", () => {
    const rsa = jwkOf(RSA2048.publicKey);
    assert.deepEqual(publicJwk({ ...rsa, kid: "x", use: "sig", alg: "RS256" }), {
      e: rsa.e,
      kty: "RSA",
      n: rsa.n,
    });
    const ec = jwkOf(P256.publicKey);
    assert.deepEqual(Object.keys(publicJwk(ec)).sort(), ["crv", "kty", "x", "y"]);
    const ed = jwkOf(ED25519.publicKey);
    assert.deepEqual(publicJwk(ed), { crv: "Ed25519", kty: "OKP", x: ed.x });
  });
});

describe("cross-check with jose (an independent JOSE implementation)", () => {
  // jose 6 no longer implements Ed448; Ed448 is covered by the node:crypto tests above.
  const joseCases = keys.filter((k) => k.pair.publicKey.asymmetricKeyType !== "ed448");

  for (const { alg, pair } of joseCases) {
    const label = `${alg} ${pair.publicKey.asymmetricKeyType}`;
    it(`${label}: jose FlattenedSign verifies with ours; thumbprints agree`, async () => {
      const jwk = (await jose.exportJWK(pair.publicKey)) as Jwk;
      const payload = new TextEncoder().encode(
        JSON.stringify({ identifiers: [{ type: "dns", value: "a.genfic.internal" }] }),
      );
      const jws = await new jose.FlattenedSign(payload)
        .setProtectedHeader({ alg, nonce: NONCE, url: URL_NEW_ACCOUNT, jwk: jwk as jose.JWK })
        .sign(pair.privateKey);
      const parsed = parseJws(JSON.parse(JSON.stringify(jws)));
      assert.equal(verifyJws(parsed, parsed.jwk!), true);
      assert.deepEqual(parsed.payload, { identifiers: [{ type: "dns", value: "a.genfic.internal" }] });
      assert.equal(jwkThumbprint(jwk), await jose.calculateJwkThumbprint(jwk as jose.JWK, "sha256"));
      // Optional members do not change the thumbprint (RFC 7638 §3.2).
      assert.equal(jwkThumbprint({ ...jwk, kid: "x", use: "sig" }), jwkThumbprint(jwk));

      // And the other way: our (node:crypto) signature verifies with jose.
      const ours = makeJws(alg, pair.privateKey, { nonce: NONCE, url: URL_NEW_ACCOUNT, jwk }, { a: 1 });
      const res = await jose.flattenedVerify(ours, pair.publicKey);
      assert.deepEqual(JSON.parse(new TextDecoder().decode(res.payload)), { a: 1 });
    });
  }

  it("RFC 7638 §3.1 example thumbprint", () => {
    const jwk = {
      kty: "RSA",
      n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
      alg: "RS256",
      kid: "2011-04-29",
    };
    assert.equal(jwkThumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });
});

describe("External Account Binding (RFC 8555 §7.3.4)", () => {
  const account = P256;
  const accountJwk = jwkOf(account.publicKey);
  const hmacKey = crypto.randomBytes(32);
  const KID = "eab-kid-1";
  const lookup = (kid: string) => (kid === KID ? hmacKey : undefined);

  async function joseEab(opts: {
    alg?: string;
    key?: Uint8Array;
    url?: string;
    payloadJwk?: Jwk;
    header?: Record<string, unknown>;
  }): Promise<jose.FlattenedJWS> {
    const payload = new TextEncoder().encode(JSON.stringify(opts.payloadJwk ?? accountJwk));
    return new jose.FlattenedSign(payload)
      .setProtectedHeader({
        alg: opts.alg ?? "HS256",
        kid: KID,
        url: opts.url ?? URL_NEW_ACCOUNT,
        ...opts.header,
      })
      .sign(opts.key ?? hmacKey);
  }

  it("a good binding (made by jose) returns its kid; HS384 and HS512 too", async () => {
    assert.equal(verifyEab(await joseEab({}), accountJwk, URL_NEW_ACCOUNT, lookup), KID);
    assert.equal(verifyEab(await joseEab({ alg: "HS384" }), accountJwk, URL_NEW_ACCOUNT, lookup), KID);
    assert.equal(verifyEab(await joseEab({ alg: "HS512" }), accountJwk, URL_NEW_ACCOUNT, lookup), KID);
    // The payload JWK may carry optional members or another order: compared by thumbprint.
    const reordered = { y: accountJwk.y, x: accountJwk.x, kty: "EC", crv: "P-256", kid: "whatever" };
    assert.equal(
      verifyEab(await joseEab({ payloadJwk: reordered }), accountJwk, URL_NEW_ACCOUNT, lookup),
      KID,
    );
    // The split form for an async key lookup.
    const parsed = parseEab(await joseEab({}), accountJwk, URL_NEW_ACCOUNT);
    assert.equal(parsed.kid, KID);
    checkEabMac(parsed, hmacKey);
  });

  it("a wrong MAC or unknown kid is unauthorized", async () => {
    const wrongKey = await joseEab({ key: crypto.randomBytes(32) });
    assertProblem(() => verifyEab(wrongKey, accountJwk, URL_NEW_ACCOUNT, lookup), "unauthorized");
    const good = await joseEab({});
    const mac = Buffer.from(good.signature, "base64url");
    mac[0] = mac[0]! ^ 0x80;
    assertProblem(
      () => verifyEab({ ...good, signature: b64(mac) }, accountJwk, URL_NEW_ACCOUNT, lookup),
      "unauthorized",
    );
    assertProblem(
      () => verifyEab({ ...good, signature: b64(mac.subarray(1)) }, accountJwk, URL_NEW_ACCOUNT, lookup),
      "unauthorized",
    );
    assertProblem(() => verifyEab(good, accountJwk, URL_NEW_ACCOUNT, () => undefined), "unauthorized");
  });

  it("a binding for another URL or another key is unauthorized", async () => {
    const otherUrl = await joseEab({ url: "http://127.0.0.1:8555/acme/other-ca/new-account" });
    assertProblem(() => verifyEab(otherUrl, accountJwk, URL_NEW_ACCOUNT, lookup), "unauthorized");
    const otherKey = await joseEab({ payloadJwk: jwkOf(P384.publicKey) });
    assertProblem(() => verifyEab(otherKey, accountJwk, URL_NEW_ACCOUNT, lookup), "unauthorized");
  });

  it("a missing binding is externalAccountRequired; a malformed one is malformed", async () => {
    assertProblem(() => verifyEab(undefined, accountJwk, URL_NEW_ACCOUNT, lookup), "externalAccountRequired");
    assertProblem(() => verifyEab(null, accountJwk, URL_NEW_ACCOUNT, lookup), "externalAccountRequired");
    assertProblem(() => verifyEab("x", accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
    assertProblem(() => verifyEab({}, accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
    // An asymmetric inner JWS is not a MAC.
    const es = makeJws("ES256", account.privateKey, { kid: KID, url: URL_NEW_ACCOUNT }, accountJwk);
    assertProblem(() => verifyEab(es, accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
    // RFC 8555 §7.3.4: no nonce in the inner JWS.
    const withNonce = await joseEab({ header: { nonce: NONCE } });
    assertProblem(() => verifyEab(withNonce, accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
    const noKid = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify(accountJwk)))
      .setProtectedHeader({ alg: "HS256", url: URL_NEW_ACCOUNT })
      .sign(hmacKey);
    assertProblem(() => verifyEab(noKid, accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
    const notJwk = await new jose.FlattenedSign(new TextEncoder().encode(JSON.stringify({ hello: 1 })))
      .setProtectedHeader({ alg: "HS256", kid: KID, url: URL_NEW_ACCOUNT })
      .sign(hmacKey);
    assertProblem(() => verifyEab(notJwk, accountJwk, URL_NEW_ACCOUNT, lookup), "malformed");
  });
});
