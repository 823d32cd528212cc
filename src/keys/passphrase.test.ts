import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promptHidden, resolvePassphrase, resolvePassphraseDetailed } from "./passphrase.js";
import { isSigilError, ErrorCodes } from "../errors.js";

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), "sigil-pass-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
}

const noPrompt = async (): Promise<string> => assert.fail("must not prompt");

test("file first: one trailing newline stripped, precedence over env and prompt", async () => {
  const env = { SIGIL_PASSPHRASE: "from-env-123" };
  const base = { env, isTty: true, prompt: noPrompt, purpose: "CA key" };
  const r = await resolvePassphraseDetailed({ ...base, passphraseFile: file("a", "secret-file\n") });
  assert.equal(r.passphrase.toString(), "secret-file");
  assert.equal(r.source, "file");
  assert.deepEqual(r.warnings, []);
  assert.equal((await resolvePassphrase({ ...base, passphraseFile: file("b", "x\r\n") })).toString(), "x");
  assert.equal(
    (await resolvePassphrase({ ...base, passphraseFile: file("c", "two\n\n") })).toString(),
    "two\n",
  );
  assert.equal((await resolvePassphrase({ ...base, passphraseFile: file("d", "none") })).toString(), "none");
});

test("a group/world-readable passphrase file gives a warning, not a print", async () => {
  const warned: string[] = [];
  const p = file("loose", "secret-file\n", 0o644);
  const pass = await resolvePassphrase({
    passphraseFile: p,
    isTty: false,
    purpose: "x",
    warn: (m) => warned.push(m),
  });
  assert.equal(pass.toString(), "secret-file");
  assert.equal(warned.length, 1);
  assert.match(warned[0]!, /readable by group or others \(mode 0644\)/);
  assert.ok(!warned[0]!.includes("secret-file"));
});

test("missing passphrase file is FILE_NOT_FOUND", async () => {
  await assert.rejects(
    resolvePassphrase({ passphraseFile: join(dir, "nope"), isTty: false, purpose: "x" }),
    (e: unknown) => isSigilError(e, ErrorCodes.FILE_NOT_FOUND),
  );
});

test("env second, prompt third, else NO_PASSPHRASE", async () => {
  const env = await resolvePassphraseDetailed({
    env: { SIGIL_PASSPHRASE: "env-pass" },
    isTty: true,
    prompt: noPrompt,
    purpose: "x",
  });
  assert.equal(env.source, "env");
  assert.equal(env.passphrase.toString(), "env-pass");
  const questions: string[] = [];
  const prompted = await resolvePassphraseDetailed({
    env: { SIGIL_PASSPHRASE: "" },
    isTty: true,
    prompt: async (q) => (questions.push(q), "typed"),
    purpose: "CA genfic",
  });
  assert.equal(prompted.source, "prompt");
  assert.equal(prompted.passphrase.toString(), "typed");
  assert.deepEqual(questions, ["Passphrase for CA genfic: "]);
  await assert.rejects(resolvePassphrase({ env: {}, isTty: false, purpose: "x" }), (e: unknown) => {
    assert.ok(isSigilError(e, ErrorCodes.NO_PASSPHRASE));
    assert.equal(
      (e as Error).message,
      "no passphrase: set SIGIL_PASSPHRASE, use --passphrase-file, or run on a terminal",
    );
    return true;
  });
});

test("confirm (new keys): asks twice, compares, refuses empty and short", async () => {
  const answers =
    (...a: string[]) =>
    async () =>
      a.shift()!;
  const opts = { env: {}, isTty: true, purpose: "new CA key", confirm: true };
  assert.equal(
    (await resolvePassphrase({ ...opts, prompt: answers("long enough", "long enough") })).toString(),
    "long enough",
  );
  const bad = (e: unknown): boolean => isSigilError(e, ErrorCodes.BAD_INPUT);
  await assert.rejects(
    resolvePassphrase({ ...opts, prompt: answers("long enough", "long enougH") }),
    /do not match/,
  );
  await assert.rejects(resolvePassphrase({ ...opts, prompt: answers("", "") }), /empty passphrase/);
  await assert.rejects(resolvePassphrase({ ...opts, prompt: answers("short", "short") }), /at least 8/);
  await assert.rejects(
    resolvePassphrase({ ...opts, env: { SIGIL_PASSPHRASE: "short" }, prompt: noPrompt }),
    bad,
  );
  await assert.rejects(
    resolvePassphrase({ ...opts, passphraseFile: file("empty", "\n"), prompt: noPrompt }),
    bad,
  );
});

function fakeTty(): {
  input: PassThrough & { setRawMode: (m: boolean) => void; raw: boolean[] };
  output: PassThrough;
  written: () => string;
} {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    raw: [] as boolean[],
    setRawMode(m: boolean) {
      input.raw.push(m);
    },
  });
  const output = new PassThrough();
  let text = "";
  output.on("data", (d: Buffer) => (text += d.toString()));
  return { input, output, written: () => text };
}

test("promptHidden: no echo, raw mode on and off, backspace edits", async () => {
  const t = fakeTty();
  const p = promptHidden("Passphrase: ", t);
  t.input.write("sekret");
  t.input.write("\u007fT\r");
  assert.equal(await p, "sekreT");
  assert.deepEqual(t.input.raw, [true, false]);
  assert.equal(t.written(), "Passphrase: \n");
});

test("promptHidden: Ctrl-C cancels", async () => {
  const t = fakeTty();
  const p = promptHidden("Passphrase: ", t);
  t.input.write("abc\u0003");
  await assert.rejects(p, (e: unknown) => isSigilError(e, ErrorCodes.NO_PASSPHRASE));
  assert.deepEqual(t.input.raw, [true, false]);
});
