/** The DER writer and reader live in asn1/ (shared with keys/); re-exported for x509/'s callers. */
export * from "../asn1/der.js";
