/**
 * A strict PKCS#10 certification request reader (RFC 2986 §4), built on der.ts.
 *
 * Everything a request may propose (subject, key, SANs, other extensions) is read here and
 * checked for form; what is granted is the profile's business (profiles.ts), never the CSR's.
 * Pure: no I/O, no clock.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, SigilError } from "../errors.js";
import {
  checkKeyStrength,
  checkSignatureAlgorithm,
  describePublicKey,
  verifySignature,
  verifySignatureAsync,
} from "./algorithms.js";
import { Tag, children, expectTag, parsePemBlocks, readWhole } from "./der.js";
import type { Node } from "./der.js";
import { decodeDn } from "./dn.js";
import { ExtOid, Pkcs9Oid, oidFromContent } from "./oids.js";
import { decodeSanAll } from "./san.js";
import type { GeneralName, ParsedCsr, UnsupportedGeneralName } from "./types.js";

/** Largest input {@link parseCsr} looks at, in bytes; a CSR with a 16384-bit RSA key is ~5 KiB. */
export const MAX_CSR_BYTES = 64 * 1024;

/** PEM labels of a PKCS#10 request (RFC 7468 §7; "NEW" is the legacy Netscape/MSIE label). */
const CSR_LABELS = new Set(["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]);

/** Microsoft's pre-PKCS#9 extension request attribute, same syntax as extensionRequest. */
const MS_EXT_REQ = "1.3.6.1.4.1.311.2.1.14";

/**
 * What every channel says when it is given a private key where a certificate request belongs
 * (`sigil sign`, `requests submit`, the web portal). It names no part of the key.
 */
export const PRIVATE_KEY_NOT_A_REQUEST =
  "this is a private key: it must never be sent to a CA (or anyone else); give the certificate request (.req or .csr) made with it instead";

/** A PEM private key block of any kind: PRIVATE KEY, ENCRYPTED, RSA, EC, DSA, OPENSSH ... PRIVATE KEY. */
const PRIVATE_KEY_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/**
 * True when `input` is or holds a private key: a PEM private key block anywhere in it, or DER
 * shaped like one (a SEQUENCE whose first element is an INTEGER: PKCS#8 and PKCS#1/SEC 1
 * keys start with their version; a PKCS#10 request starts with a SEQUENCE).
 */
export function looksLikePrivateKey(input: Buffer | string): boolean {
  const text = typeof input === "string" ? input : input.toString("latin1");
  if (PRIVATE_KEY_PEM.test(text)) return true;
  if (typeof input === "string" || input[0] !== Tag.SEQUENCE) return false;
  try {
    return children(readWhole(input))[0]?.tag === Tag.INTEGER;
  } catch {
    return false;
  }
}

function csrError(msg: string, cause?: unknown): SigilError {
  return new SigilError(ErrorCodes.BAD_CSR, msg, cause === undefined ? {} : { cause });
}

const PASS_THROUGH = new Set<string>([
  ErrorCodes.BAD_CSR,
  ErrorCodes.WEAK_KEY,
  ErrorCodes.BAD_SIGNATURE_ALGORITHM,
  ErrorCodes.BAD_SIGNATURE,
]);

/** Runs `f`, turning any non-CSR error into SigilError BAD_CSR with `prefix`. */
function wrap<T>(prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SigilError && PASS_THROUGH.has(e.code)) throw e;
    const msg = e instanceof Error ? e.message.replace(/^malformed DER: /, "") : String(e);
    throw csrError(`${prefix}${msg}`, e);
  }
}

/**
 * Extracts the request's DER from PEM or DER input, with clear errors for everything that
 * is not one PKCS#10 request: empty input, oversized input, other PEM blocks (certificate,
 * private key, ...), truncated PEM, text without PEM.
 */
export function csrDer(input: Buffer | string): Buffer {
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.length;
  if (size === 0) throw csrError("input is empty");
  if (size > MAX_CSR_BYTES)
    throw csrError(`input is too large for a certificate request (${size} bytes, at most ${MAX_CSR_BYTES})`);
  if (typeof input !== "string" && input[0] === Tag.SEQUENCE) return Buffer.from(input);
  const text = typeof input === "string" ? input : input.toString("latin1");
  if (!text.trim()) throw csrError("input is empty");
  // Before anything else is said about it (a key beside a request is refused too).
  if (PRIVATE_KEY_PEM.test(text)) throw csrError(PRIVATE_KEY_NOT_A_REQUEST);
  if (!text.includes("-----BEGIN ")) {
    if (typeof input === "string") throw csrError("not a PKCS#10 certificate request (no PEM block found)");
    throw csrError("not a PKCS#10 certificate request (neither DER nor PEM)");
  }
  const blocks = wrap("CSR PEM is malformed: ", () => parsePemBlocks(text));
  const csrs = blocks.filter((b) => CSR_LABELS.has(b.label));
  if (csrs.length === 0) {
    if (blocks.length > 0)
      throw csrError(`not a PKCS#10 certificate request (found a ${blocks[0]!.label} PEM block)`);
    throw csrError("PEM block is truncated or malformed (no matching -----END line)");
  }
  if (csrs.length > 1) throw csrError(`input holds ${csrs.length} certificate requests; give one at a time`);
  const der = csrs[0]!.der;
  if (der.length === 0) throw csrError("CSR PEM block is empty");
  return der;
}

