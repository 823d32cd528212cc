/**
 * What every query of the store needs: a Kysely (on the reader, the pool, or a
 * transaction's connection) and the few facts of its dialect. The queries of each
 * aggregate (cas.ts, certs.ts, ...) are written once over this, for SQLite and PostgreSQL.
 */
import type { CompiledQuery, Kysely, Selectable } from "kysely";
import { ErrorCodes, SigilError, type ErrorCode } from "../../errors.js";
import type { SigilDatabase } from "../schema.js";

export type Db = Kysely<SigilDatabase>;

/** What differs between the backends, as the shared queries see it. */
export interface Dialect {
  readonly kind: "sqlite" | "postgres";
  /** Turns a database error into SigilError STORE; `what` says what was being done. */
  fail(e: unknown, what: string): SigilError;
  /**
   * Serializes a critical section across processes and instances until the transaction
   * ends (PostgreSQL: `pg_advisory_xact_lock`; SQLite: a no-op, BEGIN IMMEDIATE holds the
   * database's write lock already).
   */
  lock(db: Db, key: number): Promise<void>;
  /**
   * Streams a query's rows in batches of about a thousand from one consistent read snapshot
   * (SQLite: its own read-only connection; PostgreSQL: a cursor), never all rows at once.
   * With `arrays`, each row is an array of its values in column order (no object per row).
   */
  stream<R>(what: string, q: CompiledQuery<R>, arrays?: boolean): AsyncIterable<R[]>;
}

/** A Kysely and its dialect. A transaction's context refuses use once the transaction ended. */
export interface Ctx {
  readonly db: Db;
  readonly dialect: Dialect;
}

/** Runs one query, mapping errors through the dialect. */
export async function run<T>(c: Ctx, what: string, f: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await f(c.db);
  } catch (e) {
    throw c.dialect.fail(e, what);
  }
}

/** Runs a query for one row, mapped; undefined when there is none. */
export async function one<R, T>(
  c: Ctx,
  what: string,
  f: (db: Db) => Promise<R | undefined>,
  map: (r: R) => T,
): Promise<T | undefined> {
  const r = await run(c, what, f);
  return r === undefined ? undefined : map(r);
}

/** Runs a query for rows, mapped. */
export async function many<R, T>(c: Ctx, what: string, f: (db: Db) => Promise<R[]>, map: (r: R) => T) {
  return (await run(c, what, f)).map((r) => map(r));
}

/** A row of table `T` as read. */
export type RowOf<T extends keyof SigilDatabase> = Selectable<SigilDatabase[T]>;

/** How {@link selectWhere} orders (`-col`: descending), limits and locks. */
export interface SelectOptions<T extends keyof SigilDatabase> {
  order?: ReadonlyArray<`${"" | "-"}${keyof RowOf<T> & string}`>;
  limit?: number;
  /** PostgreSQL: `FOR UPDATE`; SQLite's BEGIN IMMEDIATE already serializes writers. */
  lock?: boolean;
}

/** The rows of `table` whose columns equal `where` (undefined values: no condition). */
export function selectWhere<T extends keyof SigilDatabase>(
  c: Ctx,
  table: T,
  where: Partial<RowOf<T>>,
  opts: SelectOptions<T> = {},
): Promise<Array<RowOf<T>>> {
  let q = c.db.selectFrom(table as "cas").selectAll();
  for (const [col, v] of Object.entries(where))
    if (v !== undefined) q = q.where(col as "id", "=", v as number);
  for (const o of opts.order ?? [])
    q = q.orderBy(o.replace("-", "") as "id", o.startsWith("-") ? "desc" : "asc");
  if (opts.limit !== undefined) q = q.limit(opts.limit);
  if (opts.lock && c.dialect.kind === "postgres") q = q.forUpdate();
  return q.execute() as Promise<Array<RowOf<T>>>;
}

/** The first row of `table` whose columns equal `where`, mapped; undefined when there is none. */
export const oneWhere = <T extends keyof SigilDatabase, R>(
  c: Ctx,
  what: string,
  table: T,
  where: Partial<RowOf<T>>,
  map: (r: RowOf<T>) => R,
  opts?: SelectOptions<T>,
) => one(c, what, async () => (await selectWhere(c, table, where, opts))[0], map);

/** The rows of `table` whose columns equal `where`, mapped. */
export const manyWhere = <T extends keyof SigilDatabase, R>(
  c: Ctx,
  what: string,
  table: T,
  where: Partial<RowOf<T>>,
  map: (r: RowOf<T>) => R,
  opts?: SelectOptions<T>,
) => many(c, what, () => selectWhere(c, table, where, opts), map);

/** True when `e` is a unique or primary key violation, on SQLite or PostgreSQL. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** Throws `code` "… not found" when an UPDATE touched no row. */
export function mustChange(r: { numUpdatedRows: bigint }, code: ErrorCode, message: string): void {
  if (r.numUpdatedRows === 0n) throw new SigilError(code, message);
}

/** Refuses a transaction handle used after its transaction ended. */
export function ended(): SigilError {
  return new SigilError(ErrorCodes.INTERNAL, "store transaction used after it ended", { kind: "internal" });
}
