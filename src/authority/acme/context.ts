/**
 * What the ACME use cases (authority/acme/*) share: their dependencies, the CA an ACME
 * request is for, and the one way they write: {@link act}, a store transaction in which the
 * ACME rows and the act's audit event commit or roll back together.
 *
 * The store is reached only through its ACME aggregate (`store.acme` reads, `tx.acme`
 * writes) and `Store.transaction`.
 */
import type { Logger } from "pino";
import type { Config } from "../../config/schema.js";
import type { AuditDraft, CaRecord, Store, StoreTx } from "../../store/types.js";
import type { AcmeReads, AcmeSettings, AcmeTx } from "../../store/acme-records.js";
import { ACME_ERROR_NS } from "./problem.js";

/** What every ACME use case needs. */
export interface AcmeUseCaseDeps {
  store: Pick<Store, "getCa" | "getCert" | "getCertById" | "getRequest" | "getJobMark" | "transaction">;
  /** Reads of committed ACME data (`store.acme`). */
  acme: AcmeReads;
  config: Config;
  logger: Logger;
  clock: () => number;
  random: (n: number) => Buffer;
}

/** The ACME-enabled CA a request is for, with its settings in effect. */
export interface AcmeSite {
  ca: CaRecord;
  settings: AcmeSettings;
}

/** An audit event of an act, appended in the act's transaction (`at` is the act's time). */
export type AuditEntry = Omit<AuditDraft, "at"> & { at?: number };

/** Writes inside one transaction: the ACME rows, the store's, and the act's audit events. */
export interface ActTx {
  acme: AcmeTx & AcmeReads;
  store: StoreTx;
  audit(e: AuditEntry): Promise<void>;
}

/** Runs `fn` in one store transaction (one act, its audit events included). */
export function act<T>(
  deps: Pick<AcmeUseCaseDeps, "store" | "clock">,
  fn: (tx: ActTx) => Promise<T>,
): Promise<T> {
  return deps.store.transaction((tx) =>
    fn({
      acme: tx.acme,
      store: tx,
      audit: async (e) => {
        await tx.appendAudit({ ...e, at: e.at ?? deps.clock() });
      },
    }),
  );
}

/** Reads of committed ACME data over `store`. */
export function acmeReads(store: Store): AcmeReads {
  return store.acme;
}

/** The full URN of an RFC 8555 §6.7 error type. */
export const urn = (type: string): string => ACME_ERROR_NS + type;

/** One line, at most 300 characters (problem details). */
export function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim().slice(0, 300);
}

export const b64u = (b: Buffer): string => b.toString("base64url");

/**
 * A CA's ACME settings in effect: the store's row (`sigil acme enable` / `disable`) wins;
 * else the config's `acme.cas[caName]` (enabled, `updatedBy` "config"); else undefined.
 */
export async function effectiveSettings(
  store: AcmeReads,
  config: Config,
  caName: string,
): Promise<AcmeSettings | undefined> {
  const stored = await store.getSettings(caName);
  if (stored !== undefined) return stored;
  const c = config.acme.cas[caName];
  if (c === undefined) return undefined;
  return {
    caName,
    enabled: true,
    allow: [...c.allow],
    maxDays: c.maxDays ?? null,
    eabRequired: c.eab,
    manualApproval: c.manualApproval,
    profile: c.profile,
    updatedAt: 0,
    updatedBy: "config",
  };
}
