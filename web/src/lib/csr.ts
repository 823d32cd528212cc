/**
 * Key generation and PKCS#10 (RFC 2986) requests built in the browser with WebCrypto and
 * pkijs. The private key never leaves the caller: only the CSR's PEM text is returned.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { toPem } from "./pem";

export type KeyAlg = "P-256" | "RSA-2048";

/**
 * A new key pair. Extractable, because the PKCS#8 form is exported exactly once, to be
 * encrypted under the user's password (custody.ts); nothing else reads it.
 */
export async function generateKeyPair(alg: KeyAlg): Promise<CryptoKeyPair> {
  if (alg === "P-256") {
    return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  }
  return crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
}

export interface CsrSubject {
  commonName: string;
  /** rfc822Name SAN (a person's certificate). */
  email?: string;
  /** dNSName SANs (a system's certificate). */
  dnsNames?: string[];
}

/** A signed PKCS#10 request (SHA-256) for the key pair, as PEM. */
export async function buildCsr(keys: CryptoKeyPair, subject: CsrSubject): Promise<string> {
  const csr = new pkijs.CertificationRequest();
  csr.version = 0;
  csr.subject.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({
      type: "2.5.4.3", // commonName
      value: new asn1js.Utf8String({ value: subject.commonName }),
    }),
  );
  await csr.subjectPublicKeyInfo.importKey(keys.publicKey);
  const names: pkijs.GeneralName[] = [];
  // RFC 5280 §4.2.1.6: rfc822Name is [1], dNSName is [2].
  if (subject.email) names.push(new pkijs.GeneralName({ type: 1, value: subject.email }));
  for (const d of subject.dnsNames ?? []) names.push(new pkijs.GeneralName({ type: 2, value: d }));
  if (names.length) {
    // RFC 2985 §5.4.2 extensionRequest attribute carrying subjectAltName (2.5.29.17).
    const san = new pkijs.Extension({
      extnID: "2.5.29.17",
      critical: false,
      extnValue: new pkijs.GeneralNames({ names }).toSchema().toBER(false),
    });
    csr.attributes = [
      new pkijs.Attribute({
        type: "1.2.840.113549.1.9.14",
        values: [new pkijs.Extensions({ extensions: [san] }).toSchema()],
      }),
    ];
  }
  await csr.sign(keys.privateKey, "SHA-256");
  return toPem(csr.toSchema().toBER(false), "CERTIFICATE REQUEST");
}
