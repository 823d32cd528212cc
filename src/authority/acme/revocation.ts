/**
 * revokeCert (RFC 8555 §7.6): who may revoke an ACME CA's certificate, and the revocation
 * itself through the authority (which updates the CRL and OCSP answer and audits
 * `cert.revoke` in its transaction, by `acme:{account}` or `acme:certificate-key`).
 *
 * Accepted: the account that ordered the certificate, an account holding valid
 * authorizations for all of its identifiers, or the certificate's own key.
 */
import type { Authority } from "../authority.js";
import type { CertRecord } from "../../store/types.js";
import type { AccountRecord } from "../../store/acme-records.js";
import { actingAs } from "../../audit/actor.js";
import { parseCertificate } from "../../x509/cert-reader.js";
import { REVOCATION_REASONS, type RevocationReason } from "../../x509/types.js";
import type { AcmeSite, AcmeUseCaseDeps } from "./context.js";
import { idKey } from "./identifiers.js";
import { AcmeProblem } from "./problem.js";

/** What revocation needs besides the common deps. */
export interface AcmeRevocationDeps extends AcmeUseCaseDeps {
  authority: Pick<Authority, "revoke">;
}

/** A revokeCert request, its JWS verified by the server. */
export interface RevokeAsk {
  /** The certificate's DER. */
  der: Buffer;
  /** The payload's reason code (RFC 5280 §5.3.1), as sent; absent: 0. */
  reason: unknown;
  /** The account that signed (a `kid` JWS), else undefined (a `jwk` JWS). */
  account?: AccountRecord;
  /** The SubjectPublicKeyInfo (DER) of the key the JWS verified with. */
  jwsSpki: Buffer;
}

export class AcmeRevocation {
  constructor(private readonly d: AcmeRevocationDeps) {}

  async revoke(site: AcmeSite, ask: RevokeAsk): Promise<void> {
    let info;
    try {
      info = parseCertificate(ask.der);
    } catch {
      throw new AcmeProblem("malformed", "the certificate cannot be read");
    }
    const reasonCode = ask.reason === undefined ? 0 : ask.reason;
    const reason = (Object.keys(REVOCATION_REASONS) as RevocationReason[]).find(
      (k) => REVOCATION_REASONS[k] === reasonCode,
    );
    // §7.6: RFC 5280 reason codes; removeFromCRL (8) is not a reason to revoke.
    if (!reason || reason === "removeFromCRL")
      throw new AcmeProblem(
        "badRevocationReason",
        `reason ${JSON.stringify(reasonCode)} is not a revocation reason code Sigil accepts (RFC 5280 §5.3.1)`,
      );
    const cert = await this.d.store.getCert(site.ca.id, info.serialHex);
    if (!cert || !cert.der.equals(ask.der))
      throw new AcmeProblem("malformed", `the certificate was not issued by ${site.ca.name}`, {
        status: 404,
      });
    if (cert.status === "revoked")
      throw new AcmeProblem("alreadyRevoked", "the certificate is already revoked");
    let actor: string;
    if (ask.account) {
      const order = await this.d.acme.orderOfCert(cert.id);
      const mine = order?.accountId === ask.account.id;
      if (!mine && !(await this.holdsAuthorizations(ask.account, cert)))
        throw new AcmeProblem(
          "unauthorized",
          "this account neither ordered the certificate nor holds valid authorizations for all its identifiers",
        );
      actor = `acme:${ask.account.publicId}`;
    } else {
      // Signed with the certificate's own key.
      if (!ask.jwsSpki.equals(info.spki))
        throw new AcmeProblem(
          "unauthorized",
          "the JWS key is neither an account key nor the certificate's key",
        );
      actor = `acme:certificate-key`;
    }
    await actingAs(actor, () => this.d.authority.revoke(site.ca.name, { certDer: ask.der }, reason));
  }

  private async holdsAuthorizations(account: AccountRecord, cert: CertRecord): Promise<boolean> {
    const names = cert.sans.filter((n) => n.type === "dns" || n.type === "ip");
    if (names.length === 0) return false;
    const valid = new Set(
      (await this.d.acme.validAuthzs(account.id, this.d.clock())).map((z) =>
        idKey(z.wildcard ? { type: "dns", value: `*.${z.identifier.value}` } : z.identifier),
      ),
    );
    return names.every((n) => valid.has(idKey({ type: n.type as "dns" | "ip", value: n.value })));
  }
}
