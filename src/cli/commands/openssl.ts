/**
 * `sigil import openssl` and `sigil export openssl`: moving a CA in from and out to `openssl ca`.
 */
import { command, group } from "./table.js";

export const importGroup = group("import", "move a CA in from another tool", [
  command({
    name: "openssl",
    reach: "local",
    declare: (c) =>
      c
        .description("make an 'openssl ca' directory (index.txt, serial, crlnumber, newcerts/) a Sigil CA")
        .requiredOption("--dir <dir>", "the openssl ca directory (holds index.txt)")
        .requiredOption("--cert <file>", "the CA certificate (relative: the cwd, then --dir)")
        .requiredOption(
          "--key <file>",
          "the CA private key, PEM, possibly encrypted (relative: the cwd, then --dir)",
        )
        .option("--name <name>", "the Sigil CA name (default: the certificate file's name)")
        .option(
          "--key-passphrase-file <file>",
          "passphrase of the openssl key (else $SIGIL_IMPORT_PASSPHRASE or a prompt)",
        )
        .option(
          "--allow-partial",
          "import the index.txt lines that map and list the others (default: refuse)",
        )
        .option("--dry-run", "show what would be imported; write nothing")
        .option("--json", "JSON output"),
    local: async () => (await import("../openssl-ca.js")).runImportOpenssl,
  }),
]);

export const exportGroup = group("export", "move a CA out to another tool", [
  command({
    name: "openssl",
    reach: "local",
    declare: (c) =>
      c
        .description("write a CA's certificates as an 'openssl ca' directory (the key is not included)")
        .requiredOption("--ca <ca>", "the CA")
        .requiredOption("--dir <dir>", "the folder to write (new or empty)")
        .option("--json", "JSON output"),
    local: async () => (await import("../openssl-ca.js")).runExportOpenssl,
  }),
]);
