/** Maps better-sqlite3 errors to {@link SigilError} code STORE with a clear one-line message. */
import { ErrorCodes, SigilError } from "../../errors.js";

/** How long a connection waits for another process's write lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

/** The SQLite extended result code of `e` (`SQLITE_BUSY`, `SQLITE_CONSTRAINT_UNIQUE`, ...), if any. */
export function sqliteCode(e: unknown): string | undefined {
  if (e !== null && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("SQLITE_")) return code;
  }
  return undefined;
}

/**
 * Turns any error from SQLite into a SigilError STORE (a SigilError passes through).
 * `action` says what was being done, e.g. "insert certificate".
 */
export function mapSqliteError(e: unknown, action: string): SigilError {
  if (e instanceof SigilError) return e;
  const code = sqliteCode(e);
  const raw = e instanceof Error ? e.message : String(e);
  let text: string;
  let kind: "user" | "internal" = "internal";
  if (code === undefined) {
    text = raw;
  } else if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    text = `the database is locked by another process (waited ${BUSY_TIMEOUT_MS / 1000} s); try again`;
    kind = "user";
  } else if (code.startsWith("SQLITE_READONLY")) {
    text = "the database is read-only (file permissions, or the store was opened read-only)";
    kind = "user";
  } else if (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB") {
    text = "the database file is damaged or is not a Sigil database";
  } else if (code === "SQLITE_FULL") {
    text = "the disk is full";
  } else if (code.startsWith("SQLITE_CANTOPEN")) {
    text = "cannot open the database file (missing folder or permissions)";
    kind = "user";
  } else if (code.startsWith("SQLITE_IOERR")) {
    text = `I/O error (${code})`;
  } else if (code.startsWith("SQLITE_CONSTRAINT")) {
    text = `constraint violated: ${raw}`;
  } else {
    text = `${raw} (${code})`;
  }
  return new SigilError(ErrorCodes.STORE, `${action}: ${text}`, {
    kind,
    details: code === undefined ? {} : { sqliteCode: code },
    cause: e,
  });
}
