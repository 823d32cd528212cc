/**
 * Issue 13 §1: the internal profiles (`ocsp`, `ca`) are Sigil's own. No channel issues
 * under them (CLI sign, the handbook's -s, batch sign, requests approve, the admin API's
 * sign and approve, settings naming a profile), and a key that was revoked for
 * keyCompromise, or that is one of Sigil's own keys (CA, OCSP responder, admin TLS), is
 * never certified again. Every refusal is audited.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PASS,
  sigil,
  sigilOk,
  tempDir,
  tool,
  initHome,
  counts,
  auditActionsSince,
  execHomeSql,
  queryHome,
  patchConfig,
  write,
} from "./helpers.js";
import { serveWithToken, type Served } from "./serve-helpers.js";

/** A P-256 key and request made by openssl, as an attacker would. */
function csr(dir: string, name: string, keyFile?: string, passin?: string): { key: string; req: string } {
  const key = keyFile ?? join(dir, `${name}.key`);
  const req = join(dir, `${name}.req`);
  const args = keyFile
    ? ["req", "-new", "-key", keyFile, ...(passin ? ["-passin", `pass:${passin}`] : [])]
    : ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key];
  const r = tool("openssl", [...args, "-subj", `/CN=${name}.genfic.internal`, "-out", req]);
  assert.equal(r.status, 0, r.stderr);
  return { key, req };
}

/** Fails unless no certificate in `home` carries a responder's or a CA's powers beyond Sigil's own. */
function assertNoForbiddenCertificates(home: string): void {
  // Every certificate: listings leave the internal profiles out unless named.
  const rows = ["", "ca", "ocsp", "admin-tls", "admin-client"].flatMap(
    (p) =>
      JSON.parse(
        sigilOk(home, ["certs", "--all", "--json", ...(p ? ["--profile", p] : [])]).stdout || "[]",
      ) as Array<{ serial: string; ca: string; profile: string }>,
  );
  for (const r of rows) {
    const pem = sigilOk(home, ["cert", "show", r.serial, "--ca", r.ca, "--pem"]).stdout;
    const text = tool("openssl", ["x509", "-noout", "-text"], { input: pem }).stdout;
    if (/OCSP Signing|OCSP No Check/.test(text))
      assert.equal(r.profile, "ocsp", `certificate ${r.serial} has OCSP powers: ${text}`);
    if (/CA:TRUE|Certificate Sign|CRL Sign/.test(text))
      assert.equal(r.profile, "ca", `certificate ${r.serial} has CA powers`);
    // Sigil's private admin purposes (2.25 UUID arc): only the admin API's own certificates.
    if (/2\.25\.109815092768667927952664030461592862196\.1\b/.test(text))
      assert.equal(r.profile, "admin-tls", `certificate ${r.serial} has admin-server powers`);
    if (/2\.25\.109815092768667927952664030461592862196\.2\b/.test(text))
      assert.equal(r.profile, "admin-client", `certificate ${r.serial} has admin-client powers`);
  }
}

