/**
 * Failover you can see (issue 18): two `sigil serve` instances on one PostgreSQL database,
 * each from its own home (B a copy of A made after A's first start), with one-second job
 * intervals. `sigil status` lists both with the jobs each holds; `/metrics` says which
 * instance holds the signing jobs' lease. Killing that instance (SIGKILL: no clean stop)
 * moves the lease to the other within seconds, `sigil status` shows the dead one stale and
 * the survivor holding the jobs, and the survivor keeps refreshing and answering OCSP: a
 * revocation made through its admin API after the kill is answered as revoked.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { InstanceView, LeaseView } from "../src/authority/instances.js";
import {
  createAdminToken,
  initHome,
  issueCert,
  sigilOk,
  tempDir,
  until,
  usePostgresHomes,
  write,
} from "./helpers.js";
import { ocspQuery, startServe, type Served } from "./serve-helpers.js";
import { dropTestDatabases, testCluster } from "./postgres.js";

interface Status {
  sealed: boolean;
  instances: InstanceView[];
  leases: LeaseView[];
}

/** Sets `serve` options in a home's sigil.json. */
function setServe(home: string, serve: Record<string, unknown>): void {
  const file = join(home, "sigil.json");
  const cfg = JSON.parse(readFileSync(file, "utf8")) as { serve?: Record<string, unknown> };
  writeFileSync(file, JSON.stringify({ ...cfg, serve: { ...cfg.serve, ...serve } }, null, 2));
}

