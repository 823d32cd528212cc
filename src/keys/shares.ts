/**
 * k-of-n key shares: the home passphrase (which protects every CA key) split with Shamir's
 * secret sharing over GF(2^8) (the audited `shamir-secret-sharing` library), one small
 * text file per custodian.
 *
 * The secret split is not the bare passphrase but a padded block (version, length,
 * passphrase, zero padding to at least 128 bytes), so a share does not reveal the
 * passphrase's length. Fewer than k shares reveal nothing about it (Shamir 1979).
 *
 * A share file is printable text:
 *
 * ```
 * Sigil key share: keep it secret and apart from the other shares of its set.
 * Format: sigil-share-1
 * CA: genfic
 * Key-SHA256: <sha256 of the encrypted key file>
 * Set-Id: <random, the same for every share of one split>
 * Share: 2 of 5
 * Threshold: 3
 * Created: 2026-11-27T22:30:00Z
 * Data: <base64, 64 characters a line>
 * Checksum: sha256:<hex SHA-256 over every line above, each ending in LF>
 * ```
 *
 * The checksum finds damage (one flipped byte anywhere); it is not a signature. Whether
 * the shares are genuine is decided by the caller, who opens the key with the result: a
 * consistent but forged set yields a passphrase that does not open it. No hash of the
 * passphrase is stored anywhere (it would allow guessing faster than the key's PBKDF2).
 */
