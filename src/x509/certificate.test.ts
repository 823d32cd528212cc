import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { isSigilError } from "../errors.js";
import type { KeyType } from "../keys/types.js";
import { describePublicKey } from "./algorithms.js";
import { parseCertificate, verifyCertificateSignature } from "./cert-reader.js";
import { buildCertificate, buildTbs, keyIdentifier, makeIssuerTemplate, signTbs } from "./certificate.js";
import type { CertificateRequest, IssuerTemplate } from "./certificate.js";
import { toPem } from "./der.js";
import { encodeDn, parseDn } from "./dn.js";
import { AccessOid, EkuOid, ExtOid } from "./oids.js";
import { PROFILES } from "./profiles.js";
import type { Profile } from "./profiles.js";
import { parseSanList } from "./san.js";
import { newSerial } from "./serial.js";
import { makeSigner, openssl, tempDir } from "./testkit.test.js";
import type { TestKey } from "./testkit.test.js";
import type { GeneralName } from "./types.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 27, 12, 34, 56, 789);
const CRL = "http://pki.genfic.example/crl/genfic.crl";
const OCSP = "http://pki.genfic.example/ocsp";
const CA_ISSUERS = "http://pki.genfic.example/ca/genfic.crt";

const KU_FLAGS: Record<string, number> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
};

function serial(): Buffer {
  return newSerial(Buffer.from(createHash("sha256").update(String(Math.random())).digest().subarray(0, 16)));
}

interface Built {
  key: TestKey;
  der: Buffer;
  subjectDer: Buffer;
  serial: Buffer;
  template: IssuerTemplate;
}

async function makeRoot(
  keyType: KeyType,
  subject = "/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA",
): Promise<Built> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(parseDn(subject));
  const selfTemplate = makeIssuerTemplate({
    issuerSubjectDer: subjectDer,
    issuerSpki: key.spki,
    signer: key,
  });
  const s = serial();
  const der = await buildCertificate(selfTemplate, {
    serial: s,
    notBefore: NOW,
    notAfter: NOW + 7300 * DAY,
    subjectDer,
    spki: key.spki,
    profile: PROFILES.ca!,
    publicKey: describePublicKey(key.spki),
    sans: [],
    pathLen: 1,
    selfSigned: true,
  });
  const template = makeIssuerTemplate({
    issuerCertDer: der,
    issuerSubjectDer: subjectDer,
    issuerSpki: key.spki,
    signer: key,
    crlUrl: CRL,
    ocspUrl: OCSP,
    caIssuersUrl: CA_ISSUERS,
  });
  return { key, der, subjectDer, serial: s, template };
}

async function issue(
  issuer: Built,
  keyType: KeyType,
  subject: string,
  profile: Profile,
  sans: GeneralName[],
  opts: { pathLen?: number; days?: number } = {},
): Promise<Built> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(subject ? parseDn(subject) : []);
  const s = serial();
  const der = await buildCertificate(issuer.template, {
    serial: s,
    notBefore: NOW,
    notAfter: NOW + (opts.days ?? 365) * DAY,
    subjectDer,
    spki: key.spki,
    profile,
    publicKey: describePublicKey(key.spki),
    sans,
    pathLen: opts.pathLen,
  });
  const template = profile.ca
    ? makeIssuerTemplate({
        issuerCertDer: der,
        issuerSubjectDer: subjectDer,
        issuerSpki: key.spki,
        signer: key,
        crlUrl: CRL,
        ocspUrl: OCSP,
        caIssuersUrl: CA_ISSUERS,
      })
    : issuer.template;
  return { key, der, subjectDer, serial: s, template };
}

async function expectedSki(spki: Buffer): Promise<string> {
  const pk = new x509.PublicKey(spki);
  const ext = await x509.SubjectKeyIdentifierExtension.create(pk);
  return ext.keyId.toLowerCase();
}

