/**
 * ACME challenge validation (RFC 8555 §8.3 http-01, §8.4 dns-01; RFC 8737 tls-alpn-01;
 * RFC 8738 for IP identifiers): the {@link Validators} the ACME server calls when a client
 * answers a challenge.
 *
 * Security: validation connects only to the addresses the identifier's name resolves to (the
 * configured DNS server, or the system resolver so /etc/hosts works in a lab), or to the
 * address itself for an "ip" identifier; it never follows an HTTP redirect elsewhere. In
 * tests every name resolves to 127.0.0.1 and nothing else is ever contacted.
 *
 * Outcomes are RFC 8555 §6.7 problems with a one-line detail naming what was contacted and
 * what was wrong (never more than ~100 characters of what the target sent):
 * - `dns`: the name does not resolve (NXDOMAIN, no address, no TXT record) or the look-up failed;
 * - `connection`: no address answered (refused, reset, unreachable, timed out);
 * - `tls`: the TLS handshake failed (tls-alpn-01);
 * - `unauthorized`: the target answered but did not prove control: a wrong key authorization
 *   or digest, an HTTP status other than 200 (redirects included), acme-tls/1 not negotiated,
 *   a wrong TXT value;
 * - `incorrectResponse`: the answer is malformed for the challenge (an oversized body, a
 *   validation certificate that is unreadable or of the wrong shape);
 * - `rejectedIdentifier`: the identifier cannot be validated this way (dns-01 for an IP,
 *   RFC 8738 §7) or is not a well-formed name or address.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { lookup, Resolver } from "node:dns/promises";
import http from "node:http";
import { isIP } from "node:net";
import tls from "node:tls";
import { ErrorCodes, SigilError } from "../errors.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { Tag, readWhole } from "../x509/der.js";
import { ipToBytes, isHostname } from "../x509/san.js";
import type { AcmeIdentifier, StoredProblem, ValidationResult, Validators } from "./types.js";

/** id-pe-acmeIdentifier, { id-pe 31 } (RFC 8737 §3, §6.1). */
export const ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31";
/** The ALPN protocol name of tls-alpn-01 (RFC 8737 §4, §6.2). */
export const ACME_TLS_ALPN = "acme-tls/1";
/** Largest http-01 response body read, in bytes; a key authorization is about 87. */
export const HTTP01_MAX_BODY = 8 * 1024;

const URN = "urn:ietf:params:acme:error:";

/** Options of {@link makeValidators}; the values come from config `acme`. */
export interface ValidatorOptions {
  /** Port http-01 connects to (RFC 8555 §8.3: 80). */
  http01Port: number;
  /** Port tls-alpn-01 connects to (RFC 8737 §3: 443). */
  tlsAlpn01Port: number;
  /** A DNS server, "HOST" or "HOST:PORT" (HOST an IP address); unset: the system resolver. */
  dnsServer?: string;
  /** Bound on one validation attempt (resolution and all connections), in milliseconds. */
  timeoutMs: number;
}

/** The key authorization (RFC 8555 §8.1), made by the ACME use cases. */
export { keyAuthorization } from "../authority/acme/authorizations.js";

/** The dns-01 TXT value: base64url(SHA-256(key authorization)), unpadded (RFC 8555 §8.4). */
export function dns01Value(keyAuth: string): string {
  return createHash("sha256").update(keyAuth, "utf8").digest("base64url");
}

function problem(type: string, detail: string, status = 400): ValidationResult {
  const p: StoredProblem = { type: URN + type, detail, status };
  return { ok: false, problem: p };
}

/** At most ~100 characters of what a target sent, printable and quoted, for a detail line. */
function excerpt(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return JSON.stringify(clean.length > 100 ? clean.slice(0, 100) + "..." : clean);
}

function errCode(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : e instanceof Error ? e.message : String(e);
}

/** Parses "HOST" or "HOST:PORT" ("[v6]:PORT" for IPv6 with a port) to a c-ares server string. */
function dnsServerString(s: string): string {
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s);
  const v4 = /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  let host: string;
  let port: string | undefined;
  if (v6) [host, port] = [v6[1]!, v6[2]];
  else if (v4) [host, port] = [v4[1]!, v4[2]];
  else if (isIP(s) === 6) [host, port] = [s, undefined];
  else throw new SigilError(ErrorCodes.CONFIG, `acme.dnsServer "${s}" must be HOST or HOST:PORT`);
  if (isIP(host) === 0)
    throw new SigilError(ErrorCodes.CONFIG, `acme.dnsServer "${s}": HOST must be an IP address`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535))
    throw new SigilError(ErrorCodes.CONFIG, `acme.dnsServer "${s}": port out of range`);
  if (port === undefined) return host;
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Time left until `deadline` (epoch ms), at least 1 ms. */
const left = (deadline: number): number => Math.max(1, deadline - Date.now());

