/**
 * `sigil serve` and the passphrase in its environment (issue 14.6): the kernel's copy of a
 * process's environment (/proc/PID/environ, readable by the same user and by root) must not
 * show SIGIL_PASSPHRASE for the life of the service, in the process the test started nor in
 * any process below it (the cluster workers). And the passphrase may come from a systemd
 * credential ($CREDENTIALS_DIRECTORY/passphrase) without the deploy/ wrapper.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PASS, initHome, tempDir } from "./helpers.js";
import { get, startServe, type Served } from "./serve-helpers.js";

/** `pid` and every process below it (from /proc/PID/task/TID/children, else /proc/PID/stat). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  const kids = (p: number): number[] => {
    const tasks = `/proc/${p}/task`;
    if (existsSync(`${tasks}/${p}/children`))
      return readdirSync(tasks).flatMap((t) =>
        readFileSync(`${tasks}/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
      );
    if (children.size === 0)
      for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
        let stat: string;
        try {
          stat = readFileSync(`/proc/${d}/stat`, "utf8");
        } catch {
          continue; // exited meanwhile
        }
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
      }
    return children.get(p) ?? [];
  };
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.shift()!;
    out.push(p);
    todo.push(...kids(p));
  }
  return out;
}

/** Fails when any process of the running service shows the passphrase in its environment. */
function assertNoPassphraseInEnviron(s: Served, expected: number): void {
  const pids = processTree(s.proc.pid!);
  assert.equal(pids.length, expected, `processes of the service: ${pids.join(" ")}`);
  for (const pid of pids) {
    const environ = readFileSync(`/proc/${pid}/environ`);
    assert.ok(!environ.includes("SIGIL_PASSPHRASE"), `SIGIL_PASSPHRASE in /proc/${pid}/environ`);
    assert.ok(!environ.includes(PASS), `the passphrase in /proc/${pid}/environ`);
    // The rest of the environment is intact (SIGIL_HOME is still there).
    assert.ok(environ.includes("SIGIL_HOME="), `SIGIL_HOME lost from /proc/${pid}/environ`);
  }
}

async function canSign(s: Served): Promise<boolean> {
  return (JSON.parse((await get(`${s.url}/healthz`)).body.toString()) as { canSign: boolean }).canSign;
}

describe("sigil serve keeps the passphrase out of /proc/PID/environ", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");

  before(() => initHome(home));
  after(() => t.cleanup());

  for (const workers of [1, 2])
    it(`with SIGIL_PASSPHRASE set and ${workers} worker${workers > 1 ? "s" : ""}: unsealed, and no process shows it`, async () => {
      const s = await startServe(home, ["--workers", String(workers)]);
      try {
        assert.equal(await canSign(s), true, "the passphrase from the environment was used");
        assertNoPassphraseInEnviron(s, workers === 1 ? 1 : 1 + workers);
      } finally {
        assert.equal(await s.stop(), 0);
      }
      assert.doesNotMatch(s.stdout() + s.stderr(), new RegExp(PASS));
    });

  it("reads the passphrase from a systemd credential ($CREDENTIALS_DIRECTORY/passphrase) without the wrapper", async () => {
    const creds = join(t.dir, "creds");
    mkdirSync(creds, { mode: 0o700 });
    writeFileSync(join(creds, "passphrase"), `${PASS}\n`, { mode: 0o400 });
    const s = await startServe(home, ["--workers", "1"], {
      SIGIL_PASSPHRASE: undefined,
      CREDENTIALS_DIRECTORY: creds,
    });
    try {
      assert.equal(await canSign(s), true);
      assert.doesNotMatch(s.stderr(), /sealed/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
  });
});
