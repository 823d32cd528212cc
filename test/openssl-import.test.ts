/**
 * Moving in and out of `openssl ca` (issue 7, parts 3 and 4), against a real `openssl ca`
 * directory made here with the handbook's commands: a root (genficCA), a user CA signed by
 * it (genficUserCA with index.txt, serial, crlnumber, newcerts/, private/), certificates
 * issued with `openssl ca -batch`, two revoked with reasons, one expired (-updatedb).
 * Then: `sigil import openssl` (root, then user CA), statuses in `sigil certs`, `openssl
 * ocsp` against `sigil serve` vs `openssl ocsp -index` on the original, a new issuance,
 * `sigil export openssl` read by `openssl ocsp -index` and `openssl ca -gencrl`, a
 * re-import that round-trips, and malformed directories refused whole.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { counts, sigil, sigilOk, tempDir, tool, write } from "./helpers.js";
import { startServe } from "./serve-helpers.js";

const ROOT_PASS = "root-openssl-pass";
const USER_PASS = "user-openssl-pass";
const ORG = "/C=BE/O=Gentoo Fictional, Inc.";

const CNF = `
[ ca ]
default_ca = CA_root

[ CA_root ]
dir = ./genficCA
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = ./root-genfic.crt
private_key = ./root-genfic.key
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no

[ CA_user ]
dir = ./genficUserCA
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/user-genfic.crt
private_key = $dir/private/user-genfic.key
default_md = sha256
default_days = 396
default_crl_days = 30
policy = policy_any
x509_extensions = usr_cert
unique_subject = no

[ policy_any ]
countryName = optional
organizationName = optional
commonName = supplied
emailAddress = optional

[ usr_cert ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, emailProtection
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused
`;

function ok(dir: string, args: string[]): string {
  const r = tool("openssl", args, { cwd: dir });
  assert.equal(r.status, 0, `openssl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

/** The handbook's setup, with `openssl ca` doing the work. */
function buildOpensslCa(dir: string): void {
  write(dir, "openssl.cnf", CNF);
  const cfg = ["-config", "openssl.cnf"];
  ok(dir, ["genrsa", "-aes256", "-passout", `pass:${ROOT_PASS}`, "-out", "root-genfic.key", "2048"]);
  ok(dir, [
    "req",
    ...cfg,
    "-new",
    "-x509",
    "-days",
    "7205",
    "-key",
    "root-genfic.key",
    "-passin",
    `pass:${ROOT_PASS}`,
    "-subj",
    `${ORG}/CN=GenFic Root CA`,
    "-extensions",
    "v3_ca",
    "-out",
    "root-genfic.crt",
  ]);
  ok(dir, ["version"]);
  for (const [ca, sub] of [
    ["genficCA", []],
    ["genficUserCA", ["crl", "private"]],
  ] as const) {
    for (const s of ["newcerts", ...sub]) tool("mkdir", ["-p", join(dir, ca, s)]);
    write(join(dir, ca), "index.txt", "");
    write(join(dir, ca), "serial", "01\n");
    write(join(dir, ca), "crlnumber", "01\n");
  }
  ok(dir, [
    "ca",
    ...cfg,
    "-name",
    "CA_root",
    "-gencrl",
    "-passin",
    `pass:${ROOT_PASS}`,
    "-out",
    "root-genfic.crl",
  ]);
  // genrsa -des3, as the handbook does (OpenSSL 3 writes PBES2 with des-ede3-cbc).
  ok(dir, [
    "genrsa",
    "-des3",
    "-passout",
    `pass:${USER_PASS}`,
    "-out",
    "genficUserCA/private/user-genfic.key",
    "2048",
  ]);
  ok(dir, [
    "req",
    ...cfg,
    "-new",
    "-key",
    "genficUserCA/private/user-genfic.key",
    "-passin",
    `pass:${USER_PASS}`,
    "-subj",
    `${ORG}/CN=GenFic User CA`,
    "-out",
    "user-genfic.csr",
  ]);
  ok(dir, [
    "ca",
    ...cfg,
    "-batch",
    "-name",
    "CA_root",
    "-days",
    "1095",
    "-extensions",
    "v3_ca",
    "-passin",
    `pass:${ROOT_PASS}`,
    "-out",
    "genficUserCA/user-genfic.crt",
    "-infiles",
    "user-genfic.csr",
  ]);
  const userCa = (args: string[]): string =>
    ok(dir, ["ca", ...cfg, "-batch", "-name", "CA_user", "-passin", `pass:${USER_PASS}`, ...args]);
  for (const u of ["amber", "bob", "carol", "dave"]) {
    ok(dir, [
      "req",
      ...cfg,
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${u}.key`,
      "-subj",
      `${ORG}/CN=${u}/emailAddress=${u}@genfic.example`,
      "-out",
      `${u}.req`,
    ]);
    userCa(["-days", "396", "-out", `${u}.crt`, "-infiles", `${u}.req`]);
  }
  ok(dir, [
    "req",
    ...cfg,
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "old.key",
    "-subj",
    "/CN=old",
    "-out",
    "old.req",
  ]);
  userCa([
    "-startdate",
    "20200101000000Z",
    "-enddate",
    "20210101000000Z",
    "-out",
    "old.crt",
    "-infiles",
    "old.req",
  ]);
  userCa(["-revoke", "genficUserCA/newcerts/02.pem", "-crl_reason", "keyCompromise"]);
  userCa(["-revoke", "genficUserCA/newcerts/03.pem", "-crl_reason", "superseded"]);
  userCa(["-updatedb"]);
  userCa(["-gencrl", "-out", "genficUserCA/crl/user-genfic.crl"]);
}

interface Answer {
  status: string;
  reason?: string;
  revokedAt?: string;
}

/** The status block `openssl ocsp` prints for one certificate. */
function parseAnswer(out: string, label: string): Answer {
  const i = out.indexOf(`${label}: `);
  assert.ok(i >= 0, `no answer for ${label} in: ${out}`);
  const block = out.slice(i + label.length + 2).split(/\n(?=\S)/)[0]!;
  const status = /^(good|revoked|unknown|ERROR: No Status found)/.exec(block)?.[1] ?? `?${block}`;
  const reason = /Reason: (\S+)/.exec(block)?.[1];
  const revokedAt = /Revocation Time: (.+)/.exec(block)?.[1]?.trim();
  return { status, ...(reason ? { reason } : {}), ...(revokedAt ? { revokedAt } : {}) };
}

/** openssl's own responder answering from an index (`openssl ocsp -index ... -reqin`). */
function opensslIndexAnswer(
  dir: string,
  caDir: string,
  caCert: string,
  key: string,
  pass: string,
  target: { cert: string } | { serial: string },
): Answer {
  const req = join(dir, "q.der");
  const resp = join(dir, "p.der");
  const what = "cert" in target ? ["-cert", target.cert] : ["-serial", target.serial];
  ok(dir, ["ocsp", "-issuer", caCert, ...what, "-no_nonce", "-reqout", req]);
  ok(dir, [
    "ocsp",
    "-index",
    join(caDir, "index.txt"),
    "-CA",
    caCert,
    "-rsigner",
    caCert,
    "-rkey",
    key,
    "-passin",
    `pass:${pass}`,
    "-reqin",
    req,
    "-respout",
    resp,
    "-nrequest",
    "1",
  ]);
  const r = tool("openssl", ["ocsp", "-respin", resp, "-issuer", caCert, ...what, "-noverify"], { cwd: dir });
  return parseAnswer(r.stdout + r.stderr, "cert" in target ? target.cert : target.serial);
}

function sigilAnswer(
  dir: string,
  url: string,
  caCert: string,
  root: string,
  target: { cert: string } | { serial: string },
): Answer {
  const what = "cert" in target ? ["-cert", target.cert] : ["-serial", target.serial];
  const out = ok(dir, [
    "ocsp",
    "-issuer",
    caCert,
    ...what,
    "-url",
    `${url}/ocsp`,
    "-CAfile",
    root,
    "-no_nonce",
  ]);
  assert.match(out, /Response verify OK/);
  return parseAnswer(out, "cert" in target ? target.cert : target.serial);
}

const REASON_CODES: Record<string, number> = { keyCompromise: 1, superseded: 4 };

describe("import from and export to openssl ca", { timeout: 600_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let dir: string;
  let home: string;
  const rootEnv = { SIGIL_IMPORT_PASSPHRASE: ROOT_PASS };
  const userEnv = { SIGIL_IMPORT_PASSPHRASE: USER_PASS };
  const importRoot = (h: string, d = "genficCA", cert = "root-genfic.crt") =>
    sigil(
      h,
      ["import", "openssl", "--dir", d, "--cert", cert, "--key", "root-genfic.key", "--name", "genfic"],
      {
        env: rootEnv,
        cwd: dir,
      },
    );
  const importUser = (h: string, d = "genficUserCA", cert = "user-genfic.crt", extra: string[] = []) =>
    sigil(
      h,
      [
        "import",
        "openssl",
        "--dir",
        d,
        "--cert",
        cert,
        "--key",
        join(dir, "genficUserCA/private/user-genfic.key"),
        "--name",
        "genfic-user",
        ...extra,
      ],
      { env: userEnv, cwd: dir },
    );
  const index = (): string[][] =>
    readFileSync(join(dir, "genficUserCA/index.txt"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("\t"));

  before(() => {
    t = tempDir("sigil-oca-");
    dir = t.dir;
    home = join(dir, "home");
    buildOpensslCa(dir);
    const statuses = index().map((f) => f[0]);
    assert.deepEqual(statuses, ["V", "R", "R", "V", "E"]);
  });
  after(() => t.cleanup());

  it("a dry run shows the plan and writes nothing (not even the home)", () => {
    const r = importRoot(join(dir, "dry-home"));
    assert.equal(r.status, 0, r.stderr);
    const d = sigil(
      join(dir, "dry-home"),
      [
        "import",
        "openssl",
        "--dir",
        "genficUserCA",
        "--cert",
        "user-genfic.crt",
        "--key",
        "private/user-genfic.key",
        "--dry-run",
      ],
      { env: userEnv, cwd: dir },
    );
    assert.equal(d.status, 0, d.stderr);
    assert.match(d.stdout, /would import CA user-genfic/);
    assert.match(d.stdout, /parent: +genfic/);
    assert.match(d.stdout, /5 \(2 valid, 2 revoked, 1 expired\)/);
    assert.match(d.stdout, /CRL number: +next is 2 \(hex 02 in openssl's crlnumber file\)\n/);
    assert.match(d.stdout, /openssl serial: +06 \(hex\) was next/);
    assert.equal(counts(join(dir, "dry-home")).cas, 1);
    assert.ok(!existsSync(join(dir, "dry-home/keys/user-genfic.key.pem")));
    const fresh = join(dir, "never");
    // A CRL number past 9: decimal as `openssl crl -text` shows it, and labelled hex as in the file.
    const crlnumber = join(dir, "genficCA", "crlnumber");
    const kept = readFileSync(crlnumber, "utf8");
    writeFileSync(crlnumber, "1A\n");
    const d2 = sigil(
      fresh,
      [
        "import",
        "openssl",
        "--dir",
        "genficCA",
        "--cert",
        "root-genfic.crt",
        "--key",
        "root-genfic.key",
        "--dry-run",
      ],
      {
        env: rootEnv,
        cwd: dir,
      },
    );
    writeFileSync(crlnumber, kept);
    assert.equal(d2.status, 0, d2.stderr);
    assert.match(d2.stdout, /would import CA root-genfic: .*\n +parent: +\(none: a self-signed root\)/);
    assert.match(d2.stdout, /CRL number: +next is 26 \(hex 1A in openssl's crlnumber file\)\n/);
    assert.match(d2.stdout, /openssl serial: +02 \(hex\) was next/);
    assert.ok(!existsSync(fresh));
  });

  it("refuses a CA whose parent is not in Sigil yet, and says to import the parent first", () => {
    const h = join(dir, "orphan");
    const r = importUser(h);
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^sigil: the issuer of .*user-genfic\.crt .* is not a CA in Sigil: import the parent first/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.ok(!existsSync(h), "a refused import into a new home creates nothing");
  });

  it("imports the root, then the user CA: every certificate keeps its status", () => {
    const r1 = importRoot(home);
    assert.equal(r1.status, 0, r1.stderr);
    const r2 = importUser(home);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /imported CA genfic-user: .*\n +parent: +genfic/);
    const certs = JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-user", "--json"]).stdout) as Array<
      Record<string, unknown>
    >;
    assert.equal(certs.length, 5);
    for (const [st, , rev, serial, , subject] of index()) {
      const c = certs.find((x) => x.serial === serial!.replace(/^0+/, "").toLowerCase());
      assert.ok(c, `serial ${serial} imported`);
      assert.equal(c.status, { V: "valid", R: "revoked", E: "expired" }[st!]);
      assert.match(String(c.subject), new RegExp(`CN=${/CN=([^/]+)/.exec(subject!)![1]}`));
      if (st === "R") {
        const [date, reason] = rev!.split(",");
        assert.equal(c.revocationReasonCode, REASON_CODES[reason!]);
        const m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(date!)!;
        assert.equal(c.revokedAt, `20${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
      }
    }
    // The user CA's own certificate is one the root issued (genficCA/index.txt); CA
    // certificates are listed when asked for.
    const rootCerts = JSON.parse(
      sigilOk(home, ["certs", "--ca", "genfic", "--profile", "ca", "--json"]).stdout,
    ) as Array<Record<string, unknown>>;
    assert.deepEqual(
      rootCerts.map((c) => [c.serial, c.profile, c.status]),
      [["1", "ca", "valid"]],
    );
    // openssl's crlnumber held 02 (the next one): Sigil's next CRL is number 2.
    const crl = join(dir, "sigil-user.crl");
    sigilOk(home, ["crl", "--ca", "genfic-user", "-o", crl]);
    const text = ok(dir, ["crl", "-in", crl, "-noout", "-text", "-CAfile", "genficUserCA/user-genfic.crt"]);
    assert.match(text, /X509v3 CRL Number: *\n *2\n/);
    assert.match(text, /Serial Number: 02\n(?:.*\n){2}.*CRL Reason Code: *\n *Key Compromise/);
    assert.match(text, /Serial Number: 03\n(?:.*\n){2}.*CRL Reason Code: *\n *Superseded/);
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /^audit chain OK/);
  });

  it("openssl ocsp against sigil serve answers as openssl ocsp -index on the original", async () => {
    const s = await startServe(home);
    try {
      const caCert = join(dir, "genficUserCA/user-genfic.crt");
      const root = join(dir, "root-genfic.crt");
      const targets: Array<{ cert: string } | { serial: string }> = [
        ...["01", "02", "03", "04"].map((n) => ({ cert: `genficUserCA/newcerts/${n}.pem` })),
        { serial: "0x63" },
      ];
      for (const target of targets) {
        const theirs = opensslIndexAnswer(
          dir,
          join(dir, "genficUserCA"),
          caCert,
          join(dir, "genficUserCA/private/user-genfic.key"),
          USER_PASS,
          target,
        );
        const ours = sigilAnswer(dir, s.url, caCert, root, target);
        assert.deepEqual(ours, theirs, JSON.stringify(target));
      }
      // E (expired): openssl's -index responder leaves the certificate out of its answer
      // (no SingleResponse at all); Sigil says good (not revoked, RFC 6960 §2.2), as the
      // certificate itself shows its expiry.
      const e = { cert: "genficUserCA/newcerts/05.pem" };
      assert.equal(
        opensslIndexAnswer(
          dir,
          join(dir, "genficUserCA"),
          caCert,
          join(dir, "genficUserCA/private/user-genfic.key"),
          USER_PASS,
          e,
        ).status,
        "ERROR: No Status found",
      );
      assert.equal(sigilAnswer(dir, s.url, caCert, root, e).status, "good");
      // The root answers for the user CA's certificate, imported from genficCA/index.txt.
      assert.equal(sigilAnswer(dir, s.url, root, root, { cert: caCert }).status, "good");
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it("a new issuance continues without collision", () => {
    ok(dir, [
      "req",
      "-config",
      "openssl.cnf",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "erin.key",
      "-subj",
      `${ORG}/CN=erin`,
      "-out",
      "erin.req",
    ]);
    const r = sigilOk(home, [
      "sign",
      join(dir, "erin.req"),
      "--ca",
      "genfic-user",
      "--profile",
      "user",
      "-o",
      join(dir, "erin.crt"),
    ]);
    const serial = /serial ([0-9a-f]+)/.exec(r.stdout + r.stderr)![1]!;
    const known = index().map((f) => f[3]!.replace(/^0+/, "").toLowerCase());
    assert.ok(!known.includes(serial), `new serial ${serial} is not one of openssl's`);
    const v = tool("openssl", [
      "verify",
      "-CAfile",
      join(dir, "root-genfic.crt"),
      "-untrusted",
      join(dir, "genficUserCA/user-genfic.crt"),
      join(dir, "erin.crt"),
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const certs = JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-user", "--json"]).stdout) as Array<{
      serial: string;
    }>;
    assert.equal(certs.filter((c) => c.serial === serial).length, 1);
    // Revoked in Sigil: the export below must carry it to openssl.
    sigilOk(home, ["revoke", serial, "--ca", "genfic-user", "--reason", "affiliationChanged"]);
  });

  it("export: openssl ocsp -index and openssl ca -gencrl work on it; re-import round-trips", () => {
    const outUser = join(dir, "out-user");
    const outRoot = join(dir, "out-root");
    const exported = sigilOk(home, ["export", "openssl", "--ca", "genfic-user", "--dir", outUser]).stdout;
    sigilOk(home, ["export", "openssl", "--ca", "genfic", "--dir", outRoot]);
    for (const f of [
      "index.txt",
      "index.txt.attr",
      "serial",
      "crlnumber",
      "cacert.pem",
      "openssl.cnf",
      "newcerts/01.pem",
    ])
      assert.ok(existsSync(join(outUser, f)), f);
    // A second export into the same (now full) folder is refused, nothing touched.
    const again = sigil(home, ["export", "openssl", "--ca", "genfic-user", "--dir", outUser]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /is not empty/);

    const caCert = join(outUser, "cacert.pem");
    const key = join(dir, "genficUserCA/private/user-genfic.key");
    for (const n of ["01", "02", "03", "04"]) {
      const a = opensslIndexAnswer(dir, outUser, caCert, key, USER_PASS, {
        cert: join(outUser, `newcerts/${n}.pem`),
      });
      const b = opensslIndexAnswer(dir, join(dir, "genficUserCA"), caCert, key, USER_PASS, {
        cert: join(outUser, `newcerts/${n}.pem`),
      });
      assert.deepEqual(a, b, n);
    }
    // Sigil's own certificate (erin, revoked in Sigil) is known to openssl's responder on the export.
    const erin = opensslIndexAnswer(dir, outUser, caCert, key, USER_PASS, { cert: join(dir, "erin.crt") });
    assert.equal(erin.status, "revoked");
    assert.equal(erin.reason, "affiliationChanged");

    // openssl ca -gencrl continues Sigil's CRL numbering: crlnumber is one past Sigil's last.
    const last = Number(
      /"crlNumber":(\d+)/.exec(
        sigilOk(home, ["audit", "log", "--json"])
          .stdout.trim()
          .split("\n")
          .filter((l) => l.includes('"crl.publish"') && l.includes('"genfic-user"'))
          .pop()!,
      )![1],
    );
    assert.ok(last >= 2, `Sigil published CRL ${last}`);
    const hex = (n: number): string => {
      const h = n.toString(16).toUpperCase();
      return (h.length % 2 ? "0" + h : h) + "\n";
    };
    assert.equal(readFileSync(join(outUser, "crlnumber"), "utf8"), hex(last + 1));
    // The summary shows the files' hex as the files hold it, labelled, and the CRL number in decimal.
    assert.match(
      exported,
      new RegExp(`crlnumber ${hex(last + 1).trim()} \\(hex: the next CRL is number ${last + 1}\\)`),
    );
    assert.match(
      exported,
      new RegExp(`serial ${readFileSync(join(outUser, "serial"), "utf8").trim()} \\(hex\\)`),
    );
    const crl = join(dir, "openssl-after-export.crl");
    ok(dir, [
      "ca",
      "-config",
      join(outUser, "openssl.cnf"),
      "-gencrl",
      "-keyfile",
      key,
      "-passin",
      `pass:${USER_PASS}`,
      "-out",
      crl,
    ]);
    const text = ok(dir, ["crl", "-in", crl, "-noout", "-text", "-CAfile", caCert]);
    assert.match(text, new RegExp(`X509v3 CRL Number: *\\n *${last + 1}\\n`));
    assert.match(text, /Serial Number: 02\n/);
    assert.match(text, /Serial Number: 03\n/);
    assert.match(text, /Affiliation Changed/);
    assert.equal(readFileSync(join(outUser, "crlnumber"), "utf8"), hex(last + 2));

    // Re-import into a fresh home: the same certificates, statuses, dates and reasons.
    const home2 = join(dir, "home2");
    const r1 = importRoot(home2, outRoot, "cacert.pem");
    assert.equal(r1.status, 0, r1.stderr);
    const r2 = importUser(home2, outUser, "cacert.pem");
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, new RegExp(`CRL number: +next is ${last + 2} \\(hex ${hex(last + 2).trim()} `)); // openssl used last + 1
    const a = sigilOk(home, ["certs", "--json"]).stdout;
    const b = sigilOk(home2, ["certs", "--json"]).stdout;
    assert.deepEqual(JSON.parse(b), JSON.parse(a));
  });

  describe("a malformed directory is refused whole, naming the line", () => {
    let h: string;
    before(() => {
      h = join(dir, "bad-home");
      const r = importRoot(h);
      assert.equal(r.status, 0, r.stderr);
    });

    const broken = (name: string, edit: (d: string) => void): string => {
      const d = join(dir, name);
      rmSync(d, { recursive: true, force: true });
      cpSync(join(dir, "genficUserCA"), d, { recursive: true });
      edit(d);
      return d;
    };
    const editLine = (d: string, n: number, f: (fields: string[]) => void): void => {
      const lines = readFileSync(join(d, "index.txt"), "utf8").split("\n");
      const fields = lines[n - 1]!.split("\t");
      f(fields);
      lines[n - 1] = fields.join("\t");
      writeFileSync(join(d, "index.txt"), lines.join("\n"));
    };

    const cases: Array<[string, (d: string) => void, RegExp]> = [
      [
        "bad-date",
        (d) => editLine(d, 3, (f) => (f[1] = "27132823282Z")),
        /index\.txt line 3: bad expiry date "27132823282Z"/,
      ],
      ["bad-status", (d) => editLine(d, 2, (f) => (f[0] = "X")), /index\.txt line 2: unknown status "X"/],
      [
        "missing-file",
        (d) => rmSync(join(d, "newcerts/04.pem")),
        /index\.txt line 4: newcerts\/04\.pem is missing/,
      ],
      [
        "bad-reason",
        (d) => editLine(d, 2, (f) => (f[2] = "261127232824Z,whoops")),
        /index\.txt line 2: unknown revocation reason "whoops"/,
      ],
    ];
    for (const [name, edit, expected] of cases)
      it(name, () => {
        const d = broken(name, edit);
        const before = counts(h);
        const r = importUser(h, d, "user-genfic.crt");
        assert.equal(r.status, 1, r.stdout);
        assert.match(r.stderr, expected);
        assert.match(r.stderr, /nothing imported/);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.deepEqual(counts(h), before);
        assert.ok(!existsSync(join(h, "keys/genfic-user.key.pem")));
      });

    it("--allow-partial imports the rest and lists every skipped line", () => {
      const d = broken("partial", (x) => {
        rmSync(join(x, "newcerts/04.pem"));
        editLine(x, 2, (f) => (f[0] = "Q"));
      });
      const r = importUser(h, d, "user-genfic.crt", ["--allow-partial"]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /skipped: index\.txt line 2: unknown status "Q"/);
      assert.match(r.stdout, /skipped: index\.txt line 4: newcerts\/04\.pem is missing/);
      assert.match(r.stdout, /3 \(1 valid, 1 revoked, 1 expired\)/);
      const certs = JSON.parse(sigilOk(h, ["certs", "--ca", "genfic-user", "--json"]).stdout) as Array<{
        serial: string;
      }>;
      assert.deepEqual(certs.map((c) => c.serial).sort(), ["1", "3", "5"]);
      const log = sigilOk(h, ["audit", "log", "--json"]).stdout;
      assert.match(log, /"ca\.import".*"skipped":\[\{"line":2/);
    });
  });
});
