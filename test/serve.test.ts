/**
 * `sigil serve` against real clients: `openssl ocsp` (POST, GET via -reqin + curl, with and
 * without nonce), GnuTLS `ocsptool --ask`, `openssl verify -crl_check` with the served CRL,
 * and hostile input. The CLI issues and revokes while the service runs (SQLite WAL).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { sigil, sigilAsync, sigilOk, tool, tempDir, write, initHome, ROOT } from "./helpers.js";
import { startServe, ocspResponseStatus, post, get, type Served } from "./serve-helpers.js";

/** Issues a system certificate for `cn`; returns the certificate's path. */
function issue(home: string, dir: string, cn: string): string {
  sigilOk(home, ["request", "create", join(dir, cn), "--subject", `/CN=${cn}`, "--no-encrypt"]);
  sigilOk(home, ["sign", join(dir, `${cn}.req`), "--ca", "genfic-system", "-o", join(dir, `${cn}.crt`)]);
  return join(dir, `${cn}.crt`);
}

/** A port free on 0.0.0.0 just now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "0.0.0.0", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function ocspCheck(s: Served, issuer: string, root: string, cert: string, extra: string[] = []) {
  return tool("openssl", [
    "ocsp",
    "-issuer",
    issuer,
    "-cert",
    cert,
    "-url",
    `${s.url}/ocsp`,
    "-CAfile",
    root,
    ...extra,
  ]);
}

describe("sigil serve: OCSP, CRL and CA certificates (2 workers)", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const dir = t.dir;
  let s: Served;
  let root: string;
  let system: string;
  let leaf: string;

  before(async () => {
    initHome(home);
    root = write(dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    leaf = issue(home, dir, "before.genfic.internal");
    s = await startServe(home, ["--workers", "2"]);
  });
  after(async () => {
    await s?.stop();
    t.cleanup();
  });

  it("answers good for a certificate issued before and one issued while it runs, with and without nonce", () => {
    const during = issue(home, dir, "during.genfic.internal");
    for (const cert of [leaf, during]) {
      for (const extra of [["-no_nonce"], []]) {
        const r = ocspCheck(s, system, root, cert, extra);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /: good\b/);
        assert.match(r.stderr, /Response verify OK/);
      }
    }
  });

  it("answers the same on the fast path (Content-Length, plain GET) and through the framework (chunked, query)", async () => {
    const reqFile = join(dir, "fast.req.der");
    tool("openssl", ["ocsp", "-issuer", system, "-cert", leaf, "-no_nonce", "-reqout", reqFile]);
    const body = readFileSync(reqFile);
    const b64 = body.toString("base64");
    const { request } = await import("node:http");
    const raw = (method: string, path: string, chunked: boolean) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const u = new URL(path, s.url);
        const req = request(
          u,
          {
            method,
            headers:
              method === "POST"
                ? {
                    "content-type": "application/ocsp-request",
                    ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": body.length }),
                  }
                : {},
          },
          (res) => {
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("end", () =>
              resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
            );
          },
        );
        req.on("error", reject);
        if (method === "POST") {
          if (chunked) req.write(body.subarray(0, 10));
          req.end(chunked ? body.subarray(10) : body);
        } else req.end();
      });
    const pick = (r: { status: number; headers: Record<string, unknown>; body: Buffer }) => ({
      status: r.status,
      body: r.body.toString("hex"),
      ...Object.fromEntries(
        ["content-type", "content-length", "cache-control", "etag", "expires", "last-modified"].map((h) => [
          h,
          h === "cache-control" ? String(r.headers[h]).replace(/max-age=\d+/, "max-age=N") : r.headers[h],
        ]),
      ),
    });
    const fast = pick(await raw("POST", "/ocsp", false));
    assert.equal(fast.status, 200);
    assert.equal(ocspResponseStatus(Buffer.from(fast.body, "hex")), "successful");
    assert.deepEqual(pick(await raw("POST", "/ocsp", true)), fast);
    assert.deepEqual(pick(await raw("GET", `/ocsp/${b64}`, false)), fast);
    assert.deepEqual(pick(await raw("GET", `/ocsp/${b64}?via=framework`, false)), fast);
    // A malformed GET path on both: an OCSP malformedRequest, not an HTTP error page.
    for (const path of ["/ocsp/%%%", "/ocsp/%%%?x=1"]) {
      const r = await raw("GET", path, false);
      assert.equal(r.status, 200, path);
      assert.equal(ocspResponseStatus(r.body), "malformedRequest", path);
    }
  });

  it("answers unknown for a serial never issued", () => {
    const r = tool("openssl", [
      "ocsp",
      "-issuer",
      system,
      "-serial",
      "0x5ee5ee5ee5ee5ee5ee5e",
      "-url",
      `${s.url}/ocsp`,
      "-CAfile",
      root,
      "-no_nonce",
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /: unknown\b/);
    assert.match(r.stderr, /Response verify OK/);
  });

  it("answers by GET (-reqin + curl), with standard, URL-safe and percent-encoded base64, and revalidates by ETag", async () => {
    const reqFile = join(dir, "get.req.der");
    tool("openssl", ["ocsp", "-issuer", system, "-cert", leaf, "-no_nonce", "-reqout", reqFile]);
    const b64 = readFileSync(reqFile).toString("base64");
    const forms = [
      b64,
      b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
      encodeURIComponent(b64),
    ];
    for (const [i, form] of forms.entries()) {
      const out = join(dir, `get${i}.resp.der`);
      const c = tool("curl", ["-sS", "-f", "-o", out, "-D", "-", `${s.url}/ocsp/${form}`]);
      assert.equal(c.status, 0, c.stderr);
      assert.match(c.stdout, /content-type: application\/ocsp-response/i);
      const r = tool("openssl", [
        "ocsp",
        "-respin",
        out,
        "-issuer",
        system,
        "-cert",
        leaf,
        "-CAfile",
        root,
        "-no_nonce",
      ]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /: good\b/);
    }
    // RFC 5019 §6.2 cache headers.
    const g = await get(`${s.url}/ocsp/${b64}`);
    assert.equal(g.status, 200);
    assert.match(g.headers.get("cache-control")!, /^max-age=\d+, public, no-transform, must-revalidate$/);
    const maxAge = Number(/max-age=(\d+)/.exec(g.headers.get("cache-control")!)![1]);
    assert.ok(maxAge > 0 && maxAge <= 300);
    for (const h of ["expires", "last-modified", "etag"]) assert.ok(g.headers.get(h), `header ${h}`);
    assert.ok(Date.parse(g.headers.get("expires")!) > Date.now());
    const again = await get(`${s.url}/ocsp/${b64}`, { "if-none-match": g.headers.get("etag")! });
    assert.equal(again.status, 304);
  });

  it("GnuTLS ocsptool --ask agrees on good", () => {
    const r = tool("ocsptool", [`--ask=${s.url}/ocsp`, "--load-issuer", system, "--load-cert", leaf]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Certificate Status: good/);
    assert.match(r.stdout, /Verifying OCSP Response: Success/);
  });

  it("a CLI revocation shows on the very next answer, by OpenSSL and GnuTLS, and in the served CRL", () => {
    const victim = issue(home, dir, "victim.genfic.internal");
    assert.match(ocspCheck(s, system, root, victim, ["-no_nonce"]).stdout, /: good\b/);
    sigilOk(home, ["revoke", "--cert", victim, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    for (const extra of [["-no_nonce"], []]) {
      const r = ocspCheck(s, system, root, victim, extra);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /: revoked\b/);
      assert.match(r.stdout, /Reason: keyCompromise/);
      assert.match(r.stdout, /Revocation Time:/);
    }
    const g = tool("ocsptool", [`--ask=${s.url}/ocsp`, "--load-issuer", system, "--load-cert", victim]);
    assert.match(g.stdout, /Certificate Status: revoked/);
    assert.match(g.stdout, /Verifying OCSP Response: Success/);
    // The CRL as served, DER, application/pkix-crl.
    const crlFile = join(dir, "served.crl");
    const c = tool("curl", ["-sS", "-f", "-o", crlFile, "-D", "-", `${s.url}/crl/genfic-system.crl`]);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /content-type: application\/pkix-crl/i);
    const crlPem = join(dir, "served.crl.pem");
    tool("openssl", ["crl", "-inform", "DER", "-in", crlFile, "-out", crlPem]);
    const v = tool("openssl", [
      "verify",
      "-crl_check",
      "-CRLfile",
      crlPem,
      "-CAfile",
      root,
      "-untrusted",
      system,
      victim,
    ]);
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
    const ok = tool("openssl", [
      "verify",
      "-crl_check",
      "-CRLfile",
      crlPem,
      "-CAfile",
      root,
      "-untrusted",
      system,
      leaf,
    ]);
    assert.equal(ok.status, 0, ok.stderr);
  });

  it("serves CA certificates (DER and PEM), the bundle roots first, and the URLs in issued certificates point here", async () => {
    const der = await get(`${s.url}/ca/genfic-system.crt`);
    assert.equal(der.status, 200);
    assert.equal(der.headers.get("content-type"), "application/pkix-cert");
    const pemOfDer = tool("openssl", ["x509", "-inform", "DER"], { input: der.body }).stdout;
    assert.equal(pemOfDer, readFileSync(system, "utf8"));
    const pem = await get(`${s.url}/ca/genfic-system.pem`);
    assert.equal(pem.body.toString(), readFileSync(system, "utf8"));
    const bundle = (await get(`${s.url}/ca/bundle.pem`)).body.toString();
    assert.ok(bundle.startsWith(readFileSync(root, "utf8")), "root first");
    assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 3);
    const text = tool("openssl", ["x509", "-in", leaf, "-noout", "-text"]).stdout;
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:8080\/crl\/genfic-system\.crl/);
    assert.match(text, /OCSP - URI:http:\/\/127\.0\.0\.1:8080\/ocsp/);
    assert.match(text, /CA Issuers - URI:http:\/\/127\.0\.0\.1:8080\/ca\/genfic-system\.crt/);
    assert.equal((await get(`${s.url}/ca/nope.crt`)).status, 404);
    assert.equal((await get(`${s.url}/crl/nope.crl`)).status, 404);
  });

  it("answers hostile input with the right OCSP status or a 4xx, and keeps answering", async () => {
    const reqFile = join(dir, "good.req.der");
    tool("openssl", ["ocsp", "-issuer", system, "-cert", leaf, "-no_nonce", "-reqout", reqFile]);
    const good = readFileSync(reqFile);
    const stillUp = async () => {
      const r = await post(`${s.url}/ocsp`, good);
      assert.equal(r.status, 200);
      assert.equal(ocspResponseStatus(r.body), "successful");
    };
    // A request for a certificate of an issuer Sigil does not hold.
    const other = join(dir, "other");
    tool("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${other}.key`,
      "-out", `${other}.pem`, "-subj", "/CN=Other CA", "-days", "2",
    ]); // prettier-ignore
    const foreign = join(dir, "foreign.req.der");
    tool("openssl", [
      "ocsp",
      "-issuer",
      `${other}.pem`,
      "-serial",
      "0x1234",
      "-no_nonce",
      "-reqout",
      foreign,
    ]);
    const cases: Array<[string, () => Promise<{ status: number; body: Buffer }>, number, string?]> = [
      ["empty body", () => post(`${s.url}/ocsp`, Buffer.alloc(0)), 200, "malformedRequest"],
      ["random bytes", () => post(`${s.url}/ocsp`, randomBytes(300)), 200, "malformedRequest"],
      [
        "truncated request",
        () => post(`${s.url}/ocsp`, good.subarray(0, good.length - 5)),
        200,
        "malformedRequest",
      ],
      ["unknown issuer", () => post(`${s.url}/ocsp`, readFileSync(foreign)), 200, "unauthorized"],
      ["1 MB body", () => post(`${s.url}/ocsp`, randomBytes(1024 * 1024)), 413],
      ["wrong content type", () => post(`${s.url}/ocsp`, good, "application/json"), 415],
      ["text content type", () => post(`${s.url}/ocsp`, "hello", "text/plain"), 415],
      ["broken base64 GET", () => get(`${s.url}/ocsp/%%%not-base64!!`), 200, "malformedRequest"],
      [
        "base64 of garbage GET",
        () => get(`${s.url}/ocsp/${randomBytes(40).toString("base64url")}`),
        200,
        "malformedRequest",
      ],
      ["empty GET", () => get(`${s.url}/ocsp/`), 200, "malformedRequest"],
    ];
    for (const [name, f, status, ocsp] of cases) {
      const r = await f();
      assert.equal(r.status, status, name);
      if (ocsp) assert.equal(ocspResponseStatus(r.body), ocsp, name);
      else assert.doesNotMatch(r.body.toString(), /<html/i, name);
      await stillUp();
    }
    const h = await get(`${s.url}/healthz`);
    assert.equal(h.status, 200);
    assert.equal((JSON.parse(h.body.toString()) as { status: string }).status, "ok");
  });

  it("exposes Prometheus metrics and logs JSON without secrets", async () => {
    const m = (await get(`${s.url}/metrics`)).body.toString();
    assert.match(m, /sigil_http_requests_total\{route="\/ocsp",method="POST",status="200"\} \d+/);
    assert.match(m, /sigil_ocsp_responses_total\{outcome="good",method="POST"\} \d+/);
    assert.match(m, /sigil_ocsp_responses_total\{outcome="revoked",method="POST"\} \d+/);
    assert.match(m, /sigil_ocsp_responses_total\{outcome="malformedRequest",method="POST"\} \d+/);
    assert.match(m, /sigil_http_request_duration_seconds_bucket\{le="0.005",route="\/ocsp"\} \d+/);
    assert.match(m, /sigil_ocsp_presigned_pending_refresh \d+/);
    // The answer caches' figures, summed over the workers: four more lookups of one
    // certificate are four more hits or misses, and at most one miss per worker.
    const cacheFigures = async () => {
      const text = (await get(`${s.url}/metrics`)).body.toString();
      const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
      return {
        answers: num(/^sigil_ocsp_cache_answers (\d+)$/m),
        bytes: num(/^sigil_ocsp_cache_bytes (\d+)$/m),
        hit: num(/^sigil_ocsp_cache_lookups_total\{result="hit"\} (\d+)$/m),
        miss: num(/^sigil_ocsp_cache_lookups_total\{result="miss"\} (\d+)$/m),
      };
    };
    const reqFile = join(dir, "metrics.req.der");
    tool("openssl", ["ocsp", "-issuer", system, "-cert", leaf, "-no_nonce", "-reqout", reqFile]);
    const before = await cacheFigures();
    for (let i = 0; i < 4; i++)
      assert.equal((await post(`${s.url}/ocsp`, readFileSync(reqFile))).status, 200);
    const after = await cacheFigures();
    assert.ok(after.answers >= 1 && after.bytes > after.answers * 500, JSON.stringify(after));
    assert.equal(after.hit + after.miss - (before.hit + before.miss), 4, JSON.stringify({ before, after }));
    assert.ok(after.miss - before.miss <= 2, JSON.stringify({ before, after }));
    for (const line of s.stdout().split("\n").filter(Boolean)) {
      const j = JSON.parse(line) as Record<string, unknown>;
      assert.ok(typeof j.level === "number" && typeof j.time === "number", line);
    }
    assert.doesNotMatch(s.stdout() + s.stderr(), /correct horse|PRIVATE KEY/);
  });

  it("says on /healthz how many worker processes serve", async () => {
    // Each worker answers for itself: ask a few times so both are likely asked.
    for (let i = 0; i < 4; i++) {
      const h = JSON.parse((await get(`${s.url}/healthz`)).body.toString()) as { workers: number };
      assert.equal(h.workers, 2);
    }
  });

  it("shuts down gracefully on SIGTERM (workers too)", async () => {
    const pids = () =>
      tool("pgrep", ["-P", String(s.proc.pid)])
        .stdout.trim()
        .split("\n")
        .filter(Boolean);
    assert.equal(pids().length, 2, "two workers");
    // Workers hold no keys and never saw the passphrase (the primary drops it before forking).
    for (const pid of pids()) {
      const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      assert.doesNotMatch(environ, /SIGIL_PASSPHRASE/, `worker ${pid} environment`);
    }
    const code = await s.stop();
    assert.equal(code, 0);
    assert.deepEqual(pids(), []);
  });
});

describe("sigil serve: one process, live nonce answers, and no passphrase", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const dir = t.dir;
  let root: string;
  let system: string;
  let leaf: string;

  before(() => {
    initHome(home);
    root = write(dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    leaf = issue(home, dir, "nonce.genfic.internal");
  });
  after(() => t.cleanup());

  it("with ocsp.nonce = sign, echoes the nonce (openssl checks it)", async () => {
    writeFileSync(join(home, "sigil.json"), JSON.stringify({ ocsp: { nonce: "sign" } }));
    const s = await startServe(home, ["--workers", "1"]);
    try {
      const r = ocspCheck(s, system, root, leaf);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /: good\b/);
      assert.doesNotMatch(r.stderr, /no nonce in response|Nonce Verify error/);
      const g = await post(
        `${s.url}/ocsp`,
        readFileSync(join(dir, "nonce.genfic.internal.crt")),
        "application/ocsp-request",
      );
      assert.equal(ocspResponseStatus(g.body), "malformedRequest");
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it("without a passphrase, serves pre-signed answers and says tryLater where it would have to sign", async () => {
    writeFileSync(join(home, "sigil.json"), JSON.stringify({}));
    const s = await startServe(home, ["--workers", "1"], { SIGIL_PASSPHRASE: undefined });
    try {
      assert.match(s.stderr(), /sealed: pre-signed answers only/);
      const r = ocspCheck(s, system, root, leaf, ["-no_nonce"]);
      assert.match(r.stdout, /: good\b/);
      const u = tool("openssl", [
        "ocsp", "-issuer", system, "-serial", "0x77", "-url", `${s.url}/ocsp`, "-CAfile", root, "-no_nonce",
      ]); // prettier-ignore
      assert.match(u.stdout + u.stderr, /Responder Error: trylater/i);
      const h = JSON.parse((await get(`${s.url}/healthz`)).body.toString()) as { canSign: boolean };
      assert.equal(h.canSign, false);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });

  it("prints the publicUrl URLs (those in certificates) and warns in one line when they lead elsewhere", async () => {
    writeFileSync(join(home, "sigil.json"), JSON.stringify({}));
    const s = await startServe(home, ["--workers", "1"]);
    const address = s.url.replace(/^http:\/\//, "");
    try {
      const err = s.stderr();
      assert.ok(err.includes("  OCSP      http://127.0.0.1:8080/ocsp\n"), err);
      assert.ok(err.includes("  CRL       http://127.0.0.1:8080/crl/genfic-system.crl\n"), err);
      const warnings = err.split("\n").filter((l) => l.startsWith("sigil: warning: publicUrl"));
      assert.deepEqual(warnings, [
        `sigil: warning: publicUrl http://127.0.0.1:8080 (in issued certificates) does not point at this listener ${address}; set "publicUrl" in sigil.json`,
      ]);
    } finally {
      assert.equal(await s.stop(), 0);
    }
    // publicUrl set to this port, the listener on 0.0.0.0: it reaches it, no warning.
    const port = await freePort();
    writeFileSync(join(home, "sigil.json"), JSON.stringify({ publicUrl: `http://localhost:${port}` }));
    const t2 = await startServe(home, ["--workers", "1", "--listen", `0.0.0.0:${port}`]);
    try {
      assert.ok(t2.stderr().includes(`  OCSP      http://localhost:${port}/ocsp\n`), t2.stderr());
      assert.doesNotMatch(t2.stderr(), /warning: publicUrl/);
      assert.equal((await get(`http://localhost:${port}/crl/genfic-system.crl`)).status, 200);
    } finally {
      assert.equal(await t2.stop(), 0);
      writeFileSync(join(home, "sigil.json"), JSON.stringify({}));
    }
  });

  it("refuses a wrong passphrase at start with one line that says it stops, and exits 1", async () => {
    const r = await sigilAsync(home, ["serve", "--listen", "127.0.0.1:0", "--admin-listen", "off"], {
      env: { SIGIL_PASSPHRASE: "wrong wrong wrong" },
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^sigil: wrong passphrase for CA genfic[\w-]*; not starting\n$/);
    assert.doesNotMatch(r.stderr, /still sealed|listening on/);
  });

  it("a SIGTERM sent the moment the banner appears stops it gracefully (exit 0), 1 and 2 workers", async () => {
    // The handler is in place before "listening on" is written: a supervisor may stop it at once.
    for (const workers of ["1", "2"])
      for (let i = 0; i < 4; i++) {
        const t = await startServe(home, ["--workers", workers]);
        assert.equal(await t.stop(), 0, `workers ${workers}, try ${i}`);
      }
  });

  it("sigil status with no service running: one line, exit 1 (not a usage error)", () => {
    // A data folder no service runs on (whatever the other tests here left running).
    const r = sigil(join(dir, "no-service"), ["status"]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^sigil: no admin socket at \S+admin\.sock: is sigil serve running\?.*\n$/);
  });
});

describe("the main job: npm start (scripts/start.sh)", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  after(() => t.cleanup());

  it("initialises on the first run, prints the URLs, and reuses the data on the second", async () => {
    const start = ["bash", join(ROOT, "scripts", "start.sh")];
    const first = await startServe(home, ["--workers", "1"], {}, start);
    try {
      assert.match(first.stderr(), /Sigil initialised in /);
      for (const url of [
        "http://127.0.0.1:8080/ocsp",
        "http://127.0.0.1:8080/crl/genfic-system.crl",
        "http://127.0.0.1:8080/ca/genfic.crt",
        "http://127.0.0.1:8080/ca/bundle.pem",
      ])
        assert.ok(first.stderr().includes(url), url);
      const crl = await get(`${first.url}/crl/genfic.crl`);
      assert.equal(crl.status, 200);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    const second = await startServe(home, ["--workers", "2"], {}, start);
    try {
      assert.doesNotMatch(second.stderr(), /initialised/);
      assert.match(second.stderr(), /\(2 workers\)/);
      const list = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as unknown[];
      assert.equal(list.length, 3);
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });
});
