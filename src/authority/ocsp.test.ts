/**
 * OCSP in the authority and its read side, with a fake clock: delegated responder issue and
 * renewal, answers pre-signed at issuance and revocation, refresh at half-life, parking of
 * long-expired certificates, and OcspAnswers' lookup, cache, live signing and errors.
 * Responses are read back with @peculiar/asn1-ocsp (the oracle).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "reflect-metadata";
import * as asnOcsp from "@peculiar/asn1-ocsp";
import { AsnConvert } from "@peculiar/asn1-schema";
import { Authority } from "./authority.js";
import { defaultCacheBytes, ENTRY_OVERHEAD, OcspAnswers } from "./ocsp-answers.js";
import { validateConfig } from "../config/schema.js";
import { openStore } from "../store/open.js";
import { FileKeyStore, parseFileKeyRef } from "../keys/file-keystore.js";
import { NodeSigner } from "../keys/node-signer.js";
import { buildCsr } from "../x509/csr-build.js";
import { parseDn } from "../x509/dn.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { certIdFor } from "../x509/ocsp.js";
import { seq, explicit, octetString, oid, tlv, NULL } from "../x509/der.js";
import { EkuOid } from "../x509/oids.js";
import type { CaRecord, Store } from "../store/types.js";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1);

async function csr(cn: string): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  return buildCsr({ subject: parseDn(`/CN=${cn}`), sans: [], spki: signer.spki, signer });
}

/** An OCSPRequest (RFC 6960 §4.1.1) for serials of `ca`, optionally with a nonce. */
function request(ca: CaRecord, serials: string[], nonce?: Buffer): Buffer {
  const c = parseCertificate(ca.certDer);
  const reqs = serials.map((s) => seq(certIdFor(c.subjectDer, c.spki, s)));
  const ext = nonce
    ? [explicit(2, seq(seq(oid("1.3.6.1.5.5.7.48.1.2"), octetString(tlv(0x04, nonce)))))]
    : [];
  return seq(seq(seq(...reqs), ...ext));
}

interface Read {
  status: string;
  single: Array<{ serial: string; kind: "good" | "revoked" | "unknown"; reason?: number; next?: number }>;
  nonce?: Buffer;
  certs: number;
}

function read(der: Buffer): Read {
  const r = AsnConvert.parse(der, asnOcsp.OCSPResponse);
  const status = asnOcsp.OCSPResponseStatus[r.responseStatus]!;
  if (!r.responseBytes) return { status, single: [], certs: 0 };
  const basic = AsnConvert.parse(r.responseBytes.response.buffer, asnOcsp.BasicOCSPResponse);
  const nonceExt = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === "1.3.6.1.5.5.7.48.1.2");
  return {
    status,
    certs: basic.certs?.length ?? 0,
    ...(nonceExt ? { nonce: Buffer.from(nonceExt.extnValue.buffer) } : {}),
    single: basic.tbsResponseData.responses.map((s) => ({
      serial: Buffer.from(s.certID.serialNumber).toString("hex").replace(/^0+/, ""),
      kind: s.certStatus.good !== undefined ? "good" : s.certStatus.revoked ? "revoked" : "unknown",
      ...(s.certStatus.revoked?.revocationReason !== undefined
        ? { reason: Number(s.certStatus.revoked.revocationReason.reason) }
        : {}),
      ...(s.nextUpdate ? { next: s.nextUpdate.getTime() } : {}),
    })),
  };
}

