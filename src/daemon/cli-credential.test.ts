/**
 * The home's CLI credential (cli-credential.ts) on a real home: written 0600, renewed every
 * quarter of its life (the old token revoked once the new one is in the file), and revoked
 * with its file removed at stop. Here with a 4-second life instead of a day.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { openHome } from "../app/open.js";
import { startCliCredential } from "./cli-credential.js";

const PASS = "correct horse battery staple";
const dir = mkdtempSync(join(tmpdir(), "sigil-clicred-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("the CLI credential", () => {
  it("is renewed every quarter of its life and revoked at stop", async () => {
    const home = join(dir, "sigil-data");
    const bin = resolve(import.meta.dirname, "..", "..", "bin", "sigil.js");
    const init = spawnSync(process.execPath, [bin, "init", "--home", home], {
      env: { ...process.env, SIGIL_PASSPHRASE: PASS, SIGIL_DATABASE_URL: "" },
      encoding: "utf8",
    });
    assert.equal(init.status, 0, init.stderr);
    const ctx = await openHome({ home, actor: "test", passphraseEnv: { SIGIL_PASSPHRASE: PASS } });
    try {
      const file = join(home, "run", "cli.token");
      const cred = await startCliCredential(ctx, pino({ level: "error" }), "test-instance", 4000);
      assert.ok(cred);
      assert.equal(cred.name, "local-cli@test-instance");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const first = readFileSync(file, "utf8").trim();
      const live = async () =>
        (await ctx.store.listAdminTokens()).filter((t) => t.name === cred.name && t.revokedAt === null);
      assert.equal((await live()).length, 1);
      assert.ok((await live())[0]!.expiresAt - Date.now() <= 4000);
      await sleep(1500);
      const second = readFileSync(file, "utf8").trim();
      assert.notEqual(second, first, "renewed after a quarter of its life");
      // One live token at a time: the one in the file.
      const now = await live();
      assert.equal(now.length, 1);
      assert.ok(second.includes(now[0]!.id), "the file holds the live token");
      await cred.stop();
      assert.equal(existsSync(file), false);
      assert.equal((await live()).length, 0);
    } finally {
      await ctx.close();
    }
  });
});
