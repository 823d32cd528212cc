import "reflect-metadata";
import * as asnOcsp from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Extension } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { isSigilError } from "../errors.js";
import { parseCertificate } from "./cert-reader.js";
import { bool, explicit, intBytes, octetString, oid, seq, toPem } from "./der.js";
import { HashOid, OcspOid } from "./oids.js";
import {
  MAX_OCSP_CERT_IDS,
  MAX_OCSP_REQUEST_BYTES,
  OCSP_HASHES,
  certIdFor,
  certIdFromPrefix,
  certIdPrefix,
  issuerHashes,
  parseOcspRequest,
} from "./ocsp.js";
import type { OcspHash } from "./ocsp.js";
import { openssl, tempDir } from "./testkit.test.js";
import {
  HASH_OIDS,
  assertBadInput,
  ca,
  good,
  revoked,
  unknown,
  signBit,
  useOcspHierarchy,
  nonceValue,
  peculiarCertId,
  peculiarRequest,
  spkiBits,
} from "./ocsp-kit.test.js";

useOcspHierarchy({ responders: false });

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
