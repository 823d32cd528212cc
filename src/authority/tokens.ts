/**
 * Admin API tokens: created and revoked by a security admin, each with a name, a role and
 * an expiry. A token reads `sigil_<id>_<secret>`: the id (64 random bits, hex) finds the
 * row, the secret (256 random bits, base64url) is stored only as its SHA-256 and compared
 * in constant time. The token is shown once, at creation.
 */
import { createHash, timingSafeEqual } from "node:crypto";
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

function secretHash(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/** What {@link createToken} needs. */
export interface TokenDeps {
  store: Store;
  clock: () => number;
  random: (n: number) => Buffer;
}

/**
 * Creates a token, records it (hashed) with an audit event `token.create` by `createdBy`,
 * and returns the token text (to be shown once) with its record.
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
  const record: AdminTokenRecord = {
    id,
    name: opts.name,
    role: opts.role,
    secretHash: secretHash(secret),
    createdAt: now,
    createdBy: opts.createdBy,
    expiresAt: now + opts.ttlMs,
    revokedAt: null,
  };
  await deps.store.transaction(async (tx) => {
    await tx.insertAdminToken(record);
    await tx.appendAudit({
      at: now,
      actor: opts.createdBy,
      action: "token.create",
      target: `token:${id}`,
      details: { name: record.name, role: record.role, expires: new Date(record.expiresAt).toISOString() },
    });
  });
  return { token: `sigil_${id}_${secret}`, record };
}

/** Revokes a token by id or by name (a name must be unique among live tokens). */
export async function revokeToken(deps: TokenDeps, which: string, by: string): Promise<AdminTokenRecord> {
  const now = deps.clock();
  const all = await deps.store.listAdminTokens();
  const byId = all.find((t) => t.id === which);
  const live = all.filter((t) => t.name === which && t.revokedAt === null);
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

/** Why a presented token was not accepted (for the audit log; the client only sees 401). */
export type TokenRefusal = "missing" | "malformed" | "unknown" | "mismatch" | "revoked" | "expired";

/** The identity behind a valid token, as the audit log names it. */
export interface Caller {
  tokenId: string;
  name: string;
  role: AdminRole;
  /** `token:<name>(<role>)`: the audit actor. */
  actor: string;
}

/**
 * Checks a presented token: well-formed, known, the secret matching in constant time, not
 * revoked and not expired at `now`.
 */
export async function authenticate(
  store: Store,
  presented: string | undefined,
  now: number,
): Promise<{ caller: Caller } | { refused: TokenRefusal; tokenId?: string }> {
  if (!presented) return { refused: "missing" };
  const m = TOKEN_RE.exec(presented.trim());
  if (!m) return { refused: "malformed" };
  const [, id, secret] = m as unknown as [string, string, string];
  const rec = await store.getAdminToken(id);
  // Hash and compare even for an unknown id, so timing does not tell ids apart.
  const expected = rec?.secretHash ?? Buffer.alloc(32);
  const same = timingSafeEqual(secretHash(secret), expected);
  if (!rec) return { refused: "unknown", tokenId: id };
  if (!same) return { refused: "mismatch", tokenId: id };
  if (rec.revokedAt !== null) return { refused: "revoked", tokenId: id };
  if (now >= rec.expiresAt) return { refused: "expired", tokenId: id };
  return { caller: { tokenId: id, name: rec.name, role: rec.role, actor: `token:${rec.name}(${rec.role})` } };
}
