/**
 * Taking a secret out of this process's environment for good (issue 14.6).
 *
 * `delete process.env.X` only unlinks X from libc's `environ` array; the kernel's copy of
 * the environment the process was started with, which /proc/PID/environ shows to the same
 * user and to root for the life of the process, keeps it. That copy is the block of memory
 * between `env_start` and `env_end` (fields 50 and 51 of /proc/self/stat), and it is
 * ordinary writable memory of this process: once X is unlinked, nothing points into its
 * bytes any more, so they are overwritten with zeros through /proc/self/mem (a process may
 * always write its own memory there). Re-executing without the variable would not do:
 * Node cannot execve, and a parent that stays (a supervisor) keeps its own environ.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";

/** What {@link takeEnvSecret} did. */
export interface TakenSecret {
  /** The variable's value (undefined when it was not set). */
  value: string | undefined;
  /**
   * True when the variable is gone from /proc/self/environ too (or was never set); else why
   * not (not Linux, /proc not mounted, ...): then it stays visible there.
   */
  cleared: true | string;
}

/**
 * Reads the environment variable `name`, removes it from `process.env` (so child processes
 * do not inherit it) and overwrites its bytes in the kernel-visible copy of the environment.
 * Never throws: a failure to clear is reported in `cleared`. Call it before starting any
 * child process and before other threads might read the environment.
 */
export function takeEnvSecret(name: string): TakenSecret {
  const value = process.env[name];
  if (value === undefined) return { value, cleared: true };
  delete process.env[name];
  return { value, cleared: scrubEnviron(name) };
}

/** Zeroes every `name=...` entry of this process's initial environment block. */
function scrubEnviron(name: string): true | string {
  if (process.platform !== "linux") return `not on Linux (${process.platform})`;
  let fd: number | undefined;
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    // Fields after "pid (comm) ": comm may hold spaces and parentheses, so split after it;
    // field 3 (state) is index 0, so field N is index N - 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[50 - 3]);
    const end = Number(fields[51 - 3]);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start || end - start > 1 << 24)
      return "the environment's address is not readable from /proc/self/stat";
    fd = openSync("/proc/self/mem", "r+");
    const block = Buffer.alloc(end - start);
    if (readSync(fd, block, 0, block.length, start) !== block.length)
      return "the environment could not be read from /proc/self/mem";
    const prefix = Buffer.from(`${name}=`);
    for (let at = 0; at < block.length;) {
      let stop = block.indexOf(0, at);
      if (stop < 0) stop = block.length;
      if (block.subarray(at, at + prefix.length).equals(prefix)) {
        const zeros = Buffer.alloc(stop - at);
        if (writeSync(fd, zeros, 0, zeros.length, start + at) !== zeros.length)
          return "the environment could not be written through /proc/self/mem";
      }
      at = stop + 1;
    }
    // None found: the variable was set after start (setenv), so the block never held it.
    return true;
  } catch (e) {
    return `${(e as NodeJS.ErrnoException).code ?? "error"} on /proc/self`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
