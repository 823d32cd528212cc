/**
 * The handbook's scripted interface, flag for flag (value last, as there):
 *
 *   -r, --create-root NAME     -c, --create-child NAME    -s, --sign-request REQ
 *   -R, --create-request PATH  -x, --revoke VALUE
 *   -p, --parent CA            -o, --output FILE          -v, --valid DAYS
 *
 * Each maps onto the matching subcommand; that command's long options work beside them.
 */
import { Command, Option } from "commander";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { KEY_TYPES } from "../keys/types.js";
import { SigilError, ErrorCodes } from "../errors.js";
import { parseDays, parsePathLen } from "./commands/options.js";
import { localActError, serverOf } from "./commands/table.js";
import type { RevocationReason } from "../x509/types.js";

const COMMAND_FLAGS = new Set([
  "-r",
  "--create-root",
  "-c",
  "--create-child",
  "-s",
  "--sign-request",
  "-R",
  "--create-request",
  "-x",
  "--revoke",
]);

/** True when argv uses the handbook's command flags rather than a subcommand. */
export function isHandbookInvocation(argv: string[]): boolean {
  return argv.some((a) => COMMAND_FLAGS.has(a.split("=")[0]!));
}

interface HandbookOpts {
  createRoot?: string;
  createChild?: string;
  signRequest?: string;
  createRequest?: string;
  revoke?: string;
  parent?: string;
  output?: string;
  valid?: number;
  subject?: string;
  san?: string;
  key?: (typeof KEY_TYPES)[number];
  encrypt: boolean;
  profile?: string;
  reason: RevocationReason;
  clamp?: boolean;
  pathLen?: number;
  defaultProfile?: string;
  force?: boolean;
  home?: string;
  passphraseFile?: string;
}

function handbookProgram(): Command {
  return new Command("sigil")
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s.startsWith("error:") ? `sigil: ${s.slice(7)}` : s),
    })
    .option("-r, --create-root <name>", "create a root CA key named <name>")
    .option("-c, --create-child <name>", "create a child CA key named <name> (needs -p)")
    .option("-s, --sign-request <req>", "sign a certificate request (needs -p)")
    .option("-R, --create-request <path>", "create a key and signing request <path>.key / <path>.req")
    .option(
      "-x, --revoke <value>",
      "revoke the certificate matching <value>: serial, CN, e-mail or a certificate file (needs -p)",
    )
    .option("-p, --parent <parent>", "use <parent> as the parent (issuing) CA")
    .option("-o, --output <file>", "save the resulting file as <file>")
    .option("-v, --valid <days>", "number of days the certificate is valid", parseDays)
    .option("--subject <dn>", "subject DN")
    .option("--san <list>", "subjectAltNames: dns:x,ip:y,email:z")
    .addOption(new Option("--key <type>", "key type").choices(KEY_TYPES as string[]))
    .option("--no-encrypt", "leave a request's key unencrypted")
    .option("--profile <profile>", "signing profile (default: the CA's)")
    .option("--reason <reason>", "revocation reason", "unspecified")
    .option("--clamp", "cap validity at the issuer's expiry")
    .option("--path-len <n>", "pathLen of a child CA", parsePathLen)
    .option("--default-profile <profile>", "default profile of a new CA")
    .option("--force", "replace existing files (-R's PATH.key / PATH.req, -s's -o FILE)")
    .option("--home <dir>", "data folder")
    .option("--passphrase-file <file>", "CA key passphrase file")
    .allowExcessArguments(false);
}

/** Runs a handbook-style invocation. */
export async function runHandbook(argv: string[]): Promise<void> {
  const program = handbookProgram();
  program.parse(argv, { from: "user" });
  const o = program.opts<HandbookOpts>();
  const commands = [o.createRoot, o.createChild, o.signRequest, o.createRequest, o.revoke].filter(
    (v) => v !== undefined,
  );
  if (commands.length !== 1)
    throw new SigilError(ErrorCodes.USAGE, "give exactly one of -r, -c, -s, -R, -x (see 'sigil --help')");
  // Only -R (a key and request of one's own) concerns no data folder: the others are local
  // acts, and refuse when SIGIL_SERVER names a server rather than run on whatever data
  // folder is here (the table's rule, commands/table.ts).
  if (o.createRequest === undefined && serverOf({}) !== undefined) {
    const flag =
      o.createRoot !== undefined
        ? "-r"
        : o.createChild !== undefined
          ? "-c"
          : o.signRequest !== undefined
            ? "-s"
            : "-x";
    throw localActError(`the handbook's ${flag}`, {});
  }
  const needParent = (what: string): string => {
    if (!o.parent) throw new SigilError(ErrorCodes.USAGE, `${what} needs -p CA`);
    return o.parent;
  };
  const g = { home: o.home, passphraseFile: o.passphraseFile };

  if (o.createRoot !== undefined) {
    const { createRoot } = await import("./ca.js");
    await createRoot(o.createRoot, {
      ...g,
      subject: o.subject,
      days: o.valid ?? 7300,
      key: o.key,
      pathLen: o.pathLen,
      defaultProfile: o.defaultProfile,
    });
    return;
  }
  if (o.createChild !== undefined) {
    const { createChild } = await import("./ca.js");
    await createChild(o.createChild, {
      ...g,
      parent: needParent("-c"),
      subject: o.subject,
      days: o.valid ?? 3650,
      key: o.key,
      pathLen: o.pathLen,
      clamp: o.clamp,
      defaultProfile: o.defaultProfile,
    });
    return;
  }
  if (o.createRequest !== undefined) {
    const { createRequest } = await import("./request.js");
    await createRequest(o.createRequest, {
      ...g,
      subject: o.subject,
      san: o.san,
      key: o.key,
      encrypt: o.encrypt,
      force: o.force,
    });
    return;
  }
  if (o.signRequest !== undefined) {
    const { runSign } = await import("./sign.js");
    await runSign([o.signRequest], {
      ...g,
      ca: needParent("-s"),
      profile: o.profile,
      days: o.valid,
      clamp: o.clamp,
      out: o.output,
      force: o.force,
    });
    return;
  }
  const value = o.revoke!;
  const ca = needParent("-x");
  const { revokeWith } = await import("./revoke.js");
  const opts = { ...g, ca, reason: o.reason };
  if (/\.(crt|pem|cer|der)$/i.test(value) && existsSync(value)) {
    await revokeWith(opts, { certDer: await readFile(value) });
    return;
  }
  // A serial when one with that number exists, else a CN or e-mail match.
  if (/^(0x)?[0-9a-f:]{2,}$/i.test(value)) {
    const { openContext } = await import("./context.js");
    const ctx = await openContext(g);
    let known = false;
    try {
      known = (await ctx.authority.findCert(ca, value)) !== undefined;
    } finally {
      await ctx.close();
    }
    if (known) {
      await revokeWith(opts, { serial: value });
      return;
    }
  }
  await revokeWith(opts, { match: value });
}
