/**
 * bench/scale: Sigil with a big store. Per store kind (SQLite, PostgreSQL) one home is
 * made (`sigil init`, P-256), 2,000 real certificates are issued into it (the OCSP working
 * set), and then, for each size in turn, the store is filled in SQL with synthetic
 * certificate rows up to that size and measured: issuance rate (`sigil sign` of 2,000
 * requests), `sigil certs --expiring 30d`, `sigil crl` and the OCSP rate of `sigil serve`
 * under wrk. Written to its own section of BENCHMARKS.md (bench/lib/sections.ts).
 *
 *   bench/scale [--sizes 0,1000000,10000000] [--kinds sqlite,postgres] [--duration S] ...
 *
 * Synthetic rows: CA genfic-system, serial `ff` + 30 hex digits of the row number (Sigil's
 * own serials are 16 random octets with the top bit cleared, src/x509/serial.ts, so they
 * never start with ff at 32 digits), subject CN=synthetic-N, no SANs, profile system,
 * `der` a 2-byte placeholder (an empty SEQUENCE): the CRL (Store.revokedEntries: serial,
 * revocation time and reason), the `certs` listing (views.ts certView: no DER) and the
 * OCSP refresh and serving paths (ocsp_responses rows) never read a certificate's DER.
 * not_after is spread uniformly over [now − 2 years, now + 2 years]; every 100th row is
 * revoked (keyCompromise). Their ocsp_responses rows are "parked" as Authority.refreshOcsp
 * parks answers it need not sign (der NULL, next_update Number.MAX_SAFE_INTEGER), so the
 * refresh job leaves them alone; the OCSP load asks for the real certificates only.
 *
 * Never asserts: it measures and says whether each target of the issue is met.
 */
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { openStore } from "../src/store/open.js";
import { TABLE_LIMIT } from "../src/cli/certs.js";
import { toPem } from "../src/x509/der.js";
import * as F from "./lib/format.js";
import { machineInfo } from "./lib/machine.js";
import { buildOcspRequest, packBodies, readFirstCertId } from "./lib/ocsp-req.js";
import { run, summarize } from "./lib/proc.js";
import { writeSection } from "./lib/sections.js";
import {
  installCleanup,
  portFree,
  runWrk,
  spawnServer,
  stopServer,
  waitUntil,
  type Server,
  type WrkResult,
} from "./lib/servers.js";
import { BENCH_PASSPHRASE, dbPath, makeCsrs } from "./lib/sigil.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SIGIL_BIN = join(ROOT, "bin", "sigil.js");
const CA = "genfic-system";
/** The refresh job's "parked" next_update (src/authority/authority.ts refreshOcsp). */
const PARKED = Number.MAX_SAFE_INTEGER;
const DAY = 86_400_000;
const YEAR = 365 * DAY;
/** Synthetic rows per transaction. */
const CHUNK = 1_000_000;
/** Issuance runs and measured OCSP runs per size; the best of each is reported. */
const SIGN_RUNS = 3;
const OCSP_RUNS = 2;

type Kind = "sqlite" | "postgres";

