/**
 * The restore mode of the composition root: `sigil restore` unpacks a backup into a home
 * that no `sigil serve` holds (authority/backup.ts), with the store opener and the
 * running-service probe wired here.
 */
import { readFile } from "node:fs/promises";
import type { RestoreResult } from "../authority/backup.js";
import { homePaths } from "./paths.js";

/**
 * True when a `sigil serve` holds `home`: a backend socket (`run/backend-PID.sock`) or its
 * admin socket (sigil.json `admin.socket`, default `admin.sock`) answers.
 */
export async function serveHolds(home: string): Promise<boolean> {
  const { backendSockets, socketAnswers } = await import("../http/unix-socket.js");
  const paths = homePaths(home);
  const none = {} as NodeJS.ProcessEnv; // the home's own sockets, whatever this process's environment says
  const sockets = [...(await backendSockets(paths.run)), paths.adminSocket(undefined, none)!];
  try {
    const cfg = JSON.parse(await readFile(paths.config, "utf8")) as {
      admin?: { socket?: string | null };
    };
    const s = cfg.admin?.socket;
    if (typeof s === "string" && s !== "") sockets.push(paths.adminSocket(s, none)!);
  } catch {
    // No or unreadable config: the default sockets only.
  }
  for (const p of sockets) if (await socketAnswers(p)) return true;
  return false;
}

/** Restores the backup `from` into `home` (see authority/backup.ts restoreBackup). */
export async function restoreHome(opts: {
  from: string;
  home: string;
  force?: boolean;
  actor: string;
}): Promise<RestoreResult> {
  const [{ openStore }, { restoreBackup }] = await Promise.all([
    import("../store/open.js"),
    import("../authority/backup.js"),
  ]);
  return restoreBackup({
    from: opts.from,
    home: opts.home,
    force: opts.force,
    clock: () => Date.now(),
    actor: opts.actor,
    openStore: (h) => openStore(h),
    serveHolds,
  });
}