const TIMEOUT = Symbol("timeout");

/** Races `p` against the deadline; `onTimeout` cancels the loser. */
async function before<T>(
  p: Promise<T>,
  deadline: number,
  onTimeout?: () => void,
): Promise<T | typeof TIMEOUT> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => {
      onTimeout?.();
      resolve(TIMEOUT);
    }, left(deadline));
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

type Addresses = { ok: true; addresses: string[] } | { ok: false; result: ValidationResult };

/** The SNI / URL name of an identifier, or a rejectedIdentifier problem. */
function checkIdentifier(id: AcmeIdentifier): ValidationResult | undefined {
  if (id.type === "ip") {
    if (isIP(id.value) === 0 || id.value.includes("%"))
      return problem("rejectedIdentifier", `"${id.value.slice(0, 60)}" is not an IP address`);
    return undefined;
  }
  if (id.type !== "dns" || !isHostname(id.value))
    return problem("rejectedIdentifier", `"${String(id.value).slice(0, 60)}" is not a DNS name`);
  return undefined;
}

/** `host[:port]` for a URL or Host header (IPv6 in brackets, RFC 3986 §3.2.2). */
function hostPort(host: string, port: number, defaultPort: number): string {
  const h = isIP(host) === 6 ? `[${host}]` : host;
  return port === defaultPort ? h : `${h}:${port}`;
}

/**
 * The RFC 8738 §6 SNI for an IP identifier: the in-addr.arpa / ip6.arpa reverse name, since
 * RFC 6066 §3 forbids IP literals in SNI.
 */
