/**
 * ACME challenge validation (src/acme/challenges.ts) against real servers on 127.0.0.1: an
 * HTTP server for http-01, a TLS server with ALPN acme-tls/1 for tls-alpn-01 and the test
 * DNS server (test/dns-server.ts) for names and dns-01. Every name resolves to 127.0.0.1;
 * nothing else is ever contacted.
 */
import "reflect-metadata";
import assert from "node:assert/strict";
import { createHash, webcrypto } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { after, before, describe, it } from "node:test";
import * as x509 from "@peculiar/x509";
import {
  ACME_IDENTIFIER_OID,
  dns01Value,
  keyAuthorization,
  makeValidators,
  reverseName,
} from "../src/acme/challenges.js";
import type { AcmeIdentifier, ValidationResult } from "../src/acme/types.js";
import { SigilError } from "../src/errors.js";
import { startDnsServer } from "./dns-server.js";
import type { TestDnsServer } from "./dns-server.js";
import { tool, write } from "./helpers.js";

x509.cryptoProvider.set(webcrypto as never);

const URN = "urn:ietf:params:acme:error:";
const TOKEN = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
const THUMB = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const KEY_AUTH = keyAuthorization(TOKEN, THUMB);
const NAME = "web.genfic.internal";
const dns = (value: string): AcmeIdentifier => ({ type: "dns", value });

