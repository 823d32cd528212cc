/**
 * `sigil key ...`: k-of-n shares of a CA key's passphrase (custody of the data folder).
 */
import { command, group } from "./table.js";
import { collect, keyFileOption, parseShareCount } from "./options.js";

export const keyGroup = group("key", "CA key custody: k-of-n shares of the key passphrase", [
  command({
    name: "split <name>",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "split the passphrase of CA NAME's key into share files, any --threshold of which restore it",
        )
        .requiredOption("--shares <n>", "how many shares (2-255)", parseShareCount)
        .requiredOption("--threshold <k>", "how many restore it (2-n)", parseShareCount)
        .requiredOption("--out <dir>", "folder for NAME.share-I-of-N.txt (files must not exist)")
        .addOption(keyFileOption("NAME")),
    local: async () => (await import("../custody.js")).runSplit,
  }),
  command({
    name: "restore <name>",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "restore the passphrase from shares and prove it on CA NAME's key; with --from, put an exported key back online",
        )
        .option("--share <file>", "a share file (repeat: as many as the threshold)", collect)
        .option("--from <dir>", "the export folder ('sigil ca export') to take the key from"),
    local: async () => (await import("../custody.js")).runRestore,
  }),
]);
