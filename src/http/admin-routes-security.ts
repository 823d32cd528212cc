/**
 * The admin API's security acts: custody (unseal, seal), admin tokens, the policy in force,
 * and each CA's ACME settings and EAB keys. Declared through http/admin.ts's `route` (token,
 * role matrix, `admin.allow` audit); the acts themselves are the authority's use cases.
 */
import { ErrorCodes, SigilError, isSigilError } from "../errors.js";
import { createToken, revokeToken, parseDuration } from "../authority/tokens.js";
import { tokenView, iso } from "../authority/views.js";
import { acmeSettingsActs, settingsView } from "../authority/acme/settings.js";
import { int, str } from "./admin-input.js";
import type { AdminRouteContext, RouteFn } from "./admin.js";

/** Registers the security acts on the admin API. */
export function registerSecurityRoutes(route: RouteFn, ctx: AdminRouteContext): void {
  const { deps, b, p } = ctx;
  const { authority, store } = deps;

  // ---- custody (security) ----------------------------------------------------------
  route("POST", "/api/v1/admin/unseal", "unseal", async (req) => {
    const body = b(req);
    let pass: Buffer;
    let method: string;
    if (Array.isArray(body.shares)) {
      if (!deps.combineShares)
        throw new SigilError(ErrorCodes.USAGE, "this service cannot combine key shares");
      const files = body.shares.map((s: unknown, i: number) => {
        const o = (s ?? {}) as Record<string, unknown>;
        return {
          name: str(o.name, `shares[${i}].name`, { max: 256 })!,
          text: str(o.text, `shares[${i}].text`, { max: 64 * 1024 })!,
        };
      });
      pass = await deps.combineShares(files);
      method = `shares(${files.length})`;
    } else {
      pass = Buffer.from(str(body.passphrase, "passphrase", { max: 4096 })!, "utf8");
      method = "passphrase";
    }
    try {
      if (!authority.sealed) throw new SigilError(ErrorCodes.REQUEST_STATE, "the service is not sealed");
      const r = await authority.unseal(pass, method).catch((e: unknown) => {
        if (method !== "passphrase" && isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
          throw new SigilError(
            ErrorCodes.WRONG_PASSPHRASE,
            "the shares do not reconstruct the keys' passphrase (a share may be forged or from another set); still sealed",
          );
        throw e;
      });
      await deps.onSealChange?.(false);
      return { sealed: false, keys: r.opened };
    } finally {
      pass.fill(0);
    }
  });
  route("POST", "/api/v1/admin/seal", "seal", async () => {
    if (authority.sealed) throw new SigilError(ErrorCodes.REQUEST_STATE, "the service is already sealed");
    await authority.seal(true);
    await deps.onSealChange?.(true);
    return { sealed: true };
  });

  // ---- tokens (security) -----------------------------------------------------------
  route("GET", "/api/v1/admin/tokens", "token.list", async () => ({
    tokens: (await store.listAdminTokens()).map(tokenView),
  }));
  route("POST", "/api/v1/admin/tokens", "token.create", async (req, caller) => {
    const body = b(req);
    const { token, record } = await createToken(
      { store, clock: deps.clock, random: deps.random, key: deps.tokenKey },
      {
        name: str(body.name, "name", { max: 64 })!,
        role: str(body.role, "role", { max: 16 })!,
        ttlMs: parseDuration(str(body.expires, "expires", { optional: true, max: 16 }) ?? "90d"),
        createdBy: caller.actor,
      },
    );
    return { token, id: record.id, name: record.name, role: record.role, expiresAt: iso(record.expiresAt) };
  });
  route("DELETE", "/api/v1/admin/tokens/:id", "token.revoke", async (req, caller) => {
    const t = await revokeToken({ store, clock: deps.clock, random: deps.random }, p(req).id!, caller.actor);
    return { id: t.id, name: t.name, revokedAt: iso(t.revokedAt) };
  });

  route("GET", "/api/v1/admin/policy", "policy.read", async () => ({
    intake: deps.config.intake,
    crl: deps.config.crl,
    ocsp: deps.config.ocsp,
  }));

  // ---- ACME settings and EAB keys (security) -----------------------------------------
  // The use cases of `sigil acme enable|disable|eab` (authority/acme/settings.ts). An EAB
  // HMAC key is in the answer that made it, once: never in a log or an audit event.
  const acmeActs = acmeSettingsActs({
    store,
    config: deps.config,
    authority,
    clock: deps.clock,
    random: deps.random,
  });
  route("POST", "/api/v1/admin/cas/:name/acme", "acme.enable", async (req, caller) => {
    const body = b(req);
    const flag = (v: unknown, what: string) => {
      if (v !== undefined && typeof v !== "boolean")
        throw new SigilError(ErrorCodes.USAGE, `bad ${what}: give true or false`);
      return v === true;
    };
    const maxDays = int(body.maxDays, "maxDays");
    if (maxDays !== undefined && (maxDays < 1 || maxDays > 36525))
      throw new SigilError(ErrorCodes.USAGE, "bad maxDays: give whole days between 1 and 36525");
    const s = await acmeActs.enable(
      p(req).name!,
      {
        allow: body.allow as string[],
        maxDays: maxDays ?? null,
        eab: flag(body.eab, "eab"),
        manualApproval: flag(body.manualApproval, "manualApproval"),
        profile: str(body.profile, "profile", { optional: true, max: 32 }) ?? "system",
      },
      caller.actor,
    );
    return settingsView(s, deps.config);
  });
  route("DELETE", "/api/v1/admin/cas/:name/acme", "acme.disable", async (req, caller) =>
    settingsView(await acmeActs.disable(p(req).name!, caller.actor), deps.config),
  );
  route("POST", "/api/v1/admin/cas/:name/acme/eab", "acme.eab.create", async (req, caller) =>
    acmeActs.createEabKey(p(req).name!, caller.actor),
  );
  route("GET", "/api/v1/admin/cas/:name/acme/eab", "acme.eab.list", async (req) => ({
    keys: await acmeActs.listEabKeys(p(req).name!),
  }));
}
