/**
 * Admin tokens against a real `sigil serve` (SQLite here; test/tokens-postgres.test.ts runs
 * the same on PostgreSQL): names repeat, but the audit log never confuses two tokens (the
 * token id is in every actor) and a name held by a live token cannot be taken again;
 * values a caller types about itself (submitter, source) are kept as claims beside the
 * caller, never as if verified; and a token row written into the database by someone who
 * can write the database but not read `keys/token-hmac.key` (a database insider) never
 * authenticates.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { execHomeSql, sigil, sigilOk, storeKind, tempDir, tool, initHome, auditLog } from "./helpers.js";
import { adminCall, startServe, type Served } from "./serve-helpers.js";
import { openStore } from "../src/store/open.js";

const DAY = 86_400_000;

/** A bytes literal in the test home's SQL dialect. */
function bytesSql(b: Buffer): string {
  return storeKind() === "postgres" ? `decode('${b.toString("hex")}', 'hex')` : `X'${b.toString("hex")}'`;
}

function newToken(home: string, role: string, name: string): { token: string; id: string } {
  const r = sigilOk(home, ["admin", "token", "create", "--role", role, "--name", name, "--json"]);
  const out = JSON.parse(r.stdout) as { token: string; id: string };
  return { token: out.token, id: out.id };
}

