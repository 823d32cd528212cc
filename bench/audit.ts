/**
 * bench/audit: how long `sigil audit verify` takes over a large audit log under signed
 * checkpoints (issue 17), against `openssl dgst -sha256` over the same events as bytes (the
 * export's events.jsonl), all measured in one run, printed and written to BENCHMARKS.md.
 *
 *   bench/audit [--quick] [--events N] [--checkpoints K] [--runs R] [--out FILE] [--keep] [--tmp DIR]
 *
 * The home is made by `sigil init`; the events are appended in-process through the store
 * (openStore, `tx.appendAudit` in transactions of 10,000: the same chaining code every
 * command uses, without a million processes); `sigil audit checkpoint` signs a checkpoint
 * after each K-th of them. Everything timed is a whole `bin/sigil.js` / `openssl` process.
 * Never asserts timings: it measures, compares and says whether the target is met.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openStore, SQLITE_FILE_NAME } from "../src/store/open.js";
import type { AuditDraft } from "../src/store/types.js";
import * as F from "./lib/format.js";
import { machineInfo } from "./lib/machine.js";
import { opensslVersion } from "./lib/openssl.js";
import { HAVE_GNU_TIME, run, runMeasured, summarize, type MeasuredRun, type Timings } from "./lib/proc.js";
import { writeSection } from "./lib/sections.js";
import { BENCH_PASSPHRASE } from "./lib/sigil.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SIGIL_BIN = join(ROOT, "bin", "sigil.js");

// ------------------------------------------------------------------------------------
// Options and plan
// ------------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    events: { type: "string" },
    checkpoints: { type: "string" },
    runs: { type: "string" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(`usage: bench/audit [options]
  --quick          smaller run (100,000 events); writes bench/out/BENCHMARKS.quick.md
  --events N       audit events in the log (default 1000000; --quick 100000)
  --checkpoints K  signed checkpoints, one after each K-th of the events (default 4)
  --runs R         timed runs of each command, the median is reported (default 3; a
                   single \`sigil audit verify\` over 60 s makes it 1)
  --out FILE       where to write the report (default BENCHMARKS.md)
  --keep           keep the temporary folder (home, export)
  --tmp DIR        parent of the temporary folder (default the OS temp dir)
`);
  process.exit(0);
}

function positiveInt(s: string, what: string): number {
  const n = Number(s.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: not a positive integer: ${s}`);
  return n;
}

const plan = {
  events: opt.events ? positiveInt(opt.events, "--events") : opt.quick ? 100_000 : 1_000_000,
  checkpoints: opt.checkpoints ? positiveInt(opt.checkpoints, "--checkpoints") : 4,
  runs: opt.runs ? positiveInt(opt.runs, "--runs") : 3,
  perTransaction: 10_000,
};
const outFile = resolve(
  opt.out ?? (opt.quick ? join(ROOT, "bench", "out", "BENCHMARKS.quick.md") : "BENCHMARKS.md"),
);
const command = ["bench/audit", ...process.argv.slice(2)].join(" ");
/** The issue's target: verify in less than this many times openssl's time. */
const TARGET = 2;

// ------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------

const started = Date.now();
const loadStart = loadavg();