/** The value of a metric line `name{labels} value` in a /metrics text, if present. */
function metric(text: string, line: string): number | undefined {
  const m = new RegExp(`^${line.replace(/[{}"().+]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

async function metricsOf(s: Served): Promise<string> {
  const r = await fetch(`${s.url}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

describe("failover you can see: instances and job leases on one PostgreSQL database", () => {
  const t = tempDir();
  const homes = { alpha: join(t.dir, "home-a"), beta: join(t.dir, "home-b") };
  const served = new Map<string, Served>();
  let root: string;
  let system: string;
  let token: string;

  const status = (home: string): Status =>
    JSON.parse(sigilOk(home, ["status", "--json"], { env: { SIGIL_TOKEN: token } }).stdout) as Status;

  before(async () => {
    await testCluster();
    usePostgresHomes();
    initHome(homes.alpha);
    setServe(homes.alpha, { jobIntervalSeconds: 1, instanceName: "alpha" });
    root = write(t.dir, "root.pem", sigilOk(homes.alpha, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(
      t.dir,
      "system.pem",
      sigilOk(homes.alpha, ["ca", "show", "genfic-system", "--pem"]).stdout,
    );
    token = createAdminToken(homes.alpha, "operator", "ops");
    served.set("alpha", await startServe(homes.alpha, ["--workers", "1"]));
    // A's first start made the keys the service makes for itself (OCSP responders): B is
    // a copy of A from then on, sharing nothing with it but the database.
    await until("alpha to hold the signing jobs", 20_000, async () => {
      const st = status(homes.alpha);
      return st.leases.some((l) => l.job === "serve.jobs" && l.instance === "alpha") ? true : undefined;
    });
    cpSync(homes.alpha, homes.beta, {
      recursive: true,
      filter: (src) => !lstatSync(src).isSocket() && !relative(homes.alpha, src).startsWith("run"),
    });
    setServe(homes.beta, { instanceName: "beta" });
    served.set("beta", await startServe(homes.beta, ["--workers", "1"]));
  });
  after(async () => {
    for (const s of served.values()) await s.stop();
    await dropTestDatabases();
    t.cleanup();
  });

  const ocsp = (s: Served, cert: string) => ocspQuery(s, system, root, cert);

  it("status lists both instances and who holds each lease; /metrics agrees; a kill -9 moves the jobs", async () => {
    // Both instances seen, live, unsealed; the signing jobs on exactly one of them.
    const st = await until("both instances in status", 20_000, async () => {
      const s = status(homes.beta);
      const names = s.instances.filter((i) => !i.stale).map((i) => i.name);
      return names.includes("alpha") && names.includes("beta") ? s : undefined;
    });
    for (const i of st.instances) {
      assert.equal(i.sealed, false, i.name);
      assert.equal(i.address, served.get(i.name)!.url);
    }
    const holders = st.instances.filter((i) => i.jobs.includes("serve.jobs")).map((i) => i.name);
    assert.equal(holders.length, 1, JSON.stringify(st));
    const dead = holders[0]!;
    const survivor = dead === "alpha" ? "beta" : "alpha";
    const lease = st.leases.find((l) => l.job === "serve.jobs")!;
    assert.equal(lease.instance, dead);
    assert.equal(lease.expired, false);
    const text = sigilOk(homes.beta, ["status"], { env: { SIGIL_TOKEN: token } }).stdout;
    assert.match(text, /^unsealed\n/);
    assert.match(text, /^instances:\n/m);
    assert.match(
      text,
      new RegExp(
        `^  ${dead}\\s+unsealed\\s+http://127\\.0\\.0\\.1:\\d+ seen \\S+ jobs \\S*serve\\.jobs`,
        "m",
      ),
    );
    assert.match(text, new RegExp(`^  ${survivor}\\s+unsealed\\s+http://`, "m"));
    assert.match(text, new RegExp(`^leases:\\n(?:.*\\n)*  serve\\.jobs\\s+${dead} until `, "m"));
    assert.equal(metric(await metricsOf(served.get(dead)!), 'sigil_job_lease_held{job="serve.jobs"}'), 1);
    assert.equal(metric(await metricsOf(served.get(survivor)!), 'sigil_job_lease_held{job="serve.jobs"}'), 0);

    // A certificate issued through the survivor's home, good on both before the kill.
    const s = served.get(survivor)!;
    const home = homes[survivor];
    const cert = issueCert(home, t.dir, "failover.genfic.internal");
    for (const x of served.values()) assert.match(ocsp(x, cert).stdout, /: good\b/);

    // The holder dies without a word: its lease is taken over once expired (three
    // intervals, at least 3 s: daemon/leases.ts), at the survivor's next run.
    const killedAt = Date.now();
    served.get(dead)!.proc.kill("SIGKILL");
    await served.get(dead)!.stop();
    served.delete(dead);
    const after = await until("the survivor to hold the signing jobs", 20_000, async () => {
      const x = status(home);
      const l = x.leases.find((y) => y.job === "serve.jobs");
      return l?.instance === survivor && !l.expired ? x : undefined;
    });
    const tookOver = Date.now() - killedAt;
    assert.ok(after.instances.find((i) => i.name === survivor)!.jobs.includes("serve.jobs"));
    assert.equal(metric(await metricsOf(s), 'sigil_job_lease_held{job="serve.jobs"}'), 1);
    // The dead one stays listed, stale once three heartbeats (1 s each here) are missed.
    const gone = await until("the dead instance to be stale", 20_000, async () => {
      const i = status(home).instances.find((y) => y.name === dead);
      return i?.stale ? i : undefined;
    });
    // (Its other leases, of jobs that run every few minutes or hours, expire in their own time.)
    assert.ok(!gone.jobs.includes("serve.jobs"), gone.jobs.join(","));
    assert.match(
      sigilOk(home, ["status"], { env: { SIGIL_TOKEN: token } }).stdout,
      new RegExp(`^  ${dead}\\s+stale\\s`, "m"),
    );

    // The survivor runs the signing jobs now: its answer refresh runs (again and again)...
    const runs = async () =>
      metric(await metricsOf(s), 'sigil_job_runs_total{job="ocsp-refresh",result="ok"}') ?? 0;
    const r0 = await runs();
    await until("the survivor's OCSP refresh to run", 10_000, async () =>
      (await runs()) > r0 ? true : undefined,
    );
    // ...and a revocation through its admin API is answered as revoked by its OCSP.
    const rv = await fetch(`${s.url}/api/v1/admin/certs/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        cert: readFileSync(cert, "utf8"),
        ca: "genfic-system",
        reason: "keyCompromise",
      }),
    });
    assert.equal(rv.status, 200, await rv.text());
    const answer = await until("the survivor's OCSP to say revoked", 5_000, async () => {
      const a = ocsp(s, cert);
      return /: revoked\b/.test(a.stdout) ? a : undefined;
    });
    assert.match(answer.stdout, /Reason: keyCompromise/);
    assert.match(answer.stderr, /Response verify OK/);
    console.log(`# the signing jobs moved ${tookOver} ms after the kill`);

    // A clean stop removes the instance's row and gives its leases up; the killed one's
    // row stays (stale) for the operator to see.
    assert.equal(await s.stop(), 0);
    served.delete(survivor);
    const { openHomeStore } = await import("../src/app/open.js");
    const store = await openHomeStore(home);
    try {
      assert.deepEqual(
        (await store.instances()).map((i) => i.name),
        [dead],
      );
      const mine = after.leases.find((l) => l.job === "serve.jobs")!.holder;
      assert.deepEqual(
        (await store.jobLeases()).filter((l) => l.holder === mine),
        [],
        "every lease of the stopped instance released",
      );
    } finally {
      await store.close();
    }
  });
});