const { values: opt } = parseArgs({
  options: {
    sizes: { type: "string" },
    kinds: { type: "string" },
    batch: { type: "string" },
    duration: { type: "string" },
    connections: { type: "string" },
    port: { type: "string" },
    "fill-budget": { type: "string" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
    tmp: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: false,
});

if (opt.help) {
  process.stdout.write(`usage: bench/scale [options]
  --sizes A,B,...  certificates in the store at each measurement, increasing
                   (default 0,1000000,10000000; 0: the working set only)
  --kinds LIST     store kinds (default sqlite,postgres)
  --batch N        real certificates: the OCSP working set, and each issuance run (default 2000)
  --duration S     seconds of each measured wrk run (default 10)
  --connections N  wrk connections (default 64; 2 threads)
  --port P         TCP port of sigil serve (default 20580)
  --fill-budget S  skip a size (and the bigger ones) of a store kind when its fill, estimated
                   from the previous fill's rate, would take more than S seconds (default: no limit)
  --out FILE       where to write the report section (default BENCHMARKS.md)
  --keep           keep the temporary folder
  --tmp DIR        parent of the temporary folder (default the OS temp dir)
`);
  process.exit(0);
}

function nonNegInt(s: string, what: string): number {
  const n = Number(s.replace(/[_,]/g, ""));
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what}: not a whole number: ${s}`);
  return n;
}

const sizes = (opt.sizes ?? "0,1000000,10000000").split(",").map((s) => nonNegInt(s, "--sizes"));
if (sizes.some((s, i) => i > 0 && s <= sizes[i - 1]!)) throw new Error("--sizes must be increasing");
const kinds = (opt.kinds ?? "sqlite,postgres").split(",").map((k) => {
  if (k !== "sqlite" && k !== "postgres") throw new Error(`--kinds: unknown store kind ${k}`);
  return k as Kind;
});
const batch = nonNegInt(opt.batch ?? "2000", "--batch");
const duration = nonNegInt(opt.duration ?? "10", "--duration");
const connections = nonNegInt(opt.connections ?? "64", "--connections");
const port = nonNegInt(opt.port ?? "20580", "--port");
const fillBudget = opt["fill-budget"] ? nonNegInt(opt["fill-budget"], "--fill-budget") : Infinity;
const outFile = resolve(opt.out ?? join(ROOT, "BENCHMARKS.md"));
const command = ["bench/scale", ...process.argv.slice(2)].join(" ");

const started = Date.now();
const loadStart = loadavg();
function log(msg: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(0).padStart(5);
  process.stderr.write(`[${t}s] ${msg}\n`);
}

const tmp = mkdtempSync(join(opt.tmp ? resolve(opt.tmp) : tmpdir(), "sigil-bench-scale-"));
installCleanup(() => {
  if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
});
log(`working in ${tmp}`);
if (!(await portFree(port))) throw new Error(`port ${port} is in use: pick another with --port`);

// ------------------------------------------------------------------------------------
// The store, straight: synthetic rows and counts
// ------------------------------------------------------------------------------------

/** SQL access to a home's database, for what the benchmark does behind Sigil's back. */
interface Db {
  count(sql: string, params?: unknown[]): Promise<number>;
  /** Adds synthetic rows numbered from+1..to (one transaction). */
  fill(caId: number, from: number, to: number, now: number): Promise<void>;
  analyze(): Promise<void>;
  close(): Promise<void>;
}

/** Column values of synthetic row n, as SQL expressions over `n` (same text in both dialects but the format call). */
function rowExprs(fmt: (n: string) => string, caId: number, now: number): string {
  const lo = now - 2 * YEAR;
  // not_after: a multiplicative hash of n modulo a prime, scaled to 4 years (uniform, not in id order).
  // (Bucketed over a prime so every product stays within a signed 64-bit integer.)
  const notAfter = `(${lo} + ((n * 2654435761) % 1000003) * ${Math.floor((4 * YEAR) / 1000003)})`;
  return `${caId}, ${fmt("n")}, 'CN=synthetic-' || n, 'synthetic-' || n, NULL, '[]', 'system',
    ${notAfter} - ${90 * DAY}, ${notAfter}, DER, 'synthetic-fingerprint-' || n,
    CASE WHEN n % 100 = 0 THEN 'revoked' ELSE 'valid' END,
    CASE WHEN n % 100 = 0 THEN ${notAfter} - ${60 * DAY} ELSE NULL END,
    CASE WHEN n % 100 = 0 THEN 1 ELSE NULL END, NULL, ${notAfter} - ${90 * DAY}`;
}

const CERT_COLS =
  "ca_id, serial_hex, subject, common_name, email, sans, profile, not_before, not_after, der, " +
  "fingerprint, status, revoked_at, revocation_reason, request_id, issued_at";

function sqliteDb(home: string): Db {
  const db = new Database(dbPath(home));
  db.pragma("busy_timeout = 10000");
  return {
    count: async (q, p = []) => Number((db.prepare(q).get(...p) as { n: number }).n),
    fill: async (caId, from, to, now) => {
      const maxId = (db.prepare("SELECT coalesce(max(id), 0) AS m FROM certificates").get() as { m: number })
        .m;
      db.transaction(() => {
        db.prepare(
          `WITH RECURSIVE cnt(n) AS (SELECT ${from + 1} UNION ALL SELECT n + 1 FROM cnt WHERE n < ${to})
           INSERT INTO certificates (${CERT_COLS})
           SELECT ${rowExprs((n) => `printf('ff%030x', ${n})`, caId, now).replace("DER", "X'3000'")} FROM cnt`,
        ).run();
        db.prepare(
          `INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update)
           SELECT id, ca_id, NULL, 0, ${PARKED} FROM certificates WHERE id > ? AND serial_hex LIKE 'ff%'`,
        ).run(maxId);
      })();
    },
    analyze: async () => void db.exec("ANALYZE"),
    close: async () => void db.close(),
  };
}

async function postgresDb(url: string): Promise<Db> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const q = (text: string, p: unknown[] = []) => c.query(text, p);
  return {
    count: async (text, p = []) => {
      let k = 0;
      return Number(
        (
          await q(
            text.replace(/\?/g, () => `$${++k}`),
            p,
          )
        ).rows[0].n,
      );
    },
    fill: async (caId, from, to, now) => {
      const maxId = Number((await q("SELECT coalesce(max(id), 0) AS m FROM certificates")).rows[0].m);
      await q("BEGIN");
      try {
        await q(
          `INSERT INTO certificates (${CERT_COLS})
           SELECT ${rowExprs((n) => `'ff' || lpad(to_hex(${n}), 30, '0')`, caId, now).replace("DER", "'\\x3000'::bytea")}
           FROM generate_series(${from + 1}::bigint, ${to}::bigint) AS n`,
        );
        await q(
          `INSERT INTO ocsp_responses (cert_id, ca_id, der, this_update, next_update)
           SELECT id, ca_id, NULL, 0, ${PARKED} FROM certificates WHERE id > $1 AND serial_hex LIKE 'ff%'`,
          [maxId],
        );
        await q("COMMIT");
      } catch (e) {
        await q("ROLLBACK");
        throw e;
      }
    },
    analyze: async () => void (await q("ANALYZE")),
    close: () => c.end(),
  };
}
// ------------------------------------------------------------------------------------
// The CLI
// ------------------------------------------------------------------------------------

function cliEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: BENCH_PASSPHRASE };
}
const sigil = (home: string, args: string[]) =>
  run(process.execPath, [SIGIL_BIN, ...args], { env: cliEnv(home) });

/** Writes `n` new P-256 requests (one key each) as PEM files; returns their paths. */
async function writeCsrs(dir: string, n: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const ders = await makeCsrs(n, "p256", n);
  return ders.map((d, k) => {
    const f = join(dir, `r${k}.csr`);
    writeFileSync(f, toPem(d, "CERTIFICATE REQUEST"));
    return f;
  });
}

/** `sigil sign --ca genfic-system --out-dir` of the requests: wall ms, and the certificates written. */
function signAll(home: string, csrs: string[], outDir: string): { ms: number; certs: string[] } {
  mkdirSync(outDir, { recursive: true });
  const r = sigil(home, ["sign", "--ca", CA, "--out-dir", outDir, ...csrs]);
  const certs = readdirSync(outDir)
    .filter((f) => f.endsWith(".crt"))
    .map((f) => join(outDir, f));
  if (certs.length !== csrs.length)
    throw new Error(`sign wrote ${certs.length} of ${csrs.length} certificates`);
  return { ms: r.ms, certs };
}

// ------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------

interface SizeResult {
  size: number;
  total: number;
  fillMs: number;
  filled: number;
  signMs: number;
  signRate: number;
  /** 1-minute load average before the issuance runs. */
  signLoad: number;
  /** `certs --expiring 30d`: the table, its first page (TABLE_LIMIT rows). */
  expiringMs: number;
  expiringShown: number;
  /** `certs --expiring 30d --json`: every row. */
  expiringAllMs: number;
  expiringRows: number;
  /** The store's query alone: a page (limit + 1), and every row. */
  queryMs: number;
  queryAllMs: number;
  crlMs: number;
  crlEntries: number;
  ocsp: WrkResult;
}
interface KindResult {
  kind: Kind;
  initMs: number;
  workingSetMs: number;
  sizes: SizeResult[];
  skipped: string[];
}

const pgCluster = kinds.includes("postgres") ? await import("../test/postgres.js") : undefined;
const results: KindResult[] = [];

for (const kind of kinds) {
  const home = join(tmp, `home-${kind}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  let url: string | undefined;
  log(`${kind}: sigil init`);
  const t0 = performance.now();
  if (kind === "postgres") {
    url = await pgCluster!.createTestDatabase();
    run(process.execPath, [SIGIL_BIN, "init"], { env: { ...cliEnv(home), SIGIL_DATABASE_URL: url } });
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(
      join(home, "sigil.json"),
      JSON.stringify({ ...cfg, store: { kind: "postgres", url } }, null, 2),
    );
  } else sigil(home, ["init"]);
  const initMs = performance.now() - t0;

  log(`${kind}: working set of ${batch} real certificates`);
  const work = signAll(
    home,
    await writeCsrs(join(tmp, `csr-${kind}-work`), batch),
    join(tmp, `crt-${kind}-work`),
  );
  const serials = work.certs.map((f) =>
    new X509Certificate(readFileSync(f)).serialNumber.toLowerCase().replace(/^0+/, ""),
  );
  // The CertID issuer part from a request openssl made (bench/lib/ocsp-req.ts), then one request per serial.
  const chain = sigil(home, ["cert", "show", serials[0]!, "--ca", CA, "--chain"]).stdout;
  const pems = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n/g) ?? [];
  const caPem = join(tmp, `${kind}-ca.pem`);
  writeFileSync(caPem, pems[1]!);
  const reqFile = join(tmp, `${kind}-req.der`);
  run("openssl", ["ocsp", "-issuer", caPem, "-cert", work.certs[0]!, "-no_nonce", "-reqout", reqFile]);
  const certId = readFirstCertId(readFileSync(reqFile));
  if (!buildOcspRequest(certId, certId.serialHex).equals(readFileSync(reqFile)))
    throw new Error("bench/lib/ocsp-req.ts does not rebuild openssl's request byte for byte");
  const bodies = join(tmp, `${kind}-bodies.bin`);
  writeFileSync(bodies, packBodies(serials.map((s) => buildOcspRequest(certId, s))));

  const db = kind === "postgres" ? await postgresDb(url!) : sqliteDb(home);
  const caId = await db.count("SELECT id AS n FROM cas WHERE name = ?", [CA]);
  const R: KindResult = { kind, initMs, workingSetMs: work.ms, sizes: [], skipped: [] };
  results.push(R);
  let synthetic = 0;
  let lastFillRate: number | undefined;
  try {
    for (const size of sizes) {
      // Fill: synthetic rows until the store holds `size` certificates.
      const before = await db.count("SELECT count(*) AS n FROM certificates");
      const want = Math.max(0, size - before);
      if (lastFillRate !== undefined && want / lastFillRate > fillBudget) {
        R.skipped.push(
          `${F.int(size)} skipped: filling ${F.int(want)} rows at the previous fill's ${F.rate(lastFillRate)} would take ` +
            `about ${Math.round(want / lastFillRate)} s, over the run's fill budget (--fill-budget ${fillBudget}).`,
        );
        log(`${kind}: ${R.skipped[R.skipped.length - 1]}`);
        break;
      }
      const tf = performance.now();
      const now = Date.now();
      for (let done = 0; done < want;) {
        const n = Math.min(CHUNK, want - done);
        await db.fill(caId, synthetic, synthetic + n, now);
        synthetic += n;
        done += n;
        log(
          `${kind}: ${F.int(before + done)} certificates (${F.rate((done / (performance.now() - tf)) * 1000)})`,
        );
      }
      if (want > 0) await db.analyze();
      const fillMs = want > 0 ? performance.now() - tf : 0;
      if (want > 0) lastFillRate = (want / fillMs) * 1000;
      const total = await db.count("SELECT count(*) AS n FROM certificates");
      log(`${kind} @ ${F.int(total)}: filled ${F.int(want)} in ${F.ms(fillMs)}`);

      // (a) issuance
      // Best of SIGN_RUNS runs (fresh requests each): the cores are shared, and the best run is
      // the one least disturbed by other work.
      const signLoad = loadavg()[0]!;
      let s = { ms: Infinity };
      for (let k = 0; k < SIGN_RUNS; k++) {
        const csrs = await writeCsrs(join(tmp, `csr-${kind}-${size}-${k}`), batch);
        const one = signAll(home, csrs, join(tmp, `crt-${kind}-${size}-${k}`));
        log(`${kind} @ ${F.int(total)}: signed ${batch} in ${F.ms(one.ms)}`);
        if (one.ms < s.ms) s = one;
      }

      // (b) certs --expiring 30d, through the CLI (the table's first page; and --json, every
      // row) and as the store's query alone (a page of TABLE_LIMIT + 1, and every row)
      const exp: number[] = [];
      const expAll: number[] = [];
      let expiringRows = 0;
      let expiringShown = 0;
      for (let k = 0; k < 5; k++) {
        const t = sigil(home, ["certs", "--expiring", "30d"]);
        exp.push(t.ms);
        if (k === 0) expiringShown = t.stdout.trim().split("\n").length - 1;
        const r = sigil(home, ["certs", "--expiring", "30d", "--json"]);
        expAll.push(r.ms);
        if (k === 0) expiringRows = (JSON.parse(r.stdout) as unknown[]).length;
      }
      const store = await openStore(home);
      const q: number[] = [];
      const qAll: number[] = [];
      try {
        for (let k = 0; k < 5; k++) {
          let tq = performance.now();
          let now2 = Date.now();
          await store.findCerts({
            status: "valid",
            expiringBefore: now2 + 30 * DAY,
            now: now2,
            limit: TABLE_LIMIT + 1,
          });
          q.push(performance.now() - tq);
          tq = performance.now();
          now2 = Date.now();
          await store.findCerts({ status: "valid", expiringBefore: now2 + 30 * DAY, now: now2 });
          qAll.push(performance.now() - tq);
        }
      } finally {
        await store.close();
      }
      log(
        `${kind} @ ${F.int(total)}: --expiring 30d ${F.ms(summarize(exp).medianMs)} (first ${F.int(expiringShown)}), ` +
          `--json ${F.ms(summarize(expAll).medianMs)} (${F.int(expiringRows)} rows)`,
      );

      // (c) CRL
      const crl = sigil(home, ["crl", "--ca", CA]);
      const crlText = run("openssl", [
        "crl",
        "-inform",
        "DER",
        "-in",
        join(home, "crl", `${CA}.crl`),
        "-noout",
        "-text",
      ]).stdout;
      const crlEntries = (crlText.match(/Serial Number:/g) ?? []).length;
      log(`${kind} @ ${F.int(total)}: CRL ${F.ms(crl.ms)} (${F.int(crlEntries)} entries)`);

      // (d) OCSP
      const srv: Server = spawnServer(
        "sigil serve",
        process.execPath,
        [SIGIL_BIN, "serve", "--workers", "2", "--admin-listen", "off", "--listen", `127.0.0.1:${port}`],
        { env: cliEnv(home) },
      );
      let ocsp: WrkResult | undefined;
      try {
        await waitUntil(srv, "banner", () => /listening on http:\/\//.test(srv.output()), 120_000);
        const wurl = `http://127.0.0.1:${port}/ocsp`;
        const check = await runWrk({
          url: wurl,
          bodiesFile: bodies,
          seconds: 2,
          connections: 8,
          threads: 2,
          check: true,
          load1: loadavg()[0]!,
        });
        if (check.failed > 0 || check.checked === 0 || check.non2xx > 0)
          throw new Error(`OCSP check: ${check.failed} of ${check.checked} responses not successful`);
        // Best of OCSP_RUNS measured runs, for the same reason as issuance.
        for (let k = 0; k < OCSP_RUNS; k++) {
          const one = await runWrk({
            url: wurl,
            bodiesFile: bodies,
            seconds: duration,
            connections,
            threads: 2,
            load1: loadavg()[0]!,
          });
          log(`${kind} @ ${F.int(total)}: OCSP run ${k + 1}: ${F.rate(one.perSec)}, p99 ${F.ms(one.p99Ms)}`);
          if (ocsp === undefined || one.perSec > ocsp.perSec) ocsp = one;
        }
      } finally {
        await stopServer(srv, "group");
      }
      if (ocsp === undefined) throw new Error("no OCSP run");
      log(`${kind} @ ${F.int(total)}: OCSP ${F.rate(ocsp.perSec)}, p99 ${F.ms(ocsp.p99Ms)}`);

      R.sizes.push({
        size,
        total,
        fillMs,
        filled: want,
        signMs: s.ms,
        signLoad,
        signRate: (batch / s.ms) * 1000,
        expiringMs: summarize(exp).medianMs,
        expiringShown,
        expiringAllMs: summarize(expAll).medianMs,
        expiringRows,
        queryMs: summarize(q).medianMs,
        queryAllMs: summarize(qAll).medianMs,
        crlMs: crl.ms,
        crlEntries,
        ocsp,
      });
    }
  } finally {
    await db.close();
  }
}

