/**
 * `sigil crl`: publish a CA's CRL.
 */
import { command } from "./table.js";
import { keyFileOption } from "./options.js";

export const crlCommand = command({
  name: "crl",
  reach: "both",
  viaService: "publishing the CRL",
  declare: (c) =>
    c
      .description("publish a new CRL for a CA and write it")
      .requiredOption("--ca <ca>", "the CA")
      .option(
        "-o, --out <file>",
        "write the CRL here; - is stdout (default: stdout when --pem, else SIGIL_HOME/crl/CA.crl only)",
      )
      .option("--pem", "PEM instead of DER")
      .option("--force", "replace an existing -o file")
      .addOption(keyFileOption("--ca")),
  local: async () => (await import("../crl.js")).runCrl,
  remote: async () => (await import("../remote-commands.js")).remoteCrl,
});