/** Compares every field of a certificate, as @peculiar/x509 reads it, with what was asked for. */
async function checkWithPeculiar(
  b: Built,
  issuer: Built,
  want: {
    subject: Array<Record<string, string[]>>;
    issuer: Array<Record<string, string[]>>;
    profile: Profile;
    sans: GeneralName[];
    pathLen?: number;
    selfSigned: boolean;
    days: number;
  },
): Promise<void> {
  const cert = new x509.X509Certificate(b.der);
  const issuerCert = new x509.X509Certificate(issuer.der);
  assert.equal(
    cert.serialNumber.toLowerCase().replace(/^0+/, ""),
    b.serial.toString("hex").replace(/^0+/, ""),
  );
  assert.deepEqual(cert.subjectName.toJSON(), want.subject);
  assert.deepEqual(cert.issuerName.toJSON(), want.issuer);
  assert.equal(cert.notBefore.getTime(), Math.floor(NOW / 1000) * 1000);
  assert.equal(cert.notAfter.getTime(), Math.floor((NOW + want.days * DAY) / 1000) * 1000);

  const oids = [...cert.extensions].map((e) => e.type);
  const expectOrder: string[] = [ExtOid.basicConstraints, ExtOid.keyUsage];
  if (!want.profile.ca) expectOrder.push(ExtOid.extKeyUsage);
  if (want.sans.length) expectOrder.push(ExtOid.subjectAltName);
  expectOrder.push(ExtOid.subjectKeyIdentifier);
  if (!want.selfSigned)
    expectOrder.push(ExtOid.authorityKeyIdentifier, ExtOid.cRLDistributionPoints, ExtOid.authorityInfoAccess);
  if (want.profile.ocspNoCheck) expectOrder.push(ExtOid.ocspNoCheck);
  assert.deepEqual(oids, expectOrder);

  const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
  assert.equal(bc.critical, true);
  assert.equal(bc.ca, want.profile.ca);
  assert.equal(bc.pathLength, want.pathLen);

  const ku = cert.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.critical, true);
  const flags = want.profile.keyUsage(describePublicKey(b.key.spki)).reduce((f, n) => f | KU_FLAGS[n]!, 0);
  assert.equal(ku.usages, flags);

  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (want.profile.ca) assert.equal(eku, null);
  else {
    assert.equal(eku!.critical, false);
    assert.deepEqual([...eku!.usages], want.profile.extKeyUsage);
  }

  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (want.sans.length === 0) assert.equal(san, null);
  else {
    assert.equal(san!.critical, want.subject.length === 0);
    const got = san!.names.items.map((n) => ({ type: n.type === "url" ? "uri" : n.type, value: n.value }));
    assert.deepEqual(
      got.map((g) => (g.type === "ip" ? { ...g, value: g.value.toLowerCase() } : g)),
      want.sans.map((g) => ({ type: g.type, value: g.value })),
    );
  }

  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
  assert.equal(ski.critical, false);
  assert.equal(ski.keyId.toLowerCase(), await expectedSki(b.key.spki));

  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (want.selfSigned) assert.equal(aki, null);
  else {
    const issuerSki = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    assert.equal(aki!.keyId!.toLowerCase(), issuerSki.keyId.toLowerCase());
    assert.equal(aki!.critical, false);

    const cdp = cert.getExtension(x509.CRLDistributionPointsExtension)!;
    assert.equal(cdp.distributionPoints.length, 1);
    assert.equal(cdp.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier, CRL);

    const aia = cert.getExtension(x509.AuthorityInfoAccessExtension)!;
    assert.deepEqual(
      aia.ocsp.map((g) => g.value),
      [OCSP],
    );
    assert.deepEqual(
      aia.caIssuers.map((g) => g.value),
      [CA_ISSUERS],
    );
  }
  const noCheck = cert.getExtension(ExtOid.ocspNoCheck);
  assert.equal(noCheck !== null, want.profile.ocspNoCheck === true);

  assert.equal(await cert.verify({ publicKey: issuerCert.publicKey, date: new Date(NOW + 1000) }), true);
  // A different key must not verify it (the test can fail).
  const other = await makeRoot(issuer.key.keyType, "/CN=Other");
  assert.equal(
    await cert.verify({
      publicKey: new x509.X509Certificate(other.der).publicKey,
      date: new Date(NOW + 1000),
    }),
    false,
  );
}

