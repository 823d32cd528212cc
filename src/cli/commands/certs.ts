/**
 * `sigil certs` and `sigil cert show`: the inventory of issued certificates.
 */
import { Option } from "commander";
import { command, group } from "./table.js";

export const certsCommand = command({
  name: "certs",
  reach: "both",
  declare: (c) =>
    c
      .description("list certificates, soonest expiry first")
      .option("--ca <ca>", "only this CA")
      .option("--expiring <period>", "only those expiring within the period: 30d, 2w, 12h")
      .addOption(new Option("--status <status>", "filter by status").choices(["valid", "revoked", "expired"]))
      .option(
        "--profile <profile>",
        "only this profile (user, system, ...; the internal ca, ocsp, admin-tls, admin-client are listed only when named)",
      )
      .option("--limit <n>", "at most this many rows (a table shows 1000 unless told)")
      .option("--all", "every matching row")
      .option("--json", "JSON output (every matching row unless --limit)"),
  local: async () => (await import("../certs.js")).listCerts,
  remote: async () => (await import("../remote-commands.js")).remoteCerts,
});

export const certGroup = group("cert", "one issued certificate", [
  command({
    name: "show <serial>",
    reach: "both",
    declare: (c) =>
      c
        .description("show a certificate issued by --ca, or print it in PEM (e.g. to hand it out again)")
        .requiredOption("--ca <ca>", "the issuing CA")
        .option("--pem", "print the certificate in PEM")
        .option("--chain", "print the certificate and its CA chain in PEM")
        .option("--json", "JSON output"),
    local: async () => (await import("../certs.js")).showCert,
    remote: async () => (await import("../remote-commands.js")).remoteCertShow,
  }),
]);
