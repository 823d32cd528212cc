/**
 * `sigil unseal`, `sigil seal`, `sigil status`: the running service's keys. They always go
 * to the service: --server, SIGIL_SERVER, else the data folder's admin socket.
 */
import { command } from "./table.js";
import { collect } from "./options.js";

export const serviceCommands = [
  command({
    name: "unseal",
    reach: "service",
    declare: (c) =>
      c
        .description("give the running service its keys: the passphrase, or --share FILE for k of n shares")
        .option("--share <file>", "a key share file (repeat; any k of n)", collect),
    remote: async () => (await import("../admin.js")).unseal,
  }),
  command({
    name: "seal",
    reach: "service",
    declare: (c) => c.description("make the running service drop its keys from memory"),
    remote: async () => (await import("../admin.js")).seal,
  }),
  command({
    name: "status",
    reach: "service",
    declare: (c) =>
      c.description("is the running service sealed? its CAs' custody").option("--json", "JSON output"),
    remote: async () => (await import("../admin.js")).status,
  }),
];
