/**
 * `sigil admin ...`: admin API tokens (security admins), client certificates and the
 * caller's identity. Tokens are made locally (custody of the data folder) or through the
 * admin API with a security token; cli/admin.ts holds both ways.
 */
import { Option } from "commander";
import { command, group } from "./table.js";
import { parseDays } from "./options.js";

const tokenImpl = async (name: "tokenCreate" | "tokenList" | "tokenRevoke") =>
  (await import("../admin.js"))[name];

export const adminGroup = group("admin", "admin API tokens (security admins) and the caller's identity", [
  group("token", "admin API tokens: random, stored hashed, one role each", [
    command({
      name: "create",
      reach: "both",
      declare: (c) =>
        c
          .description("create a token and print it once (operator, security or auditor)")
          .addOption(
            new Option("--role <role>", "what it may do")
              .choices(["operator", "security", "auditor"])
              .makeOptionMandatory(),
          )
          .requiredOption("--name <name>", "who holds it (for the audit log)")
          .option("--expires <duration>", "lifetime: 90d, 12h, 30m", "90d")
          .option("--json", "JSON output"),
      local: () => tokenImpl("tokenCreate"),
      remote: () => tokenImpl("tokenCreate"),
    }),
    command({
      name: "list",
      reach: "both",
      declare: (c) => c.description("list tokens (never their secrets)").option("--json", "JSON output"),
      local: () => tokenImpl("tokenList"),
      remote: () => tokenImpl("tokenList"),
    }),
    command({
      name: "revoke <id-or-name>",
      reach: "both",
      declare: (c) => c.description("revoke a token at once"),
      local: () => tokenImpl("tokenRevoke"),
      remote: () => tokenImpl("tokenRevoke"),
    }),
  ]),
  command({
    name: "client-cert <name>",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "make a key and client certificate for the admin API under mutual TLS (local: data folder custody)",
        )
        .option("--out-dir <dir>", "where to write NAME.key.pem (0600) and NAME.crt.pem", ".")
        .option("--days <n>", "validity in days (default 396, capped at the CA's)", parseDays)
        .option("--json", "JSON output"),
    local: async () => (await import("../admin.js")).clientCert,
  }),
  command({
    name: "whoami",
    reach: "service",
    declare: (c) => c.description("the token's name, role and what it may do"),
    remote: async () => (await import("../admin.js")).whoami,
  }),
]);
