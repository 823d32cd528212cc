/**
 * Moving in and out of an `openssl ca` directory (the handbook's genficUserCA/: index.txt,
 * serial, crlnumber, newcerts/SERIAL.pem, private/).
 *
 * Import reads everything first and writes nothing until all of it maps: the CA key goes
 * into the key store (re-encrypted under the home passphrase), then ONE store transaction
 * records the CA, every certificate (with its due OCSP answer row), the CRL number and the
 * audit event. A failed transaction removes the key again: nothing half-imported.
 *
 * Parent rule: the certificate must be self-signed (a root), or its issuer must already be
 * a CA in Sigil (same DN and the signature verifies with that CA's key). Otherwise the
 * import is refused with a hint to import the parent first.
 *
 * Export writes index.txt, index.txt.attr, serial, crlnumber, newcerts/, cacert.pem and an
 * openssl.cnf into a new folder (built aside, then renamed into place). The CA key is not
 * exported here (see `sigil ca export`).
 */
import { createHash, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { KeyType, Signer } from "../keys/types.js";
import { keyTypeOf } from "../keys/node-signer.js";
import { readPrivateKeyPem, isEncryptedPrivateKeyPem } from "../keys/pkcs8.js";
import type { CaRecord, CertRecord, Store } from "../store/types.js";
import {
  parseCertificate,
  verifyCertificateSignature,
  type CertificateDetails,
} from "../x509/cert-reader.js";
import { dnCommonName, dnEmail, formatDn, formatDnOpenssl } from "../x509/dn.js";
import { toPem } from "../x509/der.js";
import { EkuOid } from "../x509/oids.js";
import {
  formatHexNumberFile,
  formatIndex,
  parseHexNumberFile,
  parseIndex,
  type IndexEntry,
  type IndexProblem,
} from "../x509/openssl-index.js";
import { currentActor } from "../audit/actor.js";

/** What import and export need. */
export interface OpensslCaDeps {
  store: Store;
  keys: {
    /** Stores a private key encrypted under `passphrase`; returns its keyRef (`file:NAME`). */
    importKey(name: string, key: KeyObject, passphrase: Buffer): Promise<string>;
    open(keyRef: string, passphrase: Buffer): Promise<Signer>;
    remove(keyRef: string): Promise<void>;
  };
  /** The home passphrase (the one every online CA key is encrypted under). */
  homePassphrase: () => Promise<Buffer>;
  actor: string;
  clock: () => number;
}

/** Options of {@link importOpensslCa}. */
export interface ImportOpensslOptions {
  /** The `openssl ca` directory (holds index.txt). */
  dir: string;
  /** The CA certificate (PEM or DER); relative paths are tried in the cwd, then in `dir`. */
  cert: string;
  /** The CA private key (PEM, possibly encrypted); relative as `cert`. */
  key: string;
  /** The Sigil CA name; default the certificate file's name without extension. */
  name?: string;
  /** The key file's passphrase, asked only when the key is encrypted. */
  keyPassphrase: () => Promise<Buffer>;
  /** Import the lines that map and list the others, instead of refusing the whole import. */
  allowPartial?: boolean;
  /** Plan only: read and check everything, write nothing. */
  dryRun?: boolean;
}

/** What an import did (or, dry, would do). */
export interface ImportPlan {
  ca: string;
  subject: string;
  /** The parent CA's name; null for a root. */
  parent: string | null;
  keyType: KeyType;
  fingerprint: string;
  /** Certificates by their status in index.txt. */
  valid: number;
  revoked: number;
  expired: number;
  /** The last CRL number openssl used (crlnumber - 1); Sigil's next CRL is this + 1. */
  crlNumber: number;
  /** openssl's next serial (the `serial` file), hex; null without the file. */
  opensslNextSerial: string | null;
  /** Lines that could not be mapped (only with allowPartial; otherwise the import is refused). */
  skipped: IndexProblem[];
  /** Things kept only in part (e.g. a hold instruction OID), one line each. */
  notes: string[];
  /** True when the CA's own certificate was added to its parent's certificates. */
  addedToParent: boolean;
  dryRun: boolean;
}

const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new SigilError(ErrorCodes.BAD_INPUT, `${path} cannot be read (${code ?? "error"})`);
  }
}

