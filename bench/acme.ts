/**
 * bench/acme: full ACME orders (RFC 8555) per second against a real `sigil serve` on
 * 127.0.0.1 (SQLite store, default workers), for C concurrent clients, each one a new
 * client: directory, new account key, newAccount, newOrder for a unique name under
 * *.genfic.internal, authorization, http-01 answered by one shared in-bench responder,
 * challenge POST, authorization and order polled, finalize with a CSR made in-process,
 * order polled until valid, certificate chain downloaded. Compared in the same run with
 * the handbook's way to a certificate, `openssl ca -batch` once per request.
 *
 *   bench/acme [--orders N] [--concurrency C] [--warmup W] [--openssl N] [--quick] [--out FILE]
 *
 * Never asserts timings. Every failed order is counted and reported, never retried away.
 */
import { generateKeyPair } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import Database from "better-sqlite3";
import { RawAcme, newKey, type Answer } from "../test/acme-client.js";
import { startDnsServer } from "../test/dns-server.js";
import { NodeSigner } from "../src/keys/node-signer.js";
import { buildCsr } from "../src/x509/csr-build.js";
import { toPem } from "../src/x509/der.js";
import { parseDn } from "../src/x509/dn.js";
import * as F from "./lib/format.js";
import { machineInfo } from "./lib/machine.js";
import { makeOpensslCaDir, makeOpensslCaKey, opensslVersion } from "./lib/openssl.js";
import { treeCpu } from "./lib/cpu.js";
import { run, summarize, timeProcesses } from "./lib/proc.js";
import { installCleanup, spawnServer, stopServer, waitUntil, type Server } from "./lib/servers.js";
import { writeSection } from "./lib/sections.js";
import { BENCH_PASSPHRASE, dbPath, makeCsrs } from "./lib/sigil.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SIGIL_BIN = join(ROOT, "bin", "sigil.js");
const CA = "genfic-system";
/** Vault's published ACME load-test figure (quoted from issue 8; not re-run here). */
const VAULT_ORDERS_PER_SEC = 48;

