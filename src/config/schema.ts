/**
 * The configuration schema (zod) and its pure validation. Loading from disk lives in load.ts.
 */
import { z } from "zod";
import { SigilError, ErrorCodes } from "../errors.js";
import { KEY_TYPES } from "../keys/types.js";
import { isInternalProfile } from "../x509/profiles.js";
import { parseNamePattern } from "../policy/ca-rules.js";
import { REQUEST_CHANNELS } from "../policy/channels.js";

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

/**
 * The admin API (`/api/v1/admin/...`, served by the primary process of `sigil serve`):
 * on a Unix socket in the data folder, and over TLS with a server certificate Sigil issues
 * to itself. Tokens and passphrases cross plain HTTP only on loopback.
 */
const admin = z
  .object({
    /** Unix socket path (relative: inside the data folder); null: none. Mode 0660. */
    socket: z.string().min(1).nullable().default("admin.sock"),
    /** HOST:PORT for the TLS (or, on loopback only, plain HTTP) listener; null: none. */
    listen: z.string().nullable().default("127.0.0.1:8443"),
    /** TLS on `listen` (default). false is accepted only for a loopback address. */
    tls: z.boolean().default(true),
    /** The CA that issues the admin server's certificate (default: the first CA whose default profile is `system`). */
    tlsCa: z.string().optional(),
    /** Extra DNS names / IPs for the server certificate (localhost and 127.0.0.1 are always in). */
    hostnames: z.array(z.string().min(1)).default([]),
    /**
     * Mutual TLS: also require a client certificate issued by one of Sigil's CAs (the token
     * is still required). Off by default.
     */
    mtls: z.boolean().default(false),
  })
  .strict();

/** The web portal and admin console (web/, served by `sigil serve`). */
const web = z
  .object({
    /** CA for portal requests of kind "user" (default: the first non-root CA whose default profile is user). */
    userCa: z.string().optional(),
    /** CA for portal requests of kind "system" (default: likewise, profile system). */
    systemCa: z.string().optional(),
    /** Portal submissions allowed per client address and minute. */
    submitPerMinute: z.number().int().min(1).max(10_000).default(10),
    /**
     * Offer the admin API (and so the console's calls) on the public listener even when it
     * is not loopback: only behind a TLS proxy. The admin listener (TLS) always offers it.
     */
    adminOnPublic: z.boolean().default(false),
  })
  .strict();

const CHANNELS = REQUEST_CHANNELS;

/** A profile a setting may name: internal profiles (`ocsp`, `ca`) are Sigil's own. */
const userProfile = z
  .string()
  .min(1)
  .refine((n) => !isInternalProfile(n), {
    message: "is an internal profile: only Sigil itself issues it (choose user or system)",
  });

/**
 * A CA's own issuance rule (policy/ca-rules.ts): the profiles it may issue under (a root:
 * none unless listed) and the names it may certify; holds on every channel.
 */
const caRule = z
  .object({
    profiles: z.array(userProfile).optional(),
    names: z
      .array(
        z
          .string()
          .min(1)
          .max(253)
          .superRefine((v, ctx) => {
            try {
              parseNamePattern(v);
            } catch (e) {
              ctx.addIssue({ code: "custom", message: (e as Error).message });
            }
          }),
      )
      .optional(),
  })
  .strict();

/**
 * An auto-approval rule: a request on one of `channels` is signed by `ca` without an
 * operator when every condition holds (policy/auto-approve.ts); everything else waits.
 */
const autoApproveRule = z
  .object({
    name: z.string().min(1).max(64),
    ca: z.string().min(1),
    /** Default: the CA's default profile. */
    profile: userProfile.optional(),
    channels: z.array(z.enum(CHANNELS)).min(1),
    /** The submitter's e-mail domain must be one of these. */
    senderDomains: z.array(z.string().min(1)).optional(),
    /** Every e-mail SAN must match one of these (`*@genfic.com`); at least one e-mail SAN. */
    emails: z.array(z.string().min(1)).optional(),
    /** Every DNS SAN must match one of these (`*.genfic.internal`); at least one DNS SAN. */
    dnsNames: z.array(z.string().min(1)).optional(),
    /** E-mail SANs must be the submitter's own address (default true). */
    senderMustMatchEmail: z.boolean().default(true),
    /**
     * A wildcard DNS name (`*.apps.genfic.internal`) is never matched by a `dnsNames`
     * pattern unless this is true, and then only by a `*.` pattern whose subtree holds every
     * name the wildcard covers (policy/names.ts). Default false: wildcards wait for an operator.
     */
    allowWildcards: z.boolean().optional(),
    /**
     * Subject attributes kept from the request besides the CN (a display name) and an
     * emailAddress equal to a proven address: attribute name to the values allowed (`*`
     * globs, as in `emails`). Anything else the request puts in its subject is left out
     * of the certificate (policy/subject.ts).
     */
    subject: z
      .record(
        z.enum([
          "C",
          "ST",
          "L",
          "O",
          "OU",
          "title",
          "GN",
          "SN",
          "initials",
          "pseudonym",
          "UID",
          "serialNumber",
        ]),
        z.array(z.string().min(1)).min(1),
      )
      .optional(),
    /** Validity; default: the profile's. */
    days: z.number().int().min(1).max(36525).optional(),
  })
  .strict()
  .refine((r) => r.emails !== undefined || r.dnsNames !== undefined, {
    message:
      "an auto-approval rule needs `emails` or `dnsNames` (a rule on the sender alone would sign anything)",
  });

