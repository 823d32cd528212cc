/**
 * bench/issue: Sigil's issuance and CRL figures against `openssl ca` and the raw signing
 * limit of the same key, all measured in one run, printed and written to BENCHMARKS.md.
 *
 *   bench/issue [--quick] [--fill N] [--crl 100000,1000000] [--out FILE] [--keep] [--tmp DIR]
 *
 * Never asserts timings: it measures, compares each figure with its anchor from the same
 * run, and says whether each target of the issue is met.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_PBKDF2_ITERATIONS } from "../src/keys/pkcs8.js";
import { toPem } from "../src/x509/der.js";
import { countCrlEntries, pemToDer } from "./lib/der-count.js";
import * as F from "./lib/format.js";
import {
  ENCRYPTED_KEY_PASS,
  makeOpensslCaDir,
  makeOpensslCaKey,
  opensslSpeed,
  opensslVersion,
  writeIndex,
  type BenchKeyType,
  type OpensslCaKey,
  type SpeedResult,
} from "./lib/openssl.js";
import { HAVE_GNU_TIME, run, runMeasured, timeProcesses, type Timings } from "./lib/proc.js";
import { writeSection } from "./lib/sections.js";
import { installCleanup, spawnServer, stopServer, waitUntil } from "./lib/servers.js";
import { machineInfo } from "./lib/machine.js";
import {
  BENCH_PASSPHRASE,
  countCerts,
  createCas,
  makeCsrs,
  openHome,
  revokeInStore,
  type SigilHome,
} from "./lib/sigil.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SIGIL_BIN = join(ROOT, "bin", "sigil.js");
const KEY_TYPES: BenchKeyType[] = ["p256", "rsa2048"];

// ------------------------------------------------------------------------------------
// Options and plan
// ------------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    fill: { type: "string" },
    crl: { type: "string" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(`usage: bench/issue [options]
  --quick          small smoke run (about a minute); writes bench/out/BENCHMARKS.quick.md
  --fill N         certificates in the store (and lines in openssl's index.txt) for the
                   flatness measurement (default 1000000; --quick 3000)
  --crl A,B        revoked entries per CRL measurement (default 100000,1000000; at most --fill)
  --out FILE       where to write the report (default BENCHMARKS.md)
  --keep           keep the temporary folder (homes, CA dirs, CRLs)
  --tmp DIR        parent of the temporary folder (default the OS temp dir)
`);
  process.exit(0);
}

interface Plan {
  fill: number;
  p256Csrs: number;
  rsaCsrs: number;
  /** RSA key pairs signing the RSA requests in turn (> 64: no hits in Sigil's public-key cache). */
  rsaKeys: number;
  /** Certificates per in-process rate window (empty store, then full store). */
  window: number;
  rsaWindow: number;
  signOne: number;
  rsaSignOne: number;
  opensslPerProcess: number;
  opensslInfiles: number;
  bigIndexCerts: number;
  cliRuns: number;
  cliFullRuns: number;
  versionRuns: number;
  crlSizes: number[];
  speedSeconds: number;
  nodeSpeedMs: number;
}

function positiveInt(s: string, what: string): number {
  const n = Number(s.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: not a positive integer: ${s}`);
  return n;
}

const plan: Plan = opt.quick
  ? {
      fill: 3000,
      p256Csrs: 1000,
      rsaCsrs: 200,
      rsaKeys: 80,
      window: 500,
      rsaWindow: 200,
      signOne: 100,
      rsaSignOne: 50,
      opensslPerProcess: 5,
      opensslInfiles: 200,
      bigIndexCerts: 1,
      cliRuns: 3,
      cliFullRuns: 2,
      versionRuns: 5,
      crlSizes: [1000, 2500],
      speedSeconds: 1,
      nodeSpeedMs: 300,
    }
  : {
      fill: 1_000_000,
      p256Csrs: 20_000,
      rsaCsrs: 5_000,
      rsaKeys: 256,
      window: 10_000,
      rsaWindow: 5_000,
      signOne: 2_000,
      rsaSignOne: 500,
      opensslPerProcess: 50,
      opensslInfiles: 2_000,
      bigIndexCerts: 3,
      cliRuns: 30,
      cliFullRuns: 5,
      versionRuns: 30,
      crlSizes: [100_000, 1_000_000],
      speedSeconds: 3,
      nodeSpeedMs: 2000,
    };
if (opt.fill) plan.fill = positiveInt(opt.fill, "--fill");
if (opt.crl) plan.crlSizes = opt.crl.split(",").map((s) => positiveInt(s, "--crl"));
plan.window = Math.min(plan.window, Math.floor(plan.p256Csrs / 2));
const minFill = plan.window + plan.signOne + 500;
if (plan.fill < minFill) throw new Error(`--fill must be at least ${minFill}`);
const crlClamped = plan.crlSizes.some((n) => n > plan.fill);
plan.crlSizes = [...new Set(plan.crlSizes.map((n) => Math.min(n, plan.fill)))].sort((a, b) => a - b);
const outFile = resolve(
  opt.out ?? (opt.quick ? join(ROOT, "bench", "out", "BENCHMARKS.quick.md") : "BENCHMARKS.md"),
);
const command = ["bench/issue", ...process.argv.slice(2)].join(" ");

// ------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------

const started = Date.now();
const loadStart = loadavg();

function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${msg}\n`);
}

installCleanup();
const tmp = mkdtempSync(join(opt.tmp ? resolve(opt.tmp) : tmpdir(), "sigil-bench-"));
log(`working in ${tmp}`);

function cliEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: BENCH_PASSPHRASE };
}

/** Rate of one in-process signBatch over `csrs` (everything: parse, verify, build, sign, store, audit). */
async function timeSignBatch(
  h: SigilHome,
  caName: string,
  csrs: Buffer[],
  tag: string,
): Promise<{ n: number; ms: number; perSec: number }> {
  const inputs = csrs.map((input, i) => ({ input, source: `${tag}-${i}` }));
  let ok = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  await h.authority.signBatch(inputs, { caName }, (r) => {
    if (r.issued) ok++;
    else firstError ??= r.error?.message;
  });
  const ms = performance.now() - t0;
  if (ok !== csrs.length) throw new Error(`signBatch refused ${csrs.length - ok} request(s): ${firstError}`);
  return { n: ok, ms, perSec: (ok / ms) * 1000 };
}

/** Issues `csrs` untimed (both paths), so the timed runs see warm JIT-compiled code. */
async function warmUp(h: SigilHome, caName: string, csrs: Buffer[]): Promise<void> {
  await timeSignBatch(h, caName, csrs, "warm");
  await timeSignOne(h, caName, csrs.slice(0, 20));
}

