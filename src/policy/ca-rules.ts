/**
 * A CA's own issuance rules (`caRules.NAME` in sigil.json, the security admin's word): which
 * profiles it may issue under, and which names it may certify. They hold on every channel
 * (CLI, queue, admin API, portal, mail, ACME, drop folder) and for every caller: an operator
 * acts within them. A root signs CA certificates only unless its rule lists profiles.
 *
 * Names are matched like ACME's allow patterns (RFC 5280 §4.2.1.10's subtree idea):
 * `*.genfic.internal` is any name strictly below genfic.internal, `host.genfic.internal`
 * exactly that name, `10.0.0.0/8` an address range, `*@genfic.com` any mailbox at
 * genfic.com, `*@*.genfic.com` any mailbox in a subdomain, `alice@genfic.com` one mailbox.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { GeneralName } from "../x509/types.js";
import { parseAllowPattern, patternMatches, type AllowPattern } from "./acme-identifiers.js";
import type { Decision } from "./issuance.js";

/** One CA's rule, as configured. */
export interface CaRule {
  /** Profiles the CA may issue under (default: every public profile; a root: none). */
  profiles?: readonly string[];
  /** Permitted name patterns; absent: any name the profile takes. */
  names?: readonly string[];
}

/** A parsed name pattern. */
export type NamePattern =
  AllowPattern | { kind: "email"; local: string | null; domain: string; subtree: boolean };

/** Parses a name pattern; throws SigilError BAD_INPUT with a one-line reason. */
export function parseNamePattern(s: string): NamePattern {
  const text = s.trim().toLowerCase();
  const at = text.lastIndexOf("@");
  if (at < 0) return parseAllowPattern(text);
  const local = text.slice(0, at);
  let domain = text.slice(at + 1);
  const subtree = domain.startsWith("*.");
  if (subtree) domain = domain.slice(2);
  if (!local || (local !== "*" && /[\s*@]/.test(local)) || !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(domain))
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `bad e-mail name pattern ${JSON.stringify(s)}: use *@domain, *@*.domain or user@domain`,
    );
  return { kind: "email", local: local === "*" ? null : local, domain, subtree };
}

/** True when `p` permits the name `gn`. */
export function namePermitted(p: NamePattern, gn: GeneralName): boolean {
  if (gn.type === "dns" || gn.type === "ip") {
    if (p.kind === "email") return false;
    return patternMatches(p, { type: gn.type, value: gn.value });
  }
  if (gn.type === "email" && p.kind === "email") {
    const v = gn.value.toLowerCase();
    const at = v.lastIndexOf("@");
    if (at <= 0) return false;
    const local = v.slice(0, at);
    const domain = v.slice(at + 1);
    if (p.local !== null && p.local !== local) return false;
    return p.subtree ? domain.endsWith(`.${p.domain}`) : domain === p.domain;
  }
  return false; // URIs and other types: only an unrestricted CA certifies them
}

/** The profiles CA `isRoot` may issue under by `rule`, given every public profile. */
export function permittedProfiles(
  isRoot: boolean,
  rule: CaRule | undefined,
  all: readonly string[],
): string[] {
  if (rule?.profiles) return rule.profiles.filter((p) => all.includes(p));
  return isRoot ? [] : [...all];
}

/** What {@link checkCaRule} needs to know. */
export interface CaRuleInput {
  caName: string;
  isRoot: boolean;
  rule: CaRule | undefined;
  /** Every public profile (x509/profiles.ts). */
  publicProfiles: readonly string[];
  profile: string;
  /** The names the certificate would carry (after the profile decided them). */
  sans: readonly GeneralName[];
}

const label = (gn: GeneralName): string => `${gn.type === "email" ? "email" : gn.type}:${gn.value}`;

/**
 * Decides whether the CA's own rule allows this issuance: the profile first, then every
 * name. Refusals say which rule and where it is set.
 */
export function checkCaRule(input: CaRuleInput): Decision {
  const { caName, isRoot, rule, profile, sans } = input;
  const profiles = permittedProfiles(isRoot, rule, input.publicProfiles);
  if (!profiles.includes(profile))
    return {
      allow: false,
      reason:
        profiles.length === 0
          ? `CA ${caName} is a root: it signs CA certificates only (sigil ca create-child); the security admin may let it issue under a profile with caRules.${caName}.profiles in sigil.json`
          : `CA ${caName} may issue under ${profiles.join(", ")} only, not ${profile} (caRules.${caName}.profiles in sigil.json)`,
    };
  if (rule?.names) {
    const patterns: NamePattern[] = [];
    for (const s of rule.names) {
      try {
        patterns.push(parseNamePattern(s));
      } catch {
        // An unreadable pattern permits nothing (config validation refuses it first).
      }
    }
    for (const gn of sans)
      if (!patterns.some((p) => namePermitted(p, gn)))
        return {
          allow: false,
          reason: `CA ${caName} may not certify ${label(gn)} (permitted: ${rule.names.join(", ") || "nothing"}; caRules.${caName}.names in sigil.json)`,
        };
  }
  return { allow: true };
}
