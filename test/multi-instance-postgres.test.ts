/**
 * Several Sigil instances on one PostgreSQL database (issue 7): two `sigil serve` processes
 * and concurrent CLI processes share a home whose data is in PostgreSQL. A revocation made
 * by one is answered by the others' OCSP responders and CRLs within 2 seconds (LISTEN/NOTIFY);
 * concurrent issuance and CRL publication give distinct serials, distinct increasing CRL
 * numbers, and an audit chain that verifies.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  initHome,
  issueCert,
  sigilAsync,
  sigilOk,
  tempDir,
  tool,
  usePostgresHomes,
  write,
} from "./helpers.js";
import { ocspQuery, startServe, type Served } from "./serve-helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

describe("several instances on one PostgreSQL database", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const dir = t.dir;
  const served: Served[] = [];
  let root: string;
  let system: string;

  before(async () => {
    await testCluster();
    usePostgresHomes();
    initHome(home);
    root = write(dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    served.push(await startServe(home, ["--workers", "1"]), await startServe(home, ["--workers", "2"]));
  });
  after(async () => {
    for (const s of served) await s.stop();
    await dropTestDatabases();
    t.cleanup();
  });

  const ocsp = (s: Served, cert: string) => ocspQuery(s, system, root, cert);

  it("two instances of one home record themselves under distinct names", async () => {
    const { openHomeStore } = await import("../src/app/open.js");
    const store = await openHomeStore(home);
    try {
      const names = (await store.instances()).map((i) => i.name).sort();
      assert.equal(names.length, 2, names.join(","));
      // The default name (host and home) for the first, with a suffix for the second.
      assert.equal(names[1], `${names[0]}-2`);
    } finally {
      await store.close();
    }
    assert.match(served[1]!.stdout(), /is taken by a live instance .*give each its own serve\.instanceName/);
  });

  it("a revocation by another process is answered by every instance's OCSP and CRL within 2 s", async () => {
    const victim = issueCert(home, dir, "victim.genfic.internal");
    for (const s of served) assert.match(ocsp(s, victim).stdout, /: good\b/);
    const serial = tool("openssl", ["x509", "-in", victim, "-noout", "-serial"])
      .stdout.trim()
      .replace(/^serial=/, "");
    sigilOk(home, ["revoke", "--cert", victim, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    const deadline = Date.now() + 2000;
    for (const [i, s] of served.entries()) {
      let answer = ocsp(s, victim);
      while (!/: revoked\b/.test(answer.stdout) && Date.now() < deadline) {
        await sleep(50);
        answer = ocsp(s, victim);
      }
      assert.match(answer.stdout, /: revoked\b/, `instance ${i}: ${answer.stdout}${answer.stderr}`);
      assert.match(answer.stdout, /Reason: keyCompromise/);
      assert.match(answer.stderr, /Response verify OK/);
      const crlFile = join(dir, `served-${i}.crl`);
      let listed = false;
      while (!listed) {
        const c = tool("curl", ["-sS", "-f", "-o", crlFile, `${s.url}/crl/genfic-system.crl`]);
        assert.equal(c.status, 0, c.stderr);
        const text = tool("openssl", ["crl", "-inform", "DER", "-in", crlFile, "-noout", "-text"]).stdout;
        listed = text.includes(`Serial Number: ${serial}`);
        if (listed || Date.now() >= deadline) break;
        await sleep(50);
      }
      assert.ok(listed, `instance ${i} serves a CRL listing ${serial}`);
    }
  });

  it("concurrent issuance and CRL publication from several processes: distinct serials and CRL numbers, a sound chain", async () => {
    const reqs = (tag: string) =>
      Array.from({ length: 8 }, (_, i) => {
        const cn = `${tag}${i}.genfic.internal`;
        sigilOk(home, ["request", "create", join(dir, cn), "--subject", `/CN=${cn}`, "--no-encrypt"]);
        return join(dir, `${cn}.req`);
      });
    const a = reqs("a");
    const b = reqs("b");
    const runs = await Promise.all([
      sigilAsync(home, ["sign", ...a, "--ca", "genfic-system", "--out-dir", join(dir, "out-a")]),
      sigilAsync(home, ["sign", ...b, "--ca", "genfic-system", "--out-dir", join(dir, "out-b")]),
      sigilAsync(home, ["crl", "--ca", "genfic-system"]),
      sigilAsync(home, ["crl", "--ca", "genfic-system"]),
      sigilAsync(home, ["crl", "--ca", "genfic-system"]),
    ]);
    for (const r of runs) assert.equal(r.status, 0, r.stderr);
    const serials = [
      ...a.map((r) => join(dir, "out-a", `${basename(r, ".req")}.crt`)),
      ...b.map((r) => join(dir, "out-b", `${basename(r, ".req")}.crt`)),
    ].map((crt) => tool("openssl", ["x509", "-in", crt, "-noout", "-serial"]).stdout.trim());
    assert.equal(new Set(serials).size, 16);
    const log = sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; target: string; details: { crlNumber?: number } });
    const numbers = log
      .filter((e) => e.action === "crl.publish" && e.target === "genfic-system")
      .map((e) => e.details.crlNumber!);
    // Each publication took its own number (RFC 5280 §5.2.3: never reused), and the CRL kept
    // and served is the newest one.
    assert.ok(numbers.length >= 5, numbers.join(","));
    assert.equal(new Set(numbers).size, numbers.length, `distinct CRL numbers: ${numbers.join(",")}`);
    const crlFile = join(dir, "latest.crl");
    assert.equal(
      tool("curl", ["-sS", "-f", "-o", crlFile, `${served[1]!.url}/crl/genfic-system.crl`]).status,
      0,
    );
    const text = tool("openssl", ["crl", "-inform", "DER", "-in", crlFile, "-noout", "-crlnumber"]).stdout;
    assert.equal(Number.parseInt(text.trim().replace(/^crlNumber=(0x)?/, ""), 16), Math.max(...numbers));
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /audit chain OK/);
  });
});
