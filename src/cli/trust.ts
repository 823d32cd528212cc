/**
 * `sigil trust install|remove NAME [--nss DIR]`: put one CA certificate Sigil holds (normally
 * the root) into this machine's trust store, or take it out again.
 *
 * Without `--nss` it is Debian's system store: the PEM goes to
 * `/usr/local/share/ca-certificates/sigil/NAME.crt` and `update-ca-certificates` rebuilds
 * `/etc/ssl/certs`. With `--nss DIR` only that NSS database (Firefox, Chromium) changes, through
 * `certutil`. External tools are always spawned with argument arrays, never through a shell.
 */
import { spawn } from "node:child_process";
import { constants, existsSync } from "node:fs";
import {
  access,
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, delimiter, join, resolve } from "node:path";
import { ErrorCodes, SigilError } from "../errors.js";
import { openContext, type GlobalOptions } from "./context.js";

/** Where Debian's update-ca-certificates looks for local CAs; Sigil keeps its own subfolder. */
export const DEFAULT_ANCHORS_DIR = "/usr/local/share/ca-certificates/sigil";
/** The command that rebuilds the system store after a change (Debian's, from ca-certificates). */
export const DEFAULT_UPDATE_COMMAND = "update-ca-certificates";
/** Trust flags given to the CA in an NSS database: a CA trusted to issue TLS server certificates. */
export const NSS_TRUST = "C,,";

/** The CA names Sigil accepts (the authority's rule); they become file names here. */
const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Options of `sigil trust install`. */
export interface TrustInstallOptions extends GlobalOptions {
  /** An NSS database folder: change only that database, not the system store. */
  nss?: string;
}

/** Options of `sigil trust remove`. */
export interface TrustRemoveOptions {
  /** An NSS database folder: change only that database, not the system store. */
  nss?: string;
}

/** The folder the certificates go to: $SIGIL_TRUST_ANCHORS_DIR, else {@link DEFAULT_ANCHORS_DIR}. */
export function anchorsDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.SIGIL_TRUST_ANCHORS_DIR?.trim();
  return resolve(dir ? dir : DEFAULT_ANCHORS_DIR);
}

/**
 * The store update command as an argument array: $SIGIL_TRUST_UPDATE_COMMAND split on spaces
 * (no quoting: it is never given to a shell), else {@link DEFAULT_UPDATE_COMMAND}.
 */
export function updateCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const words = (env.SIGIL_TRUST_UPDATE_COMMAND ?? "").split(" ").filter((w) => w !== "");
  return words.length > 0 ? words : [DEFAULT_UPDATE_COMMAND];
}

/** The nickname a CA gets in an NSS database. */
export function nssNickname(name: string): string {
  return `sigil ${name}`;
}

/** A SHA-256 fingerprint (hex) as `AB:CD:...`, the way openssl and browsers show it. */
export function colonFingerprint(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(":");
}

/** `sigil trust install NAME [--nss DIR]`. */
export async function installTrust(name: string, opts: TrustInstallOptions): Promise<void> {
  const ctx = await openContext(opts);
  let der: Buffer;
  try {
    const chain = await ctx.authority.chain(name);
    const ca = chain[0]!;
    der = ca.certDer;
    if (chain.length > 1) {
      const root = chain[chain.length - 1]!.name;
      process.stderr.write(
        `sigil: warning: ${name} is an intermediate (under ${root}); clients normally trust only the root\n`,
      );
    }
  } finally {
    await ctx.close();
  }
  const cert = await describe(der);
  if (opts.nss !== undefined) await nssInstall(name, der, cert, await nssDir(opts.nss));
  else await systemInstall(name, der, cert);
}

/** `sigil trust remove NAME [--nss DIR]`: works by name, without the Sigil data. */
export async function removeTrust(name: string, opts: TrustRemoveOptions): Promise<void> {
  if (!CA_NAME.test(name))
    throw new SigilError(ErrorCodes.BAD_INPUT, `"${name}" is not a CA name Sigil would have installed`);
  if (opts.nss !== undefined) await nssRemove(name, await nssDir(opts.nss));
  else await systemRemove(name);
}

