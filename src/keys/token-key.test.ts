import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isSigilError } from "../errors.js";
import { ensureTokenKey, readTokenKey, tokenKeyPath } from "./token-key.js";

describe("token key", () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-token-key-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("is made once (0600, in a 0700 folder) and read back the same", async () => {
    const path = tokenKeyPath(join(dir, "keys"));
    assert.equal(await readTokenKey(path), undefined);
    const made = await ensureTokenKey(path, (n) => randomBytes(n));
    assert.equal(made.created, true);
    assert.equal(made.key.length, 32);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "keys")).mode & 0o777, 0o700);
    const again = await ensureTokenKey(path, () => Buffer.alloc(32, 9));
    assert.deepEqual(again, { key: made.key, created: false });
    assert.deepEqual(await readTokenKey(path), made.key);
  });

  it("two makers at once end with one key", async () => {
    const path = join(dir, "race.key");
    const [a, b] = await Promise.all([
      ensureTokenKey(path, (n) => randomBytes(n)),
      ensureTokenKey(path, (n) => randomBytes(n)),
    ]);
    assert.deepEqual(a.key, b.key);
    assert.deepEqual(a.key, Buffer.from(readFileSync(path, "utf8").trim(), "base64"));
  });

  const refused = async (path: string, message: RegExp) =>
    assert.rejects(readTokenKey(path), (e: unknown) => isSigilError(e, "config") && message.test(e.message));

  it("refuses a key others may read, a damaged key and a link", async () => {
    const loose = join(dir, "loose.key");
    writeFileSync(loose, randomBytes(32).toString("base64") + "\n", { mode: 0o644 });
    chmodSync(loose, 0o644);
    await refused(loose, /readable by group or others \(mode 0644\); run chmod 600/);
    const short = join(dir, "short.key");
    writeFileSync(short, randomBytes(16).toString("base64") + "\n", { mode: 0o600 });
    await refused(short, /damaged/);
    const link = join(dir, "link.key");
    symlinkSync(join(dir, "race.key"), link);
    await refused(link, /symbolic link/);
  });
});
