/**
 * Fixtures shared by the OCSP tests (ocsp.test.ts: responses; ocsp-request.test.ts: requests
 * and CertIDs): a small hierarchy built by Sigil's own writer, and requests built with
 * @peculiar/asn1-ocsp as the oracle. Defines no test.
 */
import "reflect-metadata";
import * as asnOcsp from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Extension, SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before } from "node:test";
import { SigilError } from "../errors.js";
import type { KeyType } from "../keys/types.js";
import { describePublicKey } from "./algorithms.js";
import { buildCertificate, makeIssuerTemplate } from "./certificate.js";
import type { IssuerTemplate } from "./certificate.js";
import { octetString } from "./der.js";
import { encodeDn, parseDn } from "./dn.js";
import { HashOid } from "./oids.js";
import type { OcspHash } from "./ocsp.js";
import { PROFILES } from "./profiles.js";
import type { Profile } from "./profiles.js";
import { newSerial, serialToHex } from "./serial.js";
import { makeSigner } from "./testkit.test.js";
import type { TestKey } from "./testkit.test.js";

export const DAY = 86_400_000;
/** Real time: openssl checks thisUpdate/nextUpdate and certificate validity against its clock. */
export const NOW = Math.floor(Date.now() / 1000) * 1000;

export const HASH_OIDS: Record<OcspHash, string> = HashOid;

// ---------------------------------------------------------------------------------------
// A small hierarchy built by Sigil's own writer
// ---------------------------------------------------------------------------------------

export interface Cert {
  key: TestKey;
  der: Buffer;
  subjectDer: Buffer;
  serialHex: string;
}

export interface Ca extends Cert {
  template: IssuerTemplate;
}

async function makeRoot(keyType: KeyType, cn: string): Promise<Ca> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(parseDn(`/C=BE/O=Gentoo Fictional, Inc./CN=${cn}`));
  const self = makeIssuerTemplate({ issuerSubjectDer: subjectDer, issuerSpki: key.spki, signer: key });
  const serial = newSerial(randomBytes(16));
  const der = await buildCertificate(self, {
    serial,
    notBefore: NOW - DAY,
    notAfter: NOW + 365 * DAY,
    subjectDer,
    spki: key.spki,
    profile: PROFILES.ca!,
    publicKey: describePublicKey(key.spki),
    sans: [],
    pathLen: 0,
    selfSigned: true,
  });
  const template = makeIssuerTemplate({
    issuerCertDer: der,
    issuerSubjectDer: subjectDer,
    issuerSpki: key.spki,
    signer: key,
    ocspUrl: "http://127.0.0.1:1/ocsp",
  });
  return { key, der, subjectDer, serialHex: serialToHex(serial), template };
}

async function issue(ca: Ca, keyType: KeyType, cn: string, profile: Profile, serial?: Buffer): Promise<Cert> {
  const key = makeSigner(keyType);
  const subjectDer = encodeDn(parseDn(`/O=Gentoo Fictional, Inc./CN=${cn}`));
  const s = serial ?? newSerial(randomBytes(16));
  const der = await buildCertificate(ca.template, {
    serial: s,
    notBefore: NOW - 3_600_000,
    notAfter: NOW + 30 * DAY,
    subjectDer,
    spki: key.spki,
    profile,
    publicKey: describePublicKey(key.spki),
    sans: profile.sanTypes.includes("dns") ? [{ type: "dns", value: cn }] : [],
  });
  return { key, der, subjectDer, serialHex: serialToHex(s) };
}

// The CA, its leaves and its responders that every OCSP test works on: live bindings, set by
// the before hook useOcspHierarchy registers in the test file that calls it.
export let ca: Ca;
export let good: Cert;
export let revoked: Cert;
export let unknown: Cert;
/** A leaf whose serial has its top bit set: its INTEGER carries a leading 0x00. */
export let signBit: Cert;
/** One delegated responder per key type (left empty unless asked for). */
export const responders = new Map<KeyType, Cert>();

export function useOcspHierarchy(opts: { responders: boolean }): void {
  before(async () => {
    ca = await makeRoot("p256", "GenFic OCSP Test CA");
    good = await issue(ca, "p256", "good.genfic.example", PROFILES.system!);
    revoked = await issue(ca, "p256", "revoked.genfic.example", PROFILES.system!);
    unknown = await issue(ca, "p256", "unknown.genfic.example", PROFILES.system!);
    const high = randomBytes(16);
    high[0] = 0x80 | high[0]!;
    signBit = await issue(ca, "p256", "signbit.genfic.example", PROFILES.system!, high);
    if (opts.responders)
      for (const kt of ["p256", "rsa2048", "ed25519"] as KeyType[])
        responders.set(kt, await issue(ca, kt, `ocsp-${kt}.genfic.example`, PROFILES.ocsp!));
  });
}

export function spkiBits(spki: Buffer): Buffer {
  return Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey);
}

/** CertID built with @peculiar/asn1-ocsp from hashes computed here (the oracle). */
export function peculiarCertId(
  issuer: Cert,
  serialHex: string,
  hash: OcspHash,
  params: "null" | "absent" = "null",
): asnOcsp.CertID {
  const h = (b: Buffer) => createHash(hash).update(b).digest();
  let hex = serialHex.length % 2 ? "0" + serialHex : serialHex;
  if (parseInt(hex[0]!, 16) >= 8) hex = "00" + hex;
  return new asnOcsp.CertID({
    hashAlgorithm: new AlgorithmIdentifier({
      algorithm: HASH_OIDS[hash],
      ...(params === "null" ? { parameters: new Uint8Array([5, 0]).buffer } : {}),
    }),
    issuerNameHash: new OctetString(h(issuer.subjectDer)),
    issuerKeyHash: new OctetString(h(spkiBits(issuer.key.spki))),
    serialNumber: new Uint8Array(Buffer.from(hex, "hex")).buffer,
  });
}

export function peculiarRequest(certIds: asnOcsp.CertID[], nonce?: Buffer, extra: Extension[] = []): Buffer {
  const exts: Extension[] = [...extra];
  if (nonce)
    exts.push(
      new Extension({
        extnID: asnOcsp.id_pkix_ocsp_nonce,
        critical: false,
        extnValue: new OctetString(nonce),
      }),
    );
  const req = new asnOcsp.OCSPRequest({
    tbsRequest: new asnOcsp.TBSRequest({
      requestList: certIds.map((c) => new asnOcsp.Request({ reqCert: c })),
      ...(exts.length ? { requestExtensions: exts } : {}),
    }),
  });
  return Buffer.from(AsnConvert.serialize(req));
}

/** extnValue content for a 16..32-octet nonce, as OpenSSL and RFC 9654 §2.1 write it. */
export function nonceValue(n = 16): Buffer {
  return octetString(randomBytes(n));
}

export function assertBadInput(f: () => unknown, what: string): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SigilError, `${what}: threw ${String(e)} instead of a SigilError`);
    assert.equal(e.code, "bad_input", `${what}: code ${e.code}`);
    assert.ok(!e.message.includes("\n"), `${what}: message is not one line`);
    return;
  }
  assert.fail(`${what}: did not throw`);
}