function listen(server: http.Server | tls.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server | tls.Server): Promise<void> {
  if ("closeAllConnections" in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

function assertProblem(r: ValidationResult, type: string, detail?: RegExp): void {
  assert.equal(r.ok, false, "validation must fail");
  if (r.ok) return;
  assert.equal(r.problem.type, URN + type, r.problem.detail);
  assert.ok(!r.problem.detail.includes("\n"), "one-line detail");
  if (detail) assert.match(r.problem.detail, detail);
}

describe("helpers", () => {
  it("keyAuthorization and dns01Value follow RFC 8555 §8.1 and §8.4", () => {
    assert.equal(KEY_AUTH, `${TOKEN}.${THUMB}`);
    const v = dns01Value(KEY_AUTH);
    assert.equal(v, createHash("sha256").update(KEY_AUTH).digest("base64url"));
    assert.match(v, /^[A-Za-z0-9_-]{43}$/, "unpadded base64url of 32 octets");
  });

  it("reverseName gives the RFC 8738 §6 SNI", () => {
    assert.equal(reverseName("127.0.0.1"), "1.0.0.127.in-addr.arpa");
    assert.equal(
      reverseName("2001:db8::1"),
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
  });

  it("refuses a dnsServer that is not an IP address with an optional port", () => {
    for (const bad of ["dns.genfic.internal", "127.0.0.1:99999", "127.0.0.1:x"])
      assert.throws(
        () => makeValidators({ http01Port: 80, tlsAlpn01Port: 443, dnsServer: bad, timeoutMs: 1000 }),
        (e: unknown) => e instanceof SigilError && e.code === "config",
        bad,
      );
    for (const good of ["127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353"])
      makeValidators({ http01Port: 80, tlsAlpn01Port: 443, dnsServer: good, timeoutMs: 1000 });
  });
});

describe("http-01 (RFC 8555 §8.3)", () => {
  let dnsServer: TestDnsServer;
  let server: http.Server;
  let port: number;
  const hosts: string[] = [];
  let slowPort: number;
  let slow: http.Server;

  before(async () => {
    dnsServer = await startDnsServer({
      nxdomain: ["gone.genfic.internal"],
      a: { "noaddr.genfic.internal": [] },
    });
    server = http.createServer((req, res) => {
      hosts.push(req.headers.host ?? "");
      const path = req.url ?? "";
      const host = (req.headers.host ?? "").split(":")[0];
      if (path !== `/.well-known/acme-challenge/${TOKEN}`) return void res.writeHead(404).end("not found");
      if (host === "wrong.genfic.internal") return void res.end("something else entirely\n");
      if (host === "redirect.genfic.internal")
        return void res.writeHead(302, { Location: "http://127.0.0.1:1/elsewhere" }).end();
      if (host === "big.genfic.internal") return void res.end(KEY_AUTH + " ".repeat(9000));
      if (host === "binary.genfic.internal") return void res.end(Buffer.alloc(300, 7));
      // Trailing whitespace is ignored (RFC 8555 §8.3).
      res.end(KEY_AUTH + "\r\n");
    });
    port = await listen(server);
    slow = http.createServer(() => {
      // Never answers: the validator must give up on its own.
    });
    slowPort = await listen(slow);
  });

  after(async () => {
    await close(server);
    await close(slow);
    await dnsServer.close();
  });

  const v = (p: number, timeoutMs = 5000) =>
    makeValidators({ http01Port: p, tlsAlpn01Port: 443, dnsServer: dnsServer.address, timeoutMs });

  it("accepts the key authorization, resolving the name at the configured DNS server", async () => {
    hosts.length = 0;
    const r = await v(port).http01(dns(NAME), TOKEN, KEY_AUTH);
    assert.deepEqual(r, { ok: true });
    // The Host header carries the name (and the port, not being 80); the connection went to
    // the address the test DNS server gave.
    assert.deepEqual(hosts, [`${NAME}:${port}`]);
    assert.ok(dnsServer.queries.includes(`A ${NAME}`));
  });

  it("refuses a wrong body as unauthorized, quoting a short excerpt", async () => {
    const r = await v(port).http01(dns("wrong.genfic.internal"), TOKEN, KEY_AUTH);
    assertProblem(r, "unauthorized", /wrong\.genfic\.internal.*"something else entirely"/);
  });

  it("refuses a 404", async () => {
    const r = await v(port).http01(dns(NAME), "otherTokenValue", KEY_AUTH);
    assertProblem(r, "unauthorized", /HTTP 404/);
  });

  it("does not follow a redirect", async () => {
    const r = await v(port).http01(dns("redirect.genfic.internal"), TOKEN, KEY_AUTH);
    assertProblem(r, "unauthorized", /302.*not followed/);
  });

  it("caps the body", async () => {
    const r = await v(port).http01(dns("big.genfic.internal"), TOKEN, KEY_AUTH);
    assertProblem(r, "incorrectResponse", /longer than 8192/);
  });

  it("never echoes more than ~100 characters of the body, and nothing unprintable", async () => {
    const r = await v(port).http01(dns("binary.genfic.internal"), TOKEN, KEY_AUTH);
    assertProblem(r, "unauthorized");
    if (!r.ok) {
      assert.ok(r.problem.detail.length < 300, r.problem.detail);
      assert.doesNotMatch(r.problem.detail, /[^\x20-\x7e]/);
    }
  });

  it("maps a refused connection to connection", async () => {
    const r = await v(await closedPort()).http01(dns(NAME), TOKEN, KEY_AUTH);
    assertProblem(r, "connection", /127\.0\.0\.1: connection refused/);
  });

  it("gives up on a server that never answers", async () => {
    const r = await v(slowPort, 300).http01(dns(NAME), TOKEN, KEY_AUTH);
    assertProblem(r, "connection", /timed out/);
  });

  it("maps NXDOMAIN and a name without addresses to dns", async () => {
    assertProblem(await v(port).http01(dns("gone.genfic.internal"), TOKEN, KEY_AUTH), "dns", /NXDOMAIN/);
    assertProblem(
      await v(port).http01(dns("noaddr.genfic.internal"), TOKEN, KEY_AUTH),
      "dns",
      /no A or AAAA record/,
    );
  });

  it("connects to an ip identifier's own address", async () => {
    hosts.length = 0;
    const r = await v(port).http01({ type: "ip", value: "127.0.0.1" }, TOKEN, KEY_AUTH);
    assert.deepEqual(r, { ok: true });
    assert.deepEqual(hosts, [`127.0.0.1:${port}`]);
  });

  it("resolves localhost with the system resolver when no DNS server is configured", async () => {
    const sys = makeValidators({ http01Port: port, tlsAlpn01Port: 443, timeoutMs: 5000 });
    assert.deepEqual(await sys.http01(dns("localhost"), TOKEN, KEY_AUTH), { ok: true });
  });

  it("refuses malformed identifiers and tokens before any network use", async () => {
    const before = dnsServer.queries.length;
    assertProblem(await v(port).http01(dns("bad/name"), TOKEN, KEY_AUTH), "rejectedIdentifier");
    assertProblem(
      await v(port).http01({ type: "ip", value: "1.2.3" }, TOKEN, KEY_AUTH),
      "rejectedIdentifier",
    );
    assertProblem(await v(port).http01(dns(NAME), "../etc", KEY_AUTH), "malformed");
    assert.equal(dnsServer.queries.length, before);
  });
});

/**
 * A tls-alpn-01 validation certificate as RFC 8737 §3 describes it: self-signed, a
 * subjectAltName with a single dNSName (RFC 8738 §6: iPAddress), and the critical
 * id-pe-acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31, §6.1) whose extnValue is the DER
 * of `Authorization ::= OCTET STRING (SIZE (32))` = SHA-256(key authorization).
 */
async function challengeCert(opts: {
  sans: { type: "dns" | "ip"; value: string }[];
  keyAuth?: string;
  critical?: boolean;
  withExtension?: boolean;
}): Promise<{ cert: string; key: string }> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const digest = createHash("sha256")
    .update(opts.keyAuth ?? KEY_AUTH)
    .digest();
  const extensions: x509.Extension[] = [new x509.SubjectAlternativeNameExtension(opts.sans)];
  if (opts.withExtension !== false)
    extensions.push(
      new x509.Extension(
        ACME_IDENTIFIER_OID,
        opts.critical ?? true,
        Buffer.concat([Buffer.from([0x04, 32]), digest]),
      ),
    );
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=ACME challenge",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    keys,
    signingAlgorithm: alg,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString("base64")}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString("pem"), key };
}

