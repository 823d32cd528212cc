/**
 * The ACME server's records ({@link AcmeStore}), written once over Kysely for both
 * backends: `store.acme` reads committed data; `tx.acme` (and `store.acme.transaction`)
 * works inside one store transaction, so ACME rows commit or roll back with everything else
 * done in it (audit events, requests, ...).
 *
 * Flags are stored as 0/1, lists and problems as JSON text, times as epoch milliseconds in
 * `bigint` columns (see migration 0008).
 */
import { PostgresAdapter, type Kysely, type Selectable } from "kysely";
import { ErrorCodes, SigilError } from "../../errors.js";
import type {
  AcmeChallengesTable,
  AcmeEabKeysTable,
  AcmeOrdersTable,
  AcmeAccountsTable,
  AcmeAuthzsTable,
  AcmeSettingsTable,
  SigilDatabase,
} from "../schema.js";
import type {
  AccountRecord,
  AccountStatus,
  AcmeIdentifier,
  AcmeReads,
  AcmeSettings,
  AcmeStore,
  AcmeTx,
  AuthzRecord,
  AuthzStatus,
  ChallengeRecord,
  ChallengeStatus,
  ChallengeType,
  EabKeyRecord,
  OrderRecord,
  OrderStatus,
  StoredProblem,
} from "../../acme/types.js";

type Db = Kysely<SigilDatabase>;

const num = (v: number | string | bigint): number => Number(v);
const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : Number(v));
const problem = (v: string | null): StoredProblem | null =>
  v === null ? null : (JSON.parse(v) as StoredProblem);

function toSettings(r: Selectable<AcmeSettingsTable> & { ca_name: string }): AcmeSettings {
  return {
    caName: r.ca_name,
    enabled: num(r.enabled) !== 0,
    allow: JSON.parse(r.allow) as string[],
    maxDays: numOrNull(r.max_days),
    eabRequired: num(r.eab_required) !== 0,
    manualApproval: num(r.manual_approval) !== 0,
    profile: r.profile,
    updatedAt: num(r.updated_at),
    updatedBy: r.updated_by,
  };
}

function toAccount(r: Selectable<AcmeAccountsTable>): AccountRecord {
  return {
    id: num(r.id),
    publicId: r.public_id,
    caId: num(r.ca_id),
    thumbprint: r.thumbprint,
    jwk: r.jwk,
    contact: JSON.parse(r.contact) as string[],
    status: r.status as AccountStatus,
    eabKid: r.eab_kid,
    createdAt: num(r.created_at),
  };
}

function toOrder(r: Selectable<AcmeOrdersTable>): OrderRecord {
  return {
    id: num(r.id),
    publicId: r.public_id,
    accountId: num(r.account_id),
    caId: num(r.ca_id),
    status: r.status as OrderStatus,
    identifiers: JSON.parse(r.identifiers) as AcmeIdentifier[],
    notBefore: numOrNull(r.not_before),
    notAfter: numOrNull(r.not_after),
    expiresAt: num(r.expires_at),
    error: problem(r.error),
    requestId: numOrNull(r.request_id),
    certId: numOrNull(r.cert_id),
    createdAt: num(r.created_at),
  };
}

function toAuthz(r: Selectable<AcmeAuthzsTable>): AuthzRecord {
  return {
    id: num(r.id),
    publicId: r.public_id,
    accountId: num(r.account_id),
    orderId: num(r.order_id),
    identifier: { type: r.identifier_type as AcmeIdentifier["type"], value: r.identifier_value },
    wildcard: num(r.wildcard) !== 0,
    status: r.status as AuthzStatus,
    expiresAt: num(r.expires_at),
  };
}

function toChallenge(r: Selectable<AcmeChallengesTable>): ChallengeRecord {
  return {
    id: num(r.id),
    publicId: r.public_id,
    authzId: num(r.authz_id),
    type: r.type as ChallengeType,
    token: r.token,
    status: r.status as ChallengeStatus,
    startedAt: numOrNull(r.started_at),
    validatedAt: numOrNull(r.validated_at),
    error: problem(r.error),
  };
}