describe("OCSP in the authority", () => {
  let dir: string;
  let store: Store;
  let now = T0;
  let authority: Authority;
  let keys: FileKeyStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sigil-ocsp-"));
    store = await openStore(dir);
    keys = new FileKeyStore(join(dir, "keys"));
    authority = new Authority({
      store,
      keys,
      config: validateConfig({ ocsp: { validityHours: 96, responderDays: 30, responderRenewDays: 10 } }),
      clock: () => now,
      random: (n) => randomBytes(n),
      passphrase: async () => Buffer.from("a test passphrase"),
      actor: "test",
    });
    await authority.createRoot({
      name: "root",
      subject: parseDn("/O=GenFic/CN=Root"),
      days: 3650,
      keyType: "p256",
    });
    await authority.createChild({
      name: "sys",
      parent: "root",
      subject: parseDn("/O=GenFic/CN=Sys"),
      days: 1000,
      keyType: "p256",
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("issues a delegated responder on first use and pre-signs the answer of each new certificate", async () => {
    const sys = await authority.getCa("sys");
    assert.equal(await store.currentOcspResponder(sys.id), undefined);
    const a = await authority.sign(await csr("a.genfic.internal"), { caName: "sys" });
    const r = (await store.currentOcspResponder(sys.id))!;
    assert.ok(r, "a responder was issued");
    const rc = parseCertificate(r.certDer);
    assert.deepEqual(rc.extKeyUsage, [EkuOid.OCSPSigning]);
    assert.equal(rc.ocspNoCheck, true);
    assert.equal(rc.isCa, false);
    assert.deepEqual(rc.keyUsage, ["digitalSignature"]);
    assert.equal(rc.issuer.find((x) => x.name === "CN")?.value, "Sys");
    assert.equal(rc.subject.find((x) => x.name === "CN")?.value, "Sys OCSP Responder");
    assert.equal(rc.notAfter - rc.notBefore, 30 * DAY + 60_000);
    const e = (await store.ocspLookup(sys.id, a.cert.serialHex))!;
    assert.ok(e.der, "answer stored with the certificate");
    assert.equal(e.thisUpdate, T0);
    assert.equal(e.nextUpdate, T0 + 96 * HOUR);
    const got = read(e.der);
    assert.equal(got.status, "successful");
    assert.deepEqual(got.single, [{ serial: a.cert.serialHex, kind: "good", next: T0 + 96 * HOUR }]);
    assert.equal(got.certs, 1, "the responder certificate travels with the answer");
  });

  it("re-signs the answer as revoked (with reason) in the revocation", async () => {
    const b = await authority.sign(await csr("b.genfic.internal"), { caName: "sys" });
    now += HOUR;
    await authority.revoke("sys", { serial: b.cert.serialHex }, "keyCompromise");
    const sys = await authority.getCa("sys");
    const e = (await store.ocspLookup(sys.id, b.cert.serialHex))!;
    assert.equal(e.thisUpdate, now);
    assert.deepEqual(read(e.der!).single, [
      { serial: b.cert.serialHex, kind: "revoked", reason: 1, next: now + 96 * HOUR },
    ]);
    assert.equal((await store.latestCrl(sys.id))?.crlNumber, 1, "the CRL is stored for serve");
  });

  it("refreshes answers at half-life, not before", async () => {
    const sys = await authority.getCa("sys");
    // Stored unsigned (due at once), signed now: the responder's own certificate, the
    // child CA's certificate under the root, and (for that) the root's new responder's.
    assert.equal((await authority.refreshOcsp()).signed, 3);
    now = T0 + 47 * HOUR;
    assert.equal((await authority.refreshOcsp()).signed, 0);
    now = T0 + 49 * HOUR;
    const r = await authority.refreshOcsp();
    // a (issued at T0), plus the responder's own certificate (its row was due at once).
    assert.ok(r.signed >= 1);
    const a = (await store.findCerts({ caId: sys.id, match: "a.genfic.internal", now }))[0]!;
    const e = (await store.ocspLookup(sys.id, a.serialHex))!;
    assert.equal(e.thisUpdate, now);
    assert.equal(e.nextUpdate, now + 96 * HOUR);
    assert.equal((await authority.refreshOcsp()).signed, 0, "nothing due right after");
    const all = await authority.refreshOcsp({ all: true });
    assert.ok(all.signed >= 3, "--all signs every answer again");
  });

  it("renews the responder inside its renewal window, with a new key, and drops the old key", async () => {
    const sys = await authority.getCa("sys");
    const old = (await store.currentOcspResponder(sys.id))!;
    now = old.notAfter - 11 * DAY;
    assert.equal((await authority.responder(sys)).record.id, old.id, "still fresh");
    now = old.notAfter - 9 * DAY;
    const fresh = await authority.responder(sys);
    assert.notEqual(fresh.record.id, old.id);
    assert.notEqual(fresh.record.keyRef, old.keyRef);
    assert.ok(!existsSync(join(dir, "keys", `${parseFileKeyRef(old.keyRef)}.key.pem`)), "old key removed");
    assert.ok(existsSync(join(dir, "keys", `${parseFileKeyRef(fresh.record.keyRef)}.key.pem`)));
    const events: string[] = [];
    for await (const ev of store.auditEvents()) if (ev.target?.startsWith("sys/")) events.push(ev.action);
    assert.equal(events.filter((a) => a === "ocsp.responder.issue").length, 2);
    // Answers signed now never outlive the responder that signed them.
    const c = await authority.sign(await csr("c.genfic.internal"), { caName: "sys" });
    const e = (await store.ocspLookup(sys.id, c.cert.serialHex))!;
    assert.ok(e.nextUpdate <= fresh.record.notAfter);
  });

  it("parks the answers of certificates long expired", async () => {
    const sys = await authority.getCa("sys");
    const d = await authority.sign(await csr("d.genfic.internal"), { caName: "sys", days: 1 });
    now = d.cert.notAfter + 97 * HOUR;
    const r = await authority.refreshOcsp();
    assert.ok(r.parked >= 1);
    const e = (await store.ocspLookup(sys.id, d.cert.serialHex))!;
    assert.equal(e.der, null);
    assert.equal(e.nextUpdate, Number.MAX_SAFE_INTEGER);
    assert.equal((await authority.refreshOcsp()).parked, 0, "parked once");
  });

  describe("OcspAnswers", () => {
    let answers: OcspAnswers;
    let liveCalls = 0;
    let nonceMode: "ignore" | "sign" = "ignore";
    let liveOn = true;

    before(async () => {
      answers = new OcspAnswers({
        store,
        clock: () => now,
        get nonce() {
          return nonceMode;
        },
        live: async (caId, items, nonce) => {
          if (!liveOn) return undefined;
          liveCalls++;
          return authority.answerLive(caId, items, nonce);
        },
      });
      await answers.start();
    });
    after(() => answers.stop());

    it("serves the pre-signed answer by lookup, caches it, and sees a revocation at once", async () => {
      const sys = await authority.getCa("sys");
      const f = await authority.sign(await csr("f.genfic.internal"), { caName: "sys" });
      const calls = liveCalls;
      const a1 = await answers.answer(request(sys, [f.cert.serialHex]));
      assert.equal(a1.outcome, "good");
      assert.ok(a1.cache && a1.cache.nextUpdate > now);
      assert.deepEqual(a1.der, (await store.ocspLookup(sys.id, f.cert.serialHex))!.der);
      assert.equal((await answers.answer(request(sys, [f.cert.serialHex]))).der, a1.der, "cached");
      assert.equal(liveCalls, calls, "no live signing for a pre-signed answer");
      await authority.revoke("sys", { serial: f.cert.serialHex }, "superseded");
      const a2 = await answers.answer(request(sys, [f.cert.serialHex]));
      assert.equal(a2.outcome, "revoked");
      assert.equal(read(a2.der).single[0]!.reason, 4);
    });

    it("signs live for unknown serials, several certificates, and (in sign mode) nonces", async () => {
      const sys = await authority.getCa("sys");
      const g = await authority.sign(await csr("g.genfic.internal"), { caName: "sys" });
      const u = await answers.answer(request(sys, ["7777"]));
      assert.equal(u.outcome, "unknown");
      assert.deepEqual(read(u.der).single, [{ serial: "7777", kind: "unknown", next: now + 96 * HOUR }]);
      const m = await answers.answer(request(sys, [g.cert.serialHex, "7777"]));
      assert.equal(m.outcome, "mixed");
      assert.deepEqual(
        read(m.der).single.map((s) => s.kind),
        ["good", "unknown"],
      );
      const nonce = randomBytes(16);
      const ignored = await answers.answer(request(sys, [g.cert.serialHex], nonce));
      assert.equal(read(ignored.der).nonce, undefined, "RFC 5019 §2.2.1: pre-signed, no nonce");
      nonceMode = "sign";
      const echoed = await answers.answer(request(sys, [g.cert.serialHex], nonce));
      assert.equal(echoed.cache, undefined, "a nonce answer is not cacheable");
      assert.deepEqual(read(echoed.der).nonce, tlv(0x04, nonce));
      nonceMode = "ignore";
      // A child CA's own certificate, asked of its parent.
      const root = await authority.getCa("root");
      assert.equal((await answers.answer(request(root, [sys.serialHex]))).outcome, "good");
    });

    it("keeps answers within a memory budget, least recently used out first", async () => {
      const sys = await authority.getCa("sys");
      const certs: Array<{ serialHex: string }> = [];
      for (const n of ["m1", "m2", "m3", "m4"])
        certs.push((await authority.sign(await csr(`${n}.genfic.internal`), { caName: "sys" })).cert);
      const one = (await store.ocspLookup(sys.id, certs[0]!.serialHex))!.der!.length + ENTRY_OVERHEAD;
      // Room for two answers (and a little): a third pushes out the least recently used.
      const counted = countingLookups(store);
      const small = new OcspAnswers({
        store: counted.store,
        clock: () => now,
        nonce: "ignore",
        cacheBytes: 2 * one + 100,
      });
      await small.start();
      try {
        const ask = async (i: number) => {
          const before = counted.lookups;
          assert.equal((await small.answer(request(sys, [certs[i]!.serialHex]))).outcome, "good");
          return counted.lookups > before ? "store" : "cache";
        };
        assert.equal(await ask(0), "store");
        assert.equal(await ask(1), "store");
        assert.equal(small.cacheUsage().entries, 2);
        assert.ok(small.cacheUsage().bytes <= 2 * one + 100);
        assert.equal(await ask(0), "cache"); // now the most recently used
        assert.equal(await ask(2), "store"); // evicts 1, not 0
        assert.equal(small.cacheUsage().entries, 2);
        assert.ok(small.cacheUsage().bytes <= 2 * one + 100);
        assert.equal(await ask(0), "cache");
        assert.equal(await ask(1), "store");
        assert.ok(small.cacheUsage().bytes <= 2 * one + 100);
      } finally {
        small.stop();
      }
      assert.equal(defaultCacheBytes(24 * 1024 ** 3), 256 * 1024 ** 2);
      assert.equal(defaultCacheBytes(512 * 1024 ** 2), 16 * 1024 ** 2);
      assert.equal(defaultCacheBytes(4 * 1024 ** 3), 64 * 1024 ** 2);
    });

    it("answers malformedRequest, unauthorized and tryLater where due", async () => {
      const sys = await authority.getCa("sys");
      assert.equal((await answers.answer(Buffer.alloc(0))).outcome, "malformedRequest");
      assert.equal((await answers.answer(randomBytes(100))).outcome, "malformedRequest");
      assert.equal((await answers.answer(foreignRequest())).outcome, "unauthorized");
      const root = await authority.getCa("root");
      const mixed = seq(
        seq(
          seq(
            seq(
              certIdFor(parseCertificate(sys.certDer).subjectDer, parseCertificate(sys.certDer).spki, "01"),
            ),
            seq(
              certIdFor(parseCertificate(root.certDer).subjectDer, parseCertificate(root.certDer).spki, "01"),
            ),
          ),
        ),
      );
      assert.equal((await answers.answer(mixed)).outcome, "unauthorized", "one response speaks for one CA");
      liveOn = false;
      answers.clearCache();
      assert.equal((await answers.answer(request(sys, ["abcdef"]))).outcome, "tryLater");
      liveOn = true;
    });

    it("keeps its cache across commits that change no answer, and re-reads one three quarters into its validity", async () => {
      const sys = await authority.getCa("sys");
      const h = (await authority.sign(await csr("h.genfic.internal"), { caName: "sys" })).cert;
      const k = (await authority.sign(await csr("k.genfic.internal"), { caName: "sys" })).cert;
      let lives = 0;
      const counted = countingLookups(store);
      const a = new OcspAnswers({
        store: counted.store,
        clock: () => now,
        nonce: "ignore",
        live: async (caId, items, nonce) => (lives++, authority.answerLive(caId, items, nonce)),
      });
      await a.start();
      // A millisecond on: the next request checks the data version (at most once per millisecond).
      const tick = () => new Promise((r) => setTimeout(r, 2));
      const ask = async (serial: string) => {
        const before = counted.lookups;
        const r = await a.answer(request(sys, [serial]));
        return { der: r.der, outcome: r.outcome, from: counted.lookups > before ? "store" : "cache" };
      };
      const start = now;
      try {
        const first = await ask(h.serialHex);
        assert.deepEqual([first.outcome, first.from], ["good", "store"]);
        // Commits that change no answer: an audit event, a lease, a refreshed answer (half-way
        // through the 96 h validity, the refresh job signs a new one).
        await store.transaction((tx) =>
          tx.appendAudit({ at: now, actor: "test", action: "test.event", target: null, details: {} }),
        );
        await store.tryLease("test.lease", "test:1", 60_000);
        now = start + 60 * HOUR;
        assert.ok((await authority.refreshOcsp()).signed >= 2);
        await tick();
        const kept = await ask(h.serialHex);
        assert.equal(kept.from, "cache", "kept across the commits");
        assert.deepEqual(kept.der, first.der, "the older answer, still valid, is served");
        // Three quarters in: the store's newer answer.
        now = start + 73 * HOUR;
        const fresh = await ask(h.serialHex);
        assert.equal(fresh.from, "store");
        assert.equal(read(fresh.der).single[0]!.next, start + 60 * HOUR + 96 * HOUR);
        assert.equal((await ask(h.serialHex)).from, "cache");
        // A revocation (of another certificate) drops every cached answer.
        await authority.revoke("sys", { serial: k.serialHex }, "superseded");
        await tick();
        const after = await ask(h.serialHex);
        assert.deepEqual([after.outcome, after.from], ["good", "store"]);
        assert.equal((await ask(k.serialHex)).outcome, "revoked");
        // An unissued serial: signed live, kept until the next commit anywhere (it may issue it).
        const l0 = lives;
        assert.equal((await ask("5151")).outcome, "unknown");
        assert.equal((await ask("5151")).outcome, "unknown");
        assert.equal(lives, l0 + 1, "kept while nothing is committed");
        await store.tryLease("test.lease", "test:1", 60_000);
        await tick();
        assert.equal((await ask("5151")).outcome, "unknown");
        assert.equal(lives, l0 + 2, "signed again after a commit");
        assert.equal((await ask(h.serialHex)).from, "cache", "that commit kept the issued ones");
      } finally {
        a.stop();
      }
    });
  });
});

/** `store`, counting its `ocspLookup` calls (an answer from the store, not the cache). */
function countingLookups(store: Store): { store: Store; lookups: number } {
  const c = { store, lookups: 0 };
  c.store = new Proxy(store, {
    get: (t, k) =>
      k === "ocspLookup"
        ? (...a: Parameters<Store["ocspLookup"]>) => (c.lookups++, t.ocspLookup(...a))
        : Reflect.get(t, k),
  });
  return c;
}

/** A request naming an issuer nobody holds (random name and key hashes). */
function foreignRequest(): Buffer {
  const certId = seq(
    seq(oid("1.3.14.3.2.26"), NULL),
    octetString(randomBytes(20)),
    octetString(randomBytes(20)),
    tlv(0x02, Buffer.from([1])),
  );
  return seq(seq(seq(seq(certId))));
}
