/**
 * bench/mail: e-mail intake throughput against a real dovecot, Sigil against the pipeline
 * it replaces (the handbook's fetchmail -> procmail -> munpack), in one run, printed and
 * written to the `mail` section of BENCHMARKS.md.
 *
 *   bench/mail [--quick] [--messages N] [--poll-seconds N] [--out FILE] [--keep] [--tmp DIR]
 *
 * Each pipeline empties its own, freshly filled mailbox of N distinct request mails:
 *   (a) `sigil serve --workers 1`, queue only: every request recorded, checked, left pending;
 *   (b) the same with an auto-approval rule: every request also signed, its OCSP answer
 *       pre-signed and its reply mail queued (not sent: no smtp section);
 *   anchor: one `fetchmail` poll delivering to `procmail -m` with the handbook's recipe
 *       `| munpack -q -C "$CSR_DROP_DIR"`, and the same poll with munpack as fetchmail's MDA.
 * Then the intake runs once more in-process with timers on its steps (where the time goes).
 * Never asserts timings: it measures, checks that every pipeline did all its work, prints.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { startDovecot, type Dovecot } from "../test/mail-harness.js";
import { machineBusyCpu, peakRssKb, processCpu, treeCpu, waitedChildrenCpu } from "./lib/cpu.js";
import * as F from "./lib/format.js";
import { profileIntake, type IntakeProfile } from "./lib/intake-profile.js";
import {
  BENCH_MTA,
  imapPatternAlone,
  loadMailbox,
  makeRequestMails,
  watchMailbox,
  type ImapLogin,
  type RequestMail,
} from "./lib/mail.js";
import { run } from "./lib/proc.js";
import { writeSection } from "./lib/sections.js";
import { machineInfo } from "./lib/machine.js";
import { BENCH_PASSPHRASE } from "./lib/sigil.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SIGIL_BIN = join(ROOT, "bin", "sigil.js");
const IMAP_PASS_ENV = "SIGIL_BENCH_IMAP_PASS";
/** Sigil's default `imap.maxMessageBytes`. */
const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;
/** Messages ImapIntake.runOnce takes per pass (its default `max`). */
const PASS_SIZE = 200;

// ------------------------------------------------------------------------------------
// Options
// ------------------------------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    messages: { type: "string" },
    "poll-seconds": { type: "string" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(`usage: bench/mail [options]
  --quick            smoke run: 100 messages; writes bench/out/BENCHMARKS.quick.md
  --messages N       request mails in each mailbox (default 1000; --quick 100)
  --poll-seconds N   Sigil's imap.pollSeconds for the runs (default 1, the least it takes;
                     Sigil's own default is 60)
  --out FILE         where to write the report (default BENCHMARKS.md)
  --keep             keep the temporary folder (homes, logs, fetchmail's drop folders)
  --tmp DIR          parent of the temporary folder (default the OS temp dir)
Needs root (dovecot), the vmail user and dovecot-imapd, fetchmail, procmail, mpack:
bench/mail-deps.sh installs them (bench/mail runs it).
`);
  process.exit(0);
}

function positiveInt(s: string, what: string): number {
  const n = Number(s.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: not a positive integer: ${s}`);
  return n;
}

const N = opt.messages ? positiveInt(opt.messages, "--messages") : opt.quick ? 100 : 1000;
const pollSeconds = opt["poll-seconds"] ? positiveInt(opt["poll-seconds"], "--poll-seconds") : 1;
const outFile = resolve(
  opt.out ?? (opt.quick ? join(ROOT, "bench", "out", "BENCHMARKS.quick.md") : "BENCHMARKS.md"),
);
const command = ["bench/mail", ...process.argv.slice(2)].join(" ");

// ------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------

const started = Date.now();
const loadStart = loadavg();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t}s] ${msg}\n`);
}

if (process.getuid?.() !== 0) {
  process.stderr.write("bench/mail needs root: dovecot switches to the vmail user\n");
  process.exit(1);
}
for (const tool of ["fetchmail", "procmail", "munpack"])
  if (run("sh", ["-c", `command -v ${tool}`], { check: false }).status !== 0) {
    process.stderr.write(`bench/mail needs ${tool}: run bench/mail-deps.sh as root\n`);
    process.exit(1);
  }

const tmp = mkdtempSync(join(opt.tmp ? resolve(opt.tmp) : tmpdir(), "sigil-bench-mail-"));
chmodSync(tmp, 0o755);
log(`working in ${tmp}`);

/** Children to stop on every way out. */
const children = new Set<ChildProcess>();
let dovecot: Dovecot | undefined;
const killChildren = () => {
  for (const c of children) c.kill("SIGKILL");
};
process.on("exit", killChildren);
let interrupted = false;
/**
 * `p`, except that once the benchmark is interrupted its failure (a killed child, a closed
 * IMAP session) never settles: the signal handler finishes stopping dovecot and exits.
 */
