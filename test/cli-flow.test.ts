/**
 * The handbook's flows end to end through the CLI, with OpenSSL and GnuTLS as verifiers.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  sigil,
  sigilOk,
  tool,
  tempDir,
  write,
  PASS,
  initHome,
  storeKind,
  copyHomeStore,
  execHomeSql,
} from "./helpers.js";

describe("genfic hierarchy, daily handling and audit", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const work = t.dir;
  let rootPem: string;
  let systemPem: string;
  let userPem: string;

  before(() => {
    initHome(home);
    rootPem = write(work, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    systemPem = write(work, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    userPem = write(work, "user.pem", sigilOk(home, ["ca", "show", "genfic-user", "--pem"]).stdout);
  });
  after(() => t.cleanup());

  it("init makes a root, a system CA and a user CA that expires two weeks earlier", () => {
    const cas = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<Record<string, string>>;
    assert.deepEqual(
      cas.map((c) => [c.name, c.parent]),
      [
        ["genfic", null],
        ["genfic-system", "genfic"],
        ["genfic-user", "genfic"],
      ],
    );
    const end = (n: string) => Date.parse(cas.find((c) => c.name === n)!.notAfter!);
    const gap = (end("genfic-system") - end("genfic-user")) / 86_400_000;
    assert.ok(Math.abs(gap - 14) < 0.01, `gap ${gap} days`);
    assert.ok(end("genfic") > end("genfic-system"));
    const root = tool("openssl", ["x509", "-in", rootPem, "-noout", "-text"]).stdout;
    assert.match(
      root,
      /Subject: C = BE, ST = Antwerp, L = Mechelen, O = "Gentoo Fictional, Inc.", CN = GenFic Root CA/,
    );
    assert.match(root, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
    assert.match(root, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(root, /X509v3 Subject Key Identifier/);
    const sys = tool("openssl", ["x509", "-in", systemPem, "-noout", "-text"]).stdout;
    assert.match(sys, /CA:TRUE, pathlen:0/);
    assert.match(sys, /X509v3 Authority Key Identifier/);
    assert.match(sys, /URI:http:\/\/127\.0\.0\.1:8080\/crl\/genfic\.crl/);
    assert.match(sys, /OCSP - URI:http:\/\/127\.0\.0\.1:8080\/ocsp/);
    assert.match(sys, /CA Issuers - URI:http:\/\/127\.0\.0\.1:8080\/ca\/genfic\.crt/);
    for (const ca of [systemPem, userPem]) {
      const v = tool("openssl", ["verify", "-x509_strict", "-CAfile", rootPem, ca]);
      assert.equal(v.status, 0, v.stderr + v.stdout);
    }
  });

  it("keeps CA keys encrypted (PBKDF2-SHA256 600000, AES-256), 0600 in a 0700 folder, readable by openssl", () => {
    assert.equal(statSync(join(home, "keys")).mode & 0o777, 0o700);
    if (storeKind() === "sqlite") assert.equal(statSync(join(home, "sigil.db")).mode & 0o077, 0);
    else assert.equal(existsSync(join(home, "sigil.db")), false, "the data is in PostgreSQL");
    for (const name of ["genfic", "genfic-system", "genfic-user"]) {
      const key = join(home, "keys", `${name}.key.pem`);
      assert.equal(statSync(key).mode & 0o777, 0o600);
      assert.match(readFileSync(key, "utf8"), /BEGIN ENCRYPTED PRIVATE KEY/);
      const ok = tool("openssl", ["pkey", "-in", key, "-passin", `pass:${PASS}`, "-noout"]);
      assert.equal(ok.status, 0, ok.stderr);
      const bad = tool("openssl", ["pkey", "-in", key, "-passin", "pass:wrong", "-noout"]);
      assert.notEqual(bad.status, 0);
      const asn = tool("openssl", ["asn1parse", "-in", key]).stdout;
      assert.match(asn, /PBKDF2/);
      assert.match(asn, /INTEGER\s+:0927C0\s*$/m); // 600000 iterations
      assert.match(asn, /hmacWithSHA256/);
      assert.match(asn, /aes-256-cbc/);
    }
  });

  it("issues a system certificate that openssl and certtool accept, with the profile's extensions only", () => {
    sigilOk(home, [
      "request",
      "create",
      join(work, "w03443ad"),
      "--subject",
      "/O=Gentoo Fictional, Inc./CN=w03443ad.genfic.internal",
      "--no-encrypt",
    ]);
    assert.equal(statSync(join(work, "w03443ad.key")).mode & 0o777, 0o600);
    sigilOk(home, [
      "sign",
      join(work, "w03443ad.req"),
      "--ca",
      "genfic-system",
      "-o",
      join(work, "w03443ad.crt"),
    ]);
    const leaf = join(work, "w03443ad.crt");
    const v = tool("openssl", [
      "verify",
      "-x509_strict",
      "-purpose",
      "sslserver",
      "-CAfile",
      rootPem,
      "-untrusted",
      systemPem,
      leaf,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const text = tool("openssl", ["x509", "-in", leaf, "-noout", "-text"]).stdout;
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /DNS:w03443ad\.genfic\.internal/);
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:8080\/crl\/genfic-system\.crl/);
    const chain = write(
      work,
      "w-chain.pem",
      readFileSync(leaf, "utf8") + readFileSync(systemPem, "utf8") + readFileSync(rootPem, "utf8"),
    );
    const gt = tool("certtool", ["--verify-chain", "--infile", chain]);
    assert.equal(gt.status, 0, gt.stdout + gt.stderr);
    assert.match(gt.stdout, /Chain verification output: Verified/);
    const gt2 = tool("certtool", ["--verify", "--load-ca-certificate", rootPem, "--infile", chain]);
    assert.equal(gt2.status, 0, gt2.stdout + gt2.stderr);
  });

  it("shows an issued certificate again by serial, as PEM or JSON", () => {
    const leaf = readFileSync(join(work, "w03443ad.crt"), "utf8");
    const serial = tool("openssl", ["x509", "-in", join(work, "w03443ad.crt"), "-noout", "-serial"])
      .stdout.trim()
      .split("=")[1]!;
    assert.equal(sigilOk(home, ["cert", "show", serial, "--ca", "genfic-system", "--pem"]).stdout, leaf);
    const chain = sigilOk(home, [
      "cert",
      "show",
      serial.toLowerCase(),
      "--ca",
      "genfic-system",
      "--chain",
    ]).stdout;
    assert.equal((chain.match(/BEGIN CERTIFICATE/g) ?? []).length, 3);
    const view = JSON.parse(
      sigilOk(home, ["cert", "show", serial, "--ca", "genfic-system", "--json"]).stdout,
    ) as {
      subject: string;
      status: string;
    };
    assert.match(view.subject, /CN=w03443ad\.genfic\.internal/);
    assert.equal(view.status, "valid");
    const missing = sigil(home, ["cert", "show", "abcdef", "--ca", "genfic-system"]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^sigil: no certificate with serial abcdef issued by CA genfic-system\n$/);
  });

  it("issues a user certificate with the e-mail as SAN, from an encrypted RSA request", () => {
    sigilOk(home, [
      "request",
      "create",
      join(work, "amber"),
      "--subject",
      "/C=BE/O=Gentoo Fictional, Inc./CN=Amber McStone/emailAddress=amber@genfic.com",
      "--key",
      "rsa2048",
    ]);
    assert.match(readFileSync(join(work, "amber.key"), "utf8"), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(
      tool("openssl", ["pkey", "-in", join(work, "amber.key"), "-passin", `pass:${PASS}`, "-noout"]).status,
      0,
    );
    sigilOk(home, [
      "sign",
      join(work, "amber.req"),
      "--ca",
      "genfic-user",
      "--days",
      "396",
      "-o",
      join(work, "amber.crt"),
    ]);
    const leaf = join(work, "amber.crt");
    const v = tool("openssl", [
      "verify",
      "-x509_strict",
      "-purpose",
      "smimesign",
      "-CAfile",
      rootPem,
      "-untrusted",
      userPem,
      leaf,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const text = tool("openssl", ["x509", "-in", leaf, "-noout", "-text"]).stdout;
    assert.match(text, /Digital Signature, Key Encipherment/);
    assert.match(text, /TLS Web Client Authentication, E-mail Protection/);
    assert.match(text, /email:amber@genfic\.com/);
    const days =
      (Date.parse(tool("openssl", ["x509", "-in", leaf, "-noout", "-enddate"]).stdout.split("=")[1]!) -
        Date.now()) /
      86_400_000;
    assert.ok(days > 395 && days < 397, `validity ${days}`);
  });

  it("signs a CSR made by openssl req and never copies the extensions it asks for", () => {
    const cnf = write(
      work,
      "evil.cnf",
      [
        "[req]",
        "distinguished_name=dn",
        "req_extensions=ext",
        "prompt=no",
        "[dn]",
        "CN=evil.genfic.internal",
        "[ext]",
        "basicConstraints=critical,CA:TRUE",
        "keyUsage=critical,keyCertSign,cRLSign",
        "extendedKeyUsage=codeSigning",
        "nameConstraints=permitted;DNS:.genfic.internal",
        "subjectAltName=DNS:evil.genfic.internal,DNS:www.evil.genfic.internal",
        "",
      ].join("\n"),
    );
    const r = tool("openssl", [
      "req",
      "-new",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      join(work, "evil.key"),
      "-out",
      join(work, "evil.req"),
      "-config",
      cnf,
    ]);
    assert.equal(r.status, 0, r.stderr);
    sigilOk(home, ["sign", join(work, "evil.req"), "--ca", "genfic-system", "-o", join(work, "evil.crt")]);
    const text = tool("openssl", ["x509", "-in", join(work, "evil.crt"), "-noout", "-text"]).stdout;
    assert.match(text, /CA:FALSE/);
    assert.doesNotMatch(text, /CA:TRUE/);
    assert.doesNotMatch(text, /Certificate Sign/);
    assert.doesNotMatch(text, /Code Signing/);
    assert.doesNotMatch(text, /Name Constraints/);
    assert.match(text, /DNS:evil\.genfic\.internal, DNS:www\.evil\.genfic\.internal/);
    assert.equal(
      tool("openssl", ["verify", "-CAfile", rootPem, "-untrusted", systemPem, join(work, "evil.crt")]).status,
      0,
    );
  });

  it("signs a folder of requests in one process, each accepted or refused on its own", () => {
    const inbox = join(work, "inbox");
    tool("mkdir", ["-p", inbox]);
    for (let i = 0; i < 5; i++)
      sigilOk(home, [
        "request",
        "create",
        join(inbox, `host${i}`),
        "--subject",
        `/CN=host${i}.genfic.internal`,
        "--no-encrypt",
      ]);
    write(
      inbox,
      "broken.req",
      "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
    );
    const reqs = [0, 1, 2, 3, 4].map((i) => join(inbox, `host${i}.req`));
    const out = join(work, "signed");
    const r = sigil(home, [
      "sign",
      ...reqs.slice(0, 2),
      join(inbox, "broken.req"),
      ...reqs.slice(2),
      "--ca",
      "genfic-system",
      "--out-dir",
      out,
    ]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /broken\.req: /);
    assert.match(r.stderr, /signed 5, refused 1 of 6 request\(s\)/);
    for (let i = 0; i < 5; i++) {
      const v = tool("openssl", [
        "verify",
        "-CAfile",
        rootPem,
        "-untrusted",
        systemPem,
        join(out, `host${i}.crt`),
      ]);
      assert.equal(v.status, 0, v.stdout + v.stderr);
    }
    assert.ok(!existsSync(join(out, "broken.crt")));
  });

  it("lists certificates sorted by expiry, with --expiring and --json", () => {
    const all = JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as Array<{
      notAfter: string;
      subject: string;
    }>;
    assert.ok(all.length >= 3);
    const ends = all.map((c) => Date.parse(c.notAfter));
    assert.deepEqual(
      ends,
      [...ends].sort((a, b) => a - b),
    );
    const soon = JSON.parse(sigilOk(home, ["certs", "--expiring", "400d", "--json"]).stdout) as Array<{
      subject: string;
    }>;
    assert.ok(soon.some((c) => c.subject.includes("Amber McStone")));
    assert.ok(!soon.some((c) => c.subject.includes("w03443ad")));
    const table = sigilOk(home, ["certs", "--ca", "genfic-user"]).stdout;
    assert.match(table, /^SERIAL\s+NOT AFTER\s+STATUS\s+CA\s+SUBJECT/);
    assert.match(table, /Amber McStone/);
  });

  it("leaves Sigil's own certificates (OCSP responders, CA certificates) out of listings unless --profile names them", () => {
    type Row = { profile: string; subject: string; ca: string };
    const list = (...args: string[]) =>
      JSON.parse(sigilOk(home, ["certs", ...args, "--json"]).stdout) as Row[];
    // The refresh (like the service at start) makes each CA a 30-day responder: not in
    // the expiry listing. (One-shot signing opens no responder key: it makes none.)
    sigilOk(home, ["ocsp", "refresh"]);
    const soon = list("--expiring", "30d");
    assert.deepEqual(
      soon.filter((c) => c.profile === "ocsp" || c.profile === "ca"),
      [],
    );
    assert.doesNotMatch(sigilOk(home, ["certs", "--expiring", "30d"]).stdout, /OCSP Responder/);
    assert.deepEqual(
      list().filter((c) => c.profile === "ocsp" || c.profile === "ca"),
      [],
    );
    const responders = list("--expiring", "30d", "--profile", "ocsp");
    assert.ok(responders.length >= 1);
    assert.ok(responders.every((c) => c.profile === "ocsp" && /OCSP Responder/.test(c.subject)));
    const cas = list("--ca", "genfic", "--profile", "ca");
    assert.deepEqual(cas.map((c) => /CN=[^,]+/.exec(c.subject)?.[0]).sort(), [
      "CN=GenFic System CA",
      "CN=GenFic User CA",
    ]);
    assert.ok(list("--profile", "user").every((c) => c.profile === "user"));
    const bad = sigil(home, ["certs", "--profile", "nope"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^sigil: unknown profile nope \(known: [^\n]*\)\n$/);
  });

  it("pages long listings: --limit shows the soonest and says more match; --all and --json show every one", () => {
    const all = JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as Array<{ serial: string }>;
    assert.ok(all.length >= 3);
    const two = sigilOk(home, ["certs", "--limit", "2"]);
    const rows = two.stdout.trim().split("\n").slice(1);
    assert.equal(rows.length, 2);
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/)[0]),
      all.slice(0, 2).map((c) => c.serial),
    );
    assert.match(
      two.stderr,
      /^sigil: showing the first 2 \(soonest expiry\); more match: .*--all or --limit N\n$/,
    );
    const json2 = sigilOk(home, ["certs", "--json", "--limit", "2"]);
    assert.equal((JSON.parse(json2.stdout) as unknown[]).length, 2);
    assert.match(json2.stderr, /more match/);
    const every = sigilOk(home, ["certs", "--all"]);
    assert.equal(every.stdout.trim().split("\n").length - 1, all.length);
    assert.equal(every.stderr, "");
    const exact = sigilOk(home, ["certs", "--limit", String(all.length)]);
    assert.equal(exact.stderr, "", "no notice when nothing more matches");
    for (const bad of [
      ["--limit", "0"],
      ["--limit", "x"],
      ["--limit", "2", "--all"],
    ]) {
      const r = sigil(home, ["certs", ...bad]);
      assert.equal(r.status, 2, "a usage error");
      assert.match(r.stderr, /^sigil: (bad --limit|give --limit or --all)[^\n]*\n$/);
    }
  });

  it("revokes by e-mail match, publishes a CRL, and openssl -crl_check refuses the certificate", () => {
    sigilOk(home, [
      "revoke",
      "--match",
      "amber@genfic.com",
      "--ca",
      "genfic-user",
      "--reason",
      "keyCompromise",
    ]);
    const crl = join(home, "crl", "genfic-user.crl");
    const info = tool("openssl", [
      "crl",
      "-inform",
      "DER",
      "-in",
      crl,
      "-CAfile",
      userPem,
      "-noout",
      "-text",
    ]);
    assert.match(info.stderr + info.stdout, /verify OK/);
    assert.match(info.stdout, /CRL Reason Code:\s+Key Compromise/);
    assert.match(info.stdout, /X509v3 CRL Number:\s+\d+/);
    const crlPem = write(work, "user.crl.pem", tool("openssl", ["crl", "-inform", "DER", "-in", crl]).stdout);
    const rootCrl = write(
      work,
      "root.crl.pem",
      tool("openssl", ["crl", "-inform", "DER", "-in", join(home, "crl", "genfic.crl")]).stdout,
    );
    const v = tool("openssl", [
      "verify",
      "-crl_check_all",
      "-CAfile",
      rootPem,
      "-untrusted",
      userPem,
      "-CRLfile",
      crlPem,
      "-CRLfile",
      rootCrl,
      join(work, "amber.crt"),
    ]);
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
    const listed = JSON.parse(sigilOk(home, ["certs", "--status", "revoked", "--json"]).stdout) as Array<{
      subject: string;
      revocationReason: string;
      revocationReasonCode: number;
    }>;
    assert.equal(listed.length, 1);
    // The name revoke --reason takes, and its RFC 5280 CRLReason code for scripts.
    assert.equal(listed[0]!.revocationReason, "keyCompromise");
    assert.equal(listed[0]!.revocationReasonCode, 1);
    // a second revocation of the same certificate is a clear error
    const again = sigil(home, ["revoke", "--match", "amber@genfic.com", "--ca", "genfic-user"]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^sigil: .*already revoked/);
    assert.equal(again.stderr.trim().split("\n").length, 1);
  });

  it("revokes by --cert FILE and refuses a certificate of another CA", () => {
    const wrongCa = sigil(home, ["revoke", "--cert", join(work, "evil.crt"), "--ca", "genfic-user"]);
    assert.equal(wrongCa.status, 1);
    assert.match(
      wrongCa.stderr,
      /^sigil: certificate [0-9a-f]+ \(CN=evil\.genfic\.internal\) was not issued by CA genfic-user\n$/,
    );
    sigilOk(home, [
      "revoke",
      "--cert",
      join(work, "evil.crt"),
      "--ca",
      "genfic-system",
      "--reason",
      "cessationOfOperation",
    ]);
    const info = tool("openssl", [
      "crl",
      "-inform",
      "DER",
      "-in",
      join(home, "crl", "genfic-system.crl"),
      "-noout",
      "-text",
    ]).stdout;
    assert.match(info, /Cessation Of Operation/);
  });

  it("crl --pem writes a CRL with a higher cRLNumber each time", () => {
    const n = (f: string) =>
      Number(/CRL Number:\s+(\d+)/.exec(tool("openssl", ["crl", "-in", f, "-noout", "-text"]).stdout)![1]);
    sigilOk(home, ["crl", "--ca", "genfic-system", "--pem", "-o", join(work, "a.crl")]);
    sigilOk(home, ["crl", "--ca", "genfic-system", "--pem", "-o", join(work, "b.crl")]);
    assert.equal(n(join(work, "b.crl")), n(join(work, "a.crl")) + 1);
  });

  it("audit verify passes, and names the first event after an edit, a deletion or a reorder", () => {
    const ok = sigilOk(home, ["audit", "verify"]);
    assert.match(ok.stdout, /audit chain OK: \d+ events/);
    const log = sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string });
    const actions = new Set(log.map((e) => e.action));
    for (const a of ["ca.create", "cert.issue", "cert.revoke", "crl.publish"]) assert.ok(actions.has(a), a);
    assert.doesNotMatch(JSON.stringify(log), new RegExp(PASS));
    const copy = (suffix: string) => {
      const h = join(work, `tamper-${suffix}`);
      copyHomeStore(home, h);
      return h;
    };
    const cases: Array<[string, string, RegExp]> = [
      [
        "edit",
        'update audit_events set details = \'{"subject":"CN=someone else"}\' where seq = 5',
        /event 5/,
      ],
      ["delete", "delete from audit_events where seq = 4", /event (4|5)/],
      [
        "swap",
        "update audit_events set seq = -1 where seq = 3; update audit_events set seq = 3 where seq = 2; update audit_events set seq = 2 where seq = -1",
        /event 2/,
      ],
      ["truncate", "delete from audit_events where seq = (select max(seq) from audit_events)", /event/],
    ];
    for (const [name, sql, expect] of cases) {
      const h = copy(name);
      execHomeSql(h, sql);
      const r = sigil(h, ["audit", "verify"]);
      assert.equal(r.status, 1, `${name}: ${r.stdout}`);
      assert.match(r.stderr, /^sigil: audit chain broken at /, name);
      assert.match(r.stderr, expect, `${name}: ${r.stderr}`);
    }
    writeFileSync(join(work, "done"), "");
  });
});
