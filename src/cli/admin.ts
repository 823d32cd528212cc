/**
 * `sigil admin token create|list|revoke`, `sigil admin whoami`, `sigil unseal`,
 * `sigil seal`, `sigil status`: the security admin's commands. Tokens are made locally
 * (whoever can write the data folder is the security admin by custody) or through the
 * admin API with a security token (`--server`). Unseal and seal always go to the running
 * service: `--server`, SIGIL_SERVER, else the admin socket (SIGIL_ADMIN_SOCKET, else
 * `admin.sock` in the data folder).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { randomBytes } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import { cliActor, openContext, resolveHome, type GlobalOptions } from "./context.js";
import { homeAdminSocket } from "./local-service.js";
import { api, remoteTarget, type RemoteOptions } from "./remote.js";
import { printJson, printTable, iso } from "./output.js";
import { tokenView } from "../authority/views.js";
import type { InstanceView, LeaseView } from "../authority/instances.js";

type Opts = GlobalOptions & RemoteOptions;

/** `sigil admin token create --role R --name N [--expires 90d]`: prints the token once. */
export async function tokenCreate(
  opts: Opts & { role: string; name: string; expires: string; json?: boolean },
) {
  const { parseDuration, createToken } = await import("../authority/tokens.js");
  const ttlMs = parseDuration(opts.expires);
  let out: { token: string; id: string; name: string; role: string; expiresAt: string | null };
  if (remoteTarget(opts)) {
    out = await api(opts, "POST", "/api/v1/admin/tokens", {
      name: opts.name,
      role: opts.role,
      expires: opts.expires,
    });
  } else {
    const ctx = await openContext(opts);
    try {
      const key = await ctx.tokenKey();
      const { token, record } = await createToken(
        { store: ctx.store, clock: () => Date.now(), random: (n) => randomBytes(n), key },
        { name: opts.name, role: opts.role, ttlMs, createdBy: cliActor() },
      );
      out = { token, id: record.id, name: record.name, role: record.role, expiresAt: iso(record.expiresAt) };
    } finally {
      await ctx.close();
    }
  }
  if (opts.json) return printJson(out);
  process.stdout.write(out.token + "\n");
  process.stderr.write(
    `token ${out.id} for ${out.name} (${out.role}), expires ${out.expiresAt}: shown only now; store it in a 0600 file (--token-file) or SIGIL_TOKEN\n`,
  );
}

/**
 * `sigil admin client-cert NAME [--out-dir DIR] [--days N]`: a client certificate for the
 * admin API under mutual TLS (custody: whoever holds the data folder and the passphrase).
 * A P-256 key is made here and written with mode 0600; the certificate comes from the
 * admin TLS CA under the internal `admin-client` profile (clientAuth plus Sigil's
 * admin-client purpose, RFC 5280 §4.2.1.12), which no request channel can ask for. The
 * issuance is audited; existing files are never replaced.
 */