describe("tls-alpn-01 (RFC 8737 §3)", () => {
  let dnsServer: TestDnsServer;
  let server: tls.Server;
  let port: number;
  let plain: tls.Server;
  let plainPort: number;
  const sni: string[] = [];
  /** The certificate presented per SNI name. */
  const contexts = new Map<string, tls.SecureContext>();
  let goodPem: string;

  before(async () => {
    dnsServer = await startDnsServer();
    const add = async (servername: string, opts: Parameters<typeof challengeCert>[0]) => {
      const { cert, key } = await challengeCert(opts);
      contexts.set(servername, tls.createSecureContext({ cert, key }));
      return cert;
    };
    goodPem = await add(NAME, { sans: [{ type: "dns", value: NAME }] });
    await add("digest.genfic.internal", {
      sans: [{ type: "dns", value: "digest.genfic.internal" }],
      keyAuth: `${TOKEN}.someoneElsesThumbprint`,
    });
    await add("noncritical.genfic.internal", {
      sans: [{ type: "dns", value: "noncritical.genfic.internal" }],
      critical: false,
    });
    await add("twosans.genfic.internal", {
      sans: [
        { type: "dns", value: "twosans.genfic.internal" },
        { type: "dns", value: "other.genfic.internal" },
      ],
    });
    await add("noext.genfic.internal", {
      sans: [{ type: "dns", value: "noext.genfic.internal" }],
      withExtension: false,
    });
    await add(reverseName("127.0.0.1"), { sans: [{ type: "ip", value: "127.0.0.1" }] });
    const fallback = await challengeCert({ sans: [{ type: "dns", value: "fallback.invalid" }] });
    server = tls.createServer({
      ...fallback,
      ALPNProtocols: ["acme-tls/1"],
      SNICallback: (name, cb) => {
        sni.push(name);
        cb(null, contexts.get(name));
      },
    });
    port = await listen(server);
    // A TLS server that presents the right certificate but speaks no ALPN at all.
    const { cert, key } = await challengeCert({ sans: [{ type: "dns", value: NAME }] });
    plain = tls.createServer({ cert, key });
    plainPort = await listen(plain);
  });

  after(async () => {
    await close(server);
    await close(plain);
    await dnsServer.close();
  });

  const v = (p: number) =>
    makeValidators({ http01Port: 80, tlsAlpn01Port: p, dnsServer: dnsServer.address, timeoutMs: 5000 });

  it("the test certificate has the RFC 8737 §3 shape, as openssl reads it", () => {
    const dir = mkdtempSync(join(tmpdir(), "sigil-alpn-"));
    try {
      const r = tool("openssl", ["x509", "-noout", "-text", "-in", write(dir, "c.pem", goodPem)]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
      assert.match(r.stdout, new RegExp(`DNS:${NAME.replace(/\./g, "\\.")}\\s*\\n`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("accepts a correct validation certificate, sending the name as SNI", async () => {
    sni.length = 0;
    assert.deepEqual(await v(port).tlsAlpn01(dns(NAME), KEY_AUTH), { ok: true });
    assert.deepEqual(sni, [NAME]);
  });

  it("refuses a digest of another key authorization as unauthorized", async () => {
    assertProblem(await v(port).tlsAlpn01(dns("digest.genfic.internal"), KEY_AUTH), "unauthorized", /digest/);
  });

  it("refuses an acmeIdentifier extension that is not critical", async () => {
    assertProblem(
      await v(port).tlsAlpn01(dns("noncritical.genfic.internal"), KEY_AUTH),
      "incorrectResponse",
      /not critical/,
    );
  });

  it("refuses a certificate without the acmeIdentifier extension", async () => {
    assertProblem(
      await v(port).tlsAlpn01(dns("noext.genfic.internal"), KEY_AUTH),
      "incorrectResponse",
      /no acmeIdentifier/,
    );
  });

  it("refuses a certificate with two SANs", async () => {
    assertProblem(
      await v(port).tlsAlpn01(dns("twosans.genfic.internal"), KEY_AUTH),
      "incorrectResponse",
      /alone in its subjectAltName.*other\.genfic\.internal/,
    );
  });

  it("refuses a certificate naming another host (the server's default)", async () => {
    assertProblem(
      await v(port).tlsAlpn01(dns("unknown.genfic.internal"), KEY_AUTH),
      "incorrectResponse",
      /fallback\.invalid/,
    );
  });

  it("refuses a server that does not negotiate acme-tls/1", async () => {
    assertProblem(await v(plainPort).tlsAlpn01(dns(NAME), KEY_AUTH), "unauthorized", /ALPN acme-tls\/1/);
  });

  it("validates an ip identifier with the reverse name as SNI and an iPAddress SAN (RFC 8738 §6)", async () => {
    sni.length = 0;
    assert.deepEqual(await v(port).tlsAlpn01({ type: "ip", value: "127.0.0.1" }, KEY_AUTH), { ok: true });
    assert.deepEqual(sni, ["1.0.0.127.in-addr.arpa"]);
  });

  it("maps a refused connection to connection", async () => {
    assertProblem(await v(await closedPort()).tlsAlpn01(dns(NAME), KEY_AUTH), "connection", /refused/);
  });

  it("maps a peer that is not TLS to tls", async () => {
    const h = http.createServer((_req, res) => res.end("hello"));
    const hp = await listen(h);
    try {
      assertProblem(await v(hp).tlsAlpn01(dns(NAME), KEY_AUTH), "tls", /handshake failed/);
    } finally {
      await close(h);
    }
  });
});

describe("dns-01 (RFC 8555 §8.4)", () => {
  let dnsServer: TestDnsServer;
  before(async () => {
    dnsServer = await startDnsServer({ nxdomain: ["_acme-challenge.gone.genfic.internal"] });
  });
  after(async () => {
    await dnsServer.close();
  });
  const v = () =>
    makeValidators({ http01Port: 80, tlsAlpn01Port: 443, dnsServer: dnsServer.address, timeoutMs: 5000 });

  it("accepts the digest among several TXT records", async () => {
    dnsServer.setTxt(`_acme-challenge.${NAME}`, ["unrelated", dns01Value(KEY_AUTH), "another"]);
    assert.deepEqual(await v().dns01(dns(NAME), KEY_AUTH), { ok: true });
    assert.ok(dnsServer.queries.includes(`TXT _acme-challenge.${NAME}`));
  });

  it("looks up the base name of a wildcard", async () => {
    dnsServer.setTxt("_acme-challenge.wild.genfic.internal", [dns01Value(KEY_AUTH)]);
    assert.deepEqual(await v().dns01(dns("*.wild.genfic.internal"), KEY_AUTH), { ok: true });
  });

  it("refuses a wrong value as unauthorized", async () => {
    dnsServer.setTxt("_acme-challenge.wrong.genfic.internal", [dns01Value(`${TOKEN}.other`)]);
    assertProblem(
      await v().dns01(dns("wrong.genfic.internal"), KEY_AUTH),
      "unauthorized",
      /none is the expected/,
    );
  });

  it("maps NXDOMAIN and a missing record to dns", async () => {
    assertProblem(await v().dns01(dns("gone.genfic.internal"), KEY_AUTH), "dns", /NXDOMAIN/);
    dnsServer.clearTxt(`_acme-challenge.${NAME}`);
    assertProblem(await v().dns01(dns(NAME), KEY_AUTH), "dns", /no TXT record/);
  });

  it("refuses an ip identifier (RFC 8738 §7)", async () => {
    assertProblem(await v().dns01({ type: "ip", value: "127.0.0.1" }, KEY_AUTH), "rejectedIdentifier");
  });

  it("maps a DNS server that does not answer to dns", async () => {
    const dead = await startDnsServer();
    const address = dead.address;
    await dead.close();
    const r = await makeValidators({
      http01Port: 80,
      tlsAlpn01Port: 443,
      dnsServer: address,
      timeoutMs: 500,
    }).dns01(dns(NAME), KEY_AUTH);
    assertProblem(r, "dns");
  });
});
