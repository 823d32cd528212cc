/**
 * `sigil instance join`: a home for one more instance on a shared PostgreSQL database.
 */
import { command, group } from "./table.js";
import { collect, parseWorkers } from "./options.js";

export const instanceGroup = group("instance", "instances of the service on one PostgreSQL database", [
  command({
    name: "join",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "write a new home (--home, new or empty) for one more instance on the shared database: config, the CA keys given and no other",
        )
        .option("--database-url <url>", "the shared PostgreSQL database (else $SIGIL_DATABASE_URL)")
        .option("--name <name>", "this instance's name (sigil.json serve.instanceName)")
        .option(
          "--ca-export <dir>",
          "a CA's export folder ('sigil ca export NAME --out DIR'): its key is installed (repeat)",
          collect,
        )
        .option(
          "--token-key <file>",
          "a home's keys/token-hmac.key, so admin tokens made elsewhere verify here",
        )
        .option("--audit-key <pem>", "the security admin's copy of the pinned audit public key")
        .option("--listen <host:port>", "this instance's public listener (sigil.json serve.listen)")
        .option(
          "--admin-listen <host:port>",
          "this instance's admin API TLS listener, or 'off' (sigil.json admin.listen)",
        )
        .option("--public-url <url>", "the URL put in issued certificates (sigil.json publicUrl)")
        .option("--serve", "start the service in the new home at once ('sigil serve --home DIR')")
        .option("--workers <n>", "with --serve: worker processes (default: one per core)", parseWorkers),
    local: async () => (await import("../instance.js")).runJoin,
  }),
]);
