/**
 * Bad input: one line on stderr, exit 1, nothing written except the recorded refusal.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { sigil, sigilOk, tool, tempDir, write, counts, auditActionsSince, initHome } from "./helpers.js";

/** Makes a CSR with openssl; returns its path. */
function opensslCsr(dir: string, name: string, keyArgs: string[], extra: string[] = []): string {
  const key = join(dir, `${name}.key`);
  const out = join(dir, `${name}.req`);
  const g = tool("openssl", ["genpkey", ...keyArgs, "-out", key]);
  assert.equal(g.status, 0, g.stderr);
  const r = tool("openssl", [
    "req",
    "-new",
    "-key",
    key,
    "-subj",
    `/CN=${name}.genfic.internal`,
    "-out",
    out,
    ...extra,
  ]);
  assert.equal(r.status, 0, `${name}: ${r.stderr}`);
  return out;
}

describe("refusals", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const d = t.dir;
  const bad: Array<[string, string, RegExp]> = [];

  before(() => {
    initHome(home);
    const good = opensslCsr(d, "good", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    const der = Buffer.from(
      readFileSync(good, "utf8")
        .replace(/-----[^-]+-----/g, "")
        .replace(/\s+/g, ""),
      "base64",
    );
    const flipped = Buffer.from(der);
    flipped[flipped.length - 5]! ^= 0x01;
    bad.push(["bad signature", write(d, "flipped.der", flipped), /signature does not verify/]);
    bad.push([
      "RSA 1024",
      opensslCsr(d, "rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"]),
      /1024 bits is too weak/,
    ]);
    bad.push([
      "SHA-1",
      opensslCsr(d, "sha1", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], ["-sha1"]),
      /SHA-1/,
    ]);
    bad.push([
      "MD5",
      opensslCsr(d, "md5", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], ["-md5"]),
      /MD5/,
    ]);
    const dsaParams = join(d, "dsa.params");
    assert.equal(
      tool("openssl", [
        "genpkey",
        "-genparam",
        "-algorithm",
        "DSA",
        "-pkeyopt",
        "pbits:2048",
        "-out",
        dsaParams,
      ]).status,
      0,
    );
    bad.push(["DSA", opensslCsr(d, "dsa", ["-paramfile", dsaParams]), /DSA/]);
    bad.push([
      "secp256k1",
      opensslCsr(d, "k1", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1"]),
      /curve/,
    ]);
    const ca = sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout;
    bad.push(["a certificate", write(d, "cert.pem", ca), /not a PKCS#10/]);
    bad.push(["a private key", join(d, "good.key"), /is a private key: it must never be sent to a CA/]);
    bad.push(["empty", write(d, "empty.req", ""), /empty/]);
    bad.push(["truncated", write(d, "trunc.der", der.subarray(0, der.length - 20)), /truncated|malformed/]);
    bad.push([
      "garbage",
      write(d, "garbage.req", "hello, this is not a request\n"),
      /not a PKCS#10|malformed/,
    ]);
    bad.push([
      "5 MB random",
      write(d, "big.req", randomBytes(5 * 1024 * 1024)),
      /too large|not a PKCS#10|malformed/,
    ]);
  });
  after(() => t.cleanup());

  /** Runs sigil expecting a one-line refusal and no change but the audit record. */
  function refused(
    args: string[],
    expect: RegExp,
    opts: Parameters<typeof sigil>[2] = {},
    refusalAction: RegExp | null = /\.refused$/,
  ): void {
    const before = counts(home);
    const r = sigil(home, args, opts);
    assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^sigil: /);
    assert.match(lines[0]!, expect);
    assert.equal(r.stdout, "");
    const afterCounts = counts(home);
    assert.deepEqual({ ...afterCounts, audit: 0 }, { ...before, audit: 0 });
    const added = auditActionsSince(home, before.audit);
    // null: refused by the CLI before anything reaches the CA (nothing to record there).
    assert.equal(added.length, refusalAction ? 1 : 0, `audit events added: ${added.join(", ")}`);
    for (const a of added) assert.match(a, refusalAction!);
  }

  it("refuses every kind of bad request, one line each, nothing issued", () => {
    for (const [name, file, expect] of bad) {
      const out = join(d, `${name.replace(/\W/g, "_")}.crt`);
      // A private key is refused by the CLI as it reads the file: it never leaves the process.
      refused(
        ["sign", file, "--ca", "genfic-system", "-o", out],
        expect,
        {},
        name === "a private key" ? null : undefined,
      );
      assert.ok(!existsSync(out), `${name}: output written`);
    }
  });

  it("refuses a SAN of a type the profile does not take, otherName included, never drops it", () => {
    const ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    const san = (name: string, value: string): string =>
      opensslCsr(d, name, ec, ["-addext", `subjectAltName=${value}`]);
    // A FreeIPA-style request: a Microsoft UPN otherName next to a name the profile takes.
    const upn = san("upn", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:user@genfic.internal");
    const upnAndDns = san(
      "upndns",
      "DNS:upndns.genfic.internal,otherName:1.3.6.1.4.1.311.20.2.3;UTF8:host@GENFIC.INTERNAL",
    );
    const rid = san("rid", "DNS:rid.genfic.internal,RID:1.2.3.4");
    const email = san("mailonsystem", "DNS:mailonsystem.genfic.internal,email:x@genfic.internal");
    const cases: Array<[string, string, string, RegExp]> = [
      [
        upn,
        "genfic-system",
        "system",
        /profile system does not allow otherName SANs \(requested otherName 1\.3\.6\.1\.4\.1\.311\.20\.2\.3, Microsoft UPN\)$/,
      ],
      [
        upn,
        "genfic-user",
        "user",
        /profile user does not allow otherName SANs \(requested otherName 1\.3\.6\.1\.4\.1\.311\.20\.2\.3, Microsoft UPN\)$/,
      ],
      [upnAndDns, "genfic-system", "system", /profile system does not allow otherName SANs/],
      [
        rid,
        "genfic-system",
        "system",
        /profile system does not allow registeredID SANs \(requested registeredID 1\.2\.3\.4\)$/,
      ],
      [
        email,
        "genfic-system",
        "system",
        /profile system does not allow e-mail SANs \(requested email:x@genfic\.internal\)$/,
      ],
    ];
    for (const [file, ca, profile, expect] of cases) {
      const out = join(d, `san-${profile}.crt`);
      refused(["sign", file, "--ca", ca, "--profile", profile, "-o", out], expect);
      assert.ok(!existsSync(out), `${file} on ${profile}: output written`);
    }
  });

  it("records each refusal with its reason in the audit log", () => {
    const log = sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; details: { reason?: string } });
    const refusals = log.filter((e) => e.action === "cert.issue.refused");
    // A private key given as a request is refused by the CLI before it reaches the CA (it
    // never leaves the process): every other refusal is the use case's, and audited.
    assert.ok(refusals.length >= bad.length - 1);
    assert.ok(refusals.every((e) => typeof e.details.reason === "string" && e.details.reason.length > 0));
    assert.equal(sigil(home, ["audit", "verify"]).status, 0);
  });

  it("refuses a wrong passphrase without issuing", () => {
    const req = opensslCsr(d, "pw", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    refused(["sign", req, "--ca", "genfic-system"], /wrong passphrase/, {
      env: { SIGIL_PASSPHRASE: "not the passphrase" },
    });
    const crlNumber = () =>
      (
        JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{
          name: string;
          crlNumber: number;
        }>
      ).find((c) => c.name === "genfic-system")!.crlNumber;
    const n = crlNumber();
    refused(["crl", "--ca", "genfic-system"], /wrong passphrase/, {
      env: { SIGIL_PASSPHRASE: "not the passphrase" },
    });
    assert.equal(crlNumber(), n, "a refused CRL must not use up a CRL number");
    const nopass = sigil(home, ["sign", req, "--ca", "genfic-system"], {
      env: { SIGIL_PASSPHRASE: undefined },
    });
    assert.equal(nopass.status, 1);
    assert.match(nopass.stderr, /^sigil: no passphrase/);
  });

  it("refuses an unknown CA, a duplicate CA name, and a child outliving its parent", () => {
    const req = join(d, "good.req");
    refused(["sign", req, "--ca", "nosuchca"], /unknown CA "nosuchca"/);
    refused(["ca", "create-root", "genfic", "--subject", "/CN=Again"], /already exists/);
    refused(
      [
        "ca",
        "create-child",
        "toolong",
        "--parent",
        "genfic-system",
        "--subject",
        "/CN=Too Long",
        "--days",
        "5000",
        "--path-len",
        "0",
      ],
      /pathLen 0|after parent/,
    );
    refused(
      ["ca", "create-child", "toolong", "--parent", "genfic", "--subject", "/CN=Too Long", "--days", "9000"],
      /after parent genfic expires/,
    );
    // No CA key left behind by a refused create (the audit and token keys are init's, not a CA's).
    assert.deepEqual(
      readdirSync(join(home, "keys"))
        .filter((f) => !f.startsWith("audit-") && f !== "token-hmac.key")
        .sort(),
      ["genfic-system.key.pem", "genfic-user.key.pem", "genfic.key.pem"],
    );
    // --clamp makes the same request succeed, ending with the parent
    sigilOk(home, [
      "ca",
      "create-child",
      "clamped",
      "--parent",
      "genfic",
      "--subject",
      "/CN=Clamped",
      "--days",
      "9000",
      "--clamp",
    ]);
    const cas = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{
      name: string;
      notAfter: string;
    }>;
    assert.equal(
      cas.find((c) => c.name === "clamped")!.notAfter,
      cas.find((c) => c.name === "genfic")!.notAfter,
    );
  });

  it("refuses an unknown serial, an unknown --cert and an explicit validity beyond the CA", () => {
    refused(["revoke", "0123456789abcdef", "--ca", "genfic-system"], /no certificate with serial/);
    refused(
      ["sign", join(d, "good.req"), "--ca", "genfic-system", "--days", "5000"],
      /after CA genfic-system expires/,
    );
  });

  it("gives usage errors exit 2", () => {
    const r = sigil(home, ["sign", "--ca"]);
    assert.equal(r.status, 2);
    const r2 = sigil(home, ["frobnicate"]);
    assert.equal(r2.status, 2);
    const r3 = sigil(home, ["revoke", "--ca", "genfic-system"]);
    assert.equal(r3.status, 2);
    assert.match(r3.stderr, /^sigil: give exactly one of/);
  });
});