/**
 * What {@link readCsrStructure} found: the {@link ParsedCsr} fields plus what the
 * signature check needs.
 */
export interface CsrStructure extends ParsedCsr {
  /** CertificationRequestInfo, DER (what the signature covers). */
  info: Buffer;
  /** DER of the signature AlgorithmIdentifier's parameters, when present. */
  signatureParams: Buffer | undefined;
  /** The signature value (BIT STRING contents without the unused-bits octet). */
  signature: Buffer;
}

function classifyNonCsr(parts: Node[]): string | null {
  const first = parts[0];
  if (!first) return "an empty SEQUENCE";
  if (first.tag === Tag.INTEGER) return PRIVATE_KEY_NOT_A_REQUEST;
  if (first.tag !== Tag.SEQUENCE) return null;
  const inner = children(first);
  if (inner[0]?.tag === 0xa0) return "looks like an X.509 certificate";
  if (
    inner[0]?.tag === Tag.INTEGER &&
    (inner[3]?.tag === Tag.UTC_TIME || inner[3]?.tag === Tag.GENERALIZED_TIME)
  )
    return "looks like a CRL";
  if (
    inner[0]?.tag === Tag.SEQUENCE &&
    (inner[2]?.tag === Tag.UTC_TIME || inner[2]?.tag === Tag.GENERALIZED_TIME)
  )
    return "looks like a CRL";
  return null;
}

/**
 * Reads and checks a PKCS#10 request's structure WITHOUT verifying its signature. Only for
 * callers that verify themselves (benchmarks, diagnostics): use {@link parseCsr}.
 *
 * RFC 2986 §4.1: version must be 0; subject a strict Name; subjectPKInfo an accepted key
 * of sufficient strength ({@link describePublicKey}, {@link checkKeyStrength}); attributes
 * [0] (tolerated when absent); extensionRequest (RFC 2985 §5.4.2) read for SANs and the
 * list of requested extension OIDs; the signature algorithm must be an accepted one.
 */
export function readCsrStructure(input: Buffer | string): CsrStructure {
  const der = csrDer(input);
  const top = wrap("CSR is truncated or malformed: ", () => {
    const outer = readWhole(der);
    if (outer.tag !== Tag.SEQUENCE) throw csrError("not a PKCS#10 certificate request (not a DER SEQUENCE)");
    const parts = children(outer);
    const what = classifyNonCsr(parts);
    if (what === PRIVATE_KEY_NOT_A_REQUEST) throw csrError(what);
    if (what) throw csrError(`not a PKCS#10 certificate request (${what})`);
    if (parts.length !== 3)
      throw csrError("CSR is truncated or malformed: CertificationRequest must have 3 fields");
    const cri = expectTag(parts[0], Tag.SEQUENCE, "CertificationRequestInfo");
    const sigAlg = expectTag(parts[1], Tag.SEQUENCE, "signatureAlgorithm");
    const sigBits = expectTag(parts[2], Tag.BIT_STRING, "signature");
    const f = children(cri);
    if (f.length < 3 || f.length > 4)
      throw csrError("CSR is truncated or malformed: CertificationRequestInfo must have 4 fields");
    const version = expectTag(f[0], Tag.INTEGER, "version").content;
    if (version.length !== 1 || version[0] !== 0)
      throw csrError(`unsupported CSR version (RFC 2986 §4.1 requires version 0, v1)`);
    const subjectNode = expectTag(f[1], Tag.SEQUENCE, "subject");
    const spkiNode = expectTag(f[2], Tag.SEQUENCE, "subjectPKInfo");
    const attrs = f[3];
    if (attrs && attrs.tag !== 0xa0) throw csrError("CSR is truncated or malformed: attributes must be [0]");
    const a = children(sigAlg);
    if (a.length < 1 || a.length > 2) throw csrError("CSR is truncated or malformed: bad signatureAlgorithm");
    const algOid = oidFromContent(expectTag(a[0], Tag.OID, "signature algorithm").content);
    if (sigBits.content.length < 2 || sigBits.content[0] !== 0)
      throw csrError("CSR is truncated or malformed: signature BIT STRING must have no unused bits");
    return {
      cri,
      subjectNode,
      spkiNode,
      attrs,
      algOid,
      algParams: a[1]?.raw,
      signature: sigBits.content.subarray(1),
    };
  });

  const subject = wrap("CSR subject: ", () => decodeDn(top.subjectNode));
  const publicKey = wrap("CSR public key: ", () => describePublicKey(top.spkiNode));
  checkKeyStrength(publicKey);

  const requestedSans: GeneralName[] = [];
  const unsupportedSans: UnsupportedGeneralName[] = [];
  const requestedExtensions: string[] = [];
  if (top.attrs) {
    wrap("CSR attributes: ", () => {
      let sawExtReq = false;
      for (const attr of children(top.attrs!)) {
        const af = children(expectTag(attr, Tag.SEQUENCE, "Attribute"));
        if (af.length !== 2) throw csrError("CSR attributes: Attribute must have two fields");
        const type = oidFromContent(expectTag(af[0], Tag.OID, "attribute type").content);
        const values = children(expectTag(af[1], Tag.SET, "attribute values"));
        if (values.length === 0) throw csrError(`CSR attributes: attribute ${type} has no value`);
        if (type !== Pkcs9Oid.extensionRequest && type !== MS_EXT_REQ) continue;
        if (sawExtReq || values.length !== 1)
          throw csrError("CSR attributes: more than one extensionRequest");
        sawExtReq = true;
        readExtensionRequest(values[0]!, requestedExtensions, requestedSans, unsupportedSans);
      }
    });
  }

  const spki = top.spkiNode.raw;
  checkSignatureAlgorithm(top.algOid, top.algParams);
  return {
    der,
    subject,
    subjectDer: top.subjectNode.raw,
    spki,
    publicKey,
    requestedSans,
    unsupportedSans,
    requestedExtensions,
    signatureAlgorithm: top.algOid,
    keyFingerprint: createHash("sha256").update(spki).digest("hex"),
    info: top.cri.raw,
    signatureParams: top.algParams,
    signature: top.signature,
  };
}