const GENFIC: Array<Record<string, string[]>> = [
  { C: ["BE"] },
  { O: ["Gentoo Fictional, Inc."] },
  { CN: ["GenFic Root CA"] },
];

const CASES: Array<{
  keyType: KeyType;
  leafKey: KeyType;
  profile: string;
  subject: string;
  sans: string;
  json: Array<Record<string, string[]>>;
}> = [
  {
    keyType: "rsa2048",
    leafKey: "rsa2048",
    profile: "system",
    subject: "/C=BE/O=Gentoo Fictional, Inc./CN=host.genfic.example",
    sans: "dns:host.genfic.example,dns:*.apps.genfic.example,ip:10.0.0.1,ip:2001:db8::1",
    json: [{ C: ["BE"] }, { O: ["Gentoo Fictional, Inc."] }, { CN: ["host.genfic.example"] }],
  },
  {
    keyType: "p256",
    leafKey: "p256",
    profile: "user",
    subject: "CN=Jane Doe,OU=Sales\\, EMEA,O=Gentoo Fictional\\, Inc.,C=BE",
    sans: "email:jane@genfic.example",
    json: [{ C: ["BE"] }, { O: ["Gentoo Fictional, Inc."] }, { OU: ["Sales, EMEA"] }, { CN: ["Jane Doe"] }],
  },
  {
    keyType: "p384",
    leafKey: "rsa2048",
    profile: "user",
    subject: "/C=BE/O=Gentoo Fictional, Inc./CN=Jöhn Dœ",
    sans: "email:john@genfic.example",
    json: [{ C: ["BE"] }, { O: ["Gentoo Fictional, Inc."] }, { CN: ["Jöhn Dœ"] }],
  },
  {
    keyType: "ed25519",
    leafKey: "p256",
    profile: "ocsp",
    subject: "/C=BE/O=Gentoo Fictional, Inc./CN=GenFic OCSP Responder",
    sans: "",
    json: [{ C: ["BE"] }, { O: ["Gentoo Fictional, Inc."] }, { CN: ["GenFic OCSP Responder"] }],
  },
];

