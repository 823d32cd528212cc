/**
 * `sigil trust install|remove`: a CA certificate in this machine's trust store.
 */
import { Option } from "commander";
import { command, group } from "./table.js";

const nssOption = (): Option =>
  new Option("--nss <dir>", "only this NSS database folder (Firefox profile, ~/.pki/nssdb), via certutil");

export const trustGroup = group(
  "trust",
  "put a CA certificate into this machine's trust store (Debian) or an NSS database",
  [
    command({
      name: "install <name>",
      // The certificate comes from this machine's data folder.
      reach: "local",
      declare: (c) =>
        c
          .description(
            "trust CA NAME (normally the root): /usr/local/share/ca-certificates/sigil/NAME.crt + update-ca-certificates",
          )
          .addOption(nssOption()),
      local: async () => (await import("../trust.js")).installTrust,
    }),
    command({
      name: "remove <name>",
      reach: "client",
      globals: false,
      declare: (c) =>
        c
          .description("undo 'trust install NAME' (by name; does not need the Sigil data)")
          .addOption(nssOption()),
      local: async () => (await import("../trust.js")).removeTrust,
    }),
  ],
);
