/**
 * `sigil request create NAME`: a key and a PKCS#10 request (the handbook's
 * `openssl req -newkey`); the key stays on this machine.
 */
import { basename, dirname, join, resolve } from "node:path";
import type { GlobalOptions } from "./context.js";
import { resolveHome } from "./context.js";
import type { KeyType } from "../keys/types.js";

interface RequestOpts extends GlobalOptions {
  subject?: string;
  san?: string;
  key?: KeyType;
  encrypt: boolean;
  force?: boolean;
}

/** Writes NAME.key (0600; encrypted unless --no-encrypt) and NAME.req; returns their paths. */
export async function createRequest(name: string, opts: RequestOpts): Promise<{ key: string; req: string }> {
  const [
    { loadConfig },
    { resolveSubject },
    { parseSanList },
    { generateKeyPair },
    { NodeSigner },
    { buildCsr },
    der,
    pk,
    fk,
  ] = await Promise.all([
    import("../config/load.js"),
    import("./prompt.js"),
    import("../x509/san.js"),
    import("../keys/generate.js"),
    import("../keys/node-signer.js"),
    import("../x509/csr-build.js"),
    import("../x509/der.js"),
    import("../keys/pkcs8.js"),
    import("../keys/file-keystore.js"),
  ]);
  const { SigilError, ErrorCodes } = await import("../errors.js");
  const base = resolve(name.replace(/\.(req|csr|key)$/, ""));
  const keyPath = `${base}.key`;
  const reqPath = `${base}.req`;
  const config = await loadConfig(resolveHome(opts));
  const sans = opts.san ? parseSanList(opts.san) : [];
  const keyType = opts.key ?? (config.defaultKeyType as KeyType);
  const { existsSync } = await import("node:fs");
  if (!opts.force)
    for (const p of [keyPath, reqPath])
      if (existsSync(p))
        throw new SigilError(ErrorCodes.FILE_EXISTS, `${p} exists; use --force to replace it`);
  if (!existsSync(dirname(keyPath)))
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `folder ${dirname(keyPath)} does not exist`);
  let pass: Buffer | undefined;
  if (opts.encrypt) {
    const { resolvePassphrase, promptHidden } = await import("../keys/passphrase.js");
    // The request key's passphrase is the requester's, not the CA's: SIGIL_KEY_PASSPHRASE
    // wins over SIGIL_PASSPHRASE so one script can hold both without mixing them up.
    pass = await resolvePassphrase({
      passphraseFile: opts.passphraseFile,
      env: {
        ...process.env,
        SIGIL_PASSPHRASE: process.env.SIGIL_KEY_PASSPHRASE ?? process.env.SIGIL_PASSPHRASE,
      },
      isTty: Boolean(process.stdin.isTTY),
      prompt: promptHidden,
      purpose: `key ${basename(keyPath)}`,
      confirm: true,
    });
  }
  // After the passphrase (as `openssl req -newkey` asks): a refused one costs no typing.
  const subject = await resolveSubject(config, opts.subject, basename(base));
  const { privateKey } = generateKeyPair(keyType);
  const signer = new NodeSigner(privateKey, keyType);
  const csrDer = await buildCsr({ subject, sans, spki: signer.spki, signer });
  const keyPem = pass
    ? await pk.encryptPkcs8(privateKey, pass)
    : (privateKey.export({ type: "pkcs8", format: "pem" }) as string);
  await fk.writeSecretFile(keyPath, Buffer.from(keyPem), { overwrite: Boolean(opts.force) });
  await fk.writePublicFile(reqPath, Buffer.from(der.toPem(csrDer, "CERTIFICATE REQUEST")), {
    overwrite: Boolean(opts.force),
  });
  process.stderr.write(
    `wrote ${join(dirname(keyPath), basename(keyPath))} (${keyType}${pass ? ", encrypted" : ", NOT encrypted"}, mode 0600) and ${reqPath}\n`,
  );
  return { key: keyPath, req: reqPath };
}
