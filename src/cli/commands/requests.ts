/**
 * `sigil requests ...`: the request queue (CLI, drop folder, e-mail), and `sigil intake mail`.
 */
import { command, group } from "./table.js";
import { parseDays } from "./options.js";

export const requestsGroup = group("requests", "the request queue (CLI, drop folder, e-mail)", [
  command({
    name: "list",
    reach: "both",
    declare: (c) =>
      c
        .description("queued requests, oldest first")
        .option("--state <state>", "pending, approved, rejected, issued or failed")
        .option("--limit <n>", "at most this many", "1000")
        .option("--json", "JSON output"),
    local: async () => (await import("../requests.js")).listRequests,
    remote: async () => (await import("../remote-commands.js")).remoteRequests,
  }),
  command({
    name: "show <id>",
    reach: "both",
    declare: (c) =>
      c
        .description("one request: subject, SANs, key, submitter, the checks run at intake, replies")
        .option("--json", "JSON output")
        .option("--pem", "print the CSR (PEM)"),
    local: async () => (await import("../requests.js")).showRequest,
    remote: async () => (await import("../remote-commands.js")).remoteRequestShow,
  }),
  command({
    name: "approve <id>",
    reach: "both",
    declare: (c) =>
      c
        .description("sign a pending request (as sigil sign) and queue the reply with the certificate")
        .option("--ca <ca>", "the issuing CA (default: the one it was queued for)")
        .option("--profile <profile>", "profile (default: the CA's)")
        .option("--days <n>", "validity in days", parseDays)
        .option("-o, --out <file>", "also write the certificate here; - is stdout")
        .option("--force", "replace an existing -o file"),
    local: async () => (await import("../requests.js")).approveRequest,
    remote: async () => (await import("../remote-commands.js")).remoteApprove,
  }),
  command({
    name: "reject <id>",
    reach: "both",
    declare: (c) =>
      c
        .description("reject a pending request; the requester gets the reason by mail")
        .requiredOption("--reason <text>", "why (the requester reads it)"),
    local: async () => (await import("../requests.js")).rejectRequest,
    remote: async () => (await import("../remote-commands.js")).remoteReject,
  }),
  command({
    name: "import <dir>",
    reach: "local",
    declare: (c) =>
      c
        .description("queue every .csr/.req/.pem/.der in DIR; files move to DIR/processed or DIR/rejected")
        .option("--ca <ca>", "the CA they are meant for")
        .option("--profile <profile>", "profile"),
    local: async () => (await import("../requests.js")).importDir,
  }),
  command({
    name: "submit <files...>",
    reach: "local",
    declare: (c) =>
      c
        .description("queue request files for an operator (without signing them)")
        .option("--ca <ca>", "the CA they are meant for")
        .option("--profile <profile>", "profile"),
    local: async () => (await import("../requests.js")).submitRequests,
  }),
]);

export const intakeGroup = group("intake", "take in requests from other programs", [
  command({
    name: "mail",
    reach: "local",
    declare: (c) =>
      c
        .description("one e-mail on stdin into the queue (for procmail: | sigil intake mail)")
        .option("--json", "JSON output"),
    local: async () => (await import("../intake.js")).intakeMail,
  }),
]);

export const notifyCommand = command({
  name: "notify",
  reach: "both",
  declare: (c) =>
    c
      .description("expiry notices to certificate owners and the summary to CA admins")
      .option("--dry-run", "show what would be sent, send nothing"),
  local: async () => (await import("../notify.js")).runNotify,
  remote: async () => (await import("../remote-commands.js")).remoteNotify,
});