const settle = <T>(p: Promise<T>): Promise<T> =>
  p.catch((e: unknown) => (interrupted ? new Promise<never>(() => undefined) : Promise.reject(e)));
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench/mail: ${sig}: stopping\n`);
    killChildren();
    void (dovecot?.stop() ?? Promise.resolve()).finally(() => {
      if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
      process.exit(130);
    });
  });

function versionOf(pkg: string): string {
  const r = run("dpkg-query", ["-W", "-f", "${Version}", pkg], { check: false });
  return r.status === 0 ? r.stdout.trim() : "unknown";
}

// ------------------------------------------------------------------------------------
// The mail system and the requests
// ------------------------------------------------------------------------------------

const USERS = [
  "sigil-queue",
  "sigil-sign",
  "sigil-profile",
  "imap-alone",
  "fetchmail-procmail",
  "fetchmail-munpack",
];
log(`starting a private dovecot (users ${USERS.join(", ")})`);
dovecot = await startDovecot({
  users: USERS.map((name) => ({ name, password: `pw-${randomBytes(8).toString("hex")}` })),
});
const dc = dovecot;
const loginOf = (user: string): ImapLogin => ({
  host: dc.host,
  port: dc.port,
  user,
  password: dc.users.find((u) => u.name === user)!.password,
});
const masterPid = (): number => Number(readFileSync(join(dc.dir, "run", "master.pid"), "utf8").trim());

log(`building ${N} request mails (P-256 keys and requests in-process, MailComposer)`);
const tGen = performance.now();
const mails: RequestMail[] = await settle(
  makeRequestMails(N, `bench-mail-${randomBytes(4).toString("hex")}`),
);
const genMs = performance.now() - tGen;
const mailBytes = mails.reduce((a, m) => a + m.raw.length, 0);
log(`  ${F.ms(genMs)}, ${F.int(mailBytes / N)} bytes per message`);

/** Fills a user's INBOX with every request mail; checks the count. */
async function fill(user: string): Promise<number> {
  const ms = await loadMailbox(loginOf(user), mails);
  const w = await watchMailbox(loginOf(user));
  const c = await w.counts(["INBOX"]);
  await w.close();
  if (c.INBOX !== N) throw new Error(`${user}/INBOX holds ${c.INBOX} messages after loading ${N}`);
  log(`  loaded ${N} messages into ${user}/INBOX in ${F.ms(ms)} (${F.rate((N / ms) * 1000)}; not timed)`);
  return ms;
}

// ------------------------------------------------------------------------------------
// Sigil
// ------------------------------------------------------------------------------------

const template = join(tmp, "home-template");
log("sigil init (the genfic hierarchy; the home is copied for each run)");
run(process.execPath, [SIGIL_BIN, "init"], {
  env: { ...process.env, SIGIL_HOME: template, SIGIL_PASSPHRASE: BENCH_PASSPHRASE },
});

const STAFF_RULE = {
  name: "staff",
  ca: "genfic-user",
  channels: ["mail"],
  senderDomains: ["genfic.com"],
  emails: ["*@genfic.com"],
};

/** A copy of the template home whose sigil.json reads `user`'s mailbox. */
function makeHome(name: string, user: string, autoApprove: boolean): string {
  const home = join(tmp, `home-${name}`);
  cpSync(template, home, { recursive: true });
  const file = join(home, "sigil.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  config.imap = {
    host: dc.host,
    port: dc.port,
    secure: false,
    starttls: false,
    user,
    passwordEnv: IMAP_PASS_ENV,
    pollSeconds,
  };
  config.intake = {
    ca: "genfic-user",
    acceptSenderDomains: ["genfic.com"],
    autoApprove: autoApprove ? [STAFF_RULE] : [],
  };
  // The mails carry the delivering MTA's DKIM verdict: the staff rule signs on it.
  config.mail = { trustedAuthservIds: [BENCH_MTA] };
  writeFileSync(file, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  return home;
}

/** A pino line of serve's. */
interface LogLine {
  time: number;
  msg?: string;
  outcome?: string;
  duplicate?: boolean;
  requests?: Array<{ id: number; state: string }>;
  level?: number;
  err?: string;
}

/** What the database holds after a run. */
interface DbState {
  requests: Record<string, number>;
  certificates: number;
  /** Issued certificates whose pre-signed OCSP answer is stored. */
  ocspAnswers: number;
  outbox: number;
  intakeLog: number;
  intakeMoved: number;
}

function dbState(home: string): DbState {
  const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
  try {
    const one = (q: string) => (db.prepare(q).get() as { n: number }).n;
    const requests: Record<string, number> = {};
    for (const r of db
      .prepare("SELECT state, count(*) AS n FROM requests WHERE channel = 'mail' GROUP BY state")
      .all() as Array<{ state: string; n: number }>)
      requests[r.state] = r.n;
    return {
      requests,
      certificates: one(
        "SELECT count(*) AS n FROM certificates WHERE profile != 'ocsp' AND id IN (SELECT certificate_id FROM requests WHERE channel = 'mail')",
      ),
      ocspAnswers: one(
        "SELECT count(*) AS n FROM ocsp_responses o JOIN requests r ON r.certificate_id = o.cert_id WHERE r.channel = 'mail' AND o.der IS NOT NULL",
      ),
      outbox: one("SELECT count(*) AS n FROM outbox"),
      intakeLog: one("SELECT count(*) AS n FROM intake_log WHERE channel = 'mail'"),
      intakeMoved: one("SELECT count(*) AS n FROM intake_log WHERE channel = 'mail' AND moved = 1"),
    };
  } finally {
    db.close();
  }
}

/** One `sigil serve` run. */
interface SigilRun {
  name: string;
  label: string;
  autoApprove: boolean;
  loadMs: number;
  /** Spawn to the banner on stderr. */
  bannerMs: number;
  /** Spawn to INBOX empty and Processed + Rejected = N (the headline). */
  doneMs: number;
  perSec: number;
  /** Spawn to the "IMAP mailbox open" log line (logged in, INBOX selected). */
  imapOpenMs: number;
  /** Spawn to the first "mail taken in" log line. */
  firstTakeMs: number;
  /** First to last "mail taken in" line. */
  takeSpanMs: number;
  /** (taken - 1) / takeSpan: the rate once running. */
  steadyPerSec: number;
  /** The same with the pauses taken out of the span. */
  steadyNoPausePerSec: number;
  /** Pauses over 500 ms between two consecutive messages (the waits between passes). */
  gaps: number[];
  /** The stretches between pauses: messages taken in and first-to-last time of each. */
  stretches: Array<{ messages: number; ms: number }>;
  taken: number;
  processed: number;
  rejected: number;
  duplicates: number;
  logErrors: string[];
  db: DbState;
  auditOk: boolean;
  cpuSeconds: number;
  peakRssKb: number | null;
  dovecotCpuSeconds: number;
  /** CPU the rest of the machine used meanwhile (busy time less serve, dovecot and this process). */
  otherCpuSeconds: number;
}

/** CPU seconds this benchmark process has used. */
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function runSigil(name: string, label: string, user: string, autoApprove: boolean): Promise<SigilRun> {
  log(`Sigil (${name}): ${label}`);
  const home = makeHome(name, user, autoApprove);
  const loadMs = await fill(user);
  const watch = await watchMailbox(loginOf(user));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SIGIL_HOME: home,
    SIGIL_PASSPHRASE: BENCH_PASSPHRASE,
    [IMAP_PASS_ENV]: loginOf(user).password,
  };
  const dovecotCpu0 = treeCpu(masterPid());
  const busy0 = machineBusyCpu();
  const self0 = selfCpu();
  let stdout = "";
  let stderr = "";
  const epoch0 = Date.now();
  const t0 = performance.now();
  const child = spawn(process.execPath, [SIGIL_BIN, "serve", "--workers", "1", "--listen", "127.0.0.1:0"], {
    env,
    cwd: tmp,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  let exited = false;
  const exit = new Promise<number | null>((r) =>
    child.once("exit", (code) => {
      exited = true;
      r(code);
    }),
  );
  const fail = (what: string) =>
    new Error(
      `sigil serve (${name}) ${what}\nstderr:\n${stderr.slice(-3000)}\nstdout:\n${stdout.slice(-3000)}`,
    );

  let bannerMs = NaN;
  let doneMs = NaN;
  let last = { INBOX: N, Processed: 0, Rejected: 0 } as Record<string, number>;
  const deadline = Date.now() + Math.max(600_000, N * 2000);
  try {
    for (;;) {
      if (exited) throw fail("exited early");
      if (Number.isNaN(bannerMs) && /listening on http:\/\//.test(stderr)) {
        bannerMs = performance.now() - t0;
        log(`  banner after ${F.ms(bannerMs)}`);
      }
      last = await watch.counts(["INBOX", "Processed", "Rejected"]);
      if (last.INBOX === 0 && last.Processed! + last.Rejected! >= N) {
        doneMs = performance.now() - t0;
        break;
      }
      if (Date.now() > deadline) throw fail(`did not empty the mailbox in time: ${JSON.stringify(last)}`);
      await sleep(50);
    }
    if (Number.isNaN(bannerMs)) {
      // done before the banner was seen in a poll: wait for it (it is printed after the jobs start)
      while (!/listening on http:\/\//.test(stderr) && !exited) await sleep(10);
      bannerMs = performance.now() - t0;
    }
  } finally {
    await watch.close();
  }
  const cpuSeconds = processCpu(child.pid!);
  const busySeconds = machineBusyCpu() - busy0;
  const selfSeconds = selfCpu() - self0;
  const rss = peakRssKb(child.pid!);
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const code = await exit;
  clearTimeout(killer);
  children.delete(child);
  await sleep(200); // dovecot reaps the imap process of Sigil's session
  const dovecotCpuSeconds = treeCpu(masterPid()) - dovecotCpu0;
  if (code !== 0) log(`  note: sigil serve exited ${code} after SIGTERM`);
  writeFileSync(join(tmp, `serve-${name}.log`), stdout);
  writeFileSync(join(tmp, `serve-${name}.stderr`), stderr);

  const lines: LogLine[] = stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
  const takes = lines.filter((l) => l.msg === "mail taken in");
  const times = takes.map((l) => l.time);
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++)
    if (times[i]! - times[i - 1]! > 500) gaps.push(times[i]! - times[i - 1]!);
  const stretches: Array<{ messages: number; ms: number }> = [];
  for (let i = 1, start = 0; i <= times.length; i++)
    if (i === times.length || times[i]! - times[i - 1]! > 500) {
      stretches.push({ messages: i - start, ms: times[i - 1]! - times[start]! });
      start = i;
    }
  const firstTakeMs = times.length ? times[0]! - epoch0 : NaN;
  const opened = lines.find((l) => l.msg === "IMAP mailbox open");
  const imapOpenMs = opened ? opened.time - epoch0 : NaN;
  const takeSpanMs = times.length > 1 ? times[times.length - 1]! - times[0]! : NaN;
  const db = dbState(home);
  const audit = run(process.execPath, [SIGIL_BIN, "audit", "verify"], { env, check: false });
  const r: SigilRun = {
    name,
    label,
    autoApprove,
    loadMs,
    bannerMs,
    doneMs,
    perSec: (N / doneMs) * 1000,
    firstTakeMs,
    takeSpanMs,
    steadyPerSec: ((times.length - 1) / takeSpanMs) * 1000,
    steadyNoPausePerSec: ((times.length - 1) / (takeSpanMs - gaps.reduce((a, b) => a + b, 0))) * 1000,
    imapOpenMs,
    gaps,
    stretches,
    taken: takes.length,
    processed: last.Processed ?? 0,
    rejected: last.Rejected ?? 0,
    duplicates: takes.filter((l) => l.duplicate).length,
    logErrors: lines.filter((l) => (l.level ?? 0) >= 50).map((l) => `${l.msg}: ${l.err ?? ""}`),
    db,
    auditOk: audit.status === 0 && /audit chain OK/.test(audit.stdout + audit.stderr),
    cpuSeconds,
    peakRssKb: rss,
    dovecotCpuSeconds,
    otherCpuSeconds: Math.max(0, busySeconds - cpuSeconds - dovecotCpuSeconds - selfSeconds),
  };
  log(
    `  ${F.int(N)} messages in ${F.ms(doneMs)} from start: ${F.rate(r.perSec)}; ` +
      `first taken in after ${F.ms(firstTakeMs)}, then ${F.rate(r.steadyPerSec)}; ` +
      `${gaps.length} pause(s) over 0.5 s totalling ${F.ms(gaps.reduce((a, b) => a + b, 0))}`,
  );
  const want = autoApprove ? "issued" : "pending";
  const signedAll = db.certificates === N && db.ocspAnswers === N && db.outbox === N;
  if (
    r.processed !== N ||
    r.taken !== N ||
    (db.requests[want] ?? 0) !== N ||
    db.intakeMoved !== N ||
    !r.auditOk ||
    (autoApprove && !signedAll)
  )
    throw fail(
      `did not do all its work: Processed ${r.processed}, Rejected ${r.rejected}, taken in ${r.taken}, requests ${JSON.stringify(db.requests)}, moved ${db.intakeMoved}, audit ${r.auditOk ? "OK" : "not OK"}`,
    );
  log(
    `  Processed ${r.processed}, Rejected ${r.rejected}; requests ${JSON.stringify(db.requests)}, ` +
      `certificates ${db.certificates}, OCSP answers ${db.ocspAnswers}, replies queued ${db.outbox}, ` +
      `intake log ${db.intakeLog} (${db.intakeMoved} moved); audit ${r.auditOk ? "OK" : "NOT OK"}; ` +
      `other processes used ${r.otherCpuSeconds.toFixed(2)} CPU s meanwhile`,
  );
  return r;
}

// ------------------------------------------------------------------------------------
// The anchor: fetchmail -> (procmail ->) munpack
// ------------------------------------------------------------------------------------

interface FetchmailRun {
  name: string;
  label: string;
  mda: string;
  loadMs: number;
  /** Spawn to the later of fetchmail's exit and the last request file's last write. */
  ms: number;
  /** Spawn to fetchmail's exit. */
  exitMs: number;
  perSec: number;
  status: number;
  /** .csr files in the drop folder holding a PEM request. */
  csrFiles: number;
  otherFiles: string[];
  inboxLeft: number;
  /** fetchmail and everything it ran (procmail, sh, munpack), user + system. */
  cpuSeconds: number;
  dovecotCpuSeconds: number;
  /** CPU the rest of the machine used meanwhile. */
  otherCpuSeconds: number;
  output: string;
}

function runFetchmail(name: string, label: string, user: string, viaProcmail: boolean) {
  return async (): Promise<FetchmailRun> => {
    log(`anchor (${name}): ${label}`);
    const dir = join(tmp, `fetchmail-${name}`);
    const drop = join(dir, "requests");
    mkdirSync(drop, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    let mda: string;
    if (viaProcmail) {
      const rc = join(dir, "procmailrc");
      // The handbook's recipe (with the `:0` line a recipe starts with).
      writeFileSync(
        rc,
        ["SHELL=/bin/sh", `CSR_DROP_DIR=${drop}`, ":0", "* ^To:", '| munpack -q -C "$CSR_DROP_DIR"', ""].join(
          "\n",
        ),
        { mode: 0o600 },
      );
      mda = `/usr/bin/procmail -m ${rc}`;
    } else mda = `munpack -q -C ${drop}`;
    const login = loginOf(user);
    const rcFile = join(dir, "fetchmailrc");
    // fetchmail wants its rc file private (0600) and owned by whoever runs it.
    writeFileSync(
      rcFile,
      [
        "set no syslog",
        `poll ${login.host} service ${login.port} protocol IMAP`,
        `  user "${login.user}" password "${login.password}"`,
        // no TLS, as Sigil's runs (`starttls: false`): fetchmail 6.4 otherwise insists on STARTTLS
        "  sslproto ''",
        "  nokeep",
        `  mda "${mda}"`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const loadMs = await fill(user);
    const dovecotCpu0 = treeCpu(masterPid());
    const cpu0 = waitedChildrenCpu();
    const busy0 = machineBusyCpu();
    const r = run("fetchmail", ["-f", rcFile, "--nosyslog"], {
      env: { ...process.env, FETCHMAILHOME: dir, HOME: dir },
      check: false,
    });
    const exitEpoch = Date.now();
    // procmail does not wait for a pipe action without the `w` flag (the handbook's recipe
    // has none): munpacks may still be writing when fetchmail exits. The clock stops at the
    // later of fetchmail's exit and the last request file's last write.
    const complete = (f: string) => {
      const t = readFileSync(join(drop, f), "latin1");
      return (
        t.startsWith("-----BEGIN CERTIFICATE REQUEST-----") && t.includes("-----END CERTIFICATE REQUEST-----")
      );
    };
    const csrNames = () => readdirSync(drop).filter((f) => f.endsWith(".csr"));
    for (const until = Date.now() + 30_000; Date.now() < until; await sleep(20))
      if (r.status !== 0 || csrNames().filter(complete).length >= N) break;
    const busySeconds = machineBusyCpu() - busy0;
    const cpuSeconds = waitedChildrenCpu() - cpu0;
    const lastWrite = Math.max(0, ...csrNames().map((f) => statSync(join(drop, f)).mtimeMs));
    const endEpoch = Math.max(exitEpoch, lastWrite);
    const ms = r.ms + (endEpoch - exitEpoch);
    await sleep(200);
    const dovecotCpuSeconds = treeCpu(masterPid()) - dovecotCpu0;
    const output = r.stdout + r.stderr;
    writeFileSync(join(dir, "fetchmail.out"), output);
    let csrFiles = 0;
    const otherFiles: string[] = [];
    for (const f of readdirSync(drop)) {
      if (f.endsWith(".csr") && complete(f)) csrFiles++;
      else otherFiles.push(f);
    }
    const w = await watchMailbox(login);
    const inboxLeft = (await w.counts(["INBOX"])).INBOX ?? NaN;
    await w.close();
    const res: FetchmailRun = {
      name,
      label,
      mda,
      loadMs,
      ms,
      exitMs: r.ms,
      perSec: (N / ms) * 1000,
      status: r.status,
      csrFiles,
      otherFiles,
      inboxLeft,
      cpuSeconds,
      dovecotCpuSeconds,
      otherCpuSeconds: Math.max(0, busySeconds - cpuSeconds - dovecotCpuSeconds),
      output,
    };
    log(
      `  fetchmail exited ${r.status} after ${F.ms(r.ms)}, the last request was written after ${F.ms(ms)}: ` +
        `${F.rate(res.perSec)}; ${csrFiles} .csr files dropped` +
        `${otherFiles.length ? `, ${otherFiles.length} other files` : ""}; ${inboxLeft} left in INBOX; ` +
        `other processes used ${res.otherCpuSeconds.toFixed(2)} CPU s meanwhile`,
    );
    if (r.status !== 0 || csrFiles !== N || inboxLeft !== 0)
      throw new Error(
        `${label} did not take all ${N} messages (exit ${r.status}, ${csrFiles} requests dropped, ${inboxLeft} left); fetchmail said:\n${output.trim().split("\n").slice(-10).join("\n")}`,
      );
    return res;
  };
}

// ------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------

const sigilA = await settle(
  runSigil(
    "a",
    "queue only (no auto-approval rule: every request recorded, checked and left pending)",
    "sigil-queue",
    false,
  ),
);
const sigilB = await settle(
  runSigil(
    "b",
    "auto-approval rule `staff`: every request signed, OCSP answer pre-signed, reply queued",
    "sigil-sign",
    true,
  ),
);
const fmProcmail = await settle(
  runFetchmail(
    "procmail",
    "fetchmail -> procmail (handbook recipe) -> munpack",
    "fetchmail-procmail",
    true,
  )(),
);
const fmMunpack = await settle(
  runFetchmail("munpack", "fetchmail -> munpack (MDA, no procmail)", "fetchmail-munpack", false)(),
);

log("Sigil's IMAP traffic alone: its client, FETCH 200 per pass, MOVE each to Processed, nothing else");
const aloneLoadMs = await settle(fill("imap-alone"));
const alone = await settle(imapPatternAlone(loginOf("imap-alone"), PASS_SIZE, MAX_MESSAGE_BYTES));
if (alone.moved !== N) throw new Error(`the IMAP pattern alone moved ${alone.moved} of ${N} messages`);
const alonePerSec = (N / alone.ms) * 1000;
log(`  ${N} messages moved in ${F.ms(alone.ms)}: ${F.rate(alonePerSec)}`);

log("where the time goes: the intake in-process with timers, auto-approval on (as in b)");
const profHome = makeHome("profile", "sigil-profile", true);
const profLoadMs = await settle(fill("sigil-profile"));
process.env[IMAP_PASS_ENV] = loginOf("sigil-profile").password;
const prof: IntakeProfile = await settle(
  profileIntake(
    profHome,
    BENCH_PASSPHRASE,
    join(tmp, "profile.log"),
    mails.map((m) => m.raw),
    MAX_MESSAGE_BYTES,
  ),
);
delete process.env[IMAP_PASS_ENV];
if (prof.processed !== N)
  throw new Error(`the in-process intake processed ${prof.processed} of ${N} messages`);
log(
  `  ${prof.messages} messages in ${F.ms(prof.loopMs)} (${F.rate((prof.messages / prof.loopMs) * 1000)}), ${prof.passes} passes` +
    `${prof.overlaps ? `; ${prof.overlaps} overlapping timed calls` : ""}`,
);

await dovecot.stop();
dovecot = undefined;
const totalMs = Date.now() - started;
const loadEnd = loadavg();

// ------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------

const anchor = fmProcmail;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const machine = machineInfo();
const versions = {
  dovecot: run("dovecot", ["--version"], { check: false }).stdout.trim() || versionOf("dovecot-imapd"),
  fetchmail: versionOf("fetchmail"),
  procmail: versionOf("procmail"),
  mpack: versionOf("mpack"),
};

/** Did a Sigil run do all of its work? One line for the table. */
function sigilDid(r: SigilRun): string {
  const req = r.db.requests;
  const parts = [
    `Processed ${F.int(r.processed)}`,
    `Rejected ${F.int(r.rejected)}`,
    r.autoApprove
      ? `issued ${F.int(req.issued ?? 0)}, certificates ${F.int(r.db.certificates)}, OCSP answers ${F.int(r.db.ocspAnswers)}, replies queued ${F.int(r.db.outbox)}`
      : `pending ${F.int(req.pending ?? 0)}, replies queued ${F.int(r.db.outbox)}`,
    `intake log ${F.int(r.db.intakeLog)} (${F.int(r.db.intakeMoved)} marked moved)`,
    `audit chain ${r.auditOk ? "OK" : "**not OK**"}`,
  ];
  const other = Object.entries(req).filter(([k]) => k !== (r.autoApprove ? "issued" : "pending"));
  if (other.length) parts.push(`other request states: ${other.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  if (r.duplicates) parts.push(`${r.duplicates} duplicates`);
  if (r.logErrors.length) parts.push(`${r.logErrors.length} error lines in the log`);
  return parts.join("; ");
}

