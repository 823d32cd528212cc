/**
 * The operator and security commands run against a server (`--server`): the same flags
 * and much the same output as the local commands, through the admin API (http/admin.ts).
 */
import { mkdir } from "node:fs/promises";
import { basename } from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import { homePaths } from "../app/paths.js";
import { api, type RemoteOptions } from "./remote.js";
import {
  printAuditEvent,
  printAuditVerdict,
  printCaTable,
  printCertTable,
  printCertView,
  printJson,
  printRequestTable,
} from "./output.js";
import { finishBatch, notWrittenError, outDirTargets, readRequest, type BatchLine } from "./sign.js";
import { crlNotWrittenError, crlSummary } from "./crl.js";
import { readCertFile } from "./revoke.js";
import { checkOutput, syncDir, writeOutput, writeOutputSync } from "../files/output.js";

type Json = Record<string, unknown>;
type AuditEvent = Parameters<typeof printAuditEvent>[0];

/** PEM text stays; DER goes as base64. */
function asText(data: Buffer): string {
  const s = data.toString("latin1");
  return s.includes("-----BEGIN") ? s : data.toString("base64");
}

/** Writes a command's output file under the output rule (files/output.ts). */
async function writeOut(path: string, data: string | Buffer, force: boolean): Promise<void> {
  await writeOutput(path, data, { mode: 0o644, overwrite: force, stdout: true });
}

/** Requests per sign-batch call (the server's transaction group; at most its MAX_BATCH). */
const BATCH_GROUP = 128;

/** The CRL file the server published, when it is this data folder's own service. */
function publishedCrl(opts: RemoteOptions, ca: string): string | undefined {
  return opts.serviceHome === undefined ? undefined : homePaths(opts.serviceHome).crlFile(ca);
}

/** `sigil sign --server`: the output of the local `sigil sign` (cli/sign.ts). */
export async function remoteSign(
  reqs: string[],
  opts: RemoteOptions & {
    ca: string;
    profile?: string;
    days?: number;
    clamp?: boolean;
    out?: string;
    outDir?: string;
    force?: boolean;
    json?: boolean;
  },
): Promise<void> {
  if (reqs.length > 1 && !opts.outDir)
    throw new SigilError(ErrorCodes.USAGE, "several requests need --out-dir DIR (one certificate file each)");
  if (opts.out && opts.outDir) throw new SigilError(ErrorCodes.USAGE, "give -o or --out-dir, not both");
  const force = Boolean(opts.force);
  // The `cert show` hint of a certificate not written needs --server unless this is the home's service.
  const viaServer = opts.serviceHome === undefined;
  // Every destination is checked before the server is asked to sign anything.
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const outs = opts.outDir !== undefined ? await outDirTargets(reqs, opts.outDir, force) : [];
  const sign = async (file: string) =>
    api<Json>(opts, "POST", "/api/v1/admin/certs/sign", {
      csr: asText(await readRequest(file)),
      ca: opts.ca,
      ...(opts.profile ? { profile: opts.profile } : {}),
      ...(opts.days !== undefined ? { days: opts.days } : {}),
      ...(opts.clamp ? { clamp: true } : {}),
      source: basename(file),
    });
  if (!opts.outDir) {
    const file = reqs[0]!;
    const r = await sign(file);
    const pem = String(r.pem);
    const out = opts.out;
    if (out !== undefined && out !== "-") {
      try {
        await writeOut(out, pem, force);
      } catch (e) {
        // Issued on the server but not handed out: name it, and ask for nothing more.
        throw notWrittenError(String(r.serial), opts.ca, out, e, viaServer);
      }
      process.stderr.write(
        `signed ${String(r.subject)}: serial ${String(r.serial)}, until ${String(r.notAfter)}${r.clamped ? " (capped at the CA's expiry)" : ""} -> ${out}\n`,
      );
    } else if (!opts.json) process.stdout.write(pem);
    if (opts.json) {
      // One JSON document on stdout, as the local sign prints it.
      const { subject, notAfter, clamped } = r;
      printJson({ file, serial: r.serial, subject, notAfter, clamped, ...(out ? { out } : { pem }) });
    }
    return;
  }
  await mkdir(opts.outDir, { recursive: true });
  const results: BatchLine[] = [];
  const notWritten: string[] = [];
  const refuse = (file: string, message: string) => {
    results.push({ file, ok: false, error: message });
    // Errors of reading the file already name it.
    process.stderr.write(`sigil: ${message.startsWith(`${file}: `) ? message : `${file}: ${message}`}\n`);
  };
  // Groups of requests in one call each (the server signs a group in one transaction, as the
  // local batch does); each request is accepted or refused on its own, in order.
  for (let g = 0; g < reqs.length && notWritten.length === 0; g += BATCH_GROUP) {
    const files = reqs.slice(g, g + BATCH_GROUP);
    const read = await Promise.all(
      files.map(async (file) => {
        try {
          return { file, csr: asText(await readRequest(file)) };
        } catch (e) {
          if (!(e instanceof SigilError)) throw e;
          return { file, error: e.message };
        }
      }),
    );
    const sent = read.filter((r) => r.csr !== undefined);
    const answers = sent.length
      ? (
          await api<{ results: Json[] }>(opts, "POST", "/api/v1/admin/certs/sign-batch", {
            ca: opts.ca,
            ...(opts.profile ? { profile: opts.profile } : {}),
            ...(opts.days !== undefined ? { days: opts.days } : {}),
            ...(opts.clamp ? { clamp: true } : {}),
            requests: sent.map((r) => ({ csr: r.csr, source: basename(r.file) })),
          })
        ).results
      : [];
    let k = 0;
    for (const [j, r] of read.entries()) {
      const file = r.file;
      if (r.error !== undefined) {
        refuse(file, r.error);
        continue;
      }
      const a = answers[k++]!;
      const err = a.error as { code?: string; message?: string } | undefined;
      if (err) {
        refuse(file, String(err.message));
        continue;
      }
      const out = outs[g + j]!;
      try {
        // Each certificate is in the server's store before it gets here, so its file can be
        // re-created: no fsync per file, the folder is synced once (as the local batch does).
        writeOutputSync(out, String(a.pem), { mode: 0o644, overwrite: force, durable: false });
        results.push({ file, ok: true, serial: a.serial, out });
      } catch (e) {
        // Issued but not handed out: say which serial; the rest of this group is handed
        // out as far as it can be, and no further group is signed.
        const e2 = notWrittenError(String(a.serial), opts.ca, out, e, viaServer);
        results.push({ file, ok: false, serial: a.serial, error: e2.message });
        notWritten.push(String(a.serial));
        process.stderr.write(`sigil: ${file}: ${e2.message}\n`);
      }
    }
  }
  await syncDir(opts.outDir);
  finishBatch(results, notWritten, reqs.length, opts, viaServer);
}