describe("admin tokens: names, ids and claims", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  let s: Served;
  let sock: string;
  let security: { token: string; id: string };
  let olga: { token: string; id: string };
  const csr = (name: string): string => {
    const r = tool("openssl", [
      "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", join(t.dir, `${name}.key`), "-out", join(t.dir, `${name}.csr`), "-subj", `/CN=${name}.genfic.internal`,
    ]); // prettier-ignore
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(join(t.dir, `${name}.csr`), "utf8");
  };

  before(async () => {
    initHome(home);
    security = newToken(home, "security", "sam");
    olga = newToken(home, "operator", "olga");
    s = await startServe(home, ["--workers", "1"]);
    sock = s.admin.find((a) => a.startsWith("unix:"))!;
    assert.ok(sock, s.stderr());
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("refuses a second live token named olga, locally and through the API, in one line", async () => {
    const local = sigil(home, ["admin", "token", "create", "--role", "operator", "--name", "olga"]);
    assert.equal(local.status, 1, local.stderr);
    assert.equal(local.stdout, "");
    assert.equal(local.stderr.trimEnd().split("\n").length, 1, local.stderr);
    assert.match(local.stderr, new RegExp(`^sigil: a live token is already named olga \\(${olga.id}`));
    const api = await adminCall(sock, security.token, "POST", "/api/v1/admin/tokens", {
      name: "olga",
      role: "security",
    });
    assert.equal(api.status, 409, api.text);
    assert.equal((api.body.error as { code: string }).code, "token_name_taken");
    const remote = sigil(home, ["admin", "token", "create", "--role", "operator", "--name", "olga"], {
      env: { SIGIL_TOKEN: security.token, SIGIL_SERVER: sock },
    });
    assert.equal(remote.status, 1, remote.stderr);
    assert.match(remote.stderr, /^sigil: a live token is already named olga .*\n$/);
    const live = (
      JSON.parse(sigilOk(home, ["admin", "token", "list", "--json"]).stdout) as Array<{
        name: string;
        revokedAt: string | null;
      }>
    ).filter((x) => x.name === "olga");
    assert.equal(live.length, 1, "one olga, the first");
    const refusals = auditLog(home).filter((e) => e.action === "token.create.refused");
    assert.equal(refusals.length, 3, "each refusal audited");
  });

  it("names the token id in every act, so two tokens named olga are told apart", async () => {
    const first = await adminCall(sock, olga.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("first"),
      ca: "genfic-system",
    });
    assert.equal(first.status, 200, first.text);
    // olga's token is revoked; a new token may take the name now.
    sigilOk(home, ["admin", "token", "revoke", "olga"]);
    const olga2 = newToken(home, "operator", "olga");
    assert.notEqual(olga2.id, olga.id);
    const second = await adminCall(sock, olga2.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("second"),
      ca: "genfic-system",
    });
    assert.equal(second.status, 200, second.text);
    const who = await adminCall(sock, olga2.token, "GET", "/api/v1/admin/whoami");
    assert.equal(who.body.tokenId, olga2.id);
    const issuedBy = (serial: unknown) =>
      auditLog(home).find((e) => e.action === "cert.issue" && e.target === `genfic-system/${String(serial)}`)!
        .actor;
    assert.equal(issuedBy(first.body.serial), `token:olga#${olga.id}(operator)`);
    assert.equal(issuedBy(second.body.serial), `token:olga#${olga2.id}(operator)`);
    const allows = auditLog(home).filter(
      (e) => e.action === "admin.allow" && e.actor.startsWith("token:olga"),
    );
    assert.deepEqual(
      [...new Set(allows.map((e) => e.actor))].sort(),
      [`token:olga#${olga.id}(operator)`, `token:olga#${olga2.id}(operator)`].sort(),
    );
    olga = olga2;
  });

  it("keeps a caller's submitter and source as claims beside the token that sent them", async () => {
    const r = await adminCall(sock, olga.token, "POST", "/api/v1/admin/certs/sign", {
      csr: csr("claimed"),
      ca: "genfic-system",
      submitter: "ceo@genfic.internal",
      source: "mail:<forged@genfic.internal>",
    });
    assert.equal(r.status, 200, r.text);
    const actor = `token:olga#${olga.id}(operator)`;
    const ev = auditLog(home).find(
      (e) => e.action === "cert.issue" && e.target === `genfic-system/${String(r.body.serial)}`,
    )!;
    assert.equal(ev.actor, actor);
    assert.equal(ev.details.submitter, actor);
    assert.equal(ev.details.source, "admin-api");
    assert.equal(ev.details.claimedSubmitter, "ceo@genfic.internal");
    assert.equal(ev.details.claimedSource, "mail:<forged@genfic.internal>");
    const req = await adminCall(
      sock,
      olga.token,
      "GET",
      `/api/v1/admin/requests/${String(ev.details.request)}`,
    );
    assert.equal(req.status, 200, req.text);
    assert.equal(req.body.submitter, actor);
    assert.equal(req.body.source, "admin-api");
    assert.equal(sigil(home, ["audit", "verify"]).status, 0);
  });

  it("keeps only a keyed hash: the key is keys/token-hmac.key (0600), outside the database", async () => {
    const keyFile = join(home, "keys", "token-hmac.key");
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(keyFile, "utf8").trim(), "base64").length, 32);
    const store = await openStore(home);
    try {
      const rec = (await store.getAdminToken(olga.id))!;
      const secret = olga.token.slice("sigil_".length + 17);
      assert.equal(rec.scheme, "hmac-sha256");
      assert.equal(rec.secretHash.length, 32);
      assert.ok(!rec.secretHash.equals(createHash("sha256").update(secret).digest()), "not a plain SHA-256");
    } finally {
      await store.close();
    }
  });

  it("a token row a database insider writes does not authenticate: 401, audited under its id", async () => {
    const now = Date.now();
    const forge = (id: string, hash: (secret: string) => Buffer, scheme?: string) => {
      const secret = randomBytes(32).toString("base64url");
      execHomeSql(
        home,
        `INSERT INTO admin_tokens (id, name, role, secret_hash, created_at, created_by, expires_at, revoked_at${scheme ? ", hash_scheme" : ""}) ` +
          `VALUES ('${id}', 'mallory-${id.slice(-2)}', 'security', ${bytesSql(hash(secret))}, ${now}, 'cli:root', ${now + DAY}, NULL${scheme ? `, '${scheme}'` : ""})`,
      );
      return `sigil_${id}_${secret}`;
    };
    const refusedWith401 = async (token: string) => {
      const r = await adminCall(sock, token, "GET", "/api/v1/admin/tokens");
      assert.equal(r.status, 401, r.text);
      assert.equal((r.body.error as { code: string }).code, "unauthorized");
    };
    // SHA-256 of a secret of the insider's choosing (what Sigil stored before token keys).
    const plain = forge("badc0ffee0000001", (x) => createHash("sha256").update(x).digest());
    await refusedWith401(plain);
    // HMAC-SHA256 under a key that is not the service's, marked as a keyed row.
    const wrongKey = randomBytes(32);
    const keyed = forge(
      "badc0ffee0000002",
      (x) => createHmac("sha256", wrongKey).update(`${x}badc0ffee0000002`).digest(),
      "hmac-sha256",
    );
    await refusedWith401(keyed);
    // A row from before token keys: refused with a hint to re-create it, in one line.
    const cli = sigil(home, ["admin", "token", "list"], { env: { SIGIL_TOKEN: plain, SIGIL_SERVER: sock } });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /^sigil: the admin token was created before Sigil 0\.2 .*re-create.*\n$/);
    const listed = JSON.parse(sigilOk(home, ["admin", "token", "list", "--json"]).stdout) as Array<{
      id: string;
      legacy?: boolean;
    }>;
    assert.equal(listed.find((x) => x.id === "badc0ffee0000001")!.legacy, true);
    // Raising a real token's role in its row does not raise the token: the row no longer verifies.
    execHomeSql(home, `UPDATE admin_tokens SET role = 'security' WHERE id = '${olga.id}'`);
    assert.equal((await adminCall(sock, olga.token, "GET", "/api/v1/admin/tokens")).status, 401);
    execHomeSql(home, `UPDATE admin_tokens SET role = 'operator' WHERE id = '${olga.id}'`);
    assert.equal((await adminCall(sock, olga.token, "GET", "/api/v1/admin/whoami")).status, 200);
    const refused = auditLog(home).filter((e) => e.action === "admin.token.refused");
    for (const id of ["badc0ffee0000001", "badc0ffee0000002", olga.id])
      assert.ok(
        refused.some((e) => e.actor === `token-id:${id}`),
        `refusal of ${id} audited: ${JSON.stringify(refused)}`,
      );
    assert.equal(sigil(home, ["audit", "verify"]).status, 0);
  });
});
