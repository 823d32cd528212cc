/**
 * `sigil serve`: the command (flags -> daemon options) over the daemon (src/daemon/: the
 * primary, its HTTP workers, IPC, jobs and leases). It takes the passphrase out of the
 * environment, runs `--init`, opens the home (src/app/) and prints the start banner.
 */
import cluster from "node:cluster";
import { existsSync } from "node:fs";
import type { Config } from "../config/schema.js";
import { homePaths } from "../app/paths.js";
import { parseListen } from "../daemon/listen.js";
import { publicUrlReaches } from "./public-url.js";
import { openContext, resolveHome, type GlobalOptions } from "./context.js";

interface ServeOpts extends GlobalOptions {
  listen?: string;
  workers?: number;
  init?: boolean;
  /** HOST:PORT for the admin API's TLS listener, or "off" (overrides admin.listen). */
  adminListen?: string;
}

/**
 * Runs `sigil serve`. A passphrase in SIGIL_PASSPHRASE is taken out of the environment
 * first thing (takeEnvSecret, src/cli/environ.ts): out of `process.env`, so no worker
 * inherits it, and out of the kernel's copy, so /proc/PID/environ stops showing it. A
 * systemd credential (`$CREDENTIALS_DIRECTORY/passphrase`) counts as `--passphrase-file`.
 * In a worker process (node:cluster forks this command again), runs the worker.
 */
export async function runServe(opts: ServeOpts): Promise<void> {
  if (cluster.isWorker) {
    const { runWorker } = await import("../daemon/worker.js");
    return runWorker({
      home: resolveHome(opts),
      ...(opts.listen !== undefined ? { listen: opts.listen } : {}),
    });
  }
  const { takeEnvSecret } = await import("./environ.js");
  const { PASSPHRASE_ENV, credentialPassphraseFile } = await import("../keys/passphrase.js");
  const taken = takeEnvSecret(PASSPHRASE_ENV);
  const passEnv: NodeJS.ProcessEnv = taken.value === undefined ? {} : { [PASSPHRASE_ENV]: taken.value };
  const passphraseFile = opts.passphraseFile ?? credentialPassphraseFile();
  opts = { ...opts, ...(passphraseFile !== undefined ? { passphraseFile } : {}) };
  const home = resolveHome(opts);
  if (opts.init && !existsSync(homePaths(home).db)) {
    const { writeInitConfig, INIT_DEFAULTS } = await import("./init.js");
    await writeInitConfig(home, { dnPrefix: INIT_DEFAULTS.dnPrefix });
  }
  const ctx = await openContext({
    ...opts,
    home,
    create: opts.init === true,
    passphraseEnv: passEnv,
    service: true,
  });
  const [{ makeLogger }, { runPrimary }] = await Promise.all([
    import("../daemon/http.js"),
    import("../daemon/primary.js"),
  ]);
  const log = makeLogger();
  if (taken.cleared !== true)
    log.warn(
      `${PASSPHRASE_ENV} stays visible in /proc/${process.pid}/environ (${taken.cleared}): use --passphrase-file or a systemd credential instead`,
    );
  try {
    if (opts.init && (await ctx.authority.listCas()).length === 0) {
      const { initHierarchy, INIT_DEFAULTS } = await import("./init.js");
      process.stderr.write(await initHierarchy(ctx, { ...INIT_DEFAULTS }));
    }
    await runPrimary(
      ctx,
      {
        ...(opts.listen !== undefined ? { listen: opts.listen } : {}),
        ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
        ...(opts.adminListen !== undefined ? { adminListen: opts.adminListen } : {}),
        ...(opts.passphraseFile !== undefined ? { passphraseFile: opts.passphraseFile } : {}),
      },
      log,
      passEnv,
      (r) => banner(r.address, r.workers, ctx.config, r.cas, r.unsealed, r.admin),
    );
  } catch (e) {
    await ctx.close();
    throw e;
  }
}

function banner(
  address: string,
  workers: number,
  config: Config,
  cas: Array<{ name: string; parentId: number | null }>,
  keys: boolean,
  admin: string[],
): void {
  const base = config.publicUrl.replace(/\/+$/, "");
  const lines = [
    `sigil serve: listening on http://${address} (${workers} worker${workers === 1 ? "" : "s"}${keys ? "" : ", sealed: pre-signed answers only until 'sigil unseal'"})`,
    `  OCSP      ${base}/ocsp`,
    ...cas.map((c) => `  CRL       ${base}/crl/${c.name}.crl`),
    ...cas.map((c) => `  CA cert   ${base}/ca/${c.name}.crt  (.pem)`),
    `  bundle    ${base}/ca/bundle.pem`,
    `  health    http://${address}/healthz   metrics http://${address}/metrics`,
    ...admin.map((a) => `  admin API ${a}`),
  ];
  // The URLs above are those in issued certificates: say so when they lead elsewhere.
  const bound = /^(?:\[[^\]]+\]|[^:]+):\d+$/.test(address) ? parseListen(address) : undefined;
  if (bound && !publicUrlReaches(base, bound))
    lines.push(
      `sigil: warning: publicUrl ${base} (in issued certificates) does not point at this listener ${address}; set "publicUrl" in sigil.json`,
    );
  process.stderr.write(lines.join("\n") + "\n");
}
