/**
 * Expiry notices with a fake clock: exactly one mail per threshold per certificate, none
 * after a restart, none for a certificate already renewed, one admins' summary a day.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Authority } from "./authority.js";
import { queueNotices, planNotices } from "./notices.js";
import { validateConfig, type Config } from "../config/schema.js";
import { openStore } from "../store/open.js";
import { FileKeyStore } from "../keys/file-keystore.js";
import { NodeSigner } from "../keys/node-signer.js";
import { buildCsr } from "../x509/csr-build.js";
import { parseDn } from "../x509/dn.js";
import type { Store } from "../store/types.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10, 12);

async function csr(subject: string): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  return buildCsr({ subject: parseDn(subject), sans: [], spki: signer.spki, signer });
}

describe("expiry notices", () => {
  let dir: string;
  let store: Store;
  let now = T0;
  let authority: Authority;
  const config: Config = validateConfig({ notify: { admins: ["ca-admins@genfic.com"] } });

  const mails = async () =>
    (await store.dueMail(Number.MAX_SAFE_INTEGER, 1000)).map((m) => `${m.kind} ${m.to}`);
  const run = async () => {
    const r = await queueNotices(store, config, now, "test");
    const out = await store.dueMail(Number.MAX_SAFE_INTEGER, 1000);
    // Mark them sent, as the outbox would, so the next run shows only new mail.
    await store.transaction(async (tx) => {
      for (const m of out) await tx.updateMail(m.id, { state: "sent", sentAt: now });
    });
    return { ...r, mails: out.map((m) => `${m.kind} ${m.to}`) };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sigil-notices-"));
    store = await openStore(dir);
    authority = new Authority({
      store,
      keys: new FileKeyStore(join(dir, "keys")),
      config,
      clock: () => now,
      random: (n) => randomBytes(n),
      passphrase: async () => Buffer.from("a test passphrase"),
      actor: "test",
    });
    await authority.createRoot({ name: "root", subject: parseDn("/CN=Root"), days: 3650, keyType: "p256" });
    await authority.createChild({ name: "user", parent: "root", subject: parseDn("/CN=User"), days: 1000, keyType: "p256", defaultProfile: "user" }); // prettier-ignore
    await authority.sign(await csr("/CN=Amber/emailAddress=amber@genfic.com"), { caName: "user", days: 40 });
    await authority.sign(await csr("/CN=Bob/emailAddress=bob@genfic.com"), { caName: "user", days: 40 });
    await authority
      .sign(await csr("/CN=NoMail"), { caName: "user", days: 40, profile: "user" })
      .catch(() => undefined);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends nothing before the first threshold, then one notice per threshold, once", async () => {
    now = T0 + 5 * DAY; // 35 days left
    let r = await run();
    assert.equal(r.notices, 0);
    assert.deepEqual(r.mails, ["summary ca-admins@genfic.com"], "the summary goes out daily even when short");
    now = T0 + 10 * DAY + 1000; // just under 30 days left
    r = await run();
    assert.deepEqual(r.mails.sort(), [
      "expiry amber@genfic.com",
      "expiry bob@genfic.com",
      "summary ca-admins@genfic.com",
    ]);
    r = await run();
    assert.deepEqual(r.mails, [], "same day: nothing again, not even the summary");
    now += 2 * DAY;
    r = await run();
    assert.deepEqual(r.mails, ["summary ca-admins@genfic.com"], "next day: only the summary");
  });

  it("does not resend after a restart (the records are in the store)", async () => {
    await store.close();
    store = await openStore(dir);
    now = T0 + 12 * DAY + 3600_000;
    const p = await planNotices(store, config, now);
    assert.equal(p.notices.length, 0);
    assert.equal(p.summaryDue, false);
    assert.deepEqual(await mails(), []);
  });

  it("skips a certificate already renewed, and sends one notice when several thresholds passed at once", async () => {
    authority = new Authority({
      store,
      keys: new FileKeyStore(join(dir, "keys")),
      config,
      clock: () => now,
      random: (n) => randomBytes(n),
      passphrase: async () => Buffer.from("a test passphrase"),
      actor: "test",
    });
    // Bob renews (same subject and SANs, later end).
    await authority.sign(await csr("/CN=Bob/emailAddress=bob@genfic.com"), { caName: "user", days: 396 });
    now = T0 + 39 * DAY + 3600_000; // under a day left: 7 and 1 both crossed for Amber
    const p = await planNotices(store, config, now);
    assert.deepEqual(
      p.renewed.map((c) => c.email),
      ["bob@genfic.com"],
    );
    assert.deepEqual(
      p.notices.map((n) => [n.to, n.threshold, n.thresholds]),
      [["amber@genfic.com", 1, [1, 7]]],
    );
    const r = await run();
    assert.equal(r.notices, 1);
    assert.deepEqual(
      r.mails.filter((m) => m.startsWith("expiry")),
      ["expiry amber@genfic.com"],
    );
    assert.equal((await run()).notices, 0);
    assert.deepEqual(
      (await store.noticesSent(p.notices[0]!.cert.id)).sort((a, b) => a - b),
      [1, 7, 30],
    );
  });

  it("mails no owner for Sigil's own certificates (a CA certificate with an e-mail, as 'sigil import' records one); the admins' summary lists it", async () => {
    const root = (await store.getCa("root"))!;
    const base = { subject: "CN=Old Team CA,E=pki@genfic.com", commonName: "Old Team CA", sans: [] };
    const row = (serialHex: string, profile: string) => ({
      ...base,
      caId: root.id,
      serialHex,
      email: "pki@genfic.com",
      profile,
      notBefore: now - 300 * DAY,
      notAfter: now + 20 * DAY,
      der: Buffer.from(serialHex),
      fingerprint: serialHex.padStart(64, "0"),
      status: "valid" as const,
      revokedAt: null,
      revocationReason: null,
      requestId: null,
      issuedAt: now - 300 * DAY,
    });
    await store.transaction(async (tx) => {
      await tx.insertCert(row("ca0001", "ca"));
      await tx.insertCert(row("0c5b01", "ocsp"));
    });
    const p = await planNotices(store, config, now);
    assert.deepEqual(
      p.notices.map((n) => n.to),
      [],
    );
    assert.deepEqual(
      p.summary.filter((x) => x.cert.email === "pki@genfic.com").map((x) => x.cert.profile),
      ["ca"],
    );
  });
});
