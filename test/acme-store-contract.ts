/**
 * The ACME store contract (src/acme/store.ts over a {@link Store}): every backend runs it.
 * Call {@link runAcmeStoreContract} from a test file with a function that opens a fresh,
 * empty, migrated store each time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configSchema } from "../src/config/schema.js";
import { ErrorCodes, isSigilError } from "../src/errors.js";
import { effectiveSettings } from "../src/authority/acme/context.js";
import type {
  AccountRecord,
  AcmeSettings,
  AcmeStore,
  AuthzRecord,
  ChallengeRecord,
  OrderRecord,
} from "../src/acme/types.js";
import type { CaRecord, Store } from "../src/store/types.js";
import { caDraft, certDraft, requestDraft } from "./store-contract.js";

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

/** Backend hooks. */
export interface AcmeStoreContractOptions {
  /**
   * Opens a second store on the same database as `store` (another instance). Given for
   * PostgreSQL only: two SQLite stores in one process would block the event loop on the
   * file lock (better-sqlite3's busy wait is synchronous), and SQLite has no row locks.
   */
  second?: (store: Store) => Promise<Store>;
}

let seq = 0;
const pid = (p: string) => `${p}-${++seq}-${Math.random().toString(36).slice(2, 10)}`;

function accountDraft(caId: number, over: Partial<AccountRecord> = {}): Omit<AccountRecord, "id"> {
  return {
    publicId: pid("acct"),
    caId,
    thumbprint: pid("tp"),
    jwk: '{"kty":"EC","crv":"P-256","x":"x","y":"y"}',
    contact: ["mailto:ops@genfic.example"],
    status: "valid",
    eabKid: null,
    createdAt: NOW,
    ...over,
  };
}

function orderDraft(
  caId: number,
  accountId: number,
  over: Partial<OrderRecord> = {},
): Omit<OrderRecord, "id"> {
  return {
    publicId: pid("order"),
    accountId,
    caId,
    status: "pending",
    identifiers: [
      { type: "dns", value: "www.genfic.internal" },
      { type: "ip", value: "10.0.0.1" },
    ],
    notBefore: null,
    notAfter: NOW + 90 * DAY,
    expiresAt: NOW + DAY,
    error: null,
    requestId: null,
    certId: null,
    createdAt: NOW,
    ...over,
  };
}

function authzDraft(
  accountId: number,
  orderId: number,
  over: Partial<AuthzRecord> = {},
): Omit<AuthzRecord, "id"> {
  return {
    publicId: pid("authz"),
    accountId,
    orderId,
    identifier: { type: "dns", value: "genfic.internal" },
    wildcard: true,
    status: "pending",
    expiresAt: NOW + DAY,
    ...over,
  };
}

function challengeDraft(authzId: number, over: Partial<ChallengeRecord> = {}): Omit<ChallengeRecord, "id"> {
  return {
    publicId: pid("chall"),
    authzId,
    type: "http-01",
    token: pid("token"),
    status: "pending",
    startedAt: null,
    validatedAt: null,
    error: null,
    ...over,
  };
}

function settings(caName: string, over: Partial<AcmeSettings> = {}): AcmeSettings {
  return {
    caName,
    enabled: true,
    allow: ["*.genfic.internal", "10.0.0.0/8"],
    maxDays: 90,
    eabRequired: false,
    manualApproval: false,
    profile: "system",
    updatedAt: NOW,
    updatedBy: "cli:test",
    ...over,
  };
}

const isDuplicate = (e: unknown) => {
  assert.ok(isSigilError(e, ErrorCodes.STORE), String(e));
  assert.equal(e.details.duplicate, true);
  return true;
};

