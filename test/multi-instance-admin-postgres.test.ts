/**
 * Two `sigil serve` instances on one PostgreSQL database issue 5,000 certificates each, at
 * the same time, through their admin APIs, while both publish CRLs: 10,000 distinct
 * serials, every CRL number taken once (each instance sees its own increase strictly),
 * the stored CRL is the newest, and `sigil audit verify` passes. No in-process lock can
 * help here: the database's locks (advisory lock for the audit chain, an atomic UPDATE for
 * CRL numbers, UNIQUE serials) do.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { initHome, sigilOk, tempDir, tool, usePostgresHomes, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";
import { buildCsr } from "../src/x509/csr-build.js";
import { NodeSigner } from "../src/keys/node-signer.js";
import { toPem } from "../src/x509/der.js";

const PER_INSTANCE = 5000;
const IN_FLIGHT = 12;

/** P-256 CSRs for CNs `prefix0...`, one key for all (the CA does not care), built in-process one after another. */
async function csrPems(prefix: string, n: number): Promise<string[]> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const der = await buildCsr({
      subject: [{ oid: "2.5.4.3", name: "CN", value: `${prefix}${i}.genfic.internal` }],
      sans: [],
      spki: signer.spki,
      signer,
    });
    out.push(toPem(der, "CERTIFICATE REQUEST"));
  }
  return out;
}

describe("two instances on one PostgreSQL issue 10,000 certificates through their admin APIs", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const served: Served[] = [];
  let token: string;

  before(async () => {
    await testCluster();
    usePostgresHomes();
    initHome(home);
    token = sigilOk(home, ["admin", "token", "create", "--role", "operator", "--name", "bulk"]).stdout.trim();
    served.push(await startServe(home, ["--workers", "1"]), await startServe(home, ["--workers", "1"]));
  });
  after(async () => {
    for (const s of served) await s.stop();
    await dropTestDatabases();
    t.cleanup();
  });

  it("gives distinct serials, CRL numbers taken once, and a sound audit chain", async () => {
    const post = async (s: Served, path: string, body: unknown) => {
      const r = await fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const json = (await r.json()) as Record<string, unknown>;
      assert.equal(r.status, 200, JSON.stringify(json));
      return json;
    };
    const csrs = await csrPems("bulk", 2 * PER_INSTANCE);
    const serials: string[] = [];
    const crlNumbers: number[][] = [[], []];
    const run = async (idx: number) => {
      const s = served[idx]!;
      let next = idx * PER_INSTANCE;
      const end = next + PER_INSTANCE;
      let done = 0;
      const worker = async () => {
        while (next < end) {
          const i = next++;
          const r = await post(s, "/api/v1/admin/certs/sign", { csr: csrs[i], ca: "genfic-system" });
          serials.push(String(r.serial));
          // Now and then a CRL, from both instances at once.
          if (++done % 500 === 0) {
            const c = await post(s, "/api/v1/admin/crl/genfic-system", {});
            crlNumbers[idx]!.push(Number(c.crlNumber));
          }
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    };
    await Promise.all([run(0), run(1)]);

    assert.equal(serials.length, 2 * PER_INSTANCE);
    assert.equal(new Set(serials).size, 2 * PER_INSTANCE, "10,000 distinct serials");
    for (const mine of crlNumbers) {
      assert.ok(mine.length >= 9, `each instance published CRLs: ${mine.join(",")}`);
      for (let i = 1; i < mine.length; i++)
        assert.ok(mine[i]! > mine[i - 1]!, `strictly increasing: ${mine}`);
    }
    const all = [...crlNumbers[0]!, ...crlNumbers[1]!];
    assert.equal(new Set(all).size, all.length, "no CRL number taken twice");
    const listed = JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-system", "--json"]).stdout) as Array<{
      serial: string;
      profile: string;
    }>;
    const issued = new Set(listed.filter((c) => c.profile === "system").map((c) => c.serial));
    for (const s of serials) assert.ok(issued.has(s), `serial ${s} is in the store`);
    // The stored (served) CRL is the newest one published.
    const crl = await fetch(`${served[0]!.url}/crl/genfic-system.crl`);
    const der = Buffer.from(await crl.arrayBuffer());
    const text = tool("openssl", [
      "crl",
      "-inform",
      "DER",
      "-in",
      write(t.dir, "last.crl", der),
      "-noout",
      "-crlnumber",
    ]);
    const published = sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; target: string; details: { crlNumber?: number } })
      .filter((e) => e.action === "crl.publish" && e.target === "genfic-system")
      .map((e) => e.details.crlNumber!);
    assert.equal(new Set(published).size, published.length, "every CRL number in the log once");
    assert.equal(parseInt(text.stdout.trim().replace(/^crlNumber=(0x)?/, ""), 16), Math.max(...published));
    const v = sigilOk(home, ["audit", "verify"]);
    assert.match(v.stdout, /audit chain OK/);
  });
});