const { values: opt } = parseArgs({
  options: {
    orders: { type: "string" },
    concurrency: { type: "string" },
    warmup: { type: "string" },
    openssl: { type: "string" },
    "verify-sample": { type: "string" },
    "poll-ms": { type: "string" },
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(`usage: bench/acme [options]
  --orders N         timed full orders (default 1000; --quick 200)
  --concurrency C    clients at once (default 100)
  --warmup W         untimed orders first (default 100; --quick 30)
  --openssl N        'openssl ca -batch' processes, one request each (default 200; --quick 50)
  --verify-sample K  issued chains checked with 'openssl verify' (default 50)
  --poll-ms MS       wait between polls of an authorization or order (default 250)
  --quick            small smoke run; writes bench/out/BENCHMARKS.quick.md
  --out FILE         where to write the report (default BENCHMARKS.md)
  --keep             keep the temporary folder
  --tmp DIR          parent of the temporary folder (default the OS temp dir)
`);
  process.exit(0);
}

function positiveInt(s: string | undefined, dflt: number, what: string): number {
  if (s === undefined) return dflt;
  const n = Number(s.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: not a positive integer: ${s}`);
  return n;
}

const plan = {
  orders: positiveInt(opt.orders, opt.quick ? 200 : 1000, "--orders"),
  concurrency: positiveInt(opt.concurrency, 100, "--concurrency"),
  warmup: positiveInt(opt.warmup, opt.quick ? 30 : 100, "--warmup"),
  openssl: positiveInt(opt.openssl, opt.quick ? 50 : 200, "--openssl"),
  verifySample: positiveInt(opt["verify-sample"], 50, "--verify-sample"),
  pollMs: positiveInt(opt["poll-ms"], 250, "--poll-ms"),
};
const outFile = resolve(
  opt.out ?? (opt.quick ? join(ROOT, "bench", "out", "BENCHMARKS.quick.md") : "BENCHMARKS.md"),
);
const command = ["bench/acme", ...process.argv.slice(2)].join(" ");

const started = Date.now();
const loadStart = loadavg();
function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${msg}\n`);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const genKeyPair = promisify(generateKeyPair);

installCleanup();
const tmp = mkdtempSync(join(opt.tmp ? resolve(opt.tmp) : tmpdir(), "sigil-bench-acme-"));
log(`working in ${tmp}`);
const home = join(tmp, "home");
const env = { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: BENCH_PASSPHRASE };
const sigil = (args: string[]) => run(process.execPath, [SIGIL_BIN, ...args], { env });

// ------------------------------------------------------------------------------------
// The http-01 responder (RFC 8555 §8.3): every client's key authorizations, one server.
// ------------------------------------------------------------------------------------

const tokens = new Map<string, string>();
const web: HttpServer = createServer((req, res) => {
  const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "");
  const body = m ? tokens.get(m[1]!) : undefined;
  res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain" }).end(body ?? "no");
});
await new Promise<void>((r) => web.listen(0, "127.0.0.1", r));
const http01Port = (web.address() as { port: number }).port;
const dns = await startDnsServer();

// ------------------------------------------------------------------------------------
// The Sigil home and `sigil serve`
// ------------------------------------------------------------------------------------

log("sigil init; sigil acme enable genfic-system --allow '*.genfic.internal'");
sigil(["init"]);
const cfgFile = join(home, "sigil.json");
const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
writeFileSync(cfgFile, JSON.stringify({ ...cfg, acme: { http01Port, dnsServer: dns.address } }, null, 2));
sigil(["acme", "enable", CA, "--allow", "*.genfic.internal"]);
const rootPem = join(tmp, "root.pem");
writeFileSync(rootPem, sigil(["ca", "show", "genfic", "--pem"]).stdout);
const issuingPem = join(tmp, "issuing.pem");
writeFileSync(issuingPem, sigil(["ca", "show", CA, "--pem"]).stdout);
const caKeyAlg =
  /Public Key Algorithm: (\S+)[\s\S]*?(?:ASN1 OID: (\S+)|Public-Key: \((\d+) bit\))/
    .exec(run("openssl", ["x509", "-in", issuingPem, "-noout", "-text"]).stdout)
    ?.slice(1)
    .filter(Boolean)
    .join(" ") ?? "unknown";

let serve: Server | undefined;
async function startSigil(): Promise<{ url: string; workers: string }> {
  serve = spawnServer(
    "sigil serve",
    process.execPath,
    [SIGIL_BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "off"],
    { env, cwd: tmp },
  );
  const t0 = Date.now();
  await waitUntil(serve, "its banner", () => /listening on http:\/\/\S+/.test(serve!.output()), 60_000);
  serve.readyMs = Date.now() - t0;
  const m = /listening on (http:\/\/[^\s]+) \((\d+) workers?/.exec(serve.output())!;
  return { url: m[1]!, workers: m[2]! };
}

log("starting sigil serve (default workers)");
const { url: baseUrl, workers } = await startSigil();
const dirUrl = `${baseUrl}/acme/${CA}/directory`;
log(`  ${baseUrl}, ${workers} worker(s), ready in ${serve!.readyMs} ms`);

// ------------------------------------------------------------------------------------
// One full order
// ------------------------------------------------------------------------------------

const runId = Date.now().toString(36);
let polls = 0;
let requests = 0;

function expect(a: Answer, status: number, what: string): void {
  if (a.status !== status)
    throw new Error(`${what}: HTTP ${a.status} ${a.text.replace(/\s+/g, " ").slice(0, 300)}`);
}

async function poll(c: RawAcme, url: string, done: (a: Answer) => boolean, what: string): Promise<Answer> {
  const until = Date.now() + 120_000;
  for (;;) {
    await sleep(plan.pollMs);
    polls++;
    requests++;
    const a = await c.post(url, undefined);
    expect(a, 200, what);
    if (done(a)) return a;
    if (Date.now() > until) throw new Error(`${what}: still ${a.body?.status} after 120 s`);
  }
}

/** Everything a client does for one certificate; returns the chain PEM. */
async function fullOrder(i: number, tag: string): Promise<string> {
  const name = `${tag}-${i}-${runId}.genfic.internal`;
  const c = await new RawAcme(dirUrl, newKey("ES256")).init();
  requests++;
  requests++;
  expect(await c.newAccount({ termsOfServiceAgreed: true }), 201, "newAccount");
  requests++;
  const o = await c.newOrder([{ type: "dns", value: name }]);
  expect(o, 201, "newOrder");
  const orderUrl = o.headers.get("location");
  if (!orderUrl) throw new Error("newOrder: no Location");
  for (const zUrl of o.body.authorizations as string[]) {
    requests++;
    const z = await c.post(zUrl, undefined);
    expect(z, 200, "authorization");
    const ch = (z.body.challenges as Array<{ type: string; url: string; token: string }>).find(
      (x) => x.type === "http-01",
    );
    if (!ch) throw new Error("authorization: no http-01 challenge");
    tokens.set(ch.token, c.keyAuthorization(ch.token));
    requests++;
    expect(await c.post(ch.url, {}), 200, "challenge");
    const done = await poll(c, zUrl, (a) => a.body.status !== "pending", "authorization poll");
    tokens.delete(ch.token);
    if (done.body.status !== "valid") throw new Error(`authorization ${done.body.status}: ${done.text}`);
  }
  const ready = await poll(c, orderUrl, (a) => a.body.status !== "pending", "order poll (ready)");
  if (ready.body.status !== "ready") throw new Error(`order ${ready.body.status}: ${ready.text}`);
  // The certificate key and request, made in-process (no openssl process per order).
  const kp = await genKeyPair("ec", { namedCurve: "prime256v1" });
  const signer = new NodeSigner(kp.privateKey);
  const csr = await buildCsr({
    subject: parseDn(`/CN=${name}`),
    sans: [{ type: "dns", value: name }],
    spki: signer.spki,
    signer,
  });
  requests++;
  let fin = await c.post(o.body.finalize as string, { csr: csr.toString("base64url") });
  expect(fin, 200, "finalize");
  if (fin.body.status !== "valid") {
    fin = await poll(c, orderUrl, (a) => a.body.status !== "processing", "order poll (valid)");
    if (fin.body.status !== "valid") throw new Error(`order ${fin.body.status}: ${fin.text}`);
  }
  requests++;
  const cert = await c.post(fin.body.certificate as string, undefined);
  expect(cert, 200, "certificate");
  if (!cert.text.includes("-----BEGIN CERTIFICATE-----")) throw new Error("certificate: no PEM");
  return cert.text;
}

interface RunResult {
  n: number;
  ok: number;
  errors: string[];
  ms: number;
  latencies: number[];
  pems: string[];
}

/** `n` orders with `concurrency` clients at once, each worker taking the next index. */
async function runOrders(n: number, concurrency: number, tag: string, keepPems: number): Promise<RunResult> {
  let next = 0;
  const res: RunResult = { n, ok: 0, errors: [], ms: 0, latencies: [], pems: [] };
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const s = performance.now();
      try {
        const pem = await fullOrder(i, tag);
        res.latencies.push(performance.now() - s);
        res.ok++;
        if (res.pems.length < keepPems) res.pems.push(pem);
      } catch (e) {
        res.errors.push((e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  res.ms = performance.now() - t0;
  return res;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------

/** Certificates of the ACME CA in the store (read-only; the server runs in WAL mode). */
function certCount(): number {
  const db = new Database(dbPath(home), { readonly: true });
  try {
    const ca = db.prepare("SELECT id FROM cas WHERE name = ?").get(CA) as { id: number };
    return (db.prepare("SELECT count(*) AS n FROM certificates WHERE ca_id = ?").get(ca.id) as { n: number })
      .n;
  } finally {
    db.close();
  }
}
// `sigil serve` may issue certificates of its own at start (OCSP responder): not orders.
const certsBefore = certCount();

log(`warm-up: ${plan.warmup} orders, ${Math.min(plan.concurrency, plan.warmup)} at once (not timed)`);
const warm = await runOrders(plan.warmup, plan.concurrency, "warm", 0);
log(`  ${warm.ok} ok, ${warm.errors.length} failed in ${F.ms(warm.ms)}`);

log(`timed: ${plan.orders} orders, ${plan.concurrency} clients at once`);
polls = 0;
requests = 0;
const cpuServe0 = treeCpu(serve!.pid);
const cpuSelf0 = process.cpuUsage();
const main = await runOrders(plan.orders, plan.concurrency, "o", plan.verifySample);
const cpuServe = treeCpu(serve!.pid) - cpuServe0;
const cpuSelfU = process.cpuUsage(cpuSelf0);
const cpuSelf = (cpuSelfU.user + cpuSelfU.system) / 1e6;
const timedPolls = polls;
const timedRequests = requests;
const lat = [...main.latencies].sort((a, b) => a - b);
const ordersPerSec = (main.ok / main.ms) * 1000;
const latSummary = summarize(lat);
log(
  `  ${main.ok} ok, ${main.errors.length} failed in ${F.ms(main.ms)}: ${ordersPerSec.toFixed(1)} orders/s, ` +
    `p50 ${F.ms(percentile(lat, 50))}, p95 ${F.ms(percentile(lat, 95))}`,
);
const errorKinds = new Map<string, number>();
for (const e of [...warm.errors, ...main.errors]) {
  const k = e.slice(0, 200);
  errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
}
for (const [k, n] of errorKinds) log(`  error ×${n}: ${k}`);

// Chains checked by openssl against the root.
log(`openssl verify of ${main.pems.length} issued chains`);
let verified = 0;
const verifyFailures: string[] = [];
main.pems.forEach((pem, i) => {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  const leaf = join(tmp, `leaf${i}.pem`);
  const chain = join(tmp, `chain${i}.pem`);
  writeFileSync(leaf, blocks[0] ?? "");
  writeFileSync(chain, blocks.slice(1).join("\n"));
  const r = run(
    "openssl",
    ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", rootPem, "-untrusted", chain, leaf],
    { check: false },
  );
  if (r.status === 0 && blocks.length >= 2) verified++;
  else verifyFailures.push((r.stdout + r.stderr).trim().split("\n").slice(-1)[0] ?? "");
});
log(`  ${verified}/${main.pems.length} verify OK`);

log("stopping sigil serve");
await stopServer(serve!, "leader");
const serveExit = await serve!.exited;

// Certificates in the store: one more per successful order, warm-up included, nothing else.
const storedCerts = certCount() - certsBefore;
const expectedCerts = warm.ok + main.ok;
log(`certificates of ${CA} added to the store: ${storedCerts} (successful orders: ${expectedCerts})`);

// openssl ca -batch, one process per request (the handbook's way).
log(`openssl ca -batch, one process per request, ${plan.openssl} P-256 requests`);
const osslKey = makeOpensslCaKey(join(tmp, "openssl-key"), "p256");
const osslDir = makeOpensslCaDir(join(tmp, "openssl-ca"), osslKey);
const osslCsrs = await makeCsrs(plan.openssl, "p256", plan.openssl);
const osslFiles = osslCsrs.map((der, i) => {
  const f = join(tmp, `req${i}.pem`);
  writeFileSync(f, toPem(der, "CERTIFICATE REQUEST"));
  return f;
});
const ossl = timeProcesses(plan.openssl, (i) => ({
  cmd: "openssl",
  args: [
    "ca",
    "-config",
    osslDir.cnf,
    "-batch",
    "-notext",
    "-in",
    osslFiles[i]!,
    "-out",
    join(osslDir.dir, `c${i}.pem`),
  ],
}));
const osslPerSec = 1000 / ossl.meanMs;
log(`  mean ${F.ms(ossl.meanMs)} per certificate: ${osslPerSec.toFixed(1)}/s`);
const ratio = ordersPerSec / osslPerSec;
log(`ACME full orders/s ÷ openssl ca certificates/s = ${F.ratio(ratio)}`);

const loadEnd = loadavg();
const totalMs = Date.now() - started;
web.close();
await dns.close();
if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
else log(`kept ${tmp}`);

// ------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------

const m = machineInfo();
const errorsTotal = warm.errors.length + main.errors.length;
const errorList =
  errorKinds.size === 0
    ? "none"
    : [...errorKinds].map(([k, n]) => `${n} × \`${k.replace(/`/g, "'")}\``).join("; ");
const md = `## ACME full orders (\`bench/acme\`)

Command: \`${command}\` (${new Date(started).toISOString()}, ${F.ms(totalMs)} in all).
Machine: ${m.nproc} cores (${m.cpu}), ${m.memGb} GB, Node ${m.node}, ${opensslVersion()}; load average ${loadStart.map((x) => x.toFixed(2)).join(" ")} at the start, ${loadEnd.map((x) => x.toFixed(2)).join(" ")} at the end.

A real \`sigil serve\` on 127.0.0.1 (SQLite store, default workers: ${workers}), ACME enabled for \`${CA}\` (issuing key ${caKeyAlg}) with \`sigil acme enable\`, names resolved by the test DNS server (\`acme.dnsServer\`), http-01 answered by one responder in the benchmark process (\`acme.http01Port\`). Each order is a new client: directory, new ES256 account key, newAccount, newOrder for one unique name under \`*.genfic.internal\`, authorization, challenge POST, authorization polled until valid, order polled until ready, a P-256 key and CSR made in-process (node:crypto and \`src/x509/csr-build.ts\`, no process per order), finalize, order polled when not yet valid, certificate chain downloaded. Polls wait ${plan.pollMs} ms before each request. ${plan.warmup} untimed warm-up orders first. The clients run in the benchmark process, on the same 2 cores as the server.

| | |
| --- | --- |
| timed orders (${plan.concurrency} clients at once) | ${main.ok} ok, **${main.errors.length} failed** |
| wall time | ${F.ms(main.ms)} |
| **full orders per second** | **${ordersPerSec.toFixed(1)}/s** |
| latency of a full order, p50 / p95 / max | ${F.ms(percentile(lat, 50))} / ${F.ms(percentile(lat, 95))} / ${F.ms(latSummary.maxMs)} |
| HTTP requests: directory GET and signed POSTs, polls among them (plus one newNonce HEAD per client) | ${F.int(timedRequests)} (${F.int(timedPolls)}), ${(timedRequests / Math.max(1, main.ok)).toFixed(1)} per order |
| CPU: sigil serve (all processes) / benchmark clients | ${cpuServe.toFixed(1)} s / ${cpuSelf.toFixed(1)} s (${((cpuServe / main.ms) * 1000 * 100).toFixed(0)}% / ${((cpuSelf / main.ms) * 1000 * 100).toFixed(0)}% of one core) |
| errors, warm-up and timed | ${errorsTotal}: ${errorList} |
| \`openssl verify -x509_strict -purpose sslserver\` of sampled chains | ${verified} / ${main.pems.length} OK${verifyFailures.length ? ` (first failure: ${verifyFailures[0]})` : ""} |
| certificates of \`${CA}\` added to the store during the run | ${storedCerts} (successful orders, warm-up included: ${expectedCerts}) ${storedCerts === expectedCerts ? "— match" : "— **MISMATCH**"} |
| \`sigil serve\` exit status after SIGTERM | ${serveExit} |

What bounds it: ${plan.concurrency} clients ÷ mean order latency ${F.ms(latSummary.meanMs)} = ${((plan.concurrency / latSummary.meanMs) * 1000).toFixed(1)} orders/s (Little's law), and about ${F.ms((timedPolls / Math.max(1, main.ok)) * plan.pollMs)} of each order is poll waiting; the machine was ${(((cpuServe + cpuSelf) / (main.ms / 1000) / Number(m.nproc)) * 100).toFixed(0)}% busy with server and clients together. Shorter polls (\`--poll-ms\`) or more clients trade client politeness for throughput until the 2 cores are full. Every ACME request is passed by a worker to the primary process (it alone holds the keys and writes the store), so the primary is the part that does not scale with \`--workers\`.

**Against the handbook's way**, measured in the same run: \`openssl ca -batch -notext\` signing one P-256 request per process (the handbook's CA directory, empty index.txt), ${plan.openssl} requests one after the other: mean ${F.ms(ossl.meanMs)}, median ${F.ms(ossl.medianMs)} per certificate, **${osslPerSec.toFixed(1)} certificates/s**. ACME full orders/s ÷ \`openssl ca\` certificates/s = **${F.ratio(ratio)}**. The two do not do the same work: an ACME order is 8 or more signed HTTP requests, an account, a validation over HTTP and DNS, the request queue and an audited store write, where \`openssl ca\` only signs a request an operator already vetted.

**Reference, not re-run here:** Vault's published ACME load test did about ${VAULT_ORDERS_PER_SEC} orders/s (the figure quoted in issue 8), on other hardware with another client; it is quoted for scale only, not measured by this benchmark.
`;
writeSection(outFile, "acme", md);
log(`wrote section bench/acme of ${outFile}`);
process.stdout.write(
  `${ordersPerSec.toFixed(1)} orders/s, p50 ${F.ms(percentile(lat, 50))}, p95 ${F.ms(percentile(lat, 95))}, ` +
    `${errorsTotal} errors; openssl ca ${osslPerSec.toFixed(1)}/s; ratio ${F.ratio(ratio)}\n`,
);
if (errorsTotal > 0 || storedCerts !== expectedCerts || verified !== main.pems.length) process.exitCode = 1;
