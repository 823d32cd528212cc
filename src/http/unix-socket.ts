/**
 * Unix sockets of `sigil serve` in the data folder: whether one is live, and clearing the
 * ones a crashed process left behind.
 */
import { createConnection } from "node:net";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";

/** True when something accepts connections on the Unix socket `path` (or does not answer in 2 s). */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolveP) => {
    const s = createConnection({ path });
    const done = (v: boolean) => {
      s.destroy();
      resolveP(v);
    };
    s.setTimeout(2000, () => done(true));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

/** The backend sockets (`backend-PID.sock`) in `dir`. */
export async function backendSockets(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => /^backend-\d+\.sock$/.test(f)).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** Removes the backend sockets in `dir` that nothing answers on (left by a crash). */
export async function removeDeadBackendSockets(dir: string): Promise<void> {
  for (const p of await backendSockets(dir))
    if (!(await socketAnswers(p))) await unlink(p).catch(() => undefined);
}
