/**
 * `sigil revoke`: by serial, --cert FILE or --match CN/e-mail; a new CRL is published at once.
 */
import { readFile } from "node:fs/promises";
import { openContext, type GlobalOptions } from "./context.js";
import { SigilError, ErrorCodes } from "../errors.js";
import type { RevokeTarget } from "../authority/authority.js";
import type { RevocationReason } from "../x509/types.js";

interface RevokeOpts extends GlobalOptions {
  ca: string;
  cert?: string;
  match?: string;
  reason: RevocationReason;
  keyFile?: string;
}

/** Runs `sigil revoke`. */
export async function runRevoke(serial: string | undefined, opts: RevokeOpts): Promise<void> {
  const given = [serial !== undefined, opts.cert !== undefined, opts.match !== undefined].filter(
    Boolean,
  ).length;
  if (given !== 1)
    throw new SigilError(ErrorCodes.USAGE, "give exactly one of SERIAL, --cert FILE or --match TEXT");
  let target: RevokeTarget;
  if (serial !== undefined) target = { serial };
  else if (opts.cert !== undefined) target = { certDer: await readCertFile(opts.cert) };
  else target = { match: opts.match! };
  await revokeWith(opts, target);
}

/** Reads `revoke --cert FILE` (PEM or DER); an unreadable file is a one-line error. */
export async function readCertFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${path}: cannot read`);
  }
}

/** Revokes `target` and reports; shared with the handbook's -x. */
export async function revokeWith(opts: RevokeOpts, target: RevokeTarget): Promise<void> {
  const ctx = await openContext(opts);
  try {
    if (opts.keyFile !== undefined) ctx.authority.useKeyFile(opts.ca, opts.keyFile);
    // The local CLI works on the home's keys: its user holds custody (the security role).
    const r = await ctx.authority.revoke(opts.ca, target, opts.reason, { mayRevokeCa: true });
    process.stderr.write(
      `revoked ${r.cert.serialHex} (${r.cert.subject}), reason ${opts.reason}; CRL #${r.crlNumber} written to ${ctx.home}/crl/${opts.ca}.crl\n`,
    );
  } finally {
    await ctx.close();
  }
}