import { createHash, randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { split, combine } from "shamir-secret-sharing";
import { SigilError, ErrorCodes } from "../errors.js";

/** What a set of shares is about; written in every share file of the set. */
export interface ShareLabel {
  /** The CA whose key proved the passphrase when the shares were made. */
  ca: string;
  /** Hex SHA-256 of that CA's encrypted key file. */
  keyFingerprint: string;
  /** Random id, the same for every share of one split. */
  setId: string;
  /** ISO time the shares were made. */
  createdAt: string;
}

/** Options of {@link splitSecret}. */
export interface SplitOptions {
  shares: number;
  threshold: number;
  label: ShareLabel;
}

/** Most shares in a set (GF(2^8) has 255 non-zero x coordinates). */
export const MAX_SHARES = 255;

const FORMAT = "sigil-share-1";
const TITLE = "Sigil key share: keep it secret and apart from the other shares of its set.";
const PAD_VERSION = 1;
const MIN_BLOCK = 128;
const BLOCK_STEP = 64;
const DATA_WIDTH = 64;

/** A new random set id (8 random bytes, hex). */
export function newSetId(): string {
  return randomBytes(8).toString("hex");
}

/** Checks 2 <= k <= n <= 255 (whole numbers); SigilError USAGE otherwise. */
export function checkShareCounts(shares: number, threshold: number): void {
  if (!Number.isInteger(shares) || !Number.isInteger(threshold))
    throw new SigilError(ErrorCodes.USAGE, "shares and threshold must be whole numbers");
  if (threshold < 2)
    throw new SigilError(
      ErrorCodes.USAGE,
      `threshold ${threshold} is too small: at least 2 shares must be needed`,
    );
  if (shares > MAX_SHARES)
    throw new SigilError(ErrorCodes.USAGE, `${shares} shares is too many: at most ${MAX_SHARES}`);
  if (threshold > shares)
    throw new SigilError(
      ErrorCodes.USAGE,
      `threshold ${threshold} is more than the ${shares} shares: the key could never be restored`,
    );
}

function checkLabel(label: ShareLabel): void {
  const ok =
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(label.ca) &&
    /^[0-9a-f]{64}$/.test(label.keyFingerprint) &&
    /^[0-9a-f]{8,64}$/.test(label.setId) &&
    !Number.isNaN(Date.parse(label.createdAt)) &&
    !/[\r\n]/.test(label.createdAt);
  if (!ok) throw new SigilError(ErrorCodes.BAD_INPUT, "bad share label");
}

/** The padded block that is split: version, 16-bit length, secret, zeros. */
function pad(secret: Buffer): Buffer {
  if (secret.length === 0) throw new SigilError(ErrorCodes.BAD_INPUT, "cannot split an empty secret");
  if (secret.length > 0xffff) throw new SigilError(ErrorCodes.BAD_INPUT, "secret too long to split");
  const need = 3 + secret.length;
  const size = Math.max(MIN_BLOCK, Math.ceil(need / BLOCK_STEP) * BLOCK_STEP);
  const block = Buffer.alloc(size);
  block[0] = PAD_VERSION;
  block.writeUInt16BE(secret.length, 1);
  secret.copy(block, 3);
  return block;
}

function unpad(block: Uint8Array): Buffer | undefined {
  const b = Buffer.from(block);
  if (b.length < 3 || b[0] !== PAD_VERSION) return undefined;
  const len = b.readUInt16BE(1);
  if (len === 0 || 3 + len > b.length) return undefined;
  for (let i = 3 + len; i < b.length; i++) if (b[i] !== 0) return undefined;
  return Buffer.from(b.subarray(3, 3 + len));
}

function checksum(lines: string[]): string {
  return createHash("sha256")
    .update(lines.map((l) => l + "\n").join(""))
    .digest("hex");
}

/**
 * Splits `secret` into `shares` share files, any `threshold` of which restore it. Returns
 * the text of each file, share 1 first. Bad counts: SigilError USAGE.
 */
export async function splitSecret(secret: Buffer, opts: SplitOptions): Promise<string[]> {
  checkShareCounts(opts.shares, opts.threshold);
  checkLabel(opts.label);
  const parts = await split(new Uint8Array(pad(secret)), opts.shares, opts.threshold);
  return parts.map((part, i) => {
    const data = Buffer.from(part).toString("base64");
    const lines = [
      TITLE,
      `Format: ${FORMAT}`,
      `CA: ${opts.label.ca}`,
      `Key-SHA256: ${opts.label.keyFingerprint}`,
      `Set-Id: ${opts.label.setId}`,
      `Share: ${i + 1} of ${opts.shares}`,
      `Threshold: ${opts.threshold}`,
      `Created: ${opts.label.createdAt}`,
    ];
    for (let o = 0; o < data.length; o += DATA_WIDTH) lines.push(`Data: ${data.slice(o, o + DATA_WIDTH)}`);
    lines.push(`Checksum: sha256:${checksum(lines)}`);
    return lines.join("\n") + "\n";
  });
}

/** One share file as read. */
interface ParsedShare {
  name: string;
  label: ShareLabel;
  index: number;
  total: number;
  threshold: number;
  data: Buffer;
}

function damaged(name: string, why: string): SigilError {
  return new SigilError(ErrorCodes.BAD_SHARE, `share ${name} is damaged or altered (${why})`);
}

/** Parses and checks one share file; every fault names the file. */
function parseShare(name: string, text: string): ParsedShare {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== "");
  const last = lines.pop();
  const m = /^Checksum: sha256:([0-9a-f]{64})$/.exec(last ?? "");
  if (!m || !lines[0]?.startsWith("Sigil key share")) {
    if (!text.includes("Sigil key share") && !text.includes("Checksum:"))
      throw new SigilError(ErrorCodes.BAD_SHARE, `${name} is not a Sigil key share`);
    throw damaged(name, "no valid checksum line");
  }
  if (checksum(lines) !== m[1]) throw damaged(name, "checksum mismatch");
  const fields = new Map<string, string>();
  const data: string[] = [];
  for (const line of lines.slice(1)) {
    const f = /^([A-Za-z0-9-]+): (.*)$/.exec(line);
    if (!f) throw damaged(name, "unreadable line");
    if (f[1] === "Data") data.push(f[2]!);
    else if (fields.has(f[1]!)) throw damaged(name, `${f[1]} given twice`);
    else fields.set(f[1]!, f[2]!);
  }
  const get = (k: string): string => {
    const v = fields.get(k);
    if (v === undefined) throw damaged(name, `no ${k} line`);
    return v;
  };
  if (get("Format") !== FORMAT)
    throw new SigilError(
      ErrorCodes.BAD_SHARE,
      `share ${name} has format ${JSON.stringify(get("Format"))}; this Sigil reads ${FORMAT}`,
    );
  const sm = /^(\d{1,3}) of (\d{1,3})$/.exec(get("Share"));
  const tm = /^(\d{1,3})$/.exec(get("Threshold"));
  if (!sm || !tm) throw damaged(name, "bad Share or Threshold line");
  const index = Number(sm[1]);
  const total = Number(sm[2]);
  const threshold = Number(tm[1]);
  if (!(threshold >= 2 && threshold <= total && total <= MAX_SHARES && index >= 1 && index <= total))
    throw damaged(name, `impossible share ${index} of ${total} with threshold ${threshold}`);
  const joined = data.join("");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(joined)) throw damaged(name, "bad share data");
  const bytes = Buffer.from(joined, "base64");
  if (bytes.length < MIN_BLOCK + 1 || bytes[bytes.length - 1] === 0) throw damaged(name, "bad share data");
  const label: ShareLabel = {
    ca: get("CA"),
    keyFingerprint: get("Key-SHA256"),
    setId: get("Set-Id"),
    createdAt: get("Created"),
  };
  try {
    checkLabel(label);
  } catch {
    throw damaged(name, "bad label");
  }
  return { name, label, index, total, threshold, data: bytes };
}

