/**
 * The admin API's TLS server certificate, issued by Sigil to itself: a P-256 key made here
 * (never leaving the data folder, `tls/admin.key.pem`, mode 0600, unencrypted so a sealed
 * service can still offer TLS for `unseal`), a certificate from the system CA under the
 * `system` profile (serverAuth) with SANs localhost, 127.0.0.1, ::1 and
 * `admin.hostnames`, renewed when a third of its life is left or the names changed.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { Authority } from "../authority/authority.js";
import { generateKeyPair } from "../keys/generate.js";
import { NodeSigner } from "../keys/node-signer.js";
import { writePublicFile, writeSecretFile } from "../keys/file-keystore.js";
import { buildCsr } from "../x509/csr-build.js";
import { toPem } from "../x509/der.js";
import type { GeneralName } from "../x509/types.js";

/** The admin TLS material, as node:tls wants it. */
export interface AdminTls {
  key: Buffer;
  /** The server certificate followed by its CA chain (without the root). */
  cert: Buffer;
  /** Every Sigil CA certificate (for client certificates under mutual TLS). */
  cas: Buffer;
  notAfter: number;
}

const VALIDITY_DAYS = 90;

/** The names the certificate must carry. */
function wantedSans(config: Config): GeneralName[] {
  const names = ["localhost", "127.0.0.1", "::1", ...config.admin.hostnames];
  const seen = new Set<string>();
  const out: GeneralName[] = [];
  for (const n of names) {
    const key = n.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(isIP(n) ? { type: "ip", value: n } : { type: "dns", value: n });
  }
  return out;
}

function certCovers(cert: X509Certificate, sans: GeneralName[]): boolean {
  const alt = (cert.subjectAltName ?? "").split(/,\s*/);
  return sans.every((s) =>
    s.type === "ip"
      ? alt.some((a) => a.startsWith("IP Address:") && normIp(a.slice(11)) === normIp(s.value))
      : alt.includes(`DNS:${s.value}`),
  );
}

function normIp(s: string): string {
  return s === "0:0:0:0:0:0:0:1" ? "::1" : s.toLowerCase();
}

/** Reads the current admin TLS material, if any (usable even while sealed). */
export async function readAdminTls(home: string, authority: Authority): Promise<AdminTls | undefined> {
  const dir = join(home, "tls");
  try {
    const [key, cert] = await Promise.all([
      readFile(join(dir, "admin.key.pem")),
      readFile(join(dir, "admin.crt.pem")),
    ]);
    const notAfter = Date.parse(new X509Certificate(cert).validTo);
    const cas = Buffer.from((await authority.listCas()).map((c) => toPem(c.certDer, "CERTIFICATE")).join(""));
    return { key, cert, cas, notAfter };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Returns admin TLS material that is valid for at least a third of its life and carries
 * every wanted name, issuing a new key and certificate when needed (the service must be
 * unsealed for that). `now` is the clock.
 */
export async function ensureAdminTls(
  home: string,
  config: Config,
  authority: Authority,
  now: number,
): Promise<AdminTls> {
  const sans = wantedSans(config);
  const current = await readAdminTls(home, authority);
  if (current) {
    const x = new X509Certificate(current.cert);
    const from = Date.parse(x.validFrom);
    const left = current.notAfter - now;
    if (left > (current.notAfter - from) / 3 && certCovers(x, sans)) return current;
  }
  const cas = await authority.listCas();
  const ca = config.admin.tlsCa
    ? await authority.getCa(config.admin.tlsCa)
    : (cas.find((c) => c.defaultProfile === "system" && c.parentId !== null) ??
      cas.find((c) => c.defaultProfile === "system"));
  if (!ca)
    throw new SigilError(
      ErrorCodes.CONFIG,
      "no CA can issue the admin TLS certificate: set admin.tlsCa in sigil.json",
    );
  const { privateKey } = generateKeyPair("p256");
  const signer = new NodeSigner(privateKey, "p256");
  const csr = await buildCsr({
    subject: [{ oid: "2.5.4.3", name: "CN", value: "localhost" }],
    sans,
    spki: signer.spki,
    signer,
  });
  const issued = await authority.sign(csr, {
    caName: ca.name,
    profile: "system",
    days: VALIDITY_DAYS,
    clamp: true,
    channel: "cli",
    submitter: "sigil serve",
    source: "admin-tls",
    serviceKey: "the admin TLS key",
  });
  const chain = (await authority.chain(ca.name)).filter((c) => c.parentId !== null);
  const certPem = issued.pem + chain.map((c) => toPem(c.certDer, "CERTIFICATE")).join("");
  const dir = join(home, "tls");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  await writeSecretFile(join(dir, "admin.key.pem"), keyPem, { overwrite: true });
  await writePublicFile(join(dir, "admin.crt.pem"), certPem, { overwrite: true });
  return (await readAdminTls(home, authority))!;
}
