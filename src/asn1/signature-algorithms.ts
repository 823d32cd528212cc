/**
 * The signature algorithm Sigil writes for each key type: its OID, its DER
 * AlgorithmIdentifier and the hash it signs with. One table, used by the signers (keys/)
 * and by the certificate, CRL, CSR and OCSP writers (x509/).
 *
 * Pure: no I/O, no clock.
 */
import { ErrorCodes, SigilError } from "../errors.js";
import type { KeyType } from "../keys/types.js";
import { NULL, oid, seq } from "./der.js";
import { SigOid } from "./oids.js";

/** The signature algorithm Sigil writes for one key type. */
export interface SignatureAlgorithm {
  /** Dotted OID of the signature algorithm. */
  oid: string;
  /** DER AlgorithmIdentifier, as it goes in a certificate, CRL or CSR. */
  der: Buffer;
  /** Node hash name for `crypto.sign`, or null for EdDSA (the hash is part of the scheme). */
  hash: string | null;
}

const RSA_SHA256: SignatureAlgorithm = {
  oid: SigOid.sha256WithRSAEncryption,
  // RFC 4055 §5: the parameters MUST be NULL for sha*WithRSAEncryption.
  der: seq(oid(SigOid.sha256WithRSAEncryption), NULL),
  hash: "sha256",
};

/**
 * The signature algorithm Sigil uses for a key type (RFC 5280 §4.1.1.2):
 * sha256WithRSAEncryption with NULL parameters for RSA (RFC 4055 §5), ecdsa-with-SHA256 /
 * ecdsa-with-SHA384 without parameters for P-256 / P-384 (RFC 5758 §3.2), and id-Ed25519
 * without parameters (RFC 8410 §3).
 */
export function signatureAlgorithmFor(keyType: KeyType): SignatureAlgorithm {
  switch (keyType) {
    case "rsa2048":
    case "rsa3072":
    case "rsa4096":
      return RSA_SHA256;
    case "p256":
      return { oid: SigOid.ecdsaWithSHA256, der: seq(oid(SigOid.ecdsaWithSHA256)), hash: "sha256" };
    case "p384":
      return { oid: SigOid.ecdsaWithSHA384, der: seq(oid(SigOid.ecdsaWithSHA384)), hash: "sha384" };
    case "ed25519":
      return { oid: SigOid.Ed25519, der: seq(oid(SigOid.Ed25519)), hash: null };
    default: {
      const never: never = keyType;
      throw new SigilError(ErrorCodes.INTERNAL, `unknown key type ${String(never)}`);
    }
  }
}
