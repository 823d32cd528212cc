/**
 * `sigil audit verify|log|checkpoint|prove|export`: the hash-chained audit log and its
 * signed checkpoints.
 */
import { command, group } from "./table.js";

export const auditGroup = group("audit", "the hash-chained audit log and its signed checkpoints", [
  command({
    name: "verify",
    reach: "both",
    declare: (c) =>
      c
        .description(
          "check the chain and every signed checkpoint under the pinned key; names the first event or checkpoint that does not hold",
        )
        .option(
          "--witness <file>",
          "also check against this outside copy of the checkpoints (audit/checkpoints.jsonl, a witness's, syslog lines)",
        )
        .option("--key <pem>", "trust this audit public key instead of sigil.json's audit.publicKey")
        .option("--offline <dir>", "verify an export folder (sigil audit export) without the database"),
    local: async () => (await import("../audit.js")).verify,
    remote: async () => (await import("../remote-commands.js")).remoteAuditVerify,
  }),
  command({
    name: "log",
    reach: "both",
    declare: (c) => c.description("show the audit log").option("--json", "JSON lines"),
    local: async () => (await import("../audit.js")).log,
    remote: async () => (await import("../remote-commands.js")).remoteAuditLog,
  }),
  command({
    name: "checkpoint",
    reach: "local",
    declare: (c) =>
      c.description(
        "sign a checkpoint of the whole log now with the audit key (made and pinned first if none)",
      ),
    local: async () => (await import("../audit.js")).checkpoint,
  }),
  command({
    name: "prove",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "print the inclusion proof of one event against a signed checkpoint (JSON, RFC 9162 §2.1.3)",
        )
        .argument("<seq>", "the event's number")
        .option(
          "--size <n>",
          "against the checkpoint of this many events (default: the newest that covers it)",
        ),
    local: async () => (await import("../audit.js")).prove,
  }),
  command({
    name: "export",
    reach: "local",
    declare: (c) =>
      c
        .description("write events, checkpoints and consistency proofs as JSON lines for an auditor")
        .requiredOption("--out <dir>", "a new or empty folder")
        .option("--since <seq>", "the first event to write (default 1)"),
    local: async () => (await import("../audit.js")).exportLog,
  }),
]);
