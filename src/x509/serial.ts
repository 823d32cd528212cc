/**
 * Certificate serial numbers (RFC 5280 §4.1.2.2): positive, unique per issuer, at most 20
 * octets. Sigil uses 16 random octets (CA/Browser Forum BR §7.1: at least 64 bits of
 * CSPRNG output). Randomness is passed in: this module is pure.
 */
import { ErrorCodes, SigilError } from "../errors.js";

/** Length of a Sigil serial number's magnitude, in octets. */
export const SERIAL_BYTES = 16;

/**
 * Makes a serial number magnitude from 16 random octets: the top bit is cleared so the
 * DER INTEGER is positive without a sign octet, and a zero first octet is set to 0x01 so
 * the number always has 16 significant octets and is never zero (RFC 5280 §4.1.2.2).
 * That keeps at least 126 bits of the input's entropy. The input is not modified.
 */
export function newSerial(random16: Buffer): Buffer {
  if (random16.length !== SERIAL_BYTES)
    throw new SigilError(
      ErrorCodes.INTERNAL,
      `newSerial needs ${SERIAL_BYTES} random octets, got ${random16.length}`,
    );
  const s = Buffer.from(random16);
  s[0] = s[0]! & 0x7f;
  if (s[0] === 0) s[0] = 0x01;
  return s;
}

/** Lowercase hex of a serial magnitude without leading zeros ("0" for zero). */
export function serialToHex(magnitude: Buffer): string {
  const hex = magnitude.toString("hex").replace(/^0+/, "");
  return hex === "" ? "0" : hex;
}

/**
 * Normalizes an operator-typed serial number to lowercase hex without leading zeros.
 * Accepts `0x` prefixes, colons or spaces between octets (`6A:0F:...`, as `openssl x509
 * -text` prints), upper or lower case. Decimal is not accepted (it is indistinguishable
 * from hex). At most 20 octets (RFC 5280 §4.1.2.2). Throws SigilError BAD_INPUT.
 */
export function normalizeSerialHex(input: string): string {
  let s = input.trim().replace(/^0x/i, "");
  s = s.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(s))
    throw new SigilError(ErrorCodes.BAD_INPUT, `"${input}" is not a serial number (hex expected)`);
  s = s.replace(/^0+/, "");
  if (s === "") s = "0";
  if (s.length > 40)
    throw new SigilError(
      ErrorCodes.BAD_INPUT,
      `serial number "${input}" is longer than 20 octets (RFC 5280 §4.1.2.2)`,
    );
  return s;
}

/** {@link normalizeSerialHex}, or undefined where it would throw (a search term that is no serial). */
export function tryNormalizeSerialHex(input: string): string | undefined {
  try {
    return normalizeSerialHex(input);
  } catch {
    return undefined;
  }
}

/** Serial magnitude octets from hex in any form {@link normalizeSerialHex} accepts. */
export function hexToSerialBytes(hex: string): Buffer {
  const n = normalizeSerialHex(hex);
  return Buffer.from(n.length % 2 ? "0" + n : n, "hex");
}
