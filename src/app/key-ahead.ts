/**
 * The CA key's PBKDF2 derivation started ahead (keys/pkcs8.ts deriveAhead): a one-shot
 * `sigil sign` or `sigil crl` spends most of its life loading modules and opening its store,
 * and then waits about 100 ms for the one PBKDF2-600,000 its key needs. Started first, the
 * derivation runs on the thread pool (the other core) while the process loads.
 *
 * Every start is a guess: the key file of the CA named on the command line, in the home's
 * keys folder, or the offline key file given, under the passphrase at hand without asking
 * (--passphrase-file, SIGIL_PASSPHRASE). A guess that does not hold (the key is in an HSM or
 * the database, or named otherwise; another passphrase) costs a derivation on the other
 * core and nothing else: only the derivation is done ahead, and the real open decrypts and
 * checks everything as before, using the derived key only for the same key file's salt and
 * iterations under the same passphrase (compared in constant time). Any error is left to
 * the real open to report.
 *
 * Kept light: node:fs, the home's layout and the key name rule until it is clear a key is opened here; then
 * the two key modules it needs.
 */
import { lstatSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { keyFileName } from "../keys/key-name.js";
import { ADMIN_SOCKET_ENV, homePaths, resolveHome, type HomePaths } from "./paths.js";

/** The key to derive ahead: the CA's key file in the home, or an offline key file. */
export interface KeyAhead {
  ca: string;
  keyFile?: string;
}

/**
 * Starts deriving the key `want` names (see the top of this file); resolves once started,
 * or once it is clear there is nothing to start. Never rejects.
 */
export async function deriveKeyAhead(
  paths: HomePaths,
  want: KeyAhead,
  opts: { passphraseFile?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  try {
    // The file key store's own name rule (keyFileName throws for any other name: no guess).
    const file = want.keyFile ?? join(paths.keys, keyFileName(want.ca));
    // Read at once (no thread-pool round trip): the sooner the derivation starts, the more
    // of it the loading hides.
    const st = statSync(file);
    if (!st.isFile() || st.size > 64 * 1024) return;
    const pem = readFileSync(file, "utf8");
    // Loaded only now: a command that goes to a service never pays for them.
    const [{ resolvePassphraseDetailed }, { deriveAhead }] = await Promise.all([
      import("../keys/passphrase.js"),
      import("../keys/pkcs8.js"),
    ]);
    const { passphrase } = await resolvePassphraseDetailed({
      ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}),
      env: opts.env ?? process.env,
      isTty: false, // never a prompt: no passphrase at hand throws NO_PASSPHRASE, caught below
      purpose: "CA key",
    });
    deriveAhead(pem, passphrase);
    passphrase.fill(0);
  } catch {
    // The open that needs the key reads the same files and reports what is wrong.
  }
}

/** The value of `--name V` or `--name=V` in `argv` (the last one given), if any. */
function optionValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a === name && i + 1 < argv.length) value = argv[++i];
    else if (a.startsWith(`${name}=`)) value = a.slice(name.length + 1);
  }
  return value;
}

/**
 * At the very start of the CLI: for `sigil sign ... --ca CA` and `sigil crl --ca CA` that
 * will open the CA key here, starts its derivation before the command line is even parsed.
 * Not when the command goes to a service (`--server`, SIGIL_SERVER, or the home's own
 * service's admin socket, which the command asks first: cli/local-service.ts), where no
 * key is opened here; `--key-file` always runs here.
 */
export async function deriveKeyAheadFromArgv(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  try {
    // --home is global: it may come before the command.
    const command = argv[0] === "--home" ? argv[2] : argv[0]?.startsWith("--home=") ? argv[1] : argv[0];
    if (command !== "sign" && command !== "crl") return;
    const ca = optionValue(argv, "--ca");
    if (ca === undefined || optionValue(argv, "--server") !== undefined || env.SIGIL_SERVER) return;
    const keyFile = optionValue(argv, "--key-file");
    const paths = homePaths(resolveHome(optionValue(argv, "--home"), env));
    if (keyFile === undefined) {
      const socket = env[ADMIN_SOCKET_ENV] || paths.adminSocket(undefined, env);
      try {
        if (socket !== undefined && lstatSync(socket).isSocket()) return;
      } catch {
        // No socket: no service to ask, the key is opened here.
      }
    }
    const passphraseFile = optionValue(argv, "--passphrase-file");
    await deriveKeyAhead(
      paths,
      { ca, ...(keyFile !== undefined ? { keyFile } : {}) },
      {
        ...(passphraseFile !== undefined ? { passphraseFile } : {}),
        env,
      },
    );
  } catch {
    // Only a guess: the command itself reports whatever is wrong.
  }
}
