/**
 * The ACME server's records ({@link AcmeStore}), written once over Kysely for both
 * backends: `store.acme` reads committed data; `tx.acme` (and `store.acme.transaction`)
 * works inside one store transaction, so ACME rows commit or roll back with everything else
 * done in it (audit events, requests, ...). Flags are 0/1, lists and problems JSON text
 * (migration 0008).
 */
import type { Insertable, Updateable } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import type {
  AccountRecord,
  AcmeReads,
  AcmeSettings,
  AcmeStore,
  AcmeTx,
  AuthzRecord,
  ChallengeRecord,
  EabKeyRecord,
  OrderRecord,
} from "../acme-records.js";
import type { SigilDatabase } from "../schema.js";
import { isUniqueViolation, selectWhere, type Ctx, type RowOf, type SelectOptions } from "./context.js";
import { fromRow, toRow, type Codec } from "./rows.js";

type Table = "acme_accounts" | "acme_orders" | "acme_authzs" | "acme_challenges" | "acme_eab_keys";

const SETTINGS: Codec = { json: ["allow"], flags: ["enabled", "eabRequired", "manualApproval"] };
const ACCOUNT: Codec = { json: ["contact"] };
const ORDER: Codec = { json: ["identifiers", "error"] };
const CHALLENGE: Codec = { json: ["error"] };

const toAccount = (r: object) => fromRow<AccountRecord>(r, ACCOUNT);
const toOrder = (r: object) => fromRow<OrderRecord>(r, ORDER);
const toChallenge = (r: object) => fromRow<ChallengeRecord>(r, CHALLENGE);
const toEab = (r: object) => fromRow<EabKeyRecord>(r);
function toSettings(r: object): AcmeSettings {
  const { caId: _caId, ...s } = fromRow<AcmeSettings & { caId: number }>(r, SETTINGS);
  return s;
}
function toAuthz(r: object): AuthzRecord {
  const {
    identifierType: type,
    identifierValue: value,
    ...a
  } = fromRow<Omit<AuthzRecord, "identifier"> & { identifierType: "dns" | "ip"; identifierValue: string }>(
    r,
    { flags: ["wildcard"] },
  );
  return { ...a, identifier: { type, value } };
}

/** Runs one statement, turning database errors into SigilError STORE (a unique violation says so). */
async function run<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof SigilError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new SigilError(ErrorCodes.STORE, `${what}: ${msg}`, {
      kind: "internal",
      details: isUniqueViolation(e) ? { duplicate: true } : {},
      cause: e,
    });
  }
}

/** The rows of `table` whose columns equal `where`, mapped, by id unless `opts` orders otherwise. */
function select<T extends Table, R>(
  c: Ctx,
  what: string,
  table: T,
  where: Partial<RowOf<T>>,
  map: (r: RowOf<T>) => R,
  opts: SelectOptions<T> = {},
): Promise<R[]> {
  const order = (opts.order ?? ["id"]) as SelectOptions<T>["order"];
  return run(what, async () => (await selectWhere(c, table, where, { ...opts, order })).map(map));
}

const first = <T>(rows: Promise<T[]>): Promise<T | undefined> => rows.then((r) => r[0]);

/** Inserts a row; returns its id. */
async function insert<T extends Table>(
  c: Ctx,
  what: string,
  table: T,
  row: Insertable<SigilDatabase[T]>,
): Promise<number> {
  const r = await run(what, () =>
    c.db
      .insertInto(table as "acme_orders")
      .values(row as never)
      .returning("id")
      .executeTakeFirstOrThrow(),
  );
  return Number(r.id);
}

/** Updates the columns of `set` (when any) of row `id`. */
async function update<T extends Table>(
  c: Ctx,
  what: string,
  table: T,
  id: number,
  set: Updateable<SigilDatabase[T]>,
) {
  if (Object.keys(set).length > 0)
    await run(what, () =>
      c.db
        .updateTable(table as "acme_orders")
        .set(set as never)
        .where("id", "=", id)
        .execute(),
    );
}

