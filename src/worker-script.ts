/**
 * Where a worker thread's entry is, for code that starts one (the parallel audit log reads:
 * store/sqlite/audit-scan.ts, cli/audit-export.ts). Built, each entry is a file of its own in
 * dist/ next to the chunk that starts it (scripts/build.mjs); run from source (tsx, the
 * tests), the worker loads the .ts entry through tsx's loader.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";

/** What `new Worker(script, { eval })` takes. */
export interface WorkerScript {
  script: string | URL;
  eval: boolean;
}

/**
 * The worker entry `name` (without extension) next to the module whose `import.meta.url` is
 * `here`; undefined when a build lacks it (the caller then does the work on its own thread).
 */
export function workerScript(here: string, name: string): WorkerScript | undefined {
  if (here.endsWith(".ts")) {
    const ts = new URL(`./${name}.ts`, here).href;
    const tsx = import.meta.resolve("tsx/esm/api");
    return {
      script: `import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(ts)}); })`,
      eval: true,
    };
  }
  const js = new URL(`./${name}.js`, here);
  return existsSync(fileURLToPath(js)) ? { script: js, eval: false } : undefined;
}

/** What a pool's worker posts besides its own messages: its end, or the error it stopped on. */
export type WorkerEnd = { done: true } | { error: { message: string; code?: string } };

/** The error a worker stopped on, as a message it can post (`{ error }`). */
export function workerError(e: unknown): WorkerEnd {
  const err = e as { message?: string; code?: unknown };
  return {
    error: {
      message: String(err?.message ?? e),
      ...(typeof err?.code === "string" ? { code: err.code } : {}),
    },
  };
}

/**
 * Runs `threads` workers of `script` on the same `workerData` until each has posted
 * `{ done: true }`; every other message goes to `onMessage`. Rejects with the first error a
 * worker posts (an Error with its `code`), throws or exits with; the workers are terminated
 * when it settles.
 */
export async function runWorkers<M extends object>(
  script: WorkerScript,
  threads: number,
  workerData: unknown,
  onMessage: (m: M) => void,
): Promise<void> {
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads;
      for (let t = 0; t < threads; t++) {
        const w = new Worker(script.script, { eval: script.eval, workerData });
        workers.push(w);
        w.on("message", (m: M | WorkerEnd) => {
          if ("error" in m) reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
          else if ("done" in m) {
            if (--running === 0) resolve();
          } else onMessage(m);
        });
        w.on("error", reject);
        w.on("exit", (code) => {
          if (code !== 0) reject(new Error(`worker thread exited with code ${code}`));
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * A queue of `parts` parts (0..parts-1) that workers share: Int32 [next part to take, last
 * part worth taking]. Workers take parts in order with {@link takeParts}.
 */
export function partQueue(parts: number): SharedArrayBuffer {
  const shared = new SharedArrayBuffer(8);
  new Int32Array(shared)[1] = parts;
  return shared;
}

/**
 * Takes parts from `queue` (of `parts` parts) one after another and runs `body` on each
 * until none is left. A part for which `body` answers true ends the work: no part after it
 * is taken by any worker (those before it still are), `stopAll`: no other part at all.
 */
export function takeParts(
  queue: SharedArrayBuffer,
  parts: number,
  body: (part: number) => boolean | "stopAll",
): void {
  const q = new Int32Array(queue);
  for (;;) {
    const i = Atomics.add(q, 0, 1);
    if (i >= parts || i > Atomics.load(q, 1)) return;
    const stop = body(i);
    if (stop === false) continue;
    const last = stop === "stopAll" ? -1 : i;
    // Lower the last part worth taking to this one.
    for (let cur = Atomics.load(q, 1); last < cur; cur = Atomics.load(q, 1))
      if (Atomics.compareExchange(q, 1, cur, last) === cur) break;
  }
}
