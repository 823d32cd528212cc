/**
 * `sigil init`: first-run setup.
 */
import { command } from "./table.js";
import { keyOption, parseDays } from "./options.js";

export const initCommand = command({
  name: "init",
  reach: "local",
  declare: (c) =>
    c
      .description("first-run setup: a root CA, a user CA and a system CA (the handbook's genfic hierarchy)")
      .option("--name <name>", "root CA name; children are NAME-user and NAME-system", "genfic")
      .option(
        "--dn-prefix <dn>",
        "subject prefix for all three CAs",
        "/C=BE/ST=Antwerp/L=Mechelen/O=Gentoo Fictional, Inc.",
      )
      .option(
        "--cn-prefix <text>",
        "CN prefix: '<prefix> Root CA', '<prefix> User CA', ... (default from --name)",
      )
      .addOption(keyOption())
      .option("--root-days <n>", "root validity", parseDays, 7300)
      .option("--system-days <n>", "system CA validity", parseDays, 1109)
      .option("--user-days <n>", "user CA validity (expires two weeks before the system CA)", parseDays)
      .option("--public-url <url>", "base URL placed in certificates (CDP, AIA)"),
  local: async () => (await import("../init.js")).runInit,
});
