import "reflect-metadata";
import * as asnOcsp from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { createHash, createPublicKey, randomBytes, verify as cryptoVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { isSigilError } from "../errors.js";
import type { KeyType } from "../keys/types.js";
import { generalizedTime, toPem } from "./der.js";
import {
  buildOcspResponse,
  buildResponseData,
  certIdFor,
  certIdFromPrefix,
  certIdPrefix,
  makeResponderTemplate,
  ocspErrorResponse,
  parseOcspRequest,
  readOcspResponseTimes,
} from "./ocsp.js";
import type { OcspErrorStatus, OcspHash, OcspResponderTemplate, OcspSingleInput } from "./ocsp.js";
import { newSerial } from "./serial.js";
import { makeSigner, openssl, tempDir } from "./testkit.test.js";
import type { TestKey } from "./testkit.test.js";
import {
  DAY,
  NOW,
  assertBadInput,
  ca,
  good,
  revoked,
  unknown,
  signBit,
  responders,
  useOcspHierarchy,
  nonceValue,
  peculiarCertId,
  peculiarRequest,
  spkiBits,
} from "./ocsp-kit.test.js";
import type { Cert } from "./ocsp-kit.test.js";

useOcspHierarchy({ responders: true });

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
