/**
 * Admin API tokens: created and revoked by a security admin, each with a name, a role and
 * an expiry. A token reads `sigil_<id>_<secret>`: the id (64 random bits, hex) finds the
 * row, the secret (256 random bits, base64url) is never stored. The token is shown once,
 * at creation.
 *
 * The row holds HMAC-SHA256 under the token key (keys/token-key.ts: a file of the Sigil
 * home, not in the database) over the secret and the row's grant: id, name, role and
 * expiry. So the database alone cannot make a token: a row inserted by someone who can
 * write the database (a "database insider", DESIGN.md trust model) does not verify, and
 * neither does a real row whose role, name or expiry was edited. Rows from before token
 * keys (a plain SHA-256, scheme `sha256`) are refused with a hint to re-create the token.
 * Comparisons are constant-time.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import type { AdminRole, AdminTokenRecord, Store } from "../store/types.js";
import { isAdminRole, ADMIN_ROLES } from "../policy/roles.js";
import { iso } from "./views.js";

const TOKEN_RE = /^sigil_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** The longest a token may live: about 2 years. */
export const MAX_TOKEN_MS = 731 * 86_400_000;

/** Parses `90d`, `12h`, `30m`, `45s` (whole numbers) into milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(s.trim());
  if (!m)
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad duration ${JSON.stringify(s)}: give e.g. 90d, 12h, 30m or 45s`,
    );
  const ms =
    Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  if (ms < 1000 || ms > MAX_TOKEN_MS)
    throw new SigilError(ErrorCodes.USAGE, `bad duration ${s}: between 1s and 731d`);
  return ms;
}

/** The version of Sigil that first keyed token hashes (for the re-create hint). */
export const TOKEN_KEY_SINCE = "0.2";

