/**
 * The ACME server (RFC 8555) through the public listener of a real `sigil serve`, with a
 * raw client that can break any part of a request: accounts, orders, the three challenge
 * types against real servers on 127.0.0.1 (names resolved by a test DNS server), finalize
 * through the request queue, the chain checked by openssl and certtool, revocation seen in
 * OCSP, and the RFC's problem documents for every refusal.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createHash, createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sigilOk, sigil, sigilAsync, tempDir, tool, initHome, write } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";
import { startDnsServer } from "./dns-server.js";
import { RawAcme, newKey, jws, type Answer } from "./acme-client.js";
import { openStore } from "../src/store/open.js";

const ERR = "urn:ietf:params:acme:error:";

/** An http-01 responder (RFC 8555 §8.3) on 127.0.0.1: token → body. */
async function http01Responder(): Promise<{
  port: number;
  tokens: Map<string, string>;
  close: () => Promise<void>;
}> {
  const tokens = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? "");
    const body = m ? tokens.get(m[1]!) : undefined;
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/plain" }).end(body ?? "no");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return { port, tokens, close: () => new Promise((r) => server.close(() => r())) };
}

function problem(a: Answer, type: string, status?: number): void {
  assert.equal(a.headers.get("content-type")?.split(";")[0], "application/problem+json", a.text);
  assert.equal(a.body.type, `${ERR}${type}`, a.text);
  assert.equal(typeof a.body.detail, "string");
  if (status !== undefined) assert.equal(a.status, status, a.text);
  assert.ok(a.headers.get("replay-nonce"), "every error carries a fresh nonce (RFC 8555 §6.5)");
}

