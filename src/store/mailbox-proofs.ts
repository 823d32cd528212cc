/**
 * Proofs of mailbox control and portal sessions of requests (tables of migration 0010),
 * written once over Kysely for both backends: {@link Store.mailboxProofs} reads committed
 * data, {@link StoreTx.mailboxProofs} writes (and reads what it wrote) inside a store
 * transaction, so they commit with the request's audit events and mails.
 */
import type { Kysely, Selectable } from "kysely";
import { fromRow, toRow } from "./kysely/rows.js";
import type { MailboxProofsTable, SigilDatabase } from "./schema.js";
import type { Store, StoreTx } from "./types.js";

/** How an address was (or is to be) proven. */
export type MailboxProofMethod = "challenge" | "dkim";

/** One proof of control of a mailbox, for one request. */
export interface MailboxProof {
  id: number;
  requestId: number;
  /** The address, lower case. */
  address: string;
  method: MailboxProofMethod;
  /** Lowercase hex SHA-256 of the challenge's secret; null for DKIM. */
  tokenHash: string | null;
  createdAt: number;
  /** When an unanswered challenge stops counting; null for DKIM. */
  expiresAt: number | null;
  /** When it was proven; null while the challenge waits. */
  confirmedAt: number | null;
  /** `mail` (a reply), `web` (the portal link), `dkim`. */
  confirmedVia: string | null;
}

type Db = Kysely<SigilDatabase>;
const toProof = (r: Selectable<MailboxProofsTable>) => fromRow<MailboxProof>(r);

/** Reads (on committed data, or inside a transaction). */
export class MailboxProofReads {
  constructor(protected readonly db: () => Db) {}

  /** The proofs of a request, oldest first. */
  async ofRequest(requestId: number): Promise<MailboxProof[]> {
    const rows = await this.db()
      .selectFrom("mailbox_proofs")
      .selectAll()
      .where("request_id", "=", requestId)
      .orderBy("id")
      .execute();
    return rows.map(toProof);
  }

  /** The challenge whose secret hashes to `tokenHash`, if any. */
  async byTokenHash(tokenHash: string): Promise<MailboxProof | undefined> {
    const r = await this.db()
      .selectFrom("mailbox_proofs")
      .selectAll()
      .where("token_hash", "=", tokenHash)
      .executeTakeFirst();
    return r === undefined ? undefined : toProof(r);
  }

  /** The SHA-256 (hex) of the portal session cookie that submitted a request, if recorded. */
  async sessionHash(requestId: number): Promise<string | undefined> {
    const r = await this.db()
      .selectFrom("request_sessions")
      .select("session_hash")
      .where("request_id", "=", requestId)
      .executeTakeFirst();
    return r?.session_hash;
  }
}

/** Writes inside one store transaction. */
export class MailboxProofTx extends MailboxProofReads {
  /** Records a proof (a challenge sent, or a DKIM verdict); (request, address) must be new. */
  async insert(p: Omit<MailboxProof, "id">): Promise<MailboxProof> {
    const r = await this.db()
      .insertInto("mailbox_proofs")
      .values(toRow(p))
      .returning("id")
      .executeTakeFirstOrThrow();
    return { id: Number(r.id), ...p };
  }

  /**
   * Answers the challenge whose secret hashes to `tokenHash`: marks it confirmed at `now`
   * when it is unanswered and not expired, in one statement (so a secret is used once,
   * whatever runs at the same time); undefined otherwise.
   */
  async confirm(tokenHash: string, now: number, via: string): Promise<MailboxProof | undefined> {
    const r = await this.db()
      .updateTable("mailbox_proofs")
      .set({ confirmed_at: now, confirmed_via: via })
      .where("token_hash", "=", tokenHash)
      .where("method", "=", "challenge")
      .where("confirmed_at", "is", null)
      .where("expires_at", ">", now)
      .returningAll()
      .executeTakeFirst();
    return r === undefined ? undefined : toProof(r);
  }

  /** Records the portal session that submitted a request. */
  async setSession(requestId: number, sessionHash: string): Promise<void> {
    await this.db()
      .insertInto("request_sessions")
      .values({ request_id: requestId, session_hash: sessionHash })
      .execute();
  }
}

/** Mailbox proofs read from committed data. */
export function mailboxProofs(store: Pick<Store, "mailboxProofs">): MailboxProofReads {
  return store.mailboxProofs;
}

/** Mailbox proofs inside an open store transaction. */
export function mailboxProofsTx(tx: StoreTx): MailboxProofTx {
  return tx.mailboxProofs;
}
