/**
 * The port through which the ACME use cases validate challenges (RFC 8555 §8): implemented
 * by the ACME edge (src/acme/challenges.ts, which does the network I/O) and injected.
 */
import type { AcmeIdentifier, StoredProblem } from "../../store/acme-records.js";

/** Where validation connects and what it found: the outcome of one challenge attempt. */
export type ValidationResult = { ok: true } | { ok: false; problem: StoredProblem };

/** Validation of the three challenge types; implemented in challenges.ts. */
export interface Validators {
  /**
   * http-01 (RFC 8555 §8.3): GET http://{name}:{port}/.well-known/acme-challenge/{token}
   * at an address the name resolves to; the body (trimmed of trailing whitespace) must be
   * the key authorization `token.thumbprint`. Redirects are not followed.
   */
  http01(identifier: AcmeIdentifier, token: string, keyAuthorization: string): Promise<ValidationResult>;
  /**
   * tls-alpn-01 (RFC 8737 §3): TLS to {address}:{port} with SNI = the name and ALPN
   * `acme-tls/1`; the self-signed certificate must name the identifier alone in its SAN
   * and carry the critical id-pe-acmeIdentifier extension holding SHA-256(keyAuthorization).
   */
  tlsAlpn01(identifier: AcmeIdentifier, keyAuthorization: string): Promise<ValidationResult>;
  /**
   * dns-01 (RFC 8555 §8.4): a TXT record at `_acme-challenge.{name}` equal to
   * base64url(SHA-256(keyAuthorization)), looked up at the configured DNS server or the
   * system resolver.
   */
  dns01(identifier: AcmeIdentifier, keyAuthorization: string): Promise<ValidationResult>;
}
