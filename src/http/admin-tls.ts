/**
 * The admin API's TLS server certificate, issued by Sigil to itself: a P-256 key made here
 * (never leaving the data folder, `tls/admin.key.pem`, mode 0600, unencrypted so a sealed
 * service can still offer TLS for `unseal`), a certificate from the system CA under the
 * internal `admin-tls` profile (serverAuth plus Sigil's admin-server purpose, so the CLI can
 * tell it from any other certificate of the same CA) with SANs localhost, 127.0.0.1, ::1 and
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
import { parseCertificate } from "../x509/cert-reader.js";
import { EkuOid } from "../x509/oids.js";
import type { GeneralName } from "../x509/types.js";
import type { CaRecord } from "../store/types.js";

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

/** Whether `cert` is the admin-tls kind (an older `system` certificate must be replaced). */
function isAdminServerCert(cert: X509Certificate): boolean {
  try {
    const c = parseCertificate(cert.raw);
    return c.extKeyUsage?.includes(EkuOid.sigilAdminServer) ?? false;
  } catch {
    return false;
  }
}

function certCovers(cert: X509Certificate, sans: GeneralName[]): boolean {
  if (!isAdminServerCert(cert)) return false;
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

/**
 * The CA that issues the admin API's certificates (server and admin clients): `admin.tlsCa`,
 * else the first intermediate whose default profile is `system`, else such a root.
 */
export async function adminTlsCa(config: Config, authority: Authority): Promise<CaRecord> {
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
  return ca;
}

/** Reads the current admin TLS material in `dir` (the home's tls/ folder), if any (usable even while sealed). */
export async function readAdminTls(dir: string, authority: Authority): Promise<AdminTls | undefined> {
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
 * Returns admin TLS material (in `dir`: the home's tls/ folder, app/paths.ts) that is valid for at least a third of its life and carries
 * every wanted name, issuing a new key and certificate when needed (the service must be
 * unsealed for that). `now` is the clock.
 */
export async function ensureAdminTls(
  dir: string,
  config: Config,
  authority: Authority,
  now: number,
): Promise<AdminTls> {
  const sans = wantedSans(config);
  const current = await readAdminTls(dir, authority);
  if (current) {
    const x = new X509Certificate(current.cert);
    const from = Date.parse(x.validFrom);
    const left = current.notAfter - now;
    if (left > (current.notAfter - from) / 3 && certCovers(x, sans)) return current;
  }
  const ca = await adminTlsCa(config, authority);
  const { privateKey } = generateKeyPair("p256");
  const signer = new NodeSigner(privateKey, "p256");
  const csr = await buildCsr({
    subject: [{ oid: "2.5.4.3", name: "CN", value: "localhost" }],
    sans,
    spki: signer.spki,
    signer,
  });
  const issued = await authority.issueServiceCertificate(csr, {
    caName: ca.name,
    profile: "admin-tls",
    days: VALIDITY_DAYS,
    submitter: "sigil serve",
    source: "admin-tls",
    serviceKey: "the admin TLS key",
  });
  const chain = (await authority.chain(ca.name)).filter((c) => c.parentId !== null);
  const certPem = issued.pem + chain.map((c) => toPem(c.certDer, "CERTIFICATE")).join("");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
  await writeSecretFile(join(dir, "admin.key.pem"), keyPem, { overwrite: true });
  await writePublicFile(join(dir, "admin.crt.pem"), certPem, { overwrite: true });
  return (await readAdminTls(dir, authority))!;
}
