/**
 * The configuration schema (zod) and its pure validation. Loading from disk lives in load.ts.
 */
import { z } from "zod";
import { SigilError, ErrorCodes } from "../errors.js";
import { KEY_TYPES } from "../keys/types.js";

const subjectDefaults = z
  .object({
    C: z.string().length(2).optional(),
    ST: z.string().max(128).optional(),
    L: z.string().max(128).optional(),
    O: z.string().max(64).optional(),
    OU: z.string().max(64).optional(),
    emailAddress: z.string().max(255).optional(),
  })
  .strict();

/** The configuration file (`SIGIL_HOME/sigil.json`); every field has a default. */
export const configSchema = z
  .object({
    /** Base URL placed in issued certificates for CDP and AIA (RFC 5280 §4.2.1.13, §4.2.2.1). */
    publicUrl: z.string().url().default("http://127.0.0.1:8080"),
    /** Defaults for prompted subjects, as `openssl req` shows them in brackets. */
    subjectDefaults: subjectDefaults.default({}),
    /** Key type for new CAs and requests when none is given. */
    defaultKeyType: z.enum(KEY_TYPES as [string, ...string[]]).default("p256"),
    crl: z
      .object({
        /** nextUpdate = thisUpdate + this many hours (RFC 5280 §5.1.2.5). */
        validityHours: z
          .number()
          .int()
          .min(1)
          .max(24 * 366)
          .default(24 * 7),
      })
      .strict()
      .default({ validityHours: 24 * 7 }),
    /** Seconds a new certificate's notBefore is set in the past, for clients with slow clocks. */
    backdateSeconds: z.number().int().min(0).max(86400).default(60),
  })
  .strict();

/** The validated, frozen configuration. */
export type Config = Readonly<z.infer<typeof configSchema>>;

/** Validates raw JSON into a frozen {@link Config}; a clear one-line error names the bad field. */
export function validateConfig(raw: unknown, source = "config"): Config {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? issue.path.join(".") : "(root)";
    throw new SigilError(ErrorCodes.CONFIG, `${source}: ${where}: ${issue.message}`);
  }
  return deepFreeze(r.data);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