describe("internal profiles and blocked keys", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const d = t.dir;

  before(() => {
    initHome(home);
  });
  after(() => t.cleanup());

  it("CLI sign, the handbook's -s and batch sign refuse --profile ocsp, ca, admin-tls and admin-client; no certificate; audited", () => {
    const evil = csr(d, "evil");
    for (const profile of ["ocsp", "ca", "admin-tls", "admin-client"]) {
      const before = counts(home);
      const out = join(d, `evil-${profile}.crt`);
      for (const args of [
        ["sign", evil.req, "--ca", "genfic-system", "--profile", profile, "-o", out],
        ["-p", "genfic-system", "-s", evil.req, "--profile", profile, "-o", out],
      ]) {
        const r = sigil(home, args);
        assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
        assert.match(
          r.stderr,
          new RegExp(`^sigil: profile ${profile} is internal: only Sigil itself issues it`),
        );
        assert.equal(r.stderr.trim().split("\n").length, 1);
        assert.ok(!existsSync(out));
      }
      const outDir = join(d, `batch-${profile}`);
      const b = sigil(home, [
        "sign",
        evil.req,
        "--ca",
        "genfic-system",
        "--profile",
        profile,
        "--out-dir",
        outDir,
      ]);
      assert.notEqual(b.status, 0);
      assert.match(b.stderr, /is internal/);
      assert.deepEqual(existsSync(outDir) ? readdirSync(outDir).filter((f) => f.endsWith(".crt")) : [], []);
      const after = counts(home);
      assert.equal(after.certificates, before.certificates, "nothing issued");
      const actions = auditActionsSince(home, before.audit);
      assert.ok(actions.length >= 3 && actions.every((a) => a === "cert.issue.refused"), actions.join(","));
    }
    assertNoForbiddenCertificates(home);
  });

  it("the unknown-profile error lists only the profiles a user may choose", () => {
    const evil = csr(d, "unknown");
    const r = sigil(home, ["sign", evil.req, "--ca", "genfic-system", "--profile", "nope"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown profile nope \(known: user, system\)/);
    assert.doesNotMatch(r.stderr, /ocsp|\bca\b/);
  });

  it("a queued request cannot be approved under ocsp or ca, and a CA cannot default to them", () => {
    const q = csr(d, "queued");
    sigilOk(home, ["requests", "submit", q.req, "--ca", "genfic-system"]);
    const id = (JSON.parse(sigilOk(home, ["requests", "list", "--json"]).stdout) as Array<{ id: number }>).at(
      -1,
    )!.id;
    for (const profile of ["ocsp", "ca"]) {
      const before = counts(home);
      const r = sigil(home, ["requests", "approve", String(id), "--profile", profile]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /is internal/);
      assert.equal(counts(home).certificates, before.certificates);
      assert.ok(auditActionsSince(home, before.audit).includes("cert.issue.refused"));
    }
    const c = sigil(home, [
      "ca",
      "create-child",
      "evil-ca",
      "--parent",
      "genfic",
      "--default-profile",
      "ocsp",
    ]);
    assert.equal(c.status, 1, c.stderr);
    assert.match(c.stderr, /profile ocsp is internal/);
    assert.ok(!sigilOk(home, ["ca", "list"]).stdout.includes("evil-ca"));
  });

  it("settings cannot name an internal profile (intake, auto-approval, ACME)", () => {
    const saved = readFileSync(join(home, "sigil.json"), "utf8");
    try {
      for (const extra of [
        { intake: { ca: "genfic-system", profile: "ocsp" } },
        {
          intake: {
            autoApprove: [
              {
                name: "r",
                ca: "genfic-system",
                profile: "ocsp",
                channels: ["mail"],
                dnsNames: ["*.genfic.internal"],
              },
            ],
          },
        },
        { acme: { cas: { "genfic-system": { allow: ["*.genfic.internal"], profile: "ocsp" } } } },
      ]) {
        patchConfig(home, extra);
        const r = sigil(home, ["ca", "list"]);
        assert.equal(r.status, 1, JSON.stringify(extra));
        assert.match(r.stderr, /internal profile/);
      }
    } finally {
      writeFileSync(join(home, "sigil.json"), saved);
    }
    const a = sigil(home, [
      "acme",
      "enable",
      "genfic-system",
      "--allow",
      "*.genfic.internal",
      "--profile",
      "ocsp",
    ]);
    assert.notEqual(a.status, 0);
    assert.match(a.stderr, /is internal/);
  });

  it("a key revoked for keyCompromise is never certified again, however it is encoded", () => {
    const victim = csr(d, "victim");
    const crt = join(d, "victim.crt");
    sigilOk(home, ["sign", victim.req, "--ca", "genfic-system", "-o", crt]);
    sigilOk(home, ["revoke", "--cert", crt, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    const serial = tool("openssl", ["x509", "-in", crt, "-noout", "-serial"]).stdout.split("=")[1]!.trim();
    const again = csr(d, "again", victim.key);
    // The same key with its EC point compressed (RFC 5480 §2.2): the same key all the same.
    const compressedKey = join(d, "victim-compressed.key");
    assert.equal(
      tool("openssl", ["ec", "-in", victim.key, "-conv_form", "compressed", "-out", compressedKey]).status,
      0,
    );
    const compressed = csr(d, "compressed", compressedKey);
    const spki = tool("openssl", ["req", "-in", compressed.req, "-noout", "-pubkey"]).stdout;
    const spkiDer = Buffer.from(spki.replace(/-----[^-]+-----|\s/g, ""), "base64");
    assert.equal(spkiDer.length, 59, "the request carries a compressed P-256 point");
    for (const req of [again.req, compressed.req]) {
      for (const ca of ["genfic-system", "genfic-user"]) {
        const before = counts(home);
        const r = sigil(home, [
          "sign",
          req,
          "--ca",
          ca,
          ...(ca === "genfic-user" ? ["--profile", "system"] : []),
        ]);
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stderr.trim().split("\n").length, 1);
        assert.match(
          r.stderr,
          new RegExp(
            `public key was reported compromised: certificate ${serial.replace(/^0+/, "").toLowerCase()} of CA genfic-system was revoked for keyCompromise on \\d{4}-`,
            "i",
          ),
        );
        assert.equal(counts(home).certificates, before.certificates);
        assert.deepEqual(auditActionsSince(home, before.audit), ["cert.issue.refused"]);
      }
    }
    // Queued: refused at intake (not left pending for an operator), with the reason.
    const before = counts(home);
    const sub = sigil(home, ["requests", "submit", again.req, "--ca", "genfic-system"]);
    assert.equal(sub.status, 1, sub.stderr);
    assert.match(sub.stderr, /request \d+ rejected: the request's public key was reported compromised/);
    const list = JSON.parse(sigilOk(home, ["requests", "list", "--json"]).stdout) as Array<{ id: number }>;
    const id = list.at(-1)!.id;
    const shown = sigilOk(home, ["requests", "show", String(id)]).stdout;
    assert.match(shown, /reported compromised/);
    const ap = sigil(home, ["requests", "approve", String(id)]);
    assert.equal(ap.status, 1);
    assert.match(ap.stderr, /rejected/);
    assert.equal(counts(home).certificates, before.certificates);
  });

  it("a request for one of Sigil's own keys (a CA key, an OCSP responder key) is refused", () => {
    const before = counts(home);
    const caKey = csr(d, "ca-key", join(home, "keys", "genfic-system.key.pem"), PASS);
    const r = sigil(home, ["sign", caKey.req, "--ca", "genfic-user", "--profile", "system"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^sigil: the request's public key is Sigil's own \(the key of CA genfic-system\); make a new key\n$/,
    );
    assert.equal(counts(home).certificates, before.certificates);
    sigilOk(home, ["ocsp", "refresh"]);
    const withResponders = counts(home);
    // The responder keys are kept in the database (encrypted, as key files are): an insider
    // who copies one out and asks for a certificate of it is refused all the same.
    // (On SQLite or PostgreSQL alike: trust-boundaries-postgres.test.ts runs this file again.)
    const rows = queryHome<{ name: string; pem: string }>(
      home,
      "SELECT name, pem FROM service_keys WHERE name LIKE 'ocsp-%'",
    );
    assert.ok(rows.length >= 3, "the refresh made each CA's OCSP responder");
    assert.ok(!readdirSync(join(home, "keys")).some((f) => f.startsWith("ocsp-")), "no responder key file");
    const owners = rows.map(({ name, pem }) => {
      const k = write(d, `${name}.key.pem`, pem);
      const rk = csr(d, `responder-${name}`, k, PASS);
      const r2 = sigil(home, ["sign", rk.req, "--ca", "genfic-system"]);
      assert.equal(r2.status, 1, r2.stderr);
      return /Sigil's own \(the key of an OCSP responder of CA ([\w-]+) /.exec(r2.stderr)?.[1];
    });
    assert.deepEqual([...new Set(owners)].sort(), ["genfic", "genfic-system", "genfic-user"]);
    assert.equal(counts(home).certificates, withResponders.certificates);
  });

  it("an upgraded database blocks what it already knew (migration 0009 fills the table)", () => {
    // A database from before 0009 (so also before the later 0010_mailbox_proofs: Kysely
    // applies migrations in order only).
    // The service keys are set aside (a database from before 0013 has none) and put back after.
    execHomeSql(
      home,
      "CREATE TABLE kept_service_keys AS SELECT * FROM service_keys; " +
        "DROP TABLE ocsp_epoch; DROP TABLE service_keys; DROP TABLE instances; DROP TABLE audit_keys; DROP TABLE audit_checkpoints; " +
        "DROP TABLE request_sessions; DROP TABLE mailbox_proofs; DROP TABLE blocked_keys; " +
        "ALTER TABLE admin_tokens DROP COLUMN hash_scheme; " +
        "DELETE FROM kysely_migration WHERE name IN ('0009_blocked_keys', '0010_mailbox_proofs', '0011_token_hmac', '0012_audit_checkpoints', '0013_service_keys', '0014_instances', '0015_ocsp_epoch');",
    );
    const again = join(d, "again.req");
    const r = sigil(home, ["sign", again, "--ca", "genfic-system"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /reported compromised/);
    const caKey = join(d, "ca-key.req");
    const r2 = sigil(home, ["sign", caKey, "--ca", "genfic-user", "--profile", "system"]);
    assert.match(r2.stderr, /Sigil's own \(the key of CA genfic-system\)/);
    execHomeSql(
      home,
      "INSERT INTO service_keys SELECT * FROM kept_service_keys; DROP TABLE kept_service_keys;",
    );
  });

  describe("through the admin API (an operator token)", () => {
    let s: Served;
    let env: Record<string, string>;
    before(async () => {
      ({ served: s, env } = await serveWithToken(home, "operator", "olga"));
    });
    after(async () => {
      if (s) assert.equal(await s.stop(), 0);
    });

    it("sign and approve under ocsp or ca are refused; the admin TLS key is Sigil's own", () => {
      const evil = csr(d, "remote-evil");
      const before = counts(home);
      for (const profile of ["ocsp", "ca"]) {
        const r = sigil(home, ["sign", evil.req, "--ca", "genfic-system", "--profile", profile], { env });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /is internal/);
      }
      sigilOk(home, ["requests", "submit", evil.req, "--ca", "genfic-system"]);
      const id = (
        JSON.parse(sigilOk(home, ["requests", "list", "--json"]).stdout) as Array<{ id: number }>
      ).at(-1)!.id;
      const ap = sigil(home, ["requests", "approve", String(id), "--profile", "ocsp"], { env });
      assert.equal(ap.status, 1, ap.stderr);
      assert.match(ap.stderr, /is internal/);
      const tlsKey = join(home, "tls", "admin.key.pem");
      assert.ok(existsSync(tlsKey), "the admin TLS key exists once the service is unsealed");
      const tk = csr(d, "tls-key", tlsKey);
      const r = sigil(home, ["sign", tk.req, "--ca", "genfic-system"], { env });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /Sigil's own \(the admin TLS key/);
      assert.equal(counts(home).certificates, before.certificates);
      const actions = auditActionsSince(home, before.audit);
      assert.ok(actions.filter((a) => a === "cert.issue.refused").length >= 4, actions.join(","));
      assertNoForbiddenCertificates(home);
    });
  });
});
