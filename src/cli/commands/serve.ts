/**
 * `sigil serve` and `sigil ocsp refresh`: the service and its pre-signed answers.
 */
import { command, group } from "./table.js";
import { keyFileOption, parseWorkers } from "./options.js";

export const serveCommand = command({
  name: "serve",
  reach: "local",
  declare: (c) =>
    c
      .description(
        "the service: OCSP, CRLs, CA certificates, /healthz, /metrics; IMAP intake, drop folder, mail replies, expiry notices",
      )
      .option(
        "--listen <host:port>",
        "address to listen on (default: sigil.json serve.listen, 127.0.0.1:8080)",
      )
      .option("--workers <n>", "worker processes (default: one per core)", parseWorkers)
      .option(
        "--admin-listen <host:port>",
        "the admin API's TLS listener, or 'off' (default: sigil.json admin.listen, 127.0.0.1:8443)",
      )
      .option("--init", "first run: create the genfic hierarchy when the data folder holds no CA"),
  local: async () => (await import("../serve.js")).runServe,
});

export const ocspGroup = group("ocsp", "the OCSP responder's pre-signed answers", [
  command({
    name: "refresh",
    reach: "local",
    declare: (c) =>
      c
        .description("sign the answers that are due (never signed, or past half their validity)")
        .option("--all", "sign every answer again")
        .option("--ca <ca>", "only this CA's answers")
        .addOption(keyFileOption("--ca")),
    local: async () => (await import("../ocsp.js")).runOcspRefresh,
  }),
  command({
    name: "renew-responder",
    reach: "local",
    declare: (c) =>
      c
        .description(
          "issue a CA's delegated OCSP responder again now, with a new key (every instance takes it at its next job run)",
        )
        .option("--ca <ca>", "only this CA (default: every CA whose key is here)")
        .addOption(keyFileOption("--ca")),
    local: async () => (await import("../ocsp.js")).runRenewResponder,
  }),
]);