/** Where a secret comes from: a file (first line) or an environment variable, never the config itself. */
const secretSource = {
  passwordFile: z.string().optional(),
  passwordEnv: z.string().optional(),
};

/** The request queue's intake. */
const intake = z
  .object({
    /** The CA (and profile) queued requests are meant for, unless the channel says otherwise. */
    ca: z.string().optional(),
    profile: userProfile.optional(),
    /** Mail from other domains is rejected at intake (Rejected folder, no request). */
    acceptSenderDomains: z.array(z.string().min(1)).optional(),
    /** Replies go to the sender (default), or to the e-mail address in the certificate. */
    replyTo: z.enum(["sender", "certificate"]).default("sender"),
    autoApprove: z.array(autoApproveRule).default([]),
    /** A folder `sigil serve` watches (the handbook's munpack folder); files move to processed/ or rejected/. */
    dropFolder: z.string().optional(),
    dropIntervalSeconds: z.number().int().min(1).max(3600).default(10),
  })
  .strict();

/**
 * How an e-mail address is proven before an auto-approval rule may sign it (DESIGN.md,
 * trust model): never by a header or a typed field. Either a round trip to the mailbox (a
 * challenge mail with a single-use secret, answered by replying or by following its link;
 * like the S/MIME Baseline Requirements' validation of mailbox control), or, for the From
 * address of a mailed request only, DKIM aligned with the From domain as verified by a
 * trusted receiving MTA (RFC 8601 Authentication-Results).
 */
const mail = z
  .object({
    /** Send challenge mails (default true). false: only DKIM proves an address; the rest waits for an operator. */
    mailboxChallenge: z.boolean().default(true),
    /** Hours a challenge may be answered. */
    challengeHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 7)
      .default(24),
    /**
     * authserv-ids (RFC 8601 §2.5) of the MTAs whose Authentication-Results header is
     * believed: the topmost such header must say `dkim=pass header.d=<the From domain>`.
     * The MTA must remove such headers carrying its id from incoming mail (RFC 8601 §5), as
     * OpenDKIM, OpenDMARC and rspamd do. Empty (default): DKIM proves nothing.
     */
    trustedAuthservIds: z.array(z.string().min(1).max(255)).default([]),
  })
  .strict();

/** IMAP intake (`sigil serve`). */
const imap = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(143),
    /** Implicit TLS (port 993); otherwise STARTTLS when `starttls`. */
    secure: z.boolean().default(false),
    starttls: z.boolean().default(true),
    rejectUnauthorized: z.boolean().default(true),
    caFile: z.string().optional(),
    user: z.string().min(1),
    ...secretSource,
    mailbox: z.string().default("INBOX"),
    processedFolder: z.string().default("Processed"),
    rejectedFolder: z.string().default("Rejected"),
    /** Seconds between polls when the server has no IDLE (and the longest IDLE wait). */
    pollSeconds: z.number().int().min(1).max(3600).default(60),
    /** Messages over this size are rejected without being downloaded. */
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(10 * 1024 * 1024),
  })
  .strict()
  .refine((o) => o.passwordFile !== undefined || o.passwordEnv !== undefined, {
    message: "give passwordFile or passwordEnv (passwords are not kept in sigil.json)",
  });

/** SMTP for replies and notices. */
const smtp = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(25),
    secure: z.boolean().default(false),
    /** Require STARTTLS (default: use it when offered). */
    requireTls: z.boolean().default(false),
    rejectUnauthorized: z.boolean().default(true),
    caFile: z.string().optional(),
    user: z.string().optional(),
    ...secretSource,
    /** The From address of Sigil's mails. */
    from: z.string().email(),
    /** Attempts before a mail is given up (backoff doubles from 30 s, at most 1 h). */
    maxAttempts: z.number().int().min(1).max(50).default(8),
  })
  .strict();

/** Expiry notices. */
const notify = z
  .object({
    /** Days before notAfter at which the owner is mailed, once each. */
    thresholdsDays: z.array(z.number().int().min(1).max(3650)).min(1).default([30, 7, 1]),
    /** CA admins who get one summary mail a day of what expires within `summaryDays`. */
    admins: z.array(z.string().email()).default([]),
    summaryDays: z.number().int().min(1).max(3650).default(30),
    /** Hour of the day (UTC) the daily job runs in `sigil serve`. */
    hourUtc: z.number().int().min(0).max(23).default(6),
  })
  .strict();

