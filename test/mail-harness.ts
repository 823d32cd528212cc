/**
 * A real mail system for tests: Debian's dovecot as the IMAP server, and an in-process SMTP
 * server that delivers into it.
 *
 * {@link startDovecot} runs `dovecot -F -c FILE` with a private configuration in a temporary
 * folder (never the system one): IMAP on 127.0.0.1 and a free high port, plaintext login
 * allowed, a passwd-file of test users, maildirs owned by the `vmail` system user, and
 * `base_dir`, `state_dir` and the log in that folder, so it never touches `/run/dovecot` or a
 * system dovecot that may be running. It needs root (dovecot switches to `vmail`, `dovecot`
 * and `dovenull`) and the packages and user that `scripts/test-deps.sh` installs.
 *
 * {@link startSmtpSink} stands in for the production path postfix → LMTP → dovecot: an
 * in-process SMTP server (npm `smtp-server`) that appends each message it accepts to the
 * dovecot INBOX of every recipient (user name = local part of the address). It can be told
 * to fail deliveries with a temporary error, to test retries.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect, type AddressInfo } from "node:net";
import { join } from "node:path";
import { ImapFlow } from "imapflow";
import { SMTPServer, type SMTPServerAddress } from "smtp-server";
import { tempDir } from "./helpers.js";

/** A test mailbox user. Names and passwords must not contain `:` or line breaks. */
export interface MailUser {
  name: string;
  password: string;
}

/** Options of {@link startDovecot}. */
export interface DovecotOptions {
  users: MailUser[];
  /**
   * Also offer TLS with a self-signed certificate made for the run (CN and SAN `localhost`,
   * SAN IP 127.0.0.1): implicit TLS on {@link Dovecot.tlsPort} and STARTTLS on the plain port.
   */
  tls?: boolean;
  /**
   * Replaces the capability list dovecot advertises after login (dovecot's `imap_capability`),
   * e.g. `"IMAP4rev1 LITERAL+ UIDPLUS"` to hide IDLE and MOVE from clients.
   */
  imapCapability?: string;
}

