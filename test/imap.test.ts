/**
 * ImapMailbox against a real dovecot (test/mail-harness.ts): order and limits, moves, IDLE,
 * the polling and COPY fallbacks of a server without IDLE and MOVE, TLS, and clear errors.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isSigilError, type SigilError } from "../src/errors.js";
import { ImapMailbox, type ImapSettings } from "../src/mail/imap.js";
import { freePort, startDovecot, type Dovecot } from "./mail-harness.js";

const USERS = ["order", "moves", "idle", "big", "poll", "tls", "closed"].map((n) => ({
  name: n,
  password: `${n}-secret-pw`,
}));

const msg = (subject: string, body = "hello"): Buffer =>
  Buffer.from(`From: a@example.org\r\nTo: ca@example.org\r\nSubject: ${subject}\r\n\r\n${body}\r\n`);

function settings(d: Dovecot, user: string, extra: Partial<ImapSettings> = {}): ImapSettings {
  return {
    host: d.host,
    port: d.port,
    secure: false,
    user,
    password: `${user}-secret-pw`,
    mailbox: "INBOX",
    processedFolder: "Processed",
    rejectedFolder: "Rejected",
    ...extra,
  };
}

/** Asserts `p` rejects with a one-line SigilError of `code` matching `re`, free of the password. */
async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp, password: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSigilError(e), `not a SigilError: ${String(e)}`);
    const se = e as SigilError;
    assert.equal(se.code, code, se.message);
    assert.match(se.message, re);
    assert.doesNotMatch(se.message, /\n/);
    assert.ok(!se.message.includes(password), "message shows the password");
    assert.ok(!JSON.stringify(se.details).includes(password), "details show the password");
    return true;
  });
}

describe("ImapMailbox against dovecot", () => {
  let d: Dovecot;
  const logs: Array<{ level: string; msg?: string }> = [];
  const log = {
    info: (_o: object, m?: string) => void logs.push({ level: "info", msg: m }),
    warn: (_o: object, m?: string) => void logs.push({ level: "warn", msg: m }),
  };
  before(async () => {
    d = await startDovecot({ users: USERS, tls: true });
  });
  after(async () => {
    await d?.stop();
  });

  it("fetches oldest first, at most max, with uid and UIDVALIDITY", async () => {
    for (const s of ["m1", "m2", "m3"]) await d.append("order", msg(s));
    const box = await ImapMailbox.open(settings(d, "order"), log);
    try {
      assert.equal(box.idle, true);
      const two = await box.fetch(2, 1 << 20);
      assert.equal(two.length, 2);
      assert.deepEqual(
        two.map((m) => m.raw.toString()),
        [msg("m1").toString(), msg("m2").toString()],
      );
      assert.ok(two[0]!.uid < two[1]!.uid);
      assert.match(two[0]!.uidValidity, /^\d+$/);
      assert.equal(two[0]!.size, msg("m1").length);
      const all = await box.fetch(10, 1 << 20);
      assert.deepEqual(
        all.map((m) => m.raw.toString()),
        ["m1", "m2", "m3"].map((s) => msg(s).toString()),
      );
      assert.deepEqual(await box.fetch(0, 1 << 20), []);
      assert.ok(logs.some((l) => l.msg === "IMAP mailbox open"));
    } finally {
      await box.close();
    }
  });

  it("creates the folders and moves messages to Processed and Rejected", async () => {
    for (const s of ["good", "bad", "later"]) await d.append("moves", msg(s));
    const box = await ImapMailbox.open(settings(d, "moves"));
    try {
      await box.ensureFolders();
      await box.ensureFolders(); // idempotent
      const folders = await d.folders("moves");
      assert.ok(folders.includes("Processed") && folders.includes("Rejected"), folders.join(","));
      const [good, bad] = await box.fetch(2, 1 << 20);
      await box.move(good!.uid, box.processedFolder);
      await box.move(bad!.uid, box.rejectedFolder);
      const left = await box.fetch(10, 1 << 20);
      assert.deepEqual(
        left.map((m) => m.raw.toString()),
        [msg("later").toString()],
      );
      assert.deepEqual((await d.list("moves", "INBOX")).map(String), [msg("later").toString()]);
      assert.deepEqual((await d.list("moves", "Processed")).map(String), [msg("good").toString()]);
      assert.deepEqual((await d.list("moves", "Rejected")).map(String), [msg("bad").toString()]);
      await assert.rejects(box.move(left[0]!.uid, "NoSuchFolder"), /refused to move/);
    } finally {
      await box.close();
    }
  });

  it("wakes from IDLE when another connection appends a message", async (t) => {
    const box = await ImapMailbox.open(settings(d, "idle"));
    try {
      assert.equal(box.idle, true);
      assert.deepEqual(await box.fetch(10, 1 << 20), []);
      // nothing arrives: the timeout ends the wait
      const t0 = Date.now();
      await box.waitForChange(300);
      assert.ok(Date.now() - t0 >= 250);
      // an abort ends it too
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 100);
      await box.waitForChange(60_000, ac.signal);
      // new mail wakes it long before the 30 s timeout
      const waiting = box.waitForChange(30_000);
      await new Promise((r) => setTimeout(r, 200));
      const appended = Date.now();
      await d.append("idle", msg("wake up"));
      await waiting;
      const woke = Date.now() - appended;
      t.diagnostic(`woke ${woke} ms after the APPEND`);
      assert.ok(woke < 5_000, `woke after ${woke} ms`);
      // the connection is usable after IDLE
      const got = await box.fetch(10, 1 << 20);
      assert.deepEqual(
        got.map((m) => m.raw.toString()),
        [msg("wake up").toString()],
      );
      // mail that came while not waiting makes the next wait return at once
      await d.append("idle", msg("meanwhile"));
      await box.waitForChange(100); // IDLE reports the new EXISTS
      const t1 = Date.now();
      await box.waitForChange(30_000);
      assert.ok(Date.now() - t1 < 5_000);
      assert.equal((await box.fetch(10, 1 << 20)).length, 2);
    } finally {
      await box.close();
    }
  });

  it("returns a message over maxBytes without its body", async () => {
    const big = Buffer.concat([msg("big", ""), Buffer.alloc(2 * 1024 * 1024, "0123456789abcdef\r\n")]);
    await d.append("big", msg("small"));
    await d.append("big", big);
    const box = await ImapMailbox.open(settings(d, "big"));
    try {
      const [small, large] = await box.fetch(10, 1024 * 1024);
      assert.equal(small!.raw.toString(), msg("small").toString());
      assert.equal(large!.raw.length, 0);
      assert.equal(large!.size, big.length);
      const whole = await box.fetch(10, 4 * 1024 * 1024);
      assert.ok(whole[1]!.raw.equals(big));
    } finally {
      await box.close();
    }
  });

  it("talks implicit TLS and STARTTLS, trusting caFile", async () => {
    const tls = await ImapMailbox.open(
      settings(d, "tls", { port: d.tlsPort!, secure: true, caFile: d.caFile }),
    );
    await tls.ensureFolders();
    await tls.close();
    const st = await ImapMailbox.open(settings(d, "tls", { starttls: true, caFile: d.caFile }));
    await st.close();
    const insecure = await ImapMailbox.open(
      settings(d, "tls", { port: d.tlsPort!, secure: true, rejectUnauthorized: false }),
    );
    await insecure.close();
    await rejectsWith(
      ImapMailbox.open(settings(d, "tls", { port: d.tlsPort!, secure: true })),
      "config",
      /TLS with IMAP server 127\.0\.0\.1:\d+ failed/,
      "tls-secret-pw",
    );
    await rejectsWith(
      ImapMailbox.open(settings(d, "tls", { caFile: "/nonexistent/ca.pem", secure: true })),
      "config",
      /cannot read IMAP caFile/,
      "tls-secret-pw",
    );
  });

  it("says clearly when the login is refused", async () => {
    await rejectsWith(
      ImapMailbox.open({ ...settings(d, "order"), password: "wrong-password-123" }),
      "config",
      /^IMAP login as order at 127\.0\.0\.1:\d+ failed/,
      "wrong-password-123",
    );
  });

  it("says clearly when nothing listens", async () => {
    const port = await freePort();
    await rejectsWith(
      ImapMailbox.open({ ...settings(d, "order"), port }),
      "config",
      new RegExp(`^cannot connect to IMAP server 127\\.0\\.0\\.1:${port}: connection refused$`),
      "order-secret-pw",
    );
  });

  it("says clearly when the mailbox does not exist", async () => {
    await rejectsWith(
      ImapMailbox.open(settings(d, "order", { mailbox: "Nope" })),
      "config",
      /IMAP mailbox Nope does not exist/,
      "order-secret-pw",
    );
  });

  it("refuses to work once closed", async () => {
    const box = await ImapMailbox.open(settings(d, "closed"));
    await box.close();
    await box.close();
    assert.equal(box.closed, true);
    await assert.rejects(box.fetch(1, 1), /is closed/);
  });
});