function fetchmailDid(r: FetchmailRun): string {
  return [
    `exit ${r.status}`,
    `${F.int(r.csrFiles)} .csr files`,
    r.otherFiles.length
      ? `${F.int(r.otherFiles.length)} other files (${r.otherFiles.slice(0, 3).join(", ")})`
      : "",
    `${F.int(r.inboxLeft)} left in INBOX`,
  ]
    .filter(Boolean)
    .join("; ");
}

const ratioTo = (perSec: number) => F.ratio(perSec / anchor.perSec);
const passes = Math.ceil(N / PASS_SIZE);
const steps = [...prof.steps].sort((a, b) => b.exclusiveMs - a.exclusiveMs);
const stepTotal = sum(steps.map((s) => s.exclusiveMs));
const perMsg = (ms: number) => F.ms(ms / Math.max(1, prof.messages));
const gapLine = (r: SigilRun) =>
  r.gaps.length ? `${r.gaps.length} (${r.gaps.map((g) => F.ms(g)).join(", ")})` : "none";

const otherLoad = (cpuSeconds: number, wallMs: number) =>
  `${(cpuSeconds / (wallMs / 1000)).toFixed(2)} cores`;
const allGaps = [...sigilA.gaps, ...sigilB.gaps];
const stretchCols = [...Array(Math.max(sigilA.stretches.length, sigilB.stretches.length)).keys()];
const pauseNote =
  passes <= 1
    ? `With ${F.int(N)} messages one pass takes them all, so no such wait shows here.`
    : `With ${F.int(N)} messages that is ${passes} passes: the runs above show ${sigilA.gaps.length} and ${sigilB.gaps.length} pauses over 0.5 s` +
      `${allGaps.length ? ` (${F.ms(Math.min(...allGaps))} to ${F.ms(Math.max(...allGaps))} each)` : ""} with \`pollSeconds: ${pollSeconds}\`; ` +
      `with Sigil's default of 60 each would be about 60 s, some ${F.int((passes - 1) * 60)} s more for this mailbox.`;

