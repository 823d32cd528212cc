/**
 * A thin IMAP mailbox client for mail intake, over imapflow: log in, read the messages in
 * one folder oldest first, move each to a "processed" or "rejected" folder, and wait for
 * new mail with IDLE (RFC 2177) where the server has it, else by polling.
 *
 * Moves use MOVE (RFC 6851) where advertised, else COPY + `\Deleted` + (UID) EXPUNGE
 * (imapflow's fallback, RFC 4315 UID EXPUNGE when the server has UIDPLUS).
 */
import { readFileSync } from "node:fs";
import { rootCertificates, type ConnectionOptions } from "node:tls";
import { ImapFlow } from "imapflow";
import { ErrorCodes, SigilError } from "../errors.js";

/** Where and how to reach the intake mailbox. */
export interface ImapSettings {
  host: string;
  port: number;
  /** implicit TLS (993-style); else plain, upgraded with STARTTLS when `starttls` */
  secure: boolean;
  starttls?: boolean;
  /** verify the server certificate (default true); `caFile` adds a trust anchor (PEM) */
  rejectUnauthorized?: boolean;
  caFile?: string;
  user: string;
  password: string;
  /** The folder read for requests; default "INBOX". */
  mailbox?: string;
  /** Where handled messages go; default "Processed". */
  processedFolder?: string;
  /** Where refused messages go; default "Rejected". */
  rejectedFolder?: string;
  /** Without IDLE, how long {@link ImapMailbox.waitForChange} waits before it polls; default 30 s. */
  pollMs?: number;
}

/** One message in the mailbox. */
export interface MailboxMessage {
  uid: number;
  /** UIDVALIDITY of the mailbox (RFC 3501 §2.3.1.1): `uid` is only meaningful with it. */
  uidValidity: string;
  /** The whole message (RFC 5322), or empty when it was over the size limit. */
  raw: Buffer;
  /** RFC822.SIZE as the server reported it. */
  size: number;
}

