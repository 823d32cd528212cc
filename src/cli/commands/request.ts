/**
 * `sigil request create`: a key and a certificate request of one's own.
 */
import { command, group } from "./table.js";
import { keyOption } from "./options.js";

export const requestGroup = group("request", "make a key and a certificate request", [
  command({
    name: "create <name>",
    // The requester's own key, made here: it never concerns a server (and never leaves).
    reach: "client",
    declare: (c) =>
      c
        .description("write NAME.key and NAME.req (NAME may be a path); the key never leaves this machine")
        .option("--subject <dn>", "subject, /C=BE/O=.../CN=... or RFC 4514")
        .option("--san <list>", "subjectAltNames: dns:x,ip:y,email:z")
        .addOption(keyOption())
        .option("--no-encrypt", "leave the key unencrypted (the handbook's -nodes, for system keys)")
        .option("--force", "replace existing NAME.key / NAME.req"),
    local: async () => (await import("../request.js")).createRequest,
  }),
]);