const md: string[] = [];
md.push(`## E-mail intake (\`bench/mail\`)

Written by \`${command}\` on ${new Date(started).toISOString().slice(0, 16).replace("T", " ")} UTC; the run took ${F.ms(totalMs)}.
Machine: ${machine.cpu}, ${machine.nproc} cores (nproc), ${machine.memGb} GB; Node ${machine.node};
dovecot ${versions.dovecot}, fetchmail ${versions.fetchmail}, procmail ${versions.procmail}, mpack ${versions.mpack} (Debian packages).
Load average ${loadStart.map((x) => x.toFixed(2)).join(" ")} at the start and ${loadEnd.map((x) => x.toFixed(2)).join(" ")} at the end (the machine is shared:
absolute figures are lower bounds; the pipelines ran seconds apart in the same run). Nothing is asserted;
\`bench/mail\` only measures, checks that each pipeline did all its work, prints and writes this section.

Each pipeline empties its own mailbox of ${F.int(N)} distinct request mails (one per sender, each with its own
Message-ID and P-256 request), freshly APPENDed to a private dovecot on 127.0.0.1 (plain IMAP, no TLS) before
its clock starts. Messages per second = ${F.int(N)} / the time; "vs anchor" = that rate / the anchor's rate.

| pipeline | what it does per message | time | messages/s | vs anchor | other processes meanwhile |
| --- | --- | --- | --- | --- | --- |
| Sigil (a): \`sigil serve --workers 1\`, queue only | records the request with its checks (CSR, signature, key, policy), the intake log entry and audit events in SQLite; MOVEs the message to Processed | ${F.ms(sigilA.doneMs)} | ${F.rate(sigilA.perSec)} | ${ratioTo(sigilA.perSec)} | ${otherLoad(sigilA.otherCpuSeconds, sigilA.doneMs)} |
| Sigil (b): the same with an auto-approval rule | (a), then signs the certificate, pre-signs its OCSP answer and queues the reply mail | ${F.ms(sigilB.doneMs)} | ${F.rate(sigilB.perSec)} | ${ratioTo(sigilB.perSec)} | ${otherLoad(sigilB.otherCpuSeconds, sigilB.doneMs)} |
| **anchor**: \`fetchmail\` → \`procmail\` (handbook recipe) → \`munpack\` | writes the attachment (and the text part) to files; deletes the message | ${F.ms(fmProcmail.ms)} | ${F.rate(fmProcmail.perSec)} | 1× | ${otherLoad(fmProcmail.otherCpuSeconds, fmProcmail.ms)} |
| \`fetchmail\` → \`munpack\` as the MDA (no procmail) | the same, one process fewer per message | ${F.ms(fmMunpack.ms)} | ${F.rate(fmMunpack.perSec)} | ${ratioTo(fmMunpack.perSec)} | ${otherLoad(fmMunpack.otherCpuSeconds, fmMunpack.ms)} |

Sigil's time runs from spawning \`sigil serve\` (Node start-up, CA and OCSP responder key unlock, IMAP log-in
included) until a STATUS poll (every 50 ms, on a separate IMAP session) sees INBOX empty and Processed
holding ${F.int(N)}. fetchmail's runs from spawning \`fetchmail -f RC\` (one poll, no daemon) until it has exited
and the last request file is written (procmail does not wait for a pipe action without the \`w\` flag, and the
handbook's recipe has none: its munpacks may outlive fetchmail).
"Other processes meanwhile": CPU the rest of the machine used during that time (/proc/stat busy time less the
pipeline's own processes, dovecot and this benchmark), in cores: near 0 means the figure had the machine to itself.
In the procmail row it also holds the munpacks procmail leaves running on their own (not waited for, so not
counted as fetchmail's).

What each pipeline left (checked after the run; Sigil's from its database and \`sigil audit verify\`):

| pipeline | end state |
| --- | --- |
| Sigil (a) | ${sigilDid(sigilA)} |
| Sigil (b) | ${sigilDid(sigilB)} |
| fetchmail → procmail → munpack | ${fetchmailDid(fmProcmail)} |
| fetchmail → munpack | ${fetchmailDid(fmMunpack)} |

### Sigil's runs in detail

From serve's own log: the pino \`time\` of "IMAP mailbox open" and of each "mail taken in" line (written
after the message's transaction, before its MOVE). "Pauses" are gaps over 0.5 s between two messages.

| run | start → IMAP open | start → first taken in | first → last taken in | rate once running | pauses | the same without the pauses | CPU (serve) | peak RSS (serve) | CPU (dovecot) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${[sigilA, sigilB]
  .map(
    (r) =>
      `| (${r.name}) | ${F.ms(r.imapOpenMs)} | ${F.ms(r.firstTakeMs)} | ${F.ms(r.takeSpanMs)} | ${F.rate(r.steadyPerSec)} | ${gapLine(r)} | ${F.rate(r.steadyNoPausePerSec)} | ${r.cpuSeconds.toFixed(2)} s | ${F.mb(r.peakRssKb)} | ${r.dovecotCpuSeconds.toFixed(2)} s |`,
  )
  .join("\n")}

Between the pauses, in order (one stretch per pass of up to ${PASS_SIZE} messages, first to last "taken in"):

| run | ${stretchCols.map((i) => `stretch ${i + 1}`).join(" | ")} |
| --- | ${stretchCols.map(() => "---").join(" | ")} |
${[sigilA, sigilB]
  .map(
    (r) =>
      `| (${r.name}) | ${stretchCols
        .map((i) => {
          const x = r.stretches[i];
          return x
            ? `${F.int(x.messages)} in ${F.ms(x.ms)} (${F.ms(x.ms / Math.max(1, x.messages - 1))}/msg)`
            : "";
        })
        .join(" | ")} |`,
  )
  .join("\n")}

| anchor run | fetchmail exits | last request written | CPU (fetchmail and all it waited for) | CPU (dovecot) |
| --- | --- | --- | --- | --- |
${[fmProcmail, fmMunpack]
  .map(
    (r) =>
      `| ${r.label} | ${F.ms(r.exitMs)} | ${F.ms(r.ms)} | ${r.cpuSeconds.toFixed(2)} s | ${r.dovecotCpuSeconds.toFixed(2)} s |`,
  )
  .join("\n")}

### Where Sigil's time goes

Sigil's IMAP traffic alone, with its own client (\`ImapMailbox\`: log in, FETCH up to ${PASS_SIZE} per pass, MOVE
each message to Processed; nothing parsed or stored), over another fresh mailbox of ${F.int(N)}: ${F.ms(alone.ms)},
**${F.rate(alonePerSec)}**, the ceiling of that pattern on this dovecot (${F.ratio(alonePerSec / anchor.perSec)} the anchor). Its MOVEs per pass, by the
INBOX size at the pass's start: ${alone.passes.map((p) => `${F.int(p.inbox)}: ${F.ms(p.moveMs / Math.max(1, p.moved))}/msg`).join(", ")}.

The intake once more, in-process (the objects \`sigil serve\` composes: \`openContext\`, \`RequestQueue\`,
\`ImapIntake\`; keys unlocked as serve unlocks them; auto-approval as in (b)), over a fresh mailbox of
${F.int(N)}, with \`runOnce\` called back to back until the mailbox was empty (no waits between passes):
${F.int(prof.messages)} messages in ${F.ms(prof.loopMs)}, **${F.rate((prof.messages / prof.loopMs) * 1000)}**, ${prof.passes} passes.
Each step's own time (the timed steps inside it excluded), per message and in all${prof.overlaps ? `; ${prof.overlaps} timed calls overlapped, so the split is approximate` : ""}:

${F.table(
  ["step", "calls", "per message", "total", "share"],
  steps.map((s) => [
    s.step,
    F.int(s.calls),
    perMsg(s.exclusiveMs),
    F.ms(s.exclusiveMs),
    F.pct(s.exclusiveMs / stepTotal),
  ]),
)}

\`parseMail\` alone over the same messages, in a loop: ${F.ms(prof.parseMailMs)} per message (the larger part of the
"runOnce" row, which also holds the sender checks, the log line and, in the first pass, the IMAP log-in).

### Method and fairness notes

- The requests: ${F.int(N)} mails built with nodemailer's MailComposer (${F.int(mailBytes / N)} bytes each on average): From
  \`Bench User i <benchNNNNN@genfic.com>\`, a \`Return-Path\` of the same address (as a delivering MTA adds), a text
  part, and the PEM request attached as \`benchNNNNN.csr\` (subject
  \`/O=Gentoo Fictional, Inc./CN=Bench User i/emailAddress=<sender>\`, its own P-256 key; built in-process with
  \`buildCsr\`, ${F.ms(genMs)} for all). Each mailbox was loaded over one IMAP session with APPEND
  (${[sigilA.loadMs, sigilB.loadMs, fmProcmail.loadMs, fmMunpack.loadMs, aloneLoadMs, profLoadMs].map((m) => F.ms(m)).join(", ")}
  for the six mailboxes), which is in no figure.
- Sigil: a home made once with \`sigil init\` (P-256 genfic hierarchy) and copied for each run; \`sigil.json\` adds
  \`imap\` (127.0.0.1, plain, \`starttls: false\`, \`passwordEnv\`, \`pollSeconds: ${pollSeconds}\`) and \`intake\`
  (\`ca: "genfic-user"\`, \`acceptSenderDomains: ["genfic.com"]\`, and in (b) the rule
  \`${JSON.stringify(STAFF_RULE)}\`). No \`smtp\` section: replies stay queued in the outbox; sending is not measured.
  Every message is recorded in SQLite (WAL) with its checks, keyed by Message-ID with exactly-once bookkeeping
  (the intake log entry is written in the message's transaction and marked moved after the IMAP MOVE, so a crash
  between the two neither loses nor repeats it), audited in the hash chain, and moved to Processed (or Rejected)
  on the server, where it stays. In (b) each is also signed under the user profile, its OCSP answer signed and
  stored in the same transaction, and a reply with the certificate and chain queued.
- fetchmail: one poll, \`fetchmail -f RC --nosyslog\` as root, with \`FETCHMAILHOME\` and \`HOME\` in the run's folder;
  RC (mode 0600, as fetchmail requires) = \`set no syslog\` / \`poll 127.0.0.1 service PORT protocol IMAP\` /
  \`user ... password ... sslproto '' nokeep mda "..."\` (\`sslproto ''\`: no STARTTLS, like Sigil's runs; fetchmail
  6.4 otherwise insists on it). The MDA is \`procmail -m RCFILE\` with the handbook's recipe (\`:0\` / \`* ^To:\` /
  \`| munpack -q -C "$CSR_DROP_DIR"\`), or \`munpack -q -C DIR\` itself. fetchmail runs the MDA once per message
  (through \`sh -c\`), then flags the message deleted and expunges it (an EXPUNGE after each deletion: its IMAP
  default). Through procmail the munpacks are not waited for, so they overlap with fetching the next messages and
  may use the second core. munpack only writes files: nothing is parsed as a request, checked, recorded, signed
  or answered, and the mail is gone from the server. The ratio compares pipelines that do very different work
  per message: it is the throughput an operator sees, not a like-for-like cost.
- Sigil's intake reads at most ${PASS_SIZE} messages per pass (\`ImapIntake.runOnce\`'s default), then waits in
  \`waitForChange\` for IDLE news or \`imap.pollSeconds\`; its own MOVEs out of INBOX are no news (no new EXISTS), so
  it waits although messages remain.
  ${pauseNote}
- \`sigil serve\` runs the built \`dist/\` (\`npm run build\`, rebuilt by \`bench/mail\` when stale); the in-process
  runs load Sigil's TypeScript through tsx. CPU times are user + system from /proc: for fetchmail everything it ran
  and waited for; for dovecot its master and every process under it (the STATUS polling session included). Peak
  RSS is serve's VmHWM.`);