/** `sigil revoke --server`: the output of the local `sigil revoke` (cli/revoke.ts). */
export async function remoteRevoke(
  serial: string | undefined,
  opts: RemoteOptions & { ca: string; cert?: string; match?: string; reason: string },
): Promise<void> {
  const given = [serial, opts.cert, opts.match].filter((x) => x !== undefined).length;
  if (given !== 1)
    throw new SigilError(ErrorCodes.USAGE, "give exactly one of SERIAL, --cert FILE or --match TEXT");
  let cert: string | undefined;
  if (opts.cert) {
    const data = await readCertFile(opts.cert);
    const { toPem } = await import("../x509/der.js");
    const text = data.toString("latin1");
    cert = text.includes("-----BEGIN") ? text : toPem(data, "CERTIFICATE");
  }
  const r = await api<Json>(opts, "POST", "/api/v1/admin/certs/revoke", {
    ca: opts.ca,
    reason: opts.reason,
    ...(serial !== undefined ? { serial } : {}),
    ...(opts.match !== undefined ? { match: opts.match } : {}),
    ...(cert !== undefined ? { cert } : {}),
  });
  const published = publishedCrl(opts, opts.ca);
  process.stderr.write(
    `revoked ${String(r.serial)} (${String(r.subject)}), reason ${String(r.reason)}; CRL #${String(r.crlNumber)} ${published ? `written to ${published}` : "published by the server"}\n`,
  );
}

/** `sigil crl --server`: the output of the local `sigil crl` (cli/crl.ts). */
export async function remoteCrl(
  opts: RemoteOptions & { ca: string; out?: string; pem?: boolean; force?: boolean },
): Promise<void> {
  const force = Boolean(opts.force);
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const r = await api<Json>(opts, "POST", `/api/v1/admin/crl/${encodeURIComponent(opts.ca)}`);
  const der = Buffer.from(String(r.der), "base64");
  const { toPem } = await import("../x509/der.js");
  const body = opts.pem ? Buffer.from(toPem(der, "X509 CRL")) : der;
  const published = publishedCrl(opts, opts.ca);
  const crlNumber = Number(r.crlNumber);
  if (opts.out !== undefined) {
    try {
      await writeOut(opts.out, body, force);
    } catch (e) {
      throw crlNotWrittenError(opts.ca, crlNumber, published ?? "by the server", opts.out, e);
    }
  } else if (opts.pem) process.stdout.write(body);
  process.stderr.write(crlSummary(opts.ca, crlNumber, Number(r.entries), opts.out, published));
}