export function reverseName(ip: string): string {
  const b = ipToBytes(ip);
  if (!b) throw new SigilError(ErrorCodes.BAD_INPUT, `"${ip}" is not an IP address`);
  if (b.length === 4) return `${[...b].reverse().join(".")}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const byte of b) nibbles.push((byte >> 4).toString(16), (byte & 15).toString(16));
  return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

/**
 * Makes the challenge validators. Throws SigilError CONFIG when `dnsServer` is not an IP
 * address with an optional port.
 */
export function makeValidators(opts: ValidatorOptions): Validators {
  const server = opts.dnsServer === undefined ? undefined : dnsServerString(opts.dnsServer);
  const timeoutMs = opts.timeoutMs;

  /** A resolver for one attempt: the configured server, or the system's (resolv.conf). */
  function resolver(deadline: number): Resolver {
    const r = new Resolver({ timeout: left(deadline), tries: 1 });
    if (server !== undefined) r.setServers([server]);
    return r;
  }

  /**
   * The addresses to try for an identifier, IPv4 first. An "ip" identifier is its own
   * address (RFC 8738 §3); a name goes to the configured DNS server (A and AAAA) or to
   * getaddrinfo (so /etc/hosts applies).
   */
  async function addresses(id: AcmeIdentifier, deadline: number): Promise<Addresses> {
    if (id.type === "ip") return { ok: true, addresses: [id.value] };
    const name = id.value;
    if (server !== undefined) {
      const r = resolver(deadline);
      const got = await before(Promise.allSettled([r.resolve4(name), r.resolve6(name)]), deadline, () =>
        r.cancel(),
      );
      if (got === TIMEOUT)
        return { ok: false, result: problem("dns", `look-up of ${name} at ${server} timed out`) };
      const found = got.flatMap((s) => (s.status === "fulfilled" ? s.value : []));
      if (found.length > 0) return { ok: true, addresses: [...new Set(found)] };
      const codes = got.map((s) => (s.status === "rejected" ? errCode(s.reason) : "ENODATA"));
      if (codes.includes("ENOTFOUND"))
        return { ok: false, result: problem("dns", `${name} does not exist (NXDOMAIN at ${server})`) };
      if (codes.every((c) => c === "ENODATA"))
        return { ok: false, result: problem("dns", `${name} has no A or AAAA record at ${server}`) };
      return {
        ok: false,
        result: problem("dns", `look-up of ${name} at ${server} failed (${codes.join(", ")})`),
      };
    }
    // getaddrinfo cannot be cancelled: on timeout its answer is simply ignored.
    const got = await before(
      lookup(name, { all: true }).then(
        (list) => ({ list }),
        (e: unknown) => ({ error: errCode(e) }),
      ),
      deadline,
    );
    if (got === TIMEOUT) return { ok: false, result: problem("dns", `look-up of ${name} timed out`) };
    if ("error" in got) {
      const detail =
        got.error === "ENOTFOUND" ? `${name} does not resolve` : `look-up of ${name} failed (${got.error})`;
      return { ok: false, result: problem("dns", detail) };
    }
    const sorted = [...got.list].sort((a, b) => a.family - b.family).map((a) => a.address);
    if (sorted.length === 0) return { ok: false, result: problem("dns", `${name} has no address`) };
    return { ok: true, addresses: [...new Set(sorted)] };
  }

  /** One attempt per address in order, stopping at the first that answers (not a connection failure). */
  async function eachAddress(
    list: string[],
    deadline: number,
    what: string,
    tryOne: (address: string) => Promise<Attempt>,
  ): Promise<ValidationResult> {
    const failures: string[] = [];
    for (const address of list) {
      if (Date.now() >= deadline) {
        failures.push(`${address}: not tried, time is up`);
        break;
      }
      const a = await tryOne(address);
      if (a.answered) return a.result;
      failures.push(`${address}: ${a.why}`);
    }
    return problem("connection", `${what}: ${failures.join("; ")}`);
  }

  return {
    async http01(identifier, token, keyAuth) {
      const bad = checkIdentifier(identifier);
      if (bad) return bad;
      if (!/^[A-Za-z0-9_-]{1,256}$/.test(token))
        return problem("malformed", "the challenge token is not base64url");
      const deadline = Date.now() + timeoutMs;
      const path = `/.well-known/acme-challenge/${token}`;
      const host = hostPort(identifier.value, opts.http01Port, 80);
      const url = `http://${host}${path}`;
      const resolved = await addresses(identifier, deadline);
      if (!resolved.ok) return resolved.result;
      return eachAddress(resolved.addresses, deadline, url, (address) =>
        httpAttempt({ address, port: opts.http01Port, host, path, url, keyAuth, deadline }),
      );
    },

    async tlsAlpn01(identifier, keyAuth) {
      const bad = checkIdentifier(identifier);
      if (bad) return bad;
      const deadline = Date.now() + timeoutMs;
      const resolved = await addresses(identifier, deadline);
      if (!resolved.ok) return resolved.result;
      const what = `tls-alpn-01 at ${hostPort(identifier.value, opts.tlsAlpn01Port, -1)}`;
      return eachAddress(resolved.addresses, deadline, what, (address) =>
        tlsAttempt({ address, port: opts.tlsAlpn01Port, identifier, keyAuth, deadline, what }),
      );
    },

    async dns01(identifier, keyAuth) {
      // RFC 8738 §7: dns-01 MUST NOT be used to validate IP identifiers.
      if (identifier.type === "ip")
        return problem("rejectedIdentifier", `dns-01 cannot validate the IP address ${identifier.value}`);
      // For a wildcard order the authorization names the base domain already (RFC 8555
      // §7.1.3); strip "*." anyway so the TXT name is never "_acme-challenge.*.x".
      const base = identifier.value.startsWith("*.") ? identifier.value.slice(2) : identifier.value;
      const bad = checkIdentifier({ type: "dns", value: base });
      if (bad) return bad;
      const name = `_acme-challenge.${base}`;
      const at = server === undefined ? "" : ` at ${server}`;
      const deadline = Date.now() + timeoutMs;
      const r = resolver(deadline);
      const got = await before(
        r.resolveTxt(name).then(
          (records) => ({ records }),
          (e: unknown) => ({ error: errCode(e) }),
        ),
        deadline,
        () => r.cancel(),
      );
      if (got === TIMEOUT) return problem("dns", `TXT look-up of ${name}${at} timed out`);
      if ("error" in got) {
        if (got.error === "ENOTFOUND") return problem("dns", `${name} does not exist (NXDOMAIN${at})`);
        if (got.error === "ENODATA") return problem("dns", `${name} has no TXT record${at}`);
        return problem("dns", `TXT look-up of ${name}${at} failed (${got.error})`);
      }
      // RFC 8555 §8.4: any of several TXT records may hold the value (one per pending
      // authorization); a record split into several strings is read joined.
      const values = got.records.map((chunks) => chunks.join(""));
      const expected = dns01Value(keyAuth);
      if (values.includes(expected)) return { ok: true };
      if (values.length === 0) return problem("dns", `${name} has no TXT record${at}`);
      return problem(
        "unauthorized",
        `${name} has ${values.length} TXT record(s), none is the expected digest (found ${excerpt(values.join(", "))})`,
        403,
      );
    },
  };
}

