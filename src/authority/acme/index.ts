/**
 * The ACME use cases (RFC 8555), one object per aggregate, for the ACME server
 * (acme/server.ts: the wire format) and, for the settings, the CLI and the admin API.
 */
import type { AcmeUseCaseDeps } from "./context.js";
import { AcmeAccounts } from "./accounts.js";
import { AcmeAuthorizations, type AcmeAuthzDeps } from "./authorizations.js";
import { AcmeNonces } from "./nonces.js";
import { AcmeOrders, type AcmeOrderDeps } from "./orders.js";
import { AcmeRevocation, type AcmeRevocationDeps } from "./revocation.js";
import { AcmeSettingsActs, type AcmeSettingsDeps } from "./settings.js";

export type { AcmeSite, AcmeUseCaseDeps } from "./context.js";
export { AcmeAccounts, AcmeAuthorizations, AcmeNonces, AcmeOrders, AcmeRevocation, AcmeSettingsActs };

/** Everything the ACME use cases need together. */
export type AcmeUseCasesDeps = AcmeUseCaseDeps &
  AcmeOrderDeps &
  AcmeAuthzDeps &
  AcmeRevocationDeps &
  AcmeSettingsDeps;

/** The ACME use cases over one set of dependencies. */
export interface AcmeUseCases {
  nonces: AcmeNonces;
  accounts: AcmeAccounts;
  orders: AcmeOrders;
  authorizations: AcmeAuthorizations;
  revocation: AcmeRevocation;
  settings: AcmeSettingsActs;
}

export function acmeUseCases(d: AcmeUseCasesDeps): AcmeUseCases {
  return {
    nonces: new AcmeNonces(d),
    accounts: new AcmeAccounts(d),
    orders: new AcmeOrders(d),
    authorizations: new AcmeAuthorizations(d),
    revocation: new AcmeRevocation(d),
    settings: new AcmeSettingsActs(d),
  };
}
