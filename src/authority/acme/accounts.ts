/**
 * ACME accounts (RFC 8555 §7.3): made, updated, deactivated and re-keyed here, each act in
 * one transaction with its audit event (`acme.account.create`, `acme.account.deactivate`,
 * `acme.account.key-change`, by the account itself, `acme:{publicId}`).
 *
 * Accounts are keyed by the RFC 7638 thumbprint of their key, per CA. External Account
 * Binding (§7.3.4) is required when the CA's settings say so; a key binds one account.
 * The JWS checks themselves (signatures, the binding's MAC) are the server's (acme/jws.ts):
 * it hands in the verified key and a check of the binding's MAC.
 */
import type { AccountRecord } from "../../store/acme-records.js";
import { act, b64u, type AcmeSite, type AcmeUseCaseDeps } from "./context.js";
import { AcmeProblem } from "./problem.js";

/** An External Account Binding as the client sent it: its key id and a check of its MAC. */
export interface EabClaim {
  kid: string;
  /** Throws (unauthorized) unless the binding's MAC verifies under `hmacKey` (undefined: no usable key). */
  verify(hmacKey: Buffer | undefined): void;
}

/** A new account's key and contacts. */
export interface NewAccount {
  /** RFC 7638 thumbprint of the account key. */
  thumbprint: string;
  /** The public key as a JWK, JSON text. */
  jwk: string;
  contact: string[];
  eab?: EabClaim;
}

const target = (site: AcmeSite, a: AccountRecord) => `${site.ca.name}/acct/${a.publicId}`;
const actor = (a: AccountRecord) => `acme:${a.publicId}`;

export class AcmeAccounts {
  constructor(private readonly d: AcmeUseCaseDeps) {}

  /** The account of this CA with the key `thumbprint` (§7.3.1); refused unless valid. */
  async byKey(site: AcmeSite, thumbprint: string): Promise<AccountRecord | undefined> {
    const a = await this.d.acme.getAccountByThumbprint(site.ca.id, thumbprint);
    if (a && a.status !== "valid")
      throw new AcmeProblem("unauthorized", `the account for this key is ${a.status}`);
    return a;
  }

  /** newAccount (§7.3): with its binding when given, required by the CA's settings, or none. */
  async create(site: AcmeSite, n: NewAccount): Promise<AccountRecord> {
    let eabKid: string | null = null;
    if (n.eab) {
      // §7.3.4: the binding's MAC under the key named by its kid; an unknown kid, a key of
      // another CA or one bound already all answer alike (unauthorized).
      const key = await this.d.acme.getEabKey(n.eab.kid);
      n.eab.verify(key && key.caId === site.ca.id && key.accountId === null ? key.hmacKey : undefined);
      eabKid = n.eab.kid;
    } else if (site.settings.eabRequired) {
      throw new AcmeProblem(
        "externalAccountRequired",
        `${site.ca.name} requires External Account Binding (RFC 8555 §7.3.4): ask the CA's security admin for a key (sigil acme eab create)`,
      );
    }
    const publicId = b64u(this.d.random(16));
    return act(this.d, async (tx) => {
      const a = await tx.acme.insertAccount({
        publicId,
        caId: site.ca.id,
        thumbprint: n.thumbprint,
        jwk: n.jwk,
        contact: n.contact,
        status: "valid",
        eabKid,
        createdAt: this.d.clock(),
      });
      if (eabKid && !(await tx.acme.bindEabKey(eabKid, a.id)))
        throw new AcmeProblem("unauthorized", "this External Account Binding key was used already");
      await tx.audit({
        actor: actor(a),
        action: "acme.account.create",
        target: target(site, a),
        details: { contact: n.contact, thumbprint: n.thumbprint, ...(eabKid ? { eabKid } : {}) },
      });
      return a;
    });
  }

  /** §7.3.2, §7.3.6: new contacts, or deactivation (the only status a client may set). */
  async update(
    site: AcmeSite,
    a: AccountRecord,
    patch: { contact?: string[]; status?: "deactivated" },
  ): Promise<AccountRecord> {
    await act(this.d, async (tx) => {
      await tx.acme.updateAccount(a.id, patch);
      if (patch.status)
        await tx.audit({
          actor: actor(a),
          action: "acme.account.deactivate",
          target: target(site, a),
          details: {},
        });
    });
    return { ...a, ...patch };
  }

  /**
   * §7.3.5: the account's key becomes `jwk` (JSON text, thumbprint `thumbprint`); when
   * another account of this CA holds that key already, that account (the server answers 409).
   */
  async changeKey(
    site: AcmeSite,
    a: AccountRecord,
    jwk: string,
    thumbprint: string,
  ): Promise<{ account: AccountRecord } | { conflict: AccountRecord }> {
    const other = await this.d.acme.getAccountByThumbprint(site.ca.id, thumbprint);
    if (other) return { conflict: other };
    await act(this.d, async (tx) => {
      await tx.acme.updateAccount(a.id, { jwk, thumbprint });
      await tx.audit({
        actor: actor(a),
        action: "acme.account.key-change",
        target: target(site, a),
        details: { oldThumbprint: a.thumbprint, newThumbprint: thumbprint },
      });
    });
    return { account: { ...a, jwk, thumbprint } };
  }
}
