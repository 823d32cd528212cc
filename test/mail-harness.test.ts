/**
 * The mail harness itself: a private dovecot takes and returns messages over IMAP, and the
 * SMTP sink delivers what nodemailer sends into the recipient's dovecot INBOX.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import nodemailer from "nodemailer";
import { startDovecot, startSmtpSink, type Dovecot, type SmtpSink } from "./mail-harness.js";

const msg = (subject: string, body = "hello"): Buffer =>
  Buffer.from(`From: a@example.org\r\nTo: b@example.org\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

describe("mail harness", () => {
  let dovecot: Dovecot;
  let sink: SmtpSink;
  before(async () => {
    dovecot = await startDovecot({
      users: [
        { name: "alice", password: "alice-pw" },
        { name: "ca", password: "ca-pw" },
        { name: "bob", password: "bob-pw" },
      ],
    });
    sink = await startSmtpSink(dovecot);
  });
  after(async () => {
    await sink?.stop();
    await dovecot?.stop();
  });

  it("listens on 127.0.0.1 with its own config and base_dir", () => {
    assert.equal(dovecot.host, "127.0.0.1");
    assert.ok(dovecot.port > 1024);
    assert.match(dovecot.log(), /starting up for imap/);
  });

  it("appends and lists messages, oldest first", async () => {
    const u1 = await dovecot.append("alice", msg("one"));
    const u2 = await dovecot.append("alice", msg("two"));
    assert.ok(u2 > u1);
    const inbox = await dovecot.list("alice", "INBOX");
    assert.deepEqual(
      inbox.map((b) => b.toString()),
      [msg("one"), msg("two")].map((b) => b.toString()),
    );
    assert.deepEqual(await dovecot.list("alice", "NoSuchFolder"), []);
    assert.deepEqual(await dovecot.list("bob", "INBOX"), []);
  });

  it("creates a folder on append and lists folders", async () => {
    await dovecot.append("alice", msg("kept"), "Processed");
    const folders = await dovecot.folders("alice");
    assert.ok(folders.includes("INBOX"));
    assert.ok(folders.includes("Processed"));
    assert.equal((await dovecot.list("alice", "Processed")).length, 1);
  });

  it("delivers SMTP mail from nodemailer into the recipient's INBOX", async () => {
    const t = nodemailer.createTransport({
      host: sink.host,
      port: sink.port,
      secure: false,
      ignoreTLS: true,
    });
    const r = await t.sendMail({
      from: "requester@example.org",
      to: "ca@sigil.test",
      subject: "certificate request",
      text: "please sign",
    });
    assert.match(r.response, /^250/);
    const inbox = await dovecot.list("ca", "INBOX");
    assert.equal(inbox.length, 1);
    assert.match(inbox[0]!.toString(), /Subject: certificate request/);
    const last = sink.received.at(-1)!;
    assert.equal(last.from, "requester@example.org");
    assert.deepEqual(last.to, ["ca@sigil.test"]);
    assert.match(last.raw.toString(), /please sign/);
  });

  it("refuses unknown recipients and fails on demand with 451", async () => {
    const t = nodemailer.createTransport({
      host: sink.host,
      port: sink.port,
      secure: false,
      ignoreTLS: true,
    });
    await assert.rejects(
      t.sendMail({ from: "x@example.org", to: "nobody@sigil.test", subject: "s", text: "t" }),
      (e: { responseCode?: number }) => e.responseCode === 550,
    );
    const before = sink.received.length;
    sink.failNext(1);
    await assert.rejects(
      t.sendMail({ from: "x@example.org", to: "bob@sigil.test", subject: "retry", text: "t" }),
      (e: { responseCode?: number }) => e.responseCode === 451,
    );
    assert.equal(sink.received.length, before);
    assert.deepEqual(await dovecot.list("bob", "INBOX"), []);
    await t.sendMail({ from: "x@example.org", to: "bob@sigil.test", subject: "retry", text: "t" });
    assert.equal(sink.received.length, before + 1);
    assert.equal((await dovecot.waitForMessages("bob", "INBOX", 1)).length, 1);
  });
});
