/**
 * Authentication-Results (RFC 8601): what a receiving MTA found when it checked a message
 * (DKIM, SPF, DMARC). Anyone can write this header, so one is believed only when its
 * authserv-id (§2.5) is a configured trusted MTA (`mail.trustedAuthservIds`), and only the
 * topmost such header: the trusted MTA adds its own on top and removes look-alikes that
 * arrived with the message (§5). A DKIM pass proves the From address only when the signing
 * domain (`header.d`) is the From domain itself (aligned, as DMARC's strict mode).
 *
 * Pure: no I/O, no clock. Never throws.
 */

/** One result of an Authentication-Results header: `dkim=pass header.d=genfic.com`. */
export interface AuthResult {
  /** The method, lower case (`dkim`, `spf`, `dmarc`, ...). */
  method: string;
  /** The result, lower case (`pass`, `fail`, `none`, ...). */
  result: string;
  /** Properties by `ptype.property`, lower-cased names (`header.d`, `header.i`, `smtp.mailfrom`). */
  props: Record<string, string>;
}

/** A parsed Authentication-Results header. */
export interface AuthResults {
  /** The authserv-id, lower case. */
  authservId: string;
  results: AuthResult[];
}

/** Removes RFC 5322 comments (nested parentheses, `\` quoting), outside quoted strings. */
function stripComments(s: string): string {
  let out = "";
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && (quoted || depth > 0)) {
      if (depth === 0) out += c + (s[i + 1] ?? "");
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted && c === "(") {
      depth++;
      continue;
    }
    if (!quoted && c === ")" && depth > 0) {
      depth--;
      if (depth === 0) out += " ";
      continue;
    }
    if (depth === 0) out += c;
  }
  return out;
}

/** Splits on `sep` outside quoted strings. */
function splitOutside(s: string, sep: RegExp): string[] {
  const parts: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === "\\" && quoted) {
      cur += c + (s[i + 1] ?? "");
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (!quoted && sep.test(c)) {
      parts.push(cur);
      cur = "";
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function unquote(v: string): string {
  return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v;
}

/** Parses one Authentication-Results value (RFC 8601 §2.2); undefined when it has no authserv-id. */
export function parseAuthResults(value: string): AuthResults | undefined {
  const clean = stripComments(value.replace(/\r?\n/g, " "));
  const [head, ...rest] = splitOutside(clean, /;/);
  const authservId = unquote(splitOutside(head ?? "", /\s/)[0] ?? "").toLowerCase();
  if (!authservId) return undefined;
  const results: AuthResult[] = [];
  for (const r of rest) {
    // `method = result`, `ptype . property = value`: spaces around "=" and "." are CFWS.
    const tokens = splitOutside(r.replace(/\s*=\s*/g, "=").replace(/\s*\.\s*(?=[^=]*=)/g, "."), /\s/);
    const first = tokens[0] ?? "";
    const eq = first.indexOf("=");
    if (eq <= 0) continue; // "none", or not a result
    const method = first.slice(0, eq).toLowerCase().replace(/\/.*$/, "");
    const result = first.slice(eq + 1).toLowerCase();
    const props: Record<string, string> = {};
    for (const t of tokens.slice(1)) {
      const i = t.indexOf("=");
      if (i <= 0) continue;
      const name = t.slice(0, i).toLowerCase();
      if (name === "reason" || !name.includes(".")) continue;
      if (!(name in props)) props[name] = unquote(t.slice(i + 1));
    }
    results.push({ method, result, props });
  }
  return { authservId, results };
}

/** The verdict on whether a message's From address is proven by DKIM. */
export type DkimVerdict = { pass: true; detail: string } | { pass: false; detail: string };

/**
 * Whether the trusted receiving MTA verified a DKIM signature of the From domain: the
 * topmost header whose authserv-id is in `trusted` (never one below it) holds
 * `dkim=pass` with `header.d` equal to `fromDomain`. `headers` are the header values in
 * message order (topmost first).
 */
export function dkimVerdict(
  headers: readonly string[],
  trusted: readonly string[],
  fromDomain: string,
): DkimVerdict {
  if (trusted.length === 0)
    return { pass: false, detail: "no trusted MTA is configured (mail.trustedAuthservIds)" };
  const ids = new Set(trusted.map((t) => t.toLowerCase()));
  const domain = fromDomain.toLowerCase().replace(/\.$/, "");
  for (const h of headers) {
    const ar = parseAuthResults(h);
    if (!ar || !ids.has(ar.authservId)) continue;
    const dkim = ar.results.filter((r) => r.method === "dkim");
    const aligned = dkim.find(
      (r) => r.result === "pass" && (r.props["header.d"] ?? "").toLowerCase().replace(/\.$/, "") === domain,
    );
    if (aligned) return { pass: true, detail: `DKIM signature of ${domain} verified by ${ar.authservId}` };
    const seen = dkim.map(
      (r) => `dkim=${r.result}${r.props["header.d"] ? ` header.d=${r.props["header.d"]}` : ""}`,
    );
    return {
      pass: false,
      detail: `${ar.authservId} found ${seen.length ? seen.join(", ") : "no DKIM result"}, not dkim=pass for ${domain}`,
    };
  }
  return { pass: false, detail: "no Authentication-Results header from a trusted MTA" };
}
