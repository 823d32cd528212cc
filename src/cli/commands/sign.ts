/**
 * `sigil sign`: sign requests under a CA and profile.
 */
import { command } from "./table.js";
import { keyFileOption, parseDays } from "./options.js";

export const signCommand = command({
  name: "sign <req...>",
  reach: "both",
  viaService: "signing",
  declare: (c) =>
    c
      .description("sign requests (PEM or DER) under a CA and profile")
      .requiredOption("--ca <ca>", "the issuing CA")
      .option("--profile <profile>", "user, system, ... (default: the CA's default profile)")
      .option("--days <n>", "validity in days (default: the profile's, capped at the CA's expiry)", parseDays)
      .option("--clamp", "end at the CA's expiry instead of refusing a longer validity")
      .option("-o, --out <file>", "write the certificate here (one request) instead of stdout; - is stdout")
      .option("--out-dir <dir>", "write each certificate as DIR/<request name>.crt")
      .option("--force", "replace existing output files (checked before anything is signed)")
      .option("--json", "print a JSON summary")
      .addOption(keyFileOption("--ca")),
  local: async () => (await import("../sign.js")).runSign,
  remote: async () => (await import("../remote-commands.js")).remoteSign,
});