/** Reads `p` as given (relative to the cwd), else relative to `dir`. */
async function readInputFile(p: string, dir: string, what: string): Promise<{ path: string; bytes: Buffer }> {
  const tries = isAbsolute(p) ? [p] : [resolve(p), resolve(dir, p)];
  for (const t of tries) {
    const bytes = await readOrNull(t);
    if (bytes) return { path: t, bytes };
  }
  throw new SigilError(
    ErrorCodes.FILE_NOT_FOUND,
    `${what} ${p} not found (looked in ${tries.join(" and ")})`,
  );
}

/**
 * Guesses a Sigil profile from what a certificate is: a CA, an OCSP responder, or the EKU
 * set of the user or system profile; anything else is `imported`. Deterministic, so an
 * export and re-import gives the same answer.
 */
export function guessProfile(c: CertificateDetails): string {
  if (c.isCa) return "ca";
  const eku = [...(c.extKeyUsage ?? [])].sort().join(",");
  const same = (list: string[]): boolean => eku === [...list].sort().join(",");
  if (same([EkuOid.OCSPSigning])) return "ocsp";
  if (same([EkuOid.clientAuth, EkuOid.emailProtection])) return "user";
  if (same([EkuOid.serverAuth, EkuOid.clientAuth])) return "system";
  return "imported";
}

function certRow(
  caId: number,
  c: CertificateDetails,
  status: CertRecord["status"],
  revokedAt: number | null,
  reason: number | null,
  profile = guessProfile(c),
): Omit<CertRecord, "id"> {
  const emailSan = c.sans.find((s) => s.type === "email")?.value;
  return {
    caId,
    serialHex: c.serialHex,
    subject: formatDn(c.subject),
    commonName: dnCommonName(c.subject) ?? null,
    email: dnEmail(c.subject) ?? emailSan ?? null,
    sans: c.sans,
    profile,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    der: c.der,
    fingerprint: c.fingerprint,
    status,
    revokedAt,
    revocationReason: reason,
    requestId: null,
    issuedAt: c.notBefore,
  };
}

interface Prepared {
  plan: ImportPlan;
  caCert: CertificateDetails;
  parent: CaRecord | null;
  key: KeyObject;
  items: Array<{ entry: IndexEntry; cert: CertificateDetails }>;
  dir: string;
}

