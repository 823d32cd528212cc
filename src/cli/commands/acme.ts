/**
 * `sigil acme ...`: the ACME server (RFC 8555) of each CA. The bodies are in cli/acme.ts;
 * enable, disable and eab run locally or through the admin API with --server (one body each).
 */
import { command, group } from "./table.js";
import { collect, parseDays } from "./options.js";

const acme = async <K extends "enable" | "disable" | "show" | "eabCreate" | "eabList">(name: K) =>
  (await import("../acme.js"))[name];

export const acmeGroup = group("acme", "the ACME server (RFC 8555) of each CA", [
  command({
    name: "enable <ca>",
    reach: "both",
    declare: (c) =>
      c
        .description("serve ACME for CA (an intermediate) at /acme/CA/directory, for the allowed identifiers")
        .requiredOption(
          "--allow <pattern>",
          "allowed identifiers: '*.domain' (any name below), a hostname, an IP or CIDR range (repeat)",
          collect,
        )
        .option(
          "--max-days <n>",
          "longest validity of an ACME certificate, in days (default: the profile's)",
          parseDays,
        )
        .option("--eab", "require External Account Binding (keys from 'sigil acme eab create')")
        .option("--manual-approval", "orders wait in the request queue for an operator")
        .option("--profile <profile>", "the profile ACME certificates are signed under", "system"),
    local: () => acme("enable"),
    remote: () => acme("enable"),
  }),
  command({
    name: "disable <ca>",
    reach: "both",
    declare: (c) => c.description("stop serving ACME for CA (settings are kept)"),
    local: () => acme("disable"),
    remote: () => acme("disable"),
  }),
  command({
    name: "show [ca]",
    reach: "local",
    declare: (c) =>
      c
        .description("the ACME settings in effect (the store's, else the config's)")
        .option("--json", "JSON output"),
    local: () => acme("show"),
  }),
  group("eab", "External Account Binding keys (RFC 8555 §7.3.4)", [
    command({
      name: "create <ca>",
      reach: "both",
      declare: (c) =>
        c
          .description("make a key id and HMAC key for one ACME account of CA; the key is shown only once")
          .option("--json", "JSON output"),
      local: () => acme("eabCreate"),
      remote: () => acme("eabCreate"),
    }),
    command({
      name: "list <ca>",
      reach: "both",
      declare: (c) =>
        c.description("CA's EAB key ids and their accounts (never the keys)").option("--json", "JSON output"),
      local: () => acme("eabList"),
      remote: () => acme("eabList"),
    }),
  ]),
]);