describe("ImapMailbox against a server without IDLE and MOVE", () => {
  let d: Dovecot;
  before(async () => {
    d = await startDovecot({ users: USERS, imapCapability: "IMAP4rev1 LITERAL+ UIDPLUS" });
  });
  after(async () => {
    await d?.stop();
  });

  it("polls instead of IDLE and moves with COPY + EXPUNGE", async () => {
    const box = await ImapMailbox.open(settings(d, "poll", { pollMs: 200 }));
    try {
      assert.equal(box.idle, false);
      await box.ensureFolders();
      await d.append("poll", msg("p1"));
      await d.append("poll", msg("p2"));
      const [p1] = await box.fetch(1, 1 << 20);
      await box.move(p1!.uid, "Processed");
      assert.deepEqual((await d.list("poll", "Processed")).map(String), [msg("p1").toString()]);
      assert.deepEqual((await d.list("poll", "INBOX")).map(String), [msg("p2").toString()]);
      // a wait returns after pollMs even with a long timeout, and the next fetch sees new mail
      await d.append("poll", msg("p3"));
      const t0 = Date.now();
      await box.waitForChange(60_000);
      assert.ok(Date.now() - t0 < 10_000);
      assert.deepEqual(
        (await box.fetch(10, 1 << 20)).map((m) => m.raw.toString()),
        [msg("p2").toString(), msg("p3").toString()],
      );
    } finally {
      await box.close();
    }
  });
});

describe("ImapMailbox when the server goes away", () => {
  it("wakes a waiter, reports closed and fails with a SigilError", async () => {
    const d = await startDovecot({ users: USERS });
    const warnings: string[] = [];
    const box = await ImapMailbox.open(settings(d, "closed"), {
      info: () => undefined,
      warn: (_o, m) => void warnings.push(m ?? ""),
    });
    try {
      const waiting = box.waitForChange(60_000);
      await new Promise((r) => setTimeout(r, 100));
      await d.stop();
      await waiting;
      assert.equal(box.closed, true);
      assert.ok(warnings.includes("IMAP connection closed"), warnings.join(","));
      await assert.rejects(box.fetch(1, 1), (e: unknown) => isSigilError(e, "internal"));
    } finally {
      await box.close();
      await d.stop();
    }
  });
});
