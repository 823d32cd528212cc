import "reflect-metadata";
import * as asnOcsp from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Extension, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes, verify as cryptoVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { SigilError, isSigilError } from "../errors.js";
import type { KeyType } from "../keys/types.js";
import { describePublicKey } from "./algorithms.js";
import { parseCertificate } from "./cert-reader.js";
import { buildCertificate, makeIssuerTemplate } from "./certificate.js";
import type { IssuerTemplate } from "./certificate.js";
import { bool, explicit, generalizedTime, intBytes, octetString, oid, seq, toPem } from "./der.js";
import { encodeDn, parseDn } from "./dn.js";
import { HashOid, OcspOid } from "./oids.js";
import {
  MAX_OCSP_CERT_IDS,
  MAX_OCSP_REQUEST_BYTES,
  OCSP_HASHES,
  buildOcspResponse,
  buildResponseData,
  certIdFor,
  certIdFromPrefix,
  certIdPrefix,
  issuerHashes,
  makeResponderTemplate,
  ocspErrorResponse,
  parseOcspRequest,
  readOcspResponseTimes,
} from "./ocsp.js";
import type { OcspErrorStatus, OcspHash, OcspResponderTemplate, OcspSingleInput } from "./ocsp.js";
import { PROFILES } from "./profiles.js";
import type { Profile } from "./profiles.js";
import { newSerial, serialToHex } from "./serial.js";
import { makeSigner, openssl, tempDir } from "./testkit.test.js";
import type { TestKey } from "./testkit.test.js";

const DAY = 86_400_000;
/** Real time: openssl checks thisUpdate/nextUpdate and certificate validity against its clock. */
const NOW = Math.floor(Date.now() / 1000) * 1000;

const HASH_OIDS: Record<OcspHash, string> = HashOid;

// ---------------------------------------------------------------------------------------
// A small hierarchy built by Sigil's own writer
// ---------------------------------------------------------------------------------------

interface Cert {
  key: TestKey;
  der: Buffer;
  subjectDer: Buffer;
  serialHex: string;
}

interface Ca extends Cert {
  template: IssuerTemplate;
}

async function makeRoot(keyType: KeyType, cn: string): Promise<Ca> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(parseDn(`/C=BE/O=Gentoo Fictional, Inc./CN=${cn}`));
  const self = makeIssuerTemplate({ issuerSubjectDer: subjectDer, issuerSpki: key.spki, signer: key });
  const serial = newSerial(randomBytes(16));
  const der = await buildCertificate(self, {
    serial,
    notBefore: NOW - DAY,
    notAfter: NOW + 365 * DAY,
    subjectDer,
    spki: key.spki,
    profile: PROFILES.ca!,
    publicKey: describePublicKey(key.spki),
    sans: [],
    pathLen: 0,
    selfSigned: true,
  });
  const template = makeIssuerTemplate({
    issuerCertDer: der,
    issuerSubjectDer: subjectDer,
    issuerSpki: key.spki,
    signer: key,
    ocspUrl: "http://127.0.0.1:1/ocsp",
  });
  return { key, der, subjectDer, serialHex: serialToHex(serial), template };
}

async function issue(ca: Ca, keyType: KeyType, cn: string, profile: Profile, serial?: Buffer): Promise<Cert> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(parseDn(`/O=Gentoo Fictional, Inc./CN=${cn}`));
  const s = serial ?? newSerial(randomBytes(16));
  const der = await buildCertificate(ca.template, {
    serial: s,
    notBefore: NOW - 3_600_000,
    notAfter: NOW + 30 * DAY,
    subjectDer,
    spki: key.spki,
    profile,
    publicKey: describePublicKey(key.spki),
    sans: profile.sanTypes.includes("dns") ? [{ type: "dns", value: cn }] : [],
  });
  return { key, der, subjectDer, serialHex: serialToHex(s) };
}

let ca: Ca;
let good: Cert;
let revoked: Cert;
let unknown: Cert;
/** A leaf whose serial has its top bit set: its INTEGER carries a leading 0x00. */
let signBit: Cert;
const responders = new Map<KeyType, Cert>();

before(async () => {
  ca = await makeRoot("p256", "GenFic OCSP Test CA");
  good = await issue(ca, "p256", "good.genfic.example", PROFILES.system!);
  revoked = await issue(ca, "p256", "revoked.genfic.example", PROFILES.system!);
  unknown = await issue(ca, "p256", "unknown.genfic.example", PROFILES.system!);
  const high = randomBytes(16);
  high[0] = 0x80 | high[0]!;
  signBit = await issue(ca, "p256", "signbit.genfic.example", PROFILES.system!, high);
  for (const kt of ["p256", "rsa2048", "ed25519"] as KeyType[])
    responders.set(kt, await issue(ca, kt, `ocsp-${kt}.genfic.example`, PROFILES.ocsp!));
});

function spkiBits(spki: Buffer): Buffer {
  return Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey);
}

/** CertID built with @peculiar/asn1-ocsp from hashes computed here (the oracle). */
function peculiarCertId(
  issuer: Cert,
  serialHex: string,
  hash: OcspHash,
  params: "null" | "absent" = "null",
): asnOcsp.CertID {
  const h = (b: Buffer) => createHash(hash).update(b).digest();
  let hex = serialHex.length % 2 ? "0" + serialHex : serialHex;
  if (parseInt(hex[0]!, 16) >= 8) hex = "00" + hex;
  return new asnOcsp.CertID({
    hashAlgorithm: new AlgorithmIdentifier({
      algorithm: HASH_OIDS[hash],
      ...(params === "null" ? { parameters: new Uint8Array([5, 0]).buffer } : {}),
    }),
    issuerNameHash: new OctetString(h(issuer.subjectDer)),
    issuerKeyHash: new OctetString(h(spkiBits(issuer.key.spki))),
    serialNumber: new Uint8Array(Buffer.from(hex, "hex")).buffer,
  });
}

