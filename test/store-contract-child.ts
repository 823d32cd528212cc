/**
 * Child process for the store contract's multi-process test: opens the same database as
 * the parent (through the backend module it names), then inserts `count` certificates,
 * one transaction each with an audit event. Exits 0 on success, 1 with a message on error.
 *
 * argv[2]: JSON {@link ChildSpec}.
 */
import { pathToFileURL } from "node:url";
import type { Store } from "../src/store/types.js";

/** What the child is told to do. */
export interface ChildSpec {
  /** Absolute path of the backend module. */
  module: string;
  /** Its export that opens a store. */
  exportName: string;
  /** Arguments for that export. */
  args: unknown[];
  caId: number;
  count: number;
  /** A hex prefix that keeps this child's serials apart from the other's. */
  tag: string;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as ChildSpec;
  const mod = (await import(pathToFileURL(spec.module).href)) as Record<
    string,
    (...a: unknown[]) => Promise<Store>
  >;
  const open = mod[spec.exportName];
  if (open === undefined) throw new Error(`${spec.module} has no export ${spec.exportName}`);
  const store = await open(...spec.args);
  const der = Buffer.alloc(700, 0x30);
  try {
    for (let i = 0; i < spec.count; i++) {
      const serialHex = `${spec.tag}${i.toString(16).padStart(8, "0")}`;
      await store.transaction(async (tx) => {
        await tx.insertCert({
          caId: spec.caId,
          serialHex,
          subject: `CN=child ${serialHex}`,
          commonName: `child ${serialHex}`,
          email: null,
          sans: [],
          profile: "user",
          notBefore: 0,
          notAfter: 4_000_000_000_000,
          der,
          fingerprint: serialHex.padStart(64, "f"),
          status: "valid",
          revokedAt: null,
          revocationReason: null,
          requestId: null,
          issuedAt: Date.now(),
        });
        await tx.appendAudit({
          at: Date.now(),
          actor: `child:${spec.tag}`,
          action: "cert.issue",
          target: serialHex,
          details: { i },
        });
      });
    }
  } finally {
    await store.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(`child failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
