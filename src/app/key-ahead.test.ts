/**
 * The CA key's derivation started from `sigil sign` / `sigil crl`'s command line
 * (app/key-ahead.ts): started only for a key this process will open (the CA's key file in
 * the home, or --key-file), under the passphrase at hand; never for a command that goes to a
 * service, another command, a CA name that is no plain file name, or without a passphrase.
 * What is started is taken by the real open of the same key, and only with the same passphrase.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateKeyPair } from "../keys/generate.js";
import { decryptPkcs8, derivationsAhead, encryptPkcs8 } from "../keys/pkcs8.js";
import { deriveKeyAheadFromArgv } from "./key-ahead.js";
import { homePaths } from "./paths.js";

const PASS = "correct horse battery staple";
const LOW = { iterations: 1000, insecureAllowLowIterations: true };

describe("the CA key's derivation started from the command line", () => {
  const dir = mkdtempSync(join(tmpdir(), "sigil-key-ahead-"));
  const home = join(dir, "home");
  const paths = homePaths(home);
  const offline = join(dir, "offline.key.pem");
  const passFile = join(dir, "pass.txt");
  let pem: string;
  const env = { SIGIL_HOME: home, SIGIL_PASSPHRASE: PASS };
  /** Derivations started by one call, and none left over. */
  const started = async (argv: string[], e: NodeJS.ProcessEnv = env): Promise<number> => {
    const n0 = derivationsAhead();
    await deriveKeyAheadFromArgv(argv, e);
    const n = derivationsAhead() - n0;
    // Take what was started (the open a real command makes), so the next case starts clean.
    if (n > 0) await decryptPkcs8(pem, Buffer.from(PASS), "genfic-system");
    assert.equal(derivationsAhead(), n0);
    return n;
  };

  before(async () => {
    mkdirSync(paths.keys, { recursive: true });
    const { privateKey } = await generateKeyPair("p256");
    pem = await encryptPkcs8(privateKey, Buffer.from(PASS), LOW);
    writeFileSync(join(paths.keys, "genfic-system.key.pem"), pem, { mode: 0o600 });
    writeFileSync(offline, pem, { mode: 0o600 });
    writeFileSync(passFile, PASS + "\n", { mode: 0o600 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("starts one for sign and crl with --ca, in the home from SIGIL_HOME or --home", async () => {
    assert.equal(await started(["sign", "a.csr", "--ca", "genfic-system", "--profile", "system"]), 1);
    assert.equal(await started(["sign", "a.csr", "--ca=genfic-system"]), 1);
    assert.equal(await started(["crl", "--ca", "genfic-system"]), 1);
    assert.equal(
      await started(["--home", home, "sign", "a.csr", "--ca", "genfic-system"], { SIGIL_PASSPHRASE: PASS }),
      1,
    );
    assert.equal(
      await started(["sign", "a.csr", "--home", home, "--ca", "genfic-system"], { SIGIL_PASSPHRASE: PASS }),
      1,
    );
  });

  it("takes the passphrase from --passphrase-file, and starts none without one at hand", async () => {
    assert.equal(
      await started(["sign", "a.csr", "--ca", "genfic-system", "--passphrase-file", passFile], {
        SIGIL_HOME: home,
      }),
      1,
    );
    assert.equal(await started(["sign", "a.csr", "--ca", "genfic-system"], { SIGIL_HOME: home }), 0);
  });

  it("a wrong passphrase's derivation is never used: the open derives afresh or refuses", async () => {
    await deriveKeyAheadFromArgv(["sign", "a.csr", "--ca", "genfic-system"], {
      SIGIL_HOME: home,
      SIGIL_PASSPHRASE: "guess",
    });
    assert.equal(derivationsAhead(), 1);
    await assert.rejects(decryptPkcs8(pem, Buffer.from("another"), "genfic-system"), /wrong passphrase/);
    assert.equal(derivationsAhead(), 0, "thrown away, not kept for a later caller");
  });

  it("starts none for a command that goes to a service, another command, or a name that is no key file", async () => {
    assert.equal(await started(["sign", "a.csr", "--ca", "genfic-system", "--server", "https://ca:8443"]), 0);
    assert.equal(
      await started(["sign", "a.csr", "--ca", "genfic-system"], { ...env, SIGIL_SERVER: "https://ca:8443" }),
      0,
    );
    assert.equal(await started(["revoke", "--ca", "genfic-system", "01"]), 0);
    assert.equal(await started(["sign", "a.csr"]), 0, "no --ca");
    assert.equal(await started(["sign", "a.csr", "--ca", "genfic-user"]), 0, "no such key file");
    assert.equal(await started(["sign", "a.csr", "--ca", "../home/keys/genfic-system"]), 0);
    assert.equal(await started(["sign", "--", "--ca", "genfic-system"]), 0, "after --: no option");
  });

  it("with the home's service running (its admin socket), only --key-file starts one", async () => {
    const listen = async (path: string) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(path, resolve));
      return () => new Promise<void>((resolve) => server.close(() => resolve()));
    };
    const socket = paths.adminSocket(undefined, {})!;
    mkdirSync(paths.run, { recursive: true });
    let close = await listen(socket);
    try {
      assert.equal(await started(["sign", "a.csr", "--ca", "genfic-system"]), 0);
      assert.equal(await started(["sign", "a.csr", "--ca", "genfic-system", "--key-file", offline]), 1);
      // SIGIL_ADMIN_SOCKET moves the service's socket: the home's own path is then not it.
      const moved = join(dir, "moved.sock");
      assert.equal(
        await started(["sign", "a.csr", "--ca", "genfic-system"], { ...env, SIGIL_ADMIN_SOCKET: moved }),
        1,
      );
      await close();
      close = await listen(moved);
      assert.equal(
        await started(["sign", "a.csr", "--ca", "genfic-system"], { ...env, SIGIL_ADMIN_SOCKET: moved }),
        0,
      );
    } finally {
      await close();
    }
  });
});
