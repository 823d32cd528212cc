/**
 * Shared helpers for the x509 tests (a *.test.ts file so the build leaves it out; it holds
 * no tests itself): in-memory signers, temp dirs and an openssl runner.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyType, Signer } from "../keys/types.js";
import { signatureAlgorithmFor } from "./algorithms.js";

/** A signer over an in-memory key pair, plus the private key for openssl. */
export interface TestKey extends Signer {
  privateKey: KeyObject;
  publicKey: KeyObject;
  privatePem: string;
}

/** Generates a key of `keyType` and wraps it as a {@link Signer}. */
export function makeSigner(keyType: KeyType): TestKey {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  switch (keyType) {
    case "rsa2048":
    case "rsa3072":
    case "rsa4096":
      pair = generateKeyPairSync("rsa", { modulusLength: Number(keyType.slice(3)) });
      break;
    case "p256":
      pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
      break;
    case "p384":
      pair = generateKeyPairSync("ec", { namedCurve: "P-384" });
      break;
    case "ed25519":
      pair = generateKeyPairSync("ed25519");
      break;
  }
  return signerFromKeys(keyType, pair.privateKey, pair.publicKey);
}

/** Wraps an existing key pair; `alg` overrides the AlgorithmIdentifier and hash (for refusal tests). */
export function signerFromKeys(
  keyType: KeyType,
  privateKey: KeyObject,
  publicKey: KeyObject,
  alg?: { der: Buffer; hash: string | null },
): TestKey {
  const a = alg ?? signatureAlgorithmFor(keyType);
  return {
    keyType,
    spki: publicKey.export({ format: "der", type: "spki" }),
    algorithmIdentifier: a.der,
    sign: async (data: Buffer) => cryptoSign(a.hash, data, privateKey),
    privateKey,
    publicKey,
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
}

/** A fresh temp dir and a remover. */
export function tempDir(): {
  dir: string;
  file: (name: string, data?: string | Buffer) => string;
  done: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "sigil-x509-"));
  return {
    dir,
    file: (name, data) => {
      const p = join(dir, name);
      if (data !== undefined) writeFileSync(p, data);
      return p;
    },
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs openssl; returns stdout+stderr and the exit status (never throws on non-zero). */
export function openssl(args: string[], cwd?: string): { status: number; out: string } {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  return { status: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}