function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${msg}\n`);
}

const tmp = mkdtempSync(join(opt.tmp ? resolve(opt.tmp) : tmpdir(), "sigil-bench-audit-"));
const home = join(tmp, "home");
const exportDir = join(tmp, "export");
log(`working in ${tmp}`);
const env: NodeJS.ProcessEnv = { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: BENCH_PASSPHRASE };
const sigil = (args: string[]) => run("node", [SIGIL_BIN, ...args], { env });

/**
 * Realistic audit events, deterministic in shape, random in content: about 70% `cert.issue`
 * (as authority/issuance.ts writes it), 10% `cert.revoke`, 20% `admin.allow` (an admin API
 * read, as authority/admin-reads.ts writes it). Timestamps rise by 0 to 63 ms.
 */
function makeDrafts(from: number, n: number, clock: { at: number }): AuditDraft[] {
  const rnd = randomBytes(n * 52);
  const out: AuditDraft[] = [];
  const cas = ["genfic-system", "genfic-user"];
  const actors = ["cli:root", "cli:alice", "token:deploy-bot", "acme:acct-7f3a", "mail:intake"];
  const adminActions = ["cert.list", "cert.show", "request.list", "audit.log", "ca.list"];
  for (let i = 0; i < n; i++) {
    const r = rnd.subarray(i * 52, (i + 1) * 52);
    clock.at += r[0]! & 63;
    const k = from + i;
    const kind = r[1]! % 10;
    const ca = cas[r[2]! & 1]!;
    const serial = r.subarray(4, 20).toString("hex");
    const actor = actors[r[3]! % actors.length]!;
    const host = `host${k % 50_000}.${r[2]! & 1 ? "users" : "svc"}.genfic.example`;
    if (kind < 7) {
      const sans = [`dns:${host}`];
      if (r[20]! & 1) sans.push(`dns:www.${host}`);
      if (r[20]! & 2) sans.push(`ip:10.${r[21]}.${r[22]}.${r[23]}`);
      out.push({
        at: clock.at,
        actor,
        action: "cert.issue",
        target: `${ca}/${serial}`,
        details: {
          request: k,
          channel: ["cli", "acme", "mail", "http"][r[24]! & 3],
          submitter: actor.replace(/^\w+:/, ""),
          source: r[24]! & 4 ? `csr-${k}.pem` : `10.0.${r[25]}.${r[26]}`,
          subject: `CN=${host},O=Gentoo Fictional\\, Inc.,L=Mechelen,ST=Antwerp,C=BE`,
          sans,
          profile: ca === "genfic-user" ? "user" : "system",
          notAfter: new Date(clock.at + 397 * 86_400_000).toISOString(),
          fingerprint: r.subarray(20, 52).toString("hex"),
        },
      });
    } else if (kind < 8) {
      out.push({
        at: clock.at,
        actor,
        action: "cert.revoke",
        target: `${ca}/${serial}`,
        details: {
          subject: `CN=${host},O=Gentoo Fictional\\, Inc.,L=Mechelen,ST=Antwerp,C=BE`,
          reason: ["keyCompromise", "superseded", "cessationOfOperation", "unspecified"][r[24]! & 3],
        },
      });
    } else {
      out.push({
        at: clock.at,
        actor,
        action: "admin.allow",
        target: adminActions[r[24]! % adminActions.length]!,
        details: {
          role: r[25]! & 1 ? "auditor" : "operator",
          via: "admin-api",
          remote: `10.1.${r[26]}.${r[27]}`,
        },
      });
    }
  }
  return out;
}

/** Appends `n` events through the store, `plan.perTransaction` per transaction. */
async function appendEvents(from: number, n: number, clock: { at: number }): Promise<number> {
  const store = await openStore(home);
  const t0 = performance.now();
  try {
    for (let done = 0; done < n; done += plan.perTransaction) {
      const drafts = makeDrafts(from + done, Math.min(plan.perTransaction, n - done), clock);
      await store.transaction(async (tx) => {
        for (const d of drafts) await tx.appendAudit(d);
      });
    }
  } finally {
    await store.close();
  }
  return performance.now() - t0;
}

/** Runs `args` R times (each under /usr/bin/time -v, for its peak RSS): the wall times, the last output. */
function timeRuns(
  label: string,
  runs: number,
  cmd: string,
  args: string[],
  expect?: RegExp,
): { t: Timings; maxRssKb: number | null; out: string; all: MeasuredRun[] } {
  const all: MeasuredRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = runMeasured(cmd, args, { env });
    if (expect && !expect.test(r.stdout))
      throw new Error(`${label}: unexpected output:\n${r.stdout}\n${r.stderr}`);
    all.push(r);
    log(`  ${label} run ${i + 1}/${runs}: ${F.ms(r.ms)}, peak RSS ${F.mb(r.maxRssKb)}`);
  }
  const rss = all.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  return {
    t: summarize(all.map((r) => r.ms)),
    maxRssKb: rss.length ? Math.max(...rss) : null,
    out: all.at(-1)!.stdout.trim(),
    all,
  };
}

// ------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------

const R = {
  date: new Date().toISOString(),
  command,
  plan,
  machine: { ...machineInfo(), openssl: opensslVersion(), loadStart, loadEnd: [0, 0, 0] as number[] },
  initEvents: 0,
  appendMs: 0,
  checkpointMs: [] as number[],
  events: 0,
  dbBytes: 0,
  exportMs: 0,
  exportBytes: 0,
  verify: undefined as undefined | { t: Timings; maxRssKb: number | null; out: string },
  openssl: undefined as undefined | { t: Timings; maxRssKb: number | null; out: string },
  offline: undefined as undefined | { t: Timings; maxRssKb: number | null; out: string },
  runsNote: "",
  totalMs: 0,
};

log("sigil init --key p256");
sigil(["init", "--key", "p256"]);
{
  const store = await openStore(home);
  R.initEvents = (await store.auditHead())?.seq ?? 0;
  await store.close();
}
log(`  ${R.initEvents} events from init`);

// Append, signing a checkpoint after each K-th.
const clock = { at: Date.now() - plan.events * 40 };
let appended = 0;
for (let c = 1; c <= plan.checkpoints; c++) {
  const upto = Math.round((plan.events * c) / plan.checkpoints);
  const n = upto - appended;
  log(`appending ${F.int(n)} events (to ${F.int(upto)}) in transactions of ${F.int(plan.perTransaction)}`);
  const ms = await appendEvents(appended, n, clock);
  R.appendMs += ms;
  appended = upto;
  log(`  ${F.ms(ms)} (${F.rate((n / ms) * 1000)})`);
  const cp = sigil(["audit", "checkpoint"]);
  R.checkpointMs.push(cp.ms);
  log(`  sigil audit checkpoint: ${F.ms(cp.ms)}: ${cp.stdout.trim()}`);
}
R.events = appended + R.initEvents;
R.dbBytes = statSync(join(home, SQLITE_FILE_NAME)).size;

// The export: the bytes openssl hashes, and the folder --offline verifies.
log(`sigil audit export --out ${exportDir}`);
{
  const r = sigil(["audit", "export", "--out", exportDir]);
  R.exportMs = r.ms;
  R.exportBytes = statSync(join(exportDir, "events.jsonl")).size;
  log(`  ${F.ms(r.ms)}: ${r.stdout.trim()} (${F.int(R.exportBytes)} bytes of events.jsonl)`);
  log(`  files: ${readdirSync(exportDir).join(", ")}`);
}

// Timed: verify first once to learn how long a run takes.
const verifyArgs = [SIGIL_BIN, "audit", "verify"];
const okVerify = new RegExp(
  `audit chain OK: ${R.events} events[^]*checkpoints OK: ${plan.checkpoints} signed`,
);
log(`sigil audit verify (${F.int(R.events)} events)`);
const first = timeRuns("sigil audit verify", 1, "node", verifyArgs, okVerify);
let runs = plan.runs;
if (first.t.medianMs > 60_000 && runs > 1) {
  runs = 1;
  R.runsNote = `one run each: a single \`sigil audit verify\` took ${F.ms(first.t.medianMs)} (over 60 s)`;
  log(`  ${R.runsNote}`);
}
const verifyRest =
  runs > 1 ? timeRuns("sigil audit verify", runs - 1, "node", verifyArgs, okVerify) : undefined;
{
  const all = [...first.all, ...(verifyRest?.all ?? [])];
  const rss = all.map((r) => r.maxRssKb).filter((x): x is number => x !== null);
  R.verify = {
    t: summarize(all.map((r) => r.ms)),
    maxRssKb: rss.length ? Math.max(...rss) : null,
    out: first.out,
  };
}
log(`openssl dgst -sha256 events.jsonl`);
R.openssl = timeRuns("openssl dgst -sha256", runs, "openssl", [
  "dgst",
  "-sha256",
  join(exportDir, "events.jsonl"),
]);
log(`sigil audit verify --offline`);
R.offline = timeRuns(
  "sigil audit verify --offline",
  runs,
  "node",
  [SIGIL_BIN, "audit", "verify", "--offline", exportDir, "--key", join(exportDir, "audit-key.pem")],
  okVerify,
);
R.totalMs = Date.now() - started;
R.machine.loadEnd = loadavg();

