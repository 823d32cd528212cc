/**
 * E-mail intake end to end against real servers on 127.0.0.1: dovecot (IMAP, the CA's
 * mailbox and the requesters' mailboxes) and an SMTP server delivering into dovecot (the
 * smtp-server npm package standing in for postfix -> LMTP -> dovecot). `sigil serve` picks
 * requests up by IMAP (IDLE), auto-approves under the rules, and mails the certificate back;
 * the same through `sigil intake mail < file.eml`; hostile mail is rejected with a reason;
 * a SIGKILL mid-cycle loses nothing and issues nothing twice.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import MailComposer from "nodemailer/lib/mail-composer";
import type { MailComposerOptions } from "nodemailer/lib/mail-composer";
import { simpleParser } from "mailparser";
import Database from "better-sqlite3";
import { sigilAsync, sigilOk, tool, tempDir, write, initHome } from "./helpers.js";
import { startServe, type Served } from "./serve-helpers.js";
import { startDovecot, startSmtpSink, type Dovecot, type SmtpSink } from "./mail-harness.js";

const USERS = ["ca", "amber", "bob", "ops"].map((name) => ({
  name,
  password: `pw-${name}-${randomBytes(4).toString("hex")}`,
}));
const pw = (n: string) => USERS.find((u) => u.name === n)!.password;

function compose(opts: MailComposerOptions): Promise<Buffer> {
  return new MailComposer({
    to: "ca@genfic.com",
    subject: "certificate request",
    text: "Please sign.",
    ...opts,
  })
    .compile()
    .build();
}

/** A fresh key + CSR for `subject`; returns the CSR PEM. */
function makeCsr(dir: string, name: string, subject: string, extra: string[] = []): string {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const r = tool("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-subj", subject, ...extra, "-out", csr]); // prettier-ignore
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(csr, "utf8");
}

function certCount(home: string): number {
  const db = new Database(join(home, "sigil.db"), { readonly: true });
  try {
    return (
      db.prepare("select count(*) n from certificates where profile not in ('ocsp', 'ca')").get() as {
        n: number;
      }
    ).n;
  } finally {
    db.close();
  }
}

/** The message as the trusted receiving MTA hands it on: its DKIM verdict on top (RFC 8601). */
function dkim(raw: Buffer, header = "mx.genfic.com; dkim=pass header.d=genfic.com header.s=mail"): Buffer {
  return Buffer.concat([Buffer.from(`Authentication-Results: ${header}\r\n`), raw]);
}

/** Waits until `pick` finds mails in the SMTP sink; returns them. */
async function sunk(sink: SmtpSink, pick: (m: SmtpSink["received"][number]) => boolean, n = 1) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && sink.received.filter(pick).length < n)
    await new Promise((r) => setTimeout(r, 100));
  return sink.received.filter(pick);
}

interface CertView {
  serial: string;
  subject: string;
  email: string | null;
  sans: string[];
}

interface Req {
  id: number;
  state: string;
  reason: string | null;
  submitter: string | null;
}

