/**
 * Joining an instance (issue 18): `sigil instance join` writes a home for instance N+1 on a
 * new machine from the database URL and what the security admin carries (CA exports, the
 * token key, the audit key's copy, the passphrase). First what an attacker or a slip would
 * try (a folder in use, an export of another CA's key, a password in the URL); then a joined
 * home on a new empty folder serves beside the first instance.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PASS,
  createAdminToken,
  initHome,
  issueCert,
  sigil,
  sigilOk,
  tempDir,
  tool,
  usePostgresHomes,
  write,
} from "./helpers.js";
import { ocspQuery, startServe, type Served } from "./serve-helpers.js";
import { createTestDatabaseSync, dropTestDatabases, testCluster } from "./postgres.js";

const mode = (p: string): number => statSync(p).mode & 0o777;

/** The CAs of a home, by `sigil ca list --json`. */
function caNames(home: string): string[] {
  const list = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{ name: string }>;
  return list.map((c) => c.name);
}

/** The serial of a PEM certificate file (openssl's hex). */
function serialOf(cert: string): string {
  return tool("openssl", ["x509", "-in", cert, "-noout", "-serial"]).stdout.trim();
}

describe("sigil instance join: a home for one more instance, from the database URL and the exports", () => {
  const t = tempDir();
  const dir = t.dir;
  const homeA = join(dir, "machine-a", "sigil-data");
  const running: Served[] = [];
  let url: string;
  let cas: string[];
  const exports = new Map<string, string>();
  let root: string;
  let system: string;

  /** `sigil instance join` run with no home of its own (a new machine), into `home`. */
  const join_ = (home: string, args: string[], env: Record<string, string | undefined> = {}) =>
    sigil(home, ["instance", "join", "--home", home, ...args], {
      env: { SIGIL_DATABASE_URL: undefined, SIGIL_PASSPHRASE: undefined, ...env },
      cwd: dir,
    });
  const exportArgs = (names: string[]) => names.flatMap((n) => ["--ca-export", exports.get(n)!]);
  /** Nothing of a refused join is left: no home, no staging folder next to it. */
  const nothingLeft = (home: string): void => {
    const parent = join(home, "..");
    if (!existsSync(parent)) return; // not even the parent folder was made
    assert.deepEqual(
      readdirSync(parent).filter((f) => f.includes(".join-")),
      [],
      "no staging folder left",
    );
  };

  before(async () => {
    await testCluster();
    usePostgresHomes();
    mkdirSync(join(dir, "machine-a"));
    initHome(homeA);
    url = (JSON.parse(readFileSync(join(homeA, "sigil.json"), "utf8")) as { store: { url: string } }).store
      .url;
    cas = caNames(homeA);
    for (const n of cas) {
      const out = join(dir, "exports", n);
      sigilOk(homeA, ["ca", "export", n, "--out", out]);
      exports.set(n, out);
    }
    root = write(dir, "root.pem", sigilOk(homeA, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(homeA, ["ca", "show", "genfic-system", "--pem"]).stdout);
  });
  after(async () => {
    for (const s of running) await s.stop().catch(() => undefined);
    await dropTestDatabases();
    t.cleanup();
  });

  it("refuses a folder that exists and is not empty, and changes nothing in it", () => {
    const home = join(dir, "busy");
    mkdirSync(home);
    writeFileSync(join(home, "notes.txt"), "mine\n");
    const r = join_(home, ["--database-url", url, ...exportArgs(["genfic-system"])]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /busy is not empty: an instance joins into a new \(or empty\) folder/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.deepEqual(readdirSync(home), ["notes.txt"]);
    nothingLeft(home);
    // A name sigil.json would refuse: a usage error, before the database is asked anything.
    const n = join_(join(dir, "machine-n", "sigil-data"), ["--database-url", url, "--name", "bad name"]);
    assert.equal(n.status, 2, n.stderr);
    assert.match(n.stderr, /serve\.instanceName: must be/);
    assert.equal(existsSync(join(dir, "machine-n")), false);
  });

  it("refuses an export whose key is not the database's CA key, and writes nothing", () => {
    // Another deployment's genfic-system: same name, another key.
    const other = join(dir, "other", "sigil-data");
    mkdirSync(join(dir, "other"));
    initHome(other);
    const otherExport = join(dir, "other-export");
    sigilOk(other, ["ca", "export", "genfic-system", "--out", otherExport]);
    const home = join(dir, "machine-x", "sigil-data");
    const r = join_(home, ["--database-url", url, ...exportArgs(["genfic"]), "--ca-export", otherExport]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /holds a key of CA genfic-system that is not the database's .*nothing written/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(existsSync(home), false, "no home made");
    nothingLeft(home);
    // The security admin's audit key copy differs from the database's: refused, nothing written.
    const a = join_(home, [
      "--database-url",
      url,
      ...exportArgs(["genfic-system"]),
      "--audit-key",
      join(other, "audit", "audit-key.pem"),
    ]);
    assert.notEqual(a.status, 0);
    assert.match(a.stderr, /the database's audit key \(.*\) is not the one in .*; nothing written/);
    assert.equal(existsSync(home), false);
    nothingLeft(home);
    // A database that is not Sigil's: one line, nothing written.
    const empty = createTestDatabaseSync().url;
    const e = join_(home, ["--database-url", empty]);
    assert.notEqual(e.status, 0);
    assert.match(e.stderr, /no Sigil data/);
    assert.equal(existsSync(home), false);
    nothingLeft(home);
  });

  it("never writes or shows the database password; keys are 0600 and folders have a home's modes", () => {
    const secret = "pw-s3cr3t-Zq9";
    const u = new URL(url);
    u.password = secret;
    const withPw = u.toString();
    // Refused (a database with no Sigil data): the error does not show the password either.
    const empty = new URL(createTestDatabaseSync().url);
    empty.password = secret;
    const bad = join_(join(dir, "machine-p0", "sigil-data"), ["--database-url", empty.toString()]);
    assert.notEqual(bad.status, 0);
    assert.doesNotMatch(bad.stdout + bad.stderr, new RegExp(secret));

    const home = join(dir, "machine-p", "sigil-data");
    const r = join_(home, ["--name", "p", ...exportArgs(["genfic-system"])], {
      SIGIL_DATABASE_URL: withPw,
      SIGIL_PASSPHRASE: PASS,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(secret));
    assert.match(r.stderr, /password is not written into sigil\.json: .*PGPASSWORD or ~\/\.pgpass/);
    const text = readFileSync(join(home, "sigil.json"), "utf8");
    assert.doesNotMatch(text, new RegExp(secret));
    const cfg = JSON.parse(text) as { store: { kind: string; url: string }; serve: { instanceName: string } };
    assert.equal(cfg.store.kind, "postgres");
    assert.equal(new URL(cfg.store.url).password, "");
    assert.equal(new URL(cfg.store.url).pathname, u.pathname);
    assert.equal(cfg.serve.instanceName, "p");
    // Only the key given; the others are named as not here, in one line.
    assert.deepEqual(readdirSync(join(home, "keys")), ["genfic-system.key.pem"]);
    const notHere = r.stderr.split("\n").filter((l) => l.startsWith("not here:"));
    assert.equal(notHere.length, 1, r.stderr);
    for (const n of cas.filter((c) => c !== "genfic-system"))
      assert.match(notHere[0]!, new RegExp(`\\b${n}\\b`));
    assert.match(notHere[0]!, /will start sealed/);
    assert.match(r.stderr, /tokens made on other instances will not work here/);
    assert.match(r.stderr, /pinned as the database has it \(trust on first use\)/);
    assert.match(r.stderr, /the passphrase opens each installed key/);
    assert.equal(mode(home), 0o700);
    assert.equal(mode(join(home, "keys")), 0o700);
    assert.equal(mode(join(home, "keys", "genfic-system.key.pem")), 0o600);
    assert.equal(mode(join(home, "crl")), 0o755);
    assert.equal(mode(join(home, "audit", "audit-key.pem")), 0o644);
    assert.equal(
      readFileSync(join(home, "keys", "genfic-system.key.pem"), "utf8"),
      readFileSync(join(exports.get("genfic-system")!, "genfic-system.key.pem"), "utf8"),
    );
    // The join is in the audit log, with the keys installed.
    const log = sigilOk(homeA, ["audit", "log", "--json"]).stdout;
    assert.match(log, /"instance\.join"/);
  });

  it("a wrong passphrase given to the join is refused before anything is written", () => {
    const home = join(dir, "machine-w", "sigil-data");
    const r = join_(home, ["--database-url", url, ...exportArgs(["genfic-system"])], {
      SIGIL_PASSPHRASE: "not the passphrase at all",
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /wrong passphrase/);
    assert.equal(existsSync(home), false);
    nothingLeft(home);
  });

  it("a joined home on a new empty folder serves beside the first instance", async () => {
    // The security admin's token for `sigil status`, made on A.
    const token = createAdminToken(homeA, "operator", "ops");
    const a = await startServe(homeA, ["--workers", "1"]);
    running.push(a);
    const certA = issueCert(homeA, dir, "a.genfic.internal");

    const homeC = join(dir, "machine-c", "sigil-data");
    mkdirSync(homeC, { recursive: true }); // an empty folder is fine
    const r = join_(
      homeC,
      [
        "--database-url",
        url,
        "--name",
        "c",
        ...exportArgs(cas),
        "--token-key",
        join(homeA, "keys", "token-hmac.key"),
        "--audit-key",
        join(homeA, "audit", "audit-key.pem"),
      ],
      { SIGIL_PASSPHRASE: undefined },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not here|trust on first use|will not work here/);
    assert.match(r.stderr, /passphrase was not checked/);
    assert.equal(mode(join(homeC, "keys", "token-hmac.key")), 0o600);

    const c = await startServe(homeC, ["--workers", "1"]);
    running.push(c);
    assert.doesNotMatch(c.stderr(), /sealed: pre-signed answers only/);
    // C answers OCSP for a certificate issued through A.
    const answer = ocspQuery(c, system, root, certA);
    assert.match(answer.stdout, /: good\b/, answer.stdout + answer.stderr);
    assert.match(answer.stderr, /Response verify OK/);
    // A certificate signed through C: its own serial.
    const certC = issueCert(homeC, dir, "c.genfic.internal");
    assert.notEqual(serialOf(certC), serialOf(certA));
    // Both instances in `sigil status` (the token made on A verifies in C: the token key).
    const st = JSON.parse(sigilOk(homeC, ["status", "--json"], { env: { SIGIL_TOKEN: token } }).stdout) as {
      instances: Array<{ name: string; sealed: boolean }>;
    };
    assert.equal(st.instances.length, 2, JSON.stringify(st));
    assert.ok(
      st.instances.some((i) => i.name === "c" && !i.sealed),
      JSON.stringify(st),
    );
    sigilOk(homeC, ["audit", "verify"]);
  });
});
