/**
 * The store contract suite: every backend (SQLite now, PostgreSQL later) runs it.
 * Call {@link runStoreContract} from the backend's test file with a function that opens a
 * fresh, empty, migrated store each time.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ErrorCodes, isSigilError } from "../src/errors.js";
import { GENESIS_HASH, stableStringify } from "../src/audit/chain.js";
import { verifyAuditChain } from "../src/audit/verify.js";
import type {
  AuditEvent,
  CaRecord,
  CertRecord,
  InstanceRecord,
  RequestRecord,
  Store,
  StoreTx,
} from "../src/store/types.js";
import type { ChildSpec } from "./store-contract-child.js";

/** Backend-specific hooks for the parts of the suite that go around the Store interface. */
export interface StoreContractOptions {
  /**
   * Runs raw SQL against the database behind `store` (used to tamper with the audit log).
   * Without it, the tampering tests are skipped.
   */
  rawSql?: (store: Store, statement: string) => Promise<void>;
  /**
   * How a child process opens the same database as `store`: an absolute module path, the
   * export to call and its arguments. Without it, the multi-process test is skipped.
   */
  childOpen?: (store: Store) => { module: string; exportName: string; args: unknown[] };
  /**
   * Makes a snapshot target path that does not exist yet, and opens a written snapshot as a
   * store (SQLite: the file itself). Without it, the snapshot test is skipped.
   */
  snapshot?: { target: () => string; open: (file: string) => Promise<Store> };
  /** Run the timing loops (printed, never asserted). Default true. */
  bench?: boolean;
}

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");

/** A CA record to insert. */
export function caDraft(name: string, parentId: number | null = null): Omit<CaRecord, "id"> {
  return {
    name,
    parentId,
    subject: `CN=${name}`,
    certDer: Buffer.from(`cert of ${name}`),
    keyRef: `file:${name}`,
    keyType: "p256",
    serialHex: "1f",
    notBefore: NOW - 10 * DAY,
    notAfter: NOW + 3650 * DAY,
    pathLen: parentId === null ? 1 : 0,
    defaultProfile: "user",
    crlNumber: 0,
    createdAt: NOW - 10 * DAY,
  };
}

/** A certificate record to insert. */
export function certDraft(
  caId: number,
  serialHex: string,
  over: Partial<CertRecord> = {},
): Omit<CertRecord, "id"> {
  return {
    caId,
    serialHex,
    subject: `CN=host-${serialHex}`,
    commonName: `host-${serialHex}`,
    email: null,
    sans: [{ type: "dns", value: `host-${serialHex}.example` }],
    profile: "system",
    notBefore: NOW - DAY,
    notAfter: NOW + 365 * DAY,
    der: Buffer.from(`der ${serialHex}`),
    fingerprint: serialHex.padStart(64, "0"),
    status: "valid",
    revokedAt: null,
    revocationReason: null,
    requestId: null,
    issuedAt: NOW - DAY,
    ...over,
  };
}