// ------------------------------------------------------------------------------------------
// The Debian system store
// ------------------------------------------------------------------------------------------

async function systemInstall(name: string, der: Buffer, cert: string): Promise<void> {
  const { toPem } = await import("../x509/der.js");
  const cmd = updateCommand();
  const exe = await findTool(cmd[0]!, updateMissing(cmd[0]!));
  const dir = anchorsDir();
  const file = join(dir, `${name}.crt`);
  const old = await readInstalled(file);
  let verb: string;
  if (old?.der.equals(der)) {
    verb = `${name} (${cert}) is already installed in ${file}`;
  } else {
    await writeAnchor(dir, file, toPem(der, "CERTIFICATE"));
    verb = old
      ? `replaced ${name} (was ${old.cert}) with ${name} (${cert}) in ${file}`
      : `installed ${name} (${cert}) into ${file}`;
  }
  const out = await runUpdate(exe, cmd, [], `${file} is in place: run the command again once fixed`);
  const counts = /(\d+) added, (\d+) removed/.exec(out);
  process.stdout.write(
    `${verb}; ${basename(cmd[0]!)}: ${counts ? `${counts[1]} added, ${counts[2]} removed` : "done"}\n`,
  );
}

async function systemRemove(name: string): Promise<void> {
  const cmd = updateCommand();
  const exe = await findTool(cmd[0]!, updateMissing(cmd[0]!));
  const dir = anchorsDir();
  const file = join(dir, `${name}.crt`);
  const old = await readInstalled(file);
  if (!old) throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${name} is not installed: there is no ${file}`);
  try {
    await unlink(file);
  } catch (e) {
    throw fileError("remove", file, e);
  }
  // Left empty, Sigil's own folder goes too (remove undoes install); never an overridden
  // shared folder such as /etc/pki/ca-trust/source/anchors.
  if (basename(dir) === "sigil") await rmdir(dir).catch(() => undefined);
  // Debian's script prunes the dangling /etc/ssl/certs links of a deleted file only when the
  // set of certificates changed otherwise; --fresh rebuilds the links so none is left behind.
  const extra = basename(cmd[0]!) === DEFAULT_UPDATE_COMMAND ? ["--fresh"] : [];
  await runUpdate(exe, cmd, extra, `${file} is already deleted: run the command again once fixed`);
  process.stdout.write(
    `removed ${name} (${old.cert}) from ${file}; ${[basename(cmd[0]!), ...extra].join(" ")}: done\n`,
  );
}

/** The certificate in an anchor file, or undefined when there is none. */
async function readInstalled(file: string): Promise<{ der: Buffer; cert: string } | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (errCode(e) === "ENOENT") return undefined;
    throw fileError("read", file, e);
  }
  try {
    const { parseCertificate } = await import("../x509/cert-reader.js");
    const der = parseCertificate(text).der;
    return { der, cert: await describe(der) };
  } catch {
    return { der: Buffer.alloc(0), cert: "not a readable certificate" };
  }
}

/** Writes the PEM atomically (0644, in a 0755 folder made when missing). */
async function writeAnchor(dir: string, file: string, pem: string): Promise<void> {
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const made = await mkdir(dir, { recursive: true, mode: 0o755 });
    if (made !== undefined) await chmod(dir, 0o755);
    await writeFile(tmp, pem, { mode: 0o644 });
    await chmod(tmp, 0o644);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fileError("write", file, e);
  }
}

/** Runs the update command; a failure names the command and its last stderr line. */
async function runUpdate(exe: string, cmd: string[], extra: string[], note: string): Promise<string> {
  const r = await run(exe, [...cmd.slice(1), ...extra]);
  const shown = [...cmd, ...extra].join(" ");
  if (r.code !== 0)
    throw new SigilError(
      ErrorCodes.CONFIG,
      `${shown} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`}): ${lastLine(r.stderr) ?? lastLine(r.stdout) ?? "no output"} (${note})`,
    );
  // Debian's script reports a failed hook on stdout and still exits 0.
  for (const l of (r.stdout + "\n" + r.stderr).split("\n"))
    if (l.startsWith("E: ")) process.stderr.write(`sigil: warning: ${basename(cmd[0]!)}: ${l.slice(3)}\n`);
  return r.stdout;
}