/** `sigil certs --server`. */
export async function remoteCerts(
  opts: RemoteOptions & {
    ca?: string;
    expiring?: string;
    status?: string;
    profile?: string;
    json?: boolean;
    limit?: string;
    all?: boolean;
  },
): Promise<void> {
  const { listLimit, trimToLimit, parsePeriod } = await import("./certs.js");
  const expiringMs = opts.expiring !== undefined ? parsePeriod(opts.expiring) : undefined;
  const limit = listLimit(opts);
  const qs = new URLSearchParams();
  if (limit !== undefined) qs.set("limit", String(limit + 1));
  if (opts.ca) qs.set("ca", opts.ca);
  if (opts.status) qs.set("status", opts.status);
  if (opts.profile) qs.set("profile", opts.profile);
  if (expiringMs !== undefined) qs.set("expiringDays", String(Math.ceil(expiringMs / 86_400_000)));
  const r = await api<{ certs: Json[]; truncated?: boolean }>(opts, "GET", `/api/v1/admin/certs?${qs}`);
  if (r.truncated && limit === undefined)
    process.stderr.write(
      `sigil: the server sent its first ${r.certs.length}; more match: narrow with --ca or --expiring, or give --limit N\n`,
    );
  const certs = trimToLimit(r.certs, limit);
  if (opts.json) return printJson(certs);
  printCertTable(certs);
}

/** `sigil cert show --server`. */
export async function remoteCertShow(
  serial: string,
  opts: RemoteOptions & { ca: string; pem?: boolean; chain?: boolean; json?: boolean },
): Promise<void> {
  const r = await api<Json>(
    opts,
    "GET",
    `/api/v1/admin/certs/${encodeURIComponent(opts.ca)}/${encodeURIComponent(serial)}`,
  );
  if (opts.pem || opts.chain) {
    process.stdout.write(String(r.pem));
    if (opts.chain) process.stdout.write(String(r.chainPem));
    return;
  }
  const { pem: _p, chainPem: _c, ...view } = r;
  if (opts.json) return printJson(view);
  printCertView(view);
}

/** `sigil requests list --server`. */
export async function remoteRequests(
  opts: RemoteOptions & { state?: string; limit?: string; json?: boolean },
): Promise<void> {
  const qs = new URLSearchParams();
  if (opts.state) qs.set("state", opts.state);
  if (opts.limit) qs.set("limit", opts.limit);
  const r = await api<{ requests: Json[] }>(opts, "GET", `/api/v1/admin/requests?${qs}`);
  if (opts.json) return printJson(r.requests);
  printRequestTable(r.requests);
}

/** `sigil requests show --server`. */
export async function remoteRequestShow(
  id: string,
  opts: RemoteOptions & { json?: boolean; pem?: boolean },
): Promise<void> {
  const r = await api<Json>(opts, "GET", `/api/v1/admin/requests/${encodeURIComponent(id)}`);
  if (opts.pem) {
    if (typeof r.csrPem !== "string")
      throw new SigilError(
        ErrorCodes.NOT_FOUND,
        `request ${id} holds no CSR: its input was not a readable certificate request and is not kept`,
      );
    return void process.stdout.write(r.csrPem);
  }
  const { csrPem: _c, ...view } = r;
  if (opts.json) return printJson(view);
  for (const [k, v] of Object.entries(view))
    if (k !== "checks") process.stdout.write(`${(k + ":").padEnd(14)}${String(v ?? "-")}\n`);
  process.stdout.write("checks:\n");
  for (const c of view.checks as Array<{ ok: boolean; check: string; detail: string }>)
    process.stdout.write(`  ${c.ok ? "ok    " : "FAILED"} ${c.check.padEnd(13)} ${c.detail}\n`);
}

/** `sigil requests approve --server`. */
export async function remoteApprove(
  id: string,
  opts: RemoteOptions & { ca?: string; profile?: string; days?: number; out?: string; force?: boolean },
): Promise<void> {
  const force = Boolean(opts.force);
  if (opts.out !== undefined) await checkOutput(opts.out, { overwrite: force, stdout: true });
  const r = await api<Json>(opts, "POST", `/api/v1/admin/requests/${encodeURIComponent(id)}/approve`, {
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.profile ? { profile: opts.profile } : {}),
    ...(opts.days !== undefined ? { days: opts.days } : {}),
  });
  if (opts.out !== undefined)
    try {
      await writeOut(opts.out, String(r.pem), force);
    } catch (e) {
      throw notWrittenError(String(r.serial), opts.ca ?? "CA", opts.out, e, true);
    }
  process.stderr.write(
    `approved request ${id}: issued ${String(r.subject)}, serial ${String(r.serial)}, until ${String(r.notAfter)}${opts.out ? ` -> ${opts.out}` : ""}\n`,
  );
}

