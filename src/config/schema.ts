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

/** The OCSP responder (RFC 6960, RFC 5019) and its delegated responder certificates. */
const ocsp = z
  .object({
    /** nextUpdate of pre-signed answers = thisUpdate + this many hours; refreshed at half-life. */
    validityHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24 * 4),
    /** Cache-Control max-age of answers (RFC 5019 §6.2), capped by the answer's nextUpdate. */
    maxAgeSeconds: z.number().int().min(0).max(86400).default(300),
    /**
     * A request with a nonce: `ignore` answers with the pre-signed answer, without nonce
     * (RFC 5019 §2.2.1); `sign` signs a fresh answer live with the nonce echoed (RFC 6960 §4.4.1).
     */
    nonce: z.enum(["ignore", "sign"]).default("ignore"),
    /** Validity of each CA's delegated responder certificate (RFC 6960 §4.2.2.2). */
    responderDays: z.number().int().min(2).max(366).default(30),
    /** Renew the responder certificate when fewer days than this remain. */
    responderRenewDays: z.number().int().min(1).max(365).default(10),
    /** Key type of responder keys; default: the CA's own key type. */
    responderKeyType: z.enum(KEY_TYPES as [string, ...string[]]).optional(),
  })
  .strict()
  .refine((o) => o.responderRenewDays < o.responderDays, {
    message: "responderRenewDays must be less than responderDays",
  })
  .refine((o) => o.validityHours < o.responderRenewDays * 24, {
    message: "validityHours must be shorter than responderRenewDays (answers never outlive their responder)",
  });

/** `sigil serve`. */
const serve = z
  .object({
    /** HOST:PORT to listen on (--listen overrides). */
    listen: z.string().default("127.0.0.1:8080"),
    /** Worker processes (--workers overrides); 0 means one per core. */
    workers: z.number().int().min(0).max(64).default(0),
    /** Log every request (JSON, pino); off by default, /metrics counts them. */
    logRequests: z.boolean().default(false),
    /** Seconds between background job runs (responder renewal, answer refresh, CRL refresh). */
    jobIntervalSeconds: z.number().int().min(1).max(3600).default(60),
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
    ocsp: ocsp.default(ocsp.parse({})),
    serve: serve.default(serve.parse({})),
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
