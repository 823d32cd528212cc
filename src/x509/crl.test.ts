import "reflect-metadata";
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { KeyObject, verify as cryptoVerify, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { buildCrl, crlToPem } from "./crl.js";
import { children, decodeInt, readNode, readWhole, time as derTime } from "./der.js";
import { NodeSigner } from "../keys/node-signer.js";
import type { RevokedEntry } from "./types.js";
import { isSigilError, ErrorCodes } from "../errors.js";

x509.cryptoProvider.set(webcrypto as never);

interface Issuer {
  label: string;
  cert: x509.X509Certificate;
  pem: string;
  signer: NodeSigner;
  keys: webcrypto.CryptoKeyPair;
  alg: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams;
  subjectDer: Buffer;
  keyId: Buffer;
}

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const HOUR = 3_600_000;
let dir: string;

async function makeIssuer(label: string, kind: "rsa" | "p256"): Promise<Issuer> {
  const alg =
    kind === "rsa"
      ? {
          name: "RSASSA-PKCS1-v1_5",
          hash: "SHA-256",
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: 2048,
        }
      : { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: `CN=Sigil Test ${label} CA, O=Gentoo Fictional\\, Inc., C=BE`,
    notBefore: new Date(T0 - 24 * HOUR),
    notAfter: new Date(T0 + 365 * 24 * HOUR),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const der = Buffer.from(cert.rawData);
  const tbs = children(readWhole(der))[0]!;
  const f = children(tbs);
  const subjectDer = Buffer.from(f[5]!.raw); // version, serial, signature, issuer, validity, subject
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
  const signer = new NodeSigner(KeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey));
  return {
    label,
    cert,
    pem: cert.toString("pem"),
    signer,
    keys,
    alg,
    subjectDer,
    keyId: Buffer.from(ski.keyId, "hex"),
  };
}

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

function parse(der: Buffer): x509.X509Crl {
  return new x509.X509Crl(der, { berOptions: { maxNodes: 10_000_000, maxContentLength: 1 << 30 } });
}

function crlNumberOf(crl: x509.X509Crl): bigint {
  const ext = crl.extensions.find((e) => e.type === "2.5.29.20")!;
  return decodeInt(readWhole(Buffer.from(ext.value)).content);
}

function akiOf(crl: x509.X509Crl): string | undefined {
  const ext = crl.extensions.find((e) => e.type === "2.5.29.35");
  return ext ? new x509.AuthorityKeyIdentifierExtension(ext.rawData).keyId : undefined;
}

/** Checks the raw entries: 2 fields, or 3 with a non-empty crlEntryExtensions. */
function assertNoEmptyEntryExtensions(der: Buffer): number {
  const tbs = children(children(readWhole(der))[0]!);
  const revoked = tbs.find((n, i) => i > 4 && n.tag === 0x30);
  if (!revoked) return 0;
  const list = children(revoked);
  for (const e of list) {
    const f = children(e);
    assert.ok(f.length === 2 || f.length === 3);
    if (f.length === 3) assert.ok(children(f[2]!).length > 0, "empty crlEntryExtensions");
  }
  return list.length;
}

function serialOf(i: number): string {
  // 16-byte serials, about half with the high bit set (needs a 00 sign octet).
  const hi = ((i * 2654435761) >>> 0).toString(16).padStart(8, "0");
  return (hi + i.toString(16).padStart(24, "0")).replace(/^0+/, "");
}

function entriesOf(n: number): RevokedEntry[] {
  const reasons = [null, 0, 1, 2, 3, 4, 5, 6, 9, 10];
  return Array.from({ length: n }, (_, i) => ({
    serialHex: serialOf(i + 1),
    revokedAt: T0 - (n - i) * 1000 - (i % 7),
    reason: reasons[i % reasons.length]!,
  }));
}

const THREE: RevokedEntry[] = [
  { serialHex: "1a2b3c", revokedAt: T0 - 3 * HOUR, reason: 1 },
  { serialHex: "ff00ee", revokedAt: T0 - 2 * HOUR, reason: null },
  { serialHex: "7f", revokedAt: T0 - HOUR, reason: 4 },
];

const OPENSSL_REASONS: Record<number, string> = {
  1: "Key Compromise",
  2: "CA Compromise",
  3: "Affiliation Changed",
  4: "Superseded",
  5: "Cessation Of Operation",
  6: "Certificate Hold",
  9: "Privilege Withdrawn",
  10: "AA Compromise",
};

const issuers: Issuer[] = [];
const algName = (c: x509.X509Crl): string => (c.signatureAlgorithm as unknown as { name: string }).name;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sigil-crl-"));
  issuers.push(await makeIssuer("RSA", "rsa"), await makeIssuer("P256", "p256"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

for (const kind of ["RSA", "P256"]) {
  describe(`CRL with ${kind} issuer`, () => {
    for (const n of [0, 1, 3, 2000]) {
      test(`${n} entries: openssl verifies, @peculiar/x509 reads the same fields`, async () => {
        const iss = issuers.find((i) => i.label === kind)!;
        const entries = n === 3 ? THREE : entriesOf(n);
        const der = await buildCrl({
          issuerNameDer: iss.subjectDer,
          authorityKeyId: iss.keyId,
          signer: iss.signer,
          crlNumber: 42 + n,
          thisUpdate: T0,
          nextUpdate: T0 + 24 * HOUR,
          entries,
        });
        assert.equal(assertNoEmptyEntryExtensions(der), n);

        // (a) openssl
        const caFile = join(dir, `${kind}-ca.pem`);
        const crlFile = join(dir, `${kind}-${n}.der`);
        writeFileSync(caFile, iss.pem);
        writeFileSync(crlFile, der);
        const r = openssl(["crl", "-inform", "DER", "-in", crlFile, "-CAfile", caFile, "-noout", "-text"]);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /verify OK/);
        assert.match(r.out, /Version 2 \(0x1\)/);
        assert.match(r.out, new RegExp(`X509v3 CRL Number: \\n\\s+${42 + n}`));
        if (n === 0) assert.match(r.out, /No Revoked Certificates/);
        if (n <= 3) {
          for (const e of entries) {
            assert.match(r.out, new RegExp(`Serial Number: 0*${e.serialHex.toUpperCase()}\\b`));
            if (e.reason) assert.match(r.out, new RegExp(OPENSSL_REASONS[e.reason]!));
          }
          if (n === 3) assert.equal(r.out.match(/CRL Reason Code/g)?.length, 2);
        } else {
          assert.equal(r.out.match(/Serial Number:/g)?.length, n);
        }
        // PEM form too
        writeFileSync(crlFile + ".pem", crlToPem(der));
        const rp = openssl(["crl", "-in", crlFile + ".pem", "-CAfile", caFile, "-noout"]);
        assert.equal(rp.status, 0, rp.out);

        // (b) @peculiar/x509
        const crl = parse(der);
        assert.equal(crl.version, 1);
        assert.equal(crl.issuer, iss.cert.subject);
        assert.equal(crl.thisUpdate.getTime(), T0);
        assert.equal(crl.nextUpdate?.getTime(), T0 + 24 * HOUR);
        assert.equal(crlNumberOf(crl), BigInt(42 + n));
        assert.equal(akiOf(crl), iss.keyId.toString("hex"));
        assert.equal(crl.entries.length, n);
        crl.entries.forEach((got, i) => {
          const want = entries[i]!;
          assert.equal(BigInt("0x" + got.serialNumber), BigInt("0x" + want.serialHex));
          assert.equal(got.revocationDate.getTime(), Math.floor(want.revokedAt / 1000) * 1000);
          assert.equal(got.reason, want.reason ? want.reason : undefined);
        });
        assert.equal(await crl.verify({ publicKey: iss.keys.publicKey }), true);
      });
    }

    test("same fields as @peculiar/x509's X509CrlGenerator (50 random entries)", async () => {
      const iss = issuers.find((i) => i.label === kind)!;
      const reasons = [null, 0, 1, 2, 3, 4, 5, 6, 9, 10];
      const entries: RevokedEntry[] = Array.from({ length: 50 }, (_, i) => ({
        // A distinct leading byte per entry keeps serials unique (the library refuses
        // duplicates); random bytes after it vary the length from 1 to 20 octets.
        serialHex:
          (i + 1).toString(16).padStart(2, "0") +
          webcrypto
            .getRandomValues(new Uint8Array(i % 20))
            .reduce((s, b) => s + b.toString(16).padStart(2, "0"), ""),
        // across the UTCTime / GeneralizedTime boundary (RFC 5280 §5.1.2.6)
        revokedAt: Math.floor(Math.random() * Date.UTC(2060, 0, 1)) + Date.UTC(1990, 0, 1) * (i % 2),
        reason: reasons[Math.floor(Math.random() * reasons.length)]!,
      }));
      const ours = parse(
        await buildCrl({
          issuerNameDer: iss.subjectDer,
          authorityKeyId: iss.keyId,
          signer: iss.signer,
          crlNumber: 7n,
          thisUpdate: T0,
          nextUpdate: T0 + 7 * 24 * HOUR,
          entries,
        }),
      );
      const crlNumberValue = Buffer.from([0x02, 0x01, 0x07]);
      const theirs = await x509.X509CrlGenerator.create({
        issuer: iss.cert.subject,
        thisUpdate: new Date(T0),
        nextUpdate: new Date(T0 + 7 * 24 * HOUR),
        signingAlgorithm: iss.alg,
        signingKey: iss.keys.privateKey,
        extensions: [
          new x509.AuthorityKeyIdentifierExtension(iss.keyId.toString("hex")),
          new x509.Extension("2.5.29.20", false, crlNumberValue),
        ],
        entries: entries.map((e) => ({
          serialNumber: e.serialHex,
          revocationDate: new Date(e.revokedAt),
          ...(e.reason ? { reason: e.reason as x509.X509CrlReason } : {}),
        })),
      });
      assert.equal(ours.version, theirs.version);
      assert.equal(ours.issuer, theirs.issuer);
      assert.deepEqual(
        Buffer.from(ours.issuerName.toArrayBuffer()),
        Buffer.from(theirs.issuerName.toArrayBuffer()),
      );
      assert.equal(ours.thisUpdate.getTime(), theirs.thisUpdate.getTime());
      assert.equal(ours.nextUpdate?.getTime(), theirs.nextUpdate?.getTime());
      assert.equal(algName(ours), algName(theirs));
      assert.deepEqual(
        ours.extensions.map((e) => [e.type, e.critical, Buffer.from(e.value).toString("hex")]),
        theirs.extensions.map((e) => [e.type, e.critical, Buffer.from(e.value).toString("hex")]),
      );
      assert.equal(ours.entries.length, theirs.entries.length);
      ours.entries.forEach((o, i) => {
        const t = theirs.entries[i]!;
        assert.equal(o.serialNumber, t.serialNumber);
        assert.equal(o.revocationDate.getTime(), t.revocationDate.getTime());
        assert.equal(o.reason, t.reason);
        // Same encoding of the serial and the date (UTCTime vs GeneralizedTime).
        const [os, od] = children(readWhole(Buffer.from(o.rawData)));
        const [ts, td] = children(readWhole(Buffer.from(t.rawData)));
        assert.deepEqual(os!.raw, ts!.raw);
        assert.deepEqual(od!.raw, td!.raw);
        assert.deepEqual(od!.raw, derTime(entries[i]!.revokedAt));
      });
      assert.equal(await ours.verify({ publicKey: iss.keys.publicKey }), true);
    });
  });
}

test("accepts an async iterable and leading-zero serials", async () => {
  const iss = issuers[1]!;
  async function* gen(): AsyncGenerator<RevokedEntry> {
    yield { serialHex: "00ab", revokedAt: T0, reason: 0 };
    yield { serialHex: "80", revokedAt: T0, reason: 10 };
  }
  const der = await buildCrl({
    issuerNameDer: iss.subjectDer,
    authorityKeyId: iss.keyId,
    signer: iss.signer,
    crlNumber: 1,
    thisUpdate: T0,
    nextUpdate: T0 + HOUR,
    entries: gen(),
  });
  const crl = parse(der);
  assert.deepEqual(
    crl.entries.map((e) => [e.serialNumber, e.reason]),
    [
      ["ab", undefined],
      ["80", 10],
    ],
  );
  assert.equal(await crl.verify({ publicKey: iss.keys.publicKey }), true);
});

test("refuses bad input with BAD_INPUT", async () => {
  const iss = issuers[1]!;
  const base = {
    issuerNameDer: iss.subjectDer,
    authorityKeyId: iss.keyId,
    signer: iss.signer,
    crlNumber: 1,
    thisUpdate: T0,
    nextUpdate: T0 + HOUR,
  };
  const bad = (e: unknown): boolean => isSigilError(e, ErrorCodes.BAD_INPUT);
  await assert.rejects(
    buildCrl({ ...base, entries: [{ serialHex: "xyz", revokedAt: T0, reason: null }] }),
    bad,
  );
  await assert.rejects(buildCrl({ ...base, entries: [{ serialHex: "", revokedAt: T0, reason: null }] }), bad);
  await assert.rejects(buildCrl({ ...base, entries: [{ serialHex: "01", revokedAt: T0, reason: 7 }] }), bad);
  await assert.rejects(buildCrl({ ...base, entries: [{ serialHex: "01", revokedAt: T0, reason: 8 }] }), bad);
  await assert.rejects(buildCrl({ ...base, entries: [{ serialHex: "01", revokedAt: NaN, reason: 1 }] }), bad);
  await assert.rejects(buildCrl({ ...base, nextUpdate: T0 - 1, entries: [] }), bad);
  await assert.rejects(buildCrl({ ...base, crlNumber: -1, entries: [] }), bad);
  await assert.rejects(buildCrl({ ...base, crlNumber: 1n << 159n, entries: [] }), bad);
});

test("1,000,000 entries with P-256 (timing printed, not asserted)", async () => {
  const iss = issuers[1]!;
  function* gen(): Generator<RevokedEntry> {
    for (let i = 1; i <= 1_000_000; i++)
      yield {
        serialHex: serialOf(i),
        revokedAt: T0 - 1_000_000_000 + i * 997,
        reason: i % 3 === 0 ? 1 : null,
      };
  }
  global.gc?.();
  const rss0 = process.memoryUsage().rss;
  const maxRss0 = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const der = await buildCrl({
    issuerNameDer: iss.subjectDer,
    authorityKeyId: iss.keyId,
    signer: iss.signer,
    crlNumber: 1,
    thisUpdate: T0,
    nextUpdate: T0 + HOUR,
    entries: gen(),
  });
  const ms = performance.now() - t0;
  const rss1 = process.memoryUsage().rss;
  const maxRss1 = process.resourceUsage().maxRSS * 1024;
  // Check the signature over the TBS and the entry count without a full parse.
  const outer = readWhole(der);
  const tbs = readNode(outer.content, 0);
  const sigAlgEnd = readNode(outer.content, tbs.end).end;
  const sig = readNode(outer.content, sigAlgEnd);
  const ok = cryptoVerify(
    "sha256",
    tbs.raw,
    KeyObject.from(iss.keys.publicKey as unknown as webcrypto.CryptoKey),
    sig.content.subarray(1),
  );
  assert.equal(ok, true);
  const revoked = children(tbs)[5]!;
  let count = 0;
  for (let p = 0; p < revoked.content.length; p = readNode(revoked.content, p).end) count++;
  assert.equal(count, 1_000_000);
  console.log(
    `CRL 1,000,000 entries P-256: ${ms.toFixed(0)} ms, ${(der.length / 1e6).toFixed(1)} MB DER, ` +
      `RSS +${((rss1 - rss0) / 1e6).toFixed(0)} MB, peak RSS +${((maxRss1 - maxRss0) / 1e6).toFixed(0)} MB`,
  );
});
