/**
 * Small command-line details (issue 13 §4): the global --home, what `cert show`, `sign --json`,
 * `import openssl`, `admin token revoke` and `sign KEYFILE` print, and when a new passphrase
 * is checked.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { sigil, tempDir, initHome } from "./helpers.js";

describe("command-line details", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");

  before(() => initHome(home));
  after(() => t.cleanup());

  it("takes --home DIR before or after the subcommand, over SIGIL_HOME", () => {
    const elsewhere = { SIGIL_HOME: join(t.dir, "not-here") };
    for (const args of [
      ["--home", home, "ca", "list", "--json"],
      [`--home=${home}`, "ca", "list", "--json"],
      ["ca", "list", "--json", "--home", home],
      ["ca", "--home", home, "list", "--json"],
    ]) {
      const r = sigil(home, args, { env: elsewhere });
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
      const names = (JSON.parse(r.stdout) as Array<{ name: string }>).map((c) => c.name).sort();
      assert.deepEqual(names, ["genfic", "genfic-system", "genfic-user"], args.join(" "));
    }
    // A command with a positional argument after the global option.
    const shown = sigil(home, ["--home", home, "ca", "show", "genfic", "--json"], { env: elsewhere });
    assert.equal(shown.status, 0, shown.stderr);
    assert.equal((JSON.parse(shown.stdout) as { name: string }).name, "genfic");
    // --home names the folder that is used: an empty one is the usual error, not SIGIL_HOME's data.
    const none = sigil(home, ["--home", join(t.dir, "empty"), "ca", "list"]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^sigil: no Sigil data in .*empty: run 'sigil init'/);
  });
});