/** Reads over a context (the store's reader, or a transaction's connection). */
function reads(c: Ctx): AcmeReads {
  const settings = () =>
    c.db
      .selectFrom("acme_settings as s")
      .innerJoin("cas", "cas.id", "s.ca_id")
      .selectAll("s")
      .select("cas.name as ca_name");
  const authzsOf = (where: Partial<RowOf<"acme_authzs">>) =>
    select(c, "list ACME authorizations", "acme_authzs", where, toAuthz);
  return {
    getSettings: (caName) =>
      run("read ACME settings", async () => {
        const r = await settings().where("cas.name", "=", caName).executeTakeFirst();
        return r && toSettings(r);
      }),
    listSettings: () =>
      run("list ACME settings", async () => (await settings().orderBy("cas.name").execute()).map(toSettings)),
    getAccountByPublicId: (caId, publicId) =>
      first(select(c, "read ACME account", "acme_accounts", { ca_id: caId, public_id: publicId }, toAccount)),
    getAccountByThumbprint: (caId, thumbprint) =>
      first(select(c, "read ACME account", "acme_accounts", { ca_id: caId, thumbprint }, toAccount)),
    getOrderByPublicId: (caId, publicId) =>
      first(select(c, "read ACME order", "acme_orders", { ca_id: caId, public_id: publicId }, toOrder)),
    listOrders: (accountId, limit) =>
      select(c, "list ACME orders", "acme_orders", { account_id: accountId }, toOrder, {
        order: ["-id"],
        limit,
      }),
    countOrdersSince: (accountId, since) =>
      run("count ACME orders", async () => {
        const r = await c.db
          .selectFrom("acme_orders")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .where("account_id", "=", accountId)
          .where("created_at", ">=", since)
          .executeTakeFirstOrThrow();
        return Number(r.n);
      }),
    getAuthzByPublicId: (caId, publicId) =>
      run("read ACME authorization", async () => {
        const r = await c.db
          .selectFrom("acme_authzs as a")
          .innerJoin("acme_orders as o", "o.id", "a.order_id")
          .selectAll("a")
          .where("o.ca_id", "=", caId)
          .where("a.public_id", "=", publicId)
          .executeTakeFirst();
        return r && toAuthz(r);
      }),
    getAuthzById: (id) => first(authzsOf({ id })),
    validAuthzs: (accountId, now) =>
      run("list ACME authorizations", async () => {
        const rows = await c.db
          .selectFrom("acme_authzs")
          .selectAll()
          .where("account_id", "=", accountId)
          .where("status", "=", "valid")
          .where("expires_at", ">", now)
          .orderBy("id")
          .limit(10_000)
          .execute();
        return rows.map(toAuthz);
      }),
    authzsOfOrder: (orderId) => authzsOf({ order_id: orderId }),
    getChallengeByPublicId: (caId, publicId) =>
      run("read ACME challenge", async () => {
        const r = await c.db
          .selectFrom("acme_challenges as c")
          .innerJoin("acme_authzs as a", "a.id", "c.authz_id")
          .innerJoin("acme_orders as o", "o.id", "a.order_id")
          .selectAll("c")
          .where("o.ca_id", "=", caId)
          .where("c.public_id", "=", publicId)
          .executeTakeFirst();
        return r && toChallenge(r);
      }),
    challengesOfAuthz: (authzId) =>
      select(c, "list ACME challenges", "acme_challenges", { authz_id: authzId }, toChallenge),
    orderOfCert: (certId) =>
      first(
        select(c, "read ACME order", "acme_orders", { cert_id: certId }, toOrder, {
          order: ["-id"],
          limit: 1,
        }),
      ),
    orderOfRequest: (requestId) =>
      first(
        select(c, "read ACME order", "acme_orders", { request_id: requestId }, toOrder, {
          order: ["-id"],
          limit: 1,
        }),
      ),
    getEabKey: (kid) => first(select(c, "read EAB key", "acme_eab_keys", { kid }, toEab, { order: [] })),
    listEabKeys: (caId) =>
      select(c, "list EAB keys", "acme_eab_keys", { ca_id: caId }, toEab, { order: ["created_at", "kid"] }),
  };
}