function updateMissing(cmd: string): string {
  return cmd === DEFAULT_UPDATE_COMMAND
    ? `${cmd} not found: install the Debian package ca-certificates (or set SIGIL_TRUST_UPDATE_COMMAND)`
    : `${cmd} (from SIGIL_TRUST_UPDATE_COMMAND) not found`;
}

// ------------------------------------------------------------------------------------------
// NSS databases
// ------------------------------------------------------------------------------------------

const CERTUTIL_MISSING =
  "certutil not found: install libnss3-tools (Debian: apt-get install libnss3-tools) to use --nss";

async function nssInstall(name: string, der: Buffer, cert: string, dir: string): Promise<void> {
  const certutil = await findTool("certutil", CERTUTIL_MISSING);
  const db = `sql:${dir}`;
  const nick = nssNickname(name);
  let created = false;
  if (!existsSync(join(dir, "cert9.db"))) {
    await certutilOk(certutil, ["-N", "--empty-password", "-d", db], `create an NSS database in ${dir}`);
    created = true;
  }
  const old = await nssFind(certutil, db, nick);
  let verb: string;
  if (old.length === 1 && old[0]!.equals(der)) {
    await certutilOk(certutil, ["-M", "-d", db, "-n", nick, "-t", NSS_TRUST], `set the trust of "${nick}"`);
    verb = `${name} (${cert}) is already installed in ${db} as "${nick}"`;
  } else {
    if (old.length > 0) await nssDelete(certutil, db, nick);
    const { toPem } = await import("../x509/der.js");
    const tmp = await mkdtemp(join(tmpdir(), "sigil-trust-"));
    try {
      const pem = join(tmp, `${name}.crt`);
      await writeFile(pem, toPem(der, "CERTIFICATE"), { mode: 0o600 });
      await certutilOk(
        certutil,
        ["-A", "-d", db, "-t", NSS_TRUST, "-n", nick, "-i", pem],
        `add "${nick}" to ${db}`,
      );
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
    // NSS keeps a certificate it already holds under its first nickname.
    if (!(await nssFind(certutil, db, nick)).some((d) => d.equals(der)))
      throw new SigilError(
        ErrorCodes.CONFIG,
        `${db} already holds ${name}'s certificate under another nickname (see certutil -L -d ${db}); delete it there first`,
      );
    const was =
      old.length > 0
        ? ` (replaced ${old.length === 1 ? await describe(old[0]!) : `${old.length} certificates`})`
        : "";
    verb = `installed ${name} (${cert}) into ${db} as "${nick}"${was}`;
  }
  const trust = await nssTrust(certutil, db, nick);
  process.stdout.write(`${verb}, trust ${trust}${created ? "; created the database" : ""}\n`);
}

async function nssRemove(name: string, dir: string): Promise<void> {
  const certutil = await findTool("certutil", CERTUTIL_MISSING);
  const db = `sql:${dir}`;
  const nick = nssNickname(name);
  const old = existsSync(join(dir, "cert9.db")) ? await nssFind(certutil, db, nick) : [];
  if (old.length === 0)
    throw new SigilError(ErrorCodes.FILE_NOT_FOUND, `${name} is not installed in ${db} (no "${nick}")`);
  await nssDelete(certutil, db, nick);
  const what = old.length === 1 ? await describe(old[0]!) : `${old.length} certificates`;
  process.stdout.write(`removed ${name} (${what}) from ${db} ("${nick}")\n`);
}

/** The certificates (DER) an NSS database holds under `nick`; none is an empty list. */
async function nssFind(certutil: string, db: string, nick: string): Promise<Buffer[]> {
  const r = await run(certutil, ["-L", "-d", db, "-n", nick, "-a"]);
  if (r.code !== 0) {
    if (/PR_FILE_NOT_FOUND_ERROR|could not find cert/i.test(r.stderr)) return [];
    throw certutilError(`read ${db}`, r);
  }
  const { parsePemBlocks } = await import("../x509/der.js");
  return parsePemBlocks(r.stdout)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => b.der);
}