/** One connection attempt: an answer (final) or a connection failure (try the next address). */
type Attempt = { answered: true; result: ValidationResult } | { answered: false; why: string };

function describeNetError(e: unknown): string {
  const code = errCode(e);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused";
    case "ECONNRESET":
      return "connection reset";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "unreachable";
    default:
      return code.slice(0, 80);
  }
}

/**
 * http-01 (RFC 8555 §8.3) against one address: GET with the Host header of the identifier,
 * the body read up to {@link HTTP01_MAX_BODY}.
 */
function httpAttempt(a: {
  address: string;
  port: number;
  host: string;
  path: string;
  url: string;
  keyAuth: string;
  deadline: number;
}): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    let done = false;
    let responded = false;
    const finish = (r: Attempt): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const answered = (result: ValidationResult): void => finish({ answered: true, result });
    const req = http.request({
      // Connect to the resolved address; the name goes only into the Host header.
      host: a.address,
      port: a.port,
      path: a.path,
      method: "GET",
      headers: { Host: a.host, "User-Agent": "sigil-acme-validator", Accept: "*/*", Connection: "close" },
      agent: false,
    });
    const timer = setTimeout(() => {
      finish(
        responded
          ? {
              answered: true,
              result: problem("connection", `${a.url} (${a.address}): timed out reading the body`),
            }
          : { answered: false, why: "timed out" },
      );
    }, left(a.deadline));
    req.on("error", (e) => {
      if (responded) answered(problem("connection", `${a.url} (${a.address}): ${describeNetError(e)}`));
      else if (errCode(e).startsWith("HPE_"))
        answered(problem("incorrectResponse", `${a.url} (${a.address}) did not answer in HTTP`));
      else finish({ answered: false, why: describeNetError(e) });
    });
    req.on("response", (res) => {
      responded = true;
      const status = res.statusCode ?? 0;
      // RFC 8555 §8.3 lets the server follow redirects; Sigil refuses them so that validation
      // only ever contacts the addresses the identifier itself resolves to.
      if (status >= 300 && status < 400) {
        const loc = typeof res.headers.location === "string" ? ` to ${excerpt(res.headers.location)}` : "";
        return answered(
          problem("unauthorized", `${a.url} answered ${status}, a redirect${loc} (not followed)`, 403),
        );
      }
      if (status !== 200) return answered(problem("unauthorized", `${a.url} answered HTTP ${status}`, 403));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > HTTP01_MAX_BODY)
          return answered(
            problem("incorrectResponse", `${a.url}: the body is longer than ${HTTP01_MAX_BODY} bytes`),
          );
        chunks.push(c);
      });
      res.on("error", (e) =>
        answered(problem("connection", `${a.url} (${a.address}): ${describeNetError(e)}`)),
      );
      res.on("end", () => {
        // RFC 8555 §8.3: the server SHOULD ignore whitespace at the end of the body.
        const body = Buffer.concat(chunks).toString("utf8").replace(/\s+$/, "");
        if (body === a.keyAuth) return answered({ ok: true });
        answered(
          problem("unauthorized", `${a.url} answered ${excerpt(body)}, not the key authorization`, 403),
        );
      });
    });
    req.end();
  });
}

/**
 * tls-alpn-01 (RFC 8737 §3) against one address: a TLS 1.2+ handshake offering only
 * acme-tls/1, SNI = the name (RFC 8738 §6: the reverse name for an IP), then the checks of
 * {@link checkValidationCertificate}. The certificate is self-signed by design, so it is not
 * verified against any trust anchor.
 */