// ------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------

const verdict = (ok: boolean, how: string) => (ok ? `**met** (${how})` : `**not met** (${how})`);
const rv = R.verify!.t.medianMs / R.openssl.t.medianMs;
const ro = R.offline.t.medianMs / R.openssl.t.medianMs;
const targets = [
  {
    name: `\`sigil audit verify\` over ${F.int(R.events)} events: < ${TARGET}× \`openssl dgst -sha256\` over the same bytes`,
    measured: F.ms(R.verify!.t.medianMs),
    anchor: F.ms(R.openssl.t.medianMs),
    ratio: F.ratio(rv),
    verdict: verdict(rv < TARGET, F.ratio(rv)),
  },
  {
    name: `\`sigil audit verify --offline DIR --key KEY\` over the export: the same target`,
    measured: F.ms(R.offline.t.medianMs),
    anchor: F.ms(R.openssl.t.medianMs),
    ratio: F.ratio(ro),
    verdict: verdict(ro < TARGET, F.ratio(ro)),
  },
];
const rate = (t: Timings) => F.rate((R.events / t.medianMs) * 1000);
const mbytes = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
const timingRow = (name: string, x: { t: Timings; maxRssKb: number | null }) => [
  name,
  String(x.t.n),
  F.ms(x.t.medianMs),
  F.ms(x.t.minMs),
  F.ms(x.t.maxMs),
  rate(x.t),
  F.mb(x.maxRssKb),
  F.ratio(x.t.medianMs / R.openssl!.t.medianMs),
];

