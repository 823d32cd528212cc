/**
 * `sigil audit verify | log | checkpoint | prove | export`: the hash-chained audit log and
 * its signed checkpoints (authority/audit-checkpoints.ts). The export's format (a folder of
 * JSON-lines files) is described in README.md, "Audit log"; `verify --offline` reads it with
 * nothing but the pinned public key.
 */
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import type { AuditCheckpoint } from "../store/types.js";
import { openContext, resolveHome, type GlobalOptions } from "./context.js";
import { printAuditEvent, printAuditVerdict } from "./output.js";

/** Options of `sigil audit verify`. */
interface VerifyOpts extends GlobalOptions {
  /** An outside copy of the checkpoints (the checkpoint file, a witness's store, syslog lines). */
  witness?: string;
  /** The pinned public key (PEM) to trust instead of sigil.json's. */
  key?: string;
  /** Verify an export folder without the database. */
  offline?: string;
}

/** Runs `sigil audit verify`: exit 0 and a summary, or exit 1 naming the first event or checkpoint that does not hold. */
export async function verify(opts: VerifyOpts): Promise<void> {
  if (opts.offline !== undefined) return verifyOffline(opts.offline, opts);
  const pinned = opts.key !== undefined ? [await readKeyFile(opts.key)] : undefined;
  let witness = opts.witness !== undefined ? await readCheckpoints(opts.witness) : undefined;
  const ctx = await openContext(opts);
  try {
    // The home's own checkpoint file is outside the database: a witness by default.
    if (witness === undefined && existsSync(ctx.paths.checkpointFile))
      witness = await readCheckpoints(ctx.paths.checkpointFile);
    printAuditVerdict(
      await ctx.authority.verifyAudit({ ...(witness ? { witness } : {}), ...(pinned ? { pinned } : {}) }),
    );
  } finally {
    await ctx.close();
  }
}

/** Runs `sigil audit log`. */
export async function log(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    for await (const e of ctx.authority.auditLog()) printAuditEvent(e, opts.json);
  } finally {
    await ctx.close();
  }
}

/**
 * Runs `sigil audit checkpoint`: signs a checkpoint of the whole log now, with the audit
 * key (opened with the home passphrase, like `sigil crl`); makes and pins the key first in
 * a home that has none.
 */
