/**
 * `sigil requests ...`: the request queue fed by the CLI, drop folders and e-mail (later the
 * web portal and ACME): list, show with the checks run at intake, approve (signs with the
 * same code as `sigil sign`), reject with a reason, import a drop folder, submit files.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { SigilError, ErrorCodes } from "../errors.js";
import type { RequestState } from "../store/types.js";
import { cliActor, openContext, queueOf, type GlobalOptions } from "./context.js";
import { printJson, printRequestTable } from "./output.js";
import { notWrittenError } from "./sign.js";
import { checkOutput, writeOutput } from "../files/output.js";
import { requestView as view, iso as isoOrNull } from "../authority/views.js";

const iso = (ms: number | null): string => isoOrNull(ms) ?? "";

const STATES: RequestState[] = ["pending", "approved", "rejected", "issued", "failed"];

/** Parses a request id. */
export function parseId(v: string): number {
  if (!/^\d{1,12}$/.test(v)) throw new SigilError(ErrorCodes.USAGE, `bad request id "${v}": give a number`);
  return Number(v);
}

/** `sigil requests list`. */
export async function listRequests(
  opts: GlobalOptions & { state?: string; json?: boolean; limit?: string },
): Promise<void> {
  if (opts.state !== undefined && !STATES.includes(opts.state as RequestState))
    throw new SigilError(ErrorCodes.USAGE, `unknown state "${opts.state}" (known: ${STATES.join(", ")})`);
  const ctx = await openContext(opts);
  try {
    const rows = await ctx.store.listRequests({
      ...(opts.state ? { state: opts.state as RequestState } : {}),
      limit: opts.limit ? Number(opts.limit) : 1000,
    });
    if (opts.json) return printJson(rows.map(view));
    printRequestTable(rows.map(view));
  } finally {
    await ctx.close();
  }
}

/** `sigil requests show ID`. */
export async function showRequest(
  id: string,
  opts: GlobalOptions & { json?: boolean; pem?: boolean },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const q = await queueOf(ctx);
    const r = await q.get(parseId(id));
    const { toPem } = await import("../x509/der.js");
    if (opts.pem) {
      if (r.csrDer.length === 0) throw noCsr(r.id);
      process.stdout.write(toPem(r.csrDer, "CERTIFICATE REQUEST"));
      return;
    }
    const mails = await ctx.store.mailForRequest(r.id);
    let csrInfo: Record<string, unknown> = {};
    try {
      const { parseCsr } = await import("../x509/csr.js");
      const { publicKeyLabel } = await import("../x509/algorithms.js");
      const csr = parseCsr(r.csrDer);
      csrInfo = {
        sans: csr.requestedSans.map((s) => `${s.type}:${s.value}`),
        key: publicKeyLabel(csr.publicKey),
        csrSha256: createHash("sha256").update(csr.der).digest("hex"),
      };
    } catch {
      csrInfo = { csrSha256: r.csrDer.length ? createHash("sha256").update(r.csrDer).digest("hex") : null };
    }
    let cert: Record<string, unknown> | undefined;
    const issued = r.certificateId !== null ? await ctx.store.getCertById(r.certificateId) : undefined;
    if (issued) cert = { serial: issued.serialHex, notAfter: iso(issued.notAfter), status: issued.status };
    const mailViews = mails.map((m) => ({
      kind: m.kind,
      to: m.to,
      state: m.state,
      attempts: m.attempts,
      lastError: m.lastError,
      sentAt: m.sentAt === null ? null : iso(m.sentAt),
    }));
    if (opts.json) return printJson({ ...view(r), ...csrInfo, certificate: cert ?? null, mails: mailViews });
    const lines = [
      `Request ${r.id}: ${r.state}${r.reason ? ` (${r.reason})` : ""}`,
      `  subject:    ${r.subject}`,
      ...(Array.isArray(csrInfo.sans) && csrInfo.sans.length
        ? [`  SANs:       ${(csrInfo.sans as string[]).join(", ")}`]
        : []),
      ...(csrInfo.key ? [`  key:        ${String(csrInfo.key)}`] : []),
      `  CSR SHA-256 ${csrInfo.csrSha256 ? String(csrInfo.csrSha256) : "(none kept: not a readable request)"}`,
      `  channel:    ${r.channel}${r.source ? ` (${r.source})` : ""}`,
      `  submitter:  ${r.submitter ?? "(unknown)"}${r.replyTo && r.replyTo !== r.submitter ? `, replies to ${r.replyTo}` : ""}`,
      `  received:   ${iso(r.receivedAt)}`,
      `  for:        ${r.caName ?? "(no CA chosen)"}${r.profile ? ` / ${r.profile}` : ""}`,
      ...(r.decidedBy ? [`  decided:    ${iso(r.decidedAt)} by ${r.decidedBy}`] : []),
      ...(cert
        ? [`  certificate ${String(cert.serial)}, until ${String(cert.notAfter)} (${String(cert.status)})`]
        : []),
      "  checks:",
      ...r.checks.map((c) => `    ${c.ok ? "ok    " : "FAILED"} ${c.check.padEnd(13)} ${c.detail}`),
      ...(mailViews.length
        ? [
            "  mails:",
            ...mailViews.map(
              (m) =>
                `    ${m.kind.padEnd(9)} to ${m.to}: ${m.state}${m.sentAt ? ` ${m.sentAt}` : ""}${m.attempts ? `, ${m.attempts} attempt${m.attempts === 1 ? "" : "s"}` : ""}${m.lastError ? ` (last error: ${m.lastError})` : ""}`,
            ),
          ]
        : []),
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } finally {
    await ctx.close();
  }
}