/** `sigil requests reject --server`. */
export async function remoteReject(id: string, opts: RemoteOptions & { reason: string }): Promise<void> {
  await api(opts, "POST", `/api/v1/admin/requests/${encodeURIComponent(id)}/reject`, { reason: opts.reason });
  process.stderr.write(`rejected request ${id}\n`);
}

/** `sigil audit log --server`. */
export async function remoteAuditLog(opts: RemoteOptions & { json?: boolean }): Promise<void> {
  let after = 0;
  for (;;) {
    const r = await api<{ events: AuditEvent[] }>(
      opts,
      "GET",
      `/api/v1/admin/audit?after=${after}&limit=5000`,
    );
    for (const e of r.events) printAuditEvent(e, opts.json);
    if (r.events.length < 5000) return;
    after = r.events[r.events.length - 1]!.seq;
  }
}

/** `sigil audit verify --server`. */
export async function remoteAuditVerify(
  opts: RemoteOptions & { witness?: string; key?: string; offline?: string },
): Promise<void> {
  if (opts.witness !== undefined || opts.key !== undefined || opts.offline !== undefined)
    throw new SigilError(
      ErrorCodes.USAGE,
      "--witness, --key and --offline check local files: run them without --server (the service verifies under its own pinned key)",
    );
  const r = await api<{ ok: boolean; count?: number; headHash?: string; firstBad?: number; reason?: string }>(
    opts,
    "GET",
    "/api/v1/admin/audit/verify",
  );
  printAuditVerdict(r);
}

/** `sigil ca list --server`. */
export async function remoteCaList(opts: RemoteOptions & { json?: boolean }): Promise<void> {
  const r = await api<{ cas: Json[] }>(opts, "GET", "/api/v1/admin/cas");
  if (opts.json) return printJson(r.cas);
  printCaTable(r.cas);
}

/** `sigil notify --server`: queue the due expiry notices (the service's outbox sends them). */
export async function remoteNotify(opts: RemoteOptions): Promise<void> {
  const r = await api<Json>(opts, "POST", "/api/v1/admin/notices/run");
  process.stderr.write(
    `queued ${String(r.notices)} notice(s)${r.summary ? " and the admins' summary" : ""}\n`,
  );
}

/** `sigil ca retire --server`. */
export async function remoteRetire(name: string, opts: RemoteOptions): Promise<void> {
  const r = await api<Json>(opts, "POST", `/api/v1/admin/cas/${encodeURIComponent(name)}/retire`);
  process.stderr.write(
    `retired CA ${name}: certificate ${String(r.serial)} revoked (cessationOfOperation), parent's CRL #${String(r.crlNumber)}\n`,
  );
}

/**
 * `sigil ca create-child --server`: the server's `POST cas` (security role) makes the CA
 * under a parent whose key it holds; the key of the new CA is made and kept there.
 */
export async function remoteCreateChild(
  name: string,
  opts: RemoteOptions & {
    parent: string;
    subject?: string;
    days: number;
    clamp?: boolean;
    key?: string;
    keyStore?: string;
    pathLen?: number;
    defaultProfile?: string;
    keyFile?: string;
  },
): Promise<void> {
  if (opts.keyFile !== undefined)
    throw new SigilError(
      ErrorCodes.USAGE,
      "--key-file opens a key on this machine: it cannot be used with --server (the server signs with the parent's key it holds)",
    );
  if (opts.subject === undefined)
    throw new SigilError(
      ErrorCodes.USAGE,
      "ca create-child with --server needs --subject (the server does not prompt for one)",
    );
  const view = await api<Json>(opts, "POST", "/api/v1/admin/cas", {
    name,
    parent: opts.parent,
    subject: opts.subject,
    days: opts.days,
    ...(opts.clamp ? { clamp: true } : {}),
    ...(opts.key !== undefined ? { keyType: opts.key } : {}),
    ...(opts.keyStore !== undefined ? { keyStore: opts.keyStore } : {}),
    ...(opts.pathLen !== undefined ? { pathLen: opts.pathLen } : {}),
    ...(opts.defaultProfile !== undefined ? { defaultProfile: opts.defaultProfile } : {}),
  });
  const { printChildCreated } = await import("./ca.js");
  printChildCreated(view);
}