function peculiarRequest(certIds: asnOcsp.CertID[], nonce?: Buffer, extra: Extension[] = []): Buffer {
  const exts: Extension[] = [...extra];
  if (nonce)
    exts.push(
      new Extension({
        extnID: asnOcsp.id_pkix_ocsp_nonce,
        critical: false,
        extnValue: new OctetString(nonce),
      }),
    );
  const req = new asnOcsp.OCSPRequest({
    tbsRequest: new asnOcsp.TBSRequest({
      requestList: certIds.map((c) => new asnOcsp.Request({ reqCert: c })),
      ...(exts.length ? { requestExtensions: exts } : {}),
    }),
  });
  return Buffer.from(AsnConvert.serialize(req));
}

/** extnValue content for a 16..32-octet nonce, as OpenSSL and RFC 9654 §2.1 write it. */
function nonceValue(n = 16): Buffer {
  return octetString(randomBytes(n));
}

function assertBadInput(f: () => unknown, what: string): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SigilError, `${what}: threw ${String(e)} instead of a SigilError`);
    assert.equal(e.code, "bad_input", `${what}: code ${e.code}`);
    assert.ok(!e.message.includes("\n"), `${what}: message is not one line`);
    return;
  }
  assert.fail(`${what}: did not throw`);
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

describe("parseOcspRequest reads what @peculiar/asn1-ocsp writes", () => {
  for (const hash of ["sha1", "sha256"] as OcspHash[])
    for (const withNonce of [true, false])
      it(`${hash}, ${withNonce ? "with" : "without"} nonce, several CertIDs`, () => {
        const leaves = [good, revoked, unknown, signBit];
        const ids = leaves.map((l, i) => peculiarCertId(ca, l.serialHex, hash, i % 2 ? "absent" : "null"));
        const nonce = withNonce ? nonceValue(32) : undefined;
        const der = peculiarRequest(ids, nonce);
        const r = parseOcspRequest(der);
        assert.equal(r.signed, false);
        assert.equal(r.certIds.length, leaves.length);
        if (nonce) assert.deepEqual(r.nonce, nonce);
        else assert.equal(r.nonce, undefined);
        // The oracle reads the same request back; fields compared one by one.
        const back = AsnConvert.parse(der, asnOcsp.OCSPRequest);
        r.certIds.forEach((c, i) => {
          const o = back.tbsRequest.requestList[i]!.reqCert;
          assert.equal(c.hash, hash);
          assert.equal(o.hashAlgorithm.algorithm, HASH_OIDS[hash]);
          assert.deepEqual(c.issuerNameHash, Buffer.from(o.issuerNameHash.buffer));
          assert.deepEqual(c.issuerKeyHash, Buffer.from(o.issuerKeyHash.buffer));
          assert.deepEqual(c.serialContent, Buffer.from(o.serialNumber));
          assert.equal(c.serialHex, leaves[i]!.serialHex);
          assert.deepEqual(c.der, Buffer.from(AsnConvert.serialize(o)));
          // The same CertID Sigil computes (NULL parameters) matches when the oracle wrote NULL.
          const mine = certIdFor(ca.subjectDer, ca.key.spki, leaves[i]!.serialHex, hash);
          if (i % 2 === 0) assert.deepEqual(c.der, mine);
          const ih = issuerHashes(ca.subjectDer, ca.key.spki)[hash];
          assert.deepEqual(c.issuerNameHash, ih.name);
          assert.deepEqual(c.issuerKeyHash, ih.key);
        });
        assert.equal(r.certIds[3]!.serialContent[0], 0, "top-bit serial keeps its sign octet");
        const ext = back.tbsRequest.requestExtensions?.find((e) => e.extnID === OcspOid.nonce);
        if (nonce) assert.deepEqual(Buffer.from(ext!.extnValue.buffer), r.nonce);
      });

  it("sha384 and sha512 CertIDs, and an unknown hash algorithm", () => {
    const der = peculiarRequest([
      peculiarCertId(ca, good.serialHex, "sha384"),
      peculiarCertId(ca, good.serialHex, "sha512", "absent"),
    ]);
    const r = parseOcspRequest(der);
    assert.deepEqual(
      r.certIds.map((c) => c.hash),
      ["sha384", "sha512"],
    );
    const md5ish = new asnOcsp.CertID({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: "1.2.840.113549.2.5", parameters: null }),
      issuerNameHash: new OctetString(randomBytes(16)),
      issuerKeyHash: new OctetString(randomBytes(16)),
      serialNumber: new Uint8Array([1, 2, 3]).buffer,
    });
    const u = parseOcspRequest(peculiarRequest([md5ish]));
    assert.equal(u.certIds[0]!.hash, undefined);
    assert.equal(u.certIds[0]!.serialHex, "10203");
  });

  it("a signed request, a requestorName and an explicit v1 version", () => {
    const tbs = new asnOcsp.TBSRequest({
      version: 0,
      requestList: [new asnOcsp.Request({ reqCert: peculiarCertId(ca, good.serialHex, "sha1") })],
    });
    const req = new asnOcsp.OCSPRequest({
      tbsRequest: tbs,
      optionalSignature: new asnOcsp.Signature({
        signatureAlgorithm: new AlgorithmIdentifier({ algorithm: "1.2.840.10045.4.3.2" }),
        signature: new Uint8Array(randomBytes(70)).buffer,
      }),
    });
    const plain = Buffer.from(AsnConvert.serialize(req));
    // asn1-schema omits a DEFAULT version; write the explicit one and a requestorName by hand.
    const certId = Buffer.from(AsnConvert.serialize(peculiarCertId(ca, good.serialHex, "sha1")));
    const sig = Buffer.from(AsnConvert.serialize(req.optionalSignature!));
    const hand = seq(
      seq(
        explicit(0, Buffer.from([2, 1, 0])),
        explicit(1, Buffer.concat([Buffer.from([0x82, 4]), Buffer.from("a.ex")])),
        seq(seq(certId)),
      ),
      explicit(0, sig),
    );
    for (const der of [plain, hand]) {
      const r = parseOcspRequest(der);
      assert.equal(r.signed, true);
      assert.equal(r.certIds[0]!.serialHex, good.serialHex);
      const back = AsnConvert.parse(der, asnOcsp.OCSPRequest);
      assert.ok(back.optionalSignature);
    }
  });

  it("extensions: unknown non-critical ignored, critical nonce accepted, singleRequestExtensions", () => {
    const id = peculiarCertId(ca, good.serialHex, "sha1");
    const nonce = nonceValue();
    const unknownExt = new Extension({ extnID: "1.2.3.4", critical: false, extnValue: new OctetString(2) });
    const r = parseOcspRequest(peculiarRequest([id], nonce, [unknownExt]));
    assert.deepEqual(r.nonce, nonce);
    const critNonce = new Extension({
      extnID: asnOcsp.id_pkix_ocsp_nonce,
      critical: true,
      extnValue: new OctetString(nonce),
    });
    assert.deepEqual(parseOcspRequest(peculiarRequest([id], undefined, [critNonce])).nonce, nonce);
    // @peculiar/asn1-ocsp 2.6 writes singleRequestExtensions without their [0] tag, so by hand.
    const certId = Buffer.from(AsnConvert.serialize(id));
    const single = (critical: boolean) =>
      seq(
        seq(
          seq(
            seq(
              certId,
              explicit(
                0,
                seq(
                  critical
                    ? seq(oid("1.3.6.1.5.5.7.48.1.7"), bool(true), octetString(seq()))
                    : seq(oid("1.3.6.1.5.5.7.48.1.7"), octetString(seq())),
                ),
              ),
            ),
          ),
        ),
      );
    assert.equal(parseOcspRequest(single(false)).certIds[0]!.serialHex, good.serialHex);
    assertBadInput(() => parseOcspRequest(single(true)), "critical single extension");
    // A raw (RFC 2560-style) nonce is returned as is.
    const raw = randomBytes(20);
    assert.deepEqual(parseOcspRequest(peculiarRequest([id], raw)).nonce, raw);
  });

  it("limits: 64 CertIDs pass, 65 do not; nonce 1..128 octets; request size", () => {
    const ids = (n: number) =>
      Array.from({ length: n }, (_, i) => peculiarCertId(ca, (i + 1).toString(16), "sha1"));
    assert.equal(parseOcspRequest(peculiarRequest(ids(MAX_OCSP_CERT_IDS))).certIds.length, 64);
    assertBadInput(() => parseOcspRequest(peculiarRequest(ids(MAX_OCSP_CERT_IDS + 1))), "65 CertIDs");
    const id = [peculiarCertId(ca, good.serialHex, "sha1")];
    assert.equal(parseOcspRequest(peculiarRequest(id, octetString(randomBytes(128)))).nonce!.length, 131);
    assert.equal(parseOcspRequest(peculiarRequest(id, octetString(randomBytes(1)))).nonce!.length, 3);
    assertBadInput(() => parseOcspRequest(peculiarRequest(id, octetString(randomBytes(129)))), "nonce 129");
    assertBadInput(() => parseOcspRequest(peculiarRequest(id, randomBytes(129))), "raw nonce 129");
    assertBadInput(() => parseOcspRequest(peculiarRequest(id, Buffer.alloc(0))), "empty nonce");
    assertBadInput(() => parseOcspRequest(peculiarRequest(id, octetString(Buffer.alloc(0)))), "empty Nonce");
    const big = peculiarRequest(id, undefined, [
      new Extension({ extnID: "1.2.3.4", extnValue: new OctetString(MAX_OCSP_REQUEST_BYTES) }),
    ]);
    assert.ok(big.length > MAX_OCSP_REQUEST_BYTES);
    assertBadInput(() => parseOcspRequest(big), "oversized request");
  });
});