/** The plain SHA-256 rows made before token keys hold (recognised only to give the hint). */
function legacyHash(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/**
 * HMAC-SHA256 under `key` over the secret and the row's grant, as one JSON array (an
 * unambiguous encoding of the fields, whatever a row holds).
 */
function tokenMac(
  key: Buffer,
  secret: string,
  t: Pick<AdminTokenRecord, "id" | "name" | "role" | "expiresAt">,
): Buffer {
  return createHmac("sha256", key)
    .update(JSON.stringify(["sigil-admin-token/1", secret, t.id, t.name, t.role, t.expiresAt]), "utf8")
    .digest();
}

/** Constant-time equality of a computed 32-byte hash and a stored one of any length. */
function sameHash(computed: Buffer, stored: Buffer): boolean {
  const ok = stored.length === computed.length;
  return timingSafeEqual(computed, ok ? stored : computed.map((b) => b ^ 0xff)) && ok;
}

/** What {@link createToken} needs. */
export interface TokenDeps {
  store: Store;
  clock: () => number;
  random: (n: number) => Buffer;
  /** The token key (keys/token-key.ts). */
  key: Buffer;
}

/**
 * Creates a token, records it (hashed) with an audit event `token.create` by `createdBy`,
 * and returns the token text (to be shown once) with its record. A name held by a live
 * token (not revoked, not expired) is refused (TOKEN_NAME_TAKEN, audited as
 * `token.create.refused`): names are how people read the audit log.
 */
export async function createToken(
  deps: TokenDeps,
  opts: { name: string; role: string; ttlMs: number; createdBy: string },
): Promise<{ token: string; record: AdminTokenRecord }> {
  if (!NAME_RE.test(opts.name))
    throw new SigilError(
      ErrorCodes.USAGE,
      `bad token name ${JSON.stringify(opts.name)}: use 1-64 letters, digits, '.', '_', '@' or '-'`,
    );
  if (!isAdminRole(opts.role))
    throw new SigilError(ErrorCodes.USAGE, `unknown role "${opts.role}" (known: ${ADMIN_ROLES.join(", ")})`);
  if (!(opts.ttlMs >= 1000 && opts.ttlMs <= MAX_TOKEN_MS))
    throw new SigilError(ErrorCodes.USAGE, "a token lives between 1 second and 731 days");
  const id = deps.random(8).toString("hex");
  const secret = deps.random(32).toString("base64url");
  const now = deps.clock();
  const grant = { id, name: opts.name, role: opts.role, expiresAt: now + opts.ttlMs };
  const record: AdminTokenRecord = {
    ...grant,
    secretHash: tokenMac(deps.key, secret, grant),
    scheme: "hmac-sha256",
    createdAt: now,
    createdBy: opts.createdBy,
    revokedAt: null,
  };
  const holder = await deps.store.transaction(async (tx) => {
    const taken = await tx.insertAdminToken(record);
    if (taken) return taken;
    await tx.appendAudit({
      at: now,
      actor: opts.createdBy,
      action: "token.create",
      target: `token:${id}`,
      details: { name: record.name, role: record.role, expires: new Date(record.expiresAt).toISOString() },
    });
    return undefined;
  });
  if (holder) {
    // Two live tokens of one name would be one name in the audit log for two holders.
    const err = new SigilError(
      ErrorCodes.TOKEN_NAME_TAKEN,
      `a live token is already named ${opts.name} (${holder.id}, ${holder.role}, until ${new Date(holder.expiresAt).toISOString()}): revoke it first ('sigil admin token revoke ${holder.id}') or pick another name`,
    );
    await deps.store
      .transaction((tx) =>
        tx.appendAudit({
          at: now,
          actor: opts.createdBy,
          action: "token.create.refused",
          target: `token:${holder.id}`,
          details: { name: opts.name, role: opts.role, code: err.code, reason: err.message },
        }),
      )
      .catch(() => undefined); // the refusal stands even when it cannot be recorded
    throw err;
  }
  return { token: `sigil_${id}_${secret}`, record };
}

/**
 * Revokes a token by id or by name (the live token of that name; else the one unrevoked
 * expired token of that name).
 */
export async function revokeToken(
  deps: Omit<TokenDeps, "key">,
  which: string,
  by: string,
): Promise<AdminTokenRecord> {
  const now = deps.clock();
  const all = await deps.store.listAdminTokens();
  const byId = all.find((t) => t.id === which);
  // By name: the live token of that name (at most one), else an expired unrevoked one.
  const unrevoked = all.filter((t) => t.name === which && t.revokedAt === null);
  const current = unrevoked.filter((t) => t.expiresAt > now);
  const live = current.length > 0 ? current : unrevoked;
  const t = byId ?? (live.length === 1 ? live[0] : undefined);
  if (!t) {
    if (live.length > 1)
      throw new SigilError(
        ErrorCodes.USAGE,
        `several live tokens are named ${which}: give the id (${live.map((x) => x.id).join(", ")})`,
      );
    // Only revoked tokens bear the name: say so (the latest), rather than "no token".
    const last = all
      .filter((x) => x.name === which && x.revokedAt !== null)
      .sort((a, b) => b.revokedAt! - a.revokedAt!)[0];
    if (last) throw alreadyRevoked(JSON.stringify(which), last);
    throw new SigilError(
      ErrorCodes.NOT_FOUND,
      `no token ${JSON.stringify(which)} (see 'sigil admin token list')`,
    );
  }
  if (t.revokedAt !== null) throw alreadyRevoked(`${t.id} (${t.name})`, t);
  const done = await deps.store.transaction(async (tx) => {
    const ok = await tx.revokeAdminToken(t.id, now);
    if (ok)
      await tx.appendAudit({
        at: now,
        actor: by,
        action: "token.revoke",
        target: `token:${t.id}`,
        details: { name: t.name, role: t.role },
      });
    return ok;
  });
  if (!done) {
    // Revoked by someone else in the meantime.
    const current = (await deps.store.listAdminTokens()).find((x) => x.id === t.id);
    throw alreadyRevoked(`${t.id} (${t.name})`, current ?? t);
  }
  return { ...t, revokedAt: now };
}

/** `token WHICH is already revoked (since ...)`: a user error (exit 1, HTTP 409). */
function alreadyRevoked(which: string, t: AdminTokenRecord): SigilError {
  const since = t.revokedAt === null ? "" : ` (since ${iso(t.revokedAt)})`;
  return new SigilError(ErrorCodes.ALREADY_REVOKED, `token ${which} is already revoked${since}`);
}

/**
 * Why a presented token was not accepted (for the audit log; the client only sees 401).
 * `legacy`: the secret matches a row from before token keys, which must be re-created.
 */
export type TokenRefusal =
  "missing" | "malformed" | "unknown" | "mismatch" | "legacy" | "revoked" | "expired";

/** The identity behind a valid token, as the audit log names it. */
export interface Caller {
  tokenId: string;
  name: string;
  role: AdminRole;
  /**
   * `token:<name>#<id>(<role>)`: the audit actor. The id tells apart tokens that bore the
   * same name at different times (a revoked `olga` and today's).
   */
  actor: string;
}

/**
 * Checks a presented token: well-formed, known, its row verifying under the token `key`
 * (secret and grant, in constant time), not revoked and not expired at `now`.
 */
export async function authenticate(
  deps: { store: Store; key: Buffer },
  presented: string | undefined,
  now: number,
): Promise<{ caller: Caller } | { refused: TokenRefusal; tokenId?: string }> {
  if (!presented) return { refused: "missing" };
  const m = TOKEN_RE.exec(presented.trim());
  if (!m) return { refused: "malformed" };
  const [, id, secret] = m as unknown as [string, string, string];
  const rec = await deps.store.getAdminToken(id);
  // Both hashes and compares even for an unknown id, so timing does not tell ids apart.
  const row = rec ?? { id, name: "", role: "operator", expiresAt: 0, secretHash: Buffer.alloc(32) };
  const keyed = sameHash(tokenMac(deps.key, secret, row), row.secretHash);
  const legacy = sameHash(legacyHash(secret), row.secretHash);
  if (!rec) return { refused: "unknown", tokenId: id };
  if (rec.scheme !== "hmac-sha256") return { refused: legacy ? "legacy" : "mismatch", tokenId: id };
  if (!keyed || !isAdminRole(rec.role)) return { refused: "mismatch", tokenId: id };
  if (rec.revokedAt !== null) return { refused: "revoked", tokenId: id };
  if (now >= rec.expiresAt) return { refused: "expired", tokenId: id };
  return { caller: { tokenId: id, name: rec.name, role: rec.role, actor: tokenActor(rec) } };
}

/** The audit actor of a token: `token:<name>#<id>(<role>)`. */
export function tokenActor(t: Pick<AdminTokenRecord, "id" | "name" | "role">): string {
  return `token:${t.name}#${t.id}(${t.role})`;
}