/** Rate of one-at-a-time authority.sign() (one transaction per certificate). */
async function timeSignOne(
  h: SigilHome,
  caName: string,
  csrs: Buffer[],
): Promise<{ n: number; ms: number; perSec: number }> {
  const t0 = performance.now();
  for (const csr of csrs) await h.authority.sign(csr, { caName });
  const ms = performance.now() - t0;
  return { n: csrs.length, ms, perSec: (csrs.length / ms) * 1000 };
}

/** Node's own crypto.sign / crypto.verify rates for a key type, over a 400-byte message. */
function nodeSpeed(
  keyType: BenchKeyType,
  budgetMs: number,
): { signPerSec: number; verifyPerSec: number; verifySpkiPerSec: number; signVerifyPerSec: number } {
  const { privateKey, publicKey } =
    keyType === "p256"
      ? generateKeyPairSync("ec", { namedCurve: "prime256v1" })
      : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const data = randomBytes(400);
  const spki = publicKey.export({ type: "spki", format: "der" });
  const loop = (f: () => void): number => {
    for (let i = 0; i < 50; i++) f();
    let n = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < budgetMs) {
      for (let i = 0; i < 20; i++) f();
      n += 20;
      t = performance.now();
    }
    return (n / (t - t0)) * 1000;
  };
  const sig = sign("sha256", data, privateKey);
  const signPerSec = loop(() => sign("sha256", data, privateKey));
  const verifyWith = (k: KeyObject) => {
    if (!verify("sha256", data, k, sig)) throw new Error("node verify failed");
  };
  const verifyPerSec = loop(() => verifyWith(publicKey));
  const verifySpkiPerSec = loop(() =>
    verifyWith(createPublicKey({ key: spki, format: "der", type: "spki" })),
  );
  return {
    signPerSec,
    verifyPerSec,
    verifySpkiPerSec,
    signVerifyPerSec: 1 / (1 / signPerSec + 1 / verifyPerSec),
  };
}

function writeCsrFiles(dir: string, csrs: Buffer[], n: number): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < Math.min(n, csrs.length); i++) {
    const f = join(dir, `req${i}.req`);
    writeFileSync(f, toPem(csrs[i]!, "CERTIFICATE REQUEST"));
    files.push(f);
  }
  return files;
}

/** `openssl crl -CAfile` verdict and the entry count of a CRL file. */
function checkCrl(
  file: string,
  caFile: string,
  inform: "DER" | "PEM",
): { verified: boolean; entries: number } {
  const r = run("openssl", ["crl", "-inform", inform, "-in", file, "-CAfile", caFile, "-noout"], {
    check: false,
  });
  const verified = r.status === 0 && /verify OK/.test(r.stdout + r.stderr);
  const raw = readFileSync(file);
  const der = inform === "DER" ? raw : pemToDer(raw.toString("latin1"));
  return { verified, entries: countCrlEntries(der) };
}

// ------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------

interface IssueRates {
  batch: { n: number; ms: number; perSec: number };
  signOne: { n: number; ms: number; perSec: number };
}

interface CrlRow {
  entries: number;
  sigilCli: { ms: number; maxRssKb: number | null; verified: boolean; counted: number };
  sigilChild: {
    publishMs: number;
    wallMs: number;
    maxRssKb: number | null;
    rssBeforeKb: number;
    verified: boolean;
    counted: number;
  };
  openssl: { ms: number; maxRssKb: number | null; verified: boolean; counted: number };
  opensslEncrypted: { ms: number; maxRssKb: number | null; verified: boolean; counted: number };
  revokeSqlMs: number;
}

const R = {
  date: new Date().toISOString(),
  command,
  plan,
  machine: {
    ...machineInfo(),
    openssl: opensslVersion(),
    loadStart,
    loadEnd: [0, 0, 0] as number[],
  },
  raw: {} as Record<BenchKeyType, SpeedResult>,
  /** `openssl speed -multi <cores>`: every core, as Sigil's thread pool may use. */
  rawAllCores: {} as Record<BenchKeyType, SpeedResult>,
  node: {} as Record<BenchKeyType, ReturnType<typeof nodeSpeed>>,
  sigil: {} as Record<BenchKeyType, IssueRates>,
  cachedKeys: { n: 0, ms: 0, perSec: 0 },
  opensslCa: {} as Record<
    BenchKeyType,
    { perProcess: Timings; infiles: { n: number; ms: number; perSec: number } }
  >,
  cli: {} as Record<BenchKeyType, { perProcess: Timings; batch: { n: number; ms: number; perSec: number } }>,
  /** The same through a running `sigil serve` on the same home (its admin socket and CLI credential). */
  cliViaService: undefined as
    undefined | { perProcess: Timings; batch: { n: number; ms: number; perSec: number }; through: boolean },
  startup: {} as { sigilVersion: Timings; opensslVersion: Timings; nodeEmpty: Timings; nodePbkdf2: Timings },
  flat: {} as {
    fill: number;
    afterWindow: number;
    empty: { n: number; ms: number; perSec: number };
    full: { n: number; ms: number; perSec: number };
    fillMs: number;
    filled: number;
    cliEmpty: Timings;
    cliFull: Timings;
    opensslEmpty: Timings;
    opensslFull: Timings;
  },
  crl: [] as CrlRow[],
  totalMs: 0,
};

// 1. Raw signing limits ----------------------------------------------------------------
for (const kt of KEY_TYPES) {
  log(`openssl speed -seconds ${plan.speedSeconds} ${kt === "p256" ? "ecdsap256" : "rsa2048"}`);
  R.raw[kt] = opensslSpeed(kt, plan.speedSeconds);
  log(`  sign ${F.rate(R.raw[kt].signPerSec)}, verify ${F.rate(R.raw[kt].verifyPerSec)}`);
  log(
    `openssl speed -multi ${cpus().length} -seconds ${plan.speedSeconds} ${kt === "p256" ? "ecdsap256" : "rsa2048"}`,
  );
  R.rawAllCores[kt] = opensslSpeed(kt, plan.speedSeconds, cpus().length);
  log(`  sign ${F.rate(R.rawAllCores[kt].signPerSec)}, verify ${F.rate(R.rawAllCores[kt].verifyPerSec)}`);
  log(`node crypto.sign/verify ${kt}`);
  R.node[kt] = nodeSpeed(kt, plan.nodeSpeedMs);
  log(`  sign ${F.rate(R.node[kt].signPerSec)}, verify ${F.rate(R.node[kt].verifyPerSec)}`);
}