writeSection(outFile, "mail", md.join("\n"));
const jsonFile = join(ROOT, "bench", "out", opt.quick ? "mail-results.quick.json" : "mail-results.json");
mkdirSync(dirname(jsonFile), { recursive: true });
writeFileSync(
  jsonFile,
  JSON.stringify(
    {
      date: new Date(started).toISOString(),
      command,
      messages: N,
      pollSeconds,
      machine,
      versions,
      loadStart,
      loadEnd,
      totalMs,
      genMs,
      sigil: [sigilA, sigilB],
      fetchmail: [fmProcmail, fmMunpack].map((r) => ({ ...r, output: r.output.slice(-2000) })),
      profile: { ...prof, loadMs: profLoadMs },
    },
    null,
    2,
  ) + "\n",
);

process.stdout.write(
  "\n" +
    F.table(
      ["pipeline", "time", "messages/s", "vs anchor"],
      [
        ["Sigil (a) queue only", F.ms(sigilA.doneMs), F.rate(sigilA.perSec), ratioTo(sigilA.perSec)],
        ["Sigil (b) auto-approve + sign", F.ms(sigilB.doneMs), F.rate(sigilB.perSec), ratioTo(sigilB.perSec)],
        ["fetchmail -> procmail -> munpack (anchor)", F.ms(fmProcmail.ms), F.rate(fmProcmail.perSec), "1×"],
        ["fetchmail -> munpack", F.ms(fmMunpack.ms), F.rate(fmMunpack.perSec), ratioTo(fmMunpack.perSec)],
        [
          "Sigil's IMAP traffic alone (FETCH + MOVE)",
          F.ms(alone.ms),
          F.rate(alonePerSec),
          ratioTo(alonePerSec),
        ],
        [
          "Sigil (b) in-process, no pauses, timers on",
          F.ms(prof.loopMs),
          F.rate((prof.messages / prof.loopMs) * 1000),
          ratioTo((prof.messages / prof.loopMs) * 1000),
        ],
      ],
    ) +
    "\n\n" +
    F.table(
      ["where Sigil's time goes (in-process, per message)", "per message", "share"],
      steps.map((s) => [s.step, perMsg(s.exclusiveMs), F.pct(s.exclusiveMs / stepTotal)]),
    ) +
    "\n\n",
);
process.stdout.write(`report: ${outFile} (section bench/mail)\nraw figures: ${jsonFile}\n`);

if (opt.keep) log(`kept ${tmp}`);
else rmSync(tmp, { recursive: true, force: true });