/** Reads and writes on one transaction's connection. */
function writes(c: Ctx): AcmeTx {
  return {
    async putSettings(s, caId) {
      const { caName: _name, ...rest } = s;
      const row = toRow(rest);
      await run("store ACME settings", () =>
        c.db
          .insertInto("acme_settings")
          .values({ ca_id: caId, ...row })
          .onConflict((oc) => oc.column("ca_id").doUpdateSet(row))
          .execute(),
      );
    },
    insertAccount: async (a) => ({
      id: await insert(c, "store ACME account", "acme_accounts", toRow(a)),
      ...a,
    }),
    updateAccount: (id, patch) => update(c, "update ACME account", "acme_accounts", id, toRow(patch)),
    insertOrder: async (o) => ({ id: await insert(c, "store ACME order", "acme_orders", toRow(o)), ...o }),
    updateOrder: (id, patch) => update(c, "update ACME order", "acme_orders", id, toRow(patch)),
    async insertAuthz(a) {
      const { identifier, ...rest } = a;
      const row = toRow({ ...rest, identifierType: identifier.type, identifierValue: identifier.value });
      return { id: await insert(c, "store ACME authorization", "acme_authzs", row), ...a };
    },
    updateAuthz: (id, patch) =>
      update(c, "update ACME authorization", "acme_authzs", id, toRow({ status: patch.status })),
    async insertChallenge(ch) {
      return { id: await insert(c, "store ACME challenge", "acme_challenges", toRow(ch)), ...ch };
    },
    updateChallenge: (id, patch) => update(c, "update ACME challenge", "acme_challenges", id, toRow(patch)),
    async insertEabKey(k) {
      await run("store EAB key", () => c.db.insertInto("acme_eab_keys").values(toRow(k)).execute());
    },
    async bindEabKey(kid, accountId) {
      // One conditional UPDATE: of two accounts racing for one key, one binds it (RFC 8555 §7.3.4).
      const r = await run("bind EAB key", () =>
        c.db
          .updateTable("acme_eab_keys")
          .set({ account_id: accountId })
          .where("kid", "=", kid)
          .where("account_id", "is", null)
          .executeTakeFirst(),
      );
      return r.numUpdatedRows === 1n;
    },
    async useNonce(nonce, expiresAt) {
      // RFC 8555 §6.5: a nonce is good once. ON CONFLICT DO NOTHING instead of catching a
      // unique violation, which on PostgreSQL would abort the whole transaction.
      const r = await run("record nonce", () =>
        c.db
          .insertInto("acme_nonces")
          .values({ nonce, expires_at: expiresAt })
          .onConflict((oc) => oc.column("nonce").doNothing())
          .executeTakeFirst(),
      );
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    async pruneNonces(now) {
      const r = await run("prune nonces", () =>
        c.db.deleteFrom("acme_nonces").where("expires_at", "<", now).executeTakeFirst(),
      );
      return Number(r.numDeletedRows);
    },
    getOrderForUpdate: (id) =>
      first(select(c, "read ACME order", "acme_orders", { id }, toOrder, { order: [], lock: true })),
    getChallengeForUpdate: (id) =>
      first(
        select(c, "read ACME challenge", "acme_challenges", { id }, toChallenge, { order: [], lock: true }),
      ),
  };
}

/** The ACME reads over `c` (committed data), and transactions through `transaction`. */
export function acmeRecords(
  c: Ctx,
  transaction: <T>(fn: (tx: AcmeTx & AcmeReads) => Promise<T>) => Promise<T>,
): AcmeStore {
  return { ...reads(c), transaction };
}

/** The ACME reads and writes on a transaction's connection. */
export function acmeTxRecords(c: Ctx): AcmeTx & AcmeReads {
  return { ...reads(c), ...writes(c) };
}
