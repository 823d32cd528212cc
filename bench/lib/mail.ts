/**
 * The mail side of bench/mail: request mails as a requester's client would send them
 * (MailComposer, a PKCS#10 attachment of the sender's own), loading them into a dovecot
 * mailbox over one IMAP session, and watching folder sizes with STATUS while a consumer
 * (sigil serve, fetchmail) empties the mailbox.
 */
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";
import { ImapFlow } from "imapflow";
import MailComposer from "nodemailer/lib/mail-composer";
import { NodeSigner } from "../../src/keys/node-signer.js";
import { ImapMailbox } from "../../src/mail/imap.js";
import { buildCsr } from "../../src/x509/csr-build.js";
import { toPem } from "../../src/x509/der.js";
import { parseDn } from "../../src/x509/dn.js";

/**
 * The authserv-id of the MTA that "delivered" the mails: a home that lists it in
 * `mail.trustedAuthservIds` takes their DKIM verdict as proof of the sender's address.
 */
export const BENCH_MTA = "mx.genfic.com";

/** One request mail. */
export interface RequestMail {
  /** The sender, `benchNNNNN@genfic.com`: also the emailAddress of the request's subject. */
  from: string;
  messageId: string;
  /** The attachment's file name (`benchNNNNN.csr`, distinct per mail). */
  filename: string;
  /**
   * The whole RFC 5322 message, with the Return-Path and the DKIM verdict
   * (Authentication-Results of `mx.genfic.com`, RFC 8601) a delivering MTA adds.
   */
  raw: Buffer;
}

/**
 * Builds `n` distinct request mails: each from its own genfic.com address, with its own
 * Message-ID and its own P-256 key, whose PEM request (subject
 * `/O=Gentoo Fictional, Inc./CN=Bench User i/emailAddress=<sender>`) is attached as
 * `benchNNNNN.csr` (application/octet-stream, base64, as nodemailer sends a .csr).
 */
export async function makeRequestMails(n: number, tag: string): Promise<RequestMail[]> {
  const gen = promisify(generateKeyPair);
  const out: RequestMail[] = [];
  for (let i = 0; i < n; i += 64) {
    const keys = await Promise.all(
      Array.from({ length: Math.min(64, n - i) }, () => gen("ec", { namedCurve: "prime256v1" })),
    );
    for (const [j, k] of keys.entries()) {
      const idx = i + j;
      const local = `bench${String(idx).padStart(5, "0")}`;
      const from = `${local}@genfic.com`;
      const signer = new NodeSigner(k.privateKey);
      const csr = await buildCsr({
        subject: parseDn(`/O=Gentoo Fictional, Inc./CN=Bench User ${idx}/emailAddress=${from}`),
        sans: [],
        spki: signer.spki,
        signer,
      });
      const messageId = `<${tag}-${idx}@genfic.com>`;
      const filename = `${local}.csr`;
      const body = await new MailComposer({
        from: `Bench User ${idx} <${from}>`,
        to: "ca@genfic.com",
        subject: `certificate request ${idx}`,
        messageId,
        date: new Date(),
        text: "Please sign the attached request.",
        attachments: [{ filename, content: toPem(csr, "CERTIFICATE REQUEST") }],
      })
        .compile()
        .build();
      out.push({
        from,
        messageId,
        filename,
        raw: Buffer.concat([
          Buffer.from(`Authentication-Results: ${BENCH_MTA}; dkim=pass header.d=genfic.com\r\n`),
          Buffer.from(`Return-Path: <${from}>\r\n`),
          body,
        ]),
      });
    }
  }
  return out;
}

/** Where a mailbox user is. */
export interface ImapLogin {
  host: string;
  port: number;
  user: string;
  password: string;
}

async function session(l: ImapLogin): Promise<ImapFlow> {
  const c = new ImapFlow({
    host: l.host,
    port: l.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: l.user, pass: l.password },
    logger: false,
    disableAutoIdle: true,
  });
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

/**
 * APPENDs every message to `folder` (created when missing) over one IMAP session, oldest
 * first; returns the wall time in milliseconds (log-in included).
 */
export async function loadMailbox(l: ImapLogin, mails: RequestMail[], folder = "INBOX"): Promise<number> {
  const t0 = performance.now();
  const c = await session(l);
  try {
    const names = (await c.list()).map((m) => m.path.toLowerCase());
    if (!names.includes(folder.toLowerCase())) await c.mailboxCreate(folder);
    for (const m of mails) {
      const r = await c.append(folder, m.raw);
      if (!r) throw new Error(`IMAP APPEND to ${l.user}/${folder} failed`);
    }
  } finally {
    await c.logout().catch(() => c.close());
  }
  return performance.now() - t0;
}

/** Message counts of some folders (0 for a folder that does not exist). */
export type FolderCounts = Record<string, number>;

/** An IMAP session that reads folder sizes with STATUS (RFC 3501 §6.3.10), never selecting one. */
export interface MailboxWatch {
  counts(folders: string[]): Promise<FolderCounts>;
  close(): Promise<void>;
}

/** Opens a {@link MailboxWatch} for a user. */
export async function watchMailbox(l: ImapLogin): Promise<MailboxWatch> {
  const c = await session(l);
  return {
    async counts(folders) {
      const out: FolderCounts = {};
      for (const f of folders) {
        // STATUS of a folder that does not exist (yet) is a NO: counted as empty
        const s = await c.status(f, { messages: true }).catch(() => false as const);
        out[f] = s ? (s.messages ?? 0) : 0;
      }
      return out;
    },
    close: async () => {
      await c.logout().catch(() => c.close());
    },
  };
}

/**
 * Sigil's IMAP traffic alone, with Sigil's own client (src/mail/imap.ts): log in, make the
 * folders, then FETCH up to `passSize` messages and MOVE each to Processed, pass after
 * pass, until the mailbox is empty; nothing is parsed or stored. The ceiling of that
 * pattern on this server. Returns the wall time (log-in included), the messages moved, and
 * per pass the INBOX size at its start and the time of its MOVEs.
 */
export async function imapPatternAlone(
  l: ImapLogin,
  passSize: number,
  maxBytes: number,
): Promise<{ ms: number; moved: number; passes: Array<{ inbox: number; moved: number; moveMs: number }> }> {
  const t0 = performance.now();
  const mb = await ImapMailbox.open({
    host: l.host,
    port: l.port,
    secure: false,
    starttls: false,
    user: l.user,
    password: l.password,
  });
  let moved = 0;
  const passes: Array<{ inbox: number; moved: number; moveMs: number }> = [];
  try {
    await mb.ensureFolders();
    for (;;) {
      const msgs = await mb.fetch(passSize, maxBytes);
      if (msgs.length === 0) break;
      const m0 = performance.now();
      for (const m of msgs) {
        await mb.move(m.uid, mb.processedFolder);
        moved++;
      }
      passes.push({ inbox: 0, moved: msgs.length, moveMs: performance.now() - m0 });
    }
  } finally {
    await mb.close();
  }
  // INBOX size at the start of each pass: what the later passes had not moved yet
  let left = moved;
  for (const p of passes) {
    p.inbox = left;
    left -= p.moved;
  }
  return { ms: performance.now() - t0, moved, passes };
}
