/**
 * A raw ACME client (RFC 8555) for tests and bench/acme: it signs JWS with node:crypto and
 * lets a test break any part of a request (nonce, url, key), which real clients never do.
 */
import { createHash, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from "node:crypto";

/** JWS algorithms the tests use (RFC 7518 §3.1, RFC 8037 §3.1). */
export type Alg = "ES256" | "ES384" | "RS256" | "EdDSA";

/** A key pair for an account or a certificate. */
export interface AcmeKey {
  alg: Alg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JsonWebKey;
}

export function newKey(alg: Alg = "ES256"): AcmeKey {
  const pair =
    alg === "ES256"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : alg === "ES384"
        ? generateKeyPairSync("ec", { namedCurve: "P-384" })
        : alg === "RS256"
          ? generateKeyPairSync("rsa", { modulusLength: 2048 })
          : generateKeyPairSync("ed25519");
  const jwk = pair.publicKey.export({ format: "jwk" });
  return { alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

/** RFC 7638 thumbprint, computed here independently of the server's. */
export function thumbprint(jwk: JsonWebKey): string {
  const members =
    jwk.kty === "EC"
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : jwk.kty === "RSA"
        ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
        : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

const b64u = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** A flattened JWS (RFC 7515 §7.2.2) over `payload` (undefined: POST-as-GET, an empty payload). */
export function jws(
  key: AcmeKey,
  protectedHeader: Record<string, unknown>,
  payload: unknown,
): { protected: string; payload: string; signature: string } {
  const prot = b64u(JSON.stringify({ alg: key.alg, ...protectedHeader }));
  const pay = payload === undefined ? "" : b64u(JSON.stringify(payload));
  const input = Buffer.from(`${prot}.${pay}`);
  const sig =
    key.alg === "EdDSA"
      ? sign(null, input, key.privateKey)
      : key.alg === "RS256"
        ? sign("sha256", input, key.privateKey)
        : sign(key.alg === "ES384" ? "sha384" : "sha256", input, {
            key: key.privateKey,
            dsaEncoding: "ieee-p1363",
          });
  return { protected: prot, payload: pay, signature: b64u(sig) };
}

/** An ACME answer. */
export interface Answer {
  status: number;
  headers: Headers;
  /** The JSON object when the answer is one (resources, problem documents), else empty. */
  body: Record<string, unknown>;
  text: string;
}

/**
 * How long one request may go unanswered. A service that hangs fails the test at once,
 * naming the request, instead of leaving it to the test runner's timeout (which reports
 * nothing but the file).
 */
const REQUEST_MS = 60_000;

/** `fetch` bounded by {@link REQUEST_MS}; a stall is an error naming the request and what `RawAcme.diagnose` says. */
async function bounded(url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_MS) });
  } catch (e) {
    const why =
      (e as Error).name === "TimeoutError" ? `no answer in ${REQUEST_MS / 1000} s` : (e as Error).message;
    const more = RawAcme.diagnose?.() ?? "";
    throw new Error(`${init.method ?? "GET"} ${url}: ${why}${more ? `\n${more}` : ""}`, { cause: e });
  }
}

/** A client of one directory, with one account key. */
export class RawAcme {
  /** What a failed request adds to its error (a test sets it to the service's last log lines). */
  static diagnose: (() => string) | undefined;

  dir!: Record<string, string>;
  kid?: string;
  private nonces: string[] = [];

  constructor(
    readonly directoryUrl: string,
    readonly key: AcmeKey = newKey(),
  ) {}

  async init(): Promise<this> {
    const r = await bounded(this.directoryUrl);
    if (r.status !== 200) throw new Error(`directory: ${r.status} ${await r.text()}`);
    this.dir = (await r.json()) as Record<string, string>;
    return this;
  }

  async nonce(): Promise<string> {
    const kept = this.nonces.pop();
    if (kept) return kept;
    const r = await bounded(this.dir.newNonce!, { method: "HEAD" });
    const n = r.headers.get("replay-nonce");
    if (!n) throw new Error(`newNonce gave no Replay-Nonce (${r.status})`);
    return n;
  }

  /**
   * POSTs a JWS. `opts.jwk`: carry the key instead of kid; `opts.nonce`, `opts.url`,
   * `opts.signWith`: break the request on purpose.
   */
  async post(
    url: string,
    payload: unknown,
    opts: {
      jwk?: boolean;
      nonce?: string;
      url?: string;
      signWith?: AcmeKey;
      key?: AcmeKey;
      retryBadNonce?: boolean;
    } = {},
  ): Promise<Answer> {
    const key = opts.key ?? this.key;
    for (let attempt = 0; ; attempt++) {
      const nonce = opts.nonce ?? (await this.nonce());
      const header: Record<string, unknown> = { nonce, url: opts.url ?? url };
      if (opts.jwk || !this.kid) header.jwk = key.jwk;
      else header.kid = this.kid;
      const body = jws(opts.signWith ?? key, { ...header, alg: (opts.signWith ?? key).alg }, payload);
      const r = await bounded(url, {
        method: "POST",
        headers: { "content-type": "application/jose+json" },
        body: JSON.stringify(body),
      });
      const n = r.headers.get("replay-nonce");
      if (n) this.nonces.push(n);
      const text = await r.text();
      const type = r.headers.get("content-type") ?? "";
      const answer: Answer = {
        status: r.status,
        headers: r.headers,
        body: /json/.test(type) && text ? (JSON.parse(text) as Record<string, unknown>) : {},
        text,
      };
      // RFC 8555 §6.5: a client retries badNonce with the nonce of the error.
      if (
        opts.retryBadNonce !== false &&
        opts.nonce === undefined &&
        attempt < 3 &&
        answer.status === 400 &&
        answer.body.type === "urn:ietf:params:acme:error:badNonce"
      )
        continue;
      return answer;
    }
  }

  async newAccount(payload: Record<string, unknown> = { termsOfServiceAgreed: true }): Promise<Answer> {
    const a = await this.post(this.dir.newAccount!, payload, { jwk: true });
    if (a.status === 201 || a.status === 200) this.kid = a.headers.get("location") ?? undefined;
    return a;
  }

  newOrder(identifiers: Array<{ type: string; value: string }>, extra: Record<string, unknown> = {}) {
    return this.post(this.dir.newOrder!, { identifiers, ...extra });
  }

  /** The key authorization of a token for this account (RFC 8555 §8.1). */
  keyAuthorization(token: string): string {
    return `${token}.${thumbprint(this.key.jwk)}`;
  }

  /** Polls `url` (POST-as-GET) until `done` says so or `ms` pass. */
  async poll(url: string, done: (a: Answer) => boolean, ms = 15_000): Promise<Answer> {
    const until = Date.now() + ms;
    for (;;) {
      const a = await this.post(url, undefined);
      if (done(a) || Date.now() > until) return a;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