describe("parseOcspRequest refuses malformed input with BAD_INPUT only", () => {
  let real: Buffer;
  before(() => {
    real = peculiarRequest(
      [peculiarCertId(ca, good.serialHex, "sha1"), peculiarCertId(ca, signBit.serialHex, "sha256")],
      nonceValue(),
    );
  });

  it("empty, trailing garbage, a Certificate, not a Buffer", () => {
    assertBadInput(() => parseOcspRequest(Buffer.alloc(0)), "empty");
    assertBadInput(() => parseOcspRequest(Buffer.concat([real, Buffer.from([0])])), "trailing byte");
    assertBadInput(() => parseOcspRequest(Buffer.concat([real, real])), "two requests");
    assertBadInput(() => parseOcspRequest(good.der), "a certificate");
    assertBadInput(() => parseOcspRequest(ca.der), "a CA certificate");
    assertBadInput(() => parseOcspRequest("MEUw" as unknown as Buffer), "a string");
    assertBadInput(() => parseOcspRequest(Buffer.from([0x30, 0x00])), "empty SEQUENCE");
    assertBadInput(() => parseOcspRequest(Buffer.from([0x30, 0x02, 0x30, 0x00])), "empty tbsRequest");
    assertBadInput(() => parseOcspRequest(Buffer.from([0x30, 0x04, 0x30, 0x02, 0x30, 0x00])), "empty list");
    assertBadInput(() => parseOcspRequest(Buffer.from([0x30, 0x80, 0x00, 0x00])), "indefinite length");
  });

  it("truncated at every length", () => {
    for (let n = 0; n < real.length; n++)
      assertBadInput(() => parseOcspRequest(real.subarray(0, n)), `cut ${n}`);
  });

  it("random bytes and random mutations of a real request", () => {
    for (let i = 0; i < 2000; i++) {
      const b = randomBytes(1 + (i % 300));
      if (i % 2) b[0] = 0x30;
      try {
        parseOcspRequest(b);
      } catch (e) {
        assert.ok(isSigilError(e, "bad_input"), `random input threw ${String(e)}`);
      }
    }
    for (let i = 0; i < 5000; i++) {
      const b = Buffer.from(real);
      for (let k = 0; k <= i % 3; k++)
        b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      try {
        const r = parseOcspRequest(b);
        assert.ok(r.certIds.length >= 1);
      } catch (e) {
        assert.ok(isSigilError(e, "bad_input"), `mutated request threw ${String(e)}`);
      }
    }
  });

  it("wrong fields", () => {
    const certId = Buffer.from(AsnConvert.serialize(peculiarCertId(ca, good.serialHex, "sha1")));
    const wrapReq = (tbsFields: Buffer[]) => seq(seq(...tbsFields));
    const list = seq(seq(certId));
    assertBadInput(
      () => parseOcspRequest(wrapReq([explicit(0, Buffer.from([2, 1, 1])), list])),
      "version v2",
    );
    assertBadInput(() => parseOcspRequest(wrapReq([list, list])), "two lists");
    assertBadInput(() => parseOcspRequest(wrapReq([list, explicit(2, seq())])), "empty Extensions");
    assertBadInput(() => parseOcspRequest(seq(seq(list), Buffer.from([0x05, 0x00]))), "bad signature tag");
    const crit = new Extension({ extnID: "1.2.3.4", critical: true, extnValue: new OctetString(2) });
    assertBadInput(
      () =>
        parseOcspRequest(peculiarRequest([peculiarCertId(ca, good.serialHex, "sha1")], undefined, [crit])),
      "critical unknown extension",
    );
    const ext = seq(oid("1.2.3.4"), bool(false), octetString(Buffer.from([5, 0])));
    assertBadInput(() => parseOcspRequest(wrapReq([list, explicit(2, seq(ext))])), "explicit critical FALSE");
    const n1 = seq(oid(OcspOid.nonce), octetString(nonceValue()));
    assertBadInput(() => parseOcspRequest(wrapReq([list, explicit(2, seq(n1, n1))])), "two nonces");
    // CertID defects.
    const alg = seq(oid(HashOid.sha1), Buffer.from([5, 0]));
    const h20 = octetString(Buffer.alloc(20, 1));
    const mk = (...f: Buffer[]) => wrapReq([seq(seq(seq(...f)))]);
    assert.equal(parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 1, 5]))).certIds[0]!.serialHex, "5");
    assertBadInput(() => parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 1, 0xff]))), "negative serial");
    assertBadInput(
      () => parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 2, 0, 5]))),
      "non-minimal serial",
    );
    assertBadInput(() => parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 0]))), "empty serial");
    assertBadInput(() => parseOcspRequest(mk(alg, h20, h20)), "no serial");
    assertBadInput(
      () => parseOcspRequest(mk(alg, h20, octetString(Buffer.alloc(32)), intBytes(Buffer.from([1])))),
      "sha1 with a 32-octet hash",
    );
    assertBadInput(
      () => parseOcspRequest(mk(seq(oid(HashOid.sha1), oid("1.2")), h20, h20, Buffer.from([2, 1, 5]))),
      "sha1 with parameters",
    );
    assertBadInput(
      () => parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 1, 5]), Buffer.from([5, 0]))),
      "CertID trailing field",
    );
    assertBadInput(
      () => parseOcspRequest(mk(alg, h20, h20, Buffer.from([2, 0x81, 1, 5]))),
      "non-minimal length",
    );
  });
});

