/**
 * A CA's ACME settings and EAB keys, acts of the security admin (`sigil acme ...` and the
 * admin API alike): enable (`acme.enable`), disable (`acme.disable`, the settings kept and
 * marked disabled, which wins over the config) and External Account Binding keys
 * (`acme.eab.create`, RFC 8555 §7.3.4), each in one transaction with its audit event.
 *
 * An EAB HMAC key is a secret: it is returned once, to be shown to whoever made it, and
 * appears in no audit event and no log.
 */
import type { Authority } from "../authority.js";
import type { Config } from "../../config/schema.js";
import { randomBytes } from "node:crypto";
import type { CaRecord, Store } from "../../store/types.js";
import type { AcmeSettings } from "../../store/acme-records.js";
import { ErrorCodes, SigilError } from "../../errors.js";
import { parseAllowPattern } from "../../policy/acme-identifiers.js";
import { getProfile } from "../../x509/profiles.js";
import { iso } from "../views.js";
import { act, acmeReads, b64u, effectiveSettings, type AcmeSite, type AcmeUseCaseDeps } from "./context.js";

/** What the settings acts need. */
export interface AcmeSettingsDeps extends Pick<
  AcmeUseCaseDeps,
  "store" | "acme" | "config" | "clock" | "random"
> {
  authority: Pick<Authority, "getCa">;
}

/** What `enable` is told (the CLI's flags, the admin API's body). */
export interface EnableAsk {
  allow: string[];
  maxDays?: number | null;
  eab?: boolean;
  manualApproval?: boolean;
  /** Default "system". */
  profile?: string;
}

/** An EAB key as made: the HMAC key in base64url, to be shown once. */
export interface EabKeyMade {
  ca: string;
  kid: string;
  hmacKey: string;
}

/** An EAB key as listed: never the key. */
export interface EabKeyView {
  kid: string;
  createdAt: string;
  createdBy: string;
  accountId: number | null;
}

/** The path of a CA's ACME directory on `sigil serve`. */
export const directoryPath = (ca: string): string => `/acme/${encodeURIComponent(ca)}/directory`;

/**
 * The URL clients give for a CA's ACME directory: `acme.baseUrl` when set (the server then
 * uses it too), else `publicUrl`, followed by {@link directoryPath}.
 */
export function directoryUrl(config: Pick<Config, "publicUrl" | "acme">, ca: string): string {
  const base = config.acme.baseUrl
    ? config.acme.baseUrl.replace(/\/+$/, "").replace(/\/acme$/, "")
    : config.publicUrl.replace(/\/+$/, "");
  return base + directoryPath(ca);
}

/** The settings as shown (`sigil acme show --json`, the admin API). */
export function settingsView(
  s: AcmeSettings,
  config: Pick<Config, "publicUrl" | "acme">,
): Record<string, unknown> {
  return {
    ca: s.caName,
    enabled: s.enabled,
    directory: directoryUrl(config, s.caName),
    allow: s.allow,
    maxDays: s.maxDays,
    eab: s.eabRequired,
    manualApproval: s.manualApproval,
    profile: s.profile,
    source: s.updatedBy === "config" ? "config" : "store",
    updatedAt: s.updatedBy === "config" ? null : iso(s.updatedAt),
    updatedBy: s.updatedBy,
  };
}

/**
 * Checks what `enable` is told before anything is opened: the patterns (BAD_INPUT naming
 * a bad one) and a profile that can carry DNS or IP names. Returns the patterns, deduplicated.
 */
export function checkEnableAsk(ask: Pick<EnableAsk, "allow" | "profile">): string[] {
  if (!Array.isArray(ask.allow) || ask.allow.length > 1000 || ask.allow.some((p) => typeof p !== "string"))
    throw new SigilError(ErrorCodes.USAGE, "allow: give a list of identifier patterns (at most 1000)");
  const allow = [...new Set(ask.allow.map((p) => p.trim()))];
  if (allow.length === 0)
    throw new SigilError(ErrorCodes.USAGE, "allow: give at least one identifier pattern");
  for (const p of allow) parseAllowPattern(p); // throws BAD_INPUT naming the pattern
  const profileName = ask.profile ?? "system";
  const profile = getProfile(profileName);
  if (profile.ca || !profile.sanTypes.some((t) => t === "dns" || t === "ip"))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `profile ${profileName} cannot carry DNS or IP names: ACME needs a server profile such as system`,
    );
  return allow;
}

export class AcmeSettingsActs {
  constructor(private readonly d: AcmeSettingsDeps) {}

