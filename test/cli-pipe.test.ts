/**
 * The CLI's output read by a pipe that closes early (`sigil certs | head -1`): the command
 * ends quietly, as Unix tools do (no EPIPE stack trace, no message, status 0).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { BIN, PASS, initHome, sigilOk, tempDir } from "./helpers.js";

/**
 * Runs `sigil ARGS` with its stdout a pipe whose read end this process closes at once (so
 * the command's first write finds no reader: EPIPE), and returns its status and stderr.
 */
function withClosedStdout(home: string, args: string[]): Promise<{ status: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
    cwd: dirname(home),
    stdio: ["ignore", "pipe", "pipe"],
  });
  proc.stdout!.destroy();
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    proc.on("error", reject);
    proc.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("sigil output into a pipe closed early", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let serial: string;
  let ca: string;

  before(() => {
    initHome(home);
    // 400 certificates (one request, signed 400 times in one batch): `audit log` then says
    // far more than a pipe holds, so `| head -1` closes it while sigil still writes.
    sigilOk(home, [
      "request",
      "create",
      join(t.dir, "leaf"),
      "--subject",
      "/CN=leaf.genfic.internal",
      "--no-encrypt",
    ]);
    const reqs = join(t.dir, "reqs");
    mkdirSync(reqs);
    const files = Array.from({ length: 400 }, (_, i) => join(reqs, `r${i}.req`));
    for (const f of files) copyFileSync(join(t.dir, "leaf.req"), f);
    sigilOk(home, ["sign", ...files, "--ca", "genfic-system", "--out-dir", join(t.dir, "out")]);
    const certs = JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as Array<{
      serial: string;
      ca: string;
    }>;
    assert.ok(certs.length > 0);
    ({ serial, ca } = certs[0]!);
  });
  after(() => t.cleanup());

  const commands: Array<[string, () => string[]]> = [
    ["certs", () => ["certs"]],
    ["cert show", () => ["cert", "show", serial, "--ca", ca]],
    ["audit log", () => ["audit", "log"]],
    ["ca status", () => ["ca", "status"]],
  ];
  for (const [name, args] of commands)
    it(`${name}: ends quietly with status 0`, async () => {
      const r = await withClosedStdout(home, args());
      assert.equal(r.stderr, "");
      assert.equal(r.status, 0);
    });

  it("audit log | head -1: one line out, nothing on stderr", () => {
    assert.ok(sigilOk(home, ["audit", "log"]).stdout.length > 128 * 1024, "more than a pipe holds");
    const r = spawnSync(
      "bash",
      ["-c", `set -o pipefail; "$0" "$1" audit log | head -1`, process.execPath, BIN],
      {
        env: { ...process.env, SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS },
        cwd: dirname(home),
        encoding: "utf8",
      },
    );
    assert.equal(r.stderr, "");
    assert.equal(r.status, 0);
    assert.equal(r.stdout.split("\n").filter(Boolean).length, 1);
  });
});