export async function checkpoint(opts: GlobalOptions): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const key = await ctx.ensureAuditKey();
    if (key.pinned)
      process.stderr.write(
        `audit key ${key.keyId.slice(0, 16)} made and pinned in sigil.json (audit.publicKey); its public key is ${key.file}: keep a copy outside this machine\n`,
      );
    const cp = await ctx.authority.checkpoints.sign({ force: true });
    if (!cp) {
      process.stdout.write("the audit log is empty: nothing to sign\n");
      return;
    }
    process.stdout.write(
      `checkpoint of ${cp.treeSize} events, root ${cp.rootHash}, signed ${new Date(cp.at).toISOString()} by audit key ${cp.keyId.slice(0, 16)}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** Runs `sigil audit prove SEQ`: the inclusion proof of one event against a signed checkpoint (JSON). */
export async function prove(seqText: string, opts: GlobalOptions & { size?: string }): Promise<void> {
  const seq = positive(seqText, "event number");
  const size = opts.size === undefined ? undefined : positive(opts.size, "--size");
  const ctx = await openContext(opts);
  try {
    const p = await ctx.authority.checkpoints.prove(seq, size);
    process.stdout.write(JSON.stringify(p, null, 2) + "\n");
  } finally {
    await ctx.close();
  }
}

/**
 * Runs `sigil audit export --out DIR [--since SEQ]`: events.jsonl (from SEQ), checkpoints.jsonl,
 * proofs.jsonl (consistency between consecutive checkpoints), start.json and audit-key.pem
 * (the pinned key, for reference: an auditor trusts their own copy).
 */
export async function exportLog(opts: GlobalOptions & { out: string; since?: string }): Promise<void> {
  const since = opts.since === undefined ? 1 : positive(opts.since, "--since");
  await mkdir(opts.out, { recursive: true, mode: 0o755 });
  if ((await readdir(opts.out)).length > 0)
    throw new SigilError(ErrorCodes.FILE_EXISTS, `${opts.out} is not empty: export into a new folder`);
  const ctx = await openContext(opts);
  try {
    const events = await open(join(opts.out, "events.jsonl"), "wx", 0o644);
    let count = 0;
    let r;
    try {
      let buf: string[] = [];
      r = await ctx.authority.checkpoints.exportLog(since, async (e) => {
        buf.push(JSON.stringify(e));
        count++;
        if (buf.length >= 4096) {
          await events.write(buf.join("\n") + "\n");
          buf = [];
        }
      });
      if (buf.length) await events.write(buf.join("\n") + "\n");
    } finally {
      await events.close();
    }
    const { checkpointJson, spkiPem, parsePinnedKey } = await import("../audit/checkpoint.js");
    await writeLines(join(opts.out, "checkpoints.jsonl"), r.checkpoints.map(checkpointJson));
    await writeLines(
      join(opts.out, "proofs.jsonl"),
      r.proofs.map((p) => JSON.stringify(p)),
    );
    await writeLines(join(opts.out, "start.json"), [JSON.stringify(r.start)]);
    const pin = ctx.config.audit.publicKey;
    if (pin !== undefined)
      await writeLines(join(opts.out, "audit-key.pem"), [spkiPem(parsePinnedKey(pin)).trimEnd()]);
    process.stdout.write(
      `exported ${count} events (from ${since}), ${r.checkpoints.length} checkpoints and ${r.proofs.length} consistency proofs to ${opts.out}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil audit verify --offline DIR`: the export alone, with the pinned key (--key, else the home's sigil.json). */
async function verifyOffline(dir: string, opts: VerifyOpts): Promise<void> {
  const { checkConsistencySteps } = await import("../audit/log-verify.js");
  const { parsePinnedKey } = await import("../audit/checkpoint.js");
  let pinned: Buffer;
  if (opts.key !== undefined) pinned = await readKeyFile(opts.key);
  else {
    const { loadConfig } = await import("../config/load.js");
    const pin = (await loadConfig(resolveHome(opts))).audit.publicKey;
    if (pin === undefined)
      throw new SigilError(
        ErrorCodes.USAGE,
        "--offline needs the pinned audit key: --key FILE (your own copy of audit-key.pem)",
      );
    pinned = parsePinnedKey(pin);
  }
  const start = JSON.parse(await readText(join(dir, "start.json"))) as {
    seq: number;
    hash: string;
    frontier: string[];
  };
  const checkpoints = await readCheckpoints(join(dir, "checkpoints.jsonl"));
  const steps = (await readText(join(dir, "proofs.jsonl")))
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { from: number; to: number; proof: string[] });
  const witness = opts.witness !== undefined ? await readCheckpoints(opts.witness) : undefined;
  const { verifyExportEvents } = await import("./audit-export.js");
  const { verdict } = await verifyExportEvents(join(dir, "events.jsonl"), {
    checkpoints,
    ...(witness ? { witness } : {}),
    pinned: [pinned],
    start: { seq: start.seq, hash: start.hash, frontier: start.frontier.map((h) => Buffer.from(h, "hex")) },
  });
  if (verdict.ok) {
    const bad = checkConsistencySteps(checkpoints, steps);
    if (bad !== undefined)
      throw new SigilError(ErrorCodes.AUDIT_BROKEN, `audit export does not verify: ${bad}`);
  }
  printAuditVerdict(verdict);
}

/** Checkpoints from a file of lines that each hold one as JSON (the checkpoint file, syslog lines). */
async function readCheckpoints(file: string): Promise<AuditCheckpoint[]> {
  const { checkpointFromJson } = await import("../audit/checkpoint.js");
  const out: AuditCheckpoint[] = [];
  for (const [i, line] of (await readText(file)).split("\n").entries()) {
    const at = line.indexOf("{");
    if (at < 0) continue;
    try {
      out.push(checkpointFromJson(JSON.parse(line.slice(at))));
    } catch (e) {
      throw new SigilError(ErrorCodes.BAD_INPUT, `${file}:${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

async function readKeyFile(file: string): Promise<Buffer> {
  const { parsePinnedKey } = await import("../audit/checkpoint.js");
  try {
    return parsePinnedKey(await readText(file));
  } catch (e) {
    if (e instanceof SigilError) throw e;
    throw new SigilError(ErrorCodes.BAD_INPUT, `${file}: ${(e as Error).message}`);
  }
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SigilError(
      code === "ENOENT" ? ErrorCodes.FILE_NOT_FOUND : ErrorCodes.BAD_INPUT,
      code === "ENOENT" ? `${file} does not exist` : `cannot read ${file}: ${(e as Error).message}`,
    );
  }
}

async function writeLines(file: string, lines: string[]): Promise<void> {
  const { writeFile } = await import("node:fs/promises");
  await writeFile(file, lines.length ? lines.join("\n") + "\n" : "", { flag: "wx", mode: 0o644 });
}

function positive(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new SigilError(ErrorCodes.USAGE, `bad ${what} ${JSON.stringify(text)}: give a whole number from 1`);
  return n;
}