/**
 * Checks share files and combines them: every file intact (checksum), all of one set (same
 * set id, CA, key, n and k), no share twice, at least k of them. Returns the secret and
 * the set's label. The caller must prove the secret by opening the key with it.
 * Errors: SigilError BAD_SHARE, one line naming the file at fault.
 */
export async function combineShares(
  files: Array<{ name: string; text: string }>,
): Promise<{ secret: Buffer; label: ShareLabel }> {
  if (files.length === 0) throw new SigilError(ErrorCodes.BAD_SHARE, "no shares given");
  const shares = files.map((f) => parseShare(f.name, f.text));
  const first = shares[0]!;
  for (const s of shares.slice(1)) {
    const differs =
      s.label.setId !== first.label.setId
        ? `set ${s.label.setId} vs ${first.label.setId}`
        : s.label.ca !== first.label.ca
          ? `CA ${s.label.ca} vs ${first.label.ca}`
          : s.label.keyFingerprint !== first.label.keyFingerprint ||
              s.label.createdAt !== first.label.createdAt ||
              s.total !== first.total ||
              s.threshold !== first.threshold ||
              s.data.length !== first.data.length
            ? "their headers disagree"
            : undefined;
    if (differs)
      throw new SigilError(
        ErrorCodes.BAD_SHARE,
        `shares ${first.name} and ${s.name} are not from the same set (${differs})`,
      );
  }
  for (let i = 0; i < shares.length; i++)
    for (let j = 0; j < i; j++) {
      const a = shares[j]!;
      const b = shares[i]!;
      if (a.index === b.index || a.data[a.data.length - 1] === b.data[b.data.length - 1])
        throw new SigilError(
          ErrorCodes.BAD_SHARE,
          a.index === b.index
            ? `shares ${a.name} and ${b.name} are the same share (${a.index} of ${a.total}): give ${first.threshold} different shares`
            : `shares ${a.name} and ${b.name} have the same share point: one of them is forged`,
        );
    }
  if (shares.length < first.threshold)
    throw new SigilError(
      ErrorCodes.BAD_SHARE,
      `${shares.length} share${shares.length === 1 ? "" : "s"} given, ${first.threshold} needed (set ${first.label.setId}, ${first.total} shares made)`,
    );
  const block = await combine(shares.map((s) => new Uint8Array(s.data)));
  const secret = unpad(block);
  if (!secret)
    throw new SigilError(ErrorCodes.BAD_SHARE, "the shares do not reconstruct the key's passphrase");
  return { secret, label: first.label };
}

/** Reads share files and combines them ({@link combineShares}); a file that cannot be read is named. */
export async function readShares(paths: string[]): Promise<{ secret: Buffer; label: ShareLabel }> {
  const files = await Promise.all(
    paths.map(async (p) => {
      try {
        return { name: p, text: await readFile(p, "utf8") };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT") throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `share ${p} not found`);
        throw new SigilError(ErrorCodes.BAD_SHARE, `share ${p} cannot be read (${code ?? "error"})`);
      }
    }),
  );
  return combineShares(files);
}

/**
 * The passphrase restored from share files (for `sigil unseal --share`, `sigil key
 * restore`). Not yet proven: open a key with it, and report a wrong passphrase as
 * "the shares do not reconstruct the key's passphrase".
 */
export async function passphraseFromShares(paths: string[]): Promise<Buffer> {
  return (await readShares(paths)).secret;
}
