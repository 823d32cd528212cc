import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import { COMMANDS } from "./index.js";
import { pick, type CommandDef, type Entry } from "./table.js";
import { buildProgram } from "../program.js";

/** Every command of the table with its full name (`ca create-root`). */
function leaves(entries: Entry[], prefix: string[] = []): Array<[string, CommandDef]> {
  return entries.flatMap((e) =>
    e.kind === "group"
      ? leaves(e.entries, [...prefix, e.name])
      : [[[...prefix, e.name.split(" ")[0]!].join(" "), e] as [string, CommandDef]],
  );
}

describe("the command table", () => {
  const saved = process.env.SIGIL_SERVER;
  afterEach(() => {
    if (saved === undefined) delete process.env.SIGIL_SERVER;
    else process.env.SIGIL_SERVER = saved;
  });

  it("gives each command the implementations its reach needs, and no others", () => {
    for (const [name, def] of leaves(COMMANDS)) {
      const needsLocal = def.reach !== "service";
      const needsRemote = def.reach === "both" || def.reach === "service";
      assert.equal(def.local !== undefined, needsLocal, `${name}: local implementation`);
      assert.equal(def.remote !== undefined, needsRemote, `${name}: remote implementation`);
    }
  });

  it("registers every command once, in the program commander builds", () => {
    const names: string[] = [];
    const walk = (c: ReturnType<typeof buildProgram>, prefix: string[]): void => {
      for (const sub of c.commands)
        if (sub.commands.length > 0) walk(sub, [...prefix, sub.name()]);
        else names.push([...prefix, sub.name()].join(" "));
    };
    walk(buildProgram(), []);
    assert.deepEqual(
      names,
      leaves(COMMANDS).map(([n]) => n),
    );
    assert.equal(new Set(names).size, names.length);
  });

  it("a local act refuses a server in one line, before loading anything; ca create-root is one", async () => {
    const table = new Map(leaves(COMMANDS));
    assert.equal(table.get("ca create-root")!.reach, "local");
    assert.equal(table.get("ca create-child")!.reach, "both");
    delete process.env.SIGIL_SERVER;
    await assert.rejects(pick(table.get("ca create-root")!, "ca create-root", { server: "https://x" }), {
      code: "usage",
      message: "ca create-root is a local act on this machine's data folder: it cannot be run with --server",
    });
    process.env.SIGIL_SERVER = "unix:/nowhere.sock";
    await assert.rejects(pick(table.get("backup")!, "backup", {}), /SIGIL_SERVER is set/);
    // `client` commands are not concerned; `both` picks the remote implementation.
    assert.equal(typeof (await pick(table.get("trust remove")!, "trust remove", {})), "function");
    const remote = await pick(table.get("ca create-child")!, "ca create-child", {});
    assert.equal(remote.name, "remoteCreateChild");
  });
});