// ---------------------------------------------------------------------------------------
// CertIDs
// ---------------------------------------------------------------------------------------

describe("certIdFor and issuerHashes", () => {
  it("matches the CertID in openssl's own request, byte for byte (sha1 and sha256)", () => {
    const tmp = tempDir();
    try {
      // An issuer and leaf made by openssl itself, the leaf with a top-bit serial.
      const caKey = tmp.file("ca.key");
      const caPem = tmp.file("ca.pem");
      let o = openssl([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        caKey,
        "-out",
        caPem,
        "-subj",
        "/C=BE/O=Gentoo Fictional, Inc./CN=openssl CA",
        "-days",
        "30",
      ]);
      assert.equal(o.status, 0, o.out);
      const leafKey = tmp.file("leaf.key");
      const csr = tmp.file("leaf.csr");
      o = openssl([
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        leafKey,
        "-out",
        csr,
        "-subj",
        "/CN=leaf",
      ]);
      assert.equal(o.status, 0, o.out);
      const leafPem = tmp.file("leaf.pem");
      o = openssl([
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        caPem,
        "-CAkey",
        caKey,
        "-set_serial",
        "0x8a0b0c0d0e0f",
        "-out",
        leafPem,
        "-days",
        "10",
      ]);
      assert.equal(o.status, 0, o.out);
      const caCert = parseCertificate(readFileSync(caPem, "utf8"));
      for (const [hash, flag] of [
        ["sha1", []],
        ["sha256", ["-sha256"]],
      ] as [OcspHash, string[]][]) {
        const req = tmp.file(`req-${hash}.der`);
        o = openssl(["ocsp", ...flag, "-issuer", caPem, "-cert", leafPem, "-reqout", req]);
        assert.equal(o.status, 0, o.out);
        const r = parseOcspRequest(readFileSync(req));
        assert.equal(r.certIds[0]!.serialHex, "8a0b0c0d0e0f");
        assert.equal(r.certIds[0]!.hash, hash);
        assert.deepEqual(r.certIds[0]!.serialContent, Buffer.from("008a0b0c0d0e0f", "hex"));
        assert.deepEqual(certIdFor(caCert.subjectDer, caCert.spki, "8a0b0c0d0e0f", hash), r.certIds[0]!.der);
        assert.deepEqual(
          certIdFor(caCert.subjectDer, caCert.spki, "8A:0B:0C:0D:0E:0F", hash),
          r.certIds[0]!.der,
        );
      }
      // Also for Sigil's own CA (P-256 key) against openssl's request.
      tmp.file("sigil-ca.pem", toPem(ca.der, "CERTIFICATE"));
      tmp.file("sigil-leaf.pem", toPem(signBit.der, "CERTIFICATE"));
      const req = tmp.file("req-sigil.der");
      o = openssl([
        "ocsp",
        "-issuer",
        tmp.file("sigil-ca.pem"),
        "-cert",
        tmp.file("sigil-leaf.pem"),
        "-reqout",
        req,
      ]);
      assert.equal(o.status, 0, o.out);
      const r = parseOcspRequest(readFileSync(req));
      assert.deepEqual(certIdFor(ca.subjectDer, ca.key.spki, signBit.serialHex), r.certIds[0]!.der);
      assert.equal(r.certIds[0]!.serialHex, signBit.serialHex);
    } finally {
      tmp.done();
    }
  });

  it("issuerHashes covers every hash; certIdPrefix + certIdFromPrefix equals certIdFor", () => {
    const h = issuerHashes(ca.subjectDer, ca.key.spki);
    for (const hash of OCSP_HASHES) {
      assert.deepEqual(h[hash].name, createHash(hash).update(ca.subjectDer).digest());
      assert.deepEqual(h[hash].key, createHash(hash).update(spkiBits(ca.key.spki)).digest());
      const prefix = certIdPrefix(ca.subjectDer, ca.key.spki, hash);
      assert.deepEqual(
        certIdFromPrefix(prefix, good.serialHex),
        certIdFor(ca.subjectDer, ca.key.spki, good.serialHex, hash),
      );
      const oracle = Buffer.from(AsnConvert.serialize(peculiarCertId(ca, good.serialHex, hash)));
      assert.deepEqual(certIdFor(ca.subjectDer, ca.key.spki, good.serialHex, hash), oracle);
    }
    assertBadInput(() => certIdFor(ca.subjectDer, ca.key.spki, "xyz"), "bad serial hex");
    assertBadInput(() => certIdFor(Buffer.from([1, 2]), ca.key.spki, "01"), "bad name");
    assertBadInput(() => issuerHashes(ca.subjectDer, Buffer.from([0x30, 0])), "bad spki");
  });
});

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