/** Deletes every certificate under `nick` (NSS deletes one per call). */
async function nssDelete(certutil: string, db: string, nick: string): Promise<void> {
  for (let i = 0; i < 16 && (await nssFind(certutil, db, nick)).length > 0; i++)
    await certutilOk(certutil, ["-D", "-d", db, "-n", nick], `delete "${nick}" from ${db}`);
}

/** The trust flags `certutil -L` shows for `nick`. */
async function nssTrust(certutil: string, db: string, nick: string): Promise<string> {
  const r = await run(certutil, ["-L", "-d", db]);
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith(nick + " ")) continue;
    const flags = line.slice(nick.length).trim();
    if (/^[A-Za-z]*,[A-Za-z]*,[A-Za-z]*$/.test(flags)) return flags;
  }
  return "unknown";
}

async function certutilOk(certutil: string, args: string[], what: string): Promise<void> {
  const r = await run(certutil, args);
  if (r.code !== 0) throw certutilError(what, r);
}

function certutilError(what: string, r: RunResult): SigilError {
  return new SigilError(
    ErrorCodes.CONFIG,
    `certutil could not ${what}: ${lastLine(r.stderr) ?? lastLine(r.stdout) ?? `exit ${r.code}`}`,
  );
}

/** Checks --nss DIR: an existing folder, returned absolute. */
async function nssDir(dir: string): Promise<string> {
  const abs = resolve(dir);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch (e) {
    if (errCode(e) === "ENOENT")
      throw new SigilError(
        ErrorCodes.FILE_NOT_FOUND,
        `--nss ${dir}: no such folder (give an NSS database folder)`,
      );
    throw fileError("read", abs, e);
  }
  if (!isDir)
    throw new SigilError(ErrorCodes.BAD_INPUT, `--nss ${dir}: not a folder (give an NSS database folder)`);
  return abs;
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

/** `CN=..., SHA-256 AB:CD:...` for a certificate. */
async function describe(der: Buffer): Promise<string> {
  const [{ parseCertificate }, { dnCommonName, formatDn }] = await Promise.all([
    import("../x509/cert-reader.js"),
    import("../x509/dn.js"),
  ]);
  const info = parseCertificate(der);
  const cn = dnCommonName(info.subject);
  return `${cn === undefined ? formatDn(info.subject) : `CN=${cn}`}, SHA-256 ${colonFingerprint(info.fingerprint)}`;
}

/** Result of a finished process. */
interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `exe args` without a shell, stdin closed, output captured. */
function run(exe: string, args: string[]): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"], shell: false });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) =>
      fail(new SigilError(ErrorCodes.CONFIG, `cannot run ${exe}: ${(e as Error).message}`, { cause: e })),
    );
    child.on("close", (code, signal) =>
      done({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
  });
}

/**
 * Finds an executable: a path as given, else on PATH, then in the sbin folders (sudo and
 * `su` sessions do not always have /usr/sbin, where Debian puts update-ca-certificates).
 */
async function findTool(cmd: string, missing: string): Promise<string> {
  const dirs = cmd.includes("/")
    ? [""]
    : [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const d of dirs) {
    const p = d === "" ? resolve(cmd) : join(d, cmd);
    try {
      await access(p, constants.X_OK);
      if ((await stat(p)).isFile()) return p;
    } catch {
      // not here
    }
  }
  throw new SigilError(ErrorCodes.CONFIG, missing);
}

function fileError(verb: string, file: string, e: unknown): SigilError {
  const code = errCode(e);
  if (code === "EACCES" || code === "EPERM")
    return new SigilError(ErrorCodes.CONFIG, `cannot ${verb} ${file}: run as root (or with sudo)`, {
      cause: e,
    });
  const msg = e instanceof Error ? e.message : String(e);
  return new SigilError(ErrorCodes.CONFIG, `cannot ${verb} ${file}: ${msg}`, { cause: e });
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function lastLine(text: string): string | undefined {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines[lines.length - 1];
}