/**
 * The PKCS#11 token holding `pkcs11:` CA keys (src/keys/pkcs11-keystore.ts). The user PIN
 * comes from `pinFile` (first line; the file must not be group/world-readable) or else the
 * environment variable `pinEnv`; never from sigil.json.
 */
const pkcs11 = z
  .object({
    /** The PKCS#11 module (shared library). */
    module: z.string().min(1).default("/usr/lib/softhsm/libsofthsm2.so"),
    /** The token label (CK_TOKEN_INFO.label). */
    token: z.string().min(1).max(32),
    pinFile: z.string().min(1).optional(),
    pinEnv: z.string().min(1).default("SIGIL_PKCS11_PIN"),
  })
  .strict();

/** One CA's ACME policy given in the config (`sigil acme enable` keeps the same in the store, and wins). */
const acmeCa = z
  .object({
    /** Allowed identifiers: DNS patterns (`*.genfic.internal`, `host.genfic.internal`) and IP ranges (CIDR). */
    allow: z.array(z.string().min(1).max(253)).min(1),
    /** Longest validity of an ACME-issued certificate, in days (default: the profile's). */
    maxDays: z.number().int().min(1).max(3650).optional(),
    /** External Account Binding required on newAccount (RFC 8555 §7.3.4). */
    eab: z.boolean().default(false),
    /** Orders wait in the request queue for an operator instead of being signed at finalize. */
    manualApproval: z.boolean().default(false),
    /** Profile ACME certificates are signed under. */
    profile: userProfile.default("system"),
  })
  .strict();

/** The ACME server (RFC 8555), at `/acme/{ca}/directory` for each enabled CA. */
const acme = z
  .object({
    /** Port http-01 validation connects to (RFC 8555 §8.3 says 80; a lab or a test may move it). */
    http01Port: z.number().int().min(1).max(65535).default(80),
    /** Port tls-alpn-01 validation connects to (RFC 8737 §3 says 443). */
    tlsAlpn01Port: z.number().int().min(1).max(65535).default(443),
    /**
     * A DNS server (`HOST` or `HOST:PORT`) for validation's name look-ups and dns-01 TXT
     * records. Unset: the system resolver (getaddrinfo, so /etc/hosts works for a lab).
     */
    dnsServer: z.string().min(1).optional(),
    /** How long one validation attempt may take. */
    validationTimeoutSeconds: z.number().int().min(1).max(120).default(10),
    /** The ACME base URL clients see (behind a proxy); default: from the request's Host. */
    baseUrl: z.string().url().optional(),
    /**
     * New orders one account may make per hour (0: no limit); past it, newOrder answers
     * rateLimited with Retry-After (RFC 8555 §6.6).
     */
    ordersPerAccountPerHour: z.number().int().min(0).max(1_000_000).default(300),
    /** Orders and their authorizations expire this many hours after creation. */
    orderHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24),
    /** ACME-enabled CAs by name, when not enabled in the store with `sigil acme enable`. */
    cas: z.record(z.string(), acmeCa).default({}),
  })
  .strict();

/**
 * Where the data lives: SQLite (`SIGIL_HOME/sigil.db`, the default) or a PostgreSQL
 * database (`postgres://user@host:port/db`; keep the password out of sigil.json: libpq's
 * PGPASSWORD or ~/.pgpass are read). The environment variable SIGIL_DATABASE_URL, when
 * set, takes precedence. Several `sigil serve` instances may share one PostgreSQL database.
 */
const store = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("sqlite") }).strict(),
  z
    .object({
      kind: z.literal("postgres"),
      url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres://... URL"),
    })
    .strict(),
]);

/** The store section of the configuration. */
export type StoreConfig = z.infer<typeof store>;

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
        /** `sigil ca status` reminds this many days before an offline CA's CRL nextUpdate. */
        offlineRemindDays: z.number().int().min(0).max(366).default(7),
      })
      .strict()
      .default({ validityHours: 24 * 7, offlineRemindDays: 7 }),
    /** Seconds a new certificate's notBefore is set in the past, for clients with slow clocks. */
    backdateSeconds: z.number().int().min(0).max(86400).default(60),
    /** Each CA's own issuance rule, by CA name (the security admin's: sigil.json is theirs). */
    caRules: z.record(z.string(), caRule).default({}),
    ocsp: ocsp.default(ocsp.parse({})),
    serve: serve.default(serve.parse({})),
    admin: admin.default(admin.parse({})),
    web: web.default(web.parse({})),
    intake: intake.default(intake.parse({})),
    mail: mail.default(mail.parse({})),
    imap: imap.optional(),
    smtp: smtp.optional(),
    notify: notify.default(notify.parse({})),
    pkcs11: pkcs11.optional(),
    store: store.optional(),
    acme: acme.default(acme.parse({})),
  })
  .strict();

/** One auto-approval rule as validated. */
export type AutoApproveRule = z.infer<typeof autoApproveRule>;

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