describe("ACME server (RFC 8555)", () => {
  const t = tempDir("sigil-acme-");
  const home = join(t.dir, "home");
  let s: Served;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let web: Awaited<ReturnType<typeof http01Responder>>;
  let root: string;
  let dirUrl: string;
  let auditStart = 0;
  let security = "";

  /** A CSR (DER, base64url) for `names`, with its own key, made by openssl. */
  const csr = (label: string, names: string[], cn?: string): string => {
    const key = join(t.dir, `${label}.key`);
    const der = join(t.dir, `${label}.csr.der`);
    const r = tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", key, "-outform", "DER", "-out", der,
      "-subj", cn ? `/CN=${cn}` : "/",
      "-addext", `subjectAltName=${names.map((n) => (/^[\d.]+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",")}`,
    ]); // prettier-ignore
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(der).toString("base64url");
  };

  /** The http-01 challenge of an authorization, its key authorization served by the responder. */
  async function serveHttp01(c: RawAcme, zUrl: string): Promise<{ url: string; token: string }> {
    const z = await c.post(zUrl, undefined);
    const ch = (z.body.challenges as Array<{ type: string; url: string; token: string }>).find(
      (x) => x.type === "http-01",
    )!;
    web.tokens.set(ch.token, c.keyAuthorization(ch.token));
    return ch;
  }

  /** Account, order, http-01, finalize, download: the certificate chain's PEM. */
  async function fullOrder(
    c: RawAcme,
    names: string[],
    label: string,
  ): Promise<{ order: Answer; pem: string }> {
    const o = await c.newOrder(names.map((value) => ({ type: "dns", value })));
    assert.equal(o.status, 201, o.text);
    for (const zUrl of o.body.authorizations as string[]) {
      const ch = await serveHttp01(c, zUrl);
      const started = await c.post(ch.url, {});
      assert.equal(started.status, 200, started.text);
      const done = await c.poll(zUrl, (a) => a.body.status !== "pending");
      assert.equal(done.body.status, "valid", done.text);
    }
    const orderUrl = o.headers.get("location")!;
    const ready = await c.poll(orderUrl, (a) => a.body.status !== "pending");
    assert.equal(ready.body.status, "ready", ready.text);
    const fin = await c.post(o.body.finalize as string, { csr: csr(label, names) });
    assert.equal(fin.status, 200, fin.text);
    const valid = await c.poll(orderUrl, (a) => a.body.status === "valid" || a.body.status === "invalid");
    assert.equal(valid.body.status, "valid", valid.text);
    const cert = await c.post(valid.body.certificate as string, undefined);
    assert.equal(cert.status, 200, cert.text);
    assert.equal(cert.headers.get("content-type")?.split(";")[0], "application/pem-certificate-chain");
    return { order: valid, pem: cert.text };
  }

  function verifyChain(pem: string, label: string): { leaf: string; chain: string } {
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!;
    assert.ok(blocks.length >= 2, "the leaf and the issuing CA");
    const leaf = write(t.dir, `${label}.crt`, blocks[0]!);
    const chain = write(t.dir, `${label}.chain.pem`, blocks.slice(1).join(""));
    const v = tool("openssl", [
      "verify",
      "-x509_strict",
      "-purpose",
      "sslserver",
      "-CAfile",
      root,
      "-untrusted",
      chain,
      leaf,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const g = tool("certtool", [
      "--verify",
      "--load-ca-certificate",
      root,
      "--infile",
      write(t.dir, `${label}.full.pem`, pem),
    ]);
    assert.equal(g.status, 0, g.stdout + g.stderr);
    return { leaf, chain };
  }

  /** The audit log's actions after the first `skip` events (through the CLI: SQLite or PostgreSQL). */
  function auditSince(skip: number): string[] {
    return sigilOk(home, ["audit", "log", "--json"])
      .stdout.trim()
      .split("\n")
      .slice(skip)
      .map((l) => (JSON.parse(l) as { action: string }).action);
  }

  function ocsp(leaf: string, issuer: string): string {
    const r = tool("openssl", [
      "ocsp",
      "-issuer",
      issuer,
      "-cert",
      leaf,
      "-url",
      `${s.url}/ocsp`,
      "-CAfile",
      root,
    ]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout + r.stderr;
  }

  before(async () => {
    initHome(home);
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    security = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "security",
      "--name",
      "sam",
    ]).stdout.trim();
    dns = await startDnsServer();
    web = await http01Responder();
    const cfgFile = join(home, "sigil.json");
    const cfg = JSON.parse(readFileSync(cfgFile, "utf8")) as Record<string, unknown>;
    writeFileSync(
      cfgFile,
      JSON.stringify({
        ...cfg,
        acme: {
          http01Port: web.port,
          dnsServer: dns.address,
          validationTimeoutSeconds: 5,
          ordersPerAccountPerHour: 3,
          cas: {
            "genfic-system": { allow: ["*.genfic.internal", "127.0.0.0/8"], maxDays: 30 },
            "genfic-user": { allow: ["*.manual.genfic.internal"], manualApproval: true, eab: true },
          },
        },
      }),
    );
    auditStart = Number(sigilOk(home, ["audit", "log", "--json"]).stdout.trim().split("\n").length);
    s = await startServe(home, ["--workers", "2"]);
    RawAcme.diagnose = () => s.logTail();
    dirUrl = `${s.url}/acme/genfic-system/directory`;
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    await web?.close();
    await dns?.close();
    t.cleanup();
  });

  it("serves a directory and nonces (RFC 8555 §7.1.1, §7.2)", async () => {
    const r = await fetch(dirUrl);
    assert.equal(r.status, 200);
    const d = (await r.json()) as Record<string, unknown>;
    for (const k of ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"])
      assert.equal(d[k], `${s.url}/acme/genfic-system/${k.replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)}`);
    assert.equal((d.meta as { externalAccountRequired: boolean }).externalAccountRequired, false);
    const head = await fetch(d.newNonce as string, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.match(head.headers.get("replay-nonce") ?? "", /^[A-Za-z0-9_-]{20,}$/);
    assert.equal(head.headers.get("cache-control"), "no-store");
    const get = await fetch(d.newNonce as string);
    assert.equal(get.status, 204);
    // A CA without ACME has no directory.
    const none = await fetch(`${s.url}/acme/genfic/directory`);
    assert.equal(none.status, 404);
    assert.equal(none.headers.get("content-type")?.split(";")[0], "application/problem+json");
  });

  it("issues through account, order, http-01 and finalize; the chain verifies; OCSP and the inventory know it", async () => {
    const c = await new RawAcme(dirUrl).init();
    const acct = await c.newAccount({ termsOfServiceAgreed: true, contact: ["mailto:ops@genfic.internal"] });
    assert.equal(acct.status, 201, acct.text);
    assert.match(c.kid!, /\/acme\/genfic-system\/acct\/[A-Za-z0-9_-]{22}$/);
    assert.equal(acct.body.status, "valid");
    // The same key again: the same account, 200 (§7.3.1).
    const again = await c.newAccount();
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("location"), c.kid);

    const { order, pem } = await fullOrder(c, ["web1.genfic.internal", "www.web1.genfic.internal"], "web1");
    const { leaf } = verifyChain(pem, "web1");
    const text = tool("openssl", ["x509", "-in", leaf, "-noout", "-text"]).stdout;
    assert.match(text, /DNS:web1\.genfic\.internal/);
    assert.match(text, /DNS:www\.web1\.genfic\.internal/);
    assert.match(text, /TLS Web Server Authentication/);
    // maxDays 30 for genfic-system's ACME.
    const days =
      (Date.parse(tool("openssl", ["x509", "-in", leaf, "-noout", "-enddate"]).stdout.split("=")[1]!) -
        Date.now()) /
      86_400_000;
    assert.ok(days <= 30.01 && days > 29, `${days} days`);
    const issuer = write(t.dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    assert.match(ocsp(leaf, issuer), /: good\b/);
    const serial = String(order.body.certificate).split("/").pop()!;
    const certs = sigilOk(home, ["certs", "--ca", "genfic-system", "--json"]).stdout;
    assert.ok(certs.includes(serial), "the certificate is in the inventory");
    // The order's orders list (§7.1.2.1).
    const list = await c.post(`${c.kid}/orders`, undefined);
    assert.equal((list.body.orders as string[]).length, 1);

    // Revocation by the account that ordered it (§7.6).
    const der = Buffer.from(readFileSync(leaf, "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64").toString(
      "base64url",
    );
    const rv = await c.post(c.dir.revokeCert!, { certificate: der, reason: 1 });
    assert.equal(rv.status, 200, rv.text);
    const out = ocsp(leaf, issuer);
    assert.match(out, /: revoked\b/);
    assert.match(out, /Reason: keyCompromise/);
    problem(await c.post(c.dir.revokeCert!, { certificate: der, reason: 1 }), "alreadyRevoked", 400);
    const actions = auditSince(auditStart);
    for (const a of ["acme.account.create", "request.record", "request.approve", "cert.issue", "cert.revoke"])
      assert.ok(actions.includes(a), `${a} in the audit log: ${actions.join(" ")}`);
    assert.equal(sigil(home, ["audit", "verify"]).status, 0);
  });

  it("accepts RS256, ES384 and EdDSA account keys (RFC 8555 §6.2)", async () => {
    for (const alg of ["RS256", "ES384", "EdDSA"] as const) {
      const c = await new RawAcme(dirUrl, newKey(alg)).init();
      const a = await c.newAccount();
      assert.equal(a.status, 201, `${alg}: ${a.text}`);
      const o = await c.newOrder([{ type: "dns", value: `${alg.toLowerCase()}.genfic.internal` }]);
      assert.equal(o.status, 201, `${alg}: ${o.text}`);
    }
  });

  it("refuses a replayed nonce (badNonce), a foreign url, and a JWS signed with the wrong key (unauthorized)", async () => {
    const c = await new RawAcme(dirUrl).init();
    assert.equal((await c.newAccount()).status, 201);
    const n = await c.nonce();
    const first = await c.post(`${c.kid}`, undefined, { nonce: n });
    assert.equal(first.status, 200, first.text);
    problem(await c.post(`${c.kid}`, undefined, { nonce: n }), "badNonce", 400);
    problem(await c.post(`${c.kid}`, undefined, { nonce: "bm90LWEtbm9uY2U" }), "badNonce", 400);
    problem(
      await c.post(
        c.dir.newOrder!,
        { identifiers: [{ type: "dns", value: "a.genfic.internal" }] },
        { url: `${c.dir.newOrder}x` },
      ),
      "unauthorized",
      403,
    );
    const other = newKey();
    problem(await c.post(`${c.kid}`, undefined, { signWith: other }), "unauthorized", 403);
    // The wrong Content-Type (§6.2).
    const r = await fetch(c.dir.newOrder!, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(r.status, 415);
    // An oversized body is refused by the public listener, still as a problem document.
    const big = await fetch(c.dir.newOrder!, {
      method: "POST",
      headers: { "content-type": "application/jose+json" },
      body: JSON.stringify({ protected: "x".repeat(200 * 1024), payload: "", signature: "" }),
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get("content-type")?.split(";")[0], "application/problem+json");
    assert.equal(((await big.json()) as { type: string }).type, `${ERR}malformed`);
    // An unknown account (kid).
    const ghost = await new RawAcme(dirUrl).init();
    ghost.kid = `${s.url}/acme/genfic-system/acct/AAAAAAAAAAAAAAAAAAAAAA`;
    problem(await ghost.post(ghost.dir.newOrder!, { identifiers: [] }), "accountDoesNotExist", 400);
    // alg none is never accepted.
    const body = jws(c.key, { nonce: await c.nonce(), url: c.dir.newOrder, kid: c.kid }, {});
    const none = {
      ...body,
      protected: Buffer.from(
        JSON.stringify({ alg: "none", nonce: await c.nonce(), url: c.dir.newOrder, kid: c.kid }),
      ).toString("base64url"),
    };
    const rn = await fetch(c.dir.newOrder!, {
      method: "POST",
      headers: { "content-type": "application/jose+json" },
      body: JSON.stringify(none),
    });
    assert.equal(((await rn.json()) as { type: string }).type, `${ERR}badSignatureAlgorithm`);
  });

  it("refuses names outside the CA's patterns with rejectedIdentifier, one subproblem each", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const r = await c.newOrder([
      { type: "dns", value: "ok.genfic.internal" },
      { type: "dns", value: "www.example.com" },
      { type: "dns", value: "genfic.internal.evil.test" },
    ]);
    problem(r, "rejectedIdentifier", 400);
    const subs = r.body.subproblems as Array<{ type: string; identifier: { value: string } }>;
    assert.deepEqual(subs.map((x) => x.identifier.value).sort(), [
      "genfic.internal.evil.test",
      "www.example.com",
    ]);
    problem(
      await c.newOrder([{ type: "dns", value: "bad_name!.genfic.internal" }]),
      "rejectedIdentifier",
      400,
    );
    problem(await c.newOrder([{ type: "email", value: "a@genfic.internal" }]), "unsupportedIdentifier", 400);
    assert.equal(
      (await c.newOrder([{ type: "ip", value: "10.1.2.3" }])).body.type,
      `${ERR}rejectedIdentifier`,
    );
  });

  it("a failed challenge leaves the authorization and the order invalid; finalize before ready is orderNotReady", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const o = await c.newOrder([{ type: "dns", value: "fail.genfic.internal" }]);
    assert.equal(o.status, 201);
    problem(
      await c.post(o.body.finalize as string, { csr: csr("early", ["fail.genfic.internal"]) }),
      "orderNotReady",
      403,
    );
    const zUrl = (o.body.authorizations as string[])[0]!;
    const z = await c.post(zUrl, undefined);
    const ch = (z.body.challenges as Array<{ type: string; url: string; token: string }>).find(
      (x) => x.type === "http-01",
    )!;
    web.tokens.set(ch.token, "not the key authorization");
    await c.post(ch.url, {});
    const done = await c.poll(zUrl, (a) => a.body.status !== "pending");
    assert.equal(done.body.status, "invalid");
    const failed = (
      done.body.challenges as Array<{ type: string; status: string; error?: { type: string } }>
    ).find((x) => x.type === "http-01")!;
    assert.equal(failed.status, "invalid");
    assert.equal(failed.error?.type, `${ERR}unauthorized`);
    const order = await c.post(o.headers.get("location")!, undefined);
    assert.equal(order.body.status, "invalid");
    assert.ok(order.body.error, "the order says why");
    problem(
      await c.post(o.body.finalize as string, { csr: csr("late", ["fail.genfic.internal"]) }),
      "orderNotReady",
      403,
    );
  });

  it("dns-01 for a wildcard, and a CSR that does not match the order is badCSR", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const o = await c.newOrder([{ type: "dns", value: "*.apps.genfic.internal" }]);
    assert.equal(o.status, 201, o.text);
    const zUrl = (o.body.authorizations as string[])[0]!;
    const z = await c.post(zUrl, undefined);
    assert.equal(z.body.wildcard, true);
    assert.deepEqual(z.body.identifier, { type: "dns", value: "apps.genfic.internal" });
    const chs = z.body.challenges as Array<{ type: string; url: string; token: string }>;
    assert.deepEqual(
      chs.map((x) => x.type),
      ["dns-01"],
      "a wildcard is proven by DNS only (RFC 8555 §7.1.3)",
    );
    const value = createHash("sha256").update(c.keyAuthorization(chs[0]!.token)).digest("base64url");
    dns.setTxt("_acme-challenge.apps.genfic.internal", [value]);
    await c.post(chs[0]!.url, {});
    assert.equal((await c.poll(zUrl, (a) => a.body.status !== "pending")).body.status, "valid");
    const bad = await c.post(o.body.finalize as string, {
      csr: csr("wild-bad", ["*.apps.genfic.internal", "extra.genfic.internal"]),
    });
    problem(bad, "badCSR", 400);
    assert.match(String(bad.body.detail), /extra\.genfic\.internal/);
    assert.equal((await c.post(o.headers.get("location")!, undefined)).body.status, "invalid");

    const o2 = await c.newOrder([{ type: "dns", value: "*.apps.genfic.internal" }]);
    const z2 = await c.post((o2.body.authorizations as string[])[0]!, undefined);
    const ch2 = (z2.body.challenges as Array<{ url: string; token: string }>)[0]!;
    dns.setTxt("_acme-challenge.apps.genfic.internal", [
      "stale",
      createHash("sha256").update(c.keyAuthorization(ch2.token)).digest("base64url"),
    ]);
    await c.post(ch2.url, {});
    await c.poll((o2.body.authorizations as string[])[0]!, (a) => a.body.status !== "pending");
    const fin = await c.post(o2.body.finalize as string, { csr: csr("wild", ["*.apps.genfic.internal"]) });
    assert.equal(fin.status, 200, fin.text);
    const valid = await c.poll(o2.headers.get("location")!, (a) => a.body.status === "valid");
    const pem = (await c.post(valid.body.certificate as string, undefined)).text;
    const { leaf } = verifyChain(pem, "wild");
    assert.match(
      tool("openssl", ["x509", "-in", leaf, "-noout", "-ext", "subjectAltName"]).stdout,
      /DNS:\*\.apps\.genfic\.internal/,
    );
  });

  it("decides the subject from the identifiers: no second CN, no O/OU/UID/emailAddress from the CSR", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    /** An order for `name` whose http-01 authorization is valid: its URL and finalize URL. */
    const ready = async (name: string) => {
      const o = await c.newOrder([{ type: "dns", value: name }]);
      assert.equal(o.status, 201, o.text);
      const zUrl = (o.body.authorizations as string[])[0]!;
      const ch = await serveHttp01(c, zUrl);
      await c.post(ch.url, {});
      assert.equal((await c.poll(zUrl, (a) => a.body.status !== "pending")).body.status, "valid");
      return { url: o.headers.get("location")!, finalize: o.body.finalize as string };
    };
    const subjCsr = (label: string, subject: string, name: string) => {
      const der = join(t.dir, `${label}.csr.der`);
      const r = tool("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", join(t.dir, `${label}.key`), "-outform", "DER", "-out", der, "-subj", subject,
        "-addext", `subjectAltName=DNS:${name}`]); // prettier-ignore
      assert.equal(r.status, 0, r.stderr);
      return readFileSync(der).toString("base64url");
    };
    const junk = "/O=Gentoo Fictional, Inc./OU=DBA/UID=admin/emailAddress=ceo@genfic.com";
    // The attack: the order proves pg.genfic.internal; the first CN says postgres.
    const o1 = await ready("pg.genfic.internal");
    const twoCns = await c.post(o1.finalize, {
      csr: subjCsr("two-cns", `${junk}/CN=postgres/CN=pg.genfic.internal`, "pg.genfic.internal"),
    });
    problem(twoCns, "badCSR", 400);
    assert.match(String(twoCns.body.detail), /postgres/);
    // One CN, among the order's identifiers: signed, with a subject of that CN alone.
    const o2 = await ready("pg.genfic.internal");
    const fin = await c.post(o2.finalize, {
      csr: subjCsr("one-cn", `${junk}/CN=pg.genfic.internal`, "pg.genfic.internal"),
    });
    assert.equal(fin.status, 200, fin.text);
    const valid = await c.poll(o2.url, (a) => a.body.status === "valid" || a.body.status === "invalid");
    assert.equal(valid.body.status, "valid", valid.text);
    const { leaf } = verifyChain((await c.post(valid.body.certificate as string, undefined)).text, "pg");
    assert.equal(
      tool("openssl", ["x509", "-in", leaf, "-noout", "-subject", "-nameopt", "RFC2253"]).stdout.trim(),
      "subject=CN=pg.genfic.internal",
    );
  });

  it("refuses the account key as the certificate key, and a CSR naming something else", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const o = await c.newOrder([{ type: "ip", value: "127.0.0.1" }]);
    assert.equal(o.status, 201, o.text);
    const zUrl = (o.body.authorizations as string[])[0]!;
    const z = await c.post(zUrl, undefined);
    const chs = z.body.challenges as Array<{ type: string; url: string; token: string }>;
    assert.deepEqual(
      chs.map((x) => x.type).sort(),
      ["http-01", "tls-alpn-01"],
      "no dns-01 for an IP (RFC 8738 §7)",
    );
    const ch = chs.find((x) => x.type === "http-01")!;
    web.tokens.set(ch.token, c.keyAuthorization(ch.token));
    await c.post(ch.url, {});
    assert.equal((await c.poll(zUrl, (a) => a.body.status !== "pending")).body.status, "valid");
    // A CSR signed by the account key.
    const pemKey = c.key.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const keyFile = write(t.dir, "acct.key", pemKey);
    const der = join(t.dir, "acct.csr.der");
    assert.equal(
      tool("openssl", [
        "req",
        "-new",
        "-key",
        keyFile,
        "-subj",
        "/",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-outform",
        "DER",
        "-out",
        der,
      ]).status,
      0,
    );
    const r = await c.post(o.body.finalize as string, { csr: readFileSync(der).toString("base64url") });
    problem(r, "badCSR", 400);
    assert.match(String(r.body.detail), /account key/);
  });

  it("changes an account's key (RFC 8555 §7.3.5) and deactivates an account (§7.3.6)", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const next = newKey("ES256");
    const inner = jws(next, { jwk: next.jwk, url: c.dir.keyChange }, { account: c.kid, oldKey: c.key.jwk });
    const r = await c.post(c.dir.keyChange!, inner);
    assert.equal(r.status, 200, r.text);
    // The old key no longer signs for the account; the new one does.
    problem(await c.post(c.kid!, undefined), "unauthorized", 403);
    const moved = Object.assign(await new RawAcme(dirUrl, next).init(), { kid: c.kid });
    assert.equal((await moved.post(moved.kid!, undefined)).status, 200);
    const off = await moved.post(moved.kid!, { status: "deactivated" });
    assert.equal(off.body.status, "deactivated");
    problem(await moved.newOrder([{ type: "dns", value: "x.genfic.internal" }]), "unauthorized", 403);
    const actions = auditSince(auditStart);
    assert.ok(actions.includes("acme.account.key-change"));
    assert.ok(actions.includes("acme.account.deactivate"));
  });

  it("with External Account Binding and manual approval, the order waits for an operator", async () => {
    const userDir = `${s.url}/acme/genfic-user/directory`;
    const c = await new RawAcme(userDir).init();
    assert.equal(
      c.dir.meta && (c.dir.meta as unknown as { externalAccountRequired: boolean }).externalAccountRequired,
      true,
    );
    problem(await c.newAccount(), "externalAccountRequired", 400);
    const out = sigilOk(home, ["acme", "eab", "create", "genfic-user", "--json"]).stdout;
    const eab = JSON.parse(out) as { kid: string; hmacKey: string };
    const mac = (kid: string, key: string) => {
      const prot = Buffer.from(JSON.stringify({ alg: "HS256", kid, url: c.dir.newAccount })).toString(
        "base64url",
      );
      const pay = Buffer.from(JSON.stringify(c.key.jwk)).toString("base64url");
      return { protected: prot, payload: pay, signature: hmac(key, `${prot}.${pay}`) };
    };
    problem(
      await c.newAccount({
        termsOfServiceAgreed: true,
        externalAccountBinding: mac(eab.kid, Buffer.alloc(32).toString("base64url")),
      }),
      "unauthorized",
    );
    const ok = await c.newAccount({
      termsOfServiceAgreed: true,
      externalAccountBinding: mac(eab.kid, eab.hmacKey),
    });
    assert.equal(ok.status, 201, ok.text);
    // The key binds one account only.
    const d = await new RawAcme(userDir).init();
    problem(
      await d.newAccount({ termsOfServiceAgreed: true, externalAccountBinding: mac(eab.kid, eab.hmacKey) }),
      "unauthorized",
    );

    const o = await c.newOrder([{ type: "dns", value: "host.manual.genfic.internal" }]);
    assert.equal(o.status, 201, o.text);
    const zUrl = (o.body.authorizations as string[])[0]!;
    const ch = await serveHttp01(c, zUrl);
    await c.post(ch.url, {});
    await c.poll(zUrl, (a) => a.body.status !== "pending");
    const fin = await c.post(o.body.finalize as string, {
      csr: csr("manual", ["host.manual.genfic.internal"]),
    });
    assert.equal(fin.body.status, "processing", fin.text);
    assert.ok(fin.headers.get("retry-after"));
    const pending = JSON.parse(
      sigilOk(home, ["requests", "list", "--state", "pending", "--json"]).stdout,
    ) as Array<{ id: number; channel: string }>;
    const req = pending.find((r) => r.channel === "acme")!;
    assert.ok(req, "the order's request waits in the queue");
    sigilOk(home, ["requests", "approve", String(req.id)]);
    const valid = await c.poll(o.headers.get("location")!, (a) => a.body.status === "valid");
    assert.equal(valid.body.status, "valid");
    const pem = (await c.post(valid.body.certificate as string, undefined)).text;
    verifyChain(pem, "manual");
  });

  it("a validation left processing by a stopped process is run again when the client polls", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const o = await c.newOrder([{ type: "dns", value: "resumed.genfic.internal" }]);
    const zUrl = (o.body.authorizations as string[])[0]!;
    const ch = await serveHttp01(c, zUrl);
    // What a process that died mid-validation leaves: "processing", begun an hour ago.
    const store = await openStore(home);
    try {
      const ca = (await store.getCa("genfic-system"))!;
      const a = store.acme;
      const rec = (await a.getChallengeByPublicId(ca.id, ch.url.split("/").pop()!))!;
      await a.transaction((tx) =>
        tx.updateChallenge(rec.id, { status: "processing", startedAt: Date.now() - 3_600_000 }),
      );
    } finally {
      await store.close();
    }
    const z = await c.poll(zUrl, (x) => x.body.status !== "pending");
    assert.equal(z.body.status, "valid", z.text);
    assert.match(s.stdout(), /ACME validation left unfinished by a stopped process/);
  });

  it("limits new orders per account (rateLimited with Retry-After, RFC 8555 §6.6)", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    for (let i = 0; i < 3; i++)
      assert.equal((await c.newOrder([{ type: "dns", value: `rate${i}.genfic.internal` }])).status, 201);
    const r = await c.newOrder([{ type: "dns", value: "rate3.genfic.internal" }]);
    problem(r, "rateLimited", 429);
    const wait = Number(r.headers.get("retry-after"));
    assert.ok(wait > 3000 && wait <= 3600, `Retry-After ${wait}`);
    // Another account is not affected.
    const d = await new RawAcme(dirUrl).init();
    await d.newAccount();
    assert.equal((await d.newOrder([{ type: "dns", value: "rate4.genfic.internal" }])).status, 201);
  });

  it("while the service is sealed a finalized order waits (processing) and is signed after unseal", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const o = await c.newOrder([{ type: "dns", value: "sealed.genfic.internal" }]);
    const zUrl = (o.body.authorizations as string[])[0]!;
    const ch = await serveHttp01(c, zUrl);
    await c.post(ch.url, {});
    assert.equal((await c.poll(zUrl, (a) => a.body.status !== "pending")).body.status, "valid");
    const env = { SIGIL_TOKEN: security };
    const sealed = await sigilAsync(home, ["seal"], { env });
    assert.equal(sealed.status, 0, sealed.stderr);
    try {
      const fin = await c.post(o.body.finalize as string, { csr: csr("sealed", ["sealed.genfic.internal"]) });
      assert.equal(fin.status, 200, fin.text);
      assert.equal(fin.body.status, "processing");
      assert.ok(fin.headers.get("retry-after"));
      const still = await c.post(o.headers.get("location")!, undefined);
      assert.equal(still.body.status, "processing", still.text);
    } finally {
      const un = await sigilAsync(home, ["unseal"], { env });
      assert.equal(un.status, 0, un.stderr);
    }
    const valid = await c.poll(o.headers.get("location")!, (a) => a.body.status !== "processing");
    assert.equal(valid.body.status, "valid", valid.text);
    verifyChain((await c.post(valid.body.certificate as string, undefined)).text, "sealed");
  });

  it("refuses at finalize a key revoked for keyCompromise (issue 13: on every channel), audited", async () => {
    const c = await new RawAcme(dirUrl).init();
    await c.newAccount();
    const { pem } = await fullOrder(c, ["comp.genfic.internal"], "comp");
    const leaf = write(
      t.dir,
      "comp.leaf.pem",
      pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/)![0],
    );
    sigilOk(home, ["revoke", "--cert", leaf, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    // The same key (comp.key) in a new request, through a new, validated order.
    const der = join(t.dir, "comp-again.csr.der");
    const r = tool("openssl", [
      "req", "-new", "-key", join(t.dir, "comp.key"), "-outform", "DER", "-out", der, "-subj", "/",
      "-addext", "subjectAltName=DNS:comp.genfic.internal",
    ]); // prettier-ignore
    assert.equal(r.status, 0, r.stderr);
    const certsBefore = sigilOk(home, ["certs", "--ca", "genfic-system", "--all", "--json"]).stdout;
    const o = await c.newOrder([{ type: "dns", value: "comp.genfic.internal" }]);
    for (const zUrl of o.body.authorizations as string[]) {
      const ch = await serveHttp01(c, zUrl);
      await c.post(ch.url, {});
      assert.equal((await c.poll(zUrl, (a) => a.body.status !== "pending")).body.status, "valid");
    }
    await c.poll(o.headers.get("location")!, (a) => a.body.status !== "pending");
    const fin = await c.post(o.body.finalize as string, { csr: readFileSync(der).toString("base64url") });
    problem(fin, "badCSR", 400);
    assert.match(
      String(fin.body.detail),
      /public key was reported compromised: certificate [0-9a-f]+ of CA genfic-system was revoked for keyCompromise/,
    );
    const order = await c.post(o.headers.get("location")!, undefined);
    assert.equal(order.body.status, "invalid", order.text);
    assert.equal(
      sigilOk(home, ["certs", "--ca", "genfic-system", "--all", "--json"]).stdout,
      certsBefore,
      "nothing issued",
    );
  });
});

/** The HS256 MAC of an External Account Binding (RFC 8555 §7.3.4). */
function hmac(keyB64u: string, data: string): string {
  return createHmac("sha256", Buffer.from(keyB64u, "base64url")).update(data).digest("base64url");
}