// 2. Requests ----------------------------------------------------------------------------
log(`building ${plan.p256Csrs} P-256 and ${plan.rsaCsrs} RSA-2048 requests`);
const csrs: Record<BenchKeyType, Buffer[]> = {
  p256: await makeCsrs(plan.p256Csrs, "p256", plan.p256Csrs),
  rsa2048: await makeCsrs(plan.rsaCsrs, "rsa2048", plan.rsaKeys),
};
const filesNeeded = Math.max(plan.opensslPerProcess, plan.opensslInfiles, plan.cliRuns, plan.bigIndexCerts);
const csrFiles: Record<BenchKeyType, string[]> = {
  p256: writeCsrFiles(join(tmp, "req-p256"), csrs.p256, filesNeeded),
  rsa2048: writeCsrFiles(join(tmp, "req-rsa2048"), csrs.rsa2048, filesNeeded),
};

// 3. In-process Sigil -------------------------------------------------------------------
const homeA = join(tmp, "home-p256");
const hA = await openHome(homeA);
const casA = await createCas(hA, "p256");
writeFileSync(join(tmp, "chain-p256.pem"), casA.chainPem);
await hA.authority.unlock(casA.issuing.name);
const warmP256 = Math.min(500, Math.floor(plan.p256Csrs / 4));
{
  const w = plan.window;
  log(`in-process P-256: warm-up, ${warmP256} certificates (not timed)`);
  await warmUp(hA, casA.issuing.name, csrs.p256.slice(-warmP256));
  log(`in-process P-256: signBatch over ${w} requests on an empty store`);
  const batch = await timeSignBatch(hA, casA.issuing.name, csrs.p256.slice(0, w), "empty");
  log(`  ${F.rate(batch.perSec)}`);
  log(`in-process P-256: authority.sign() one at a time, ${plan.signOne} requests`);
  const one = await timeSignOne(hA, casA.issuing.name, csrs.p256.slice(w, w + plan.signOne));
  log(`  ${F.rate(one.perSec)}`);
  R.sigil.p256 = { batch, signOne: one };
  const nCached = Math.min(2000, w);
  log(`in-process P-256: signBatch over ${nCached} requests from 16 keys (Sigil's public-key cache hits)`);
  const cachedCsrs = await makeCsrs(nCached, "p256", 16);
  R.cachedKeys = await timeSignBatch(hA, casA.issuing.name, cachedCsrs, "cached");
  log(`  ${F.rate(R.cachedKeys.perSec)}`);
}
{
  const homeB = join(tmp, "home-rsa2048");
  const hB = await openHome(homeB);
  const casB = await createCas(hB, "rsa2048");
  await hB.authority.unlock(casB.issuing.name);
  const w = Math.min(plan.rsaWindow, plan.rsaCsrs);
  const warm = Math.min(200, Math.floor(plan.rsaCsrs / 4));
  log(`in-process RSA-2048: warm-up, ${warm} certificates (not timed)`);
  await warmUp(hB, casB.issuing.name, csrs.rsa2048.slice(-warm));
  log(`in-process RSA-2048: signBatch over ${w} requests`);
  const batch = await timeSignBatch(hB, casB.issuing.name, csrs.rsa2048.slice(0, w), "rsa");
  log(`  ${F.rate(batch.perSec)}`);
  log(`in-process RSA-2048: authority.sign() one at a time, ${plan.rsaSignOne} requests`);
  const one = await timeSignOne(hB, casB.issuing.name, csrs.rsa2048.slice(0, plan.rsaSignOne));
  log(`  ${F.rate(one.perSec)}`);
  R.sigil.rsa2048 = { batch, signOne: one };
  await hB.close();
}

// 5. openssl ca baselines -----------------------------------------------------------------
const osslKeys = {} as Record<BenchKeyType, OpensslCaKey>;
for (const kt of KEY_TYPES) {
  osslKeys[kt] = makeOpensslCaKey(join(tmp, `openssl-key-${kt}`), kt);
  const files = csrFiles[kt];
  const per = makeOpensslCaDir(join(tmp, `openssl-ca-${kt}-per`), osslKeys[kt]);
  log(`openssl ca -batch, one process per certificate, ${plan.opensslPerProcess} ${kt} requests`);
  const perProcess = timeProcesses(plan.opensslPerProcess, (i) => ({
    cmd: "openssl",
    args: [
      "ca",
      "-config",
      per.cnf,
      "-batch",
      "-notext",
      "-in",
      files[i]!,
      "-out",
      join(per.dir, `c${i}.pem`),
    ],
  }));
  log(`  median ${F.ms(perProcess.medianMs)} per certificate`);
  const n = Math.min(plan.opensslInfiles, files.length);
  const bat = makeOpensslCaDir(join(tmp, `openssl-ca-${kt}-infiles`), osslKeys[kt]);
  log(`openssl ca -batch -infiles with ${n} ${kt} requests in one process`);
  const r = run("openssl", [
    "ca",
    "-config",
    bat.cnf,
    "-batch",
    "-notext",
    "-out",
    join(bat.dir, "all.pem"),
    "-infiles",
    ...files.slice(0, n),
  ]);
  // With -infiles, -out keeps only the last certificate (OpenSSL 3.0); newcerts/ holds them all.
  const issued = readdirSync(join(bat.dir, "newcerts")).length;
  if (issued !== n) throw new Error(`openssl ca -infiles issued ${issued} of ${n}`);
  const infiles = { n, ms: r.ms, perSec: (n / r.ms) * 1000 };
  log(`  ${F.rate(infiles.perSec)}`);
  R.opensslCa[kt] = { perProcess, infiles };
}

