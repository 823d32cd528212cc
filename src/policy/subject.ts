/**
 * The subject of a certificate signed without an operator: decided by policy from what was
 * proven, as the profile decides extensions (DESIGN.md: "Profiles decide, the CSR only
 * proposes"). A CSR's subject is typed by the requester; on an automated channel nothing
 * in it is believed unless it is one of the proven identifiers, or an attribute the
 * auto-approval rule explicitly allows with that value.
 *
 * - ACME (`identifiers`): the subject is `CN=<first identifier>` alone (RFC 8555 §7.4 has
 *   the CSR name the identifiers; CAs such as Let's Encrypt keep nothing else), or empty
 *   when that name is longer than ub-common-name (64): the SAN then carries the names
 *   (RFC 5280 §4.1.2.6, made critical by the certificate builder).
 * - mail, web, drop, cli auto-approval (`validated`): at most one CN, kept as a display
 *   name; a CN that looks like an e-mail address, a host name or an IP address must be one
 *   of the proven names; an emailAddress attribute is kept only when it equals a proven
 *   e-mail SAN; any other attribute only when the rule lists it with a matching value.
 *   Everything else is left out.
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import { AttrOid } from "../x509/oids.js";
import { ipFamily, isHostname } from "../x509/san.js";
import type { DistinguishedName, GeneralName } from "../x509/types.js";
import { globMatch } from "./names.js";

/** ub-common-name (RFC 5280 Appendix A.1). */
const UB_COMMON_NAME = 64;

/** How the subject of an automatically approved certificate is decided. */
export type SubjectPolicy =
  | {
      /** ACME: the identifiers the order proved, by challenge. */
      kind: "identifiers";
      /** The CN: the order's first identifier (default: the first DNS or IP SAN). */
      commonName?: string;
    }
  | {
      /** A rule's approval of names, with every e-mail address proven by its mailbox. */
      kind: "validated";
      /** The proven e-mail addresses: every e-mail SAN must be one of them. */
      emails: string[];
      /** A proven mailbox of the requester (the submitter), for the inventory when there is no e-mail SAN. */
      contact?: string | null;
      /** Attributes kept from the request: name (C, O, OU, ...) to allowed values (`*` globs). */
      allow?: Readonly<Partial<Record<string, readonly string[]>>>;
    };

function denied(message: string): SigilError {
  return new SigilError(ErrorCodes.POLICY_DENIED, message);
}

const lower = (s: string) => s.toLowerCase();

/** A CN that names something a relying party would take as an identity: an address, a host, an IP. */
function namesSomething(cn: string): "email" | "host" | undefined {
  if (cn.includes("@")) return "email";
  if (ipFamily(cn) !== 0) return "host";
  const h = lower(cn).replace(/\.$/, "");
  if (h.includes(".") && (isHostname(h) || (h.startsWith("*.") && isHostname(h.slice(2))))) return "host";
  return undefined;
}

/**
 * The subject a certificate gets under `policy`, from the request's subject and the SANs
 * the profile decided (already validated). Without a policy (an operator's decision, `sigil
 * sign`) the request's subject is returned as it is. Throws SigilError POLICY_DENIED when
 * the request cannot be signed automatically as it stands (two CNs, a CN naming an
 * unproven address or host, an unproven e-mail SAN): it then waits for an operator.
 */
export function decideSubject(
  requested: DistinguishedName,
  sans: readonly GeneralName[],
  policy: SubjectPolicy | undefined,
): DistinguishedName {
  if (!policy) return requested;
  if (policy.kind === "identifiers") {
    const names = sans.filter((s) => s.type === "dns" || s.type === "ip");
    const cn = policy.commonName ?? names[0]?.value;
    if (cn === undefined) return [];
    if (!names.some((s) => lower(s.value) === lower(cn)))
      throw denied(`the common name ${cn} is not one of the certificate's identifiers`);
    return [...cn].length > UB_COMMON_NAME ? [] : [{ oid: AttrOid.CN, name: "CN", value: cn }];
  }

  const proven = new Set(policy.emails.map(lower));
  const unproven = sans.find((s) => s.type === "email" && !proven.has(lower(s.value)));
  if (unproven) throw denied(`the e-mail address ${unproven.value} is not proven`);
  const emailSans = sans.filter((s) => s.type === "email");
  const hostSans = new Set(
    sans.filter((s) => s.type === "dns" || s.type === "ip").map((s) => lower(s.value)),
  );

  const cns = requested.filter((a) => a.oid === AttrOid.CN);
  if (cns.length > 1)
    throw denied(
      `the subject has ${cns.length} common names (${cns.map((a) => a.value).join(", ")}); a certificate signed without an operator has one`,
    );
  const cn = cns[0];
  if (cn) {
    const kind = namesSomething(cn.value);
    if (kind === "email" && !emailSans.some((s) => lower(s.value) === lower(cn.value)))
      throw denied(`the common name ${cn.value} is an e-mail address that is not proven`);
    if (kind === "host" && !hostSans.has(lower(cn.value).replace(/\.$/, "")))
      throw denied(`the common name ${cn.value} names a host that is not among the certificate's names`);
  }

  const out: DistinguishedName = [];
  let email = false;
  for (const a of requested) {
    if (a.oid === AttrOid.CN) {
      out.push(a);
      continue;
    }
    if (a.oid === AttrOid.emailAddress) {
      const match = emailSans.find((s) => lower(s.value) === lower(a.value));
      if (match && !email) {
        out.push({ ...a, value: match.value });
        email = true;
      }
      continue;
    }
    const allowed = Object.prototype.hasOwnProperty.call(policy.allow ?? {}, a.name)
      ? policy.allow![a.name]
      : undefined;
    if (allowed?.some((p) => globMatch(p, a.value))) out.push(a);
  }
  return out;
}

/**
 * The e-mail address the inventory records for a certificate (expiry notices go there):
 * under a `validated` policy, the first proven e-mail SAN, else the requester's proven
 * mailbox; otherwise the subject's emailAddress, else the first e-mail SAN.
 */
export function inventoryEmail(
  subject: DistinguishedName,
  sans: readonly GeneralName[],
  policy: SubjectPolicy | undefined,
): string | null {
  const firstSan = sans.find((s) => s.type === "email")?.value;
  if (policy?.kind === "validated") return firstSan ?? policy.contact ?? null;
  return subject.find((a) => a.oid === AttrOid.emailAddress)?.value ?? firstSan ?? null;
}
