import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { parseCertificate, parseCertificates, verifyCertificateSignature } from "./cert-reader.js";
import { openssl, tempDir } from "./testkit.test.js";

function bad(f: () => unknown, msg: RegExp): void {
  assert.throws(
    f,
    (e: unknown) =>
      e instanceof SigilError && e.code === "bad_input" && msg.test(e.message) && !e.message.includes("\n"),
  );
}

describe("parseCertificate", () => {
  it("reads an openssl-made CA and leaf", () => {
    const t = tempDir();
    try {
      const run = (args: string[]): void => {
        const r = openssl(args, t.dir);
        assert.equal(r.status, 0, r.out);
      };
      run([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        "ca.key",
        "-subj",
        "/C=BE/O=Gentoo Fictional, Inc./CN=GenFic Root CA",
        "-days",
        "30",
        "-set_serial",
        "0x00c0ffee",
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:2",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "ca.pem",
      ]);
      run([
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-subj",
        "/CN=leaf.genfic.example",
        "-out",
        "leaf.req",
      ]);
      t.file(
        "ext.cnf",
        "subjectAltName=DNS:leaf.genfic.example,IP:192.0.2.9\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nauthorityInfoAccess=OCSP;URI:http://o.example/,caIssuers;URI:http://c.example/ca.crt\ncrlDistributionPoints=URI:http://c.example/ca.crl\n",
      );
      run([
        "x509",
        "-req",
        "-in",
        "leaf.req",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-set_serial",
        "77",
        "-days",
        "10",
        "-extfile",
        "ext.cnf",
        "-out",
        "leaf.pem",
      ]);
      const ca = parseCertificate(readFileSync(t.file("ca.pem"), "utf8"));
      assert.equal(ca.serialHex, "c0ffee");
      assert.equal(ca.isCa, true);
      assert.equal(ca.pathLen, 2);
      assert.deepEqual(ca.keyUsage, ["keyCertSign", "cRLSign"]);
      assert.deepEqual(ca.publicKey, { kind: "ec", curve: "P-384" });
      assert.equal(ca.subject[1]!.value, "Gentoo Fictional, Inc.");
      assert.equal(ca.notAfter - ca.notBefore, 30 * 86_400_000);
      const leaf = parseCertificate(readFileSync(t.file("leaf.pem")));
      assert.equal(leaf.serialHex, "4d");
      assert.equal(leaf.isCa, false);
      assert.deepEqual(leaf.sans, [
        { type: "dns", value: "leaf.genfic.example" },
        { type: "ip", value: "192.0.2.9" },
      ]);
      assert.deepEqual(leaf.extKeyUsage, ["1.3.6.1.5.5.7.3.1"]);
      assert.deepEqual(leaf.ocspUrls, ["http://o.example/"]);
      assert.deepEqual(leaf.caIssuersUrls, ["http://c.example/ca.crt"]);
      assert.deepEqual(leaf.crlUrls, ["http://c.example/ca.crl"]);
      assert.deepEqual(leaf.authorityKeyId, ca.subjectKeyId);
      assert.deepEqual(leaf.issuerDer, ca.subjectDer);
      assert.equal(verifyCertificateSignature(leaf, ca.spki), true);
      assert.equal(verifyCertificateSignature(leaf, leaf.spki), false);
      const fp = openssl(["x509", "-in", "leaf.pem", "-noout", "-fingerprint", "-sha256"], t.dir).out;
      assert.equal(fp.split("=")[1]!.trim().replace(/:/g, "").toLowerCase(), leaf.fingerprint);
      const chain = parseCertificates(
        readFileSync(t.file("leaf.pem"), "utf8") + readFileSync(t.file("ca.pem"), "utf8"),
      );
      assert.deepEqual(
        chain.map((c) => c.serialHex),
        ["4d", "c0ffee"],
      );
      bad(
        () => parseCertificate(readFileSync(t.file("leaf.req"), "utf8")),
        /^not a certificate \(found a CERTIFICATE REQUEST PEM block\)$/,
      );
      bad(() => parseCertificate(readFileSync(t.file("leaf.key"), "utf8")), /found a PRIVATE KEY PEM block/);
      bad(() => parseCertificates("nothing"), /no CERTIFICATE PEM block/);
      const der = openssl(["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"], t.dir);
      assert.equal(der.status, 0);
      const d = readFileSync(t.file("leaf.der"));
      assert.equal(parseCertificate(d).fingerprint, leaf.fingerprint);
      bad(() => parseCertificate(d.subarray(0, 100)), /^certificate is malformed: /);
      bad(() => parseCertificate(""), /^input is empty$/);
      bad(() => parseCertificate(Buffer.from("garbage")), /^not a certificate/);
    } finally {
      t.done();
    }
  });
});
