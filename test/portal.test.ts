/**
 * The web portal's API through the public listener of a real `sigil serve` (two workers,
 * passing calls to the primary's backend socket): CSRF double submit, the same intake
 * checks as the CLI with nothing queued on bad input, the body cap, the rate limit, the
 * status page's data and downloads (checked by openssl), and the expiry statistics.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { counts, sigilOk, tempDir, tool, initHome, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";
import { startSmtpSink, type Dovecot, type SmtpSink } from "./mail-harness.js";
import { simpleParser } from "mailparser";

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON (a download)
  }
  return { status: r.status, headers: r.headers, body, text };
}

/** A portal session: the CSRF token and its cookie. */
async function session(base: string): Promise<{ csrf: string; cookie: string }> {
  const r = await fetch(`${base}/api/v1/portal/session`);
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0]!;
  assert.match(r.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
  return { csrf: ((await r.json()) as { csrf: string }).csrf, cookie };
}

function submit(
  base: string,
  s: { csrf?: string; cookie?: string },
  body: unknown,
  raw?: string,
): Promise<Answer> {
  return call(`${base}/api/v1/portal/requests`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(s.cookie ? { cookie: s.cookie } : {}),
      ...(s.csrf ? { "x-csrf-token": s.csrf } : {}),
    },
    body: raw ?? JSON.stringify(body),
  });
}

