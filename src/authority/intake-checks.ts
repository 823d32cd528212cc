/**
 * The checks run on a candidate request at intake, on every channel: is it a PKCS#10
 * request (RFC 2986) with a valid signature and an acceptable key, and would the CA named
 * sign it (policy, without the key)? Nothing is recorded here: the queue records the result.
 */
import { ErrorCodes, isSigilError } from "../errors.js";
import type { RequestCheck } from "../store/types.js";
import type { ParsedCsr } from "../x509/types.js";
import { parseCsr } from "../x509/csr.js";
import { formatDn } from "../x509/dn.js";
import { publicKeyLabel, signatureAlgorithmName } from "../x509/algorithms.js";
import type { Authority } from "./authority.js";
import type { IntakeItem } from "./queue.js";

/** Check names for the errors of the CSR reader. */
function checkFor(code: string): string {
  if (code === ErrorCodes.BAD_SIGNATURE || code === ErrorCodes.BAD_SIGNATURE_ALGORITHM) return "signature";
  if (code === ErrorCodes.WEAK_KEY) return "key";
  return "csr";
}

/** The checks of one candidate, and the CSR when it is one. */
export async function checkCandidate(
  authority: Pick<Authority, "blockedKeyRefusal" | "evaluate">,
  item: IntakeItem,
  caName: string | undefined,
  profile: string | undefined,
): Promise<{ checks: RequestCheck[]; csr?: ParsedCsr; failed?: string }> {
  if (item.pemLabel && !/CERTIFICATE REQUEST/.test(item.pemLabel)) {
    const detail =
      item.pemLabel === "CERTIFICATE"
        ? "this is a certificate, not a certificate signing request (send the .csr or .req file)"
        : `this is a ${item.pemLabel}, not a certificate signing request`;
    return { checks: [{ check: "csr", ok: false, detail }], failed: detail };
  }
  let csr: ParsedCsr;
  try {
    csr = parseCsr(item.data);
  } catch (e) {
    if (!isSigilError(e) || e.kind !== "user") throw e;
    return { checks: [{ check: checkFor(e.code), ok: false, detail: e.message }], failed: e.message };
  }
  const checks: RequestCheck[] = [
    { check: "csr", ok: true, detail: `PKCS#10 request for ${formatDn(csr.subject) || "(empty subject)"}` },
    { check: "signature", ok: true, detail: `${signatureAlgorithmName(csr.signatureAlgorithm)}, verified` },
    { check: "key", ok: true, detail: publicKeyLabel(csr.publicKey) },
  ];
  if (!caName) {
    // No CA named yet: still, a compromised key (or one of Sigil's own) is refused here.
    const blocked = await authority.blockedKeyRefusal(csr);
    if (blocked) {
      checks.push({ check: "policy", ok: false, detail: blocked.message });
      return { checks, csr, failed: blocked.message };
    }
  }
  if (caName) {
    try {
      const ev = await authority.evaluate(caName, csr, profile ? { profile } : {});
      checks.push({
        check: "policy",
        ok: true,
        detail: `${caName} would sign it under profile ${ev.profile}${ev.sans.length ? ` for ${ev.sans.map((s) => s.value).join(", ")}` : ""}`,
      });
    } catch (e) {
      if (!isSigilError(e) || e.kind !== "user") throw e;
      checks.push({ check: "policy", ok: false, detail: `${caName}: ${e.message}` });
      // A compromised key (or one of Sigil's own) is never certified, whoever approves:
      // refused at intake rather than queued for an operator.
      if (e.details.blockedKey !== undefined) return { checks, csr, failed: e.message };
    }
  }
  return { checks, csr };
}
