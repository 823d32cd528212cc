/**
 * The identifiers of ACME orders (RFC 8555 §7.1.4, §9.7.7; RFC 8738): what a client may
 * ask for, in the one form Sigil compares them in. Pure.
 */
import { isIP } from "node:net";
import type { AcmeIdentifier } from "../../store/acme-records.js";
import { AcmeProblem } from "./problem.js";

/** Most identifiers in one order. */
export const MAX_IDENTIFIERS = 100;
const DNS_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** §7.1.4, §9.7.7, RFC 8738: dns names (lower case, a leading `*.` for a wildcard) and IP addresses. */
export function parseIdentifiers(v: unknown): AcmeIdentifier[] {
  if (!Array.isArray(v) || v.length === 0)
    throw new AcmeProblem("malformed", "newOrder needs identifiers: a non-empty list");
  if (v.length > MAX_IDENTIFIERS)
    throw new AcmeProblem("rejectedIdentifier", `at most ${MAX_IDENTIFIERS} identifiers per order`);
  const seen = new Set<string>();
  const out: AcmeIdentifier[] = [];
  for (const i of v as unknown[]) {
    const type = (i as { type?: unknown })?.type;
    const value = (i as { value?: unknown })?.value;
    if (typeof value !== "string")
      throw new AcmeProblem("malformed", "every identifier needs a string value");
    let id: AcmeIdentifier;
    if (type === "dns") {
      const name = value.toLowerCase().replace(/\.$/, "");
      const bare = name.startsWith("*.") ? name.slice(2) : name;
      if (!DNS_NAME.test(bare) || isIP(bare))
        throw new AcmeProblem("rejectedIdentifier", `"${value}" is not a DNS name`);
      id = { type: "dns", value: name };
    } else if (type === "ip") {
      if (!isIP(value)) throw new AcmeProblem("malformed", `"${value}" is not an IP address`);
      id = { type: "ip", value: normalizeIp(value) };
    } else {
      throw new AcmeProblem(
        "unsupportedIdentifier",
        `identifier type ${JSON.stringify(type)} is not supported (dns, ip)`,
      );
    }
    const k = idKey(id);
    if (!seen.has(k)) out.push(id);
    seen.add(k);
  }
  return out;
}

/** The canonical text of an IP address (IPv6: what the certificate's SAN decodes to). */
export function normalizeIp(v: string): string {
  if (isIP(v) === 4) return v;
  return new URL(`http://[${v}]/`).hostname.slice(1, -1);
}

/** One string per identifier, for comparing sets of them. */
export function idKey(i: AcmeIdentifier): string {
  return `${i.type}:${i.type === "ip" ? normalizeIp(i.value) : i.value.toLowerCase()}`;
}

/** The value of an {@link idKey}. */
export function idValue(k: string): string {
  return k.slice(k.indexOf(":") + 1);
}
