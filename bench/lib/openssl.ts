/**
 * The OpenSSL side of the benchmarks: `openssl speed` parsing, a minimal `openssl ca`
 * directory (the handbook's setup), and synthetic index.txt files of any size.
 */
import { copyFileSync, createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { run } from "./proc.js";

/** Key types compared: the CA key type is the key type measured. */
export type BenchKeyType = "p256" | "rsa2048";

/** Raw signing rates of one key type, from `openssl speed`. */
export interface SpeedResult {
  signPerSec: number;
  verifyPerSec: number;
  /** 1 / (1/sign + 1/verify): one signature made and one checked per certificate. */
  signVerifyPerSec: number;
}

/** Parses the result line of `openssl speed ecdsap256` or `openssl speed rsa2048`. */
export function parseSpeed(out: string, keyType: BenchKeyType): SpeedResult {
  const line = out
    .split("\n")
    .find((l) => (keyType === "p256" ? /256 bits ecdsa \(nistp256\)/ : /^rsa 2048 bits/).test(l.trim()));
  if (!line) throw new Error(`openssl speed: no result line for ${keyType} in:\n${out}`);
  const nums = line.trim().split(/\s+/).slice(-2).map(Number);
  const [signPerSec, verifyPerSec] = nums as [number, number];
  if (!(signPerSec > 0 && verifyPerSec > 0)) throw new Error(`openssl speed: cannot parse "${line}"`);
  return { signPerSec, verifyPerSec, signVerifyPerSec: 1 / (1 / signPerSec + 1 / verifyPerSec) };
}

/** Runs `openssl speed [-multi N] -seconds S ecdsap256|rsa2048` and parses it (N processes: their sum). */
export function opensslSpeed(keyType: BenchKeyType, seconds: number, multi = 1): SpeedResult {
  const alg = keyType === "p256" ? "ecdsap256" : "rsa2048";
  const r = run("openssl", [
    "speed",
    ...(multi > 1 ? ["-multi", String(multi)] : []),
    "-seconds",
    String(seconds),
    alg,
  ]);
  return parseSpeed(r.stdout, keyType);
}

/** `openssl version` in one line. */
export function opensslVersion(): string {
  return run("openssl", ["version"]).stdout.trim();
}

/** A CA key and certificate made by OpenSSL, reused by every CA directory of one key type. */
export interface OpensslCaKey {
  keyType: BenchKeyType;
  keyPath: string;
  /**
   * The same key encrypted as Sigil encrypts its keys (PKCS#8 PBES2, PBKDF2-HMAC-SHA256
   * with 600,000 iterations, AES-256-CBC), passphrase {@link ENCRYPTED_KEY_PASS}: for
   * comparisons with the same protection at rest.
   */
  encryptedKeyPath: string;
  certPath: string;
}

/** Passphrase of {@link OpensslCaKey.encryptedKeyPath}. */
export const ENCRYPTED_KEY_PASS = "sigil-bench-passphrase";

/** Public URLs as Sigil puts them in certificates (config publicUrl default). */
const BASE_URL = "http://127.0.0.1:8080";

function caConfig(dir: string, keyType: BenchKeyType): string {
  // Close to Sigil's "system" profile: CA:FALSE critical, keyUsage critical (digitalSignature,
  // plus keyEncipherment for RSA), serverAuth+clientAuth, SKI, AKI, CDP and AIA.
  // Not matched: Sigil also adds a DNS SAN taken from the CN; with copy_extensions = none
  // openssl ca has no way to do that, so its certificates carry one extension fewer.
  const ku = keyType === "rsa2048" ? "digitalSignature, keyEncipherment" : "digitalSignature";
  return `# openssl ca configuration for bench/issue (one CA, the handbook's layout)
[ ca ]
default_ca = CA_bench

[ CA_bench ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 3650
default_crl_days = 7
policy = policy_anything
unique_subject = no
copy_extensions = none
x509_extensions = system_ext
crl_extensions = crl_ext

[ policy_anything ]
countryName = optional
stateOrProvinceName = optional
localityName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied
emailAddress = optional

[ system_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, ${ku}
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
crlDistributionPoints = URI:${BASE_URL}/crl/bench.crl
authorityInfoAccess = OCSP;URI:${BASE_URL}/ocsp, caIssuers;URI:${BASE_URL}/ca/bench.crt

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
x509_extensions = v3_ca
prompt = no

[ req_dn ]
CN = Bench OpenSSL ${keyType} CA

[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;
}

/**
 * Makes a CA key (unencrypted, plus an encrypted copy) and a self-signed CA certificate of
 * `keyType` in `dir`.
 */
export function makeOpensslCaKey(dir: string, keyType: BenchKeyType): OpensslCaKey {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, "ca.key");
  const certPath = join(dir, "ca.pem");
  const cnf = join(dir, "req.cnf");
  writeFileSync(cnf, caConfig(dir, keyType));
  run(
    "openssl",
    keyType === "p256"
      ? ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath]
      : ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", keyPath],
  );
  const encryptedKeyPath = join(dir, "ca-enc.key");
  run("openssl", [
    "pkcs8",
    "-topk8",
    "-v2",
    "aes-256-cbc",
    "-v2prf",
    "hmacWithSHA256",
    "-iter",
    "600000",
    "-in",
    keyPath,
    "-passout",
    `pass:${ENCRYPTED_KEY_PASS}`,
    "-out",
    encryptedKeyPath,
  ]);
  run("openssl", [
    "req",
    "-config",
    cnf,
    "-new",
    "-x509",
    "-key",
    keyPath,
    "-days",
    "7300",
    "-out",
    certPath,
  ]);
  return { keyType, keyPath, encryptedKeyPath, certPath };
}

/** One `openssl ca` directory: index.txt, serial, crlnumber, newcerts/, openssl.cnf. */
export interface OpensslCaDir {
  dir: string;
  cnf: string;
  index: string;
  caPem: string;
}

/** A fresh CA directory with an empty index.txt, using the key and certificate of `key`. */
export function makeOpensslCaDir(dir: string, key: OpensslCaKey): OpensslCaDir {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "newcerts"), { recursive: true });
  copyFileSync(key.keyPath, join(dir, "ca.key"));
  copyFileSync(key.certPath, join(dir, "ca.pem"));
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "index.txt.attr"), "unique_subject = no\n");
  // Above every synthetic serial written by writeIndex.
  writeFileSync(join(dir, "serial"), "7F00000000000001\n");
  writeFileSync(join(dir, "crlnumber"), "01\n");
  const cnf = join(dir, "openssl.cnf");
  writeFileSync(cnf, caConfig(dir, key.keyType));
  return { dir, cnf, index: join(dir, "index.txt"), caPem: join(dir, "ca.pem") };
}

/** YYMMDDHHMMSSZ (UTCTime as index.txt holds it). */
export function indexTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
}

/**
 * Writes `n` synthetic index.txt lines: `V` (valid) lines, or `R` lines revoked for
 * keyCompromise. Serials are unique 16-digit upper-case hex below the serial file's value.
 */
export async function writeIndex(path: string, n: number, kind: "V" | "R"): Promise<void> {
  const now = Date.now();
  const exp = indexTime(now + 3650 * 86_400_000);
  const rev = `${indexTime(now - 86_400_000)},keyCompromise`;
  const out = createWriteStream(path);
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    let s = "";
    for (let j = i; j < Math.min(n, i + chunk); j++) {
      const serial = (0x1000000000 + j).toString(16).toUpperCase().padStart(16, "0");
      s += `${kind}\t${exp}\t${kind === "R" ? rev : ""}\t${serial}\tunknown\t/CN=host${j}\n`;
    }
    if (!out.write(s)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}
