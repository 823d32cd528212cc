/**
 * Audit events of every shape the chain must hash alike on every path (the parallel reads
 * of the store and of an export, and the one-stream walk): three actions in turn, a
 * non-ASCII actor, a null target, escapes, an astral character, nested objects and arrays,
 * and a number that is not an integer.
 */
import type { AuditDraft } from "../src/store/types.js";

/** The `i`-th event of a test log. */
export function auditDraft(i: number): AuditDraft {
  const kind = i % 3;
  return {
    at: 1_700_000_000_000 + i * 7,
    actor: i % 5 === 0 ? "cli:j\u00fcrgen" : "token:deploy-bot",
    action: kind === 0 ? "cert.issue" : kind === 1 ? "cert.revoke" : "admin.allow",
    target: kind === 2 ? null : `genfic-user/${i.toString(16).padStart(8, "0")}`,
    details:
      kind === 0
        ? {
            request: i,
            sans: [`dns:host${i}.example`],
            subject: `CN=host${i},O=Gentoo Fictional\\, Inc.`,
            n: i / 8,
          }
        : kind === 1
          ? { reason: "superseded", quote: 'a "b" \\ c\n', emoji: "\ud83d\ude00" }
          : { nested: { a: [1, { b: null }], z: true }, role: "auditor" },
  };
}