  /** The CA named `name`, if it may serve ACME: not a root, not retired, not expired. */
  private async acmeCa(name: string): Promise<CaRecord> {
    const ca = await this.d.authority.getCa(name);
    if (ca.parentId === null)
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${name} is a root: ACME certificates come from an intermediate (make one with 'sigil ca create-child NAME --parent ${name}')`,
      );
    const own = await this.d.store.getCert(ca.parentId, ca.serialHex);
    if (own?.status === "revoked")
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${name} was retired (revoked by its parent on ${iso(own.revokedAt ?? 0)}): it signs nothing more`,
      );
    if (ca.notAfter <= this.d.clock())
      throw new SigilError(ErrorCodes.POLICY_DENIED, `CA ${name} expired on ${iso(ca.notAfter)}`);
    return ca;
  }

  /** The settings in effect for CA `name` (the store's, else the config's), if any. */
  async of(name: string): Promise<{ ca: CaRecord; settings: AcmeSettings | undefined }> {
    const ca = await this.d.authority.getCa(name);
    return { ca, settings: await effectiveSettings(this.d.acme, this.d.config, ca.name) };
  }

  /** CA `name` and its settings, when it serves ACME (the ACME server's every request). */
  async enabledSite(name: string): Promise<AcmeSite | undefined> {
    const settings = await effectiveSettings(this.d.acme, this.d.config, name);
    const ca = settings?.enabled ? await this.d.store.getCa(name) : undefined;
    return settings?.enabled && ca ? { ca, settings } : undefined;
  }

  /** Every CA's settings in effect (store rows, then the config's CAs without one), by name. */
  async list(): Promise<AcmeSettings[]> {
    const names = new Set([
      ...(await this.d.acme.listSettings()).map((s) => s.caName),
      ...Object.keys(this.d.config.acme.cas),
    ]);
    const out: AcmeSettings[] = [];
    for (const n of [...names].sort()) {
      const s = await effectiveSettings(this.d.acme, this.d.config, n);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** `acme.enable`: serve ACME for CA `caName` under these settings. */
  async enable(caName: string, ask: EnableAsk, actor: string): Promise<AcmeSettings> {
    const allow = checkEnableAsk(ask);
    const ca = await this.acmeCa(caName);
    const now = this.d.clock();
    const settings: AcmeSettings = {
      caName: ca.name,
      enabled: true,
      allow,
      maxDays: ask.maxDays ?? null,
      eabRequired: ask.eab === true,
      manualApproval: ask.manualApproval === true,
      profile: ask.profile ?? "system",
      updatedAt: now,
      updatedBy: actor,
    };
    await act(this.d, async (tx) => {
      await tx.acme.putSettings(settings, ca.id);
      await tx.audit({
        at: now,
        actor,
        action: "acme.enable",
        target: ca.name,
        details: {
          allow,
          maxDays: settings.maxDays,
          eab: settings.eabRequired,
          manualApproval: settings.manualApproval,
          profile: settings.profile,
        },
      });
    });
    return settings;
  }

  /** `acme.disable`: keeps the settings, marked disabled (this wins over the config). */
  async disable(caName: string, actor: string): Promise<AcmeSettings> {
    const { ca, settings: current } = await this.of(caName);
    if (current === undefined || !current.enabled)
      throw new SigilError(ErrorCodes.NOT_FOUND, `ACME is not enabled for CA ${ca.name}`);
    const now = this.d.clock();
    const off: AcmeSettings = { ...current, enabled: false, updatedAt: now, updatedBy: actor };
    await act(this.d, async (tx) => {
      await tx.acme.putSettings(off, ca.id);
      await tx.audit({
        at: now,
        actor,
        action: "acme.disable",
        target: ca.name,
        details: { was: current.updatedBy === "config" ? "config" : "store" },
      });
    });
    return off;
  }

  /**
   * `acme.eab.create`: a key id and HMAC key for one account of CA `caName`. RFC 8555 §7.3.4:
   * the CA gives the client a key identifier and a MAC key (HS256 here, RFC 7518 §3.2: a
   * key of at least 256 bits). The audit event names the key id only.
   */
  async createEabKey(caName: string, actor: string): Promise<EabKeyMade> {
    const ca = await this.acmeCa(caName);
    const kid = b64u(this.d.random(16));
    const hmacKey = this.d.random(32);
    try {
      const now = this.d.clock();
      await act(this.d, async (tx) => {
        await tx.acme.insertEabKey({
          kid,
          caId: ca.id,
          hmacKey,
          createdAt: now,
          createdBy: actor,
          accountId: null,
        });
        await tx.audit({ at: now, actor, action: "acme.eab.create", target: ca.name, details: { kid } });
      });
      return { ca: ca.name, kid, hmacKey: b64u(hmacKey) };
    } finally {
      hmacKey.fill(0);
    }
  }

  /** CA `caName`'s EAB key ids and their use, never the keys. */
  async listEabKeys(caName: string): Promise<EabKeyView[]> {
    const ca = await this.d.authority.getCa(caName);
    return (await this.d.acme.listEabKeys(ca.id)).map((k) => ({
      kid: k.kid,
      createdAt: iso(k.createdAt)!,
      createdBy: k.createdBy,
      accountId: k.accountId,
    }));
  }
}

/**
 * The settings acts over a store (the CLI, the admin API): the clock and randomness are
 * the system's unless given.
 */
export function acmeSettingsActs(d: {
  store: Store;
  config: Config;
  authority: Pick<Authority, "getCa">;
  clock?: () => number;
  random?: (n: number) => Buffer;
}): AcmeSettingsActs {
  return new AcmeSettingsActs({
    store: d.store,
    acme: acmeReads(d.store),
    config: d.config,
    authority: d.authority,
    clock: d.clock ?? (() => Date.now()),
    random: d.random ?? ((n) => randomBytes(n)),
  });
}
