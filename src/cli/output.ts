/**
 * Small output helpers: aligned tables for people, JSON for scripts.
 */
import type { CaRecord, CertRecord } from "../store/types.js";

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

/** ISO date-time without milliseconds. */
export const iso = (ms: number | null): string | null =>
  ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The key backend of a keyRef by its scheme (`file`, `pkcs11`), as listings show it. */
function keyStoreOf(keyRef: string): string {
  const colon = keyRef.indexOf(":");
  return colon > 0 ? keyRef.slice(0, colon) : "?";
}

/** A CA as shown to people and scripts (no key material, just the keyRef and its key store). */
export function caView(ca: CaRecord, parentName: string | null): Record<string, unknown> {
  return {
    name: ca.name,
    parent: parentName,
    subject: ca.subject,
    serial: ca.serialHex,
    keyType: ca.keyType,
    keyRef: ca.keyRef,
    keyStore: keyStoreOf(ca.keyRef),
    notBefore: iso(ca.notBefore),
    notAfter: iso(ca.notAfter),
    pathLen: ca.pathLen,
    defaultProfile: ca.defaultProfile,
    crlNumber: ca.crlNumber,
  };
}

/** A certificate as shown in listings. */
export function certView(c: CertRecord, caName: string, now: number): Record<string, unknown> {
  return {
    ca: caName,
    serial: c.serialHex,
    subject: c.subject,
    email: c.email,
    sans: c.sans.map((s) => `${s.type}:${s.value}`),
    profile: c.profile,
    notBefore: iso(c.notBefore),
    notAfter: iso(c.notAfter),
    status: c.status === "revoked" ? "revoked" : c.notAfter < now ? "expired" : "valid",
    revokedAt: iso(c.revokedAt),
    revocationReason: c.revocationReason,
    fingerprint: c.fingerprint,
  };
}
