/**
 * Several machines, one CA (issue 18's acceptance), as a new user would set it up: a private
 * PostgreSQL cluster on 127.0.0.1 and homes that share no files. Home A is made with the
 * handbook's flags under SIGIL_DATABASE_URL (`sigil -r genfic`, `sigil -p genfic -c
 * genfic-system`), home B is a copy of it made before anything started (as a second machine
 * is set up), and both serve:
 *
 * - started in either order, each answers OCSP for certificates issued through the other,
 *   and signs live answers (an unknown serial) that `openssl ocsp` verifies;
 * - a forced responder renewal in one home: both keep answering, and both sign with the new
 *   responder by their next job run;
 * - a revocation through either instance's admin API or home shows in the other's OCSP
 *   within 2 s, with an admin token made in the other home;
 * - concurrent CLI batches of 300 requests in both homes: 600 certificates, 600 serials, and
 *   `sigil audit verify` passes from both;
 * - killing the instance that holds the signing jobs' lease: the other takes the jobs over
 *   and signs the answers that become due;
 * - a third instance joined from the database URL and the CA exports serves with one
 *   command (`sigil instance join ... --serve`) from a new empty folder.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  BIN,
  createAdminToken,
  newRequestAsync,
  patchConfig,
  sigilAsync,
  sigilOk,
  tempDir,
  tool,
  until,
  write,
  type Run,
} from "./helpers.js";
import { ocspQuery, startServe, type Served } from "./serve-helpers.js";
import { createTestDatabaseSync, dropTestDatabases, psqlQuerySync, testCluster } from "./postgres.js";

/** Two homes on one database: A made with the handbook's flags, B a copy of it made before any start. */
interface Pair {
  url: string;
  db: string;
  a: string;
  b: string;
  root: string;
  system: string;
}

/** A certificate serial as Sigil writes it (lowercase hex, no colons, no leading zeros). */
const normSerial = (s: string): string =>
  s
    .replace(/:/g, "")
    .toLowerCase()
    .replace(/^0+(?=.)/, "");