/** Reads and checks everything an import needs; writes nothing. */
async function prepareImport(d: OpensslCaDeps, opts: ImportOpensslOptions): Promise<Prepared> {
  const dir = resolve(opts.dir);
  const certFile = await readInputFile(opts.cert, dir, "CA certificate");
  let caCert: CertificateDetails;
  try {
    caCert = parseCertificate(certFile.bytes);
  } catch (e) {
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${certFile.path}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!caCert.isCa)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${certFile.path} is not a CA certificate (basicConstraints CA:TRUE)`,
    );
  const name = opts.name ?? basename(certFile.path, extname(certFile.path));
  if (!CA_NAME.test(name))
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad CA name "${name}": use letters, digits, '.', '_' and '-' (at most 64); give --name`,
    );
  if (await d.store.getCa(name))
    throw new SigilError(ErrorCodes.CA_EXISTS, `a CA named "${name}" already exists`);
  const cas = await d.store.listCas();
  const same = cas.find((c) => sha256(c.certDer) === caCert.fingerprint);
  if (same)
    throw new SigilError(ErrorCodes.CA_EXISTS, `this certificate is already CA "${same.name}" in Sigil`);

  // The parent (RFC 5280 §6.1: issuer name chaining and signature).
  let parent: CaRecord | null = null;
  if (caCert.issuerDer.equals(caCert.subjectDer) && verifyCertificateSignature(caCert, caCert.spki)) {
    parent = null;
  } else {
    parent =
      cas.find((c) => {
        const pc = parseCertificate(c.certDer);
        return pc.subjectDer.equals(caCert.issuerDer) && verifyCertificateSignature(caCert, pc.spki);
      }) ?? null;
    if (!parent)
      throw new SigilError(
        ErrorCodes.CA_NOT_FOUND,
        `the issuer of ${certFile.path} (${formatDnOpenssl(caCert.issuer)}) is not a CA in Sigil: import the parent first (sigil import openssl --dir PARENT_DIR --cert PARENT.crt --key PARENT.key)`,
      );
  }

  // index.txt and the certificate bodies.
  const indexPath = join(dir, "index.txt");
  const indexBytes = await readOrNull(indexPath);
  if (!indexBytes)
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${indexPath} not found: not an openssl ca directory`);
  const parsed = parseIndex(indexBytes.toString("utf8"));
  const problems: IndexProblem[] = [...parsed.problems];
  const items: Prepared["items"] = [];
  const notes: string[] = [];
  const now = d.clock();
  for (const entry of parsed.entries) {
    const bad = (reason: string): void => {
      problems.push({ line: entry.line, serialHex: entry.serialHex, reason });
    };
    const rel = `newcerts/${entry.serialText}.pem`;
    const bytes = await readOrNull(join(dir, rel));
    if (!bytes) {
      bad(`${rel} is missing`);
      continue;
    }
    let c: CertificateDetails;
    try {
      c = parseCertificate(bytes);
    } catch (e) {
      bad(`${rel}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (c.serialHex !== entry.serialHex) {
      bad(`${rel} holds serial ${c.serialHex.toUpperCase()}, not ${entry.serialText}`);
      continue;
    }
    if (!c.issuerDer.equals(caCert.subjectDer) || !verifyCertificateSignature(c, caCert.spki)) {
      bad(`${rel} was not issued by ${formatDnOpenssl(caCert.subject)}`);
      continue;
    }
    if (Math.abs(c.notAfter - entry.expiry) >= 1000) {
      bad(`expiry date differs from ${rel} (${new Date(c.notAfter).toISOString()})`);
      continue;
    }
    if (entry.status === "E" && c.notAfter > now) {
      bad(`status E but ${rel} is valid until ${new Date(c.notAfter).toISOString()}`);
      continue;
    }
    if (entry.revocationExtra !== null)
      notes.push(
        `index.txt line ${entry.line}: ${entry.reasonName} "${entry.revocationExtra}" is kept as reason ${entry.reason} only`,
      );
    items.push({ entry, cert: c });
  }
  problems.sort((a, b) => a.line - b.line);
  if (problems.length > 0 && !opts.allowPartial) {
    const first = problems[0]!;
    const more =
      problems.length > 1
        ? ` (and ${problems.length - 1} more bad line${problems.length > 2 ? "s" : ""}: ${problems
            .slice(1, 11)
            .map((p) => p.line)
            .join(", ")}${problems.length > 11 ? ", ..." : ""})`
        : "";
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `${indexPath} line ${first.line}: ${first.reason}${more}; nothing imported (--allow-partial imports the rest and lists these)`,
      { details: { problems } },
    );
  }

  // serial and crlnumber: the NEXT numbers openssl would use.
  const numberFile = async (f: string): Promise<bigint | null> => {
    const b = await readOrNull(join(dir, f));
    if (!b) return null;
    const n = parseHexNumberFile(b.toString("utf8"));
    if (n === null) throw new SigilError(ErrorCodes.BAD_INPUT, `${join(dir, f)}: not a hex number`);
    return n;
  };
  const nextSerial = await numberFile("serial");
  const nextCrl = await numberFile("crlnumber");
  if (nextCrl !== null && nextCrl > BigInt(Number.MAX_SAFE_INTEGER))
    throw new SigilError(ErrorCodes.BAD_INPUT, `${join(dir, "crlnumber")}: CRL number too large`);
  const crlNumber = nextCrl === null || nextCrl === 0n ? 0 : Number(nextCrl - 1n);

  // The key: must be the certificate's (RFC 5280 §4.1.2.7).
  const keyFile = await readInputFile(opts.key, dir, "CA key");
  const pem = keyFile.bytes.toString("utf8");
  const keyPass = isEncryptedPrivateKeyPem(pem) ? await opts.keyPassphrase() : undefined;
  let key: KeyObject;
  try {
    key = await readPrivateKeyPem(pem, keyPass, keyFile.path);
  } catch (e) {
    if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
      throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong passphrase for the key in ${keyFile.path}`);
    if (keyPass === undefined || !isSigilError(e, ErrorCodes.BAD_INPUT)) throw e;
    // `openssl genrsa -des3` (OpenSSL 3) writes PBES2 with des-ede3-cbc, which pkcs8.ts does
    // not decrypt: OpenSSL itself (through Node) reads every cipher openssl wrote.
    try {
      key = createPrivateKey({ key: pem, format: "pem", passphrase: keyPass });
    } catch {
      throw new SigilError(
        ErrorCodes.WRONG_PASSPHRASE,
        `the key in ${keyFile.path} cannot be decrypted (wrong passphrase?)`,
      );
    }
  }
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  if (!spki.equals(caCert.spki))
    throw new SigilError(ErrorCodes.BAD_INPUT, `the key in ${keyFile.path} does not match ${certFile.path}`);
  const keyType = keyTypeOf(key);

  const count = (s: IndexEntry["status"]): number => items.filter((i) => i.entry.status === s).length;
  const addedToParent = parent ? !(await d.store.getCert(parent.id, caCert.serialHex)) : false;
  return {
    plan: {
      ca: name,
      subject: formatDn(caCert.subject),
      parent: parent?.name ?? null,
      keyType,
      fingerprint: caCert.fingerprint,
      valid: count("V"),
      revoked: count("R"),
      expired: count("E"),
      crlNumber,
      opensslNextSerial: nextSerial === null ? null : nextSerial.toString(16),
      skipped: problems,
      notes,
      addedToParent,
      dryRun: opts.dryRun === true,
    },
    caCert,
    parent,
    key,
    items,
    dir,
  };
}

/** Checks that `pass` opens the online file keys of the CAs already in Sigil (one passphrase per home). */
async function checkHomePassphrase(d: OpensslCaDeps, pass: Buffer): Promise<void> {
  const online = (await d.store.listCas()).filter((c) => c.keyRef.startsWith("file:"));
  const first = online[0];
  if (!first) return;
  try {
    await d.keys.open(first.keyRef, pass);
  } catch (e) {
    if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
      throw new SigilError(
        ErrorCodes.WRONG_PASSPHRASE,
        `wrong passphrase (it does not open the key of CA ${first.name}); the imported key must share it`,
      );
    throw e;
  }
}

/**
 * `sigil import openssl`: makes an `openssl ca` directory a Sigil CA. Status map: `V` and
 * `E` are stored valid (Sigil derives expired from notAfter), `R` revoked with its date and
 * reason (RFC 5280 §5.3.1). Sigil's next CRL number continues after openssl's last
 * (RFC 5280 §5.2.3: monotonically increasing); new serials are 128-bit random (serial.ts),
 * and the store's UNIQUE(ca, serial) refuses any collision with an imported one.
 */
export async function importOpensslCa(d: OpensslCaDeps, opts: ImportOpensslOptions): Promise<ImportPlan> {
  const p = await prepareImport(d, opts);
  if (opts.dryRun) return p.plan;
  const pass = await d.homePassphrase();
  await checkHomePassphrase(d, pass);
  const keyRef = await d.keys.importKey(p.plan.ca, p.key, pass);
  try {
    await d.store.transaction(async (tx) => {
      const now = d.clock();
      const userish = p.items.filter((i) => guessProfile(i.cert) === "user").length;
      const systemish = p.items.filter((i) => guessProfile(i.cert) === "system").length;
      const ca = await tx.insertCa({
        name: p.plan.ca,
        parentId: p.parent?.id ?? null,
        subject: p.plan.subject,
        certDer: p.caCert.der,
        keyRef,
        keyType: p.plan.keyType,
        serialHex: p.caCert.serialHex,
        notBefore: p.caCert.notBefore,
        notAfter: p.caCert.notAfter,
        pathLen: p.caCert.pathLen ?? null,
        defaultProfile: userish > systemish ? "user" : "system",
        crlNumber: p.plan.crlNumber,
        createdAt: now,
      });
      if (p.parent && p.plan.addedToParent)
        await tx.insertCert(certRow(p.parent.id, p.caCert, "valid", null, null, "ca"));
      for (const { entry, cert } of p.items)
        await tx.insertCert(
          certRow(
            ca.id,
            cert,
            entry.status === "R" ? "revoked" : "valid",
            entry.revokedAt,
            entry.status === "R" ? entry.reason : null,
          ),
        );
      await tx.appendAudit({
        at: now,
        actor: currentActor(d.actor),
        action: "ca.import",
        target: ca.name,
        details: {
          from: "openssl ca",
          dir: p.dir,
          parent: p.plan.parent,
          subject: p.plan.subject,
          fingerprint: p.plan.fingerprint,
          keyType: p.plan.keyType,
          valid: p.plan.valid,
          revoked: p.plan.revoked,
          expired: p.plan.expired,
          crlNumber: p.plan.crlNumber,
          opensslNextSerial: p.plan.opensslNextSerial,
          skipped: p.plan.skipped.map((s) => ({ line: s.line, reason: s.reason })),
        },
      });
    });
  } catch (e) {
    await d.keys.remove(keyRef).catch(() => undefined);
    throw e;
  }
  return p.plan;
}

/** What an export wrote. */
export interface ExportOpensslResult {
  dir: string;
  certificates: number;
  revoked: number;
  /** The `serial` file's value (hex): the next serial openssl would use. */
  nextSerial: string;
  /** The `crlnumber` file's value: the next CRL number. */
  nextCrlNumber: number;
  /** Serials whose reason openssl has no name for (written as unspecified). */
  reasonsDowngraded: string[];
}

/** The openssl.cnf written beside an export, enough for `openssl ca -gencrl` and `-revoke`. */
function opensslCnf(dir: string): string {
  return `# Written by 'sigil export openssl'. The CA key is not exported here: give it with
# -keyfile (e.g. the key of 'sigil ca export', or the key you imported from).
[ ca ]
default_ca = CA_default

[ CA_default ]
dir              = ${dir}
database         = $dir/index.txt
new_certs_dir    = $dir/newcerts
serial           = $dir/serial
crlnumber        = $dir/crlnumber
certificate      = $dir/cacert.pem
unique_subject   = no
default_md       = sha256
default_crl_days = 7
policy           = policy_any

[ policy_any ]
commonName = supplied
`;
}

/**
 * `sigil export openssl --ca NAME --dir OUT`: writes the CA's certificates as an `openssl
 * ca` directory. OUT must not exist or be empty; the folder is built beside it and renamed
 * into place, so OUT is either complete or absent. `E` marks certificates past notAfter (as
 * `openssl ca -updatedb` would); `serial` is one past the largest serial, `crlnumber` one
 * past Sigil's last CRL number.
 */
export async function exportOpensslCa(
  d: OpensslCaDeps,
  caName: string,
  outDir: string,
): Promise<ExportOpensslResult> {
  const ca = await d.store.getCa(caName);
  if (!ca) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `unknown CA "${caName}"`);
  const out = resolve(outDir);
  let existing: string[] | null = null;
  try {
    existing = await readdir(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (existing && existing.length > 0)
    throw new SigilError(ErrorCodes.FILE_EXISTS, `${out} is not empty: export into a new or empty folder`);
  const now = d.clock();
  const certs = await d.store.findCerts({ caId: ca.id, now });
  const { text, reasonsDowngraded } = formatIndex(
    certs.map((c) => ({
      serialHex: c.serialHex,
      notAfter: c.notAfter,
      revokedAt: c.status === "revoked" ? (c.revokedAt ?? 0) : null,
      reason: c.status === "revoked" ? c.revocationReason : null,
      subject: formatDnOpenssl(parseCertificate(c.der).subject),
      expired: c.notAfter < now,
    })),
  );
  const maxSerial = certs.reduce((m, c) => {
    const v = BigInt("0x" + c.serialHex);
    return v > m ? v : m;
  }, 0n);
  const nextSerial = maxSerial + 1n;
  const tmp = join(dirname(out), `.${basename(out)}.sigil-export-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(join(tmp, "newcerts"), { recursive: true, mode: 0o755 });
    await mkdir(join(tmp, "private"), { mode: 0o700 });
    for (const c of certs) {
      const name = formatHexNumberFile(BigInt("0x" + c.serialHex)).trim();
      await writeFile(join(tmp, "newcerts", `${name}.pem`), toPem(c.der, "CERTIFICATE"));
    }
    await writeFile(join(tmp, "index.txt"), text);
    await writeFile(join(tmp, "index.txt.attr"), "unique_subject = no\n");
    await writeFile(join(tmp, "serial"), formatHexNumberFile(nextSerial));
    await writeFile(join(tmp, "crlnumber"), formatHexNumberFile(BigInt(ca.crlNumber + 1)));
    await writeFile(join(tmp, "cacert.pem"), toPem(ca.certDer, "CERTIFICATE"));
    await writeFile(join(tmp, "openssl.cnf"), opensslCnf(out));
    if (existing) await rmdir(out);
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
  await d.store.transaction((tx) =>
    tx.appendAudit({
      at: now,
      actor: currentActor(d.actor),
      action: "ca.export.openssl",
      target: ca.name,
      details: { dir: out, certificates: certs.length, crlNumber: ca.crlNumber },
    }),
  );
  return {
    dir: out,
    certificates: certs.length,
    revoked: certs.filter((c) => c.status === "revoked").length,
    nextSerial: nextSerial.toString(16),
    nextCrlNumber: ca.crlNumber + 1,
    reasonsDowngraded,
  };
}