const md = `## Audit log verification (issue 17) (\`bench/audit\`)

Written by \`${R.command}\` on ${R.date.slice(0, 16).replace("T", " ")} UTC; the run took ${F.ms(R.totalMs)}.
Machine: ${R.machine.cpu}, ${R.machine.nproc} cores (nproc), ${R.machine.memGb} GB; Node ${R.machine.node};
${R.machine.openssl}. Load average ${R.machine.loadStart.map((x) => x.toFixed(2)).join(" ")} at the start and
${R.machine.loadEnd.map((x) => x.toFixed(2)).join(" ")} at the end (the machine is shared: absolute figures are lower
bounds; the ratios compare figures of this one run). Nothing is asserted; \`bench/audit\` only measures.

### Target (from the issue)

${F.table(
  ["target", "Sigil", "anchor", "ratio", "verdict"],
  targets.map((t) => [t.name, t.measured, t.anchor, t.ratio, t.verdict]),
)}

### Figures

${F.int(R.events)} events (${F.int(R.initEvents)} from \`sigil init\`, the rest appended by the benchmark), ${plan.checkpoints} signed
checkpoints (one after each ${F.int(Math.round(plan.events / plan.checkpoints))} appended). Median of n runs, wall time of the whole
process (start-up, opening the home, reading every row, printing) under \`/usr/bin/time -v\`; peak RSS is
the largest of the runs.${R.runsNote ? ` ${R.runsNote}.` : ""}

${F.table(
  ["command", "n", "median", "min", "max", "events/s", "peak RSS", "vs openssl"],
  [
    timingRow("`sigil audit verify` (SQLite home)", R.verify!),
    timingRow("`sigil audit verify --offline DIR --key DIR/audit-key.pem`", R.offline),
    timingRow("`openssl dgst -sha256 DIR/events.jsonl`", R.openssl),
  ],
)}

Untimed setup, for reference: appending the events in-process (\`tx.appendAudit\`, ${F.int(plan.perTransaction)} per
transaction) took ${F.ms(R.appendMs)} (${F.rate(((R.events - R.initEvents) / R.appendMs) * 1000)}); \`sigil audit checkpoint\` took
${R.checkpointMs.map((m) => F.ms(m)).join(", ")} (each verifies the whole log before signing);
\`sigil audit export --out DIR\` took ${F.ms(R.exportMs)}. events.jsonl is ${mbytes(R.exportBytes)}
(${F.int(R.exportBytes / R.events)} bytes per event); the SQLite file is ${mbytes(R.dbBytes)}.

### Method notes

- "The same bytes" are the export's events.jsonl: every event as one JSON line, the form
  \`sigil audit log --json\` shows. \`sigil audit verify\` reads the same events from SQLite (in parts of
  32,768 events on one worker thread per core, each with its own read-only connection; the parts joined in
  order: src/store/sqlite/audit-scan.ts), recomputes every chain hash from each event's canonical form
  (src/audit/chain.ts), checks every link, the recorded head, each checkpoint's signature under the key
  pinned in sigil.json, and recomputes the Merkle root (RFC 9162) at each checkpoint's size. The home's
  checkpoint file (audit/checkpoints.jsonl) is read as the witness. \`--offline\` does the same from the
  export folder with the key given, reading events.jsonl in byte ranges of 4 MiB on one worker thread per
  core (src/cli/audit-export.ts).
- The files are in the page cache (written just before); every command reads them warm.
- Events: about 70% \`cert.issue\` (request, channel, submitter, source, subject, SANs, profile, notAfter,
  fingerprint, as issuance writes them), 10% \`cert.revoke\`, 20% \`admin.allow\`, random serials,
  fingerprints and addresses.
`;

writeSection(outFile, "audit", md);
const jsonFile = join(ROOT, "bench", "out", opt.quick ? "audit-results.quick.json" : "audit-results.json");
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
