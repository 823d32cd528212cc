/**
 * `sigil sign`, `revoke` and `crl` through the home's running service (issue 16): while
 * `sigil serve` holds the admin socket, the one-shot commands use the operator token it
 * wrote for the home's owner (run/cli.token) instead of opening the keys, say so on
 * stderr, and are audited under the token's name. Seen from an attacker's side too: the
 * credential file is 0600 and regular, dies with the service (a copy is refused), a
 * loosened or symlinked file is not used, a policy refusal through the service is the
 * answer (nothing signed locally), and a stopped or sealed service leaves the local path.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  readFileSync,
  renameSync,
  symlinkSync,
} from "node:fs";
import { join } from "node:path";
import { auditLog, counts, initHome, newRequest, sigil, sigilOk, tempDir, tool, write } from "./helpers.js";
import { adminCall, startServe, type Served } from "./serve-helpers.js";

/** A service's line on stderr. */
const VIA =
  /^sigil: (signing|revoking|publishing the CRL) through the running service \(admin socket (.+)\)$/m;
/** The environment of a command that must not be able to open the keys. */
const NO_PASS = { SIGIL_PASSPHRASE: undefined };

describe("one-shot commands through the running service", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  const work = t.dir;
  const tokenFile = join(home, "run", "cli.token");
  const socket = join(home, "admin.sock");
  let rootPem: string;
  let userPem: string;
  let systemPem: string;
  let s: Served | undefined;

  /** openssl verify of a leaf under the root and `intermediate`. */
  const verify = (leaf: string, intermediate: string) => {
    const v = tool("openssl", [
      "verify",
      "-x509_strict",
      "-CAfile",
      rootPem,
      "-untrusted",
      intermediate,
      leaf,
    ]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
  };
  const lastEvent = (action: string) =>
    auditLog(home)
      .filter((e) => e.action === action)
      .at(-1)!;

  before(async () => {
    initHome(home);
    rootPem = write(work, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    userPem = write(work, "user.pem", sigilOk(home, ["ca", "show", "genfic-user", "--pem"]).stdout);
    systemPem = write(work, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    s = await startServe(home, ["--workers", "1"]);
  });
  after(async () => {
    await s?.stop();
    t.cleanup();
  });

  it("writes the credential 0600, a regular file of this user, and audits its making", () => {
    const st = lstatSync(tokenFile);
    assert.ok(st.isFile());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, process.getuid!());
    assert.match(readFileSync(tokenFile, "utf8"), /^sigil_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    const made = lastEvent("token.create");
    assert.match(String(made.details.name), /^local-cli(@[A-Za-z0-9-]+)?$/);
    assert.equal(made.details.role, "operator");
    assert.match(made.actor, /^serve:/);
  });

  it("signs without a passphrase through the service, audited under the credential's name", () => {
    const { req } = newRequest(work, "via1");
    const out = join(work, "via1.crt");
    const before = counts(home).certificates;
    const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", out], { env: NO_PASS });
    assert.equal(r.status, 0, r.stderr);
    const via = VIA.exec(r.stderr);
    assert.ok(via, r.stderr);
    assert.equal(via[1], "signing");
    assert.equal(via[2], socket);
    assert.match(r.stderr, /^signed CN=via1: serial [0-9a-f]+, until \S+ -> .*via1\.crt$/m);
    assert.equal(r.stdout, "");
    assert.equal(lstatSync(out).mode & 0o777, 0o644);
    verify(out, userPem);
    assert.equal(counts(home).certificates, before + 1);
    const issued = lastEvent("cert.issue");
    assert.match(issued.actor, /^token:local-cli(@[A-Za-z0-9-]+)?#[0-9a-f]{16}\(operator\)$/);
    // The same PEM on stdout without -o, as the local command prints it.
    const { req: req2 } = newRequest(work, "via2");
    const r2 = sigil(home, ["sign", req2, "--ca", "genfic-system"], { env: NO_PASS });
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    verify(write(work, "via2.crt", r2.stdout), systemPem);
  });

  it("signs a batch into --out-dir with the local command's summary", () => {
    const a = newRequest(work, "batch-a").req;
    const b = write(work, "batch-b.req", "not a request\n");
    const dir = join(work, "batch");
    const r = sigil(home, ["sign", a, b, "--ca", "genfic-user", "--out-dir", dir], { env: NO_PASS });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, VIA);
    assert.match(r.stderr, /^signed 1, refused 1 of 2 request\(s\) into .*batch$/m);
    assert.match(r.stderr, new RegExp(`^sigil: ${b.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `, "m"));
    verify(join(dir, "batch-a.crt"), userPem);
  });

  it("a batch through the service says what the local batch says, line for line", () => {
    const good = newRequest(work, "same-a").req;
    const junk = write(work, "same-b.req", "not a request\n");
    const { key } = newRequest(work, "same-k");
    const other = newRequest(work, "same-c").req;
    const reqs = [good, junk, key, join(work, "no-such.req"), other];
    const norm = (text: string, dir: string) =>
      text
        .split("\n")
        .filter((l) => l !== "" && !VIA.test(l))
        .map((l) => l.replaceAll(dir, "DIR"));
    const viaDir = join(work, "same-via");
    const localDir = join(work, "same-local");
    const via = sigil(home, ["sign", ...reqs, "--ca", "genfic-user", "--out-dir", viaDir], { env: NO_PASS });
    assert.match(via.stderr, VIA);
    const local = sigil(home, ["sign", ...reqs, "--ca", "genfic-user", "--out-dir", localDir], {
      env: { SIGIL_ADMIN_SOCKET: join(work, "none.sock") },
    });
    assert.doesNotMatch(local.stderr, VIA);
    assert.equal(via.status, 1, via.stderr);
    assert.equal(local.status, 1, local.stderr);
    assert.deepEqual(norm(via.stderr, viaDir), norm(local.stderr, localDir));
    assert.match(via.stderr, /^signed 2, refused 3 of 5 request\(s\) into /m);
    verify(join(viaDir, "same-a.crt"), userPem);
    verify(join(viaDir, "same-c.crt"), userPem);
  });

  it("the batch call: 1 to 256 requests of the operator's, each with its own result", async () => {
    const tok = readFileSync(tokenFile, "utf8").trim();
    const csr = readFileSync(newRequest(work, "direct").req, "utf8");
    const ok = await adminCall(socket, tok, "POST", "/api/v1/admin/certs/sign-batch", {
      ca: "genfic-user",
      requests: [
        { csr, source: "a.req" },
        { csr: "bm90IGEgcmVxdWVzdA==", source: "b.req" },
      ],
    });
    assert.equal(ok.status, 200, ok.text);
    const results = ok.body.results as Array<Record<string, unknown>>;
    assert.equal(results.length, 2);
    assert.equal(results[0]!.source, "a.req");
    assert.match(String(results[0]!.pem), /^-----BEGIN CERTIFICATE-----/);
    assert.equal(results[1]!.source, "b.req");
    assert.equal((results[1]!.error as { code: string }).code, "bad_csr");
    // The sources are the caller's word, kept as claims; the token is who asked.
    const issued = lastEvent("cert.issue");
    assert.equal(issued.details.claimedSource, "a.req");
    assert.equal(issued.details.source, "admin-api");
    assert.match(issued.actor, /^token:local-cli/);
    for (const requests of [[], Array.from({ length: 257 }, () => ({ csr }))]) {
      const r = await adminCall(socket, tok, "POST", "/api/v1/admin/certs/sign-batch", {
        ca: "genfic-user",
        requests,
      });
      assert.equal(r.status, 400, r.text);
      assert.match(String((r.body.error as { message: string }).message), /give a list of 1 to 256/);
    }
    const anon = await adminCall(socket, undefined, "POST", "/api/v1/admin/certs/sign-batch", {
      ca: "genfic-user",
      requests: [{ csr }],
    });
    assert.equal(anon.status, 401);
  });

  it("revokes through the service, and publishes a CRL that openssl checks", () => {
    const r = sigil(home, ["revoke", "--match", "via1", "--ca", "genfic-user", "--reason", "keyCompromise"], {
      env: NO_PASS,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(VIA.exec(r.stderr)?.[1], "revoking");
    const crlFile = join(home, "crl", "genfic-user.crl");
    assert.match(
      r.stderr,
      new RegExp(
        `^revoked [0-9a-f]+ \\(CN=via1\\), reason keyCompromise; CRL #\\d+ written to ${crlFile}$`,
        "m",
      ),
    );
    assert.match(lastEvent("cert.revoke").actor, /^token:local-cli/);
    const c = sigil(home, ["crl", "--ca", "genfic-user", "--pem", "-o", join(work, "user.crl.pem")], {
      env: NO_PASS,
    });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(VIA.exec(c.stderr)?.[1], "publishing the CRL");
    assert.match(
      c.stderr,
      new RegExp(
        `^CRL #\\d+ for genfic-user: 1 revoked entry; written to .*user\\.crl\\.pem and published at ${crlFile}$`,
        "m",
      ),
    );
    assert.match(lastEvent("crl.publish").actor, /^token:local-cli/);
    const info = tool("openssl", [
      "crl",
      "-in",
      join(work, "user.crl.pem"),
      "-CAfile",
      userPem,
      "-noout",
      "-text",
    ]);
    assert.match(info.stderr + info.stdout, /verify OK/);
    assert.match(info.stdout, /Key Compromise/);
    const v = tool("openssl", [
      "verify",
      "-crl_check",
      "-CAfile",
      rootPem,
      "-untrusted",
      userPem,
      "-CRLfile",
      join(work, "user.crl.pem"),
      join(work, "via1.crt"),
    ]);
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
  });

  it("takes a policy refusal from the service as the answer: exit 1, nothing signed here", () => {
    const { req } = newRequest(work, "refused");
    const before = counts(home).certificates;
    const out = join(work, "refused.crt");
    // With a passphrase at hand, a local retry could sign: it must not.
    const r = sigil(home, ["sign", req, "--ca", "genfic-user", "--profile", "ca", "-o", out]);
    assert.equal(r.status, 1, r.stderr);
    // The local command's one line, nothing more (the audit log says who refused).
    assert.match(r.stderr, /^sigil: profile ca is internal: [^\n]+\n$/);
    assert.equal(counts(home).certificates, before);
    assert.equal(existsSync(out), false);
    assert.match(lastEvent("cert.issue.refused").actor, /^token:local-cli/);
  });

  it("ignores a credential file made readable by others, or replaced by a symbolic link", () => {
    const { req } = newRequest(work, "loose");
    chmodSync(tokenFile, 0o644);
    try {
      const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", join(work, "loose.crt")]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, VIA);
      assert.match(
        r.stderr,
        /^sigil: warning: ignoring .*cli\.token \(mode 0644, not 0600\); opening the keys here instead$/m,
      );
      assert.match(lastEvent("cert.issue").actor, /^cli:/);
      // Without a passphrase, the local path cannot sign: the loose file gave nothing.
      const n = sigil(home, ["sign", req, "--ca", "genfic-user"], { env: NO_PASS });
      assert.equal(n.status, 1);
      assert.doesNotMatch(n.stderr, VIA);
    } finally {
      chmodSync(tokenFile, 0o600);
    }
    const real = join(work, "real.token");
    renameSync(tokenFile, real);
    symlinkSync(real, tokenFile);
    try {
      const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", join(work, "link.crt")]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, VIA);
      assert.match(r.stderr, /^sigil: warning: ignoring .*cli\.token \(a symbolic link\)/m);
      assert.match(lastEvent("cert.issue").actor, /^cli:/);
    } finally {
      renameSync(real, tokenFile);
    }
    const ok = sigil(home, ["sign", req, "--ca", "genfic-user"], { env: NO_PASS });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, VIA);
  });

  it("--key-file runs locally even with the service up", () => {
    const { req } = newRequest(work, "keyfile");
    const r = sigil(home, [
      "sign",
      req,
      "--ca",
      "genfic-user",
      "--key-file",
      join(home, "keys", "genfic-user.key.pem"),
    ]);
    assert.doesNotMatch(r.stderr, VIA);
  });

  it("removes and revokes the credential at a graceful stop; a copy and a stale file are refused", async () => {
    const copy = join(work, "copy.token");
    copyFileSync(tokenFile, copy);
    chmodSync(copy, 0o600);
    const token = readFileSync(copy, "utf8").trim();
    assert.equal(await s!.stop(), 0);
    s = undefined;
    assert.equal(existsSync(tokenFile), false);
    assert.equal(lastEvent("token.revoke").details.name, lastEvent("token.create").details.name);
    // Serve stopped: sign works locally as before (socket gone or stale).
    const { req } = newRequest(work, "local");
    const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", join(work, "local.crt")]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, VIA);
    verify(join(work, "local.crt"), userPem);
    assert.match(lastEvent("cert.issue").actor, /^cli:/);
    // A restarted service refuses the old token, whether shown by a copy or a stale file.
    s = await startServe(home, ["--workers", "1"]);
    const who = sigil(home, ["admin", "whoami", "--server", `unix:${socket}`, "--token-file", copy]);
    assert.equal(who.status, 1);
    assert.match(who.stderr, /^sigil: .*(revoked|token)/m);
    const fresh = readFileSync(tokenFile, "utf8").trim();
    assert.notEqual(fresh, token);
    // A stale credential (the old token put back): refused (401), the local path signs.
    copyFileSync(copy, tokenFile);
    chmodSync(tokenFile, 0o600);
    const { req: req2 } = newRequest(work, "stale");
    const st = sigil(home, ["sign", req2, "--ca", "genfic-user", "-o", join(work, "stale.crt")]);
    assert.equal(st.status, 0, st.stderr);
    assert.doesNotMatch(st.stderr, VIA);
    assert.match(lastEvent("cert.issue").actor, /^cli:/);
    write(home, "run/cli.token", fresh + "\n");
    chmodSync(tokenFile, 0o600);
  });

  it("a stale socket (the service killed) leaves the local path, and the next start revokes the dead run's token", async () => {
    const dead = lastEvent("token.create");
    s!.proc.kill("SIGKILL");
    await s!.stop();
    s = undefined;
    assert.ok(existsSync(tokenFile));
    const { req } = newRequest(work, "afterkill");
    const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", join(work, "afterkill.crt")]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, VIA);
    verify(join(work, "afterkill.crt"), userPem);
    s = await startServe(home, ["--workers", "1"]);
    const revoked = auditLog(home).filter((e) => e.action === "token.revoke" && e.target === dead.target);
    assert.equal(revoked.length, 1);
  });

  it("a sealed service leaves the local path (with the passphrase here)", async () => {
    await s!.stop();
    s = await startServe(home, ["--workers", "1"], NO_PASS);
    assert.match(s.stderr(), /sealed/);
    const { req } = newRequest(work, "sealed");
    const r = sigil(home, ["sign", req, "--ca", "genfic-user", "-o", join(work, "sealed.crt")]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, VIA);
    verify(join(work, "sealed.crt"), userPem);
    assert.match(lastEvent("cert.issue").actor, /^cli:/);
    const c = sigil(home, ["crl", "--ca", "genfic-user"]);
    assert.equal(c.status, 0, c.stderr);
    assert.doesNotMatch(c.stderr, VIA);
  });
});
