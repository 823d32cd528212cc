/**
 * A one-shot command (`sigil sign`, `sigil revoke`) opens no OCSP responder key: the answers
 * it would have pre-signed are stored unsigned and due, and the service signs them. What
 * must hold, checked with `openssl ocsp` against a real `sigil serve`:
 *
 * - a certificate revoked by a one-shot command is never answered "good", not even from an
 *   answer the service pre-signed before the revocation, and not by a sealed service
 *   (it answers tryLater until it can sign);
 * - once the service holds the keys, new and revoked certificates answer from their status;
 * - the refresh job (`sigil ocsp refresh`) signs the answers the one-shot commands left.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { initHome, newRequest, sigil, sigilOk, storeKind, tempDir, tool, write } from "./helpers.js";
import { ocspResponseStatus, post, startServe, type Served } from "./serve-helpers.js";

describe("OCSP answers left by one-shot commands", { skip: storeKind() !== "sqlite" }, () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let root = "";
  let system = "";
  let served: Served | undefined;
  const certs: Record<string, string> = {};

  /** The stored answer of a certificate (SQLite home): signed or not, and until when. */
  function stored(crt: string): { signed: boolean; nextUpdate: number } {
    const serial = tool("openssl", ["x509", "-in", crt, "-noout", "-serial"]).stdout.trim().split("=")[1]!;
    const db = new Database(join(home, "sigil.db"), { readonly: true, fileMustExist: true });
    try {
      const r = db
        .prepare(
          "select o.der, o.next_update from ocsp_responses o join certificates c on c.id = o.cert_id where lower(c.serial_hex) = lower(?)",
        )
        .get(serial.replace(/^0+/, "")) as { der: Buffer | null; next_update: number } | undefined;
      assert.ok(r, `no answer row for ${serial}`);
      return { signed: r.der !== null, nextUpdate: Number(r.next_update) };
    } finally {
      db.close();
    }
  }

  /** `openssl ocsp` against the running service: its stdout line and whether it verified. */
  async function ask(crt: string): Promise<{ line: string; status: string }> {
    const reqFile = join(t.dir, "q.ocspreq");
    const q = tool("openssl", ["ocsp", "-issuer", system, "-cert", crt, "-no_nonce", "-reqout", reqFile]);
    assert.equal(q.status, 0, q.stderr);
    const raw = await post(`${served!.url}/ocsp`, readFileSync(reqFile));
    const status = ocspResponseStatus(raw.body);
    if (status !== "successful") return { line: "", status };
    const o = tool("openssl", [
      "ocsp", "-issuer", system, "-cert", crt, "-url", `${served!.url}/ocsp`, "-CAfile", root, "-no_nonce",
    ]); // prettier-ignore
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stderr, /Response verify OK/);
    return { line: o.stdout, status };
  }

  function issue(name: string): string {
    const { req } = newRequest(t.dir, name);
    const crt = join(t.dir, `${name}.crt`);
    sigilOk(home, ["sign", req, "--ca", "genfic-system", "-o", crt]);
    certs[name] = crt;
    return crt;
  }

  before(() => {
    initHome(home);
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(t.dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
  });
  after(async () => {
    await served?.stop();
    t.cleanup();
  });

  it("sign and revoke, one process each, store their answers unsigned and due", () => {
    issue("kept");
    issue("dropped");
    assert.deepEqual(stored(certs.kept!), { signed: false, nextUpdate: 0 });
    sigilOk(home, ["revoke", "--cert", certs.dropped!, "--ca", "genfic-system", "--reason", "keyCompromise"]);
    assert.deepEqual(stored(certs.dropped!), { signed: false, nextUpdate: 0 });
  });

  it("a sealed service answers tryLater for them, never good", async () => {
    served = await startServe(home, [], { SIGIL_PASSPHRASE: undefined });
    assert.equal((await ask(certs.kept!)).status, "tryLater");
    assert.equal((await ask(certs.dropped!)).status, "tryLater");
  });

  it("unsealed, it answers from the status: good, and revoked with the reason", async () => {
    const token = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "security",
      "--name",
      "sam",
    ]).stdout.trim();
    const un = sigil(home, ["unseal"], { env: { SIGIL_TOKEN: token } });
    assert.equal(un.status, 0, un.stderr);
    assert.match((await ask(certs.kept!)).line, /: good/);
    const d = (await ask(certs.dropped!)).line;
    assert.match(d, /: revoked/);
    assert.match(d, /Reason: keyCompromise/);
    await served!.stop();
    served = undefined;
  });

  it("an answer pre-signed 'good' is withdrawn by a one-shot revocation, not served until it expires", async () => {
    const r = sigilOk(home, ["ocsp", "refresh"]);
    assert.equal(r.status, 0);
    const before = stored(certs.kept!);
    assert.equal(before.signed, true, "the refresh signed the answer the one-shot sign left");
    assert.ok(before.nextUpdate > Date.now());
    assert.equal(stored(certs.dropped!).signed, true);

    served = await startServe(home);
    assert.match((await ask(certs.kept!)).line, /: good/); // now in the service's cache too
    sigilOk(home, ["revoke", "--cert", certs.kept!, "--ca", "genfic-system", "--reason", "superseded"], {
      // The local path, whatever else is running: this test is about one-shot revocation.
      env: { SIGIL_ADMIN_SOCKET: join(t.dir, "no-such.sock") },
    });
    assert.deepEqual(stored(certs.kept!), { signed: false, nextUpdate: 0 });
    const k = (await ask(certs.kept!)).line;
    assert.match(k, /: revoked/);
    assert.match(k, /Reason: superseded/);
  });
});
