/**
 * Auto-approval: may a queued request be signed without an operator? Pure: the caller
 * supplies the facts (channel, submitter, the SANs the rule's profile would give).
 * Everything a rule does not explicitly allow waits for an operator.
 *
 * A rule is the operator's standing approval of the DNS names it lists; it proves nothing
 * about an e-mail address. The submitter (a From header, a typed field) is only a filter:
 * the queue signs an e-mail name only once its mailbox is proven (authority/queue.ts).
 */
import type { AutoApproveRule } from "../config/schema.js";
import type { RequestChannel } from "./channels.js";
import type { GeneralName } from "../x509/types.js";
import { dnsNameMatches, globMatch, isWildcardName } from "./names.js";

/** What a rule is checked against. */
export interface RuleFacts {
  channel: RequestChannel;
  /** The submitter: an e-mail address for mail/web, a local user name for cli/drop. */
  submitter: string | null;
  /** The SANs the certificate would carry under the rule's profile (profiles.decideSans). */
  sans: GeneralName[];
}

/** The verdict of one rule. */
export type RuleVerdict = { ok: true } | { ok: false; reason: string };

export { globMatch } from "./names.js";

/** The domain of an e-mail address, lower-cased. */
function domainOf(addr: string | null): string | undefined {
  if (!addr) return undefined;
  const at = addr.lastIndexOf("@");
  return at > 0 ? addr.slice(at + 1).toLowerCase() : undefined;
}

/** Checks one rule against the facts; the reason says which condition failed. */
export function ruleMatches(rule: AutoApproveRule, f: RuleFacts): RuleVerdict {
  if (!rule.channels.includes(f.channel))
    return { ok: false, reason: `channel ${f.channel} is not in the rule` };
  if (rule.senderDomains) {
    const d = domainOf(f.submitter);
    if (!d || !rule.senderDomains.some((x) => x.toLowerCase() === d))
      return { ok: false, reason: `sender ${f.submitter ?? "(none)"} is not in an allowed domain` };
  }
  const emails = f.sans.filter((s) => s.type === "email").map((s) => s.value);
  const dns = f.sans.filter((s) => s.type === "dns").map((s) => s.value);
  const others = f.sans.filter((s) => s.type !== "email" && s.type !== "dns");
  if (others.length)
    return { ok: false, reason: `${others.map((o) => `${o.type}:${o.value}`).join(", ")} need an operator` };
  if (emails.length && !rule.emails) return { ok: false, reason: "the rule does not allow e-mail names" };
  if (dns.length && !rule.dnsNames) return { ok: false, reason: "the rule does not allow DNS names" };
  if (rule.emails) {
    if (!emails.length && !rule.dnsNames) return { ok: false, reason: "the request names no e-mail address" };
    const bad = emails.find((e) => !rule.emails!.some((p) => globMatch(p, e)));
    if (bad) return { ok: false, reason: `e-mail ${bad} is outside the allowed names` };
    if (rule.senderMustMatchEmail && emails.length && (f.channel === "mail" || f.channel === "web")) {
      const other = emails.find((e) => e.toLowerCase() !== (f.submitter ?? "").toLowerCase());
      if (other) return { ok: false, reason: `e-mail ${other} is not the sender's own address` };
    }
  }
  if (rule.dnsNames) {
    if (!dns.length && !emails.length) return { ok: false, reason: "the request names no DNS name" };
    // A pattern matches names, not wildcard names (policy/names.ts).
    const wild = dns.find((d) => isWildcardName(d) && !rule.allowWildcards);
    if (wild)
      return {
        ok: false,
        reason: `the wildcard ${wild} needs an operator (the rule does not set allowWildcards)`,
      };
    const bad = dns.find(
      (d) => !rule.dnsNames!.some((p) => dnsNameMatches(p, d, rule.allowWildcards === true)),
    );
    if (bad) return { ok: false, reason: `DNS name ${bad} is outside the allowed names` };
  }
  if (!emails.length && !dns.length) return { ok: false, reason: "the request names nobody" };
  return { ok: true };
}