/** Registers the ACME store contract tests under `describe(name)`. */
export function runAcmeStoreContract(
  name: string,
  open: () => Promise<Store>,
  options: AcmeStoreContractOptions = {},
): void {
  const withAcme = async (f: (a: AcmeStore, s: Store, ca: CaRecord, other: CaRecord) => Promise<void>) => {
    const s = await open();
    try {
      const ca = await s.transaction((tx) => tx.insertCa(caDraft("genfic-system")));
      const other = await s.transaction((tx) => tx.insertCa(caDraft("genfic-user")));
      await f(s.acme, s, ca, other);
    } finally {
      await s.close();
    }
  };

  describe(`acme store contract: ${name}`, () => {
    it("settings: put, replace, get by CA name, list; unknown CA: undefined", () =>
      withAcme(async (a, _s, ca, other) => {
        assert.equal(await a.getSettings("genfic-system"), undefined);
        await a.transaction((tx) => tx.putSettings(settings("genfic-system"), ca.id));
        assert.deepEqual(await a.getSettings("genfic-system"), settings("genfic-system"));
        const changed = settings("genfic-system", {
          enabled: false,
          allow: ["host.genfic.internal"],
          maxDays: null,
          eabRequired: true,
          manualApproval: true,
          profile: "server",
          updatedAt: NOW + 5,
          updatedBy: "cli:other",
        });
        await a.transaction((tx) => tx.putSettings(changed, ca.id));
        assert.deepEqual(await a.getSettings("genfic-system"), changed);
        await a.transaction((tx) => tx.putSettings(settings("genfic-user"), other.id));
        assert.deepEqual(
          (await a.listSettings()).map((x) => [x.caName, x.enabled]),
          [
            ["genfic-system", false],
            ["genfic-user", true],
          ],
        );
        assert.equal(await a.getSettings("nope"), undefined);
      }));

    it("effectiveSettings: the store's row wins, else the config's, else none", () =>
      withAcme(async (a, _s, ca) => {
        const config = configSchema.parse({
          acme: {
            cas: {
              "genfic-system": { allow: ["*.lab.internal"], maxDays: 30, eab: true },
              "genfic-user": { allow: ["10.1.0.0/16"] },
            },
          },
        });
        assert.deepEqual(await effectiveSettings(a, config, "genfic-user"), {
          caName: "genfic-user",
          enabled: true,
          allow: ["10.1.0.0/16"],
          maxDays: null,
          eabRequired: false,
          manualApproval: false,
          profile: "system",
          updatedAt: 0,
          updatedBy: "config",
        });
        assert.equal((await effectiveSettings(a, config, "genfic-system"))?.updatedBy, "config");
        assert.equal((await effectiveSettings(a, config, "genfic-system"))?.maxDays, 30);
        // A disabled row in the store overrides the config (`sigil acme disable`).
        const off = settings("genfic-system", { enabled: false });
        await a.transaction((tx) => tx.putSettings(off, ca.id));
        assert.deepEqual(await effectiveSettings(a, config, "genfic-system"), off);
        assert.equal(await effectiveSettings(a, config, "genfic-other"), undefined);
      }));

    it("accounts: insert, read by public id and thumbprint (per CA), update", () =>
      withAcme(async (a, _s, ca, other) => {
        const draft = accountDraft(ca.id, { eabKid: "kid-1" });
        const acct = await a.transaction((tx) => tx.insertAccount(draft));
        assert.ok(acct.id > 0);
        assert.deepEqual(acct, { id: acct.id, ...draft });
        assert.deepEqual(await a.getAccountByPublicId(ca.id, draft.publicId), acct);
        assert.deepEqual(await a.getAccountByThumbprint(ca.id, draft.thumbprint), acct);
        assert.equal(await a.getAccountByPublicId(other.id, draft.publicId), undefined);
        assert.equal(await a.getAccountByThumbprint(other.id, draft.thumbprint), undefined);
        assert.equal(await a.getAccountByPublicId(ca.id, "missing"), undefined);

        await a.transaction((tx) => tx.updateAccount(acct.id, { contact: [] }));
        assert.deepEqual((await a.getAccountByPublicId(ca.id, draft.publicId))?.contact, []);
        await a.transaction((tx) =>
          tx.updateAccount(acct.id, { status: "deactivated", jwk: '{"kty":"OKP"}', thumbprint: "new-tp" }),
        );
        const after = await a.getAccountByPublicId(ca.id, draft.publicId);
        assert.equal(after?.status, "deactivated");
        assert.equal(after?.jwk, '{"kty":"OKP"}');
        assert.equal((await a.getAccountByThumbprint(ca.id, "new-tp"))?.id, acct.id);
        assert.equal(await a.getAccountByThumbprint(ca.id, draft.thumbprint), undefined);
        await a.transaction((tx) => tx.updateAccount(acct.id, {})); // nothing to change
      }));

    it("accounts: a thumbprint is unique per CA, a public id everywhere; the failed transaction leaves nothing", () =>
      withAcme(async (a, _s, ca, other) => {
        const first = await a.transaction((tx) =>
          tx.insertAccount(accountDraft(ca.id, { thumbprint: "tp" })),
        );
        const dup = accountDraft(ca.id, { thumbprint: "tp" });
        await assert.rejects(
          a.transaction(async (tx) => {
            await tx.useNonce("n-before-dup", NOW + DAY);
            await tx.insertAccount(dup);
          }),
          isDuplicate,
        );
        assert.equal(await a.getAccountByPublicId(ca.id, dup.publicId), undefined);
        // The nonce written before the failure was rolled back with it.
        assert.equal(await a.transaction((tx) => tx.useNonce("n-before-dup", NOW + DAY)), true);
        // The same key on another CA is another account.
        const elsewhere = await a.transaction((tx) =>
          tx.insertAccount(accountDraft(other.id, { thumbprint: "tp" })),
        );
        assert.notEqual(elsewhere.id, first.id);
        await assert.rejects(
          a.transaction((tx) => tx.insertAccount(accountDraft(other.id, { publicId: first.publicId }))),
          isDuplicate,
        );
        // Changing a key to one another account holds is refused as well (RFC 8555 §7.3.5).
        const second = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
        await assert.rejects(
          a.transaction((tx) => tx.updateAccount(second.id, { thumbprint: "tp" })),
          isDuplicate,
        );
      }));

    it("orders: insert, read by public id (per CA), newest first, update, by certificate and request", () =>
      withAcme(async (a, s, ca, other) => {
        const acct = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
        const o1 = await a.transaction((tx) => tx.insertOrder(orderDraft(ca.id, acct.id)));
        const o2 = await a.transaction((tx) =>
          tx.insertOrder(orderDraft(ca.id, acct.id, { notBefore: NOW, error: { type: "t", detail: "d" } })),
        );
        const o3 = await a.transaction((tx) => tx.insertOrder(orderDraft(ca.id, acct.id)));
        assert.deepEqual(await a.getOrderByPublicId(ca.id, o2.publicId), o2);
        assert.equal(await a.getOrderByPublicId(other.id, o2.publicId), undefined);
        assert.deepEqual(
          (await a.listOrders(acct.id, 10)).map((o) => o.id),
          [o3.id, o2.id, o1.id],
        );
        assert.deepEqual(
          (await a.listOrders(acct.id, 2)).map((o) => o.id),
          [o3.id, o2.id],
        );
        // The order rate limit's count: orders made at or after a time, this account's only.
        await a.transaction((tx) => tx.insertOrder(orderDraft(ca.id, acct.id, { createdAt: NOW + 10 })));
        assert.equal(await a.countOrdersSince(acct.id, NOW + 10), 1);
        assert.equal(await a.countOrdersSince(acct.id, NOW + 11), 0);
        assert.ok((await a.countOrdersSince(acct.id, 0)) >= 4);
        assert.equal(await a.countOrdersSince(acct.id + 1000, 0), 0);

        const req = await s.transaction((tx) => tx.insertRequest(requestDraft({ channel: "acme" })));
        const cert = await s.transaction((tx) => tx.insertCert(certDraft(ca.id, "ac1")));
        assert.equal(await a.orderOfRequest(req.id), undefined);
        assert.equal(await a.orderOfCert(cert.id), undefined);
        const problem = { type: "urn:ietf:params:acme:error:badCSR", detail: "no", status: 400 };
        await a.transaction((tx) =>
          tx.updateOrder(o1.id, { status: "processing", requestId: req.id, error: problem }),
        );
        assert.deepEqual(await a.orderOfRequest(req.id), {
          ...o1,
          status: "processing",
          requestId: req.id,
          error: problem,
        });
        await a.transaction((tx) => tx.updateOrder(o1.id, { status: "valid", certId: cert.id, error: null }));
        assert.deepEqual(await a.orderOfCert(cert.id), {
          ...o1,
          status: "valid",
          requestId: req.id,
          certId: cert.id,
          error: null,
        });
        assert.deepEqual(
          await a.transaction((tx) => tx.getOrderForUpdate(o1.id)),
          await a.getOrderByPublicId(ca.id, o1.publicId),
        );
        assert.equal(await a.transaction((tx) => tx.getOrderForUpdate(999_999)), undefined);
      }));

    it("authorizations and challenges: insert, read (per CA), list, update", () =>
      withAcme(async (a, _s, ca, other) => {
        const acct = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
        const order = await a.transaction((tx) => tx.insertOrder(orderDraft(ca.id, acct.id)));
        const [z1, z2] = await a.transaction(async (tx) => [
          await tx.insertAuthz(authzDraft(acct.id, order.id)),
          await tx.insertAuthz(
            authzDraft(acct.id, order.id, { identifier: { type: "ip", value: "10.0.0.1" }, wildcard: false }),
          ),
        ]);
        assert.deepEqual(await a.getAuthzByPublicId(ca.id, z1!.publicId), z1);
        assert.equal(await a.getAuthzByPublicId(other.id, z1!.publicId), undefined);
        assert.deepEqual(await a.authzsOfOrder(order.id), [z1, z2]);
        await a.transaction((tx) => tx.updateAuthz(z1!.id, { status: "valid" }));
        assert.equal((await a.getAuthzByPublicId(ca.id, z1!.publicId))?.status, "valid");
        await a.transaction((tx) => tx.updateAuthz(z1!.id, {}));

        const [c1, c2] = await a.transaction(async (tx) => [
          await tx.insertChallenge(challengeDraft(z2!.id)),
          await tx.insertChallenge(challengeDraft(z2!.id, { type: "tls-alpn-01" })),
        ]);
        assert.deepEqual(await a.getChallengeByPublicId(ca.id, c2!.publicId), c2);
        assert.equal(await a.getChallengeByPublicId(other.id, c2!.publicId), undefined);
        assert.deepEqual(await a.challengesOfAuthz(z2!.id), [c1, c2]);
        assert.deepEqual(await a.challengesOfAuthz(z1!.id), []);
        const err = { type: "urn:ietf:params:acme:error:connection", detail: "refused" };
        await a.transaction((tx) => tx.updateChallenge(c1!.id, { status: "invalid", error: err }));
        await a.transaction((tx) => tx.updateChallenge(c2!.id, { status: "processing", startedAt: NOW + 5 }));
        assert.equal((await a.getChallengeByPublicId(ca.id, c2!.publicId))?.startedAt, NOW + 5);
        await a.transaction((tx) => tx.updateChallenge(c2!.id, { status: "valid", validatedAt: NOW + 7 }));
        assert.deepEqual(await a.transaction((tx) => tx.getChallengeForUpdate(c1!.id)), {
          ...c1,
          status: "invalid",
          error: err,
        });
        assert.deepEqual(await a.getChallengeByPublicId(ca.id, c2!.publicId), {
          ...c2,
          status: "valid",
          startedAt: NOW + 5,
          validatedAt: NOW + 7,
        });
        assert.equal(await a.transaction((tx) => tx.getChallengeForUpdate(999_999)), undefined);
      }));

    it("EAB keys: stored with the secret, listed per CA, bound to one account only", () =>
      withAcme(async (a, _s, ca, other) => {
        const key = {
          kid: "kid-a",
          caId: ca.id,
          hmacKey: Buffer.from("0123456789abcdef0123456789abcdef"),
          createdAt: NOW,
          createdBy: "cli:test",
          accountId: null,
        };
        await a.transaction(async (tx) => {
          await tx.insertEabKey(key);
          await tx.insertEabKey({ ...key, kid: "kid-b", createdAt: NOW + 1 });
          await tx.insertEabKey({ ...key, kid: "kid-c", caId: other.id });
        });
        assert.deepEqual(await a.getEabKey("kid-a"), key);
        assert.equal(await a.getEabKey("kid-x"), undefined);
        assert.deepEqual(
          (await a.listEabKeys(ca.id)).map((k) => k.kid),
          ["kid-a", "kid-b"],
        );
        await assert.rejects(
          a.transaction((tx) => tx.insertEabKey(key)),
          isDuplicate,
        );
        const a1 = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
        const a2 = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
        assert.equal(await a.transaction((tx) => tx.bindEabKey("kid-a", a1.id)), true);
        assert.equal(await a.transaction((tx) => tx.bindEabKey("kid-a", a2.id)), false);
        assert.equal(await a.transaction((tx) => tx.bindEabKey("kid-a", a1.id)), false);
        assert.equal(await a.transaction((tx) => tx.bindEabKey("kid-x", a2.id)), false);
        assert.equal((await a.getEabKey("kid-a"))?.accountId, a1.id);
        // A bind rolled back leaves the key free.
        await assert.rejects(
          a.transaction(async (tx) => {
            assert.equal(await tx.bindEabKey("kid-b", a2.id), true);
            throw new Error("abandon");
          }),
          /abandon/,
        );
        assert.equal((await a.getEabKey("kid-b"))?.accountId, null);
      }));

    it("nonces: good once (a replay is false, also within one transaction, which goes on); pruned when expired", () =>
      withAcme(async (a) => {
        assert.equal(await a.transaction((tx) => tx.useNonce("n1", NOW + 10)), true);
        assert.equal(await a.transaction((tx) => tx.useNonce("n1", NOW + 10)), false);
        // On PostgreSQL a failed statement would abort the transaction: the replay must not.
        const r = await a.transaction(async (tx) => {
          const first = await tx.useNonce("n2", NOW + 20);
          const again = await tx.useNonce("n2", NOW + 20);
          const third = await tx.useNonce("n3", NOW + 30);
          return [first, again, third];
        });
        assert.deepEqual(r, [true, false, true]);
        assert.equal(await a.transaction((tx) => tx.useNonce("n3", NOW + 30)), false);
        assert.equal(await a.transaction((tx) => tx.pruneNonces(NOW + 10)), 0); // expires_at < now only
        assert.equal(await a.transaction((tx) => tx.pruneNonces(NOW + 21)), 2);
        assert.equal(await a.transaction((tx) => tx.useNonce("n1", NOW + 10)), true); // pruned: recorded anew
        assert.equal(await a.transaction((tx) => tx.useNonce("n3", NOW + 30)), false); // still kept
        assert.equal(await a.transaction((tx) => tx.pruneNonces(NOW + 1000)), 2);
      }));

    it("transactions: everything rolls back on throw, together with the store's own writes", () =>
      withAcme(async (a, s, ca) => {
        const draft = accountDraft(ca.id);
        await assert.rejects(
          a.transaction(async (tx) => {
            const acct = await tx.insertAccount(draft);
            await tx.insertOrder(orderDraft(ca.id, acct.id));
            await tx.useNonce("rolled-back", NOW + DAY);
            await tx.putSettings(settings("genfic-system"), ca.id);
            throw new Error("boom");
          }),
          /boom/,
        );
        assert.equal(await a.getAccountByPublicId(ca.id, draft.publicId), undefined);
        assert.equal(await a.getSettings("genfic-system"), undefined);
        assert.equal(await a.transaction((tx) => tx.useNonce("rolled-back", NOW + DAY)), true);

        // StoreTx.acme joins the store's transaction: the audit event and the ACME row
        // commit or roll back as one.
        const head = await s.auditHead();
        await assert.rejects(
          s.transaction(async (tx) => {
            await tx.appendAudit({ at: NOW, actor: "cli:test", action: "acme.x", target: null, details: {} });
            assert.equal(await tx.acme.useNonce("joined", NOW + DAY), true);
            throw new Error("undo");
          }),
          /undo/,
        );
        assert.deepEqual(await s.auditHead(), head);
        assert.equal(await a.transaction((tx) => tx.useNonce("joined", NOW + DAY)), true);
      }));

    it("reads outside a transaction see committed data only; the transaction sees its own writes", () =>
      withAcme(async (a, _s, ca) => {
        const draft = accountDraft(ca.id);
        await a.transaction(async (tx) => {
          const acct = await tx.insertAccount(draft);
          assert.deepEqual(await tx.getAccountByPublicId(ca.id, draft.publicId), acct);
          assert.equal(await a.getAccountByPublicId(ca.id, draft.publicId), undefined);
        });
        assert.equal((await a.getAccountByPublicId(ca.id, draft.publicId))?.publicId, draft.publicId);
      }));

    if (options.second) {
      const second = options.second;
      it("getOrderForUpdate / getChallengeForUpdate lock the row: another instance waits and sees the change", () =>
        withAcme(async (a, s) => {
          const ca = (await s.getCa("genfic-system"))!;
          const acct = await a.transaction((tx) => tx.insertAccount(accountDraft(ca.id)));
          const order = await a.transaction((tx) => tx.insertOrder(orderDraft(ca.id, acct.id)));
          const authz = await a.transaction((tx) => tx.insertAuthz(authzDraft(acct.id, order.id)));
          const chall = await a.transaction((tx) => tx.insertChallenge(challengeDraft(authz.id)));
          const s2 = await second(s);
          try {
            const b = s2.acme;
            let release!: () => void;
            const held = new Promise<void>((r) => (release = r));
            let locked!: () => void;
            const isLocked = new Promise<void>((r) => (locked = r));
            const first = a.transaction(async (tx) => {
              assert.equal((await tx.getOrderForUpdate(order.id))?.status, "pending");
              assert.equal((await tx.getChallengeForUpdate(chall.id))?.status, "pending");
              locked();
              await held;
              await tx.updateOrder(order.id, { status: "ready" });
              await tx.updateChallenge(chall.id, { status: "valid", validatedAt: NOW });
            });
            await isLocked;
            const other = b.transaction(async (tx) => [
              (await tx.getOrderForUpdate(order.id))?.status,
              (await tx.getChallengeForUpdate(chall.id))?.status,
            ]);
            // Whenever the second instance's read runs, it cannot return before the first commits.
            setTimeout(release, 200);
            await first;
            assert.deepEqual(await other, ["ready", "valid"]);
          } finally {
            await s2.close();
          }
        }));
    }
  });
}