function templateFor(responder: Cert, certs = true): OcspResponderTemplate {
  return makeResponderTemplate({
    responderSpki: responder.key.spki,
    signatureAlgorithm: responder.key.algorithmIdentifier,
    certs: certs ? [responder.der] : [],
  });
}

interface Expected {
  status: "good" | "revoked" | "unknown";
  revokedAt?: number;
  reason?: number;
  thisUpdate: number;
  nextUpdate?: number;
  certIdDer: Buffer;
}

/** Parses a response with @peculiar/asn1-ocsp and compares every field with what was asked for. */
function checkWithPeculiar(
  der: Buffer,
  responder: Cert,
  producedAt: number,
  want: Expected[],
  nonce: Buffer | undefined,
  withCerts: boolean,
): void {
  const resp = AsnConvert.parse(der, asnOcsp.OCSPResponse);
  assert.equal(resp.responseStatus, asnOcsp.OCSPResponseStatus.successful);
  assert.equal(resp.responseBytes!.responseType, asnOcsp.id_pkix_ocsp_basic);
  const basicDer = Buffer.from(resp.responseBytes!.response.buffer);
  const basic = AsnConvert.parse(basicDer, asnOcsp.BasicOCSPResponse);
  const data = basic.tbsResponseData;
  assert.equal(data.version, 0);
  assert.ok(data.responderID.byKey, "responderID byKey");
  assert.deepEqual(
    Buffer.from(data.responderID.byKey.buffer),
    createHash("sha1").update(spkiBits(responder.key.spki)).digest(),
  );
  assert.equal(data.producedAt.getTime(), Math.floor(producedAt / 1000) * 1000);
  assert.equal(data.responses.length, want.length);
  data.responses.forEach((s, i) => {
    const w = want[i]!;
    assert.deepEqual(Buffer.from(AsnConvert.serialize(s.certID)), w.certIdDer);
    assert.equal(s.thisUpdate.getTime(), Math.floor(w.thisUpdate / 1000) * 1000);
    if (w.nextUpdate === undefined) assert.equal(s.nextUpdate, undefined);
    else assert.equal(s.nextUpdate!.getTime(), Math.floor(w.nextUpdate / 1000) * 1000);
    assert.equal(s.singleExtensions, undefined);
    if (w.status === "good") assert.equal(s.certStatus.good, null);
    else if (w.status === "unknown") assert.equal(s.certStatus.unknown, null);
    else {
      const rv = s.certStatus.revoked!;
      assert.ok(rv, "revoked");
      assert.equal(rv.revocationTime.getTime(), Math.floor(w.revokedAt! / 1000) * 1000);
      if (w.reason === undefined || w.reason === 0) assert.equal(rv.revocationReason, undefined);
      else assert.equal(rv.revocationReason?.reason, w.reason);
    }
  });
  if (nonce) {
    assert.equal(data.responseExtensions!.length, 1);
    const e = data.responseExtensions![0]!;
    assert.equal(e.extnID, asnOcsp.id_pkix_ocsp_nonce);
    assert.equal(e.critical, false);
    assert.deepEqual(Buffer.from(e.extnValue.buffer), nonce);
  } else assert.equal(data.responseExtensions, undefined);
  if (withCerts) {
    assert.equal(basic.certs!.length, 1);
    assert.deepEqual(Buffer.from(AsnConvert.serialize(basic.certs![0]!)), responder.der);
  } else assert.equal(basic.certs, undefined);
  assert.equal(
    basic.signatureAlgorithm.algorithm,
    AsnConvert.parse(responder.key.algorithmIdentifier, AlgorithmIdentifier).algorithm,
  );
  // The signature covers the tbsResponseData bytes as written.
  const tbsRaw = rawTbs(basicDer);
  const hash = responder.key.keyType === "ed25519" ? null : "sha256";
  assert.ok(
    cryptoVerify(
      hash,
      tbsRaw,
      createPublicKey({ key: responder.key.spki, format: "der", type: "spki" }),
      Buffer.from(basic.signature),
    ),
    "signature verifies",
  );
}

/** The first element (tbsResponseData TLV) of a BasicOCSPResponse. */
function rawTbs(basic: Buffer): Buffer {
  let p = 1;
  let len = basic[p]!;
  p++;
  if (len & 0x80) p += len & 0x7f;
  const start = p;
  len = basic[p + 1]!;
  let q = p + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + basic[q + i]!;
    q += n;
  }
  return basic.subarray(start, q + len);
}