describe("web portal API", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let operator: string;
  let root: string;
  const csr = (
    name: string,
    args: string[] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  ): string => {
    tool("openssl", [
      "req", "-new", ...args, "-nodes", "-keyout", join(t.dir, `${name}.key`),
      "-out", join(t.dir, `${name}.csr`), "-subj", `/CN=${name}.genfic.internal`,
    ]); // prettier-ignore
    return readFileSync(join(t.dir, `${name}.csr`), "utf8");
  };

  before(async () => {
    initHome(home);
    operator = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "operator",
      "--name",
      "olga",
    ]).stdout.trim();
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    s = await startServe(home, ["--workers", "2"]);
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("takes a CSR with a CSRF token, and follows it by an unguessable id to its certificate", async () => {
    const sess = await session(s.url);
    const r = await submit(s.url, sess, {
      csr: csr("www"),
      kind: "system",
      email: "webmaster@genfic.internal",
    });
    assert.equal(r.status, 201, r.text);
    const id = String(r.body.id);
    assert.match(id, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(r.body.state, "pending");
    assert.equal(r.body.statusUrl, `/status/${id}`);
    const st = await call(`${s.url}/api/v1/portal/requests/${id}`);
    assert.equal(st.body.state, "pending");
    assert.equal(st.body.kind, "system");
    assert.equal(st.body.ca, "genfic-system");
    assert.equal((await call(`${s.url}/api/v1/portal/requests/${id}/certificate.pem`)).status, 404);
    // An operator approves it (the admin API through the loopback public listener).
    const list = await call(`${s.url}/api/v1/admin/requests?state=pending`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    const req = (list.body.requests as Array<{ id: number; subject: string; channel: string }>).find(
      (x) => x.subject === "CN=www.genfic.internal",
    )!;
    assert.equal(req.channel, "web");
    const ap = await call(`${s.url}/api/v1/admin/requests/${req.id}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(ap.status, 200, ap.text);
    const done = await call(`${s.url}/api/v1/portal/requests/${id}`);
    assert.equal(done.body.state, "issued");
    assert.equal((done.body.certificate as { status: string }).status, "valid");
    const pem = await call(`${s.url}/api/v1/portal/requests/${id}/certificate.pem`);
    assert.match(
      pem.headers.get("content-disposition") ?? "",
      /attachment; filename="www\.genfic\.internal\.pem"/,
    );
    const der = await fetch(`${s.url}/api/v1/portal/requests/${id}/certificate.der`);
    assert.equal(der.headers.get("content-type"), "application/pkix-cert");
    const derBytes = Buffer.from(await der.arrayBuffer());
    const chain = await call(`${s.url}/api/v1/portal/requests/${id}/chain.pem`);
    assert.equal(chain.text.match(/BEGIN CERTIFICATE/g)?.length, 3);
    const leaf = write(t.dir, "www.crt", pem.text);
    const chainFile = write(t.dir, "www-chain.pem", chain.text);
    const v = tool("openssl", ["verify", "-x509_strict", "-CAfile", root, "-untrusted", chainFile, leaf]);
    assert.match(v.stdout, /: OK/, v.stderr);
    const fromDer = tool("openssl", ["x509", "-inform", "DER", "-outform", "PEM"], { input: derBytes });
    assert.equal(fromDer.stdout, pem.text);
    // The key it was made with matches.
    const a = tool("openssl", ["pkey", "-in", join(t.dir, "www.key"), "-pubout"]).stdout;
    const b = tool("openssl", ["x509", "-in", leaf, "-noout", "-pubkey"]).stdout;
    assert.equal(a, b);
  });

  it("refuses a submission without the CSRF token or with another session's", async () => {
    const sess = await session(s.url);
    const other = await session(s.url);
    const body = { csr: csr("csrf"), kind: "system", email: "a@genfic.internal" };
    const before = counts(home).requests;
    for (const attempt of [
      {},
      { cookie: sess.cookie },
      { csrf: sess.csrf },
      { cookie: sess.cookie, csrf: other.csrf },
    ]) {
      const r = await submit(s.url, attempt, body);
      assert.equal(r.status, 403, r.text);
      assert.equal((r.body.error as { code: string }).code, "csrf");
    }
    assert.equal(counts(home).requests, before);
  });

  it("refuses bad input with one clear message and queues nothing", async () => {
    const sess = await session(s.url);
    tool("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-keyout", join(t.dir, "self.key"), "-out", join(t.dir, "self.crt"), "-subj", "/CN=self"]); // prettier-ignore
    const weak = csr("weak", ["-newkey", "rsa:1024"]);
    const cases: Array<[unknown, RegExp, string?]> = [
      [{ csr: "", kind: "user", email: "a@genfic.internal" }, /empty/],
      [{ csr: "garbage", kind: "user", email: "a@genfic.internal" }, /not a PKCS#10/],
      [{ csr: readFileSync(join(t.dir, "self.crt"), "utf8"), kind: "system", email: "a@genfic.internal" }, /certificate, not a certificate signing request/],
      [{ csr: readFileSync(join(t.dir, "self.key"), "utf8"), kind: "system", email: "a@genfic.internal" }, /^this is a private key: it must never be sent to a CA/],
      [{ csr: weak, kind: "system", email: "a@genfic.internal" }, /1024/],
      [{ csr: csr("ok1"), kind: "robot", email: "a@genfic.internal" }, /user" or "system/],
      [{ csr: csr("ok2"), kind: "system", email: "not an address" }, /e-mail/],
      [undefined, /too large/, JSON.stringify({ csr: "A".repeat(150_000), kind: "user", email: "a@genfic.internal" })],
    ]; // prettier-ignore
    const before = counts(home);
    for (const [body, re, raw] of cases) {
      const r = await submit(s.url, sess, body, raw);
      assert.ok(r.status === 400 || r.status === 413, `${r.status} ${r.text}`);
      const msg = (r.body.error as { message: string }).message;
      assert.match(msg, re);
      assert.doesNotMatch(msg, /\n/);
    }
    const after = counts(home);
    assert.equal(after.requests, before.requests, "nothing queued");
    assert.equal(after.certificates, before.certificates);
    // The service logged what each submission carried, never a key.
    assert.doesNotMatch(s.stdout(), /PRIVATE KEY/);
  });

  it("keeps the admin API closed to anonymous callers, and counts expiring certificates per week", async () => {
    const anon = await call(`${s.url}/api/v1/admin/requests`);
    assert.equal(anon.status, 401);
    const forged = await call(`${s.url}/api/v1/admin/requests/1/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: "sigil_csrf=x" },
      body: "{}",
    });
    assert.equal(forged.status, 401);
    const st = await call(`${s.url}/api/v1/admin/stats/expiry?weeks=26`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(st.status, 200, st.text);
    assert.equal((st.body.weekStarts as string[]).length, 26);
    const series = st.body.series as Array<{ ca: string; counts: number[] }>;
    assert.deepEqual(series.map((x) => x.ca).sort(), ["genfic", "genfic-system", "genfic-user"]);
    // www (90-day default? whatever the profile gives) is in genfic-system's weeks if it ends within 26 weeks.
    const total = series.reduce((n, x) => n + x.counts.reduce((a, b) => a + b, 0), 0);
    const listed = await call(`${s.url}/api/v1/admin/certs?status=valid`, {
      headers: { authorization: `Bearer ${operator}` },
    });
    const soon = (listed.body.certs as Array<{ notAfter: string; profile: string }>).filter(
      (c) => c.profile !== "ocsp" && Date.parse(c.notAfter) < Date.now() + 26 * 7 * 86_400_000,
    ).length;
    assert.equal(total, soon);
  });

  it("lists the CAs with their download links, and serves pages with a strict CSP", async () => {
    const cas = await call(`${s.url}/api/v1/portal/cas`);
    const names = (cas.body.cas as Array<{ name: string; kind: string; certUrl: string }>).map(
      (c) => `${c.name}:${c.kind}`,
    );
    assert.deepEqual(names.sort(), ["genfic-system:system", "genfic-user:user", "genfic:root"]);
    for (const path of ["/", "/status/abc", "/admin", "/ca"]) {
      const r = await fetch(`${s.url}${path}`);
      const csp = r.headers.get("content-security-policy") ?? "";
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(r.headers.get("x-frame-options"), "DENY");
      await r.arrayBuffer();
    }
  });
});

