/**
 * PKCS#12 (RFC 7292) built in the browser: the key in a PKCS8ShroudedKeyBag and the
 * certificates in a password-encrypted SafeContents, both PBES2 (RFC 8018 §6.2) with
 * PBKDF2-HMAC-SHA256 and AES-256-CBC, and a SHA-256 password MAC (RFC 7292 §5 / Appendix B).
 * Browsers, Windows and `openssl pkcs12` (3.x, without -legacy) import it.
 */
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { buf } from "./pem";

export const PBE_ITERATIONS = 100_000;
/** The MAC's PKCS#12 KDF runs in JavaScript (pkijs); OpenSSL's default is 2048. */
export const MAC_ITERATIONS = 2048;

const OID_KEY_BAG = "1.2.840.113549.1.12.10.1.2"; // pkcs8ShroudedKeyBag
const OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"; // certBag
const OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20";
const OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21";

function bagAttributes(localKeyId: ArrayBuffer | null, friendlyName: string | null): pkijs.Attribute[] {
  const attrs: pkijs.Attribute[] = [];
  if (friendlyName)
    attrs.push(
      new pkijs.Attribute({
        type: OID_FRIENDLY_NAME,
        values: [new asn1js.BmpString({ value: friendlyName })],
      }),
    );
  if (localKeyId)
    attrs.push(
      new pkijs.Attribute({
        type: OID_LOCAL_KEY_ID,
        values: [new asn1js.OctetString({ valueHex: localKeyId })],
      }),
    );
  return attrs;
}

/**
 * A .p12 holding the key (PKCS#8 DER), the leaf certificate (first) and its chain, protected
 * by the password. The key and the leaf share a localKeyId (the leaf's SHA-256 fingerprint).
 */
export async function buildPkcs12(
  pkcs8Der: Uint8Array,
  certsDer: Uint8Array[],
  password: string,
  friendlyName: string,
): Promise<Uint8Array> {
  if (!certsDer.length) throw new Error("no certificate to put in the PKCS#12 file");
  const pwd = buf(new TextEncoder().encode(password));
  const localKeyId = await crypto.subtle.digest("SHA-256", buf(certsDer[0]!));
  const keyInfo = pkijs.PrivateKeyInfo.fromBER(buf(pkcs8Der));
  const keyBag = new pkijs.PKCS8ShroudedKeyBag({ parsedValue: keyInfo });
  const pbe = {
    password: pwd,
    // pkijs draws the IV itself (crypto.getRandomValues); its type still asks for one.
    contentEncryptionAlgorithm: {
      name: "AES-CBC",
      length: 256,
    } as unknown as pkijs.ContentEncryptionAlgorithm,
    hmacHashAlgorithm: "SHA-256",
    iterationCount: PBE_ITERATIONS,
  };
  await keyBag.makeInternalValues(pbe);
  const certBags = certsDer.map(
    (der, i) =>
      new pkijs.SafeBag({
        bagId: OID_CERT_BAG,
        bagValue: new pkijs.CertBag({ parsedValue: pkijs.Certificate.fromBER(buf(der)) }),
        bagAttributes: i === 0 ? bagAttributes(localKeyId, friendlyName) : undefined,
      }),
  );
  const pfx = new pkijs.PFX({
    parsedValue: {
      integrityMode: 0, // password integrity (RFC 7292 §4)
      authenticatedSafe: new pkijs.AuthenticatedSafe({
        parsedValue: {
          safeContents: [
            {
              privacyMode: 0, // the key bag is itself encrypted
              value: new pkijs.SafeContents({
                safeBags: [
                  new pkijs.SafeBag({
                    bagId: OID_KEY_BAG,
                    bagValue: keyBag,
                    bagAttributes: bagAttributes(localKeyId, friendlyName),
                  }),
                ],
              }),
            },
            { privacyMode: 1, value: new pkijs.SafeContents({ safeBags: certBags }) },
          ],
        },
      }),
    },
  });
  await pfx.parsedValue!.authenticatedSafe!.makeInternalValues({ safeContents: [{}, pbe] });
  await pfx.makeInternalValues({
    password: pwd,
    iterations: MAC_ITERATIONS,
    pbkdf2HashAlgorithm: "SHA-256",
    hmacHashAlgorithm: "SHA-256",
  });
  return new Uint8Array(pfx.toSchema().toBER(false));
}
