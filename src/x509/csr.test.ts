import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Name as AsnName } from "@peculiar/asn1-x509";
import { SigilError } from "../errors.js";
import { describePublicKey, verifySignature } from "./algorithms.js";
import { buildCsr } from "./csr-build.js";
import {
  PRIVATE_KEY_NOT_A_REQUEST,
  looksLikePrivateKey,
  parseCsr,
  parseCsrAsync,
  readCsrStructure,
} from "./csr.js";
import { NULL, oid, seq, toPem } from "./der.js";
import { parseDn } from "./dn.js";
import { SigOid } from "./oids.js";
import { parseSanList } from "./san.js";
import { makeSigner, openssl, signerFromKeys, tempDir } from "./testkit.test.js";
import type { GeneralName } from "./types.js";

function rejects(f: () => unknown, code: string, msg: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof SigilError, `expected SigilError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, msg);
    assert.ok(!e.message.includes("\n"), "one-line message");
    return true;
  });
}

const SUBJ = "/C=BE/O=Gentoo Fictional, Inc./CN=host.genfic.example";

describe("parseCsr with openssl-made requests", () => {
  const t = tempDir();
  const files: Record<string, string> = {};
  before(() => {
    const req = (name: string, args: string[]): void => {
      const r = openssl(["req", "-new", "-subj", SUBJ, "-out", `${name}.req`, ...args], t.dir);
      assert.equal(r.status, 0, r.out);
      files[name] = readFileSync(t.file(`${name}.req`), "utf8");
    };
    req("rsa2048", [
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "rsa2048.key",
      "-addext",
      "subjectAltName=DNS:host.genfic.example,IP:10.0.0.1,email:ops@genfic.example",
    ]);
    req("rsa1024", ["-newkey", "rsa:1024", "-nodes", "-keyout", "rsa1024.key"]);
    req("md5", ["-key", "rsa2048.key", "-md5"]);
    req("sha1", ["-key", "rsa2048.key", "-sha1"]);
    req("ed25519", ["-newkey", "ed25519", "-nodes", "-keyout", "ed.key"]);
    req("p384", [
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-384",
      "-nodes",
      "-keyout",
      "p384.key",
      "-sha384",
    ]);
    req("k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-nodes", "-keyout", "k1.key"]);
    assert.equal(
      openssl(
        [
          "ecparam",
          "-name",
          "prime256v1",
          "-param_enc",
          "explicit",
          "-genkey",
          "-noout",
          "-out",
          "explicit.key",
        ],
        t.dir,
      ).status,
      0,
    );
    req("explicit", ["-key", "explicit.key"]);
    const pg = openssl(
      [
        "genpkey",
        "-genparam",
        "-algorithm",
        "DSA",
        "-pkeyopt",
        "dsa_paramgen_bits:2048",
        "-out",
        "dsa.param",
      ],
      t.dir,
    );
    assert.equal(pg.status, 0, pg.out);
    assert.equal(openssl(["genpkey", "-paramfile", "dsa.param", "-out", "dsa.key"], t.dir).status, 0);
    req("dsa", ["-key", "dsa.key"]);
    const c = openssl(
      ["req", "-x509", "-key", "rsa2048.key", "-subj", "/CN=x", "-days", "1", "-out", "cert.pem"],
      t.dir,
    );
    assert.equal(c.status, 0, c.out);
    files.cert = readFileSync(t.file("cert.pem"), "utf8");
    files.key = readFileSync(t.file("rsa2048.key"), "utf8");
    const der = openssl(["req", "-in", "rsa2048.req", "-outform", "DER", "-out", "rsa2048.der"], t.dir);
    assert.equal(der.status, 0);
    const derCert = openssl(["x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der"], t.dir);
    assert.equal(derCert.status, 0);
    const derKey = openssl(["pkey", "-in", "rsa2048.key", "-outform", "DER", "-out", "key.der"], t.dir);
    assert.equal(derKey.status, 0);
  });

  it("reads subject, SANs and key of an RSA-2048 request, PEM and DER alike", () => {
    const csr = parseCsr(files.rsa2048!);
    assert.deepEqual(csr.subject, parseDn(SUBJ));
    assert.deepEqual(csr.requestedSans, [
      { type: "dns", value: "host.genfic.example" },
      { type: "ip", value: "10.0.0.1" },
      { type: "email", value: "ops@genfic.example" },
    ]);
    assert.deepEqual(csr.publicKey, { kind: "rsa", bits: 2048 });
    assert.deepEqual(csr.requestedExtensions, ["2.5.29.17"]);
    assert.equal(csr.signatureAlgorithm, SigOid.sha256WithRSAEncryption);
    const pub = openssl(
      ["pkey", "-in", "rsa2048.key", "-pubout", "-outform", "DER", "-out", "rsa2048.spki"],
      t.dir,
    );
    assert.equal(pub.status, 0);
    assert.deepEqual(csr.spki, readFileSync(t.file("rsa2048.spki")));
    const der = readFileSync(t.file("rsa2048.der"));
    const csr2 = parseCsr(der);
    assert.deepEqual(csr2.subject, csr.subject);
    assert.deepEqual(csr2.spki, csr.spki);
    assert.equal(csr.keyFingerprint, createHash("sha256").update(csr.spki).digest("hex"));
    // PEM inside a Buffer works too, as does text before the block.
    assert.deepEqual(parseCsr(Buffer.from(files.rsa2048!)).spki, csr.spki);
    assert.deepEqual(parseCsr("Certificate Request:\n  blah\n" + files.rsa2048!).spki, csr.spki);
    // "NEW CERTIFICATE REQUEST" label.
    assert.deepEqual(parseCsr(toPem(der, "NEW CERTIFICATE REQUEST")).spki, csr.spki);
  });

  it("keeps the SANs of types Sigil never issues (a FreeIPA UPN otherName) instead of dropping them", async () => {
    const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
    const keys = (await webcrypto.subtle.generateKey(alg, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const req = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=host.genfic.internal",
      keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension([
          { type: "dns", value: "host.genfic.internal" },
          { type: "upn", value: "host@GENFIC.INTERNAL" },
        ]),
      ],
    });
    const csr = parseCsr(Buffer.from(req.rawData));
    assert.deepEqual(csr.requestedSans, [{ type: "dns", value: "host.genfic.internal" }]);
    assert.deepEqual(csr.unsupportedSans, [
      { type: "otherName", detail: "1.3.6.1.4.1.311.20.2.3, Microsoft UPN" },
    ]);
    assert.deepEqual(parseCsr(files.rsa2048!).unsupportedSans, []);
  });

  it("reads Ed25519 and P-384 requests", () => {
    assert.deepEqual(parseCsr(files.ed25519!).publicKey, { kind: "ed25519" });
    const p = parseCsr(files.p384!);
    assert.deepEqual(p.publicKey, { kind: "ec", curve: "P-384" });
    assert.equal(p.signatureAlgorithm, SigOid.ecdsaWithSHA384);
  });

  it("refuses weak keys, weak algorithms, DSA and other curves", () => {
    rejects(
      () => parseCsr(files.rsa1024!),
      "weak_key",
      /^RSA key of 1024 bits is too weak \(minimum 2048\)$/,
    );
    rejects(() => parseCsr(files.md5!), "bad_signature_algorithm", /^MD5 signatures are refused/);
    rejects(() => parseCsr(files.sha1!), "bad_signature_algorithm", /^SHA-1 signatures are refused/);
    rejects(() => parseCsr(files.dsa!), "weak_key", /^DSA keys are refused$/);
    rejects(
      () => parseCsr(files.k1!),
      "weak_key",
      /^curve secp256k1 is not accepted \(P-256, P-384, P-521 only\)$/,
    );
    rejects(() => parseCsr(files.explicit!), "weak_key", /explicit curve parameters are not accepted/);
  });

  it("refuses a private key of any PEM kind or DER with one message that repeats none of it", () => {
    const pem = (args: string[], out: string): string => {
      const r = openssl([...args, "-out", out], t.dir);
      assert.equal(r.status, 0, r.out);
      return readFileSync(t.file(out), "utf8");
    };
    const keys: Record<string, string | Buffer> = {
      "PRIVATE KEY": files.key!,
      "ENCRYPTED PRIVATE KEY": pem(
        ["pkey", "-in", "rsa2048.key", "-aes256", "-passout", "pass:secret12"],
        "enc.key",
      ),
      "RSA PRIVATE KEY": pem(["pkey", "-in", "rsa2048.key", "-traditional"], "rsa-trad.key"),
      "EC PRIVATE KEY": pem(["pkey", "-in", "p384.key", "-traditional"], "ec-trad.key"),
      DER: readFileSync(t.file("key.der")),
      "a key beside a request": files.key! + files.rsa2048!,
    };
    for (const [kind, key] of Object.entries(keys)) {
      if (typeof key === "string" && kind.endsWith("PRIVATE KEY"))
        assert.match(key, new RegExp(`^-----BEGIN ${kind}-----`), kind);
      assert.ok(looksLikePrivateKey(key), kind);
      assert.throws(
        () => parseCsr(key),
        (e: unknown) => {
          assert.ok(e instanceof SigilError && e.code === "bad_csr", kind);
          assert.equal(e.message, PRIVATE_KEY_NOT_A_REQUEST, kind);
          return true;
        },
      );
    }
    // Requests and certificates are not keys.
    for (const other of [files.rsa2048!, files.cert!, readFileSync(t.file("rsa2048.der"))])
      assert.equal(looksLikePrivateKey(other), false);
  });

  it("refuses things that are not one CSR, with one clear line each", () => {
    rejects(
      () => parseCsr(files.cert!),
      "bad_csr",
      /^not a PKCS#10 certificate request \(found a CERTIFICATE PEM block\)$/,
    );
    rejects(() => parseCsr(files.key!), "bad_csr", /^this is a private key: it must never be sent to a CA/);
    rejects(() => parseCsr(readFileSync(t.file("cert.der"))), "bad_csr", /looks like an X\.509 certificate/);
    rejects(() => parseCsr(readFileSync(t.file("key.der"))), "bad_csr", /^this is a private key: /);
    rejects(() => parseCsr(""), "bad_csr", /^input is empty$/);
    rejects(() => parseCsr(Buffer.alloc(0)), "bad_csr", /^input is empty$/);
    rejects(() => parseCsr("  \n"), "bad_csr", /^input is empty$/);
    rejects(() => parseCsr(randomBytes(5 * 1024 * 1024)), "bad_csr", /too large/);
    rejects(() => parseCsr("hello world"), "bad_csr", /no PEM block/);
    const der = readFileSync(t.file("rsa2048.der"));
    rejects(() => parseCsr(der.subarray(0, der.length - 10)), "bad_csr", /^CSR is truncated or malformed: /);
    rejects(
      () => parseCsr(Buffer.concat([der, Buffer.from([0])])),
      "bad_csr",
      /^CSR is truncated or malformed: trailing data$/,
    );
    const pem = files.rsa2048!;
    rejects(
      () => parseCsr(pem.slice(0, pem.length / 2)),
      "bad_csr",
      /truncated or malformed \(no matching -----END line\)/,
    );
    rejects(() => parseCsr(pem + pem), "bad_csr", /holds 2 certificate requests/);
    for (let i = 0; i < 50; i++) {
      const junk = Buffer.concat([Buffer.from([0x30]), randomBytes(1 + Math.floor(Math.random() * 400))]);
      rejects(() => parseCsr(junk), "bad_csr", /./);
      rejects(() => parseCsr(randomBytes(1 + Math.floor(Math.random() * 400))), "bad_csr", /./);
    }
  });

  it("refuses a request with one flipped byte in the signature", () => {
    const der = Buffer.from(readFileSync(t.file("rsa2048.der")));
    der[der.length - 5]! ^= 0x01;
    rejects(() => parseCsr(der), "bad_signature", /^CSR signature does not verify$/);
    // A flipped byte in the signed part fails too.
    const der2 = Buffer.from(readFileSync(t.file("rsa2048.der")));
    const cn = der2.indexOf("host.genfic.example");
    der2[cn]! ^= 0x20;
    rejects(() => parseCsr(der2), "bad_signature", /^CSR signature does not verify$/);
  });

  it("parseCsrAsync (thread-pool check) agrees with parseCsr on good and bad signatures", async () => {
    const good = Buffer.from(readFileSync(t.file("rsa2048.der")));
    assert.deepEqual(await parseCsrAsync(good), parseCsr(good));
    const bad = Buffer.from(good);
    bad[bad.length - 5]! ^= 0x01;
    await assert.rejects(parseCsrAsync(bad), (e) => e instanceof SigilError && e.code === "bad_signature");
    await assert.rejects(
      parseCsrAsync(Buffer.alloc(0)),
      (e) => e instanceof SigilError && e.code === "bad_csr",
    );
  });

  it("cleans up", () => t.done());
});

describe("buildCsr", () => {
  it("writes requests that parseCsr, @peculiar/x509 and openssl read, for every key type", async () => {
    const t = tempDir();
    try {
      for (const kt of ["rsa2048", "p256", "p384", "ed25519"] as const) {
        const signer = makeSigner(kt);
        const subject = parseDn("/C=BE/O=Gentoo Fictional, Inc./CN=myhostname");
        const sans = parseSanList("dns:myhostname,dns:myhostname.genfic.example,ip:192.0.2.7,ip:2001:db8::7");
        const der = await buildCsr({ subject, sans, spki: signer.spki, signer });
        const csr = parseCsr(der);
        assert.deepEqual(csr.subject, subject);
        assert.deepEqual(csr.requestedSans, sans);
        assert.deepEqual(csr.spki, signer.spki);
        const pec = new x509.Pkcs10CertificateRequest(der);
        assert.equal(await pec.verify(), true);
        assert.equal(pec.subject, "C=BE, O=Gentoo Fictional\\, Inc., CN=myhostname");
        t.file(`${kt}.req`, toPem(der, "CERTIFICATE REQUEST"));
        const v = openssl(["req", "-in", `${kt}.req`, "-noout", "-verify", "-text"], t.dir);
        assert.match(v.out, /verify OK/, v.out);
        assert.match(
          v.out,
          /DNS:myhostname, DNS:myhostname.genfic.example, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:7/,
        );
        // No SANs: no extensionRequest at all, still a valid request.
        const bare = parseCsr(await buildCsr({ subject, sans: [], spki: signer.spki, signer }));
        assert.deepEqual(bare.requestedExtensions, []);
      }
    } finally {
      t.done();
    }
  });

  it("MD5 and SHA-1 requests built by hand are refused; RSASSA-PSS is refused as unsupported", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const subject = parseDn("/CN=old");
    for (const [o, hash, msg] of [
      [SigOid.md5WithRSAEncryption, "md5", /^MD5 signatures are refused/],
      [SigOid.sha1WithRSAEncryption, "sha1", /^SHA-1 signatures are refused/],
      [SigOid.md2WithRSAEncryption, "sha256", /^MD2 signatures are refused/],
    ] as const) {
      const s = signerFromKeys("rsa2048", privateKey, publicKey, { der: seq(oid(o), NULL), hash });
      const der = await buildCsr({ subject, sans: [], spki: s.spki, signer: s });
      rejects(() => parseCsr(der), "bad_signature_algorithm", msg);
    }
    const pss = signerFromKeys("rsa2048", privateKey, publicKey, {
      der: seq(oid(SigOid.rsassaPss)),
      hash: "sha256",
    });
    const der = await buildCsr({ subject, sans: [], spki: pss.spki, signer: pss });
    rejects(() => parseCsr(der), "bad_signature_algorithm", /RSASSA-PSS signatures are not supported yet/);
    // Unknown algorithm.
    const odd = signerFromKeys("rsa2048", privateKey, publicKey, {
      der: seq(oid("1.2.3.4.5")),
      hash: "sha256",
    });
    const der2 = await buildCsr({ subject, sans: [], spki: odd.spki, signer: odd });
    rejects(
      () => parseCsr(der2),
      "bad_signature_algorithm",
      /unknown signature algorithm 1\.2\.3\.4\.5 is refused/,
    );
  });
});

const ATTRS = ["C", "ST", "L", "O", "OU", "CN", "E", "DC"] as const;
const OUR_NAME: Record<string, string> = { E: "emailAddress" };
// @peculiar/x509's JSON names treat '"', '#' and '\\' specially, so the random values avoid them;
// dn.test.ts covers those characters.
const CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,+=<>;/-.éü中";

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}
function rndLabel(): string {
  const s = "abcdefghijklmnopqrstuvwxyz0123456789";
  let out = s[rnd(26)]!;
  for (let i = rnd(10); i > 0; i--) out += s[rnd(s.length)];
  return out;
}
function rndValue(type: string): string {
  if (type === "C") return ["BE", "NL", "FR", "DE", "US"][rnd(5)]!;
  if (type === "E") return `${rndLabel()}@${rndLabel()}.example`;
  if (type === "DC") return rndLabel();
  let v = "";
  for (let i = 1 + rnd(20); i > 0; i--) v += CHARS[rnd(CHARS.length)];
  // @peculiar/x509 reads a leading '#' as hex (RFC 4514 §2.4): keep values that start with it out.
  return v.trim().replace(/^#/, "x") || "x";
}
function rndSans(): GeneralName[] {
  const out: GeneralName[] = [];
  for (let i = rnd(5); i > 0; i--) {
    switch (rnd(4)) {
      case 0:
        out.push({ type: "dns", value: `${rnd(2) ? "*." : ""}${rndLabel()}.${rndLabel()}.example` });
        break;
      case 1:
        out.push({ type: "ip", value: `${rnd(256)}.${rnd(256)}.${rnd(256)}.${rnd(256)}` });
        break;
      case 2:
        out.push({ type: "email", value: `${rndLabel()}@${rndLabel()}.example` });
        break;
      default:
        out.push({ type: "uri", value: `https://${rndLabel()}.example/${rndLabel()}` });
    }
  }
  return out;
}