describe("e-mail intake, replies and expiry notices against dovecot", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let dovecot: Dovecot;
  let sink: SmtpSink;
  let s: Served | undefined;
  let root: string;
  let userCa: string;
  const env = { SIGIL_TEST_IMAP_PASS: "" };

  const serve = async () => {
    s = await startServe(home, ["--workers", "1"], env);
    return s;
  };

  before(async () => {
    dovecot = await startDovecot({ users: USERS });
    sink = await startSmtpSink(dovecot, { acceptUnknown: true });
    env.SIGIL_TEST_IMAP_PASS = pw("ca");
    initHome(home);
    writeFileSync(
      join(home, "sigil.json"),
      JSON.stringify({
        imap: {
          host: "127.0.0.1",
          port: dovecot.port,
          starttls: false,
          user: "ca",
          passwordEnv: "SIGIL_TEST_IMAP_PASS",
          pollSeconds: 5,
        },
        smtp: { host: "127.0.0.1", port: sink.port, from: "ca@genfic.com" },
        // The MTA that delivers into the CA's mailbox, whose DKIM verdicts are believed.
        mail: { trustedAuthservIds: ["mx.genfic.com"] },
        intake: {
          ca: "genfic-user",
          acceptSenderDomains: ["genfic.com"],
          autoApprove: [
            {
              name: "staff",
              ca: "genfic-user",
              channels: ["mail"],
              senderDomains: ["genfic.com"],
              emails: ["*@genfic.com"],
            },
          ],
        },
        notify: { admins: ["ops@genfic.com"], hourUtc: 0 },
      }),
    );
    root = write(t.dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    userCa = write(t.dir, "user.pem", sigilOk(home, ["ca", "show", "genfic-user", "--pem"]).stdout);
  });
  after(async () => {
    await s?.stop();
    await sink?.stop();
    await dovecot?.stop();
    t.cleanup();
  });

  /** The certificate attached to a reply, verified with openssl against the chain. */
  async function verifyReply(raw: Buffer, name: string): Promise<string> {
    const mail = await simpleParser(raw);
    const crt = mail.attachments.find((a) => a.filename?.endsWith(".crt"));
    assert.ok(crt, `reply has a .crt: ${mail.attachments.map((a) => a.filename).join(", ")}`);
    assert.ok(
      mail.attachments.some((a) => a.filename?.endsWith(".der")),
      "and the DER",
    );
    assert.ok(
      mail.attachments.some((a) => a.filename?.endsWith("-chain.pem")),
      "and the chain",
    );
    const file = write(t.dir, `${name}.crt`, crt.content);
    const v = tool("openssl", ["verify", "-CAfile", root, "-untrusted", userCa, file]);
    assert.equal(v.status, 0, v.stderr);
    return file;
  }

  it("auto-approves a request mailed by its owner, DKIM-verified by the trusted MTA, and mails the certificate back (IMAP, IDLE)", async () => {
    await serve();
    const csr = makeCsr(t.dir, "amber", "/CN=Amber McStone/emailAddress=amber@genfic.com");
    await dovecot.append(
      "ca",
      dkim(
        await compose({
          from: "Amber <amber@genfic.com>",
          attachments: [{ filename: "amber.csr", content: csr }],
        }),
      ),
    );
    const [reply] = await dovecot.waitForMessages("amber", "INBOX", 1, 30_000);
    const crt = await verifyReply(reply!, "amber");
    assert.match(tool("openssl", ["x509", "-in", crt, "-noout", "-subject"]).stdout, /Amber McStone/);
    assert.equal((await dovecot.list("ca", "INBOX")).length, 0);
    assert.equal((await dovecot.waitForMessages("ca", "Processed", 1)).length, 1);
  });

  it("leaves a request outside the rules pending until an operator approves it, then mails it", async () => {
    const csr = makeCsr(t.dir, "carol", "/CN=Carol/emailAddress=carol@genfic.com");
    await dovecot.append(
      "ca",
      await compose({
        from: "bob@genfic.com",
        subject: "for Carol",
        attachments: [{ filename: "carol.req", content: csr }],
      }),
    );
    await dovecot.waitForMessages("ca", "Processed", 2, 30_000);
    const pending = JSON.parse(
      sigilOk(home, ["requests", "list", "--state", "pending", "--json"]).stdout,
    ) as Req[];
    const r = pending.find((x) => x.submitter === "bob@genfic.com");
    assert.ok(r, "waits in the queue");
    assert.match(sigilOk(home, ["requests", "show", String(r.id)]).stdout, /not the sender's own address/);
    assert.equal((await dovecot.list("bob", "INBOX")).length, 0, "no reply yet");
    assert.equal((await sigilAsync(home, ["requests", "approve", String(r.id)])).status, 0);
    const [reply] = await dovecot.waitForMessages("bob", "INBOX", 1, 30_000);
    await verifyReply(reply!, "carol");
    assert.match(
      sigilOk(home, ["requests", "show", String(r.id)]).stdout,
      /issued\s+to bob@genfic\.com: sent/,
    );
  });

  it("rejects hostile mail with a reason, issues nothing, replies where due, and keeps running", async () => {
    const before = certCount(home);
    const good = makeCsr(t.dir, "x", "/CN=X/emailAddress=amber@genfic.com");
    const der = Buffer.from(good.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    der[der.length - 3] = der[der.length - 3]! ^ 0x55;
    const certPem = readFileSync(root, "utf8");
    const many = Array.from({ length: 100 }, (_, i) => ({
      filename: `r${i}.txt`,
      content: `attachment ${i}`,
    }));
    const cases: Array<{ name: string; raw: Buffer; replyTo?: string }> = [
      {
        name: "no CSR",
        raw: await compose({ from: "amber@genfic.com", subject: "no csr" }),
        replyTo: "amber",
      },
      { name: "5 MB garbage", raw: await compose({ from: "amber@genfic.com", subject: "garbage", attachments: [{ filename: "big.csr", content: randomBytes(5 * 1024 * 1024) }] }), replyTo: "amber" }, // prettier-ignore
      { name: "bad signature", raw: await compose({ from: "amber@genfic.com", subject: "badsig", attachments: [{ filename: "x.der", content: der }] }), replyTo: "amber" }, // prettier-ignore
      { name: "a certificate", raw: await compose({ from: "amber@genfic.com", subject: "cert", attachments: [{ filename: "root.pem", content: certPem }] }), replyTo: "amber" }, // prettier-ignore
      { name: "100 attachments", raw: await compose({ from: "amber@genfic.com", subject: "many", attachments: many }), replyTo: "amber" }, // prettier-ignore
      { name: "broken MIME", raw: Buffer.from("From: amber@genfic.com\r\nSubject: broken\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: application/pkcs10\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n"), replyTo: "amber" }, // prettier-ignore
      { name: "foreign sender domain", raw: await compose({ from: "eve@evil.example", subject: "evil", attachments: [{ filename: "x.csr", content: good }] }) }, // prettier-ignore
      { name: "forged sender", raw: Buffer.concat([Buffer.from("Return-Path: <eve@evil.example>\r\n"), await compose({ from: "amber@genfic.com", subject: "forged", attachments: [{ filename: "x.csr", content: good }] })]) }, // prettier-ignore
    ];
    const amberBefore = (await dovecot.list("amber", "INBOX")).length;
    const rejectedBefore = (await dovecot.list("ca", "Rejected")).length;
    for (const c of cases) await dovecot.append("ca", c.raw);
    await dovecot.waitForMessages("ca", "Rejected", rejectedBefore + cases.length, 60_000);
    assert.equal((await dovecot.list("ca", "INBOX")).length, 0);
    assert.equal(certCount(home), before, "no certificate for any of them");
    const replies = await dovecot.waitForMessages("amber", "INBOX", amberBefore + 6, 30_000);
    const texts = await Promise.all(
      replies.slice(amberBefore).map(async (r) => (await simpleParser(r)).text ?? ""),
    );
    for (const re of [
      /no certificate request found/,
      /too many attachments/i,
      /signature/i,
      /certificate, not a certificate signing request/,
      /bytes \(over/,
    ])
      // prettier-ignore
      assert.ok(texts.some((x) => re.test(x)), `a rejection mail says ${re}: ${texts.join(" | ")}`);
    // The foreign domain gets a reply (to its own address); the forged one gets none.
    await new Promise((r) => setTimeout(r, 1000));
    const toEve = sink.received.filter((m) => m.to.includes("eve@evil.example"));
    assert.equal(toEve.length, 1, "one rejection to the foreign sender, none to the forged one");
    assert.match(toEve[0]!.raw.toString(), /not accepted/);
    const h = await fetch(`${s!.url}/healthz`);
    assert.equal(h.status, 200);
  });

  it("takes the same flow through `sigil intake mail < file.eml`, once", async () => {
    const csr = makeCsr(t.dir, "bobby", "/CN=Bob/emailAddress=bob@genfic.com");
    const eml = dkim(
      await compose({
        from: "bob@genfic.com",
        messageId: "<intake-1@genfic.com>",
        attachments: [{ filename: "bob.csr", content: csr }],
      }),
    );
    const file = write(t.dir, "bob.eml", eml);
    const bobBefore = (await dovecot.list("bob", "INBOX")).length;
    const r = await sigilAsync(home, ["intake", "mail"], { input: readFileSync(file) });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /issued/);
    const replies = await dovecot.waitForMessages("bob", "INBOX", bobBefore + 1, 30_000);
    await verifyReply(replies[replies.length - 1]!, "bob-intake");
    const again = await sigilAsync(home, ["intake", "mail"], { input: readFileSync(file) });
    assert.equal(again.status, 0);
    assert.match(again.stderr, /taken in before/);
    const rej = await sigilAsync(home, ["intake", "mail"], {
      input: "From: amber@genfic.com\r\nSubject: nothing\r\n\r\nhello\r\n",
    });
    assert.equal(rej.status, 0);
    assert.match(rej.stderr, /rejected: no certificate request found/);
  });

  it("does not take forged headers as proof: the CEO's address waits for its mailbox, nothing goes to Reply-To", async () => {
    // The attacker writes every header: envelope, From, and a Reply-To of their own.
    const csr = makeCsr(t.dir, "ceo", "/CN=CEO/emailAddress=ceo@genfic.com");
    const eml = Buffer.concat([
      // The receiving MTA's own verdict on top (the message is not signed); under it, the
      // attacker's forged claim in the MTA's name (RFC 8601 §5: only the topmost counts).
      Buffer.from("Authentication-Results: mx.genfic.com; dkim=none\r\n"),
      Buffer.from("Return-Path: <ceo@genfic.com>\r\n"),
      Buffer.from("Authentication-Results: mx.genfic.com; dkim=pass header.d=genfic.com\r\n"),
      await compose({
        from: "ceo@genfic.com",
        replyTo: "mallory@evil.example",
        messageId: "<forged-ceo@genfic.com>",
        attachments: [{ filename: "ceo.csr", content: csr }],
      }),
    ]);
    const before = certCount(home);
    const r = await sigilAsync(home, ["intake", "mail"], { input: eml });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /issued/);
    const id = /request (\d+) from ceo@genfic\.com: pending/.exec(r.stderr)?.[1];
    assert.ok(id, r.stderr);
    assert.equal(certCount(home), before, "nothing issued");
    assert.match(sigilOk(home, ["requests", "show", id]).stdout, /mailbox-unconfirmed/);
    // The challenge goes to the address being claimed, and only there; no certificate anywhere.
    const [challenge, ...more] = await sunk(sink, (m) => m.to.includes("ceo@genfic.com"));
    assert.equal(more.length, 0);
    const text = await simpleParser(challenge!.raw);
    assert.equal(text.attachments.length, 0, "no certificate in it");
    assert.match(text.text ?? "", /sigil-confirm:[A-Za-z0-9_-]{43}/);
    await new Promise((res) => setTimeout(res, 6000)); // serve's outbox runs every 5 s
    assert.deepEqual(
      sink.received.filter((m) => m.to.some((a) => a.includes("mallory"))),
      [],
      "nothing to the forger's Reply-To",
    );
  });

  it("records the validated address, not the subject's: Bob cannot put Alice's address in his certificate", async () => {
    const csr = makeCsr(t.dir, "bob-as-alice", "/O=Gentoo Fictional, Inc./OU=DBA/CN=Alice Admin/emailAddress=alice@genfic.com", ["-addext", "subjectAltName=email:bob@genfic.com"]); // prettier-ignore
    const eml = dkim(
      await compose({
        from: "bob@genfic.com",
        messageId: "<bob-as-alice@genfic.com>",
        attachments: [{ filename: "bob.csr", content: csr }],
      }),
    );
    const r = await sigilAsync(home, ["intake", "mail"], { input: eml });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /issued/);
    const certs = JSON.parse(sigilOk(home, ["certs", "--ca", "genfic-user", "--json"]).stdout) as CertView[];
    const c = certs.find((x) => x.subject.includes("Alice Admin"));
    assert.ok(c, "issued");
    assert.equal(c.email, "bob@genfic.com", "the inventory holds the address that was proven");
    assert.doesNotMatch(c.subject, /alice@genfic\.com/, "no unproven emailAddress in the subject");
    assert.doesNotMatch(c.subject, /O=|OU=/, "no attributes the rule does not allow");
  });

  it("proves a mailbox by a round trip: the reply keeping the marker line signs it, the certificate goes to that mailbox only", async () => {
    const amberBefore = (await dovecot.list("amber", "INBOX")).length;
    const csr = makeCsr(t.dir, "amber-rt", "/CN=Amber Round Trip/emailAddress=amber@genfic.com");
    // Not DKIM-signed, and with a Reply-To elsewhere (a list, a typo, an attacker).
    await dovecot.append(
      "ca",
      await compose({
        from: "amber@genfic.com",
        replyTo: "mallory@evil.example",
        subject: "round trip",
        attachments: [{ filename: "amber.csr", content: csr }],
      }),
    );
    const [challenge] = (await dovecot.waitForMessages("amber", "INBOX", amberBefore + 1, 30_000)).slice(
      amberBefore,
    );
    const ch = await simpleParser(challenge!);
    assert.match(ch.subject ?? "", /^Confirm certificate request #\d+ \[sigil-confirm:[A-Za-z0-9_-]{43}\]$/);
    assert.equal(ch.attachments.length, 0);
    assert.match(ch.text ?? "", /CN=Amber Round Trip/);
    const id = /#(\d+)/.exec(ch.subject!)![1]!;
    assert.match(
      sigilOk(home, ["requests", "show", id]).stdout,
      /pending[\s\S]*mailbox-unconfirmed.*amber@genfic\.com/,
    );
    // Amber replies from her mail client, quoting the mail (the marker line with it).
    const reply = await compose({
      from: "amber@genfic.com",
      subject: `Re: ${ch.subject}`,
      inReplyTo: ch.messageId,
      text: `Yes, that was me.\n\n${(ch.text ?? "")
        .split("\n")
        .map((l) => `> ${l}`)
        .join("\n")}`,
    });
    await dovecot.append("ca", reply);
    const [issued] = (await dovecot.waitForMessages("amber", "INBOX", amberBefore + 2, 30_000)).slice(
      amberBefore + 1,
    );
    const crt = await verifyReply(issued!, "amber-rt");
    assert.match(tool("openssl", ["x509", "-in", crt, "-noout", "-subject"]).stdout, /Amber Round Trip/);
    // The outbox marks the mail sent just after the SMTP server took it.
    let show = "";
    for (let i = 0; i < 50 && !/issued\s+to amber@genfic\.com: sent/.test(show); i++) {
      if (i) await new Promise((r) => setTimeout(r, 100));
      show = sigilOk(home, ["requests", "show", id]).stdout;
    }
    assert.match(show, /mailbox .*amber@genfic\.com: confirmed by a reply/);
    assert.match(show, /issued\s+to amber@genfic\.com: sent/);
    assert.deepEqual(
      sink.received.filter((m) => m.to.some((a) => a.includes("mallory"))),
      [],
      "nothing to the Reply-To",
    );
    // The secret is single-use: the same reply again (another message) proves nothing.
    const again = await sigilAsync(home, ["intake", "mail"], {
      input: await compose({ from: "amber@genfic.com", subject: `Re: ${ch.subject}`, text: "again" }),
    });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /rejected: this confirmation was already used/);
    assert.match(sigilOk(home, ["audit", "log"]).stdout, /mailbox\.confirm\.refused/);
  });

  it("loses nothing and issues nothing twice when killed during a poll cycle", async () => {
    await s!.stop();
    s = undefined;
    const n = 12;
    const before = certCount(home);
    const processedBefore = (await dovecot.list("ca", "Processed")).length;
    for (let i = 0; i < n; i++) {
      const csr = makeCsr(t.dir, `k${i}`, `/CN=Kill ${i}/emailAddress=amber@genfic.com`);
      await dovecot.append(
        "ca",
        dkim(
          await compose({
            from: "amber@genfic.com",
            subject: `kill ${i}`,
            attachments: [{ filename: `k${i}.csr`, content: csr }],
          }),
        ),
      );
    }
    const first = await serve();
    // Kill it hard as soon as the first of these messages has been moved.
    await dovecot.waitForMessages("ca", "Processed", processedBefore + 1, 30_000);
    first.proc.kill("SIGKILL");
    await first.stop();
    s = undefined;
    await serve();
    await dovecot.waitForMessages("ca", "Processed", processedBefore + n, 60_000);
    assert.equal((await dovecot.list("ca", "INBOX")).length, 0);
    assert.equal(certCount(home) - before, n, "every request issued exactly once");
    const db = new Database(join(home, "sigil.db"), { readonly: true });
    const dup = db
      .prepare("select source, count(*) n from requests where channel = 'mail' group by source having n > 1")
      .all();
    db.close();
    assert.deepEqual(dup, [], "no message recorded twice");
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /audit chain OK/);
  });

  it("mails expiry notices to owners (sigil notify) and one summary a day to the admins (serve)", async () => {
    // serve's daily job already sent today's summary (notify.hourUtc 0): exactly one.
    const [summary, ...more] = await dovecot.waitForMessages("ops", "INBOX", 1, 30_000);
    assert.match((await simpleParser(summary!)).subject ?? "", /certificates expire within 30 days/);
    assert.equal(more.length, 0);
    const csr = write(t.dir, "soon.csr", makeCsr(t.dir, "soon", "/CN=Soon/emailAddress=amber@genfic.com"));
    sigilOk(home, ["sign", csr, "--ca", "genfic-user", "--days", "5", "-o", join(t.dir, "soon.crt")]);
    const dry = sigilOk(home, ["notify", "--dry-run"]);
    assert.match(dry.stdout, /would mail amber@genfic\.com: .*CN=Soon.*5 days left \(threshold 7\)/);
    assert.doesNotMatch(dry.stdout, /summary/);
    const amberBefore = (await dovecot.list("amber", "INBOX")).length;
    const notified = (await sigilAsync(home, ["notify"])).stderr;
    assert.match(notified, /queued 1 expiry notices; sent [1-9]/);
    const deadline = Date.now() + 30_000;
    let subjects: string[] = [];
    while (Date.now() < deadline) {
      const mails = (await dovecot.list("amber", "INBOX")).slice(amberBefore);
      subjects = await Promise.all(mails.map(async (m) => (await simpleParser(m)).subject ?? ""));
      if (subjects.some((x) => /Certificate expires .*CN=Soon/.test(x))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(
      subjects.some((x) => /Certificate expires .*CN=Soon/.test(x)),
      subjects.join(" | "),
    );
    assert.match(
      (await sigilAsync(home, ["notify"])).stderr,
      /queued 0 expiry notices/,
      "once per threshold",
    );
    assert.equal((await dovecot.list("ops", "INBOX")).length, 1, "no second summary today");
  });
});