// ------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------

const m = machineInfo();
const md: string[] = [];
md.push(`## Scale (\`bench/scale\`)

${new Date().toISOString()}, ${m.nproc} cores (${m.cpu}, shared with other work: load average ${loadStart.map((l) => l.toFixed(1)).join(" ")} at the start, ${loadavg()
  .map((l) => l.toFixed(1))
  .join(" ")} at the end), ${m.memGb} GB, Node ${m.node}. Command: \`${command}\`.

Per store kind one home (\`sigil init\`, P-256; PostgreSQL: a private cluster from test/postgres.ts, fsync off), ${F.int(batch)} real
certificates issued first (the OCSP working set), then for each size the store is filled in SQL with synthetic certificate rows up to that
size and measured. Synthetic rows: CA ${CA}, serial \`ff\` + 30 hex digits (never one of Sigil's random serials), a 2-byte placeholder
DER (no CRL, listing or OCSP path reads a certificate's DER), not after spread uniformly over now ± 2 years (about half expired), every
100th revoked; their OCSP rows are parked as the refresh job parks answers it need not sign (DER NULL, next update MAX_SAFE_INTEGER).
Issuance: \`sigil sign --ca ${CA} --out-dir\` of ${F.int(batch)} new P-256 requests, one process (its start and key unlock included),
each certificate stored with its signed OCSP answer; best of ${SIGN_RUNS} runs, fresh requests each. \`--expiring\`: \`sigil certs --expiring 30d > /dev/null\`
(the table: its first ${F.int(TABLE_LIMIT)} rows by not after, and a note on stderr that more match) and \`sigil certs --expiring 30d --json > /dev/null\`
(every row), each the median of 5 process runs (start, query, output); "query" is the store's query alone (Store.findCerts in-process,
median of 5): a page of ${F.int(TABLE_LIMIT + 1)} rows, and every row. CRL:
\`sigil crl --ca ${CA}\`, one process, entries counted with \`openssl crl -text\`. OCSP: \`sigil serve --workers 2 --admin-listen off\`,
a 2 s check run (every response HTTP 200, application/ocsp-response, successful), then wrk ${duration} s, ${connections} connections,
2 threads, POSTs of the ${F.int(batch)} working-set requests in turn, best of ${OCSP_RUNS} runs; wrk shares the 2 cores. The cores are
shared with other work (other builds and tests on the machine): "load" is the 1-minute load average before the issuance runs and
before the reported OCSP run. Ratios to the empty store move by tens of percent with that load alone, in both directions; read
them with it.`);

