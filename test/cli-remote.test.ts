/**
 * The CLI with `--server` / SIGIL_SERVER (issue 15): every command either goes through the
 * admin API or refuses in one line. A local act never falls back to whatever data folder
 * it finds on this machine; `ca create-child` goes through the server's `POST cas`.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  BIN,
  PASS,
  auditLog,
  counts,
  initHome,
  newRequest,
  sigil,
  sigilOk,
  tempDir,
  type Run,
} from "./helpers.js";
import { adminCall, serveWithToken, type Served } from "./serve-helpers.js";

/** Runs the CLI with exactly this environment (no SIGIL_HOME unless given) in `cwd`. */
function bare(cwd: string, args: string[], env: Record<string, string>): Run {
  const keep = ["PATH", "LANG", "TMPDIR"];
  const base = Object.fromEntries(keep.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...base, HOME: cwd, ...env },
    encoding: "utf8",
    input: "",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr } as Run;
}

/** Exit 2 and exactly one line on stderr, matching `re`; nothing on stdout. */
function refusedInOneLine(r: Run, re: RegExp): void {
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, re);
}

const LOCAL_ACT =
  /^sigil: ca create-root is a local act on this machine's data folder: it cannot be run with --server/;

describe("the CLI with --server", () => {
  const t = tempDir("sigil-remote-");
  const home = join(t.dir, "home");
  let s: Served | undefined;
  let security: Record<string, string>;
  let operator: string;

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
    ({ served: s, env: security } = await serveWithToken(home, "security", "sam"));
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("SIGIL_SERVER=... sigil ca create-root evil refuses in one line and makes nothing anywhere", () => {
    // A new user's machine: an empty folder, no SIGIL_HOME (the default ./sigil-data).
    const cwd = join(t.dir, "newcomer");
    mkdirSync(cwd);
    for (const server of ["https://ca.example.net:8443", security.SIGIL_SERVER!]) {
      refusedInOneLine(bare(cwd, ["ca", "create-root", "evil"], { SIGIL_SERVER: server }), LOCAL_ACT);
      // --server as a flag, and a data folder named in SIGIL_HOME: the same.
      const named = join(t.dir, "named-home");
      refusedInOneLine(
        bare(cwd, ["ca", "create-root", "evil", "--server", server, "--subject", "/CN=Evil"], {
          SIGIL_HOME: named,
          SIGIL_PASSPHRASE: PASS,
        }),
        /^sigil: ca create-root is a local act on this machine's data folder: it cannot be run with --server$/m,
      );
      assert.ok(!existsSync(named), "no data folder made");
      // The handbook's -r likewise.
      refusedInOneLine(
        bare(cwd, ["-r", "evil"], { SIGIL_SERVER: server, SIGIL_PASSPHRASE: PASS }),
        /^sigil: the handbook's -r is a local act .* cannot be run with --server \(SIGIL_SERVER is set\)/,
      );
    }
    assert.deepEqual(readdirSync(cwd), [], "nothing written in the working folder");
    // Even where a data folder is at hand (the server's own): no CA, no key file.
    const keysBefore = readdirSync(join(home, "keys")).sort();
    const before = counts(home);
    const r = sigil(home, ["ca", "create-root", "evil", "--subject", "/CN=Evil"], { env: security });
    refusedInOneLine(r, LOCAL_ACT);
    assert.equal(counts(home).cas, before.cas);
    assert.deepEqual(readdirSync(join(home, "keys")).sort(), keysBefore);
    const cas = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{ name: string }>;
    assert.ok(!cas.some((c) => c.name === "evil"));
  });

  it("commands without a remote implementation refuse in one line instead of running locally", () => {
    const nowhere = join(t.dir, "nowhere");
    const env = { ...security, SIGIL_HOME: nowhere };
    for (const args of [
      ["ca", "show", "genfic"],
      ["ca", "export", "genfic", "--out", join(t.dir, "exp")],
      ["key", "split", "genfic", "--shares", "3", "--threshold", "2", "--out", join(t.dir, "shares")],
      ["backup", "--out", join(t.dir, "b.tar")],
      ["ocsp", "refresh"],
      ["acme", "show"],
      ["requests", "submit", join(t.dir, "x.req")],
      ["init"],
    ]) {
      const what = args.filter((a) => /^[a-z][a-z-]*$/.test(a) && !a.startsWith("--")).slice(0, 2);
      const r = sigil(home, args, { env });
      refusedInOneLine(
        r,
        /^sigil: .* is a local act on this machine's data folder: it cannot be run with --server/,
      );
      assert.ok(r.stderr.startsWith(`sigil: ${args[0]}`), `${what.join(" ")}: ${r.stderr}`);
    }
    assert.ok(!existsSync(nowhere), "no data folder made");
    assert.ok(!existsSync(join(t.dir, "exp")) && !existsSync(join(t.dir, "shares")));
  });

  it("ca create-child with a security token is made by the server, listed and audited there", () => {
    const nowhere = join(t.dir, "client-nowhere");
    const env = { ...security, SIGIL_HOME: nowhere };
    const r = sigil(
      home,
      [
        "ca",
        "create-child",
        "team",
        "--parent",
        "genfic",
        "--subject",
        "/O=Gentoo Fictional, Inc./CN=Team CA",
        "--days",
        "400",
      ],
      { env },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /^created CA team under genfic: CN=Team CA,O=Gentoo Fictional\\, Inc\., valid until \d{4}-\d\d-\d\dT[\d:]+Z, pathLen 0\n$/,
    );
    assert.ok(!existsSync(nowhere), "the client made no data folder");
    const listed = JSON.parse(sigilOk(home, ["ca", "list", "--json"], { env }).stdout) as Array<{
      name: string;
      parent: string;
    }>;
    assert.deepEqual(
      listed.filter((c) => c.name === "team").map((c) => c.parent),
      ["genfic"],
    );
    const created = auditLog(home).filter((e) => e.action.startsWith("ca.create") && e.target === "team");
    assert.ok(created.length >= 1, "ca.create audited");
    assert.ok(
      created.every((e) => e.actor.startsWith("token:sam#")),
      created.map((e) => e.actor).join(","),
    );
  });

  it("ca create-child with an operator token is refused (403), nothing made", () => {
    const before = counts(home);
    const r = sigil(
      home,
      ["ca", "create-child", "rogue", "--parent", "genfic", "--subject", "/CN=Rogue CA"],
      { env: { SIGIL_SERVER: security.SIGIL_SERVER!, SIGIL_TOKEN: operator } },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^sigil: role operator may not ca\.create/);
    assert.equal(counts(home).cas, before.cas);
  });

  it("ca list, certs and requests list print the same table locally and through the server", () => {
    const env = {
      SIGIL_SERVER: security.SIGIL_SERVER!,
      SIGIL_TOKEN: operator,
      SIGIL_HOME: join(t.dir, "none"),
    };
    const dir = join(t.dir, "reqs");
    mkdirSync(dir);
    sigilOk(home, ["sign", newRequest(dir, "one.genfic.internal").req, "--ca", "genfic-system"]);
    sigilOk(home, [
      "requests",
      "submit",
      newRequest(dir, "two.genfic.internal").req,
      "--ca",
      "genfic-system",
    ]);
    for (const args of [
      ["ca", "list"],
      ["certs", "--all"],
      ["requests", "list"],
    ]) {
      const local = sigilOk(home, args);
      const remote = sigil(home, args, { env });
      assert.equal(remote.status, 0, remote.stderr);
      assert.equal(remote.stdout, local.stdout, args.join(" "));
    }
  });

  it("ca create-child over --server needs --subject and takes no --key-file", () => {
    refusedInOneLine(
      sigil(home, ["ca", "create-child", "x", "--parent", "genfic"], { env: security }),
      /^sigil: ca create-child with --server needs --subject/,
    );
    refusedInOneLine(
      sigil(
        home,
        [
          "ca",
          "create-child",
          "x",
          "--parent",
          "genfic",
          "--subject",
          "/CN=X",
          "--key-file",
          join(t.dir, "k"),
        ],
        { env: security },
      ),
      /^sigil: --key-file opens a key on this machine: it cannot be used with --server/,
    );
  });

  it("POST cas with keyStore: anonymous 401, operator 403, security checks the value", async () => {
    const sock = security.SIGIL_SERVER!;
    const body = { name: "hsm-team", parent: "genfic", subject: "/CN=HSM Team CA", keyStore: "pkcs11" };
    assert.equal((await adminCall(sock, undefined, "POST", "/api/v1/admin/cas", body)).status, 401);
    const op = await adminCall(sock, operator, "POST", "/api/v1/admin/cas", body);
    assert.equal(op.status, 403, op.text);
    const bad = await adminCall(sock, security.SIGIL_TOKEN, "POST", "/api/v1/admin/cas", {
      ...body,
      keyStore: "floppy",
    });
    assert.equal(bad.status, 400, bad.text);
    assert.match(String((bad.body.error as { message: string }).message), /unknown keyStore "floppy"/);
    const cas = JSON.parse(sigilOk(home, ["ca", "list", "--json"]).stdout) as Array<{ name: string }>;
    assert.ok(!cas.some((c) => c.name === "hsm-team"));
  });
});