/** `sigil requests approve ID`. */
export async function approveRequest(
  id: string,
  opts: GlobalOptions & { ca?: string; profile?: string; days?: number; out?: string; force?: boolean },
): Promise<void> {
  const force = Boolean(opts.force);
  // Checked before the request is signed.
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const ctx = await openContext(opts);
  try {
    const q = await queueOf(ctx);
    const issued = await q.approve(parseId(id), {
      ...(opts.ca ? { caName: opts.ca } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.days !== undefined ? { days: opts.days } : {}),
    });
    const r = await q.get(parseId(id));
    if (opts.out !== undefined) {
      try {
        await writeOutput(opts.out, issued.pem, { mode: 0o644, overwrite: force, stdout: true });
      } catch (e) {
        const ca = opts.ca ?? r.caName ?? (await ctx.store.getCaById(issued.cert.caId))?.name ?? "CA";
        throw notWrittenError(issued.cert.serialHex, ca, opts.out, e);
      }
    }
    const to = opts.out === "-" ? "stdout" : opts.out;
    process.stderr.write(
      `approved request ${r.id}: issued ${issued.cert.subject}, serial ${issued.cert.serialHex}, until ${iso(issued.cert.notAfter)}${to ? ` -> ${to}` : ""}${r.replyTo ? `; reply queued to ${r.replyTo}` : ""}\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil requests reject ID --reason TEXT`. */
export async function rejectRequest(id: string, opts: GlobalOptions & { reason: string }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const q = await queueOf(ctx);
    const r = await q.reject(parseId(id), opts.reason);
    process.stderr.write(`rejected request ${r.id}${r.replyTo ? `; reply queued to ${r.replyTo}` : ""}\n`);
  } finally {
    await ctx.close();
  }
}

/** `sigil requests submit FILE...`: queue requests from files without signing them. */
export async function submitRequests(
  files: string[],
  opts: GlobalOptions & { ca?: string; profile?: string },
): Promise<void> {
  const ctx = await openContext(opts);
  let failed = 0;
  try {
    const q = await queueOf(ctx);
    for (const f of files) {
      const data = await readFile(f).catch((e: NodeJS.ErrnoException) => {
        throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `cannot read ${f}: ${e.code ?? e.message}`);
      });
      const res = await q.take([{ name: basename(f), data }], {
        channel: "cli",
        submitter: cliActor().replace(/^cli:/, ""),
        replyTo: null,
        source: f,
        ...(opts.ca ? { caName: opts.ca } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
      });
      for (const r of res.requests) {
        if (r.state === "rejected") failed++;
        process.stderr.write(`${f}: request ${r.id} ${r.state}${r.reason ? `: ${r.reason}` : ""}\n`);
      }
    }
  } finally {
    await ctx.close();
  }
  if (failed) process.exitCode = 1;
}

/** The error for `--pem` on a request whose input was not a readable CSR (nothing of it is kept). */
function noCsr(id: number): SigilError {
  return new SigilError(
    ErrorCodes.NOT_FOUND,
    `request ${id} holds no CSR: its input was not a readable certificate request and is not kept`,
  );
}

/** `sigil requests import DIR`: the handbook's munpack folder, once. */
export async function importDir(
  dir: string,
  opts: GlobalOptions & { ca?: string; profile?: string },
): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const q = await queueOf(ctx);
    const { importDropFolder } = await import("../intake/drop-folder.js");
    const r = await importDropFolder(q, dir, {
      submitter: cliActor().replace(/^cli:/, ""),
      ...(opts.ca ? { caName: opts.ca } : {}),
      ...(opts.profile ? { profile: opts.profile } : {}),
      report: (line) => process.stderr.write(`${line}\n`),
    });
    process.stderr.write(
      `${dir}: ${r.processed} processed, ${r.rejected} rejected${r.skipped ? `, ${r.skipped} seen before` : ""}\n`,
    );
  } finally {
    await ctx.close();
  }
}
