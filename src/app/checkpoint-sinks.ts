/**
 * Where a signed audit checkpoint goes besides the database, so that an insider who
 * rewrites the database and its checkpoint table still contradicts what was sent out
 * (`sigil audit verify --witness FILE`):
 *
 * - appended (one JSON line, fsync'd) to `audit/checkpoints.jsonl` in the home;
 * - to syslog/journald through logger(1), tag `sigil-audit` (sigil.json `audit.syslog`);
 * - POSTed as JSON to `audit.witnessUrl` when set: any HTTP endpoint that keeps what it
 *   gets. A checkpoint the witness did not take (down, not 2xx) is sent again, before the
 *   next one, with every later publish of this process.
 *
 * No failure here undoes the checkpoint (it is stored and signed); each is reported once
 * through `warn`.
 */
import { spawn } from "node:child_process";
import { mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { checkpointJson } from "../audit/checkpoint.js";
import type { Config } from "../config/schema.js";
import type { AuditCheckpoint } from "../store/types.js";

/** How long the witness may take to answer. */
const WITNESS_TIMEOUT_MS = 5000;
/** Checkpoints kept for a witness that is down (the oldest are dropped past this). */
const WITNESS_BACKLOG = 1000;

/** The publisher of one home's checkpoints. */
export function checkpointSinks(
  file: string,
  cfg: Config["audit"],
  warn: (msg: string) => void,
): (cp: AuditCheckpoint) => Promise<void> {
  const backlog: AuditCheckpoint[] = [];
  const failing = new Set<string>();
  const report = (sink: string, msg: string) => {
    if (failing.has(sink)) return;
    failing.add(sink);
    warn(`audit checkpoint not sent to ${sink}: ${msg}`);
  };
  const ok = (sink: string) => failing.delete(sink);
  return async (cp) => {
    const line = checkpointJson(cp);
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o755 });
      const fh = await open(file, "a", 0o644);
      try {
        await fh.write(line + "\n");
        await fh.sync();
      } finally {
        await fh.close();
      }
      ok("the checkpoint file");
    } catch (e) {
      report("the checkpoint file", (e as Error).message);
    }
    if (cfg.syslog) {
      await new Promise<void>((resolve) => {
        const p = spawn("logger", ["-t", "sigil-audit", "-p", "auth.notice", "--", `checkpoint ${line}`], {
          stdio: ["ignore", "ignore", "pipe"],
        });
        let err = "";
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("error", (e) => {
          report("syslog", e.message);
          resolve();
        });
        p.on("close", (code) => {
          if (code === 0) ok("syslog");
          else report("syslog", `logger exited ${code}: ${err.trim().split("\n")[0] ?? ""}`);
          resolve();
        });
      });
    }
    if (cfg.witnessUrl !== undefined) {
      backlog.push(cp);
      if (backlog.length > WITNESS_BACKLOG) backlog.splice(0, backlog.length - WITNESS_BACKLOG);
      while (backlog.length > 0) {
        try {
          const r = await fetch(cfg.witnessUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: checkpointJson(backlog[0]!),
            signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS),
          });
          await r.body?.cancel();
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          backlog.shift();
          ok("the witness");
        } catch (e) {
          report("the witness", `${(e as Error).message} (kept; sent again with the next checkpoint)`);
          break;
        }
      }
    }
  };
}