// 6. CLI per process, and start-up ---------------------------------------------------------
for (const kt of KEY_TYPES) {
  const homeC = join(tmp, `home-cli-${kt}`);
  const hC = await openHome(homeC);
  const casC = await createCas(hC, kt);
  await hC.close();
  const outDir = join(tmp, `cli-out-${kt}`);
  mkdirSync(outDir, { recursive: true });
  const files = csrFiles[kt];
  log(`sigil sign, one process per certificate, ${plan.cliRuns} ${kt} requests (empty store)`);
  const perProcess = timeProcesses(plan.cliRuns, (i) => ({
    cmd: process.execPath,
    args: [SIGIL_BIN, "sign", files[i]!, "--ca", casC.issuing.name, "-o", join(outDir, `c${i}.crt`)],
    opts: { env: cliEnv(homeC) },
  }));
  log(`  median ${F.ms(perProcess.medianMs)} per certificate`);
  const n = Math.min(plan.opensslInfiles, files.length);
  log(`sigil sign REQ... --out-dir, ${n} ${kt} requests in one process`);
  const r = run(
    process.execPath,
    [SIGIL_BIN, "sign", ...files.slice(0, n), "--ca", casC.issuing.name, "--out-dir", join(outDir, "batch")],
    { env: cliEnv(homeC) },
  );
  const batch = { n, ms: r.ms, perSec: (n / r.ms) * 1000 };
  log(`  ${F.rate(batch.perSec)} (whole process)`);
  R.cli[kt] = { perProcess, batch };
  if (kt !== "p256") continue;
  // The same commands while `sigil serve` holds the keys of this home: the CLI goes through
  // its admin socket with the operator credential the service writes (no key unlock here).
  // The one-shot runs above left their OCSP answers unsigned (they open no responder key):
  // sign them first, as a running service would in its first minutes, so that the service's
  // start-up refresh does not compete with what is measured here.
  run(process.execPath, [SIGIL_BIN, "ocsp", "refresh"], { env: cliEnv(homeC) });
  log(`sigil serve on the same home; sigil sign through it, ${plan.cliRuns} processes, then ${n} in one`);
  const svc = spawnServer(
    "sigil serve",
    process.execPath,
    [SIGIL_BIN, "serve", "--workers", "1", "--listen", "127.0.0.1:0", "--admin-listen", "off"],
    { env: cliEnv(homeC) },
  );
  await waitUntil(svc, "banner", () => /listening on http:\/\//.test(svc.output()), 120_000);
  await waitUntil(svc, "CLI credential", () => existsSync(join(homeC, "run", "cli.token")), 30_000);
  const svcEnv = { ...cliEnv(homeC), SIGIL_PASSPHRASE: undefined };
  const probe = run(
    process.execPath,
    [SIGIL_BIN, "sign", files[0]!, "--ca", casC.issuing.name, "-o", join(outDir, "probe.crt")],
    { env: svcEnv },
  );
  const through = /through the running service/.test(probe.stderr);
  const viaPerProcess = timeProcesses(plan.cliRuns, (i) => ({
    cmd: process.execPath,
    args: [SIGIL_BIN, "sign", files[i]!, "--ca", casC.issuing.name, "-o", join(outDir, `s${i}.crt`)],
    opts: { env: svcEnv },
  }));
  log(
    `  median ${F.ms(viaPerProcess.medianMs)} per certificate${through ? "" : " (NOT through the service)"}`,
  );
  const rs = run(
    process.execPath,
    [
      SIGIL_BIN,
      "sign",
      ...files.slice(0, n),
      "--ca",
      casC.issuing.name,
      "--out-dir",
      join(outDir, "batch-svc"),
    ],
    { env: svcEnv },
  );
  const viaBatch = { n, ms: rs.ms, perSec: (n / rs.ms) * 1000 };
  log(`  ${F.rate(viaBatch.perSec)} (whole process)`);
  await stopServer(svc, "leader");
  R.cliViaService = { perProcess: viaPerProcess, batch: viaBatch, through };
}
log(`start-up: sigil --version, openssl version, node -e 0 (${plan.versionRuns} runs each)`);
R.startup = {
  sigilVersion: timeProcesses(plan.versionRuns, () => ({
    cmd: process.execPath,
    args: [SIGIL_BIN, "--version"],
  })),
  opensslVersion: timeProcesses(plan.versionRuns, () => ({ cmd: "openssl", args: ["version"] })),
  nodeEmpty: timeProcesses(plan.versionRuns, () => ({ cmd: process.execPath, args: ["-e", "0"] })),
  // Node's start plus the one derivation a CA key file costs (PBKDF2-HMAC-SHA256, Sigil's
  // iterations, an AES-256 key): the floor of a one-shot `sigil sign` that opens its key.
  nodePbkdf2: timeProcesses(plan.versionRuns, () => ({
    cmd: process.execPath,
    args: [
      "-e",
      `require("node:crypto").pbkdf2Sync("passphrase", "0123456789abcdef", ${DEFAULT_PBKDF2_ITERATIONS}, 32, "sha256")`,
    ],
  })),
};
log(
  `  sigil --version ${F.ms(R.startup.sigilVersion.medianMs)}, openssl version ${F.ms(R.startup.opensslVersion.medianMs)}, node -e 0 ${F.ms(R.startup.nodeEmpty.medianMs)}, node with one PBKDF2 ${F.ms(R.startup.nodePbkdf2.medianMs)}`,
);

// 4. Flatness: fill the store, measure again ---------------------------------------------------
{
  const ca = casA.issuing.name;
  let stored = countCerts(homeA, casA.issuing.id);
  let filled = 0;
  const pool = csrs.p256;
  log(`filling the P-256 store to ${F.int(plan.fill)} certificates through signBatch`);
  const tFill = performance.now();
  let lastLog = tFill;
  let cursor = 0;
  while (stored < plan.fill) {
    const n = Math.min(10_000, plan.fill - stored, pool.length);
    const chunk: Buffer[] = [];
    for (let i = 0; i < n; i++) chunk.push(pool[(cursor + i) % pool.length]!);
    cursor = (cursor + n) % pool.length;
    await timeSignBatch(hA, ca, chunk, `fill${stored}`);
    stored += n;
    filled += n;
    const now = performance.now();
    if (now - lastLog > 15_000 || stored >= plan.fill) {
      const r = (filled / (now - tFill)) * 1000;
      log(`  ${F.int(stored)} stored, ${F.rate(r)}, ${(((plan.fill - stored) / r) | 0).toString()} s to go`);
      lastLog = now;
    }
  }
  const fillMs = performance.now() - tFill;
  log(`in-process P-256: signBatch over ${plan.window} requests on a store of ${F.int(stored)}`);
  const full = await timeSignBatch(hA, ca, pool.slice(pool.length - plan.window), "full");
  log(`  ${F.rate(full.perSec)}`);
  await hA.close();
  const stored2 = countCerts(homeA, casA.issuing.id);
  log(
    `sigil sign, one process per certificate, ${plan.cliFullRuns} requests on the store of ${F.int(stored2)}`,
  );
  const outDir = join(tmp, "cli-out-full");
  mkdirSync(outDir, { recursive: true });
  const cliFull = timeProcesses(plan.cliFullRuns, (i) => ({
    cmd: process.execPath,
    args: [SIGIL_BIN, "sign", csrFiles.p256[i]!, "--ca", ca, "-o", join(outDir, `c${i}.crt`)],
    opts: { env: cliEnv(homeA) },
  }));
  log(`  median ${F.ms(cliFull.medianMs)} per certificate`);
  const big = makeOpensslCaDir(join(tmp, "openssl-ca-p256-big"), osslKeys.p256);
  log(`writing a ${F.int(plan.fill)}-line index.txt`);
  await writeIndex(big.index, plan.fill, "V");
  log(
    `openssl ca -batch, one process per certificate, ${plan.bigIndexCerts} on the ${F.int(plan.fill)}-line index`,
  );
  const osslFull = timeProcesses(plan.bigIndexCerts, (i) => ({
    cmd: "openssl",
    args: [
      "ca",
      "-config",
      big.cnf,
      "-batch",
      "-notext",
      "-in",
      csrFiles.p256[i]!,
      "-out",
      join(big.dir, `c${i}.pem`),
    ],
  }));
  log(`  median ${F.ms(osslFull.medianMs)} per certificate`);
  rmSync(big.dir, { recursive: true, force: true });
  R.flat = {
    fill: stored,
    afterWindow: stored2,
    empty: R.sigil.p256.batch,
    full,
    fillMs,
    filled,
    cliEmpty: R.cli.p256.perProcess,
    cliFull,
    opensslEmpty: R.opensslCa.p256.perProcess,
    opensslFull: osslFull,
  };
}

// 7. CRLs ----------------------------------------------------------------------------------
{
  const ca = casA.issuing.name;
  const chain = join(tmp, "chain-p256.pem");
  for (const size of plan.crlSizes) {
    log(`CRL of ${F.int(size)} entries: marking certificates revoked in SQL`);
    const t0 = performance.now();
    const revoked = revokeInStore(homeA, casA.issuing.id, size);
    const revokeSqlMs = performance.now() - t0;
    if (revoked !== size) throw new Error(`wanted ${size} revoked, have ${revoked}`);
    log(`  sigil crl --ca ${ca} (one process, under /usr/bin/time)`);
    const cliOut = join(tmp, `sigil-crl-${size}.der`);
    const cli = runMeasured(process.execPath, [SIGIL_BIN, "crl", "--ca", ca, "-o", cliOut], {
      env: cliEnv(homeA),
    });
    const cliCheck = checkCrl(cliOut, chain, "DER");
    log(
      `  ${F.ms(cli.ms)}, peak ${F.mb(cli.maxRssKb)}, verify ${cliCheck.verified ? "OK" : "FAILED"}, ${F.int(cliCheck.entries)} entries`,
    );
    log(`  publishCrl in a child process`);
    const childOut = join(tmp, `sigil-crl-child-${size}.der`);
    const child = runMeasured(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench", "crl-child.ts"), homeA, ca, childOut],
      {
        env: cliEnv(homeA),
      },
    );
    const childJson = JSON.parse(child.stdout.trim().split("\n").pop()!) as {
      publishMs: number;
      entries: number;
      maxRssKb: number;
      rssBeforeKb: number;
    };
    const childCheck = checkCrl(childOut, chain, "DER");
    log(
      `  publishCrl ${F.ms(childJson.publishMs)}, RSS ${F.mb(childJson.rssBeforeKb)} before it, peak ${F.mb(child.maxRssKb ?? childJson.maxRssKb)}`,
    );
    const od = makeOpensslCaDir(join(tmp, `openssl-crl-${size}`), osslKeys.p256);
    await writeIndex(od.index, size, "R");
    /** `openssl ca -gencrl` over the index, timed and checked; `keyArgs` picks the CA key. */
    const gencrl = (label: string, out: string, keyArgs: string[]) => {
      log(`  openssl ca -gencrl over ${F.int(size)} R lines, ${label} (under /usr/bin/time)`);
      const r = runMeasured("openssl", [
        "ca",
        "-config",
        od.cnf,
        "-gencrl",
        "-crldays",
        "7",
        ...keyArgs,
        "-out",
        out,
      ]);
      const check = checkCrl(out, od.caPem, "PEM");
      log(`  ${F.ms(r.ms)}, peak ${F.mb(r.maxRssKb)}, verify ${check.verified ? "OK" : "FAILED"}`);
      return { ms: r.ms, maxRssKb: r.maxRssKb, verified: check.verified, counted: check.entries };
    };
    const ossl = gencrl("CA key unencrypted", join(od.dir, "crl.pem"), []);
    const osslEnc = gencrl(
      "CA key encrypted as Sigil's (PBKDF2-SHA256 600,000)",
      join(od.dir, "crl-enc.pem"),
      ["-keyfile", osslKeys.p256.encryptedKeyPath, "-passin", `pass:${ENCRYPTED_KEY_PASS}`],
    );
    rmSync(od.dir, { recursive: true, force: true });
    R.crl.push({
      entries: size,
      revokeSqlMs,
      sigilCli: {
        ms: cli.ms,
        maxRssKb: cli.maxRssKb,
        verified: cliCheck.verified,
        counted: cliCheck.entries,
      },
      sigilChild: {
        publishMs: childJson.publishMs,
        wallMs: child.ms,
        maxRssKb: child.maxRssKb ?? childJson.maxRssKb,
        rssBeforeKb: childJson.rssBeforeKb,
        verified: childCheck.verified,
        counted: childCheck.entries,
      },
      openssl: ossl,
      opensslEncrypted: osslEnc,
    });
  }
}

R.totalMs = Date.now() - started;
R.machine.loadEnd = loadavg();

// ------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------

interface Target {
  name: string;
  measured: string;
  anchor: string;
  ratio: string;
  verdict: string;
}

const targets: Target[] = [];
const verdict = (met: boolean, miss: string): string => (met ? "met" : `**missed** (${miss})`);

/** Issue 16's share of `openssl speed` sign+verify on one core: 60% for P-256, 80% for RSA-2048. */
const SHARE: Record<(typeof KEY_TYPES)[number], number> = { p256: 0.6, rsa2048: 0.8 };
for (const kt of KEY_TYPES) {
  const r = R.sigil[kt].batch.perSec / R.raw[kt].signVerifyPerSec;
  const share = SHARE[kt];
  targets.push({
    name: `${kt === "p256" ? "P-256" : "RSA-2048"} in-process issuance ≥ ${F.pct(share)} of raw sign+verify`,
    measured: F.rate(R.sigil[kt].batch.perSec),
    anchor: `${F.rate(R.raw[kt].signVerifyPerSec)} (openssl speed)`,
    ratio: F.pct(r),
    verdict: verdict(
      r >= share,
      `${F.pct(r)} of the limit; ${F.pct(share)} would be ${F.rate(share * R.raw[kt].signVerifyPerSec)}`,
    ),
  });
}
for (const kt of KEY_TYPES) {
  // Sigil's batches run signature checks and signatures on libuv's thread pool, so they may
  // use every core; this row holds it to `openssl speed -multi` on all of them.
  const r = R.sigil[kt].batch.perSec / R.rawAllCores[kt].signVerifyPerSec;
  targets.push({
    name: `${kt === "p256" ? "P-256" : "RSA-2048"} the same, against raw sign+verify on all ${R.machine.nproc} cores`,
    measured: F.rate(R.sigil[kt].batch.perSec),
    anchor: `${F.rate(R.rawAllCores[kt].signVerifyPerSec)} (openssl speed -multi ${R.machine.nproc})`,
    ratio: F.pct(r),
    verdict: verdict(r >= 0.6, `${F.pct(r)} of the limit`),
  });
}
for (const kt of KEY_TYPES) {
  const r = R.sigil[kt].batch.perSec / R.opensslCa[kt].infiles.perSec;
  targets.push({
    name: `${kt === "p256" ? "P-256" : "RSA-2048"} in-process issuance "several times" \`openssl ca -infiles\` (read as ≥ 3×)`,
    measured: F.rate(R.sigil[kt].batch.perSec),
    anchor: F.rate(R.opensslCa[kt].infiles.perSec),
    ratio: F.ratio(r),
    verdict: verdict(r >= 3, `${F.ratio(r)}`),
  });
}
{
  const r = R.flat.full.perSec / R.flat.empty.perSec;
  targets.push({
    name: `issuance rate flat (at least 90% of the empty store's, issue 16) from an empty store to ${F.int(R.flat.fill)} certificates`,
    measured: `${F.rate(R.flat.full.perSec)} at ${F.int(R.flat.fill)}`,
    anchor: `${F.rate(R.flat.empty.perSec)} empty`,
    ratio: F.ratio(r),
    verdict: verdict(r >= 0.9, `${F.pct(1 - r)} slower`),
  });
}
for (const kt of KEY_TYPES) {
  const r = R.cli[kt].perProcess.medianMs / R.opensslCa[kt].perProcess.medianMs;
  const ms = R.cli[kt].perProcess.medianMs;
  targets.push({
    name: `\`sigil sign\` one process per certificate (${kt}), no service running: ≤ 200 ms`,
    measured: `${F.ms(ms)}/cert`,
    anchor: `${F.ms(R.opensslCa[kt].perProcess.medianMs)}/cert (openssl ca)`,
    ratio: `${F.ratio(r)} the time of openssl ca`,
    verdict: verdict(ms <= 200, `${F.ms(ms)}`),
  });
  // The issue's 200 ms counts on a PBKDF2 of about 95 ms; this machine's is in the same run.
  const floor = R.startup.nodePbkdf2.medianMs;
  targets.push({
    name: `\`sigil sign\` one process per certificate (${kt}), no service running: beyond Node's start and the key's one PBKDF2`,
    measured: `${F.ms(ms - floor)} beyond`,
    anchor: `${F.ms(floor)} (node -e with one PBKDF2-${F.int(DEFAULT_PBKDF2_ITERATIONS)}; node -e 0 ${F.ms(R.startup.nodeEmpty.medianMs)})`,
    ratio: F.ratio(ms / floor),
    verdict: "reported (the issue's 200 ms assumes a PBKDF2 of about 95 ms)",
  });
}
if (R.cliViaService) {
  const v = R.cliViaService;
  const r = v.perProcess.medianMs / R.startup.nodeEmpty.medianMs;
  targets.push({
    name: "`sigil sign` one process per certificate (p256) with `sigil serve` running: ≤ 2× `node -e 0`",
    measured: `${F.ms(v.perProcess.medianMs)}/cert`,
    anchor: `${F.ms(R.startup.nodeEmpty.medianMs)} (node -e 0)`,
    ratio: F.ratio(r),
    verdict: v.through ? verdict(r <= 2, F.ratio(r)) : "**failed**: did not go through the service",
  });
}
for (const [name, b] of [
  ["no service running", R.cli.p256.batch],
  ["with `sigil serve` running", R.cliViaService?.batch],
] as const) {
  if (!b) continue;
  const r = b.perSec / R.opensslCa.p256.infiles.perSec;
  targets.push({
    name: `\`sigil sign REQ... --out-dir\` over ${F.int(b.n)} P-256 requests, ${name}: ≥ 5× \`openssl ca -batch -infiles\``,
    measured: F.rate(b.perSec),
    anchor: F.rate(R.opensslCa.p256.infiles.perSec),
    ratio: F.ratio(r),
    verdict: verdict(r >= 5, F.ratio(r)),
  });
}
{
  const r = R.startup.sigilVersion.medianMs / R.startup.nodeEmpty.medianMs;
  targets.push({
    name: "`sigil --version` ≤ 1.2× `node -e 0`",
    measured: F.ms(R.startup.sigilVersion.medianMs),
    anchor: F.ms(R.startup.nodeEmpty.medianMs),
    ratio: F.ratio(r),
    verdict: verdict(r <= 1.2, F.ratio(r)),
  });
}
{
  const r = R.startup.sigilVersion.medianMs / R.opensslCa.p256.perProcess.medianMs;
  targets.push({
    name: "`sigil --version`, reported against `openssl ca` per process",
    measured: F.ms(R.startup.sigilVersion.medianMs),
    anchor: `${F.ms(R.opensslCa.p256.perProcess.medianMs)} (openssl ca, P-256); \`openssl version\` ${F.ms(R.startup.opensslVersion.medianMs)}`,
    ratio: `${F.ratio(r)} the time`,
    verdict: "reported (no numeric target)",
  });
}
for (const c of R.crl) {
  const tr = c.sigilCli.ms / c.openssl.ms;
  const mr =
    c.sigilCli.maxRssKb !== null && c.openssl.maxRssKb !== null
      ? c.sigilCli.maxRssKb / c.openssl.maxRssKb
      : NaN;
  const ok = c.sigilCli.verified && c.sigilCli.counted === c.entries;
  targets.push({
    name: `CRL of ${F.int(c.entries)}: \`sigil crl\` no slower than \`openssl ca -gencrl\``,
    measured: F.ms(c.sigilCli.ms),
    anchor: F.ms(c.openssl.ms),
    ratio: `${F.ratio(tr)} the time`,
    verdict: ok ? verdict(tr <= 1, `${F.pct(tr - 1)} slower`) : "**failed**: CRL did not verify or count",
  });
  const tre = c.sigilCli.ms / c.opensslEncrypted.ms;
  targets.push({
    name: `CRL of ${F.int(c.entries)}: the same, OpenSSL's CA key encrypted as Sigil's (PBKDF2 600,000)`,
    measured: F.ms(c.sigilCli.ms),
    anchor: F.ms(c.opensslEncrypted.ms),
    ratio: `${F.ratio(tre)} the time`,
    verdict: ok ? verdict(tre <= 1, `${F.pct(tre - 1)} slower`) : "**failed**: CRL did not verify or count",
  });
  targets.push({
    name: `CRL of ${F.int(c.entries)}: at most half of OpenSSL's peak memory`,
    measured: F.mb(c.sigilCli.maxRssKb),
    anchor: F.mb(c.openssl.maxRssKb),
    ratio: `${F.pct(mr)} of it`,
    verdict: Number.isFinite(mr)
      ? verdict(mr <= 0.5, `${F.pct(mr)} of OpenSSL's`)
      : "not measured (no /usr/bin/time)",
  });
}

const kn = (kt: BenchKeyType) => (kt === "p256" ? "P-256" : "RSA-2048");
const md: string[] = [];
md.push(`## Issuance and CRLs (\`bench/issue\`)

Written by \`${R.command}\` on ${R.date.slice(0, 16).replace("T", " ")} UTC; the run took ${F.ms(R.totalMs)}.
Machine: ${R.machine.cpu}, ${R.machine.nproc} cores (nproc), ${R.machine.memGb} GB; Node ${R.machine.node};
${R.machine.openssl}. Load average ${R.machine.loadStart.map((x) => x.toFixed(2)).join(" ")} at the start and
${R.machine.loadEnd.map((x) => x.toFixed(2)).join(" ")} at the end (the machine is shared: absolute figures are lower
bounds, ratios are measured seconds apart in the same run). Every ratio compares two figures of this one run.
Nothing is asserted anywhere; \`bench/issue\` only measures, prints and writes this section.

### Targets (from the issue)

${F.table(
  ["target", "Sigil", "anchor", "ratio", "verdict"],
  targets.map((t) => [t.name, t.measured, t.anchor, t.ratio, t.verdict]),
)}

### Raw signing limit of the same key

\`openssl speed -seconds ${plan.speedSeconds}\` (one process, one core). sign+verify = 1/(1/sign + 1/verify): one
signature checked (the request's) and one made (the certificate's) per certificate. Node's own
\`crypto.sign\`/\`crypto.verify\` on a 400-byte message, for reference; "verify, SPKI parsed" also imports
the public key from DER each time, as verifying a request must.

${F.table(
  [
    "key",
    "openssl sign",
    "openssl verify",
    "openssl sign+verify",
    "Node sign",
    "Node verify",
    "Node verify, SPKI parsed",
    "Node sign+verify",
  ],
  KEY_TYPES.map((kt) => [
    kn(kt),
    F.rate(R.raw[kt].signPerSec),
    F.rate(R.raw[kt].verifyPerSec),
    F.rate(R.raw[kt].signVerifyPerSec),
    F.rate(R.node[kt].signPerSec),
    F.rate(R.node[kt].verifyPerSec),
    F.rate(R.node[kt].verifySpkiPerSec),
    F.rate(R.node[kt].signVerifyPerSec),
  ]),
)}

### Issuance

In-process: an \`Authority\` composed as the CLI composes it (\`openStore\`, \`FileKeyStore\`, \`loadConfig\`),
CA key already unlocked, request DER in memory; each certificate is parsed and verified (request),
built, signed, stored (request row, certificate row) and audited (hash-chained event), committed in
groups of 128 (\`signBatch\`) or one transaction each (\`sign()\`). \`signBatch\` checks request signatures and signs on libuv's thread pool (Node's callback
crypto), so it may use both cores; the targets table also holds it to \`openssl speed -multi\`. The CA key type is the key type measured.

${F.table(
  [
    "key",
    "path",
    "certificates",
    "rate",
    "of openssl sign+verify",
    "of Node sign+verify",
    "vs openssl ca -infiles",
  ],
  KEY_TYPES.flatMap((kt) =>
    (["batch", "signOne"] as const).map((p) => {
      const x = R.sigil[kt][p];
      return [
        kn(kt),
        p === "batch" ? "`authority.signBatch`" : "`authority.sign()` one at a time",
        F.int(x.n),
        F.rate(x.perSec),
        F.pct(x.perSec / R.raw[kt].signVerifyPerSec),
        F.pct(x.perSec / R.node[kt].signVerifyPerSec),
        F.ratio(x.perSec / R.opensslCa[kt].infiles.perSec),
      ];
    }),
  ),
)}

Not a target figure, for the method notes: P-256 \`signBatch\` over ${F.int(R.cachedKeys.n)} requests signed
by only 16 keys (every request key already in Sigil's public-key cache): ${F.rate(R.cachedKeys.perSec)},
${F.pct(R.cachedKeys.perSec / R.raw.p256.signVerifyPerSec)} of openssl sign+verify.

One process for many requests (both whole-process wall time, start-up and key unlock included):

${F.table(
  ["key", "command", "certificates", "rate"],
  KEY_TYPES.flatMap((kt) => [
    [
      kn(kt),
      "`openssl ca -batch -notext -infiles ...`",
      F.int(R.opensslCa[kt].infiles.n),
      F.rate(R.opensslCa[kt].infiles.perSec),
    ],
    [kn(kt), "`sigil sign REQ... --out-dir DIR`", F.int(R.cli[kt].batch.n), F.rate(R.cli[kt].batch.perSec)],
  ]),
)}

One process per certificate (median of n runs, wall time; empty store / empty index.txt):

${F.table(
  ["key", "command", "n", "median", "mean", "min", "max", "vs openssl ca"],
  KEY_TYPES.flatMap((kt) => {
    const o = R.opensslCa[kt].perProcess;
    const c = R.cli[kt].perProcess;
    return [
      [
        kn(kt),
        "`openssl ca -batch -notext -in X.req`",
        ...[o.n, o.medianMs, o.meanMs, o.minMs, o.maxMs].map((v, i) => (i ? F.ms(v) : String(v))),
        "1×",
      ],
      [
        kn(kt),
        "`sigil sign X.req --ca CA -o X.crt`",
        ...[c.n, c.medianMs, c.meanMs, c.minMs, c.maxMs].map((v, i) => (i ? F.ms(v) : String(v))),
        F.ratio(c.medianMs / o.medianMs),
      ],
    ];
  }),
)}

Start-up alone (median of ${R.startup.sigilVersion.n}):

${F.table(
  ["command", "median", "mean", "vs openssl version", "vs openssl ca (P-256, per process)"],
  (
    [
      ["`sigil --version`", R.startup.sigilVersion],
      ["`node -e 0` (Node's floor)", R.startup.nodeEmpty],
      ["`node -e` with one PBKDF2 of a key file (a one-shot `sigil sign`'s floor)", R.startup.nodePbkdf2],
      ["`openssl version`", R.startup.opensslVersion],
    ] as Array<[string, Timings]>
  ).map(([name, t]) => [
    name,
    F.ms(t.medianMs),
    F.ms(t.meanMs),
    F.ratio(t.medianMs / R.startup.opensslVersion.medianMs),
    F.ratio(t.medianMs / R.opensslCa.p256.perProcess.medianMs),
  ]),
)}

### Flatness: empty store to ${F.int(R.flat.fill)} certificates (P-256)

The store was filled by issuing through \`signBatch\` to ${F.int(R.flat.fill)} certificates in the CA (fill at
${F.rate(R.flat.filled / (R.flat.fillMs / 1000))} for ${F.int(R.flat.filled)} of them, ${F.ms(R.flat.fillMs)});
the "full" rate is then measured over the next ${F.int(plan.window)} (the store growing to
${F.int(R.flat.afterWindow)}). The ${F.int(plan.p256Csrs)} requests were used in turn, so the same request was signed many times (each time
parsed, verified and given a fresh serial). OpenSSL's index.txt was written synthetically with the same
number of \`V\` lines (unique serials, \`unique_subject = no\`).

${F.table(
  ["measure", "empty", `at ${F.int(R.flat.fill)}`, "full / empty"],
  [
    [
      "Sigil in-process `signBatch` rate",
      F.rate(R.flat.empty.perSec),
      F.rate(R.flat.full.perSec),
      F.ratio(R.flat.full.perSec / R.flat.empty.perSec),
    ],
    [
      `\`sigil sign\` per process (median, n=${R.flat.cliEmpty.n} / ${R.flat.cliFull.n})`,
      F.ms(R.flat.cliEmpty.medianMs),
      F.ms(R.flat.cliFull.medianMs),
      `${F.ratio(R.flat.cliFull.medianMs / R.flat.cliEmpty.medianMs)} the time`,
    ],
    [
      `\`openssl ca -batch\` per process (median, n=${R.flat.opensslEmpty.n} / ${R.flat.opensslFull.n})`,
      F.ms(R.flat.opensslEmpty.medianMs),
      F.ms(R.flat.opensslFull.medianMs),
      `${F.ratio(R.flat.opensslFull.medianMs / R.flat.opensslEmpty.medianMs)} the time`,
    ],
  ],
)}