describe("buildOcspResponse is read back by @peculiar/asn1-ocsp", () => {
  for (const kt of ["p256", "rsa2048", "ed25519"] as KeyType[])
    for (const withCerts of [true, false])
      it(`${kt} responder, ${withCerts ? "with" : "without"} certs`, async () => {
        const responder = responders.get(kt)!;
        const t = templateFor(responder, withCerts);
        const produced = NOW + 123;
        const singles: (OcspSingleInput & { want: Expected })[] = [];
        const add = (
          leaf: Cert,
          status: OcspSingleInput["status"],
          next: number | undefined,
          hash: OcspHash,
        ) => {
          const certIdDer = certIdFor(ca.subjectDer, ca.key.spki, leaf.serialHex, hash);
          const s: OcspSingleInput = { certIdDer, status, thisUpdate: NOW - 999, nextUpdate: next };
          const want: Expected = {
            status: status.kind,
            thisUpdate: NOW - 999,
            nextUpdate: next,
            certIdDer,
            ...(status.kind === "revoked" ? { revokedAt: status.revokedAt, reason: status.reason } : {}),
          };
          singles.push({ ...s, want });
        };
        add(good, { kind: "good" }, NOW + DAY, "sha1");
        add(revoked, { kind: "revoked", revokedAt: NOW - DAY, reason: 1 }, NOW + DAY, "sha256");
        add(revoked, { kind: "revoked", revokedAt: NOW - 2 * DAY, reason: 0 }, undefined, "sha1");
        add(revoked, { kind: "revoked", revokedAt: NOW - 2 * DAY }, NOW + 2 * DAY, "sha384");
        add(unknown, { kind: "unknown" }, NOW + DAY, "sha512");
        for (const nonce of [nonceValue(32), undefined]) {
          const der = await buildOcspResponse(t, produced, singles, (d) => responder.key.sign(d), nonce);
          checkWithPeculiar(
            der,
            responder,
            produced,
            singles.map((s) => s.want),
            nonce,
            withCerts,
          );
          const times = readOcspResponseTimes(der);
          assert.deepEqual(times, { producedAt: NOW, thisUpdate: NOW - 1000 });
          const one = await buildOcspResponse(
            t,
            produced,
            [singles[0]!],
            (d) => responder.key.sign(d),
            nonce,
          );
          assert.deepEqual(readOcspResponseTimes(one), {
            producedAt: NOW,
            thisUpdate: NOW - 1000,
            nextUpdate: NOW + DAY,
          });
          const data = buildResponseData(t, produced, singles, nonce);
          assert.ok(der.includes(data), "ResponseData is embedded as built");
        }
      });

  it("GeneralizedTime everywhere, even before 2050, byte-identical to der.generalizedTime", () => {
    const t = templateFor(responders.get("p256")!);
    for (const ms of [
      0,
      Date.UTC(1999, 11, 31, 23, 59, 59, 999),
      Date.UTC(2049, 0, 1),
      Date.UTC(2051, 5, 6, 7, 8, 9),
      -1000,
      Date.UTC(9999, 11, 31, 23, 59, 59),
    ]) {
      const data = buildResponseData(t, ms, [
        { certIdDer: certIdFor(ca.subjectDer, ca.key.spki, "01"), status: { kind: "good" }, thisUpdate: ms },
      ]);
      const gt = generalizedTime(ms);
      assert.equal(data.indexOf(gt), t.responderId.length + 2, `producedAt ${ms}`);
      assert.ok(data.lastIndexOf(gt) > data.indexOf(gt), `thisUpdate ${ms}`);
    }
    for (let i = 0; i < 2000; i++) {
      const ms = Math.floor((Math.random() * 2 - 0.5) * 9e12);
      const data = buildResponseData(t, ms, [
        { certIdDer: certIdFor(ca.subjectDer, ca.key.spki, "01"), status: { kind: "good" }, thisUpdate: ms },
      ]);
      assert.ok(data.includes(generalizedTime(ms)), String(ms));
    }
  });

  it("refuses bad builder input with BAD_INPUT", () => {
    const t = templateFor(responders.get("p256")!);
    const certIdDer = certIdFor(ca.subjectDer, ca.key.spki, good.serialHex);
    const s = (over: Partial<OcspSingleInput>): OcspSingleInput[] => [
      { certIdDer, status: { kind: "good" }, thisUpdate: NOW, ...over },
    ];
    assertBadInput(() => buildResponseData(t, NOW, []), "no responses");
    assertBadInput(() => buildResponseData(t, NOW, s({ nextUpdate: NOW - 1000 })), "next before this");
    assertBadInput(
      () => buildResponseData(t, NOW, s({ status: { kind: "revoked", revokedAt: NOW, reason: 7 } })),
      "reason 7",
    );
    assertBadInput(
      () => buildResponseData(t, NOW, s({ status: { kind: "revoked", revokedAt: NOW, reason: 8 } })),
      "reason 8",
    );
    assertBadInput(
      () => buildResponseData(t, NOW, s({ status: { kind: "revoked", revokedAt: NaN } })),
      "NaN time",
    );
    assertBadInput(() => buildResponseData(t, NOW, s({ certIdDer: Buffer.alloc(0) })), "empty CertID");
    assertBadInput(
      () => buildResponseData(t, NOW, s({ certIdDer: Buffer.concat([certIdDer, Buffer.from([0])]) })),
      "CertID with trailing byte",
    );
    assertBadInput(() => buildResponseData(t, 1e15, s({})), "year 33658");
    assertBadInput(() => buildResponseData(t, NOW, s({}), Buffer.alloc(0)), "empty nonce");
    assertBadInput(
      () =>
        makeResponderTemplate({
          responderSpki: Buffer.from([1]),
          signatureAlgorithm: Buffer.from([0x30, 0]),
          certs: [],
        }),
      "bad spki",
    );
  });
});

