/**
 * Small output helpers: aligned tables for people, JSON for scripts; and the renderers
 * that local and remote implementations of a command share (one output either way).
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { iso } from "../authority/views.js";

/** Prints rows as an aligned table with a header. */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  process.stdout.write(line(headers) + "\n");
  for (const r of rows) process.stdout.write(line(r) + "\n");
}

/** Prints a JSON value. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}

/**
 * Prints a certificate view (`sigil cert show`) as "key: value" lines; the reason's numeric
 * code is left to --json (the name says it).
 */
export function printCertView(view: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(view)) {
    if (k === "revocationReasonCode") continue;
    process.stdout.write(`${(k + ":").padEnd(18)}${Array.isArray(v) ? v.join(", ") : String(v ?? "-")}\n`);
  }
}

/**
 * The certificate table of `sigil certs`, local or through the server (from certificate
 * views, authority/views.ts).
 */
export function printCertTable(views: Array<Record<string, unknown>>): void {
  printTable(
    ["SERIAL", "NOT AFTER", "STATUS", "CA", "SUBJECT"],
    views.map((v) => [
      String(v.serial),
      String(v.notAfter),
      String(v.status),
      String(v.ca),
      String(v.subject),
    ]),
  );
}

/**
 * The table of `sigil ca list`, local or through the server (from CA views): the status
 * with its date when retired or revoked, as authority/views.ts's standingText.
 */
export function printCaTable(views: Array<Record<string, unknown>>): void {
  printTable(
    ["NAME", "PARENT", "STATUS", "KEY", "KEY STORE", "NOT AFTER", "SUBJECT"],
    views.map((v) => [
      String(v.name),
      String(v.parent ?? "-"),
      v.revokedAt ? `${String(v.status)} ${String(v.revokedAt).slice(0, 10)}` : String(v.status),
      String(v.keyType),
      String(v.keyStore),
      String(v.notAfter),
      String(v.subject),
    ]),
  );
}

/** The table of `sigil requests list`, local or through the server (from request views). */
export function printRequestTable(views: Array<Record<string, unknown>>): void {
  printTable(
    ["ID", "STATE", "CHANNEL", "RECEIVED", "SUBMITTER", "SUBJECT", "NOTE"],
    views.map((x) => [
      String(x.id),
      String(x.state),
      String(x.channel),
      String(x.receivedAt ?? ""),
      String(x.submitter ?? ""),
      String(x.subject),
      String(
        x.reason ?? (x.checks as Array<{ ok: boolean; detail: string }>).find((c) => !c.ok)?.detail ?? "",
      ).slice(0, 80),
    ]),
  );
}

/** One event of `sigil audit log`, local or through the server: a JSON line, or a text line. */
export function printAuditEvent(
  e: { seq: number; at: number; actor: string; action: string; target?: string | null; details: unknown },
  json?: boolean,
): void {
  if (json) process.stdout.write(JSON.stringify(e) + "\n");
  else
    process.stdout.write(
      `${String(e.seq).padStart(6)}  ${iso(e.at)}  ${e.actor.padEnd(14)}  ${e.action.padEnd(20)}  ${e.target ?? "-"}  ${JSON.stringify(e.details)}\n`,
    );
}

/**
 * The verdict of `sigil audit verify`, local or through the server: a line (two when
 * checkpoints were checked), or exit 1 naming the first event or checkpoint that does not hold.
 */
export function printAuditVerdict(r: {
  ok: boolean;
  count?: number;
  headHash?: string;
  firstBad?: number;
  checkpoint?: number;
  reason?: string;
  checkpoints?: number;
  witnessed?: number;
  covered?: number;
  unsigned?: number;
}): void {
  if (!r.ok)
    throw new SigilError(
      ErrorCodes.AUDIT_BROKEN,
      r.checkpoint !== undefined || r.firstBad === undefined
        ? `audit log does not verify: ${r.reason}`
        : `audit chain broken at event ${r.firstBad}: ${r.reason}`,
    );
  process.stdout.write(`audit chain OK: ${r.count} events, head ${r.headHash}\n`);
  if (r.checkpoints)
    process.stdout.write(
      `checkpoints OK: ${r.checkpoints} signed by the pinned audit key${r.witnessed ? ` (${r.witnessed} from the witness)` : ""}; the newest covers ${r.covered} events, ${r.unsigned} after it not signed yet\n`,
    );
  else if (r.count) process.stdout.write(`no signed checkpoint yet: ${r.count} events not signed\n`);
}

export { iso, caView, certView } from "../authority/views.js";
