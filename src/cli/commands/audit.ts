/**
 * `sigil audit verify|log`: the hash-chained audit log.
 */
import { command, group } from "./table.js";

export const auditGroup = group("audit", "the hash-chained audit log", [
  command({
    name: "verify",
    reach: "both",
    declare: (c) => c.description("check the chain; names the first broken event"),
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
]);
