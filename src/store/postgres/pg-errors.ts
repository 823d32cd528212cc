/** Maps node-postgres errors to {@link SigilError} code STORE, and keeps passwords out of messages. */
import { ErrorCodes, SigilError } from "../../errors.js";

/**
 * `url` with its password (and any `password=` query parameter) replaced by `***`, for
 * messages and logs. Something that does not parse as a URL is reduced to its scheme.
 */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    if (u.searchParams.has("password")) u.searchParams.set("password", "***");
    return u.toString();
  } catch {
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? "";
    return `${scheme}//(unparseable URL)`;
  }
}

/** The SQLSTATE (`23505`, ...) or Node error code (`ECONNREFUSED`, ...) of `e`, if any. */
export function pgCode(e: unknown): string | undefined {
  if (e !== null && typeof e === "object") {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * Turns any error from PostgreSQL or the connection into a SigilError STORE (a SigilError
 * passes through). `action` says what was being done; `where` is the redacted URL.
 */
export function mapPgError(e: unknown, action: string, where?: string): SigilError {
  if (e instanceof SigilError) return e;
  const code = pgCode(e);
  const raw = (e instanceof Error ? e.message : String(e)).replace(/postgres(ql)?:\/\/[^\s]*/gi, (m) =>
    redactDatabaseUrl(m),
  );
  let text: string;
  let kind: "user" | "internal" = "internal";
  const at = where ? ` at ${where}` : "";
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ETIMEDOUT" || code === "EHOSTUNREACH") {
    text = `cannot reach the database${at} (${code})`;
    kind = "user";
  } else if (code === "28P01" || code === "28000") {
    text = `the database refused the login${at} (${raw})`;
    kind = "user";
  } else if (code === "3D000") {
    text = `the database does not exist${at} (${raw})`;
    kind = "user";
  } else if (code === "25006") {
    text = "the database is read-only (the store was opened read-only)";
    kind = "user";
  } else if (code === "40P01" || code === "40001") {
    text = `the database gave up on a conflicting transaction (${code}); try again`;
    kind = "user";
  } else if (code === "53300") {
    text = "the database has too many connections; try again";
    kind = "user";
  } else if (code === "53100") {
    text = "the database's disk is full";
  } else if (code?.startsWith("23")) {
    text = `constraint violated: ${raw}`;
  } else if (code?.startsWith("57P") || code?.startsWith("08") || code === "ECONNRESET") {
    text = `lost the database connection${at} (${code}); try again`;
    kind = "user";
  } else {
    text = code === undefined ? raw : `${raw} (${code})`;
  }
  return new SigilError(ErrorCodes.STORE, `${action}: ${text}`, {
    kind,
    details: code === undefined ? {} : { pgCode: code },
    cause: e,
  });
}