function tlsAttempt(a: {
  address: string;
  port: number;
  identifier: AcmeIdentifier;
  keyAuth: string;
  deadline: number;
  what: string;
}): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    let done = false;
    let connected = false;
    const finish = (r: Attempt): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const answered = (result: ValidationResult): void => finish({ answered: true, result });
    const servername = a.identifier.type === "ip" ? reverseName(a.identifier.value) : a.identifier.value;
    const socket = tls.connect({
      host: a.address,
      port: a.port,
      servername,
      ALPNProtocols: [ACME_TLS_ALPN],
      minVersion: "TLSv1.2",
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      finish(
        connected
          ? {
              answered: true,
              result: problem("connection", `${a.what} (${a.address}): TLS handshake timed out`),
            }
          : { answered: false, why: "timed out" },
      );
    }, left(a.deadline));
    socket.on("connect", () => {
      connected = true;
    });
    socket.on("error", (e) => {
      if (connected)
        answered(problem("tls", `${a.what} (${a.address}): TLS handshake failed (${describeTlsError(e)})`));
      else finish({ answered: false, why: describeNetError(e) });
    });
    socket.on("secureConnect", () => {
      // RFC 8737 §3 step 4: acme-tls/1 must have been negotiated.
      if (socket.alpnProtocol !== ACME_TLS_ALPN)
        return answered(
          problem("unauthorized", `${a.what} (${a.address}) did not negotiate ALPN ${ACME_TLS_ALPN}`, 403),
        );
      const raw = socket.getPeerCertificate(false)?.raw;
      if (!raw || raw.length === 0)
        return answered(problem("incorrectResponse", `${a.what} (${a.address}) presented no certificate`));
      answered(checkValidationCertificate(raw, a.identifier, a.keyAuth, `${a.what} (${a.address})`));
    });
  });
}

/** OpenSSL's reason ("wrong version number"), not its multi-part error string. */
function describeTlsError(e: unknown): string {
  const reason = (e as { reason?: unknown } | null)?.reason;
  if (typeof reason === "string" && reason) return reason.slice(0, 100);
  return errCode(e).split("\n")[0]!.slice(0, 100);
}

/**
 * The RFC 8737 §3 checks of a tls-alpn-01 validation certificate (DER):
 * - the subjectAltName holds exactly one entry, a dNSName equal to the identifier (RFC 8738
 *   §6: an iPAddress for an IP identifier);
 * - the id-pe-acmeIdentifier extension is present and critical, and its extnValue is the DER
 *   of `Authorization ::= OCTET STRING (SIZE (32))` holding SHA-256(key authorization).
 */
export function checkValidationCertificate(
  der: Buffer,
  identifier: AcmeIdentifier,
  keyAuth: string,
  where: string,
): ValidationResult {
  let cert;
  try {
    cert = parseCertificate(der);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return problem("incorrectResponse", `${where}: unreadable certificate (${msg.slice(0, 100)})`);
  }
  const sans = cert.sans;
  const matches = (v: string): boolean =>
    identifier.type === "ip"
      ? ipToBytes(v)?.equals(ipToBytes(identifier.value) ?? Buffer.alloc(0)) === true
      : v.toLowerCase() === identifier.value.toLowerCase();
  if (sans.length !== 1 || sans[0]!.type !== identifier.type || !matches(sans[0]!.value)) {
    const found = sans.map((n) => `${n.type}:${n.value}`).join(", ") || "none";
    return problem(
      "incorrectResponse",
      `${where}: the certificate must name ${identifier.type}:${identifier.value} alone in its subjectAltName, found ${excerpt(found)}`,
    );
  }
  const ext = cert.extensions.find((x) => x.oid === ACME_IDENTIFIER_OID);
  if (!ext) return problem("incorrectResponse", `${where}: the certificate has no acmeIdentifier extension`);
  if (!ext.critical)
    return problem(
      "incorrectResponse",
      `${where}: the acmeIdentifier extension is not critical (RFC 8737 §3)`,
    );
  let digest: Buffer;
  try {
    const node = readWhole(ext.value);
    if (node.tag !== Tag.OCTET_STRING || node.content.length !== 32) throw new Error("shape");
    digest = node.content;
  } catch {
    return problem(
      "incorrectResponse",
      `${where}: the acmeIdentifier extension is not an OCTET STRING of 32 octets`,
    );
  }
  const expected = createHash("sha256").update(keyAuth, "utf8").digest();
  if (!timingSafeEqual(digest, expected))
    return problem(
      "unauthorized",
      `${where}: the acmeIdentifier digest is not SHA-256 of the key authorization`,
      403,
    );
  return { ok: true };
}
