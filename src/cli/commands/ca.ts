/**
 * `sigil ca ...`: create, list, show, export, take offline and retire CAs.
 */
import { command, group } from "./table.js";
import { keyFileOption, keyOption, keyStoreOption, parseDays, parsePathLen } from "./options.js";

export const caGroup = group("ca", "certificate authorities", [
  command({
    name: "create-root <name>",
    // A root is made where its key is kept: the security admin's act on the data folder.
    reach: "local",
    declare: (c) =>
      c
        .description("create a self-signed root CA")
        .option("--subject <dn>", "subject, /C=BE/O=.../CN=... or RFC 4514")
        .option("--days <n>", "validity in days", parseDays, 7300)
        .addOption(keyOption())
        .addOption(keyStoreOption())
        .option("--path-len <n>", "basicConstraints pathLenConstraint", parsePathLen)
        .option("--default-profile <profile>", "profile used when sign gets none", "system"),
    local: async () => (await import("../ca.js")).createRoot,
  }),
  command({
    name: "create-child <name>",
    reach: "both",
    declare: (c) =>
      c
        .description("create a CA signed by --parent")
        .requiredOption("--parent <ca>", "the issuing CA")
        .option("--subject <dn>", "subject, /C=BE/O=.../CN=... or RFC 4514")
        .option("--days <n>", "validity in days", parseDays, 3650)
        .option("--clamp", "end at the parent's expiry instead of refusing a longer validity")
        .addOption(keyOption())
        .addOption(keyStoreOption())
        .option(
          "--path-len <n>",
          "basicConstraints pathLenConstraint (default 0: issues end entities only)",
          parsePathLen,
        )
        .option("--default-profile <profile>", "profile used when sign gets none", "system")
        .addOption(keyFileOption("--parent")),
    local: async () => (await import("../ca.js")).createChild,
    remote: async () => (await import("../remote-commands.js")).remoteCreateChild,
  }),
  command({
    name: "list",
    reach: "both",
    declare: (c) => c.description("list CAs").option("--json", "JSON output"),
    local: async () => (await import("../ca.js")).listCas,
    remote: async () => (await import("../remote-commands.js")).remoteCaList,
  }),
  command({
    name: "show <name>",
    reach: "local",
    declare: (c) =>
      c
        .description("show a CA, or its certificate / chain in PEM")
        .option("--pem", "print the CA certificate in PEM")
        .option("--chain", "print the chain in PEM, the CA first and the root last")
        .option("--json", "JSON output"),
    local: async () => (await import("../ca.js")).showCa,
  }),
  command({
    name: "export <name>",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "write the CA's encrypted key, certificate and manifest.json to DIR (offline media); the passphrase is checked first",
        )
        .requiredOption("--out <dir>", "the export folder (created; must not hold an export of this CA)"),
    local: async () => (await import("../custody.js")).runExport,
  }),
  command({
    name: "offline <name>",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "remove the CA's key from the online store (needs an export of it); later signing takes --key-file",
        )
        .option("--export <dir>", "also check that the export in DIR matches the key"),
    local: async () => (await import("../custody.js")).runOffline,
  }),
  command({
    name: "status",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "key custody, CRL and OCSP responder dates of every CA, with reminders for offline CAs (exit 1 when a CRL has expired)",
        )
        .option("--json", "JSON output"),
    local: async () => (await import("../custody.js")).runStatus,
  }),
  command({
    name: "retire <name>",
    reach: "both",
    declare: (c) =>
      c
        .description("retire a child CA: its parent revokes its certificate (cessationOfOperation)")
        .addOption(keyFileOption("the parent (when offline)")),
    local: async () => (await import("../ca.js")).retireCa,
    remote: async () => (await import("../remote-commands.js")).remoteRetire,
  }),
]);
