/**
 * `sigil request create NAME`: a key and a PKCS#10 request (the handbook's
 * `openssl req -newkey`); the key stays on this machine.
 */
import { unlink } from "node:fs/promises";
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

/**
 * Writes NAME.key (0600; encrypted unless --no-encrypt) and NAME.req; returns their paths.
 * Existing files are replaced only with --force (the output rule of files/output.ts).
 */
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
  ] = await Promise.all([
    import("../config/load.js"),
    import("./prompt.js"),
    import("../x509/san.js"),
    import("../keys/generate.js"),
    import("../keys/node-signer.js"),
    import("../x509/csr-build.js"),
    import("../x509/der.js"),
    import("../keys/pkcs8.js"),
  ]);
  const base = resolve(name.replace(/\.(req|csr|key)$/, ""));
  const keyPath = `${base}.key`;
  const reqPath = `${base}.req`;
  // Both files are checked (files/output.ts) before a subject or passphrase is asked or a key made.
  const { checkOutput, writeOutput } = await import("../files/output.js");
  const force = Boolean(opts.force);
  const keyTarget = await checkOutput(keyPath, { overwrite: force });
  await checkOutput(reqPath, { overwrite: force });
  const config = await loadConfig(resolveHome(opts));
  const sans = opts.san ? parseSanList(opts.san) : [];
  const keyType = opts.key ?? (config.defaultKeyType as KeyType);
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
  await writeOutput(keyPath, keyPem, { mode: 0o600, overwrite: force });
  try {
    await writeOutput(reqPath, der.toPem(csrDer, "CERTIFICATE REQUEST"), { mode: 0o644, overwrite: force });
  } catch (e) {
    // A key without its request is of no use: remove the one just made.
    if (keyTarget.kind === "new") await unlink(keyPath).catch(() => undefined);
    throw e;
  }
  process.stderr.write(
    `wrote ${join(dirname(keyPath), basename(keyPath))} (${keyType}${pass ? ", encrypted" : ", NOT encrypted"}, mode 0600) and ${reqPath}\n`,
  );
  return { key: keyPath, req: reqPath };
}
