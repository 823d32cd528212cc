/**
 * A private SoftHSM2 token for tests: a softhsm2.conf whose token directory is in a temp
 * folder (never the system's /var/lib/softhsm/tokens), one token initialized with
 * `softhsm2-util --init-token --free`, and the SOFTHSM2_CONF variable that points the
 * module (in this process and in every child process) at it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers.js";

/** The PKCS#11 module Debian's softhsm2 installs. */
export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

/** A test token and how to reach it. */
export interface SoftHsm {
  /** The temp folder holding softhsm2.conf and tokens/. */
  dir: string;
  /** Path of the private softhsm2.conf. */
  conf: string;
  module: string;
  token: string;
  /** User PIN. */
  pin: string;
  /** Security officer PIN. */
  soPin: string;
  /** Environment for child processes (SOFTHSM2_CONF). */
  env: Record<string, string>;
  /** Restores SOFTHSM2_CONF and removes the folder. */
  cleanup(): void;
}

/**
 * Creates the token `label` (default sigil-test, user PIN 1234, SO PIN 5678) in a fresh
 * temp folder and sets `process.env.SOFTHSM2_CONF` to its config (restored by cleanup).
 */
export function startSoftHsm(label = "sigil-test", pin = "1234", soPin = "5678"): SoftHsm {
  const { dir, cleanup } = tempDir("sigil-softhsm-");
  const tokens = join(dir, "tokens");
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(
    conf,
    `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
  );
  const env = { SOFTHSM2_CONF: conf };
  const r = spawnSync(
    "softhsm2-util",
    ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
    { env: { ...process.env, ...env }, encoding: "utf8" },
  );
  if (r.error || r.status !== 0) {
    cleanup();
    throw new Error(`softhsm2-util --init-token failed: ${r.error?.message ?? r.stderr}`);
  }
  const before = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    conf,
    module: SOFTHSM_MODULE,
    token: label,
    pin,
    soPin,
    env,
    cleanup() {
      if (before === undefined) delete process.env.SOFTHSM2_CONF;
      else process.env.SOFTHSM2_CONF = before;
      cleanup();
    },
  };
}