describe("ocspErrorResponse and readOcspResponseTimes", () => {
  it("error responses are just the status", () => {
    const codes: Record<OcspErrorStatus, number> = {
      malformedRequest: 1,
      internalError: 2,
      tryLater: 3,
      sigRequired: 5,
      unauthorized: 6,
    };
    for (const [name, code] of Object.entries(codes) as [OcspErrorStatus, number][]) {
      const der = ocspErrorResponse(name);
      const r = AsnConvert.parse(der, asnOcsp.OCSPResponse);
      assert.equal(r.responseStatus, code);
      assert.equal(asnOcsp.OCSPResponseStatus[r.responseStatus], name);
      assert.equal(r.responseBytes, undefined);
      assert.equal(ocspErrorResponse(name), der, "precomputed");
      assertBadInput(() => readOcspResponseTimes(der), `times of ${name}`);
    }
    assert.throws(
      () => ocspErrorResponse("nope" as OcspErrorStatus),
      (e) => isSigilError(e, "internal"),
    );
  });

  it("readOcspResponseTimes refuses what is not a successful basic response", async () => {
    const responder = responders.get("p256")!;
    const t = templateFor(responder);
    const der = await buildOcspResponse(
      t,
      NOW,
      [
        {
          certIdDer: certIdFor(ca.subjectDer, ca.key.spki, good.serialHex),
          status: { kind: "good" },
          thisUpdate: NOW,
        },
      ],
      (d) => responder.key.sign(d),
    );
    assert.deepEqual(readOcspResponseTimes(der), { producedAt: NOW, thisUpdate: NOW });
    for (let n = 0; n < der.length; n++)
      assertBadInput(() => readOcspResponseTimes(der.subarray(0, n)), `cut ${n}`);
    assertBadInput(() => readOcspResponseTimes(Buffer.concat([der, Buffer.from([0])])), "trailing");
    assertBadInput(() => readOcspResponseTimes(good.der), "certificate");
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(der);
      b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      try {
        readOcspResponseTimes(b);
      } catch (e) {
        assert.ok(isSigilError(e, "bad_input"), `mutated response threw ${String(e)}`);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------
// openssl ocsp, the real verifier
// ---------------------------------------------------------------------------------------

describe("openssl ocsp accepts Sigil's responses to its requests", () => {
  const tmp = tempDir();
  let caPem: string;
  const pem: Record<string, string> = {};
  before(() => {
    caPem = tmp.file("ca.pem", toPem(ca.der, "CERTIFICATE"));
    for (const [name, c] of Object.entries({ good, revoked, unknown, signBit }))
      pem[name] = tmp.file(`${name}.pem`, toPem(c.der, "CERTIFICATE"));
    for (const [kt, c] of responders)
      pem[`ocsp-${kt}`] = tmp.file(`ocsp-${kt}.pem`, toPem(c.der, "CERTIFICATE"));
  });
  after(() => tmp.done());

  const revokedAt = NOW - 5 * DAY;
  const statusOf = (serialHex: string): OcspSingleInput["status"] =>
    serialHex === good.serialHex || serialHex === signBit.serialHex
      ? { kind: "good" }
      : serialHex === revoked.serialHex
        ? { kind: "revoked", revokedAt, reason: 1 }
        : { kind: "unknown" };

  async function respond(
    reqDer: Buffer,
    responder: Cert,
    t: OcspResponderTemplate,
    signer?: TestKey,
  ): Promise<Buffer> {
    const req = parseOcspRequest(reqDer);
    const singles = req.certIds.map((c) => ({
      certIdDer: c.der,
      status: statusOf(c.serialHex),
      thisUpdate: NOW - 60_000,
      nextUpdate: NOW + DAY,
    }));
    const key = signer ?? responder.key;
    return buildOcspResponse(t, NOW, singles, (d) => key.sign(d), req.nonce);
  }

  const leaves = ["good", "revoked", "unknown", "signBit"];
  const certArgs = () => leaves.flatMap((l) => ["-cert", pem[l]!]);

  function checkStatuses(out: string): void {
    assert.match(out, /Response verify OK/);
    assert.match(out, new RegExp(`${pem.good}: good`));
    assert.match(out, new RegExp(`${pem.signBit}: good`));
    assert.match(out, new RegExp(`${pem.unknown}: unknown`));
    assert.match(out, new RegExp(`${pem.revoked}: revoked\\n(?:\\t.*\\n)*?\\tReason: keyCompromise`));
    assert.match(out, /Revocation Time: /);
    assert.match(out, /Next Update: /);
  }

  for (const kt of ["p256", "rsa2048", "ed25519"] as KeyType[])
    for (const hashFlag of [[], ["-sha256"]])
      it(`delegated ${kt} responder, ${hashFlag.length ? "sha256" : "sha1"} CertIDs, with and without nonce`, async () => {
        const responder = responders.get(kt)!;
        const t = templateFor(responder);
        const tag = `${kt}${hashFlag.join("")}`;
        // 1. With openssl's nonce: -reqin/-respin verifies the signature and the echoed nonce.
        const req = tmp.file(`req-${tag}.der`);
        let o = openssl(["ocsp", ...hashFlag, "-issuer", caPem, ...certArgs(), "-reqout", req]);
        assert.equal(o.status, 0, o.out);
        const reqDer = readFileSync(req);
        assert.ok(parseOcspRequest(reqDer).nonce, "openssl sends a nonce by default");
        const resp = tmp.file(`resp-${tag}.der`, await respond(reqDer, responder, t));
        o = openssl(["ocsp", "-reqin", req, "-respin", resp, "-CAfile", caPem, "-resp_text"]);
        assert.equal(o.status, 0, o.out);
        assert.match(o.out, /Response verify OK/);
        assert.doesNotMatch(o.out, /Nonce Verify error|WARNING: no nonce/i);
        // Statuses: -respin with -issuer/-cert; -no_nonce so openssl makes no fresh nonce to compare.
        o = openssl([
          "ocsp",
          ...hashFlag,
          "-respin",
          resp,
          "-issuer",
          caPem,
          ...certArgs(),
          "-CAfile",
          caPem,
          "-no_nonce",
        ]);
        assert.equal(o.status, 0, o.out);
        checkStatuses(o.out);
        // 2. Without nonce.
        const req2 = tmp.file(`req2-${tag}.der`);
        o = openssl(["ocsp", ...hashFlag, "-no_nonce", "-issuer", caPem, ...certArgs(), "-reqout", req2]);
        assert.equal(o.status, 0, o.out);
        const req2Der = readFileSync(req2);
        assert.equal(parseOcspRequest(req2Der).nonce, undefined);
        const resp2 = tmp.file(`resp2-${tag}.der`, await respond(req2Der, responder, t));
        o = openssl([
          "ocsp",
          ...hashFlag,
          "-respin",
          resp2,
          "-issuer",
          caPem,
          ...certArgs(),
          "-CAfile",
          caPem,
          "-no_nonce",
        ]);
        assert.equal(o.status, 0, o.out);
        checkStatuses(o.out);
        o = openssl(["ocsp", "-reqin", req2, "-respin", resp2, "-CAfile", caPem]);
        assert.equal(o.status, 0, o.out);
        assert.match(o.out, /Response verify OK/);
        // openssl does compare nonces: a response without one draws a warning, another one an error.
        o = openssl(["ocsp", "-reqin", req, "-respin", resp2, "-CAfile", caPem]);
        assert.match(o.out, /WARNING: no nonce in response/);
        const other = await buildOcspResponse(
          t,
          NOW,
          parseOcspRequest(reqDer).certIds.map((c) => ({
            certIdDer: c.der,
            status: { kind: "good" },
            thisUpdate: NOW,
          })),
          (d) => responder.key.sign(d),
          nonceValue(),
        );
        o = openssl([
          "ocsp",
          "-reqin",
          req,
          "-respin",
          tmp.file(`resp3-${tag}.der`, other),
          "-CAfile",
          caPem,
        ]);
        assert.notEqual(o.status, 0);
        assert.match(o.out, /Nonce Verify error/);
      });

  it("responder certificate left out of the response: verifies with -verify_other", async () => {
    const responder = responders.get("p256")!;
    const t = templateFor(responder, false);
    const req = tmp.file("req-nocerts.der");
    let o = openssl(["ocsp", "-no_nonce", "-issuer", caPem, ...certArgs(), "-reqout", req]);
    assert.equal(o.status, 0, o.out);
    const resp = tmp.file("resp-nocerts.der", await respond(readFileSync(req), responder, t));
    o = openssl(["ocsp", "-respin", resp, "-issuer", caPem, ...certArgs(), "-CAfile", caPem, "-no_nonce"]);
    assert.doesNotMatch(o.out, /Response verify OK/, "without the signer certificate openssl cannot verify");
    o = openssl([
      "ocsp",
      "-respin",
      resp,
      "-issuer",
      caPem,
      ...certArgs(),
      "-CAfile",
      caPem,
      "-no_nonce",
      "-verify_other",
      pem["ocsp-p256"]!,
    ]);
    assert.equal(o.status, 0, o.out);
    checkStatuses(o.out);
  });

  it("signed by the CA itself (no delegation)", async () => {
    const t = makeResponderTemplate({
      responderSpki: ca.key.spki,
      signatureAlgorithm: ca.key.algorithmIdentifier,
      certs: [],
    });
    const req = tmp.file("req-ca.der");
    let o = openssl(["ocsp", "-issuer", caPem, ...certArgs(), "-reqout", req]);
    assert.equal(o.status, 0, o.out);
    const resp = tmp.file("resp-ca.der", await respond(readFileSync(req), ca, t, ca.key));
    o = openssl(["ocsp", "-respin", resp, "-issuer", caPem, ...certArgs(), "-CAfile", caPem, "-no_nonce"]);
    assert.equal(o.status, 0, o.out);
    checkStatuses(o.out);
  });

  it("a responder whose key did not sign is refused by openssl", async () => {
    const responder = responders.get("p256")!;
    const t = templateFor(responder);
    const req = tmp.file("req-bad.der");
    let o = openssl(["ocsp", "-no_nonce", "-issuer", caPem, "-cert", pem.good!, "-reqout", req]);
    assert.equal(o.status, 0, o.out);
    const other = makeSigner("p256");
    const resp = tmp.file("resp-bad.der", await respond(readFileSync(req), responder, t, other));
    o = openssl([
      "ocsp",
      "-respin",
      resp,
      "-issuer",
      caPem,
      "-cert",
      pem.good!,
      "-CAfile",
      caPem,
      "-no_nonce",
    ]);
    assert.doesNotMatch(o.out, /Response verify OK/);
  });

  it("error responses", () => {
    for (const [name, text] of [
      ["malformedRequest", "malformedrequest"],
      ["tryLater", "trylater"],
      ["unauthorized", "unauthorized"],
    ] as [OcspErrorStatus, string][]) {
      const f = tmp.file(`err-${name}.der`, ocspErrorResponse(name));
      const o = openssl(["ocsp", "-respin", f, "-resp_text", "-noverify"]);
      assert.match(o.out.toLowerCase(), new RegExp(`responder error: ${text}`));
    }
  });
});

// ---------------------------------------------------------------------------------------
// Speed (printed, never asserted)
// ---------------------------------------------------------------------------------------

describe("speed", () => {
  it("100k ResponseData for good status, no signing", () => {
    const t = templateFor(responders.get("p256")!);
    const prefix = certIdPrefix(ca.subjectDer, ca.key.spki);
    const ids = Array.from({ length: 1000 }, () =>
      certIdFromPrefix(prefix, newSerial(randomBytes(16)).toString("hex")),
    );
    const n = 100_000;
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const d = buildResponseData(t, NOW + i * 1000, [
        {
          certIdDer: ids[i % 1000]!,
          status: { kind: "good" },
          thisUpdate: NOW + i * 1000,
          nextUpdate: NOW + i * 1000 + DAY,
        },
      ]);
      bytes += d.length;
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const req = peculiarRequest([peculiarCertId(ca, good.serialHex, "sha1")], nonceValue());
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) parseOcspRequest(req);
    const pms = Number(process.hrtime.bigint() - t1) / 1e6;
    console.log(
      `ocsp speed: ${n} ResponseData (good, 1 response) in ${ms.toFixed(0)} ms = ${Math.round((n / ms) * 1000)}/s, ` +
        `${(bytes / n).toFixed(0)} bytes each; ${n} parseOcspRequest in ${pms.toFixed(0)} ms = ${Math.round((n / pms) * 1000)}/s`,
    );
  });
});