/** A request record to insert. */
export function requestDraft(over: Partial<RequestRecord> = {}): Omit<RequestRecord, "id"> {
  return {
    channel: "mail",
    submitter: "alice@example.org",
    email: "alice@example.org",
    receivedAt: NOW,
    csrDer: Buffer.from("csr"),
    subject: "CN=Alice,E=alice@example.org",
    caName: null,
    profile: null,
    state: "pending",
    reason: null,
    certificateId: null,
    source: null,
    checks: [],
    decidedBy: null,
    decidedAt: null,
    replyTo: null,
    ...over,
  };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function rejectsWith(code: string, details?: Record<string, unknown>) {
  return (e: unknown): boolean => {
    assert.ok(isSigilError(e), `expected a SigilError, got ${String(e)}`);
    assert.equal(e.code, code);
    for (const [k, v] of Object.entries(details ?? {})) assert.deepEqual(e.details[k], v);
    return true;
  };
}

/**
 * Registers the store contract tests under `describe(name)`. `open` must return a fresh,
 * empty, migrated store on every call; the suite closes what it opens.
 */
export function runStoreContract(
  name: string,
  open: () => Promise<Store>,
  options: StoreContractOptions = {},
): void {
  const withStore = async (f: (s: Store) => Promise<void>): Promise<void> => {
    const s = await open();
    try {
      await f(s);
    } finally {
      await s.close();
    }
  };
  const addCa = (s: Store, n = "genfic-user", parentId: number | null = null) =>
    s.transaction((tx) => tx.insertCa(caDraft(n, parentId)));
  const audit = (tx: StoreTx, action: string, details: Record<string, unknown> = {}) =>
    tx.appendAudit({ at: NOW, actor: "cli:test", action, target: "t", details });

  describe(`store contract: ${name}`, () => {
    it(
      "snapshot: a consistent copy of what is committed, described from the copy",
      { skip: options.snapshot ? false : "no snapshot hooks for this backend" },
      () =>
        withStore(async (s) => {
          const hooks = options.snapshot!;
          const root = await addCa(s, "genfic");
          const ca = await addCa(s, "genfic-user", root.id);
          await s.transaction((tx) => tx.setCaKeyRef(root.id, "offline:genfic"));
          const a = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "a1")));
          const b = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "b2")));
          await s.transaction((tx) => tx.revokeCert(b.id, NOW, 1));
          await s.transaction((tx) => tx.insertRequest(requestDraft()));
          await s.transaction((tx) =>
            tx.insertServiceKey({ name: "resp-store", pem: "(encrypted)", createdAt: NOW }),
          );
          for (const keyRef of ["file:resp-old", "file:resp-new", "store:resp-store"])
            await s.transaction((tx) =>
              tx.insertOcspResponder({
                certId: a.id,
                certDer: Buffer.from(keyRef),
                keyRef,
                keyType: "p256",
                notBefore: NOW,
                notAfter: keyRef.endsWith("new") ? NOW + 50 * DAY : NOW + 30 * DAY,
                caId: keyRef.startsWith("store:") ? root.id : ca.id,
                createdAt: NOW,
              }),
            );
          // An audit key whose row is not in the database: listed, not in the copy.
          await s.transaction((tx) =>
            tx.insertAuditKey({
              keyId: "k",
              keyRef: "store:audit-gone",
              spki: Buffer.from([1]),
              createdAt: NOW,
            }),
          );
          await s.transaction((tx) => audit(tx, "one"));
          await s.transaction((tx) => audit(tx, "two"));
          const head = await s.auditHead();
          const file = hooks.target();
          // Taken while a write transaction is open: its writes are not in the copy.
          const snap = await s.transaction(async (tx) => {
            await tx.insertCert(certDraft(ca.id, "c3"));
            await audit(tx, "three");
            return s.snapshot(file);
          });
          assert.deepEqual(snap.counts, { cas: 2, certificates: 2, revoked: 1, requests: 1, auditEvents: 2 });
          assert.deepEqual(snap.auditHead, head);
          assert.deepEqual(snap.keys, [
            { keyRef: "offline:genfic", role: "ca", ca: "genfic" },
            { keyRef: "file:genfic-user", role: "ca", ca: "genfic-user" },
            { keyRef: "store:resp-store", role: "ocsp-responder", ca: "genfic", inCopy: true },
            { keyRef: "file:resp-new", role: "ocsp-responder", ca: "genfic-user" },
            { keyRef: "store:audit-gone", role: "audit", ca: "" },
          ]);
          const copy = await hooks.open(file);
          try {
            assert.deepEqual(await copy.listCas(), await s.listCas());
            assert.deepEqual((await copy.findCerts({ now: NOW })).map((c) => c.serialHex).sort(), [
              "a1",
              "b2",
            ]);
            assert.deepEqual(await copy.getCert(ca.id, "b2"), await s.getCert(ca.id, "b2"));
            const v = await verifyAuditChain(copy.auditEvents(), await copy.auditHead());
            assert.ok(v.ok && v.count === 2 && v.headHash === head!.hash);
          } finally {
            await copy.close();
          }
          assert.equal((await s.findCerts({ now: NOW })).length, 3, "the live store went on");
          await assert.rejects(s.snapshot(file), rejectsWith(ErrorCodes.FILE_EXISTS));
        }),
    );

    it("inserts and reads CAs", () =>
      withStore(async (s) => {
        const root = await addCa(s, "genfic");
        const child = await addCa(s, "genfic-user", root.id);
        assert.ok(root.id > 0 && child.id > root.id);
        assert.deepEqual(await s.getCa("genfic-user"), child);
        assert.deepEqual(await s.getCaById(root.id), root);
        assert.equal(await s.getCa("nope"), undefined);
        assert.deepEqual(
          (await s.listCas()).map((c) => c.name),
          ["genfic", "genfic-user"],
        );
        await assert.rejects(addCa(s, "genfic"), rejectsWith(ErrorCodes.CA_EXISTS));
        await s.transaction((tx) => tx.setCrlNumber(child.id, 7));
        assert.equal((await s.getCa("genfic-user"))?.crlNumber, 7);
        await assert.rejects(
          s.transaction((tx) => tx.setCrlNumber(9999, 1)),
          rejectsWith(ErrorCodes.CA_NOT_FOUND),
        );
        await s.transaction((tx) => tx.setCaKeyRef(root.id, "offline:genfic"));
        assert.equal((await s.getCa("genfic"))?.keyRef, "offline:genfic");
        assert.equal((await s.getCa("genfic-user"))?.keyRef, child.keyRef);
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.setCaKeyRef(root.id, "file:genfic");
            throw new Error("roll back");
          }),
          /roll back/,
        );
        assert.equal((await s.getCa("genfic"))?.keyRef, "offline:genfic", "rolled back with its transaction");
        await assert.rejects(
          s.transaction((tx) => tx.setCaKeyRef(9999, "file:x")),
          rejectsWith(ErrorCodes.CA_NOT_FOUND),
        );
      }));

    it("inserts, updates and lists requests", () =>
      withStore(async (s) => {
        const a = await s.transaction((tx) => tx.insertRequest(requestDraft()));
        const b = await s.transaction((tx) =>
          tx.insertRequest(requestDraft({ channel: "web", email: null })),
        );
        assert.deepEqual(await s.getRequest(a.id), a);
        await s.transaction((tx) =>
          tx.updateRequest(b.id, { state: "rejected", reason: "no such user", caName: "genfic-user" }),
        );
        const b2 = await s.getRequest(b.id);
        assert.equal(b2?.state, "rejected");
        assert.equal(b2?.reason, "no such user");
        assert.equal(b2?.caName, "genfic-user");
        assert.equal(b2?.profile, null);
        assert.deepEqual(
          (await s.listRequests({ state: "pending" })).map((r) => r.id),
          [a.id],
        );
        assert.deepEqual(
          (await s.listRequests({})).map((r) => r.id),
          [a.id, b.id],
        );
        assert.equal((await s.listRequests({ limit: 1 })).length, 1);
        assert.equal(await s.getRequest(99999), undefined);
      }));

    it("keeps the outbox, the intake log and expiry notices", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const req = await s.transaction((tx) =>
          tx.insertRequest(
            requestDraft({
              source: "mail:abc@x",
              checks: [{ check: "csr", ok: true, detail: "P-256" }],
              replyTo: "alice@example.org",
            }),
          ),
        );
        assert.deepEqual((await s.getRequest(req.id))?.checks, [{ check: "csr", ok: true, detail: "P-256" }]);
        assert.equal((await s.getRequest(req.id))?.replyTo, "alice@example.org");
        await s.transaction((tx) => tx.updateRequest(req.id, { decidedBy: "bob", decidedAt: NOW + 5 }));
        assert.equal((await s.getRequest(req.id))?.decidedBy, "bob");
        const mail = {
          kind: "issued",
          to: "alice@example.org",
          subject: "s",
          body: "b",
          attachments: [{ filename: "a.crt", contentType: "application/x-pem-file", base64: "AA==" }],
          requestId: req.id,
          certId: null,
          state: "pending" as const,
          attempts: 0,
          nextAttemptAt: NOW,
          lastError: null,
          createdAt: NOW,
          sentAt: null,
        };
        const m1 = await s.transaction((tx) => tx.enqueueMail(mail));
        const m2 = await s.transaction((tx) => tx.enqueueMail({ ...mail, nextAttemptAt: NOW + 100 }));
        assert.deepEqual(
          (await s.dueMail(NOW, 10)).map((m) => m.id),
          [m1.id],
        );
        assert.deepEqual(
          (await s.dueMail(NOW + 100, 10)).map((m) => m.id),
          [m1.id, m2.id],
        );
        assert.equal(await s.transaction((tx) => tx.claimMail(m1.id, NOW, NOW + 50)), true);
        assert.equal(await s.transaction((tx) => tx.claimMail(m1.id, NOW, NOW + 50)), false, "claimed once");
        assert.deepEqual(
          (await s.dueMail(NOW, 10)).map((m) => m.id),
          [],
        );
        await s.transaction((tx) =>
          tx.updateMail(m1.id, { state: "sent", attempts: 1, sentAt: NOW + 1, lastError: null }),
        );
        await s.transaction((tx) => tx.updateMail(m2.id, { attempts: 1, lastError: "451 try later" }));
        assert.deepEqual(
          (await s.dueMail(NOW + 100, 10)).map((m) => m.id),
          [m2.id],
        );
        const mails = await s.mailForRequest(req.id);
        assert.deepEqual(
          mails.map((m) => [m.state, m.attempts, m.lastError]),
          [
            ["sent", 1, null],
            ["pending", 1, "451 try later"],
          ],
        );
        assert.deepEqual(mails[0]!.attachments, mail.attachments);
        // Intake: a key is taken in once.
        const rec = {
          key: "mail:<m1@x>",
          channel: "mail" as const,
          origin: "imap:INBOX:1:7",
          receivedAt: NOW,
          outcome: "processed" as const,
          reason: null,
          requestIds: [req.id],
          moved: false,
        };
        await s.transaction((tx) => tx.recordIntake(rec));
        await assert.rejects(
          s.transaction((tx) => tx.recordIntake(rec)),
          rejectsWith(ErrorCodes.STORE, { duplicateIntake: true }),
        );
        await s.transaction((tx) => tx.markIntakeMoved(rec.key));
        assert.deepEqual({ ...(await s.getIntake(rec.key)), id: 0 }, { ...rec, moved: true, id: 0 });
        assert.equal(await s.getIntake("nope"), undefined);
        // Notices: once per certificate and threshold.
        const c = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "n1")));
        assert.equal(await s.transaction((tx) => tx.recordNotice(c.id, 30, NOW)), true);
        assert.equal(await s.transaction((tx) => tx.recordNotice(c.id, 30, NOW + 1)), false);
        assert.equal(await s.transaction((tx) => tx.recordNotice(c.id, 7, NOW)), true);
        assert.deepEqual(await s.noticesSent(c.id), [30, 7]);
        assert.equal(await s.getJobMark("summary"), undefined);
        await s.transaction((tx) => tx.setJobMark("summary", "2026-11-27", NOW));
        await s.transaction((tx) => tx.setJobMark("summary", "2026-11-28", NOW + 1));
        assert.deepEqual(await s.getJobMark("summary"), { value: "2026-11-28", at: NOW + 1 });
      }));

    it("keeps OCSP answers, responders and CRLs", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const v0 = await s.dataVersion();
        const [a, b, r] = await s.transaction(async (tx) => [
          await tx.insertCert(certDraft(ca.id, "a1")),
          await tx.insertCert(certDraft(ca.id, "b2"), {
            der: Buffer.from("answer b2"),
            thisUpdate: NOW,
            nextUpdate: NOW + 4 * DAY,
          }),
          await tx.insertCert(certDraft(ca.id, "c3", { profile: "ocsp" })),
        ]);
        assert.notEqual(await s.dataVersion(), v0, "a commit changes the data version");
        // Without an answer, a certificate's row is due at once.
        const la = await s.ocspLookup(ca.id, "a1");
        assert.equal(la?.certId, a!.id);
        assert.equal(la?.der, null);
        assert.equal(la?.status, "valid");
        const lb = await s.ocspLookup(ca.id, "b2");
        assert.deepEqual(lb?.der, Buffer.from("answer b2"));
        assert.equal(lb?.nextUpdate, NOW + 4 * DAY);
        assert.equal(await s.ocspLookup(ca.id, "ff"), undefined);
        assert.equal(await s.ocspLookup(ca.id + 1, "a1"), undefined);
        assert.deepEqual((await s.ocspDue(NOW, 10)).map((e) => e.serialHex).sort(), ["a1", "c3"]);
        assert.equal(await s.countOcspDue(NOW), 2);
        assert.equal(await s.countOcspDue(NOW + 5 * DAY), 3);
        assert.equal((await s.ocspDue(NOW + 5 * DAY, 1)).length, 1);
        // Revocation and a replaced answer.
        await s.transaction(async (tx) => {
          await tx.revokeCert(b!.id, NOW + 1000, 1);
          await tx.putOcspResponses([
            {
              certId: b!.id,
              caId: ca.id,
              der: Buffer.from("revoked b2"),
              thisUpdate: NOW + 1000,
              nextUpdate: NOW + 5 * DAY,
            },
            {
              certId: a!.id,
              caId: ca.id,
              der: Buffer.from("good a1"),
              thisUpdate: NOW,
              nextUpdate: NOW + 3 * DAY,
            },
          ]);
        });
        const lb2 = await s.ocspLookup(ca.id, "b2");
        assert.equal(lb2?.status, "revoked");
        assert.equal(lb2?.revokedAt, NOW + 1000);
        assert.equal(lb2?.revocationReason, 1);
        assert.deepEqual(lb2?.der, Buffer.from("revoked b2"));
        assert.deepEqual(
          (await s.ocspDue(NOW + 4 * DAY, 10)).map((e) => e.serialHex),
          ["c3", "a1"],
          "oldest first",
        );
        // Responders: the newest notAfter wins.
        assert.equal(await s.currentOcspResponder(ca.id), undefined);
        const r1 = await s.transaction((tx) =>
          tx.insertOcspResponder({
            caId: ca.id,
            certId: r!.id,
            certDer: Buffer.from("responder 1"),
            keyRef: "file:r1",
            keyType: "p256",
            notBefore: NOW,
            notAfter: NOW + 30 * DAY,
            createdAt: NOW,
          }),
        );
        assert.deepEqual(await s.currentOcspResponder(ca.id), r1);
        const { id: _id, ...r1Fields } = r1;
        const r2 = await s.transaction((tx) =>
          tx.insertOcspResponder({ ...r1Fields, keyRef: "file:r2", notAfter: NOW + 50 * DAY }),
        );
        assert.equal((await s.currentOcspResponder(ca.id))?.id, r2.id);
        // CRLs: the latest number wins; an older one never replaces a newer one.
        assert.equal(await s.latestCrl(ca.id), undefined);
        const crl = {
          caId: ca.id,
          crlNumber: 5,
          der: Buffer.from("crl 5"),
          thisUpdate: NOW,
          nextUpdate: NOW + DAY,
        };
        await s.transaction((tx) => tx.putCrl(crl));
        assert.deepEqual(await s.latestCrl(ca.id), crl);
        await s.transaction((tx) => tx.putCrl({ ...crl, crlNumber: 4, der: Buffer.from("crl 4") }));
        assert.equal((await s.latestCrl(ca.id))?.crlNumber, 5);
        await s.transaction((tx) => tx.putCrl({ ...crl, crlNumber: 6, der: Buffer.from("crl 6") }));
        assert.deepEqual((await s.latestCrl(ca.id))?.der, Buffer.from("crl 6"));
      }));

    it("changes the OCSP answers' mark only with a change a responder must see", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const m0 = await s.ocspEpoch();
        assert.notEqual(m0, "");
        const same = async (what: string, f: () => Promise<unknown>) => {
          const before = await s.ocspEpoch();
          await f();
          assert.equal(await s.ocspEpoch(), before, `${what} keeps the mark`);
        };
        const changes = async (what: string, f: () => Promise<unknown>) => {
          const before = await s.ocspEpoch();
          await f();
          assert.notEqual(await s.ocspEpoch(), before, `${what} changes the mark`);
        };
        // Issuing, a refreshed answer, an audit event, a lease, a job mark: nothing cached goes stale.
        const c = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "e1")));
        await same("an issued certificate", () =>
          s.transaction((tx) => tx.insertCert(certDraft(ca.id, "e2"))),
        );
        await same("a refreshed answer", () =>
          s.transaction((tx) =>
            tx.putOcspResponses([
              { certId: c.id, caId: ca.id, der: Buffer.from("e1"), thisUpdate: NOW, nextUpdate: NOW + DAY },
            ]),
          ),
        );
        await same("an audit event", () => s.transaction((tx) => audit(tx, "test.event")));
        await same("a lease", () => s.tryLease("serve.test", "host:1:a", 3000));
        await same("a job mark", () => s.transaction((tx) => tx.setJobMark("m", "v", NOW)));
        // A revocation, a new issuer, a restore's explicit mark: every cached answer may be stale.
        await changes("a revocation", () => s.transaction((tx) => tx.revokeCert(c.id, NOW, 1)));
        await changes("a new CA", () => addCa(s, "genfic-other"));
        await changes("invalidateOcspAnswers", () => s.transaction((tx) => tx.invalidateOcspAnswers()));
        // A rolled-back revocation changes nothing.
        const c2 = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "e3")));
        await same("a rolled-back revocation", () =>
          s
            .transaction(async (tx) => {
              await tx.revokeCert(c2.id, NOW, 1);
              throw new Error("rolled back");
            })
            .catch(() => undefined),
        );
      }));

    it("stores admin tokens by id, only hashed, and revokes them once", () =>
      withStore(async (s) => {
        const t = {
          id: "0123456789abcdef",
          name: "alice",
          role: "operator" as const,
          secretHash: Buffer.alloc(32, 7),
          scheme: "hmac-sha256" as const,
          createdAt: NOW,
          createdBy: "cli:root",
          expiresAt: NOW + DAY,
          revokedAt: null,
        };
        assert.equal(await s.getAdminToken(t.id), undefined);
        await s.transaction((tx) => tx.insertAdminToken(t));
        assert.deepEqual(await s.getAdminToken(t.id), t);
        await assert.rejects(s.transaction((tx) => tx.insertAdminToken({ ...t, name: "bob" })));
        await s.transaction((tx) =>
          tx.insertAdminToken({
            ...t,
            id: "fedcba9876543210",
            name: "sam",
            role: "security",
            scheme: "sha256",
            createdAt: NOW + 1,
          }),
        );
        assert.equal((await s.getAdminToken("fedcba9876543210"))?.scheme, "sha256");
        assert.deepEqual(
          (await s.listAdminTokens()).map((x) => x.name),
          ["sam", "alice"],
        );
        assert.equal(await s.transaction((tx) => tx.revokeAdminToken(t.id, NOW + 5)), true);
        assert.equal(await s.transaction((tx) => tx.revokeAdminToken(t.id, NOW + 6)), false);
        assert.equal(await s.transaction((tx) => tx.revokeAdminToken("nope", NOW + 6)), false);
        assert.equal((await s.getAdminToken(t.id))?.revokedAt, NOW + 5);
      }));

    it("refuses a second live admin token of one name, and frees the name once revoked or expired", () =>
      withStore(async (s) => {
        const t = {
          id: "00000000000000a1",
          name: "olga",
          role: "operator" as const,
          secretHash: Buffer.alloc(32, 1),
          scheme: "hmac-sha256" as const,
          createdAt: NOW,
          createdBy: "cli:root",
          expiresAt: NOW + DAY,
          revokedAt: null,
        };
        assert.equal(await s.transaction((tx) => tx.insertAdminToken(t)), undefined);
        const again = { ...t, id: "00000000000000a2", role: "security" as const, createdAt: NOW + 1 };
        assert.deepEqual(await s.transaction((tx) => tx.insertAdminToken(again)), t);
        assert.equal(await s.getAdminToken(again.id), undefined, "nothing written");
        // Expired at the new token's creation: the name is free.
        assert.equal(
          await s.transaction((tx) => tx.insertAdminToken({ ...again, createdAt: NOW + DAY })),
          undefined,
        );
        // Revoked: free as well.
        await s.transaction((tx) => tx.revokeAdminToken(again.id, NOW + DAY + 1));
        const third = { ...t, id: "00000000000000a3", createdAt: NOW + DAY + 2, expiresAt: NOW + 3 * DAY };
        assert.equal(await s.transaction((tx) => tx.insertAdminToken(third)), undefined);
        // Another store on the database (another instance) sees the live name too.
        if (!options.childOpen) return;
        const spec = options.childOpen(s);
        const mod = (await import(pathToFileURL(spec.module).href)) as Record<
          string,
          (...a: unknown[]) => Promise<Store>
        >;
        const other = await mod[spec.exportName]!(...spec.args);
        try {
          const fourth = { ...third, id: "00000000000000a4", createdAt: NOW + DAY + 3 };
          assert.deepEqual(await other.transaction((tx) => tx.insertAdminToken(fourth)), third);
        } finally {
          await other.close();
        }
        assert.equal((await s.listAdminTokens()).filter((x) => x.name === "olga").length, 3);
      }));

    it("finds web requests by public id, and counts expiring certificates per CA and week", () =>
      withStore(async (s) => {
        const r = await s.transaction((tx) =>
          tx.insertRequest(requestDraft({ channel: "web", publicId: "pub-1" })),
        );
        assert.equal((await s.getRequestByPublicId("pub-1"))?.id, r.id);
        assert.equal(await s.getRequestByPublicId("nope"), undefined);
        assert.equal((await s.getRequest(r.id))?.publicId, "pub-1");
        await assert.rejects(s.transaction((tx) => tx.insertRequest(requestDraft({ publicId: "pub-1" }))));
        const plain = await s.transaction((tx) => tx.insertRequest(requestDraft()));
        assert.equal((await s.getRequest(plain.id))?.publicId, null);
        const ca = await addCa(s);
        const week = 7 * DAY;
        await s.transaction(async (tx) => {
          await tx.insertCert(certDraft(ca.id, "e1", { notAfter: NOW + 1 * DAY }));
          await tx.insertCert(certDraft(ca.id, "e2", { notAfter: NOW + 2 * DAY }));
          await tx.insertCert(certDraft(ca.id, "e3", { notAfter: NOW + 3 * week + DAY }));
          await tx.insertCert(certDraft(ca.id, "e4", { notAfter: NOW + 30 * week }));
          await tx.insertCert(certDraft(ca.id, "e5", { notAfter: NOW - DAY }));
          await tx.insertCert(certDraft(ca.id, "e6", { notAfter: NOW + DAY, profile: "ocsp" }));
          const gone = await tx.insertCert(certDraft(ca.id, "e7", { notAfter: NOW + DAY }));
          await tx.revokeCert(gone.id, NOW, 1);
        });
        assert.deepEqual(await s.expiryHistogram(NOW, week, 26), [
          { caId: ca.id, bucket: 0, count: 2 },
          { caId: ca.id, bucket: 3, count: 1 },
        ]);
      }));

    it("inserts and reads certificates", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const req = await s.transaction((tx) => tx.insertRequest(requestDraft()));
        const c = await s.transaction(async (tx) => {
          const cert = await tx.insertCert(
            certDraft(ca.id, "abc123", {
              requestId: req.id,
              email: "alice@example.org",
              sans: [
                { type: "email", value: "alice@example.org" },
                { type: "ip", value: "192.0.2.1" },
              ],
            }),
          );
          await tx.updateRequest(req.id, { state: "issued", certificateId: cert.id });
          return cert;
        });
        assert.deepEqual(await s.getCert(ca.id, "abc123"), c);
        assert.equal(await s.getCert(ca.id, "abc124"), undefined);
        assert.equal((await s.getRequest(req.id))?.certificateId, c.id);
        // The same serial under another CA is fine.
        const other = await addCa(s, "other");
        await s.transaction((tx) =>
          tx.insertCert(certDraft(other.id, "abc123", { fingerprint: "e".repeat(64) })),
        );
      }));

    it("rejects a duplicate serial and rolls the whole transaction back", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        await s.transaction(async (tx) => {
          await tx.insertCert(certDraft(ca.id, "77"));
          await audit(tx, "cert.issue");
        });
        const headBefore = await s.auditHead();
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.insertRequest(requestDraft());
            await audit(tx, "cert.issue");
            await tx.insertCert(certDraft(ca.id, "77", { fingerprint: "f".repeat(64) }));
          }),
          rejectsWith(ErrorCodes.STORE, { duplicateSerial: true }),
        );
        assert.equal((await s.listRequests({})).length, 0);
        assert.deepEqual(await s.auditHead(), headBefore);
        assert.equal((await collect(s.auditEvents())).length, 1);
        assert.equal((await s.findCerts({ now: NOW })).length, 1);
        assert.equal((await verifyAuditChain(s.auditEvents(), await s.auditHead())).ok, true);
      }));

    it("leaves nothing behind when a transaction throws", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const boom = new Error("boom");
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.insertRequest(requestDraft());
            await tx.insertCert(certDraft(ca.id, "1"));
            await tx.setCrlNumber(ca.id, 5);
            await audit(tx, "cert.issue");
            throw boom;
          }),
          (e) => e === boom,
        );
        assert.equal((await s.listRequests({})).length, 0);
        assert.equal((await s.findCerts({ now: NOW })).length, 0);
        assert.equal((await s.getCa(ca.name))?.crlNumber, 0);
        assert.equal(await s.auditHead(), undefined);
        assert.equal((await collect(s.auditEvents())).length, 0);
        // The store still works afterwards.
        await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "1")));
        assert.equal((await s.findCerts({ now: NOW })).length, 1);
      }));

    it("refuses a transaction handle used after its transaction ended", () =>
      withStore(async (s) => {
        let leaked: StoreTx | undefined;
        await s.transaction(async (tx) => {
          leaked = tx;
        });
        await assert.rejects(leaked!.insertRequest(requestDraft()));
      }));

    it("serializes concurrent transactions in one process", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const log: string[] = [];
        const work = (tag: string, serial: string) =>
          s.transaction(async (tx) => {
            log.push(`${tag}:start`);
            await tx.insertCert(certDraft(ca.id, serial));
            await sleep(15);
            await audit(tx, "cert.issue", { tag });
            log.push(`${tag}:end`);
            return tag;
          });
        const results = await Promise.all([work("a", "a1"), work("b", "b1"), work("c", "c1")]);
        assert.deepEqual(results, ["a", "b", "c"]);
        assert.deepEqual(log, ["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
        const events = await collect(s.auditEvents());
        assert.deepEqual(
          events.map((e) => [e.seq, e.details.tag]),
          [
            [1, "a"],
            [2, "b"],
            [3, "c"],
          ],
        );
        // A failing transaction in the queue does not disturb the others.
        const outcomes = await Promise.allSettled([
          work("d", "d1"),
          s.transaction(async (tx) => {
            await tx.insertCert(certDraft(ca.id, "d1"));
          }),
          work("e", "e1"),
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ["fulfilled", "rejected", "fulfilled"],
        );
      }));

    it("says which write transaction runs since when, and how many wait behind it (writeState)", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        assert.deepEqual(s.writeState!(), { waiting: 0 }, "idle");
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const before = performance.now();
        const first = s.transaction(async (tx) => {
          await tx.insertCert(certDraft(ca.id, "w1"));
          await gate;
        });
        const second = s.transaction((tx) => tx.insertCert(certDraft(ca.id, "w2")));
        // A refused transaction (duplicate serial) counts while it waits, and not after.
        const third = s.transaction((tx) => tx.insertCert(certDraft(ca.id, "w1")));
        for (let i = 0; i < 100 && s.writeState!().since === undefined; i++) await sleep(10);
        const held = s.writeState!();
        assert.ok(held.since !== undefined && held.since >= before && held.since <= performance.now());
        assert.equal(held.waiting, 2, "the second and third wait");
        open();
        await first;
        await second;
        await assert.rejects(third);
        assert.deepEqual(s.writeState!(), { waiting: 0 }, "idle again");
      }));

    it("revokes certificates and streams revoked entries", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const other = await addCa(s, "other");
        const certs = await s.transaction(async (tx) => {
          const out: CertRecord[] = [];
          for (let i = 1; i <= 50; i++) out.push(await tx.insertCert(certDraft(ca.id, i.toString(16))));
          await tx.insertCert(certDraft(other.id, "1", { fingerprint: "a".repeat(64) }));
          return out;
        });
        const revoked = certs.filter((_, i) => i % 5 === 0);
        await s.transaction(async (tx) => {
          for (const [i, c] of revoked.entries()) await tx.revokeCert(c.id, NOW + i, i === 0 ? 1 : 4);
        });
        const otherCert = await s.getCert(other.id, "1");
        await s.transaction((tx) => tx.revokeCert(otherCert!.id, NOW, 0));
        await assert.rejects(
          s.transaction((tx) => tx.revokeCert(999_999, NOW, 1)),
          rejectsWith(ErrorCodes.CERT_NOT_FOUND),
        );
        const got = await s.getCert(ca.id, revoked[1]!.serialHex);
        assert.equal(got?.status, "revoked");
        assert.equal(got?.revokedAt, NOW + 1);
        assert.equal(got?.revocationReason, 4);
        assert.equal(await s.countRevoked(ca.id), revoked.length);
        assert.equal(await s.countRevoked(other.id), 1);

        const entries = (await collect(s.revokedEntries(ca.id))).flat();
        const bySerial = (a: { serialHex: string }, b: { serialHex: string }) =>
          a.serialHex < b.serialHex ? -1 : 1;
        assert.deepEqual(
          [...entries].sort(bySerial),
          revoked
            .map((c, i) => ({ serialHex: c.serialHex, revokedAt: NOW + i, reason: i === 0 ? 1 : 4 }))
            .sort(bySerial),
        );
        // Other reads and writes may run while a stream is open; breaking early is fine.
        let n = 0;
        for await (const batch of s.revokedEntries(ca.id)) {
          assert.ok(batch.length > 0 && batch.every((e) => e.serialHex));
          assert.ok(await s.getCa(ca.name));
          await s.transaction((tx) => audit(tx, "crl.publish"));
          if (++n === 1) break;
        }
        assert.equal(n, 1);
        assert.deepEqual(await collect(s.revokedEntries(12345)), []);
      }));

    it("finds certificates by status, expiry and match, sorted by notAfter then id", () =>
      withStore(async (s) => {
        const ca = await addCa(s);
        const other = await addCa(s, "other");
        const c = await s.transaction(async (tx) => ({
          expired: await tx.insertCert(certDraft(ca.id, "e1", { notAfter: NOW - DAY })),
          soonA: await tx.insertCert(
            certDraft(ca.id, "50a", { notAfter: NOW + 10 * DAY, commonName: "Mail.Example" }),
          ),
          soonB: await tx.insertCert(
            certDraft(ca.id, "50b", {
              notAfter: NOW + 10 * DAY,
              email: "Bob@Example.org",
              commonName: "Bob",
            }),
          ),
          later: await tx.insertCert(certDraft(ca.id, "1a7e", { notAfter: NOW + 100 * DAY })),
          revoked: await tx.insertCert(certDraft(ca.id, "7e", { notAfter: NOW + 20 * DAY })),
          revokedExpired: await tx.insertCert(certDraft(ca.id, "7f", { notAfter: NOW - 2 * DAY })),
          edge: await tx.insertCert(certDraft(ca.id, "ed", { notAfter: NOW })),
          elsewhere: await tx.insertCert(
            certDraft(other.id, "50a", {
              notAfter: NOW + 5 * DAY,
              commonName: "mail.example",
              fingerprint: "b".repeat(64),
            }),
          ),
        }));
        await s.transaction(async (tx) => {
          await tx.revokeCert(c.revoked.id, NOW - DAY, 1);
          await tx.revokeCert(c.revokedExpired.id, NOW - 3 * DAY, 1);
        });
        const ids = async (q: Parameters<Store["findCerts"]>[0]) => (await s.findCerts(q)).map((x) => x.id);

        assert.deepEqual(await ids({ caId: ca.id, now: NOW }), [
          c.revokedExpired.id,
          c.expired.id,
          c.edge.id,
          c.soonA.id,
          c.soonB.id,
          c.revoked.id,
          c.later.id,
        ]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, status: "expired" }), [
          c.revokedExpired.id,
          c.expired.id,
        ]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, status: "valid" }), [
          c.edge.id,
          c.soonA.id,
          c.soonB.id,
          c.later.id,
        ]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, status: "revoked" }), [
          c.revokedExpired.id,
          c.revoked.id,
        ]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, expiringBefore: NOW + 30 * DAY }), [
          c.edge.id,
          c.soonA.id,
          c.soonB.id,
          c.revoked.id,
        ]);
        assert.deepEqual(
          await ids({ caId: ca.id, now: NOW, expiringBefore: NOW + 30 * DAY, status: "valid" }),
          [c.edge.id, c.soonA.id, c.soonB.id],
        );
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, expiringBefore: NOW, status: "expired" }), [
          c.revokedExpired.id,
          c.expired.id,
        ]);
        assert.deepEqual(await ids({ now: NOW, expiringBefore: NOW + 30 * DAY, status: "valid" }), [
          c.edge.id,
          c.elsewhere.id,
          c.soonA.id,
          c.soonB.id,
        ]);
        // match: common name / e-mail case-insensitively, serial normalised.
        assert.deepEqual(await ids({ now: NOW, match: "MAIL.example" }), [c.elsewhere.id, c.soonA.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "mail.example" }), [c.soonA.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "bob@example.ORG" }), [c.soonB.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "bob" }), [c.soonB.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "0x1A:7E" }), [c.later.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "0050B" }), [c.soonB.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "nobody" }), []);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, match: "50a", status: "valid" }), [c.soonA.id]);
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, limit: 2 }), [c.revokedExpired.id, c.expired.id]);
        // Profiles: one, or all but some (listings hide the internal ocsp and ca).
        const responder = await s.transaction((tx) =>
          tx.insertCert(certDraft(ca.id, "0c5b", { notAfter: NOW + 10 * DAY, profile: "ocsp" })),
        );
        assert.deepEqual(await ids({ caId: ca.id, now: NOW, status: "valid", profile: "ocsp" }), [
          responder.id,
        ]);
        assert.deepEqual(
          await ids({
            caId: ca.id,
            now: NOW,
            expiringBefore: NOW + 30 * DAY,
            excludeProfiles: ["ocsp", "ca"],
          }),
          [c.edge.id, c.soonA.id, c.soonB.id, c.revoked.id],
        );
        assert.deepEqual(
          await ids({ caId: ca.id, now: NOW, expiringBefore: NOW + 30 * DAY, excludeProfiles: [] }),
          [c.edge.id, c.soonA.id, c.soonB.id, responder.id, c.revoked.id],
        );
        // The end of a CA's last certificate, whatever its status: how long a retired CA publishes CRLs.
        assert.equal(await s.lastNotAfter(ca.id), NOW + 100 * DAY);
        assert.equal(await s.lastNotAfter(other.id), NOW + 5 * DAY);
        assert.equal(await s.lastNotAfter(999_999), undefined);
        const one = (await s.findCerts({ caId: ca.id, now: NOW, match: "bob" }))[0];
        assert.deepEqual(one, await s.getCert(ca.id, "50b"));
      }));

    it("chains audit events and verifies them", () =>
      withStore(async (s) => {
        assert.equal(await s.auditHead(), undefined);
        assert.deepEqual(await verifyAuditChain(s.auditEvents(), null), {
          ok: true,
          count: 0,
          headHash: GENESIS_HASH,
        });
        const appended: AuditEvent[] = [];
        for (let i = 0; i < 5; i++) {
          appended.push(
            await s.transaction((tx) =>
              tx.appendAudit({
                at: NOW + i,
                actor: "cli:root",
                action: "cert.issue",
                target: i % 2 ? null : `genfic-user/${i}`,
                details: { z: i, a: { y: [1, "two", null], b: true }, ü: "é" },
              }),
            ),
          );
        }
        assert.equal(appended[0]?.prevHash, GENESIS_HASH);
        assert.deepEqual(
          appended.map((e) => e.seq),
          [1, 2, 3, 4, 5],
        );
        const stored = await collect(s.auditEvents());
        assert.deepEqual(stored, appended);
        // The same events in batches, details as the stored text (the writer's stableStringify).
        const batches = await collect(s.auditEventBatches());
        assert.deepEqual(
          batches.flat(),
          appended.map((e) => ({ ...e, details: stableStringify(e.details) })),
        );
        assert.deepEqual(
          (await collect(s.auditEventBatches(3))).flat().map((e) => e.seq),
          [4, 5],
        );
        const head = await s.auditHead();
        assert.deepEqual(head, { seq: 5, hash: appended[4]?.hash });
        assert.deepEqual(await verifyAuditChain(s.auditEvents(), head), {
          ok: true,
          count: 5,
          headHash: appended[4]?.hash,
        });
        assert.deepEqual(await verifyAuditChain({ stored: s.auditEventBatches() }, head), {
          ok: true,
          count: 5,
          headHash: appended[4]?.hash,
        });
      }));

    it("keeps audit checkpoints (one per tree size) and audit keys, oldest first; reads events after a seq", () =>
      withStore(async (s) => {
        for (let i = 1; i <= 4; i++) await s.transaction((tx) => audit(tx, "cert.issue", { i }));
        assert.deepEqual(
          (await collect(s.auditEventsAfter(2))).map((e) => e.seq),
          [3, 4],
        );
        assert.equal(await s.lastAuditCheckpoint(), undefined);
        const cp = (n: number) => ({
          treeSize: n,
          rootHash: "ab".repeat(32),
          at: NOW + n,
          keyId: "k1",
          signature: "c2ln",
        });
        assert.equal(await s.transaction((tx) => tx.insertAuditCheckpoint(cp(4))), true);
        assert.equal(await s.transaction((tx) => tx.insertAuditCheckpoint(cp(2))), true);
        // Another signer was first for this size: nothing replaced.
        assert.equal(
          await s.transaction((tx) => tx.insertAuditCheckpoint({ ...cp(4), rootHash: "cd".repeat(32) })),
          false,
        );
        assert.deepEqual(await s.auditCheckpoints(), [cp(2), cp(4)]);
        assert.deepEqual(await s.lastAuditCheckpoint(), cp(4));
        const key = (id: string, at: number) => ({
          keyId: id,
          keyRef: `file:${id}`,
          spki: Buffer.from([1, 2, 3]),
          createdAt: at,
        });
        await s.transaction((tx) => tx.insertAuditKey(key("b", NOW + 1)));
        await s.transaction((tx) => tx.insertAuditKey(key("a", NOW + 2)));
        assert.deepEqual(await s.auditKeys(), [key("b", NOW + 1), key("a", NOW + 2)]);
      }));

    it("keeps the service's own keys by name: never replaced, removed idempotently, rolled back with their transaction", () =>
      withStore(async (s) => {
        const pem = (n: string) =>
          `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.from(n).toString("base64")}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
        const k = { name: "ocsp-1-00aa", pem: pem("one"), createdAt: NOW };
        assert.equal(await s.getServiceKey(k.name), undefined);
        await s.transaction((tx) => tx.insertServiceKey(k));
        assert.deepEqual(await s.getServiceKey(k.name), k);
        // A name is never reused: the first key stays.
        await assert.rejects(
          s.transaction((tx) => tx.insertServiceKey({ ...k, pem: pem("two"), createdAt: NOW + 1 })),
          rejectsWith(ErrorCodes.FILE_EXISTS, { name: k.name }),
        );
        assert.deepEqual(await s.getServiceKey(k.name), k);
        // A key made in a transaction that fails is not kept.
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.insertServiceKey({ name: "audit-1", pem: pem("a"), createdAt: NOW });
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await s.getServiceKey("audit-1"), undefined);
        await s.transaction((tx) => tx.deleteServiceKey(k.name));
        assert.equal(await s.getServiceKey(k.name), undefined);
        await s.transaction((tx) => tx.deleteServiceKey(k.name)); // gone already: no error
        await s.transaction((tx) => tx.insertServiceKey({ ...k, pem: pem("three") }));
        assert.equal((await s.getServiceKey(k.name))?.pem, pem("three"));
      }));

    const tamper = (title: string, statements: string[], expect: { firstBad: number; reason: RegExp }) =>
      it(`audit verify names the first broken event: ${title}`, { skip: options.rawSql === undefined }, () =>
        withStore(async (s) => {
          for (let i = 1; i <= 8; i++) {
            await s.transaction((tx) => audit(tx, "cert.issue", { i, note: `event ${i}` }));
          }
          assert.equal((await verifyAuditChain(s.auditEvents(), await s.auditHead())).ok, true);
          for (const st of statements) await options.rawSql!(s, st);
          const head = await s.auditHead();
          const r = await verifyAuditChain(s.auditEvents(), head ?? null);
          assert.equal(r.ok, false, JSON.stringify(r));
          // The batched walk over the stored text gives the same verdict.
          assert.deepEqual(await verifyAuditChain({ stored: s.auditEventBatches() }, head ?? null), r);
          if (!r.ok) {
            assert.equal(r.firstBad, expect.firstBad, r.reason);
            assert.match(r.reason, expect.reason);
          }
        }),
      );
    tamper(
      "edited details",
      [`UPDATE audit_events SET details = '{"i":3,"note":"nothing happened"}' WHERE seq = 3`],
      {
        firstBad: 3,
        reason: /^event 3: hash does not match its content \(edited\?\)$/,
      },
    );
    tamper(
      "edited actor and rehashed",
      [`UPDATE audit_events SET actor = 'x', hash = prev_hash WHERE seq = 6`],
      {
        firstBad: 6,
        reason: /^event 6: hash does not match/,
      },
    );
    tamper("deleted row", ["DELETE FROM audit_events WHERE seq = 4"], {
      firstBad: 4,
      reason: /^event 5 follows 3: event\(s\) missing/,
    });
    tamper("deleted first row", ["DELETE FROM audit_events WHERE seq = 1"], {
      firstBad: 1,
      reason: /^event 2 follows 0: event\(s\) missing/,
    });
    tamper(
      "swapped seq of two rows",
      [
        "UPDATE audit_events SET seq = -1 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = -1",
      ],
      { firstBad: 2, reason: /^event 2: hash does not match/ },
    );
    tamper("deleted last row (truncated tail)", ["DELETE FROM audit_events WHERE seq = 8"], {
      firstBad: 8,
      reason: /^chain ends at event 7 but the head records event 8: event\(s\) 8 missing \(truncated\?\)$/,
    });
    tamper(
      "deleted last rows and moved the head back",
      ["DELETE FROM audit_events WHERE seq >= 7", "UPDATE audit_head SET seq = 6, hash = 'x' WHERE id = 1"],
      { firstBad: 6, reason: /head's hash does not match event 6/ },
    );
    tamper(
      "edited audit head",
      ["UPDATE audit_head SET hash = (SELECT prev_hash FROM audit_events WHERE seq = 8) WHERE id = 1"],
      {
        firstBad: 8,
        reason: /head's hash does not match event 8/,
      },
    );
    tamper("deleted audit head", ["DELETE FROM audit_head"], {
      firstBad: 1,
      reason: /audit head record is missing/,
    });

    it(
      "two processes insert concurrently into the same database",
      { skip: options.childOpen === undefined, timeout: 120_000 },
      () =>
        withStore(async (s) => {
          const ca = await addCa(s);
          const spec = options.childOpen!(s);
          const child = path.join(repoRoot, "test", "store-contract-child.ts");
          const run = (tag: string) =>
            new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
              const payload: ChildSpec = { ...spec, caId: ca.id, count: 500, tag };
              const p = spawn(process.execPath, ["--import", "tsx", child, JSON.stringify(payload)], {
                cwd: repoRoot,
                stdio: ["ignore", "ignore", "pipe"],
              });
              let stderr = "";
              p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
              p.on("error", reject);
              p.on("exit", (code) => resolve({ code, stderr }));
            });
          const results = await Promise.all([run("a"), run("b")]);
          for (const r of results) assert.equal(r.code, 0, r.stderr);
          assert.equal((await s.findCerts({ caId: ca.id, now: 0 })).length, 1000);
          const v = await verifyAuditChain(s.auditEvents(), await s.auditHead());
          assert.deepEqual(v.ok && v.count, 1000);
        }),
    );

    it(
      "timing: insertRequest + insertCert + appendAudit per transaction (printed)",
      {
        skip: options.bench === false,
        timeout: 600_000,
      },
      () =>
        withStore(async (s) => {
          const ca = await addCa(s);
          const csr = randomBytes(420);
          const der = randomBytes(720);
          const N = 20_000;
          let counter = 0;
          const round = async (label: string) => {
            const serials = Array.from({ length: N }, () =>
              randomBytes(16).toString("hex").replace(/^0+/, ""),
            );
            const fps = Array.from({ length: N }, () => randomBytes(32).toString("hex"));
            const t0 = process.hrtime.bigint();
            for (let i = 0; i < N; i++) {
              const n = counter++;
              await s.transaction(async (tx) => {
                const req = await tx.insertRequest(
                  requestDraft({ csrDer: csr, state: "issued", channel: "cli" }),
                );
                const cert = await tx.insertCert(
                  certDraft(ca.id, serials[i]!, {
                    der,
                    fingerprint: fps[i]!,
                    requestId: req.id,
                    commonName: `host${n}.example.org`,
                    email: `u${n}@example.org`,
                  }),
                );
                await tx.appendAudit({
                  at: NOW,
                  actor: "cli:bench",
                  action: "cert.issue",
                  target: `${ca.name}/${cert.serialHex}`,
                  details: { serial: cert.serialHex, profile: "system", request: req.id },
                });
              });
            }
            const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
            console.log(`# [${name}] ${label}: ${us.toFixed(1)} µs per transaction (${N} transactions)`);
          };
          await round("empty database");
          const PREFILL = 200_000;
          const t0 = process.hrtime.bigint();
          await s.transaction(async (tx) => {
            for (let i = 0; i < PREFILL; i++) {
              await tx.insertCert(
                certDraft(ca.id, `f${i.toString(16)}`, {
                  der,
                  fingerprint: `${i.toString(16)}`.padStart(64, "c"),
                }),
              );
            }
          });
          const prefillMs = Number(process.hrtime.bigint() - t0) / 1e6;
          console.log(
            `# [${name}] prefill: ${PREFILL} certificates in one transaction, ${prefillMs.toFixed(0)} ms`,
          );
          await round(`after prefilling ${PREFILL} certificates`);
          assert.equal(await s.countRevoked(ca.id), 0);
        }),
    );

    it("instances: a heartbeat records or refreshes a row by the lease clock; a stop removes only its own; leases are listed", () =>
      withStore(async (s) => {
        const inst = (name: string, over: Partial<InstanceRecord> = {}) => ({
          name,
          holder: `host:1:${name}`,
          address: "http://127.0.0.1:8080",
          admin: ["unix:/srv/sigil/admin.sock", "https://127.0.0.1:8443"],
          pid: 4242,
          host: "ca1.genfic.internal",
          version: "0.1.0",
          startedAt: NOW,
          heartbeatMs: 5000,
          sealed: false,
          ...over,
        });
        assert.deepEqual(await s.instances(), []);
        const t0 = await s.leaseClock();
        assert.ok(Math.abs(t0 - Date.now()) < 60_000, `the lease clock is near now: ${t0}`);
        await s.heartbeat(inst("b"));
        await s.heartbeat(inst("a", { sealed: true, admin: [] }));
        const first = await s.instances();
        assert.deepEqual(
          first.map((i) => ({ ...i, lastSeen: 0 })),
          [
            { ...inst("a", { sealed: true, admin: [] }), lastSeen: 0 },
            { ...inst("b"), lastSeen: 0 },
          ],
        );
        for (const i of first) assert.ok(i.lastSeen >= t0 && i.lastSeen <= (await s.leaseClock()));
        await sleep(5);
        // The same name from a new process (a restart): the row follows it.
        await s.heartbeat(inst("a", { holder: "host:2:a", pid: 4343, sealed: false }));
        const a = (await s.instances()).find((i) => i.name === "a")!;
        assert.equal(a.holder, "host:2:a");
        assert.equal(a.pid, 4343);
        assert.equal(a.sealed, false);
        assert.ok(a.lastSeen > first[0]!.lastSeen, "seen again later");
        // The old process's stop leaves the new one's row alone.
        await s.removeInstance("a", "host:1:a");
        assert.equal((await s.instances()).length, 2);
        await s.removeInstance("a", "host:2:a");
        assert.deepEqual(
          (await s.instances()).map((i) => i.name),
          ["b"],
        );

        assert.deepEqual(await s.jobLeases(), []);
        const before = await s.leaseClock();
        assert.equal(await s.tryLease("serve.jobs", "host:1:b", 3000), true);
        assert.equal(await s.tryLease("serve.outbox", "host:1:b", 15_000), true);
        const leases = await s.jobLeases();
        assert.deepEqual(
          leases.map((l) => [l.name, l.holder]),
          [
            ["serve.jobs", "host:1:b"],
            ["serve.outbox", "host:1:b"],
          ],
        );
        assert.ok(
          leases[0]!.expiresAt >= before + 3000 && leases[0]!.expiresAt <= (await s.leaseClock()) + 3000,
        );
        await s.releaseLease("serve.jobs", "host:1:b");
        assert.deepEqual(
          (await s.jobLeases()).map((l) => l.name),
          ["serve.outbox"],
        );
      }));

    it("blocked keys: found in one query; a compromise replaces a sigil record, not the reverse", () =>
      withStore(async (s) => {
        const k = (id: string, kind: "compromised" | "sigil", detail: string) => ({
          keyId: id,
          kind,
          detail,
          caName: "genfic-user",
          serialHex: "ab",
          since: NOW,
        });
        assert.equal((await s.findBlockedKeys([])).size, 0);
        await s.transaction((tx) => tx.blockKeys([k("a".repeat(64), "sigil", "the key of CA x")]));
        await s.transaction((tx) => tx.blockKeys([k("a".repeat(64), "compromised", "revoked")]));
        await s.transaction((tx) => tx.blockKeys([k("a".repeat(64), "sigil", "again")]));
        await s.transaction((tx) => tx.blockKeys([k("b".repeat(64), "sigil", "responder")]));
        const found = await s.findBlockedKeys(["a".repeat(64), "b".repeat(64), "c".repeat(64)]);
        assert.equal(found.size, 2);
        assert.deepEqual(found.get("a".repeat(64)), k("a".repeat(64), "compromised", "revoked"));
        assert.equal(found.get("b".repeat(64))!.kind, "sigil");
        // A rolled-back transaction blocks nothing.
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.blockKeys([k("c".repeat(64), "compromised", "x")]);
            throw new Error("rollback");
          }),
        );
        assert.equal((await s.findBlockedKeys(["c".repeat(64)])).size, 0);
      }));
  });
}
