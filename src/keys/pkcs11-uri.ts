/**
 * `pkcs11:` keyRefs: RFC 7512 PKCS#11 URIs naming one key by token label and object label,
 * `pkcs11:token=<label>;object=<label>`. Pure string handling, no PKCS#11 calls.
 */
import { SigilError, ErrorCodes } from "../errors.js";

/** The keyRef URI scheme of PKCS#11 keys (RFC 7512 §3). */
export const PKCS11_KEYREF_SCHEME = "pkcs11:";

/** The token and object a `pkcs11:` keyRef names. */
export interface Pkcs11KeyRef {
  /** Token label (RFC 7512 §2.3 `token`, CK_TOKEN_INFO.label without its blank padding). */
  token: string;
  /** Object label (RFC 7512 §2.3 `object`, CKA_LABEL). */
  object: string;
}

/**
 * Characters a path attribute value may hold unencoded (RFC 7512 §2.3): pk11-unreserved
 * (ALPHA / DIGIT / "-" / "." / "_" / "~") and pk11-path-res-avail
 * (":" "[" "]" "@" "!" "$" "'" "(" ")" "*" "+" "," "=" "&").
 */
const PCHAR = /^[A-Za-z0-9\-._~:[\]@!$'()*+,=&]$/;

/** Percent-encodes a path attribute value: every UTF-8 octet outside pk11-pchar as %XX (RFC 7512 §2.3). */
export function encodePk11Value(value: string): string {
  let out = "";
  for (const ch of value) {
    if (PCHAR.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, "utf8")) out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function bad(keyRef: string, why: string): SigilError {
  return new SigilError(ErrorCodes.BAD_INPUT, `bad PKCS#11 key reference ${JSON.stringify(keyRef)}: ${why}`);
}

/** Decodes a path attribute value; raw characters outside pk11-pchar and bad escapes are refused. */
function decodePk11Value(keyRef: string, raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length;) {
    const ch = raw[i]!;
    if (ch === "%") {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw bad(keyRef, `bad percent-encoding at "${raw.slice(i, i + 3)}"`);
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else {
      if (!PCHAR.test(ch)) throw bad(keyRef, `character ${JSON.stringify(ch)} must be percent-encoded`);
      bytes.push(ch.charCodeAt(0));
      i++;
    }
  }
  const buf = Buffer.from(bytes);
  const text = buf.toString("utf8");
  if (!Buffer.from(text, "utf8").equals(buf)) throw bad(keyRef, "a value is not valid UTF-8");
  return text;
}

/** The keyRef of object `object` on token `token`: `pkcs11:token=...;object=...`, percent-encoded. */
export function pkcs11KeyRef(token: string, object: string): string {
  if (!token || !object)
    throw new SigilError(ErrorCodes.BAD_INPUT, "a PKCS#11 key needs a token and an object label");
  return `${PKCS11_KEYREF_SCHEME}token=${encodePk11Value(token)};object=${encodePk11Value(object)}`;
}

/**
 * Parses a keyRef strictly: the `pkcs11:` scheme, path attributes `token` and `object`
 * each exactly once and non-empty, nothing else (no query part, no other attribute, no
 * empty attribute). Throws SigilError BAD_INPUT naming the fault.
 */
export function parsePkcs11KeyRef(keyRef: string): Pkcs11KeyRef {
  if (!keyRef.startsWith(PKCS11_KEYREF_SCHEME)) throw bad(keyRef, "it does not start with pkcs11:");
  const rest = keyRef.slice(PKCS11_KEYREF_SCHEME.length);
  if (rest.includes("?")) throw bad(keyRef, "query attributes are not supported");
  const seen = new Map<string, string>();
  for (const part of rest.split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw bad(keyRef, `expected name=value, got ${JSON.stringify(part)}`);
    const name = part.slice(0, eq);
    if (name !== "token" && name !== "object")
      throw bad(keyRef, `attribute ${JSON.stringify(name)} is not supported (use token and object)`);
    if (seen.has(name)) throw bad(keyRef, `attribute ${name} is repeated`);
    const value = decodePk11Value(keyRef, part.slice(eq + 1));
    if (!value) throw bad(keyRef, `attribute ${name} is empty`);
    seen.set(name, value);
  }
  const token = seen.get("token");
  const object = seen.get("object");
  if (token === undefined) throw bad(keyRef, "the token attribute is missing");
  if (object === undefined) throw bad(keyRef, "the object attribute is missing");
  return { token, object };
}