function toEab(r: Selectable<AcmeEabKeysTable>): EabKeyRecord {
  return {
    kid: r.kid,
    caId: num(r.ca_id),
    hmacKey: Buffer.from(r.hmac_key),
    createdAt: num(r.created_at),
    createdBy: r.created_by,
    accountId: numOrNull(r.account_id),
  };
}

/** True when `e` is a unique (or primary key) violation, on SQLite or PostgreSQL. */
function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
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

/** True when `db` speaks PostgreSQL (which has row locks); SQLite's BEGIN IMMEDIATE already serializes writers. */
function isPostgres(db: Db): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Reads over one Kysely (the store's reader, or a transaction's connection). */
class Reads implements AcmeReads {
  constructor(protected readonly db: () => Db) {}

  private settingsQuery() {
    return this.db()
      .selectFrom("acme_settings as s")
      .innerJoin("cas", "cas.id", "s.ca_id")
      .selectAll("s")
      .select("cas.name as ca_name");
  }

  async getSettings(caName: string): Promise<AcmeSettings | undefined> {
    const r = await run("read ACME settings", () =>
      this.settingsQuery().where("cas.name", "=", caName).executeTakeFirst(),
    );
    return r === undefined ? undefined : toSettings(r);
  }

  async listSettings(): Promise<AcmeSettings[]> {
    const rows = await run("list ACME settings", () => this.settingsQuery().orderBy("cas.name").execute());
    return rows.map(toSettings);
  }