/** The logger an {@link ImapMailbox} writes to (pino's shape). */
export interface ImapLog {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/** Default folder names. */
export const IMAP_DEFAULTS = {
  mailbox: "INBOX",
  processedFolder: "Processed",
  rejectedFolder: "Rejected",
  pollMs: 30_000,
} as const;

type Resolved = ImapSettings & Required<Pick<ImapSettings, keyof typeof IMAP_DEFAULTS>>;

/** Node's TLS error codes that mean "the certificate was not accepted". */
const TLS_CODES =
  /^(CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|ERR_TLS_|ERR_SSL_|HOSTNAME_MISMATCH)/;

/** One line, no password. */
function clean(text: string, password: string): string {
  let t = text.replace(/\s+/g, " ").trim();
  if (password.length >= 3) t = t.split(password).join("***");
  return t;
}

/** Maps a connect/login failure to a one-line SigilError. */
function openError(e: unknown, s: Resolved): SigilError {
  const err = (e ?? {}) as {
    code?: string;
    message?: string;
    authenticationFailed?: boolean;
    responseText?: string;
    tlsFailed?: boolean;
  };
  const where = `${s.host}:${s.port}`;
  const details = { host: s.host, port: s.port, user: s.user, code: err.code };
  const msg = clean(err.message ?? String(e), s.password);
  const fail = (code: typeof ErrorCodes.CONFIG | typeof ErrorCodes.INTERNAL, text: string) =>
    new SigilError(code, clean(text, s.password), { details, cause: e });
  if (err.authenticationFailed)
    return fail(
      ErrorCodes.CONFIG,
      `IMAP login as ${s.user} at ${where} failed: ${err.responseText || "authentication failed"}`,
    );
  switch (err.code) {
    case "ECONNREFUSED":
      return fail(ErrorCodes.CONFIG, `cannot connect to IMAP server ${where}: connection refused`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(ErrorCodes.CONFIG, `cannot resolve IMAP host ${s.host}`);
    case "ETIMEDOUT":
    case "CONNECT_TIMEOUT":
    case "GREETING_TIMEOUT":
    case "UPGRADE_TIMEOUT":
      return fail(ErrorCodes.CONFIG, `IMAP server ${where} did not answer in time (${err.code})`);
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail(ErrorCodes.CONFIG, `cannot reach IMAP server ${where} (${err.code})`);
    case "MissingServerExtension":
      return fail(ErrorCodes.CONFIG, `IMAP server ${where} does not offer STARTTLS: ${msg}`);
  }
  if (err.tlsFailed || (err.code !== undefined && TLS_CODES.test(err.code)))
    return fail(
      ErrorCodes.CONFIG,
      `TLS with IMAP server ${where} failed: ${msg} (check secure/starttls, or set caFile to trust its certificate)`,
    );
  return fail(ErrorCodes.INTERNAL, `IMAP connection to ${where} failed: ${msg}`);
}

/**
 * One logged-in IMAP session with the intake mailbox selected. Not safe for concurrent
 * calls: run one operation at a time (the intake loop does).
 */
export class ImapMailbox {
  /** true when the server advertised IDLE */
  readonly idle: boolean;
  private changed = false;
  private isClosed = false;
  private readonly wakers = new Set<() => void>();

  private constructor(
    private readonly client: ImapFlow,
    private readonly s: Resolved,
    private readonly log: ImapLog | undefined,
  ) {
    this.idle = client.capabilities.has("IDLE");
    client.on("exists", (ev) => {
      if (ev.count > ev.prevCount) {
        this.changed = true;
        for (const w of [...this.wakers]) w();
      }
    });
    client.on("close", () => {
      if (!this.isClosed) this.log?.warn({ host: s.host, port: s.port }, "IMAP connection closed");
      this.isClosed = true;
      for (const w of [...this.wakers]) w();
    });
  }

  /** connects and logs in; clear one-line SigilError (code "config" or "internal") on refused connection / bad login (never print the password) */
  static async open(settings: ImapSettings, log?: ImapLog): Promise<ImapMailbox> {
    const s: Resolved = {
      ...settings,
      mailbox: settings.mailbox || IMAP_DEFAULTS.mailbox,
      processedFolder: settings.processedFolder || IMAP_DEFAULTS.processedFolder,
      rejectedFolder: settings.rejectedFolder || IMAP_DEFAULTS.rejectedFolder,
      pollMs: settings.pollMs ?? IMAP_DEFAULTS.pollMs,
    };
    const tls: ConnectionOptions = { rejectUnauthorized: s.rejectUnauthorized ?? true };
    if (s.caFile) {
      let pem: string;
      try {
        pem = readFileSync(s.caFile, "utf8");
      } catch (e) {
        throw new SigilError(
          ErrorCodes.CONFIG,
          `cannot read IMAP caFile ${s.caFile}: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
      tls.ca = [...rootCertificates, pem];
    }
    const client = new ImapFlow({
      host: s.host,
      port: s.port,
      secure: s.secure,
      doSTARTTLS: s.secure ? undefined : Boolean(s.starttls),
      auth: { user: s.user, pass: s.password },
      tls,
      logger: false,
      disableAutoIdle: true,
      connectionTimeout: 20_000,
      greetingTimeout: 16_000,
      // RFC 2177 §3: re-issue IDLE well before a server's 29-minute inactivity limit
      maxIdleTime: 5 * 60_000,
    });
    // Without a listener an 'error' event would crash the process.
    client.on("error", (e: Error) =>
      log?.warn({ host: s.host, port: s.port, err: clean(e.message, s.password) }, "IMAP connection error"),
    );
    try {
      await client.connect();
    } catch (e) {
      client.close();
      throw openError(e, s);
    }
    try {
      await client.mailboxOpen(s.mailbox);
    } catch (e) {
      await client.logout().catch(() => client.close());
      const missing = (e as { mailboxMissing?: boolean }).mailboxMissing;
      throw new SigilError(
        missing ? ErrorCodes.CONFIG : ErrorCodes.INTERNAL,
        missing
          ? `IMAP mailbox ${s.mailbox} does not exist for ${s.user} at ${s.host}:${s.port}`
          : `cannot open IMAP mailbox ${s.mailbox} at ${s.host}:${s.port}: ${clean((e as Error).message, s.password)}`,
        { details: { host: s.host, port: s.port, user: s.user, mailbox: s.mailbox }, cause: e },
      );
    }
    const box = new ImapMailbox(client, s, log);
    log?.info(
      {
        host: s.host,
        port: s.port,
        user: s.user,
        mailbox: s.mailbox,
        tls: client.secureConnection,
        idle: box.idle,
      },
      "IMAP mailbox open",
    );
    return box;
  }

  /** The folder handled messages go to. */
  get processedFolder(): string {
    return this.s.processedFolder;
  }

  /** The folder refused messages go to. */
  get rejectedFolder(): string {
    return this.s.rejectedFolder;
  }

  /** True once the connection is gone (closed by us or dropped); open a new one then. */
  get closed(): boolean {
    return this.isClosed;
  }

  private check(what: string): void {
    if (this.isClosed)
      throw new SigilError(
        ErrorCodes.INTERNAL,
        `IMAP connection to ${this.s.host}:${this.s.port} is closed`,
        {
          details: { op: what },
        },
      );
  }

  private fail(what: string, e: unknown): SigilError {
    if (e instanceof SigilError) return e;
    return new SigilError(
      ErrorCodes.INTERNAL,
      `IMAP ${what} at ${this.s.host}:${this.s.port} failed: ${clean((e as Error)?.message ?? String(e), this.s.password)}`,
      { cause: e },
    );
  }

  /** creates processed/rejected folders when missing */
  async ensureFolders(): Promise<void> {
    this.check("ensureFolders");
    try {
      const have = new Set((await this.client.list()).map((m) => m.path.toLowerCase()));
      for (const f of [this.s.processedFolder, this.s.rejectedFolder]) {
        if (have.has(f.toLowerCase())) continue;
        await this.client.mailboxCreate(f);
        this.log?.info({ folder: f }, "IMAP folder created");
      }
    } catch (e) {
      throw this.fail("folder creation", e);
    }
  }

  /** the messages currently in the mailbox, oldest first, at most `max`; messages over `maxBytes` are returned with raw = empty Buffer and size set (caller rejects them without downloading) */
  async fetch(max: number, maxBytes: number): Promise<MailboxMessage[]> {
    this.check("fetch");
    try {
      await this.client.noop(); // collect EXISTS/EXPUNGE the server has queued
      this.changed = false; // what came so far is read below; later EXISTS set it again
      const mb = this.client.mailbox;
      if (!mb || mb.exists === 0 || max <= 0) return [];
      const uidValidity = String(mb.uidValidity);
      const meta = (await this.client.fetchAll("1:*", { uid: true, size: true, flags: true }))
        .filter((m) => !m.flags?.has("\\Deleted"))
        .sort((a, b) => a.uid - b.uid)
        .slice(0, max);
      const wanted = meta.filter((m) => (m.size ?? 0) <= maxBytes).map((m) => m.uid);
      const sources = new Map<number, Buffer>();
      if (wanted.length > 0) {
        for (const m of await this.client.fetchAll(
          wanted.join(","),
          { uid: true, source: true },
          { uid: true },
        ))
          if (m.source) sources.set(m.uid, m.source);
      }
      const out: MailboxMessage[] = [];
      for (const m of meta) {
        const size = m.size ?? 0;
        if (size > maxBytes) out.push({ uid: m.uid, uidValidity, raw: Buffer.alloc(0), size });
        else {
          const raw = sources.get(m.uid);
          if (raw !== undefined) out.push({ uid: m.uid, uidValidity, raw, size }); // else expunged meanwhile
        }
      }
      return out;
    } catch (e) {
      throw this.fail("fetch", e);
    }
  }

  /** moves one message (by UID) to a folder (MOVE, or COPY+\Deleted+EXPUNGE where MOVE is missing) */
  async move(uid: number, folder: string): Promise<void> {
    return this.moveMany([uid], folder);
  }

  /** moves messages (by UID) to a folder in one command (a UID set, RFC 3501 §9 sequence-set) */
  async moveMany(uids: number[], folder: string): Promise<void> {
    if (uids.length === 0) return;
    this.check("move");
    const set = uids.join(",");
    const what = uids.length === 1 ? `message ${uids[0]}` : `${uids.length} messages`;
    let r: Awaited<ReturnType<ImapFlow["messageMove"]>>;
    try {
      r = await this.client.messageMove(set, folder, { uid: true });
    } catch (e) {
      throw this.fail(`move of ${what} to ${folder}`, e);
    }
    if (!r)
      throw new SigilError(
        ErrorCodes.INTERNAL,
        `IMAP server ${this.s.host}:${this.s.port} refused to move ${what} to ${folder} (does the folder exist?)`,
        { details: { uids, folder } },
      );
  }

  /** resolves when the mailbox changes (IDLE when the server has it, else after pollMs), or after timeoutMs, or when `signal` aborts */
  async waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    this.check("waitForChange");
    if (signal?.aborted || this.changed) return;
    const wait = this.idle ? timeoutMs : Math.min(this.s.pollMs, timeoutMs);
    await new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", finish);
        this.wakers.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, Math.min(Math.max(0, wait), 2 ** 31 - 1));
      signal?.addEventListener("abort", finish, { once: true });
      this.wakers.add(finish);
      if (this.idle)
        this.client.idle().then(
          (r) => {
            // a refused IDLE: wait out the timeout (a poll) rather than spin
            if (r === false) this.log?.warn({ host: this.s.host }, "IMAP IDLE refused by the server");
          },
          (e: Error) => {
            this.log?.warn({ err: clean(e.message, this.s.password) }, "IMAP IDLE failed");
            finish();
          },
        );
    });
    if (this.isClosed) return;
    // Ends IDLE (imapflow sends DONE before the next command) or, without IDLE, polls.
    if (this.client.idling || (!this.idle && !signal?.aborted)) {
      try {
        await this.client.noop();
      } catch (e) {
        throw this.fail("NOOP", e);
      }
    }
  }

  /** Logs out (or drops the connection when that fails). Safe to call twice. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const w of [...this.wakers]) w();
    await this.client.logout().catch(() => this.client.close());
  }
}