describe("certificate writer", () => {
  for (const c of CASES) {
    it(`${c.keyType} root, intermediate and ${c.profile} leaf match @peculiar/x509 and pass openssl verify -x509_strict`, async () => {
      const root = await makeRoot(c.keyType);
      await checkWithPeculiar(root, root, {
        subject: GENFIC,
        issuer: GENFIC,
        profile: PROFILES.ca!,
        sans: [],
        pathLen: 1,
        selfSigned: true,
        days: 7300,
      });

      const inter = await issue(
        root,
        c.keyType,
        "/C=BE/O=Gentoo Fictional, Inc./CN=GenFic User CA",
        PROFILES.ca!,
        [],
        {
          pathLen: 0,
          days: 1095,
        },
      );
      const interJson: Array<Record<string, string[]>> = [
        { C: ["BE"] },
        { O: ["Gentoo Fictional, Inc."] },
        { CN: ["GenFic User CA"] },
      ];
      await checkWithPeculiar(inter, root, {
        subject: interJson,
        issuer: GENFIC,
        profile: PROFILES.ca!,
        sans: [],
        pathLen: 0,
        selfSigned: false,
        days: 1095,
      });

      const sans = parseSanList(c.sans);
      const profile = PROFILES[c.profile]!;
      const leaf = await issue(inter, c.leafKey, c.subject, profile, sans, { days: 396 });
      await checkWithPeculiar(leaf, inter, {
        subject: c.json,
        issuer: interJson,
        profile,
        sans,
        selfSigned: false,
        days: 396,
      });

      // Our own reader agrees, and the signature checks with our verifier too.
      const info = parseCertificate(leaf.der);
      assert.equal(info.serialHex, leaf.serial.toString("hex").replace(/^0+/, ""));
      assert.deepEqual(info.sans, sans);
      assert.equal(info.isCa, false);
      assert.equal(verifyCertificateSignature(info, inter.key.spki), true);
      assert.equal(verifyCertificateSignature(info, root.key.spki), false);

      const t = tempDir();
      try {
        t.file("root.pem", toPem(root.der, "CERTIFICATE"));
        t.file("inter.pem", toPem(inter.der, "CERTIFICATE"));
        t.file("leaf.pem", toPem(leaf.der, "CERTIFICATE"));
        const attime = String(Math.floor(NOW / 1000) + 60);
        const purpose =
          c.profile === "system"
            ? ["-purpose", "sslserver"]
            : c.profile === "user"
              ? ["-purpose", "smimesign"]
              : [];
        const v = openssl(
          [
            "verify",
            "-x509_strict",
            "-attime",
            attime,
            ...purpose,
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
          ],
          t.dir,
        );
        assert.equal(v.status, 0, v.out);
        assert.match(v.out, /leaf\.pem: OK/);
        const vi = openssl(
          ["verify", "-x509_strict", "-attime", attime, "-CAfile", "root.pem", "inter.pem"],
          t.dir,
        );
        assert.equal(vi.status, 0, vi.out);
        // Without the intermediate the chain must not verify (the check can fail).
        const bad = openssl(
          ["verify", "-x509_strict", "-attime", attime, "-CAfile", "root.pem", "leaf.pem"],
          t.dir,
        );
        assert.notEqual(bad.status, 0);
      } finally {
        t.done();
      }
    });
  }

  it("empty subject: SAN is critical (RFC 5280 §4.2.1.6) and openssl accepts it", async () => {
    const root = await makeRoot("p256");
    const sans = parseSanList("dns:svc.genfic.example");
    const leaf = await issue(root, "p256", "", PROFILES.system!, sans);
    await checkWithPeculiar(leaf, root, {
      subject: [],
      issuer: GENFIC,
      profile: PROFILES.system!,
      sans,
      selfSigned: false,
      days: 365,
    });
    const t = tempDir();
    try {
      t.file("root.pem", toPem(root.der, "CERTIFICATE"));
      t.file("leaf.pem", toPem(leaf.der, "CERTIFICATE"));
      const v = openssl(
        [
          "verify",
          "-x509_strict",
          "-attime",
          String(Math.floor(NOW / 1000) + 60),
          "-CAfile",
          "root.pem",
          "leaf.pem",
        ],
        t.dir,
      );
      assert.equal(v.status, 0, v.out);
    } finally {
      t.done();
    }
  });

  it("buildTbs + signTbs equals buildCertificate's structure, and per-certificate fields vary while the cache holds", async () => {
    const root = await makeRoot("p256");
    const key = makeSigner("p256");
    const base: CertificateRequest = {
      serial: Buffer.from("01", "hex"),
      notBefore: NOW,
      notAfter: NOW + DAY,
      subjectDer: encodeDn(parseDn("/CN=a.genfic.example")),
      spki: key.spki,
      profile: PROFILES.system!,
      publicKey: describePublicKey(key.spki),
      sans: parseSanList("dns:a.genfic.example"),
    };
    const tbs1 = buildTbs(root.template, base);
    const tbs2 = buildTbs(root.template, {
      ...base,
      serial: Buffer.from("02", "hex"),
      sans: parseSanList("dns:b.genfic.example"),
    });
    assert.notDeepEqual(tbs1, tbs2);
    const cert = parseCertificate(await signTbs(root.template, tbs2));
    assert.equal(cert.serialHex, "2");
    assert.deepEqual(cert.sans, [{ type: "dns", value: "b.genfic.example" }]);
    assert.deepEqual(cert.subjectKeyId, keyIdentifier(key.spki));
    assert.deepEqual(cert.tbs, tbs2);
  });

  it("refuses what RFC 5280 forbids", async () => {
    const root = await makeRoot("p256");
    const key = makeSigner("p256");
    const base: CertificateRequest = {
      serial: Buffer.from("01", "hex"),
      notBefore: NOW,
      notAfter: NOW + DAY,
      subjectDer: encodeDn(parseDn("/CN=x")),
      spki: key.spki,
      profile: PROFILES.user!,
      publicKey: describePublicKey(key.spki),
      sans: [],
    };
    const cases: Array<[Partial<CertificateRequest>, string, RegExp]> = [
      [{ serial: Buffer.from([0]) }, "bad_input", /serial/],
      [{ serial: Buffer.alloc(21, 0x11) }, "bad_input", /20 octets/],
      [{ notAfter: NOW }, "bad_input", /notAfter/],
      [{ notAfter: NOW + 30 * 365 * DAY }, "validity_exceeds_parent", /outlive/],
      [{ subjectDer: encodeDn([]) }, "bad_input", /empty subject/],
      [{ pathLen: 0 }, "path_len", /CA certificates/],
      [{ profile: PROFILES.ca!, pathLen: -1 }, "path_len", /non-negative/],
      [{ selfSigned: true }, "bad_input", /self-signed/],
    ];
    for (const [patch, code, msg] of cases) {
      assert.throws(
        () => buildTbs(root.template, { ...base, ...patch }),
        (e: unknown) => isSigilError(e) && e.code === code && msg.test(e.message),
        JSON.stringify(Object.keys(patch)),
      );
    }
    assert.throws(
      () => makeIssuerTemplate({ issuerSubjectDer: root.subjectDer, issuerSpki: root.key.spki, signer: key }),
      /signer's key/,
    );
    const leaf = await issue(root, "p256", "/CN=leaf", PROFILES.user!, []);
    assert.throws(
      () =>
        makeIssuerTemplate({
          issuerCertDer: leaf.der,
          issuerSubjectDer: leaf.subjectDer,
          issuerSpki: leaf.key.spki,
          signer: leaf.key,
        }),
      (e: unknown) => isSigilError(e, "ca_not_issuer"),
    );
  });

  it("the OIDs in the profiles are the RFC 5280 / RFC 6960 ones", () => {
    assert.deepEqual(PROFILES.system!.extKeyUsage, ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    assert.deepEqual(PROFILES.user!.extKeyUsage, [EkuOid.clientAuth, EkuOid.emailProtection]);
    assert.equal(AccessOid.ocsp, "1.3.6.1.5.5.7.48.1");
    assert.equal(ExtOid.ocspNoCheck, "1.3.6.1.5.5.7.48.1.5");
  });

  it("measures buildCertificate for P-256 (printed, not asserted)", async () => {
    const root = await makeRoot("p256");
    const key = makeSigner("p256");
    const subjectDer = encodeDn(parseDn("/C=BE/O=Gentoo Fictional, Inc./CN=host.genfic.example"));
    const publicKey = describePublicKey(key.spki);
    const sans = parseSanList("dns:host.genfic.example,ip:10.1.2.3");
    const req = (i: number): CertificateRequest => ({
      serial: serial(),
      notBefore: NOW + i,
      notAfter: NOW + 365 * DAY,
      subjectDer,
      spki: key.spki,
      profile: PROFILES.system!,
      publicKey,
      sans,
    });
    for (let i = 0; i < 200; i++) await buildCertificate(root.template, req(i));
    const reqs = Array.from({ length: 3000 }, (_, i) => req(i));
    let t0 = process.hrtime.bigint();
    for (const r of reqs) buildTbs(root.template, r);
    const tbsUs = Number(process.hrtime.bigint() - t0) / 1000 / reqs.length;
    t0 = process.hrtime.bigint();
    for (const r of reqs) await buildCertificate(root.template, r);
    const certUs = Number(process.hrtime.bigint() - t0) / 1000 / reqs.length;
    console.log(`buildTbs (P-256 issuer, system profile): ${tbsUs.toFixed(1)} µs/op`);
    console.log(
      `buildCertificate incl. P-256 signing: ${certUs.toFixed(1)} µs/op (${Math.round(1e6 / certUs)} certs/s)`,
    );
    assert.ok(certUs > 0);
  });
});
