/**
 * The use cases of the daemon's scheduled jobs that write to the store on their own (the
 * daemon, daemon/jobs.ts, decides when they run; these decide what a run does, and open
 * the store transactions for it).
 */
import type { Config } from "../config/schema.js";
import type { Store } from "../store/types.js";

/** The job mark of the daily expiry notices: the UTC day (YYYY-MM-DD) of the last run. */
const NOTICES_MARK = "notify.run";

/**
 * The daily expiry notices, once per UTC day from `config.notify.hourUtc` on: queues them
 * (authority/notices.ts queueNotices) and marks the day done. Before the hour, or when the
 * day is marked already: nothing (`{}`).
 */
export async function runDailyNotices(
  store: Store,
  config: Config,
  now: number,
  actor: string,
): Promise<{ notices?: number; summary?: number }> {
  const day = new Date(now).toISOString().slice(0, 10);
  if (new Date(now).getUTCHours() < config.notify.hourUtc) return {};
  const mark = await store.getJobMark(NOTICES_MARK);
  if (mark?.value === day) return {};
  const { queueNotices } = await import("./notices.js");
  const r = await queueNotices(store, config, now, actor);
  await store.transaction((tx) => tx.setJobMark(NOTICES_MARK, day, now));
  return { notices: r.notices, summary: r.summary ? 1 : 0 };
}

/**
 * Deletes the ACME used-nonce records past their nonce's age limit (RFC 8555 §6.5: a nonce
 * is accepted once; records of nonces too old to be accepted anyway are not needed).
 * Returns how many.
 */
export async function pruneAcmeNonces(store: Store, now: number): Promise<number> {
  return store.acme.transaction((tx) => tx.pruneNonces(now));
}
