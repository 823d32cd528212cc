/**
 * Whether an admin client certificate (`sigil admin client-cert`, shown to the admin API's
 * mutual TLS listener) is still good: TLS has checked its chain to one of Sigil's CAs and
 * the HTTP edge its admin-client purpose; this checks the store, as an OCSP client would
 * (RFC 5280 §6.3: a revoked certificate is not accepted). The certificate must be the very
 * one the CA issued (same serial, same SHA-256 fingerprint) and not revoked.
 */
import { X509Certificate } from "node:crypto";
import type { CaRecord, CertRecord } from "../store/types.js";
import { tryNormalizeSerialHex } from "../x509/serial.js";
import { sha256 } from "./common.js";

/** What the check needs of the store. */
export interface AdminClientCertPort {
  listCas(): Promise<CaRecord[]>;
  getCert(caId: number, serialHex: string): Promise<CertRecord | undefined>;
}

/** Why the certificate `der` is refused, or undefined when it is good. */
export async function adminClientCertRefusal(
  store: AdminClientCertPort,
  der: Buffer,
): Promise<string | undefined> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return "the client certificate cannot be read";
  }
  const issuer = (await store.listCas()).find((ca) => {
    try {
      const c = new X509Certificate(ca.certDer);
      return cert.checkIssued(c) && cert.verify(c.publicKey);
    } catch {
      return false;
    }
  });
  if (!issuer) return "the client certificate was not issued by a CA of this service";
  const serial = tryNormalizeSerialHex(cert.serialNumber);
  const rec = serial === undefined ? undefined : await store.getCert(issuer.id, serial);
  if (!rec || rec.fingerprint !== sha256(der))
    return `the client certificate is not one CA ${issuer.name} issued (serial ${cert.serialNumber.toLowerCase()})`;
  if (rec.status === "revoked" || rec.revokedAt !== null)
    return `the client certificate was revoked (serial ${rec.serialHex}, CA ${issuer.name})`;
  return undefined;
}
