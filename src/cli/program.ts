/**
 * The commander program: every command's flags and help; actions load their module lazily.
 */
import { Command, Option, InvalidArgumentError } from "commander";
import { KEY_TYPES } from "../keys/types.js";
import { VERSION } from "./version.js";

const REASONS = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  "privilegeWithdrawn",
  "aACompromise",
];

/** Parses a positive whole number of days. */
export function parseDays(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 36525)
    throw new InvalidArgumentError("give whole days between 1 and 36525");
  return Number(v);
}

/** Parses a non-negative path length. */
export function parsePathLen(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 32) throw new InvalidArgumentError("give a whole number from 0 to 32");
  return Number(v);
}

/** Parses a worker count. */
export function parseWorkers(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new InvalidArgumentError("give 1 to 64");
  return Number(v);
}

const keyOption = (): Option => new Option("--key <type>", "key type").choices(KEY_TYPES as string[]);
const keyStoreOption = (): Option =>
  new Option(
    "--key-store <store>",
    "where the CA key is made: encrypted file, or the PKCS#11 token of sigil.json",
  )
    .choices(["file", "pkcs11"])
    .default("file");

/** --key-file: the exported key of an offline CA, for this one command. */
const keyFileOption = (whose: string): Option =>
  new Option(
    "--key-file <file>",
    `the exported key file of ${whose} (an offline CA), opened with the home passphrase`,
  );

/** Parses a share count. */
function parseShareCount(v: string): number {
  if (!/^\d{1,3}$/.test(v)) throw new InvalidArgumentError("give a whole number from 2 to 255");
  return Number(v);
}

/** Adds --home and --passphrase-file to a command. */
function globals(cmd: Command): Command {
  return cmd
    .option("--home <dir>", "data folder (default: $SIGIL_HOME or ./sigil-data)")
    .option(
      "--passphrase-file <file>",
      "read the CA key passphrase from this file (else $SIGIL_PASSPHRASE or a prompt)",
    );
}

/** Adds --server, --token-file and --ca-file: the command can run through the admin API. */
function remote(cmd: Command): Command {
  return cmd
    .option(
      "--server <url>",
      "run through the admin API: unix:PATH or https://HOST:PORT (else $SIGIL_SERVER)",
    )
    .option("--token-file <file>", "admin token file (else $SIGIL_TOKEN)")
    .option("--ca-file <file>", "CA certificate(s) to trust for the server's TLS (else $SIGIL_CA_FILE)");
}

/** True when the command is to go through the admin API. */
const isRemote = (o: { server?: string }): boolean => Boolean(o.server ?? process.env.SIGIL_SERVER);