export async function clientCert(
  name: string,
  opts: GlobalOptions & { outDir?: string; days?: number; json?: boolean },
): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad name ${JSON.stringify(name)}: letters, digits, '.', '_' and '-' (up to 64)`,
    );
  const dir = opts.outDir ?? ".";
  const keyPath = join(dir, `${name}.key.pem`);
  const certPath = join(dir, `${name}.crt.pem`);
  for (const p of [keyPath, certPath])
    if (existsSync(p)) throw new SigilError(ErrorCodes.FILE_EXISTS, `${p} exists: not replacing it`);
  const { generateKeyPair } = await import("../keys/generate.js");
  const { NodeSigner } = await import("../keys/node-signer.js");
  const { buildCsr } = await import("../x509/csr-build.js");
  const { writePublicFile, writeSecretFile } = await import("../keys/file-keystore.js");
  const { adminTlsCa } = await import("../http/admin-tls.js");
  const ctx = await openContext(opts);
  try {
    const ca = await adminTlsCa(ctx.config, ctx.authority);
    const { privateKey } = generateKeyPair("p256");
    const signer = new NodeSigner(privateKey, "p256");
    const csr = await buildCsr({
      subject: [{ oid: "2.5.4.3", name: "CN", value: name }],
      sans: [],
      spki: signer.spki,
      signer,
    });
    const issued = await ctx.authority.issueServiceCertificate(csr, {
      caName: ca.name,
      profile: "admin-client",
      ...(opts.days !== undefined ? { days: opts.days } : {}),
      submitter: cliActor(),
      source: `admin-client:${name}`,
      serviceKey: `the admin client key ${name}`,
    });
    const chain = (await ctx.authority.chain(ca.name)).filter((c) => c.parentId !== null);
    const { toPem } = await import("../x509/der.js");
    await mkdir(dir, { recursive: true });
    await writeSecretFile(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    await writePublicFile(certPath, issued.pem + chain.map((c) => toPem(c.certDer, "CERTIFICATE")).join(""));
    const out = {
      name,
      ca: ca.name,
      serial: issued.cert.serialHex,
      notAfter: new Date(issued.cert.notAfter).toISOString(),
      key: keyPath,
      cert: certPath,
    };
    if (opts.json) return printJson(out);
    process.stderr.write(
      `admin client certificate ${out.serial} for ${name} from CA ${out.ca}, until ${out.notAfter}: ${certPath}, key ${keyPath} (0600); use SIGIL_CLIENT_CERT and SIGIL_CLIENT_KEY\n`,
    );
  } finally {
    await ctx.close();
  }
}

/** `sigil admin token list`. */
export async function tokenList(opts: Opts & { json?: boolean }): Promise<void> {
  let rows: Array<Record<string, unknown>>;
  if (remoteTarget(opts)) {
    rows = (await api<{ tokens: Array<Record<string, unknown>> }>(opts, "GET", "/api/v1/admin/tokens"))
      .tokens;
  } else {
    const ctx = await openContext(opts);
    try {
      rows = (await ctx.store.listAdminTokens()).map(tokenView);
    } finally {
      await ctx.close();
    }
  }
  if (opts.json) return printJson(rows);
  const now = Date.now();
  printTable(
    ["ID", "NAME", "ROLE", "STATE", "EXPIRES", "CREATED BY"],
    rows.map((t) => [
      String(t.id),
      String(t.name),
      String(t.role),
      t.revokedAt
        ? "revoked"
        : Date.parse(String(t.expiresAt)) <= now
          ? "expired"
          : t.legacy
            ? "legacy (re-create)"
            : "active",
      String(t.expiresAt),
      String(t.createdBy),
    ]),
  );
}

/** `sigil admin token revoke ID|NAME`. */
export async function tokenRevoke(which: string, opts: Opts): Promise<void> {
  if (remoteTarget(opts)) {
    const r = await api<{ id: string; name: string }>(
      opts,
      "DELETE",
      `/api/v1/admin/tokens/${encodeURIComponent(which)}`,
    );
    process.stderr.write(`revoked token ${r.id} (${r.name})\n`);
    return;
  }
  const { revokeToken } = await import("../authority/tokens.js");
  const ctx = await openContext(opts);
  try {
    const t = await revokeToken(
      { store: ctx.store, clock: () => Date.now(), random: (n) => randomBytes(n) },
      which,
      cliActor(),
    );
    process.stderr.write(`revoked token ${t.id} (${t.name}, ${t.role})\n`);
  } finally {
    await ctx.close();
  }
}

/** `sigil admin whoami`: the token's name, role and what it may do. */
export async function whoami(opts: Opts): Promise<void> {
  const r = await api<{ name: string; role: string; tokenId: string; may: string[] }>(
    serviceOpts(opts),
    "GET",
    "/api/v1/admin/whoami",
  );
  process.stdout.write(`${r.name} (${r.role}), token ${r.tokenId}\nmay: ${r.may.join(", ")}\n`);
}

/** The running service: --server, SIGIL_SERVER, else the data folder's admin socket. */
function serviceOpts(opts: Opts): Opts {
  if (remoteTarget(opts)) return opts;
  // SIGIL_ADMIN_SOCKET as given (relative: to the working folder), else the home's default.
  const sock = homeAdminSocket(resolveHome(opts));
  if (!existsSync(sock))
    throw new SigilError(
      ErrorCodes.REMOTE,
      `no admin socket at ${sock}: is sigil serve running? (or give --server URL / SIGIL_SERVER)`,
    );
  return { ...opts, server: `unix:${sock}` };
}

/** `sigil unseal [--share FILE]...`: with the passphrase, or with k of n key shares. */
export async function unseal(opts: Opts & { share?: string[] }): Promise<void> {
  const target = serviceOpts(opts);
  let body: Record<string, unknown>;
  if (opts.share && opts.share.length > 0) {
    const shares = [];
    for (const f of opts.share) {
      let text: string;
      try {
        text = await readFile(f, "utf8");
      } catch {
        throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `share file ${f} not found`);
      }
      shares.push({ name: basename(f), text });
    }
    body = { shares };
  } else {
    const { resolvePassphrase, promptHidden } = await import("../keys/passphrase.js");
    const pass = await resolvePassphrase({
      passphraseFile: opts.passphraseFile,
      env: process.env,
      isTty: Boolean(process.stdin.isTTY),
      prompt: promptHidden,
      purpose: "the CA keys (unseal)",
    });
    body = { passphrase: pass.toString("utf8") };
    pass.fill(0);
  }
  const r = await api<{ keys: string[] }>(target, "POST", "/api/v1/admin/unseal", body);
  process.stderr.write(
    `unsealed: ${r.keys.length} CA key(s) open (${r.keys.join(", ") || "none needs a passphrase"})\n`,
  );
}

/** `sigil seal`: the service drops its keys from memory. */
export async function seal(opts: Opts): Promise<void> {
  await api(serviceOpts(opts), "POST", "/api/v1/admin/seal");
  process.stderr.write("sealed: the service holds no keys; OCSP and CRLs are served pre-signed\n");
}

/** `sigil status`: sealed or not, and the CAs' custody. */
export async function status(opts: Opts & { json?: boolean }): Promise<void> {
  const r = await api<{
    sealed: boolean;
    cas: Array<{
      name: string;
      custody: string;
      notAfter: string;
      status?: string;
      revokedAt?: string | null;
    }>;
    /** Absent from a service older than issue 18. */
    instances?: InstanceView[];
    leases?: LeaseView[];
  }>(serviceOpts(opts), "GET", "/api/v1/admin/status");
  if (opts.json) return printJson(r);
  process.stdout.write(`${r.sealed ? "sealed" : "unsealed"}\n`);
  for (const c of r.cas) {
    const standing =
      c.status && c.status !== "active"
        ? ` (${c.status}${c.revokedAt ? ` ${c.revokedAt.slice(0, 10)}` : ""})`
        : "";
    process.stdout.write(`  ${c.name.padEnd(24)} ${c.custody.padEnd(8)} until ${c.notAfter}${standing}\n`);
  }
  // The instances on the database and who runs each job (a section after the CAs).
  if (r.instances && r.instances.length > 0) {
    process.stdout.write("instances:\n");
    for (const i of r.instances) {
      const state = i.stale ? "stale" : i.sealed ? "sealed" : "unsealed";
      const jobs = i.jobs.length > 0 ? ` jobs ${i.jobs.join(",")}` : "";
      process.stdout.write(
        `  ${i.name.padEnd(24)} ${state.padEnd(8)} ${i.address} seen ${i.lastSeen}${jobs}\n`,
      );
    }
  }
  if (r.leases && r.leases.length > 0) {
    process.stdout.write("leases:\n");
    for (const l of r.leases) {
      const by = l.instance ?? l.holder;
      process.stdout.write(
        `  ${l.job.padEnd(24)} ${l.expired ? `expired (was ${by})` : by} until ${l.expiresAt}\n`,
      );
    }
  }
}