describe("parseCsr against @peculiar/x509", () => {
  it("reads 200 random requests (random subjects and SANs) exactly as generated", async () => {
    const algs = [
      { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" },
      { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" },
      {
        name: "RSASSA-PKCS1-v1_5",
        hash: "SHA-256",
        publicExponent: new Uint8Array([1, 0, 1]),
        modulusLength: 2048,
      },
      { name: "Ed25519" },
    ];
    const keys = await Promise.all(
      algs.map(
        (a) =>
          webcrypto.subtle.generateKey(a as webcrypto.EcKeyGenParams, true, [
            "sign",
            "verify",
          ]) as Promise<webcrypto.CryptoKeyPair>,
      ),
    );
    for (let i = 0; i < 200; i++) {
      const k = i % algs.length;
      const types = ATTRS.filter(() => rnd(2)).concat(["CN"]);
      const name = types.map((ty) => ({ [ty]: [rndValue(ty)] }));
      const sans = rndSans();
      const extensions = sans.length
        ? [
            new x509.SubjectAlternativeNameExtension(
              sans.map((s) => ({ type: s.type === "uri" ? "url" : s.type, value: s.value })),
            ),
          ]
        : [];
      const req = await x509.Pkcs10CertificateRequestGenerator.create({
        name,
        keys: keys[k]!,
        signingAlgorithm: algs[k]!,
        extensions,
      });
      const der = Buffer.from(req.rawData);
      const csr = parseCsr(i % 2 ? der : req.toString("pem"));
      assert.deepEqual(
        csr.subject.map((a) => ({ name: a.name, value: a.value })),
        name.map((n) => {
          const [ty, [v]] = Object.entries(n)[0]!;
          return { name: OUR_NAME[ty] ?? ty, value: v! };
        }),
      );
      assert.deepEqual(csr.subjectDer, Buffer.from(req.subjectName.toArrayBuffer()));
      // An independent decode of the same bytes (@peculiar/asn1-x509) agrees too.
      const asnName = AsnConvert.parse(csr.subjectDer, AsnName);
      assert.deepEqual(
        csr.subject.map((a) => [a.oid, a.value]),
        [...asnName].map((rdn) => [rdn[0]!.type, rdn[0]!.value.toString()]),
      );
      assert.deepEqual(csr.requestedSans, sans);
      assert.deepEqual(csr.spki, Buffer.from(req.publicKey.rawData));
      assert.deepEqual(csr.publicKey, describePublicKey(Buffer.from(req.publicKey.rawData)));
      assert.deepEqual(csr.requestedExtensions, sans.length ? ["2.5.29.17"] : []);
    }
  });

  it("measures parseCsr for P-256 (printed, not asserted)", async () => {
    const signer = makeSigner("p256");
    const der = await buildCsr({
      subject: parseDn("/C=BE/O=Gentoo Fictional, Inc./CN=host.genfic.example"),
      sans: parseSanList("dns:host.genfic.example,ip:10.1.2.3"),
      spki: signer.spki,
      signer,
    });
    const pem = toPem(der, "CERTIFICATE REQUEST");
    const n = 5000;
    for (let i = 0; i < 1000; i++) readCsrStructure(der);
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) readCsrStructure(der);
    const structUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) readCsrStructure(pem);
    const pemUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
    const s = readCsrStructure(der);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) verifySignature(s.spki, s.signatureAlgorithm, undefined, s.info, s.signature);
    const verifyUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
    t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) parseCsr(der);
    const fullUs = Number(process.hrtime.bigint() - t0) / 1000 / n;
    console.log(
      `parseCsr P-256 DER without signature check: ${structUs.toFixed(1)} µs/op; from PEM: ${pemUs.toFixed(1)} µs/op`,
    );
    console.log(
      `ECDSA P-256 verify alone: ${verifyUs.toFixed(1)} µs/op; full parseCsr (DER, verified): ${fullUs.toFixed(1)} µs/op`,
    );
    assert.ok(fullUs > 0);
  });
});