for (const R of results) {
  const base = R.sizes.find((s) => s.size === 0) ?? R.sizes[0];
  md.push(`### ${R.kind === "sqlite" ? "SQLite" : "PostgreSQL"}`);
  md.push(
    F.table(
      [
        "certificates",
        "fill",
        "issuance",
        "vs empty",
        "--expiring 30d (first rows)",
        "query (page)",
        "--json (every row)",
        "query (all)",
        "CRL (entries)",
        "OCSP",
        "vs empty",
        "p99",
        "load (sign, OCSP)",
      ],
      R.sizes.map((s) => [
        F.int(s.total),
        s.filled ? `${F.ms(s.fillMs)} (${F.rate((s.filled / s.fillMs) * 1000)})` : "-",
        F.rate(s.signRate),
        base ? F.pct(s.signRate / base.signRate) : "n/a",
        `${F.ms(s.expiringMs)} (${F.int(s.expiringShown)})`,
        F.ms(s.queryMs),
        `${F.ms(s.expiringAllMs)} (${F.int(s.expiringRows)})`,
        F.ms(s.queryAllMs),
        `${F.ms(s.crlMs)} (${F.int(s.crlEntries)})`,
        F.rate(s.ocsp.perSec),
        base ? F.pct(s.ocsp.perSec / base.ocsp.perSec) : "n/a",
        F.ms(s.ocsp.p99Ms),
        `${s.signLoad.toFixed(1)}, ${s.ocsp.load1.toFixed(1)}`,
      ]),
    ),
  );
  if (R.skipped.length) md.push(R.skipped.join("\n"));
}