/** Reads Extensions (RFC 5280 §4.1) inside an extensionRequest value. */
function readExtensionRequest(
  value: Node,
  oids: string[],
  sans: GeneralName[],
  unsupported: UnsupportedGeneralName[],
): void {
  const exts = children(expectTag(value, Tag.SEQUENCE, "Extensions"));
  for (const ext of exts) {
    const ef = children(expectTag(ext, Tag.SEQUENCE, "Extension"));
    if (ef.length < 2 || ef.length > 3) throw csrError("CSR attributes: Extension must have 2 or 3 fields");
    const extOid = oidFromContent(expectTag(ef[0], Tag.OID, "extnID").content);
    if (ef.length === 3) {
      const crit = expectTag(ef[1], Tag.BOOLEAN, "critical");
      if (crit.content.length !== 1) throw csrError("CSR attributes: bad critical flag");
    }
    const extnValue = expectTag(ef[ef.length - 1], Tag.OCTET_STRING, "extnValue").content;
    // RFC 5280 §4.2: no extension may appear twice.
    if (oids.includes(extOid)) throw csrError(`CSR asks for extension ${extOid} twice`);
    oids.push(extOid);
    if (extOid === ExtOid.subjectAltName) {
      try {
        const decoded = decodeSanAll(extnValue);
        sans.push(...decoded.names);
        unsupported.push(...decoded.unsupported);
      } catch (e) {
        throw csrError(`CSR subjectAltName: ${e instanceof Error ? e.message : String(e)}`, e);
      }
    }
  }
}

/**
 * Reads a PKCS#10 certification request (RFC 2986 §4) strictly and verifies its signature
 * over the CertificationRequestInfo (RFC 2986 §3, §4.2) with the request's own key.
 *
 * Input is DER, or PEM text labelled "CERTIFICATE REQUEST" / "NEW CERTIFICATE REQUEST"
 * (string, or a Buffer not starting with a DER SEQUENCE). Errors, one line each:
 * SigilError BAD_CSR for anything that is not one well-formed request (empty, too large,
 * truncated, certificate, key, garbage), WEAK_KEY for refused keys (RSA < 2048, DSA,
 * curves other than P-256/P-384/P-521), BAD_SIGNATURE_ALGORITHM for MD5, SHA-1, DSA,
 * RSASSA-PSS and unknown algorithms, BAD_SIGNATURE "CSR signature does not verify".
 */
export function parseCsr(input: Buffer | string): ParsedCsr {
  const s = readCsrStructure(input);
  const ok = verifySignature(s.spki, s.signatureAlgorithm, s.signatureParams, s.info, s.signature);
  return checked(s, ok);
}

/**
 * {@link parseCsr} with the signature check on the thread pool ({@link verifySignatureAsync}),
 * for batches: same checks, same errors.
 */
export async function parseCsrAsync(input: Buffer | string): Promise<ParsedCsr> {
  const s = readCsrStructure(input);
  const ok = await verifySignatureAsync(s.spki, s.signatureAlgorithm, s.signatureParams, s.info, s.signature);
  return checked(s, ok);
}

function checked(s: CsrStructure, ok: boolean): ParsedCsr {
  if (!ok) throw new SigilError(ErrorCodes.BAD_SIGNATURE, "CSR signature does not verify");
  return {
    der: s.der,
    subject: s.subject,
    subjectDer: s.subjectDer,
    spki: s.spki,
    publicKey: s.publicKey,
    requestedSans: s.requestedSans,
    unsupportedSans: s.unsupportedSans,
    requestedExtensions: s.requestedExtensions,
    signatureAlgorithm: s.signatureAlgorithm,
    keyFingerprint: s.keyFingerprint,
  };
}