describe("web portal rate limit", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  before(async () => {
    initHome(home);
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(join(home, "sigil.json"), JSON.stringify({ ...cfg, web: { submitPerMinute: 3 } }));
    s = await startServe(home, ["--workers", "1"]);
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("answers 429 past web.submitPerMinute submissions from one address", async () => {
    const sess = await session(s.url);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await submit(s.url, sess, { csr: "garbage", kind: "user", email: "a@genfic.internal" })).status,
      );
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
  });
});

describe("web portal auto-approval rests on the mailbox, not on the typed address", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sink: SmtpSink;
  const userCsr = (name: string, subject: string): string => {
    tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", subject,
    ]); // prettier-ignore
    return readFileSync(join(t.dir, `${name}.csr`), "utf8");
  };
  before(async () => {
    initHome(home);
    // No dovecot: the sink only records what Sigil sends.
    sink = await startSmtpSink({ users: [] } as unknown as Dovecot, { acceptUnknown: true });
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(
      join(home, "sigil.json"),
      JSON.stringify({
        ...cfg,
        smtp: { host: "127.0.0.1", port: sink.port, from: "ca@genfic.com" },
        intake: {
          autoApprove: [
            {
              name: "staff",
              ca: "genfic-user",
              channels: ["web"],
              senderDomains: ["genfic.com"],
              emails: ["*@genfic.com"],
            },
          ],
        },
      }),
    );
    s = await startServe(home, ["--workers", "1"]);
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    await sink?.stop();
    t.cleanup();
  });

  it("does not sign for an address someone typed: Alice's certificate waits for Alice's mailbox", async () => {
    const sess = await session(s.url);
    const r = await submit(s.url, sess, {
      csr: userCsr("mallory-as-alice", "/CN=Alice/emailAddress=alice@genfic.com"),
      kind: "user",
      email: "alice@genfic.com",
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.state, "pending", "not issued on a typed address");
    const id = String(r.body.id);
    const st = await call(`${s.url}/api/v1/portal/requests/${id}`);
    assert.equal(st.body.state, "pending");
    assert.equal(st.body.certificate, null);
    assert.doesNotMatch(sigilOk(home, ["certs", "--ca", "genfic-user"]).stdout, /alice@genfic\.com/);
    assert.match(String(st.body.waitingFor), /alice@genfic\.com/);
  });

  it("signs once the mailbox confirms by the link; only the submitting browser downloads, the mail goes to that address", async () => {
    const sess = await session(s.url);
    // The cookie is the browser's session: a new page load keeps it.
    const again = await fetch(`${s.url}/api/v1/portal/session`, { headers: { cookie: sess.cookie } });
    assert.equal(((await again.json()) as { csrf: string }).csrf, sess.csrf);
    const r = await submit(s.url, sess, {
      csr: userCsr("alice", "/CN=Alice Liddell/emailAddress=alice@genfic.com"),
      kind: "user",
      email: "alice@genfic.com",
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.state, "pending");
    const id = String(r.body.id);
    // The challenge mail, to the typed address (the outbox runs every 5 s).
    const deadline = Date.now() + 30_000;
    let mails: typeof sink.received = [];
    while (Date.now() < deadline) {
      mails = sink.received.filter((m) => m.to.includes("alice@genfic.com"));
      if (mails.length >= 2) break; // the attack test's request mailed her first
      await new Promise((res) => setTimeout(res, 100));
    }
    const text = (await Promise.all(mails.map(async (m) => (await simpleParser(m.raw)).text ?? ""))).join(
      "\n",
    );
    const links = [...text.matchAll(/\/confirm\/([A-Za-z0-9_-]{43})/g)].map((m) => m[1]!);
    const token = links[links.length - 1]!;
    assert.ok(token, text);
    // Opening the link (a GET: what a mail scanner does) confirms nothing.
    const peek = await call(`${s.url}/api/v1/portal/confirm/${token}`);
    assert.equal(peek.status, 200, peek.text);
    assert.equal(peek.body.address, "alice@genfic.com");
    assert.equal(peek.body.state, "waiting");
    assert.equal((await call(`${s.url}/api/v1/portal/requests/${id}`)).body.state, "pending");
    assert.equal((await fetch(`${s.url}/confirm/${token}`)).status, 200, "the confirmation page");
    // Pressing Confirm (a POST) proves the mailbox: the rule signs it.
    const post = () =>
      call(`${s.url}/api/v1/portal/confirm/${token}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
    const ok = await post();
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.state, "issued");
    assert.equal(ok.body.statusUrl, `/status/${id}`);
    const used = await post();
    assert.equal(used.status, 410, "single use");
    assert.match(String((used.body.error as { message: string }).message), /already used/);
    assert.equal((await call(`${s.url}/api/v1/portal/confirm/${"A".repeat(43)}`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status, 404); // prettier-ignore
    // Downloads: only with the submitting browser's session.
    const url = `${s.url}/api/v1/portal/requests/${id}/certificate.pem`;
    assert.equal((await call(url)).status, 403);
    const other = await session(s.url);
    assert.equal((await call(url, { headers: { cookie: other.cookie } })).status, 403);
    const pem = await call(url, { headers: { cookie: sess.cookie } });
    assert.equal(pem.status, 200, pem.text);
    const leaf = write(t.dir, "alice.crt", pem.text);
    assert.match(tool("openssl", ["x509", "-in", leaf, "-noout", "-subject", "-nameopt", "RFC2253"]).stdout, /^subject=emailAddress=alice@genfic\.com,CN=Alice Liddell$/m); // prettier-ignore
    // The certificate is mailed to the confirmed address, and nowhere else.
    const issued = async () =>
      (await Promise.all(sink.received.map(async (m) => ({ m, p: await simpleParser(m.raw) }))))
        .filter((x) => /^Certificate issued/.test(x.p.subject ?? ""))
        .map((x) => x.m);
    for (let i = 0; i < 100 && (await issued()).length === 0; i++)
      await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(
      (await issued()).map((m) => m.to),
      [["alice@genfic.com"]],
    );
  });
});