const verdicts: string[] = [];
for (const R of results) {
  const name = R.kind === "sqlite" ? "SQLite" : "PostgreSQL";
  const base = R.sizes.find((s) => s.size === 0);
  const top = R.sizes[R.sizes.length - 1];
  if (!base || !top || top === base) {
    verdicts.push(`- ${name}: no empty-store baseline and bigger size measured: no verdict.`);
    continue;
  }
  const si = top.signRate / base.signRate;
  const oc = top.ocsp.perSec / base.ocsp.perSec;
  verdicts.push(
    `- ${name} at ${F.int(top.total)}: issuance ${F.pct(si)} of the empty store's rate (${si >= 0.8 ? "met" : "missed"}), ` +
      `OCSP ${F.pct(oc)} (${oc >= 0.8 ? "met" : "missed"}); \`--expiring 30d\` ${F.ms(top.expiringMs)} through the CLI ` +
      `(${top.expiringMs < 200 ? "under" : "over"} 200 ms: ${top.expiringMs < 200 ? "met" : "missed"}) for the first ${F.int(top.expiringShown)} of ` +
      `${F.int(top.expiringRows)} rows, the query alone ${F.ms(top.queryMs)}; every row as JSON ${F.ms(top.expiringAllMs)}` +
      `${top.total >= 10_000_000 ? "" : " (the 200 ms target is for 10,000,000: not measured here)"}.`,
  );
}
md.push(`Targets (issue 7): issuance and OCSP within 20% of their rate on an empty store; \`--expiring\` under 200 ms at 10,000,000.

${verdicts.join("\n")}

\`--expiring 30d\` matches every valid certificate expiring within 30 days, and with not-after spread over 4 years that is about 2% of
the store. The table shows the soonest ${F.int(TABLE_LIMIT)} and says on stderr that more match (\`--all\` or \`--limit N\` for more): the
store reads one index range in not-after order and stops after ${F.int(TABLE_LIMIT + 1)} rows, so its time does not grow with the
store. \`--json\` still gives every row to scripts, and that time grows with the rows it loads and prints.`);

const section = md.join("\n\n");
writeSection(outFile, "scale", section);
process.stdout.write(section + "\n");
log(`wrote the bench/scale section of ${outFile}`);
if (!opt.keep) rmSync(tmp, { recursive: true, force: true });
process.exit(0);
