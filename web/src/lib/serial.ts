/**
 * Serial numbers as people type or paste them. `openssl x509 -serial` prints even-length
 * upper-case hex ("0A1B..."), `openssl x509 -text` colon-separated octets, and Sigil lower-case
 * hex without leading zeros; all name the same INTEGER (RFC 5280 §4.1.2.2). Mirrors
 * `normalizeSerialHex` in src/x509/serial.ts, which the server applies to the same input.
 */

/** Lower-case hex without `0x`, separators or leading zeros; null when it is not hex. */
export function normalizeSerial(input: string): string | null {
  const s = input.trim().replace(/^0x/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]+$/.test(s)) return null;
  return s.replace(/^0+/, "") || "0";
}

/** Whether a typed serial names the same number as a certificate's. */
export function sameSerial(typed: string, serial: string): boolean {
  const a = normalizeSerial(typed);
  return a !== null && a === normalizeSerial(serial);
}