### CRLs

Revoked rows were made by marking issued certificates of the P-256 CA revoked straight in SQLite
(\`UPDATE certificates SET status='revoked', revoked_at=?, revocation_reason=1 ...\`; no per-certificate
audit event or CRL, unlike \`sigil revoke\`). The store holds ${F.int(R.flat.afterWindow + plan.cliFullRuns)} certificates of that CA.
\`sigil crl --ca CA -o F\` runs as one process under \`/usr/bin/time -v\` (wall time measured around it,
start-up, key unlock and file write included). \`bench/crl-child.ts\` times \`authority.publishCrl\`
alone in a child process (under tsx, whose loader adds to its RSS: its peak is shown with the RSS it had
just before publishCrl; the compared figure is \`sigil crl\`'s). \`openssl ca -gencrl -crldays 7\` reads a synthetic index.txt with the same
number of \`R ... ,keyCompromise\` lines. Every CRL was checked with \`openssl crl -CAfile\` ("verify OK")
and its entries counted by a separate DER walk.${crlClamped ? `\n\nCRL sizes were capped at --fill (${F.int(plan.fill)}).` : ""}

${F.table(
  [
    "entries",
    "`sigil crl` wall",
    "peak RSS",
    "publishCrl alone",
    "child RSS before → peak",
    "`openssl ca -gencrl` wall",
    "peak RSS",
    "time Sigil/OpenSSL",
    "memory Sigil/OpenSSL",
    "verified (Sigil, OpenSSL)",
  ],
  R.crl.map((c) => [
    F.int(c.entries),
    F.ms(c.sigilCli.ms),
    F.mb(c.sigilCli.maxRssKb),
    F.ms(c.sigilChild.publishMs),
    `${F.mb(c.sigilChild.rssBeforeKb)} → ${F.mb(c.sigilChild.maxRssKb)}`,
    F.ms(c.openssl.ms),
    F.mb(c.openssl.maxRssKb),
    F.ratio(c.sigilCli.ms / c.openssl.ms),
    c.sigilCli.maxRssKb !== null && c.openssl.maxRssKb !== null
      ? F.pct(c.sigilCli.maxRssKb / c.openssl.maxRssKb)
      : "n/a",
    `${c.sigilCli.verified && c.sigilChild.verified ? "OK" : "FAILED"} ${F.int(c.sigilCli.counted)}, ${c.openssl.verified ? "OK" : "FAILED"} ${F.int(c.openssl.counted)}`,
  ]),
)}

### Method and fairness notes

- Requests: ${F.int(plan.p256Csrs)} P-256 and ${F.int(plan.rsaCsrs)} RSA-2048 PKCS#10 requests built in-process
  (\`buildCsr\` + \`NodeSigner\`), subject \`/O=Sigil Bench/CN=host<i>.bench.example\`, no extensions
  requested. Each P-256 request has its own key; the RSA requests are signed by ${plan.rsaKeys} key pairs in
  turn (RSA key generation is slow). Sigil keeps its last 64 verifying public keys as KeyObjects
  (src/x509/algorithms.ts), so requests from fewer keys would skip the SPKI import; round-robin over
  more than 64 keys never hits that cache, as with real requests. The extra row "16 keys" above shows
  what those cache hits are worth. The same PEM files feed \`openssl ca\` and \`sigil sign\`.
- Sigil issues under its "system" profile from a child CA of the same key type (CA:FALSE, keyUsage,
  EKU serverAuth+clientAuth, a DNS SAN from the CN, SKI, AKI, CDP, AIA; 128-bit random serials).
  \`openssl ca\` uses an extension section with the same extensions except the SAN (it cannot take one
  from the CN with \`copy_extensions = none\`), sequential serials from the \`serial\` file, \`-notext\`
  (PEM only, like Sigil), \`policy_anything\`, \`unique_subject = no\`.
- OpenSSL's CA key is unencrypted (as the issue's anchors were measured), except in the CRL rows marked
  "encrypted as Sigil's", where \`openssl ca -gencrl\` reads the same key as PKCS#8 PBES2 with PBKDF2-SHA256 at
  600,000 iterations and AES-256 (the protection Sigil gives every CA key). Sigil's is encrypted PKCS#8 with PBKDF2-SHA256 at 600,000
  iterations, which every \`sigil sign\`/\`sigil crl\` process unlocks (about 0.1 s, by design). Sigil
  also writes to SQLite in WAL mode (synchronous=NORMAL) and appends an audit event per certificate;
  OpenSSL rewrites index.txt and writes newcerts/SERIAL.pem.
- Per-process figures are wall time around \`spawnSync\` from the benchmark process (the same overhead
  for every command). Peak memory is GNU time's "Maximum resident set size".
- The in-process runs load Sigil's TypeScript through tsx; the CLI (\`bin/sigil.js\`) runs the built
  \`dist/\` (\`npm run build\`).
`);

writeSection(outFile, "issue", md.join("\n"));
const jsonFile = join(ROOT, "bench", "out", opt.quick ? "issue-results.quick.json" : "issue-results.json");
mkdirSync(dirname(jsonFile), { recursive: true });
writeFileSync(jsonFile, JSON.stringify(R, null, 2) + "\n");

process.stdout.write(
  "\n" +
    F.table(
      ["target", "Sigil", "anchor", "ratio", "verdict"],
      targets.map((t) => [t.name, t.measured, t.anchor, t.ratio, t.verdict]),
    ) +
    "\n\n",
);
process.stdout.write(`report: ${outFile}\nraw figures: ${jsonFile}\n`);
if (!HAVE_GNU_TIME) process.stdout.write("note: /usr/bin/time is missing, peak memory was not measured\n");

if (opt.keep) log(`kept ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
