/**
 * `sigil backup` and `sigil restore`: the whole data folder, in one archive.
 */
import { command } from "./table.js";

export const backupCommand = command({
  name: "backup",
  reach: "local",
  declare: (c) =>
    c
      .description(
        "write a consistent online backup (database snapshot, key files, config, TLS, CRLs) to one archive",
      )
      .requiredOption("--out <file>", "the archive to write (mode 0600; it is a secret); - is stdout")
      .option("--force", "replace an existing file"),
  local: async () => (await import("../backup.js")).runBackup,
});

export const restoreCommand = command({
  name: "restore",
  reach: "local",
  declare: (c) =>
    c
      .description(
        "restore a backup into a data folder (new or empty; checks every file and the audit chain)",
      )
      .requiredOption("--from <file>", "the backup archive")
      .option("--force", "replace a non-empty data folder (moved aside, not deleted)"),
  local: async () => (await import("../backup.js")).runRestore,
});
