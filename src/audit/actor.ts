/**
 * Who is acting, per call: the admin API runs each request "as" its token's identity, so
 * every audit event written while serving it names the caller (not the service).
 */
import { AsyncLocalStorage } from "node:async_hooks";

const current = new AsyncLocalStorage<string>();

/** Runs `fn` with `actor` as the acting identity for audit events written inside it. */
export function actingAs<T>(actor: string, fn: () => T): T {
  return current.run(actor, fn);
}

/** The acting identity set by {@link actingAs}, else `fallback`. */
export function currentActor(fallback: string): string {
  return current.getStore() ?? fallback;
}