describe("two machines, one PostgreSQL database: homes that share no files", () => {
  const t = tempDir();
  const dir = t.dir;
  const running: Served[] = [];
  /** The pair kept running from the first test on (A started first). */
  let main: Pair;
  const served: { a?: Served; b?: Served } = {};
  /** Certificates issued through A and through B in the first test. */
  const certs: { a?: string; b?: string } = {};
  let token = "";

  const env = (p: Pair) => ({ SIGIL_DATABASE_URL: p.url });
  const cli = (p: Pair, home: string, args: string[]): Run => sigilOk(home, args, { env: env(p) });
  const start = async (p: Pair, home: string): Promise<Served> => {
    const s = await startServe(home, ["--workers", "1", "--admin-listen", "127.0.0.1:0"], env(p));
    running.push(s);
    return s;
  };
  const stop = async (s: Served): Promise<void> => {
    running.splice(running.indexOf(s), 1);
    await s.stop();
  };

  /** `openssl ocsp` against an instance, for a certificate file or a serial (`0x...`). */
  const ocsp = (p: Pair, s: Served, target: string, extra: string[] = []): Run =>
    ocspQuery(s, p.system, p.root, target, extra);
  /** The serial of the responder certificate an answer carries (`-resp_text`). */
  const responderSerial = (r: Run): string => {
    const m = /Certificate:\s*\n\s*Data:[\s\S]*?Serial Number:\s*\n?\s*([0-9a-fA-F:]+)/.exec(r.stdout);
    assert.ok(m, `no responder certificate in the answer: ${r.stdout}`);
    return normSerial(m[1]!);
  };

  /** Home A with the handbook's flags, home B a copy of it; neither started. */
  const makePair = (tag: string): Pair => {
    const { url, name } = createTestDatabaseSync();
    const a = join(dir, tag, "machine-a", "sigil-data");
    const b = join(dir, tag, "machine-b", "sigil-data");
    mkdirSync(dirname(a), { recursive: true });
    const p = { url, db: name, a, b, root: "", system: "" };
    cli(p, a, ["-r", "genfic", "-v", "7300"]);
    cli(p, a, ["-p", "genfic", "-c", "genfic-system", "-v", "3650"]);
    // Short job intervals, so that renewals and failover show within seconds.
    patchConfig(a, { serve: { jobIntervalSeconds: 1 } });
    cpSync(dirname(a), dirname(b), { recursive: true });
    p.root = write(dir, `${tag}-root.pem`, cli(p, a, ["ca", "show", "genfic", "--pem"]).stdout);
    p.system = write(dir, `${tag}-system.pem`, cli(p, a, ["ca", "show", "genfic-system", "--pem"]).stdout);
    return p;
  };

  /** A P-256 request made by openssl (DIR/CN.req), as a user would. */
  const newReq = async (out: string, cn: string): Promise<string> => (await newRequestAsync(out, cn)).req;
  /** The handbook's `-p CA -s REQ -o CRT` in `home`. */
  const issue = async (p: Pair, home: string, cn: string): Promise<string> => {
    const req = await newReq(dir, cn);
    const crt = join(dir, `${cn}.crt`);
    cli(p, home, ["-p", "genfic-system", "-s", req, "-o", crt]);
    return crt;
  };

  before(async () => {
    await testCluster();
  });
  after(async () => {
    for (const s of [...running]) await s.stop().catch(() => undefined);
    await dropTestDatabases();
    t.cleanup();
  });

  it("homes copied before any start serve in either order, each answering for the other's certificates", async () => {
    for (const order of ["ba", "ab"] as const) {
      const p = makePair(order);
      // The copy carries the token key and the audit key's pin that `-r` made: no instance
      // makes its own (admin tokens and checkpoints work on both).
      for (const f of ["keys/token-hmac.key", "audit/audit-key.pem"])
        assert.deepEqual(readFileSync(join(p.b, f)), readFileSync(join(p.a, f)), f);
      const first = order === "ab" ? p.a : p.b;
      const second = order === "ab" ? p.b : p.a;
      const s1 = await start(p, first);
      const s2 = await start(p, second);
      for (const s of [s1, s2]) {
        assert.doesNotMatch(s.stderr(), /sealed|not found|token key/, s.stderr());
        assert.doesNotMatch(s.stdout(), /made a new token key|no CLI credential/, s.stdout());
      }
      const viaA = await issue(p, p.a, `${order}-a.genfic.internal`);
      const viaB = await issue(p, p.b, `${order}-b.genfic.internal`);
      for (const s of [s1, s2]) {
        for (const c of [viaA, viaB]) {
          const r = ocsp(p, s, c);
          assert.match(r.stdout, /: good\b/, r.stdout + r.stderr);
          assert.match(r.stderr, /Response verify OK/);
        }
        // A serial never issued: signed live by this instance, with the stored responder key.
        const u = ocsp(p, s, "0x5e7e0001");
        assert.match(u.stdout, /: unknown\b/, u.stdout + u.stderr);
        assert.match(u.stderr, /Response verify OK/);
      }
      // One responder per CA, made by whichever instance started first; none per instance.
      assert.deepEqual(
        psqlQuerySync("SELECT count(*) FROM ocsp_responders GROUP BY ca_id ORDER BY ca_id", p.db),
        ["1", "1"],
      );
      // Each home's CLI signs through its own instance (distinct CLI credentials).
      const names = psqlQuerySync(
        "SELECT name FROM admin_tokens WHERE name LIKE 'local-cli%' AND revoked_at IS NULL ORDER BY name",
        p.db,
      );
      assert.equal(new Set(names).size, 2, names.join(","));
      if (order === "ba") {
        await stop(s2);
        await stop(s1);
        continue;
      }
      main = p;
      served.a = s1;
      served.b = s2;
      certs.a = viaA;
      certs.b = viaB;
    }
  });

  it("after a forced responder renewal in one home both keep answering, and both sign with the new responder", async () => {
    const p = main;
    const before = responderSerial(ocsp(p, served.b!, "0x5e7e0002", ["-resp_text"]));
    const r = cli(p, p.a, ["ocsp", "renew-responder", "--ca", "genfic-system"]);
    const m =
      /renewed the OCSP responder of CA genfic-system: certificate ([0-9a-f]+), valid until \S+ \(replaces ([0-9a-f]+)\)/.exec(
        r.stderr,
      );
    assert.ok(m, r.stderr);
    const [renewed, replaced] = [normSerial(m[1]!), normSerial(m[2]!)];
    assert.equal(replaced, before);
    assert.notEqual(renewed, before);
    let n = 3;
    for (const s of [served.a!, served.b!]) {
      // Answers keep coming and verifying while the instance moves to the new responder
      // (by its next job run: one second here).
      const live = await until("the instance to sign with the renewed responder", 15_000, () => {
        const x = ocsp(p, s, `0x5e7e000${n++}`, ["-resp_text"]);
        assert.match(x.stdout, /: unknown\b/, x.stdout + x.stderr);
        assert.match(x.stderr, /Response verify OK/);
        return responderSerial(x) === renewed ? x : undefined;
      });
      assert.match(live.stderr, /Response verify OK/);
      // Pre-signed answers of either home's certificates still verify.
      for (const c of [certs.a!, certs.b!]) {
        const x = ocsp(p, s, c);
        assert.match(x.stdout, /: good\b/, x.stdout + x.stderr);
        assert.match(x.stderr, /Response verify OK/);
      }
    }
    // The old responder's key is gone from the database; the new one is there, encrypted.
    const keys = psqlQuerySync("SELECT name FROM service_keys WHERE name LIKE 'ocsp-%' ORDER BY name", p.db);
    assert.equal(keys.length, 2, keys.join(",")); // one per CA
  });

  it("a revocation through either instance's admin API or home shows in the other's OCSP within 2 s", async () => {
    const p = main;
    // A token made in home A works on B's admin API: the homes share the token key.
    token = createAdminToken(p.a, "operator", "ops", { env: env(p) });
    const revokedWithin = async (s: Served, cert: string, t0: number): Promise<number> => {
      await until("the other instance to answer revoked", 2_000, () =>
        /: revoked\b/.test(ocsp(p, s, cert).stdout) ? true : undefined,
      );
      return Date.now() - t0;
    };
    // Through B's admin API (its public listener, loopback): seen by A.
    let t0 = Date.now();
    const rv = await fetch(`${served.b!.url}/api/v1/admin/certs/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        cert: readFileSync(certs.a!, "utf8"),
        ca: "genfic-system",
        reason: "keyCompromise",
      }),
    });
    assert.equal(rv.status, 200, await rv.text());
    const viaApi = await revokedWithin(served.a!, certs.a!, t0);
    // Through home A's CLI (the handbook's -x): seen by B.
    const serial = tool("openssl", ["x509", "-in", certs.b!, "-noout", "-serial"])
      .stdout.trim()
      .split("=")[1]!;
    t0 = Date.now();
    cli(p, p.a, ["-p", "genfic-system", "-x", serial.toLowerCase()]);
    const viaHome = await revokedWithin(served.b!, certs.b!, t0);
    const answer = ocsp(p, served.b!, certs.b!);
    assert.match(answer.stderr, /Response verify OK/);
    console.log(
      `# revocation seen by the other instance after ${viaApi} ms (admin API), ${viaHome} ms (home CLI)`,
    );
  });

  it("concurrent CLI batches of 300 requests in both homes write 600 certificates with 600 serials; audit verify passes from both", async () => {
    const p = main;
    const batch = async (tag: string): Promise<string[]> => {
      const out = join(dir, `batch-${tag}`);
      mkdirSync(out);
      const reqs: string[] = [];
      for (let i = 0; i < 300; i += 10)
        reqs.push(
          ...(await Promise.all(
            Array.from({ length: 10 }, (_, j) => newReq(out, `${tag}${i + j}.batch.genfic.internal`)),
          )),
        );
      return reqs;
    };
    const [reqA, reqB] = [await batch("a"), await batch("b")];
    const outA = join(dir, "certs-a");
    const outB = join(dir, "certs-b");
    const [ra, rb] = await Promise.all([
      sigilAsync(p.a, ["sign", ...reqA, "--ca", "genfic-system", "--out-dir", outA], { env: env(p) }),
      sigilAsync(p.b, ["sign", ...reqB, "--ca", "genfic-system", "--out-dir", outB], { env: env(p) }),
    ]);
    assert.equal(ra.status, 0, ra.stderr);
    assert.equal(rb.status, 0, rb.stderr);
    const files = [
      ...readdirSync(outA).map((f) => join(outA, f)),
      ...readdirSync(outB).map((f) => join(outB, f)),
    ].filter((f) => f.endsWith(".crt"));
    assert.equal(files.length, 600);
    const serials = new Set(
      files.map((f) => new X509Certificate(readFileSync(f)).serialNumber.toLowerCase()),
    );
    assert.equal(serials.size, 600);
    // Every one chains to the root (OpenSSL, one run over all 600 files).
    const v = tool("openssl", ["verify", "-CAfile", p.root, "-untrusted", p.system, ...files]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(
      v.stdout
        .trim()
        .split("\n")
        .filter((l) => l.endsWith(": OK")).length,
      600,
    );
    assert.equal(
      psqlQuerySync(
        "SELECT count(*) FROM certificates WHERE common_name LIKE '%.batch.genfic.internal'",
        p.db,
      )[0],
      "600",
    );
    for (const home of [p.a, p.b]) {
      const a = cli(p, home, ["audit", "verify"]);
      assert.match(a.stdout, /audit chain OK/, a.stdout + a.stderr);
    }
  });

  it("each instance renews its own admin TLS certificate, whichever holds the signing jobs", async () => {
    /** The serial of the certificate the admin TLS listener presents now. */
    const presented = (s: Served): string => {
      const hostPort = s.admin.find((a) => a.startsWith("https://"))!.slice("https://".length);
      const r = tool("openssl", ["s_client", "-connect", hostPort, "-servername", "localhost"], {
        input: "",
      });
      const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(r.stdout);
      assert.ok(pem, r.stdout + r.stderr);
      return new X509Certificate(pem[0]).serialNumber;
    };
    for (const [home, s] of [
      [main.a, served.a!],
      [main.b, served.b!],
    ] as const) {
      const cert = join(home, "tls", "admin.crt.pem");
      const old = new X509Certificate(readFileSync(cert)).serialNumber;
      assert.equal(presented(s), old);
      // Its certificate gone (as if it had expired): this instance issues itself a new one at
      // its next job run and presents it, whether or not it holds the signing jobs' lease.
      rmSync(cert);
      const renewed = await until("a new admin TLS certificate", 15_000, () =>
        existsSync(cert) ? new X509Certificate(readFileSync(cert)).serialNumber : undefined,
      );
      assert.notEqual(renewed, old);
      await until("the listener to present it", 5_000, () => (presented(s) === renewed ? true : undefined));
    }
  });

  it("killing the instance that holds the signing jobs: the other takes them over and keeps answers refreshed", async () => {
    const p = main;
    interface Status {
      instances: Array<{ name: string; address: string; stale: boolean; jobs: string[] }>;
      leases: Array<{ job: string; instance: string | null; expired: boolean }>;
    }
    const status = (home: string): Status =>
      JSON.parse(
        sigilOk(home, ["status", "--json"], { env: { ...env(p), SIGIL_TOKEN: token } }).stdout,
      ) as Status;
    const st = await until("both instances listed", 15_000, () => {
      const x = status(p.a);
      return x.instances.filter((i) => !i.stale).length === 2 ? x : undefined;
    });
    const holder = st.leases.find((l) => l.job === "serve.jobs" && !l.expired)?.instance;
    const dead = st.instances.find((i) => i.name === holder);
    assert.ok(dead, JSON.stringify(st));
    const deadIsA = dead.address === served.a!.url;
    assert.ok(deadIsA || dead.address === served.b!.url, JSON.stringify(st));
    const [deadServed, survivor, deadHome, survivorHome] = deadIsA
      ? [served.a!, served.b!, p.a, p.b]
      : [served.b!, served.a!, p.b, p.a];
    const survivorName = st.instances.find((i) => i.address === survivor.url)!.name;

    deadServed.proc.kill("SIGKILL");
    await stop(deadServed);
    await until("the survivor to hold the signing jobs", 20_000, () => {
      const l = status(survivorHome).leases.find((y) => y.job === "serve.jobs");
      return l?.instance === survivorName && !l.expired ? true : undefined;
    });
    // A certificate issued through the dead instance's home (its service is gone: the CLI
    // signs locally and leaves the answer unsigned and due): the survivor's refresh job signs
    // it without being asked, and answers it.
    const crt = await issue(p, deadHome, "after-kill.genfic.internal");
    const serial = normSerial(new X509Certificate(readFileSync(crt)).serialNumber);
    const signed = () =>
      psqlQuerySync(
        `SELECT r.der IS NOT NULL FROM ocsp_responses r JOIN certificates c ON c.id = r.cert_id WHERE c.serial_hex = '${serial}'`,
        p.db,
      )[0];
    await until("the survivor's refresh job to sign the new answer", 15_000, () =>
      signed() === "t" ? true : undefined,
    );
    const x = ocsp(p, survivor, crt);
    assert.match(x.stdout, /: good\b/, x.stdout + x.stderr);
    assert.match(x.stderr, /Response verify OK/);
    const metrics = await (await fetch(`${survivor.url}/metrics`)).text();
    assert.match(metrics, /^sigil_job_lease_held\{job="serve\.jobs"\} 1$/m);
    if (deadIsA) served.a = undefined;
    else served.b = undefined;
  });

  it("a third instance joined from the database URL and the CA exports serves with one command, from a new empty folder", async () => {
    const p = main;
    const exports: string[] = [];
    for (const ca of ["genfic", "genfic-system"]) {
      const out = join(dir, "admin-media", ca);
      cli(p, p.a, ["ca", "export", ca, "--out", out]);
      exports.push("--ca-export", out);
    }
    // A new machine: an empty folder, the home to be made in it.
    const homeC = join(dir, "machine-c", "sigil-data");
    mkdirSync(dirname(homeC));
    assert.equal(existsSync(homeC), false);
    // Nothing but the database URL and what the security admin carries; no SIGIL_DATABASE_URL.
    const c = await startServe(homeC, ["--workers", "1"], { SIGIL_DATABASE_URL: undefined }, [
      process.execPath,
      BIN,
      "instance",
      "join",
      "--home",
      homeC,
      "--database-url",
      p.url,
      "--name",
      "gamma",
      ...exports,
      "--token-key",
      join(p.a, "keys", "token-hmac.key"),
      "--audit-key",
      join(p.a, "audit", "audit-key.pem"),
      "--serve",
    ]);
    running.push(c);
    assert.match(c.stderr(), /joined instance gamma: wrote /);
    assert.doesNotMatch(c.stderr(), /sealed: pre-signed answers only|not here/);
    for (const crt of [certs.a!, certs.b!]) {
      const x = ocsp(p, c, crt);
      assert.match(x.stdout, /: revoked\b/, x.stdout + x.stderr);
      assert.match(x.stderr, /Response verify OK/);
    }
    const u = ocsp(p, c, "0x5e7e00ff");
    assert.match(u.stdout, /: unknown\b/);
    assert.match(u.stderr, /Response verify OK/);
    // The new home is complete: `sigil status` there (token made in A) lists gamma, unsealed.
    const st = JSON.parse(
      sigilOk(homeC, ["status", "--json"], { env: { SIGIL_DATABASE_URL: undefined, SIGIL_TOKEN: token } })
        .stdout,
    ) as { instances: Array<{ name: string; sealed: boolean; stale: boolean }> };
    assert.ok(
      st.instances.some((i) => i.name === "gamma" && !i.sealed && !i.stale),
      JSON.stringify(st),
    );
    assert.match(
      sigilOk(homeC, ["audit", "verify"], { env: { SIGIL_DATABASE_URL: undefined } }).stdout,
      /audit chain OK/,
    );
    // It stops as `sigil serve` does, and `sigil serve --home` starts it again from its home.
    running.splice(running.indexOf(c), 1);
    assert.equal(await c.stop(), 0, c.stderr());
    const again = await start(p, homeC);
    assert.match(ocsp(p, again, certs.a!).stdout, /: revoked\b/);
  });
});
