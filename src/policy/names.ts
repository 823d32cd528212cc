/**
 * Matching names against the patterns operators write: auto-approval rules
 * (`dnsNames: ["*.genfic.internal"]`, `emails: ["*@genfic.com"]`) and ACME allow lists
 * (policy/acme-identifiers.ts). One rule for both: a pattern matches names, never a literal
 * wildcard name. A wildcard dNSName (`*.apps.genfic.internal`, RFC 6125 §6.4.3: one label
 * in place of the `*`) is a different thing, a certificate for every host below a domain;
 * it is allowed only where the caller says wildcards are (an auto-approval rule's
 * `allowWildcards`; ACME, where RFC 8555 §7.1.3 has dns-01 prove the whole domain), and
 * then only under a `*.` pattern whose subtree holds every name the wildcard covers.
 *
 * Pure: no I/O, no clock.
 */

/** Lower case, without one trailing dot (an absolute name is the same name). */
function normalize(s: string): string {
  const t = s.toLowerCase();
  return t.endsWith(".") ? t.slice(0, -1) : t;
}

/**
 * Case-insensitive match with `*` standing for any non-empty run of characters (dots
 * included): `*.genfic.internal` matches `a.genfic.internal` and `a.b.genfic.internal` but
 * not `genfic.internal`; `*@genfic.com` matches any address at genfic.com. A `*` in the
 * value is an ordinary character here: callers decide about wildcard names first
 * ({@link dnsNameMatches}).
 */
export function globMatch(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  const parts = p.split("*");
  if (parts.length === 1) return p === v;
  if (!v.startsWith(parts[0]!) || !v.endsWith(parts[parts.length - 1]!)) return false;
  let pos = parts[0]!.length;
  const end = v.length - parts[parts.length - 1]!.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const at = v.indexOf(parts[i]!, pos + 1);
    if (at < 0 || at + parts[i]!.length > end) return false;
    pos = at + parts[i]!.length;
  }
  return end - pos >= 1;
}

/** True when `name` is a wildcard DNS name: it holds a `*` (Sigil accepts only a leading `*.` label). */
export function isWildcardName(name: string): boolean {
  return name.includes("*");
}

/**
 * True when every name the wildcard `*.base` covers lies strictly below `domain`: `base` is
 * `domain` or a name below it. `*.genfic.internal` and `*.apps.genfic.internal` are within
 * `genfic.internal`; `*.internal` and `*.genfic.internal.evil.com` are not. Anything but a
 * single leading `*.` label is never within anything.
 */
export function wildcardWithin(wildcard: string, domain: string): boolean {
  const w = normalize(wildcard);
  const d = normalize(domain);
  if (!w.startsWith("*.") || d === "" || d.includes("*")) return false;
  const base = w.slice(2);
  if (base.includes("*")) return false;
  return base === d || base.endsWith("." + d);
}

/**
 * Whether the DNS name `name` matches the rule pattern `pattern` ({@link globMatch}). A
 * wildcard name matches only when `allowWildcards`, and only a pattern of the form
 * `*.domain` (no other `*`) that it lies {@link wildcardWithin}.
 */
export function dnsNameMatches(pattern: string, name: string, allowWildcards: boolean): boolean {
  if (!isWildcardName(name)) return globMatch(pattern, normalize(name));
  if (!allowWildcards) return false;
  const p = normalize(pattern);
  return p.startsWith("*.") && !p.slice(2).includes("*") && wildcardWithin(name, p.slice(2));
}
