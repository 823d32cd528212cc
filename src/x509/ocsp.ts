/**
 * The OCSP codec of the responder's hot path (RFC 6960, profiled by RFC 5019).
 *
 * - {@link parseOcspRequest} is a strict, allocation-light reader of OCSPRequest: it walks
 *   the DER in place and returns views into the caller's buffer, never copies.
 * - {@link buildResponseData} / {@link buildOcspResponse} write ResponseData and the whole
 *   OCSPResponse into one buffer each, from an {@link OcspResponderTemplate} that holds the
 *   parts that never change for a responder (responderID, signature algorithm, certs).
 * - {@link certIdFor} / {@link issuerHashes} compute CertIDs and issuer hashes (RFC 6960
 *   §4.1.1) so a responder can index its issuers and pre-sign answers.
 *
 * Pure: no I/O, no clock (times are passed in), signing through a callback.
 */
export { OCSP_HASHES } from "./ocsp-der.js";
export type { OcspHash } from "./ocsp-der.js";
export {
  MAX_OCSP_CERT_IDS,
  MAX_OCSP_NONCE_BYTES,
  MAX_OCSP_REQUEST_BYTES,
  parseOcspRequest,
} from "./ocsp-request.js";
export type { OcspCertId, OcspRequest } from "./ocsp-request.js";
export { readOcspResponseTimes } from "./ocsp-response-times.js";
export { certIdFor, certIdFromPrefix, certIdPrefix, issuerHashes } from "./ocsp-certid.js";
export {
  assembleOcspResponse,
  buildOcspResponse,
  buildResponseData,
  makeResponderTemplate,
  ocspErrorResponse,
} from "./ocsp-response.js";
export type {
  OcspCertStatus,
  OcspErrorStatus,
  OcspResponderTemplate,
  OcspSingleInput,
} from "./ocsp-response.js";