/** A running private dovecot. */
export interface Dovecot {
  /** Always 127.0.0.1. */
  host: string;
  /** IMAP port (plaintext, STARTTLS when started with `tls`). */
  port: number;
  /** Implicit-TLS IMAP port when started with `tls`, else undefined. */
  tlsPort: number | undefined;
  /** PEM file of the self-signed server certificate (a trust anchor for clients) when started with `tls`. */
  caFile: string | undefined;
  /** The temporary folder holding config, mail, sockets and log. */
  dir: string;
  /** The users it was started with. */
  users: MailUser[];
  /** Dovecot's log so far. */
  log(): string;
  /** Appends a raw message to a user's folder over IMAP (creating the folder when missing); resolves with its UID. */
  append(user: string, raw: Buffer, folder?: string): Promise<number>;
  /** The raw messages in a user's folder, oldest first; empty when the folder does not exist. */
  list(user: string, folder: string): Promise<Buffer[]>;
  /** Waits until a user's folder holds at least `count` messages (polling), then returns them. */
  waitForMessages(user: string, folder: string, count: number, timeoutMs?: number): Promise<Buffer[]>;
  /** The folder names of a user. */
  folders(user: string): Promise<string[]>;
  /** Stops dovecot and removes the temporary folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Runs dovecot in the foreground under a small shell that stops it (SIGTERM) when the shell
 * gets SIGTERM/SIGINT, or when the test process ($3) is gone: a test run killed hard leaves
 * no dovecot (nor its temp folder $4) behind. Exits with dovecot's status. $1 is the dovecot
 * binary, $2 the config file.
 */
const WATCHDOG = [
  '"$1" -F -c "$2" & d=$!',
  "trap 'kill -TERM $d 2>/dev/null; wait $d; exit $?' TERM INT",
  'while kill -0 "$3" 2>/dev/null && kill -0 $d 2>/dev/null; do sleep 1 & wait $!; done',
  "kill -TERM $d 2>/dev/null",
  "wait $d; s=$?",
  'kill -0 "$3" 2>/dev/null || rm -rf "$4"',
  "exit $s",
].join("\n");

/** Looks up a system user's uid and gid with getent. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const r = spawnSync("getent", ["passwd", name], { encoding: "utf8" });
  if (r.status !== 0) return undefined;
  const f = r.stdout.trim().split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Asks the kernel for a free port on 127.0.0.1 (it may be taken again before use: callers retry). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once 127.0.0.1:port sends an IMAP greeting that contains `token` (so a server of
 * another test that took the port is not mistaken for ours); rejects when `isDead` says so
 * or on timeout.
 */
async function waitForGreeting(
  port: number,
  token: string,
  isDead: () => string | undefined,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = isDead();
    if (dead !== undefined) throw new Error(dead);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: "127.0.0.1", port });
      let data = "";
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(1000, () => done(false));
      sock.on("data", (d: Buffer) => {
        data += d.toString("latin1");
        if (data.includes("\n")) done(data.startsWith("* OK") && data.includes(token));
      });
      sock.on("error", () => done(false));
      sock.on("close", () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`dovecot did not greet on port ${port} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function makeConfig(o: {
  dir: string;
  port: number;
  tlsPort: number | undefined;
  vmail: { uid: number; gid: number };
  imapCapability: string | undefined;
  greeting: string;
}): string {
  const d = o.dir;
  const ssl =
    o.tlsPort === undefined
      ? ["ssl = no"]
      : [
          "ssl = yes",
          `ssl_cert = <${join(d, "tls", "cert.pem")}`,
          `ssl_key = <${join(d, "tls", "key.pem")}`,
          "ssl_min_protocol = TLSv1.2",
        ];
  return [
    "# Private test configuration written by test/mail-harness.ts",
    `instance_name = sigil-test-${o.port}`,
    "protocols = imap",
    "listen = 127.0.0.1",
    `base_dir = ${join(d, "run")}`,
    `state_dir = ${join(d, "state")}`,
    `log_path = ${join(d, "dovecot.log")}`,
    "auth_verbose = yes",
    "disable_plaintext_auth = no",
    "auth_mechanisms = plain login",
    // Tests log in with wrong passwords on purpose: no 2 s failure delay, and (below) no
    // anvil auth penalty, which delays every later login from 127.0.0.1 by 2 s and up.
    "auth_failure_delay = 0",
    ...ssl,
    "default_internal_user = dovecot",
    "default_login_user = dovenull",
    `first_valid_uid = ${o.vmail.uid}`,
    `login_greeting = ${o.greeting}`,
    `mail_location = maildir:${join(d, "mail")}/%n`,
    ...(o.imapCapability === undefined ? [] : [`imap_capability = ${o.imapCapability}`]),
    "namespace inbox {",
    "  inbox = yes",
    "  separator = /",
    "}",
    "passdb {",
    "  driver = passwd-file",
    `  args = username_format=%n ${join(d, "users")}`,
    "}",
    "userdb {",
    "  driver = static",
    `  args = uid=${o.vmail.uid} gid=${o.vmail.gid} home=${join(d, "mail")}/%n`,
    "}",
    "protocol imap {",
    "  mail_max_userip_connections = 100",
    "}",
    "service anvil {",
    "  unix_listener anvil-auth-penalty {",
    "    mode = 0",
    "  }",
    "}",
    "service imap-login {",
    "  inet_listener imap {",
    `    port = ${o.port}`,
    "  }",
    "  inet_listener imaps {",
    `    port = ${o.tlsPort ?? 0}`,
    ...(o.tlsPort === undefined ? [] : ["    ssl = yes"]),
    "  }",
    "}",
    "",
  ].join("\n");
}

function makeCert(dir: string): void {
  const tls = join(dir, "tls");
  mkdirSync(tls, { mode: 0o700 });
  const r = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-days",
      "2",
      "-keyout",
      join(tls, "key.pem"),
      "-out",
      join(tls, "cert.pem"),
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`openssl could not make the dovecot test certificate: ${r.stderr}`);
}

/** Opens an IMAP session as a test user, runs `fn`, logs out. */
async function asUser<T>(
  host: string,
  port: number,
  user: MailUser,
  fn: (c: ImapFlow) => Promise<T>,
): Promise<T> {
  const c = new ImapFlow({
    host,
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: user.name, pass: user.password },
    logger: false,
    disableAutoIdle: true,
  });
  c.on("error", () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/**
 * Starts a private dovecot for the given users (see the module comment). Picks a free port
 * and retries on a clash. Call `stop()` when done (an `after` hook).
 */
export async function startDovecot(opts: DovecotOptions): Promise<Dovecot> {
  if (process.getuid?.() !== 0) throw new Error("startDovecot needs root (dovecot switches to vmail)");
  const bin = ["/usr/sbin/dovecot", "dovecot"].find((b) => spawnSync(b, ["--version"]).status === 0);
  if (bin === undefined) throw new Error("dovecot is not installed: run scripts/test-deps.sh");
  const vmail = systemUser("vmail");
  if (vmail === undefined) throw new Error("no 'vmail' system user: run scripts/test-deps.sh as root");
  for (const u of opts.users) {
    if (/[:\r\n]/.test(u.name + u.password) || u.name === "") throw new Error(`bad test mail user ${u.name}`);
  }

  const { dir, cleanup } = tempDir("sigil-dovecot-");
  chmodSync(dir, 0o755); // vmail must reach dir/mail
  mkdirSync(join(dir, "run"));
  mkdirSync(join(dir, "state"));
  mkdirSync(join(dir, "mail"), { mode: 0o700 });
  chownSync(join(dir, "mail"), vmail.uid, vmail.gid);
  const usersFile = join(dir, "users");
  writeFileSync(usersFile, opts.users.map((u) => `${u.name}:{PLAIN}${u.password}::::::\n`).join(""), {
    mode: 0o640,
  });
  const dovecotUser = systemUser("dovecot");
  if (dovecotUser !== undefined) chownSync(usersFile, 0, dovecotUser.gid); // the auth process reads it
  if (opts.tls) makeCert(dir);
  const conf = join(dir, "dovecot.conf");
  const errFile = join(dir, "dovecot.stderr");
  const greeting = `sigil-test-${randomBytes(6).toString("hex")} ready`;
  const logFile = join(dir, "dovecot.log");
  const readLog = (): string => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };

  let proc: ChildProcess | undefined;
  let port = 0;
  let tlsPort: number | undefined;
  let lastError = "";
  for (let attempt = 0; attempt < 8 && proc === undefined; attempt++) {
    port = await freePort();
    tlsPort = opts.tls ? await freePort() : undefined;
    if (tlsPort === port) continue;
    writeFileSync(
      conf,
      makeConfig({ dir, port, tlsPort, vmail, imapCapability: opts.imapCapability, greeting }),
    );
    rmSync(logFile, { force: true });
    // stderr to a file, not a pipe: no handle of ours keeps the test process alive
    const errFd = openSync(errFile, "w");
    const p = spawn("/bin/sh", ["-c", WATCHDOG, "sh", bin, conf, String(process.pid), dir], {
      stdio: ["ignore", errFd, errFd],
    });
    closeSync(errFd);
    let exit: string | undefined;
    p.once("exit", (code, sig) => {
      exit = `dovecot exited (${code ?? sig}): ${readFileSync(errFile, "utf8")}${readLog()}`;
    });
    try {
      await waitForGreeting(port, greeting, () => exit, 10_000);
      proc = p;
    } catch (e) {
      lastError = (e as Error).message;
      if (p.exitCode === null && p.signalCode === null) {
        // SIGTERM, not SIGKILL: the watchdog shell then stops its dovecot too
        const gone = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
      }
      if (!/address already in use/i.test(lastError)) break;
    }
  }
  if (proc === undefined) {
    cleanup();
    throw new Error(`could not start dovecot: ${lastError}`);
  }
  const running = proc;
  running.unref();
  const exited = new Promise<void>((resolve) => {
    if (running.exitCode !== null) resolve();
    else running.once("exit", () => resolve());
  });
  const masterPid = (): number | undefined => {
    try {
      return Number(readFileSync(join(dir, "run", "master.pid"), "utf8").trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const hardKill = () => {
    const pid = masterPid();
    try {
      if (pid !== undefined) process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    running.kill("SIGKILL");
  };
  const killAtExit = () => {
    hardKill();
    cleanup();
  };
  process.once("exit", killAtExit);

  const users = opts.users.map((u) => ({ ...u }));
  const userOf = (name: string): MailUser => {
    const u = users.find((x) => x.name === name);
    if (u === undefined) throw new Error(`no dovecot test user ${name}`);
    return u;
  };
  const host = "127.0.0.1";
  const list = (user: string, folder: string): Promise<Buffer[]> =>
    asUser(host, port, userOf(user), async (c) => {
      const names = (await c.list()).map((m) => m.path);
      if (!names.some((n) => n.toLowerCase() === folder.toLowerCase())) return [];
      const mb = await c.mailboxOpen(folder, { readOnly: true });
      if (mb.exists === 0) return [];
      const msgs = await c.fetchAll("1:*", { uid: true, source: true });
      return msgs.sort((a, b) => a.uid - b.uid).map((m) => m.source ?? Buffer.alloc(0));
    });
  let stopped = false;

  return {
    host,
    port,
    tlsPort,
    caFile: opts.tls ? join(dir, "tls", "cert.pem") : undefined,
    dir,
    users,
    log: readLog,
    append: (user, raw, folder = "INBOX") =>
      asUser(host, port, userOf(user), async (c) => {
        const names = (await c.list()).map((m) => m.path);
        // a concurrent append may create it first: then the APPEND below still succeeds
        if (!names.some((n) => n.toLowerCase() === folder.toLowerCase()))
          await c.mailboxCreate(folder).catch(() => undefined);
        const r = await c.append(folder, raw);
        if (!r) throw new Error(`IMAP APPEND to ${user}/${folder} failed`);
        return r.uid ?? 0;
      }),
    list,
    waitForMessages: async (user, folder, count, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const msgs = await list(user, folder);
        if (msgs.length >= count) return msgs;
        if (Date.now() > deadline)
          throw new Error(
            `${user}/${folder} holds ${msgs.length} messages, not ${count}, after ${timeoutMs} ms`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    folders: (user) => asUser(host, port, userOf(user), async (c) => (await c.list()).map((m) => m.path)),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      process.removeListener("exit", killAtExit);
      running.ref();
      if (running.exitCode === null && running.signalCode === null) running.kill("SIGTERM");
      const t = setTimeout(hardKill, 5_000);
      await exited;
      clearTimeout(t);
      cleanup();
    },
  };
}

/** One message the SMTP sink accepted. */
export interface ReceivedMail {
  /** Envelope sender (MAIL FROM), "" for the null sender. */
  from: string;
  /** Envelope recipients (RCPT TO). */
  to: string[];
  raw: Buffer;
}

/** Options of {@link startSmtpSink}. */
export interface SmtpSinkOptions {
  /**
   * Accept recipients that are not dovecot users (recorded in `received`, delivered nowhere)
   * instead of refusing them at RCPT with 550. Default false.
   */
  acceptUnknown?: boolean;
}

/** A running SMTP sink. */
export interface SmtpSink {
  host: string;
  port: number;
  /** Messages accepted so far, in order. */
  received: ReceivedMail[];
  /** DATA transactions seen so far, failed ones included. */
  attempts(): number;
  /** Makes the next `n` deliveries (DATA) fail with `451 4.3.0` (temporary): the client should retry. */
  failNext(n: number): void;
  /** Stops listening and drops open connections. */
  stop(): Promise<void>;
}

/**
 * Starts an in-process SMTP server on 127.0.0.1 (free port, no AUTH, no STARTTLS) that
 * delivers every accepted message to the dovecot INBOX of each recipient's local part,
 * standing in for postfix → LMTP → dovecot. The 250 after DATA is sent only once the
 * message is in the INBOX, so a client that saw its message accepted can read it at once.
 */
export async function startSmtpSink(dovecot: Dovecot, opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const received: ReceivedMail[] = [];
  let failures = 0;
  let attempts = 0;
  const localPart = (a: SMTPServerAddress | string): string => {
    const addr = typeof a === "string" ? a : a.address;
    const at = addr.lastIndexOf("@");
    return (at < 0 ? addr : addr.slice(0, at)).toLowerCase();
  };
  const isUser = (name: string) => dovecot.users.some((u) => u.name.toLowerCase() === name);
  const smtpError = (code: number, text: string): Error =>
    Object.assign(new Error(text), { responseCode: code });

  const server = new SMTPServer({
    disabledCommands: ["STARTTLS", "AUTH"],
    authOptional: true,
    logger: false,
    banner: "sigil test sink",
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      if (!opts.acceptUnknown && !isUser(localPart(address))) {
        callback(smtpError(550, `5.1.1 <${address.address}>: no such mailbox`));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (e) => callback(e));
      stream.on("end", () => {
        attempts++;
        if (failures > 0) {
          failures--;
          callback(smtpError(451, "4.3.0 temporary failure (test)"));
          return;
        }
        const raw = Buffer.concat(chunks);
        const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
        const to = session.envelope.rcptTo.map((r) => r.address);
        const targets = [...new Set(to.map(localPart).filter(isUser))];
        (async () => {
          for (const name of targets) {
            const user = dovecot.users.find((u) => u.name.toLowerCase() === name)!;
            await dovecot.append(user.name, raw, "INBOX");
          }
        })().then(
          () => {
            received.push({ from, to, raw });
            callback();
          },
          (e: Error) => callback(smtpError(451, `4.3.0 delivery to dovecot failed: ${e.message}`)),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    host: "127.0.0.1",
    port,
    received,
    attempts: () => attempts,
    failNext: (n) => {
      failures = n;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