  async getAccountByPublicId(caId: number, publicId: string): Promise<AccountRecord | undefined> {
    const r = await run("read ACME account", () =>
      this.db()
        .selectFrom("acme_accounts")
        .selectAll()
        .where("ca_id", "=", caId)
        .where("public_id", "=", publicId)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toAccount(r);
  }

  async getAccountByThumbprint(caId: number, thumbprint: string): Promise<AccountRecord | undefined> {
    const r = await run("read ACME account", () =>
      this.db()
        .selectFrom("acme_accounts")
        .selectAll()
        .where("ca_id", "=", caId)
        .where("thumbprint", "=", thumbprint)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toAccount(r);
  }

  async getOrderByPublicId(caId: number, publicId: string): Promise<OrderRecord | undefined> {
    const r = await run("read ACME order", () =>
      this.db()
        .selectFrom("acme_orders")
        .selectAll()
        .where("ca_id", "=", caId)
        .where("public_id", "=", publicId)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toOrder(r);
  }

  async listOrders(accountId: number, limit: number): Promise<OrderRecord[]> {
    const rows = await run("list ACME orders", () =>
      this.db()
        .selectFrom("acme_orders")
        .selectAll()
        .where("account_id", "=", accountId)
        .orderBy("id", "desc")
        .limit(limit)
        .execute(),
    );
    return rows.map(toOrder);
  }

  async countOrdersSince(accountId: number, since: number): Promise<number> {
    const r = await run("count ACME orders", () =>
      this.db()
        .selectFrom("acme_orders")
        .select((eb) => eb.fn.countAll<number | string>().as("n"))
        .where("account_id", "=", accountId)
        .where("created_at", ">=", since)
        .executeTakeFirstOrThrow(),
    );
    return Number(r.n);
  }

  async getAuthzByPublicId(caId: number, publicId: string): Promise<AuthzRecord | undefined> {
    const r = await run("read ACME authorization", () =>
      this.db()
        .selectFrom("acme_authzs as a")
        .innerJoin("acme_orders as o", "o.id", "a.order_id")
        .selectAll("a")
        .where("o.ca_id", "=", caId)
        .where("a.public_id", "=", publicId)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toAuthz(r);
  }

  async getAuthzById(id: number): Promise<AuthzRecord | undefined> {
    const r = await run("read ACME authorization", () =>
      this.db().selectFrom("acme_authzs").selectAll().where("id", "=", id).executeTakeFirst(),
    );
    return r === undefined ? undefined : toAuthz(r);
  }

  async validAuthzs(accountId: number, now: number): Promise<AuthzRecord[]> {
    const rows = await run("list ACME authorizations", () =>
      this.db()
        .selectFrom("acme_authzs")
        .selectAll()
        .where("account_id", "=", accountId)
        .where("status", "=", "valid")
        .where("expires_at", ">", now)
        .orderBy("id")
        .limit(10_000)
        .execute(),
    );
    return rows.map(toAuthz);
  }

  async authzsOfOrder(orderId: number): Promise<AuthzRecord[]> {
    const rows = await run("list ACME authorizations", () =>
      this.db().selectFrom("acme_authzs").selectAll().where("order_id", "=", orderId).orderBy("id").execute(),
    );
    return rows.map(toAuthz);
  }

  async getChallengeByPublicId(caId: number, publicId: string): Promise<ChallengeRecord | undefined> {
    const r = await run("read ACME challenge", () =>
      this.db()
        .selectFrom("acme_challenges as c")
        .innerJoin("acme_authzs as a", "a.id", "c.authz_id")
        .innerJoin("acme_orders as o", "o.id", "a.order_id")
        .selectAll("c")
        .where("o.ca_id", "=", caId)
        .where("c.public_id", "=", publicId)
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toChallenge(r);
  }

  async challengesOfAuthz(authzId: number): Promise<ChallengeRecord[]> {
    const rows = await run("list ACME challenges", () =>
      this.db()
        .selectFrom("acme_challenges")
        .selectAll()
        .where("authz_id", "=", authzId)
        .orderBy("id")
        .execute(),
    );
    return rows.map(toChallenge);
  }

  async orderOfCert(certId: number): Promise<OrderRecord | undefined> {
    const r = await run("read ACME order", () =>
      this.db()
        .selectFrom("acme_orders")
        .selectAll()
        .where("cert_id", "=", certId)
        .orderBy("id", "desc")
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toOrder(r);
  }

  async orderOfRequest(requestId: number): Promise<OrderRecord | undefined> {
    const r = await run("read ACME order", () =>
      this.db()
        .selectFrom("acme_orders")
        .selectAll()
        .where("request_id", "=", requestId)
        .orderBy("id", "desc")
        .executeTakeFirst(),
    );
    return r === undefined ? undefined : toOrder(r);
  }

  async getEabKey(kid: string): Promise<EabKeyRecord | undefined> {
    const r = await run("read EAB key", () =>
      this.db().selectFrom("acme_eab_keys").selectAll().where("kid", "=", kid).executeTakeFirst(),
    );
    return r === undefined ? undefined : toEab(r);
  }

  async listEabKeys(caId: number): Promise<EabKeyRecord[]> {
    const rows = await run("list EAB keys", () =>
      this.db()
        .selectFrom("acme_eab_keys")
        .selectAll()
        .where("ca_id", "=", caId)
        .orderBy("created_at")
        .orderBy("kid")
        .execute(),
    );
    return rows.map(toEab);
  }
}

/** Reads and writes on one transaction's connection. */
class Tx extends Reads implements AcmeTx {
  async putSettings(s: AcmeSettings, caId: number): Promise<void> {
    const row = {
      ca_id: caId,
      enabled: s.enabled ? 1 : 0,
      allow: JSON.stringify(s.allow),
      max_days: s.maxDays,
      eab_required: s.eabRequired ? 1 : 0,
      manual_approval: s.manualApproval ? 1 : 0,
      profile: s.profile,
      updated_at: s.updatedAt,
      updated_by: s.updatedBy,
    };
    const { ca_id: _id, ...rest } = row;
    await run("store ACME settings", () =>
      this.db()
        .insertInto("acme_settings")
        .values(row)
        .onConflict((oc) => oc.column("ca_id").doUpdateSet(rest))
        .execute(),
    );
  }

  async insertAccount(a: Omit<AccountRecord, "id">): Promise<AccountRecord> {
    const r = await run("store ACME account", () =>
      this.db()
        .insertInto("acme_accounts")
        .values({
          public_id: a.publicId,
          ca_id: a.caId,
          thumbprint: a.thumbprint,
          jwk: a.jwk,
          contact: JSON.stringify(a.contact),
          status: a.status,
          eab_kid: a.eabKid,
          created_at: a.createdAt,
        })
        .returning("id")
        .executeTakeFirstOrThrow(),
    );
    return { id: num(r.id), ...a };
  }

  async updateAccount(
    id: number,
    patch: Partial<Pick<AccountRecord, "contact" | "status" | "jwk" | "thumbprint">>,
  ): Promise<void> {
    const set: Partial<Pick<AcmeAccountsTable, "contact" | "status" | "jwk" | "thumbprint">> = {};
    if (patch.contact !== undefined) set.contact = JSON.stringify(patch.contact);
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.jwk !== undefined) set.jwk = patch.jwk;
    if (patch.thumbprint !== undefined) set.thumbprint = patch.thumbprint;
    if (Object.keys(set).length === 0) return;
    await run("update ACME account", () =>
      this.db().updateTable("acme_accounts").set(set).where("id", "=", id).execute(),
    );
  }

  async insertOrder(o: Omit<OrderRecord, "id">): Promise<OrderRecord> {
    const r = await run("store ACME order", () =>
      this.db()
        .insertInto("acme_orders")
        .values({
          public_id: o.publicId,
          account_id: o.accountId,
          ca_id: o.caId,
          status: o.status,
          identifiers: JSON.stringify(o.identifiers),
          not_before: o.notBefore,
          not_after: o.notAfter,
          expires_at: o.expiresAt,
          error: o.error === null ? null : JSON.stringify(o.error),
          request_id: o.requestId,
          cert_id: o.certId,
          created_at: o.createdAt,
        })
        .returning("id")
        .executeTakeFirstOrThrow(),
    );
    return { id: num(r.id), ...o };
  }

  async updateOrder(
    id: number,
    patch: Partial<Pick<OrderRecord, "status" | "error" | "requestId" | "certId">>,
  ): Promise<void> {
    const set: Partial<Pick<AcmeOrdersTable, "status" | "error" | "request_id" | "cert_id">> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.error !== undefined) set.error = patch.error === null ? null : JSON.stringify(patch.error);
    if (patch.requestId !== undefined) set.request_id = patch.requestId;
    if (patch.certId !== undefined) set.cert_id = patch.certId;
    if (Object.keys(set).length === 0) return;
    await run("update ACME order", () =>
      this.db().updateTable("acme_orders").set(set).where("id", "=", id).execute(),
    );
  }

  async insertAuthz(a: Omit<AuthzRecord, "id">): Promise<AuthzRecord> {
    const r = await run("store ACME authorization", () =>
      this.db()
        .insertInto("acme_authzs")
        .values({
          public_id: a.publicId,
          account_id: a.accountId,
          order_id: a.orderId,
          identifier_type: a.identifier.type,
          identifier_value: a.identifier.value,
          wildcard: a.wildcard ? 1 : 0,
          status: a.status,
          expires_at: a.expiresAt,
        })
        .returning("id")
        .executeTakeFirstOrThrow(),
    );
    return { id: num(r.id), ...a };
  }

  async updateAuthz(id: number, patch: Partial<Pick<AuthzRecord, "status">>): Promise<void> {
    if (patch.status === undefined) return;
    const status = patch.status;
    await run("update ACME authorization", () =>
      this.db().updateTable("acme_authzs").set({ status }).where("id", "=", id).execute(),
    );
  }

  async insertChallenge(c: Omit<ChallengeRecord, "id">): Promise<ChallengeRecord> {
    const r = await run("store ACME challenge", () =>
      this.db()
        .insertInto("acme_challenges")
        .values({
          public_id: c.publicId,
          authz_id: c.authzId,
          type: c.type,
          token: c.token,
          status: c.status,
          started_at: c.startedAt,
          validated_at: c.validatedAt,
          error: c.error === null ? null : JSON.stringify(c.error),
        })
        .returning("id")
        .executeTakeFirstOrThrow(),
    );
    return { id: num(r.id), ...c };
  }

  async updateChallenge(
    id: number,
    patch: Partial<Pick<ChallengeRecord, "status" | "startedAt" | "validatedAt" | "error">>,
  ): Promise<void> {
    const set: Partial<Pick<AcmeChallengesTable, "status" | "started_at" | "validated_at" | "error">> = {};
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
    if (patch.validatedAt !== undefined) set.validated_at = patch.validatedAt;
    if (patch.error !== undefined) set.error = patch.error === null ? null : JSON.stringify(patch.error);
    if (Object.keys(set).length === 0) return;
    await run("update ACME challenge", () =>
      this.db().updateTable("acme_challenges").set(set).where("id", "=", id).execute(),
    );
  }

  async insertEabKey(k: EabKeyRecord): Promise<void> {
    await run("store EAB key", () =>
      this.db()
        .insertInto("acme_eab_keys")
        .values({
          kid: k.kid,
          ca_id: k.caId,
          hmac_key: k.hmacKey,
          created_at: k.createdAt,
          created_by: k.createdBy,
          account_id: k.accountId,
        })
        .execute(),
    );
  }

  async bindEabKey(kid: string, accountId: number): Promise<boolean> {
    // One conditional UPDATE: of two accounts racing for one key, one binds it (RFC 8555 §7.3.4).
    const r = await run("bind EAB key", () =>
      this.db()
        .updateTable("acme_eab_keys")
        .set({ account_id: accountId })
        .where("kid", "=", kid)
        .where("account_id", "is", null)
        .executeTakeFirst(),
    );
    return Number(r.numUpdatedRows) === 1;
  }

  async useNonce(nonce: string, expiresAt: number): Promise<boolean> {
    // RFC 8555 §6.5: a nonce is good once. ON CONFLICT DO NOTHING instead of catching a
    // unique violation, which on PostgreSQL would abort the whole transaction.
    const r = await run("record nonce", () =>
      this.db()
        .insertInto("acme_nonces")
        .values({ nonce, expires_at: expiresAt })
        .onConflict((oc) => oc.column("nonce").doNothing())
        .executeTakeFirst(),
    );
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async pruneNonces(now: number): Promise<number> {
    const r = await run("prune nonces", () =>
      this.db().deleteFrom("acme_nonces").where("expires_at", "<", now).executeTakeFirst(),
    );
    return Number(r.numDeletedRows);
  }

  async getOrderForUpdate(id: number): Promise<OrderRecord | undefined> {
    const db = this.db();
    let q = db.selectFrom("acme_orders").selectAll().where("id", "=", id);
    if (isPostgres(db)) q = q.forUpdate();
    const r = await run("read ACME order", () => q.executeTakeFirst());
    return r === undefined ? undefined : toOrder(r);
  }

  async getChallengeForUpdate(id: number): Promise<ChallengeRecord | undefined> {
    const db = this.db();
    let q = db.selectFrom("acme_challenges").selectAll().where("id", "=", id);
    if (isPostgres(db)) q = q.forUpdate();
    const r = await run("read ACME challenge", () => q.executeTakeFirst());
    return r === undefined ? undefined : toChallenge(r);
  }
}

/** The ACME reads over `db` (committed data), and transactions through `transaction`. */
export function acmeRecords(
  db: () => Db,
  transaction: <T>(fn: (tx: AcmeTx & AcmeReads) => Promise<T>) => Promise<T>,
): AcmeStore {
  return Object.assign(new Reads(db), { transaction });
}

/** The ACME reads and writes on a transaction's connection. */
export function acmeTxRecords(db: () => Db): AcmeTx & AcmeReads {
  return new Tx(db);
}
