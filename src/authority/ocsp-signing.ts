/**
 * Signing OCSP answers (RFC 6960) with a CA's delegated responder: the pieces the authority
 * uses when it issues, revokes, refreshes answers, and answers live. The responder's
 * lifecycle (issue, renew) is in authority.ts; this module only turns a certificate's
 * state into a signed answer.
 */
import type { Signer } from "../keys/types.js";
import type { CaRecord, OcspEntry, OcspResponderRecord } from "../store/types.js";
import { parseCertificate } from "../x509/cert-reader.js";
import {
  buildOcspResponse,
  certIdFromPrefix,
  certIdPrefix,
  makeResponderTemplate,
  type OcspCertStatus,
  type OcspResponderTemplate,
} from "../x509/ocsp.js";

/** A CA's responder, opened for signing. */
export interface ResponderContext {
  ca: CaRecord;
  record: OcspResponderRecord;
  signer: Signer;
  template: OcspResponderTemplate;
  /** The CA's subject Name DER and SPKI: what CertIDs hash (RFC 6960 §4.1.1). */
  issuerNameDer: Buffer;
  issuerSpki: Buffer;
  /** The SHA-1 CertID up to the serial, hashed once per responder (not per answer). */
  certIdPrefix: Buffer;
}

/** Builds the signing context of a responder whose key is open. */
export function responderContext(
  ca: CaRecord,
  record: OcspResponderRecord,
  signer: Signer,
): ResponderContext {
  const caCert = parseCertificate(ca.certDer);
  return {
    ca,
    record,
    signer,
    // RFC 6960 §4.2.2.2: a delegated responder's certificate travels in the response, so
    // clients can check it was issued by the CA for OCSP signing.
    template: makeResponderTemplate({
      responderSpki: signer.spki,
      signatureAlgorithm: signer.algorithmIdentifier,
      certs: [record.certDer],
    }),
    issuerNameDer: caCert.subjectDer,
    issuerSpki: caCert.spki,
    certIdPrefix: certIdPrefix(caCert.subjectDer, caCert.spki),
  };
}

/** The status a stored certificate state answers (RFC 6960 §2.2). */
export function statusOf(e: Pick<OcspEntry, "status" | "revokedAt" | "revocationReason">): OcspCertStatus {
  if (e.status === "revoked")
    return {
      kind: "revoked",
      revokedAt: e.revokedAt ?? 0,
      ...(e.revocationReason ? { reason: e.revocationReason } : {}),
    };
  return { kind: "good" };
}

/**
 * thisUpdate (now, whole seconds) and nextUpdate (thisUpdate + validity, never after the
 * responder certificate expires: an answer must not outlive the key that signed it).
 */
export function answerTimes(r: ResponderContext, now: number, validityMs: number): [number, number] {
  const thisUpdate = Math.floor(now / 1000) * 1000;
  return [thisUpdate, Math.min(thisUpdate + validityMs, r.record.notAfter)];
}

/** One signed OCSPResponse for one certificate (SHA-1 CertID, as RFC 5019 §2.1.1 clients ask). */
export function signAnswer(
  r: ResponderContext,
  serialHex: string,
  status: OcspCertStatus,
  thisUpdate: number,
  nextUpdate: number,
): Promise<Buffer> {
  return buildOcspResponse(
    r.template,
    thisUpdate,
    [{ certIdDer: certIdFromPrefix(r.certIdPrefix, serialHex), status, thisUpdate, nextUpdate }],
    (data) => r.signer.sign(data),
  );
}
