/**
 * The portal's browser-side crypto (web/src/lib), run under Node's WebCrypto and checked by
 * OpenSSL: CSRs made from WebCrypto keys verify, the sealed key opens only with its password,
 * and the PKCS#12 file opens with `openssl pkcs12` and holds the key that matches the leaf.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, tool, write } from "./helpers.js";
import { buildCsr, generateKeyPair, type KeyAlg } from "../web/src/lib/csr.js";
import { openSealedKey, sealPrivateKey, parseSealedKey } from "../web/src/lib/custody.js";
import { buildPkcs12 } from "../web/src/lib/p12.js";
import { pemBlocks } from "../web/src/lib/pem.js";
import { normalizeSerial, sameSerial } from "../web/src/lib/serial.js";
import { normalizeSerialHex, serialToHex, newSerial } from "../src/x509/serial.js";
import { randomBytes } from "node:crypto";

const { dir, cleanup } = tempDir("sigil-weblib-");
after(cleanup);

function ok(cmd: string, args: string[], input?: string): string {
  const r = tool(cmd, args, { cwd: dir, input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

// A root and an intermediate made by OpenSSL, to sign the browser's CSRs.
ok("openssl", [
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-keyout",
  "root.key",
  "-out",
  "root.pem",
  "-subj",
  "/CN=Web Lib Root",
  "-days",
  "30",
]);
ok("openssl", [
  "req",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-nodes",
  "-keyout",
  "int.key",
  "-out",
  "int.csr",
  "-subj",
  "/CN=Web Lib Intermediate",
]);
write(dir, "ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
ok("openssl", [
  "x509",
  "-req",
  "-in",
  "int.csr",
  "-CA",
  "root.pem",
  "-CAkey",
  "root.key",
  "-CAcreateserial",
  "-out",
  "int.pem",
  "-days",
  "30",
  "-extfile",
  "ca.ext",
]);

for (const alg of ["P-256", "RSA-2048"] as KeyAlg[]) {
  describe(`browser key ${alg}`, () => {
    it("builds a CSR that openssl verifies, a sealed key, and a .p12 whose key matches the certificate", async () => {
      const keys = await generateKeyPair(alg);
      const csr = await buildCsr(keys, { commonName: "Alice Example", email: "alice@example.org" });
      assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
      const csrFile = write(dir, `${alg}.csr`, csr);
      const text = ok("openssl", ["req", "-in", csrFile, "-noout", "-verify", "-text"]);
      assert.match(text, /CN ?= ?Alice Example/);
      assert.match(text, /email:alice@example.org/);

      // Custody: sealed under a password (few iterations to keep the test quick).
      const sealed = await sealPrivateKey(keys.privateKey, "pw-äöü 1", alg, 1000);
      const reparsed = parseSealedKey(JSON.stringify(sealed));
      assert.ok(!JSON.stringify(sealed).includes("PRIVATE"));
      await assert.rejects(openSealedKey(reparsed, "wrong"), /wrong password/);
      const pkcs8 = await openSealedKey(reparsed, "pw-äöü 1");

      write(dir, "leaf.ext", "basicConstraints=critical,CA:FALSE\nsubjectAltName=email:alice@example.org\n");
      ok("openssl", [
        "x509",
        "-req",
        "-in",
        csrFile,
        "-CA",
        "int.pem",
        "-CAkey",
        "int.key",
        "-CAcreateserial",
        "-out",
        `${alg}.pem`,
        "-days",
        "10",
        "-extfile",
        "leaf.ext",
      ]);
      const chain = [`${alg}.pem`, "int.pem", "root.pem"]
        .map((f) => readFileSync(join(dir, f), "utf8"))
        .join("");
      const certs = pemBlocks(chain, "CERTIFICATE");
      assert.equal(certs.length, 3);

      const password = "p12 pässword";
      const p12 = await buildPkcs12(pkcs8, certs, password, "Alice Example");
      write(dir, `${alg}.p12`, Buffer.from(p12));
      write(dir, "pass.txt", password);
      const info = tool(
        "openssl",
        ["pkcs12", "-info", "-in", `${alg}.p12`, "-passin", "file:pass.txt", "-nodes"],
        {
          cwd: dir,
        },
      );
      assert.equal(info.status, 0, info.stderr);
      assert.match(info.stderr, /MAC: sha256/);
      assert.match(info.stderr, /PBES2, PBKDF2, AES-256-CBC/);
      assert.equal(pemBlocks(info.stdout, "CERTIFICATE").length, 3);
      assert.match(info.stdout, /friendlyName: Alice Example/);
      // The key in the file matches the leaf certificate.
      const keyPem = info.stdout.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/)![0];
      write(dir, "k.pem", keyPem);
      const fromKey = ok("openssl", ["pkey", "-in", "k.pem", "-pubout"]);
      const fromCert = ok("openssl", ["x509", "-in", `${alg}.pem`, "-noout", "-pubkey"]);
      assert.equal(fromKey, fromCert);
      // A wrong password does not open it.
      const bad = tool(
        "openssl",
        ["pkcs12", "-info", "-in", `${alg}.p12`, "-passin", "pass:nope", "-nodes"],
        {
          cwd: dir,
        },
      );
      assert.notEqual(bad.status, 0);
    });
  });
}

describe("serial numbers typed in the console", () => {
  it("match the server's normalization, including openssl's leading zero and colon forms", () => {
    // 0x0a... is where `openssl x509 -serial` (even-length hex) and Sigil's form differ.
    const fixed = Buffer.from("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "hex");
    for (const magnitude of [fixed, ...Array.from({ length: 200 }, () => newSerial(randomBytes(16)))]) {
      const sigil = serialToHex(magnitude);
      const opensslSerial = magnitude.toString("hex").toUpperCase();
      const opensslText = magnitude.toString("hex").match(/../g)!.join(":");
      for (const typed of [sigil, opensslSerial, opensslText, ` 0x${sigil} `]) {
        assert.equal(normalizeSerial(typed), normalizeSerialHex(typed), typed);
        assert.ok(sameSerial(typed, sigil), `${typed} vs ${sigil}`);
      }
    }
    assert.ok(sameSerial("0A1B2C3D4E5F60718293A4B5C6D7E8F9", "a1b2c3d4e5f60718293a4b5c6d7e8f9"));
    assert.equal(sameSerial("a1b2", "a1b3"), false);
    assert.equal(sameSerial("", "a1"), false);
    assert.equal(sameSerial("not hex", "a1"), false);
  });
});
