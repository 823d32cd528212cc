/**
 * `sigil revoke`: revoke a certificate and publish a new CRL.
 */
import { Option } from "commander";
import { command } from "./table.js";
import { REASONS, keyFileOption } from "./options.js";

export const revokeCommand = command({
  name: "revoke [serial]",
  reach: "both",
  viaService: "revoking",
  declare: (c) =>
    c
      .description("revoke a certificate by serial, --cert FILE or --match CN/e-mail; publishes a new CRL")
      .requiredOption("--ca <ca>", "the issuing CA")
      .option("--cert <file>", "the certificate to revoke (PEM or DER)")
      .option("--match <text>", "a CN or e-mail that matches exactly one valid certificate")
      .addOption(new Option("--reason <reason>", "RFC 5280 reason").choices(REASONS).default("unspecified"))
      .addOption(keyFileOption("--ca")),
  local: async () => (await import("../revoke.js")).runRevoke,
  remote: async () => (await import("../remote-commands.js")).remoteRevoke,
});