/** Builds the program. */
export function buildProgram(): Command {
  const program = new Command("sigil")
    .description("Sigil: a private certificate authority")
    .version(`sigil ${VERSION}`, "-V, --version")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `sigil: ${s.slice(7)}` : s),
    })
    .addHelpText(
      "after",
      `
The handbook's scripted flags also work (value last):
  sigil -r genfic -v 7300                      create a root CA
  sigil -p genfic -c genfic-system -v 3650     create a child CA
  sigil -R /var/db/ca/self/myhostname          key + request myhostname.key / .req
  sigil -p genfic-system -s x.req -o x.crt     sign a request
  sigil -p genfic-system -x VALUE              revoke the certificate matching VALUE`,
    );
  program.commands.forEach((c) => c.exitOverride());
  // --home is global: before the subcommand (`sigil --home DIR ca list`) or after it. The
  // program parses it wherever it stands, and hands it to the command that runs.
  program.option("--home <dir>", "data folder for any command (default: $SIGIL_HOME or ./sigil-data)");
  program.hook("preAction", (root, action) => {
    const home = root.opts<{ home?: string }>().home;
    if (home !== undefined && action !== root) action.setOptionValue("home", home);
  });

  globals(
    program
      .command("init")
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
  ).action(async (opts) => (await import("./init.js")).runInit(opts));

  const ca = program.command("ca").description("certificate authorities");
  globals(
    ca
      .command("create-root <name>")
      .description("create a self-signed root CA")
      .option("--subject <dn>", "subject, /C=BE/O=.../CN=... or RFC 4514")
      .option("--days <n>", "validity in days", parseDays, 7300)
      .addOption(keyOption())
      .addOption(keyStoreOption())
      .option("--path-len <n>", "basicConstraints pathLenConstraint", parsePathLen)
      .option("--default-profile <profile>", "profile used when sign gets none", "system"),
  ).action(async (name, opts) => {
    await (await import("./ca.js")).createRoot(name, opts);
  });
  globals(
    ca
      .command("create-child <name>")
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
  ).action(async (name, opts) => {
    await (await import("./ca.js")).createChild(name, opts);
  });
  remote(globals(ca.command("list").description("list CAs").option("--json", "JSON output"))).action(
    async (opts) =>
      isRemote(opts)
        ? (await import("./remote-commands.js")).remoteCaList(opts)
        : (await import("./ca.js")).listCas(opts),
  );
  globals(
    ca
      .command("show <name>")
      .description("show a CA, or its certificate / chain in PEM")
      .option("--pem", "print the CA certificate in PEM")
      .option("--chain", "print the chain in PEM, the CA first and the root last")
      .option("--json", "JSON output"),
  ).action(async (name, opts) => (await import("./ca.js")).showCa(name, opts));
  globals(
    ca
      .command("export <name>")
      .description(
        "write the CA's encrypted key, certificate and manifest.json to DIR (offline media); the passphrase is checked first",
      )
      .requiredOption("--out <dir>", "the export folder (created; must not hold an export of this CA)"),
  ).action(async (name, opts) => (await import("./custody.js")).runExport(name, opts));
  globals(
    ca
      .command("offline <name>")
      .description(
        "remove the CA's key from the online store (needs an export of it); later signing takes --key-file",
      )
      .option("--export <dir>", "also check that the export in DIR matches the key"),
  ).action(async (name, opts) => (await import("./custody.js")).runOffline(name, opts));
  globals(
    ca
      .command("status")
      .description(
        "key custody, CRL and OCSP responder dates of every CA, with reminders for offline CAs (exit 1 when a CRL has expired)",
      )
      .option("--json", "JSON output"),
  ).action(async (opts) => (await import("./custody.js")).runStatus(opts));

  const key = program.command("key").description("CA key custody: k-of-n shares of the key passphrase");
  globals(
    key
      .command("split <name>")
      .description(
        "split the passphrase of CA NAME's key into share files, any --threshold of which restore it",
      )
      .requiredOption("--shares <n>", "how many shares (2-255)", parseShareCount)
      .requiredOption("--threshold <k>", "how many restore it (2-n)", parseShareCount)
      .requiredOption("--out <dir>", "folder for NAME.share-I-of-N.txt (files must not exist)")
      .addOption(keyFileOption("NAME")),
  ).action(async (name, opts) => (await import("./custody.js")).runSplit(name, opts));
  globals(
    key
      .command("restore <name>")
      .description(
        "restore the passphrase from shares and prove it on CA NAME's key; with --from, put an exported key back online",
      )
      .option(
        "--share <file>",
        "a share file (repeat: as many as the threshold)",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option("--from <dir>", "the export folder ('sigil ca export') to take the key from"),
  ).action(async (name, opts) => (await import("./custody.js")).runRestore(name, opts));

  remote(
    globals(
      ca
        .command("retire <name>")
        .description("retire a child CA: its parent revokes its certificate (cessationOfOperation)")
        .addOption(keyFileOption("the parent (when offline)")),
    ),
  ).action(async (name, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteRetire(name, opts)
      : (await import("./ca.js")).retireCa(name, opts),
  );

  const request = program.command("request").description("make a key and a certificate request");
  globals(
    request
      .command("create <name>")
      .description("write NAME.key and NAME.req (NAME may be a path); the key never leaves this machine")
      .option("--subject <dn>", "subject, /C=BE/O=.../CN=... or RFC 4514")
      .option("--san <list>", "subjectAltNames: dns:x,ip:y,email:z")
      .addOption(keyOption())
      .option("--no-encrypt", "leave the key unencrypted (the handbook's -nodes, for system keys)")
      .option("--force", "replace existing NAME.key / NAME.req"),
  ).action(async (name, opts) => {
    await (await import("./request.js")).createRequest(name, opts);
  });

  globals(
    program
      .command("sign <req...>")
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
  );
  remote(program.commands.at(-1)!).action(async (reqs, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteSign(reqs, opts)
      : (await import("./sign.js")).runSign(reqs, opts),
  );

  globals(
    program
      .command("revoke [serial]")
      .description("revoke a certificate by serial, --cert FILE or --match CN/e-mail; publishes a new CRL")
      .requiredOption("--ca <ca>", "the issuing CA")
      .option("--cert <file>", "the certificate to revoke (PEM or DER)")
      .option("--match <text>", "a CN or e-mail that matches exactly one valid certificate")
      .addOption(new Option("--reason <reason>", "RFC 5280 reason").choices(REASONS).default("unspecified"))
      .addOption(keyFileOption("--ca")),
  );
  remote(program.commands.at(-1)!).action(async (serial, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteRevoke(serial, opts)
      : (await import("./revoke.js")).runRevoke(serial, opts),
  );

  globals(
    program
      .command("backup")
      .description(
        "write a consistent online backup (database snapshot, key files, config, TLS, CRLs) to one archive",
      )
      .requiredOption("--out <file>", "the archive to write (mode 0600; it is a secret); - is stdout")
      .option("--force", "replace an existing file"),
  ).action(async (opts) => (await import("./backup.js")).runBackup(opts));
  globals(
    program
      .command("restore")
      .description(
        "restore a backup into a data folder (new or empty; checks every file and the audit chain)",
      )
      .requiredOption("--from <file>", "the backup archive")
      .option("--force", "replace a non-empty data folder (moved aside, not deleted)"),
  ).action(async (opts) => (await import("./backup.js")).runRestore(opts));

  globals(
    program
      .command("crl")
      .description("publish a new CRL for a CA and write it")
      .requiredOption("--ca <ca>", "the CA")
      .option(
        "-o, --out <file>",
        "write the CRL here; - is stdout (default: stdout when --pem, else SIGIL_HOME/crl/CA.crl only)",
      )
      .option("--pem", "PEM instead of DER")
      .option("--force", "replace an existing -o file")
      .addOption(keyFileOption("--ca")),
  );
  remote(program.commands.at(-1)!).action(async (opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteCrl(opts)
      : (await import("./crl.js")).runCrl(opts),
  );

  globals(
    program
      .command("certs")
      .description("list certificates, soonest expiry first")
      .option("--ca <ca>", "only this CA")
      .option("--expiring <period>", "only those expiring within the period: 30d, 2w, 12h")
      .addOption(new Option("--status <status>", "filter by status").choices(["valid", "revoked", "expired"]))
      .option(
        "--profile <profile>",
        "only this profile (user, system, ...; the internal ca, ocsp, admin-tls, admin-client are listed only when named)",
      )
      .option("--limit <n>", "at most this many rows (a table shows 1000 unless told)")
      .option("--all", "every matching row")
      .option("--json", "JSON output (every matching row unless --limit)"),
  );
  remote(program.commands.at(-1)!).action(async (opts) => {
    if (!isRemote(opts)) return (await import("./certs.js")).listCerts(opts);
    const { parsePeriod } = await import("./certs.js");
    return (await import("./remote-commands.js")).remoteCerts({
      ...opts,
      ...(opts.expiring !== undefined ? { expiringMs: parsePeriod(opts.expiring) } : {}),
    });
  });

  const cert = program.command("cert").description("one issued certificate");
  globals(
    cert
      .command("show <serial>")
      .description("show a certificate issued by --ca, or print it in PEM (e.g. to hand it out again)")
      .requiredOption("--ca <ca>", "the issuing CA")
      .option("--pem", "print the certificate in PEM")
      .option("--chain", "print the certificate and its CA chain in PEM")
      .option("--json", "JSON output"),
  );
  remote(cert.commands.at(-1)!).action(async (serial, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteCertShow(serial, opts)
      : (await import("./certs.js")).showCert(serial, opts),
  );

  const audit = program.command("audit").description("the hash-chained audit log");
  remote(
    globals(audit.command("verify").description("check the chain; names the first broken event")),
  ).action(async (opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteAuditVerify(opts)
      : (await import("./audit.js")).verify(opts),
  );
  remote(
    globals(audit.command("log").description("show the audit log").option("--json", "JSON lines")),
  ).action(async (opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteAuditLog(opts)
      : (await import("./audit.js")).log(opts),
  );

  const requests = program.command("requests").description("the request queue (CLI, drop folder, e-mail)");
  globals(
    requests
      .command("list")
      .description("queued requests, oldest first")
      .option("--state <state>", "pending, approved, rejected, issued or failed")
      .option("--limit <n>", "at most this many", "1000")
      .option("--json", "JSON output"),
  );
  remote(requests.commands.at(-1)!).action(async (opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteRequests(opts)
      : (await import("./requests.js")).listRequests(opts),
  );
  globals(
    requests
      .command("show <id>")
      .description("one request: subject, SANs, key, submitter, the checks run at intake, replies")
      .option("--json", "JSON output")
      .option("--pem", "print the CSR (PEM)"),
  );
  remote(requests.commands.at(-1)!).action(async (id, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteRequestShow(id, opts)
      : (await import("./requests.js")).showRequest(id, opts),
  );
  globals(
    requests
      .command("approve <id>")
      .description("sign a pending request (as sigil sign) and queue the reply with the certificate")
      .option("--ca <ca>", "the issuing CA (default: the one it was queued for)")
      .option("--profile <profile>", "profile (default: the CA's)")
      .option("--days <n>", "validity in days", parseDays)
      .option("-o, --out <file>", "also write the certificate here; - is stdout")
      .option("--force", "replace an existing -o file"),
  );
  remote(requests.commands.at(-1)!).action(async (id, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteApprove(id, opts)
      : (await import("./requests.js")).approveRequest(id, opts),
  );
  globals(
    requests
      .command("reject <id>")
      .description("reject a pending request; the requester gets the reason by mail")
      .requiredOption("--reason <text>", "why (the requester reads it)"),
  );
  remote(requests.commands.at(-1)!).action(async (id, opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteReject(id, opts)
      : (await import("./requests.js")).rejectRequest(id, opts),
  );
  globals(
    requests
      .command("import <dir>")
      .description("queue every .csr/.req/.pem/.der in DIR; files move to DIR/processed or DIR/rejected")
      .option("--ca <ca>", "the CA they are meant for")
      .option("--profile <profile>", "profile"),
  ).action(async (dir, opts) => (await import("./requests.js")).importDir(dir, opts));
  globals(
    requests
      .command("submit <files...>")
      .description("queue request files for an operator (without signing them)")
      .option("--ca <ca>", "the CA they are meant for")
      .option("--profile <profile>", "profile"),
  ).action(async (files, opts) => (await import("./requests.js")).submitRequests(files, opts));

  const intake = program.command("intake").description("take in requests from other programs");
  globals(
    intake
      .command("mail")
      .description("one e-mail on stdin into the queue (for procmail: | sigil intake mail)")
      .option("--json", "JSON output"),
  ).action(async (opts) => (await import("./intake.js")).intakeMail(opts));

  globals(
    program
      .command("notify")
      .description("expiry notices to certificate owners and the summary to CA admins")
      .option("--dry-run", "show what would be sent, send nothing"),
  );
  remote(program.commands.at(-1)!).action(async (opts) =>
    isRemote(opts)
      ? (await import("./remote-commands.js")).remoteNotify(opts)
      : (await import("./notify.js")).runNotify(opts),
  );

  globals(
    program
      .command("serve")
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
  ).action(async (opts) => (await import("./serve.js")).runServe(opts));

  const ocsp = program.command("ocsp").description("the OCSP responder's pre-signed answers");
  globals(
    ocsp
      .command("refresh")
      .description("sign the answers that are due (never signed, or past half their validity)")
      .option("--all", "sign every answer again")
      .option("--ca <ca>", "only this CA's answers")
      .addOption(keyFileOption("--ca")),
  ).action(async (opts) => (await import("./ocsp.js")).runOcspRefresh(opts));

  const importCmd = program.command("import").description("move a CA in from another tool");
  globals(
    importCmd
      .command("openssl")
      .description("make an 'openssl ca' directory (index.txt, serial, crlnumber, newcerts/) a Sigil CA")
      .requiredOption("--dir <dir>", "the openssl ca directory (holds index.txt)")
      .requiredOption("--cert <file>", "the CA certificate (relative: the cwd, then --dir)")
      .requiredOption(
        "--key <file>",
        "the CA private key, PEM, possibly encrypted (relative: the cwd, then --dir)",
      )
      .option("--name <name>", "the Sigil CA name (default: the certificate file's name)")
      .option(
        "--key-passphrase-file <file>",
        "passphrase of the openssl key (else $SIGIL_IMPORT_PASSPHRASE or a prompt)",
      )
      .option("--allow-partial", "import the index.txt lines that map and list the others (default: refuse)")
      .option("--dry-run", "show what would be imported; write nothing")
      .option("--json", "JSON output"),
  ).action(async (opts) => (await import("./openssl-ca.js")).runImportOpenssl(opts));
  const exportCmd = program.command("export").description("move a CA out to another tool");
  globals(
    exportCmd
      .command("openssl")
      .description("write a CA's certificates as an 'openssl ca' directory (the key is not included)")
      .requiredOption("--ca <ca>", "the CA")
      .requiredOption("--dir <dir>", "the folder to write (new or empty)")
      .option("--json", "JSON output"),
  ).action(async (opts) => (await import("./openssl-ca.js")).runExportOpenssl(opts));

  const adminCmd = program
    .command("admin")
    .description("admin API tokens (security admins) and the caller's identity");
  const token = adminCmd
    .command("token")
    .description("admin API tokens: random, stored hashed, one role each");
  remote(
    globals(
      token
        .command("create")
        .description("create a token and print it once (operator, security or auditor)")
        .addOption(
          new Option("--role <role>", "what it may do")
            .choices(["operator", "security", "auditor"])
            .makeOptionMandatory(),
        )
        .requiredOption("--name <name>", "who holds it (for the audit log)")
        .option("--expires <duration>", "lifetime: 90d, 12h, 30m", "90d")
        .option("--json", "JSON output"),
    ),
  ).action(async (opts) => (await import("./admin.js")).tokenCreate(opts));
  remote(
    globals(
      token.command("list").description("list tokens (never their secrets)").option("--json", "JSON output"),
    ),
  ).action(async (opts) => (await import("./admin.js")).tokenList(opts));
  remote(globals(token.command("revoke <id-or-name>").description("revoke a token at once"))).action(
    async (which, opts) => (await import("./admin.js")).tokenRevoke(which, opts),
  );
  globals(
    adminCmd
      .command("client-cert <name>")
      .description(
        "make a key and client certificate for the admin API under mutual TLS (local: data folder custody)",
      )
      .option("--out-dir <dir>", "where to write NAME.key.pem (0600) and NAME.crt.pem", ".")
      .option("--days <n>", "validity in days (default 396, capped at the CA's)", parseDays)
      .option("--json", "JSON output"),
  ).action(async (name, opts) => (await import("./admin.js")).clientCert(name, opts));
  remote(globals(adminCmd.command("whoami").description("the token's name, role and what it may do"))).action(
    async (opts) => (await import("./admin.js")).whoami(opts),
  );
  remote(
    globals(
      program
        .command("unseal")
        .description("give the running service its keys: the passphrase, or --share FILE for k of n shares")
        .option(
          "--share <file>",
          "a key share file (repeat; any k of n)",
          (v: string, acc: string[] = []) => [...acc, v],
        ),
    ),
  ).action(async (opts) => (await import("./admin.js")).unseal(opts));
  remote(
    globals(program.command("seal").description("make the running service drop its keys from memory")),
  ).action(async (opts) => (await import("./admin.js")).seal(opts));
  remote(
    globals(
      program
        .command("status")
        .description("is the running service sealed? its CAs' custody")
        .option("--json", "JSON output"),
    ),
  ).action(async (opts) => (await import("./admin.js")).status(opts));

  const acmeCmd = program.command("acme").description("the ACME server (RFC 8555) of each CA");
  // enable, disable and eab run through the admin API with --server (src/cli/acme.ts).
  remote(
    globals(
      acmeCmd
        .command("enable <ca>")
        .description("serve ACME for CA (an intermediate) at /acme/CA/directory, for the allowed identifiers")
        .requiredOption(
          "--allow <pattern>",
          "allowed identifiers: '*.domain' (any name below), a hostname, an IP or CIDR range (repeat)",
          (v: string, prev: string[] = []) => [...prev, v],
        )
        .option(
          "--max-days <n>",
          "longest validity of an ACME certificate, in days (default: the profile's)",
          parseDays,
        )
        .option("--eab", "require External Account Binding (keys from 'sigil acme eab create')")
        .option("--manual-approval", "orders wait in the request queue for an operator")
        .option("--profile <profile>", "the profile ACME certificates are signed under", "system"),
    ),
  ).action(async (ca, opts) => (await import("./acme.js")).enable(ca, opts));
  remote(
    globals(acmeCmd.command("disable <ca>").description("stop serving ACME for CA (settings are kept)")),
  ).action(async (ca, opts) => (await import("./acme.js")).disable(ca, opts));
  globals(
    acmeCmd
      .command("show [ca]")
      .description("the ACME settings in effect (the store's, else the config's)")
      .option("--json", "JSON output"),
  ).action(async (ca, opts) => (await import("./acme.js")).show(ca, opts));
  const eab = acmeCmd.command("eab").description("External Account Binding keys (RFC 8555 §7.3.4)");
  remote(
    globals(
      eab
        .command("create <ca>")
        .description("make a key id and HMAC key for one ACME account of CA; the key is shown only once")
        .option("--json", "JSON output"),
    ),
  ).action(async (ca, opts) => (await import("./acme.js")).eabCreate(ca, opts));
  remote(
    globals(
      eab
        .command("list <ca>")
        .description("CA's EAB key ids and their accounts (never the keys)")
        .option("--json", "JSON output"),
    ),
  ).action(async (ca, opts) => (await import("./acme.js")).eabList(ca, opts));

  const trust = program
    .command("trust")
    .description("put a CA certificate into this machine's trust store (Debian) or an NSS database");
  const nssOption = (): Option =>
    new Option("--nss <dir>", "only this NSS database folder (Firefox profile, ~/.pki/nssdb), via certutil");
  globals(
    trust
      .command("install <name>")
      .description(
        "trust CA NAME (normally the root): /usr/local/share/ca-certificates/sigil/NAME.crt + update-ca-certificates",
      )
      .addOption(nssOption()),
  ).action(async (name, opts) => (await import("./trust.js")).installTrust(name, opts));
  trust
    .command("remove <name>")
    .description("undo 'trust install NAME' (by name; does not need the Sigil data)")
    .addOption(nssOption())
    .action(async (name, opts) => (await import("./trust.js")).removeTrust(name, opts));

  for (const c of allCommands(program)) c.exitOverride();
  return program;
}

function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}
