/**
 * The ACME server's storage: its records live in the store (src/store/kysely/acme.ts), as
 * `store.acme` and `tx.acme`. What is left here is the ACME settings in effect.
 */
import type { Config } from "../config/schema.js";
import type { Store, StoreTx } from "../store/types.js";
import type { AcmeReads, AcmeSettings, AcmeStore, AcmeTx } from "./types.js";

/** The ACME storage over `store` (reads of committed data, and transactions). */
export function acmeStore(store: Store): AcmeStore {
  return store.acme;
}

/** The ACME writes and reads inside an open store transaction. */
export function acmeTx(tx: StoreTx): AcmeTx & AcmeReads {
  return tx.acme;
}

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
