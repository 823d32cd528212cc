/**
 * The configuration schema (zod) and its pure validation. Loading from disk lives in load.ts.
 *
 * zod/mini, not zod's classic API: the same checks and messages, but tree-shakable, so the
 * bundle every `sigil` process parses holds only what this file uses (issue 16: classic
 * zod bundled all of its locales and JSON Schema conversion, ~770 KB).
 */
import * as z from "zod/mini";
import en from "zod/v4/locales/en.js";
import { SigilError, ErrorCodes } from "../errors.js";
import { KEY_TYPES } from "../keys/types.js";
import { isInternalProfile } from "../x509/profiles.js";
import { parseNamePattern } from "../policy/ca-rules.js";
import { REQUEST_CHANNELS } from "../policy/channels.js";

// English messages ("Too big: expected number to be <=65535"), which classic zod sets on
// its own and zod/mini leaves to the application: `validateConfig` shows them to users.
// Imported by file: `z.locales.en` would bundle every locale (~360 KB).
z.config(en());

/** An integer in [min, max] (the checks and their order of classic `z.number().int().min().max()`). */
const intIn = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

const subjectDefaults = z.strictObject({
  C: z.optional(z.string().check(z.length(2))),
  ST: z.optional(z.string().check(z.maxLength(128))),
  L: z.optional(z.string().check(z.maxLength(128))),
  O: z.optional(z.string().check(z.maxLength(64))),
  OU: z.optional(z.string().check(z.maxLength(64))),
  emailAddress: z.optional(z.string().check(z.maxLength(255))),
});

/** The OCSP responder (RFC 6960, RFC 5019) and its delegated responder certificates. */
const ocsp = z
  .strictObject({
    /** nextUpdate of pre-signed answers = thisUpdate + this many hours; refreshed at half-life. */
    validityHours: z._default(intIn(1, 24 * 30), 24 * 4),
    /** Cache-Control max-age of answers (RFC 5019 §6.2), capped by the answer's nextUpdate. */
    maxAgeSeconds: z._default(intIn(0, 86400), 300),
    /**
     * A request with a nonce: `ignore` answers with the pre-signed answer, without nonce
     * (RFC 5019 §2.2.1); `sign` signs a fresh answer live with the nonce echoed (RFC 6960 §4.4.1).
     */
    nonce: z._default(z.enum(["ignore", "sign"]), "ignore"),
    /** Validity of each CA's delegated responder certificate (RFC 6960 §4.2.2.2). */
    responderDays: z._default(intIn(2, 366), 30),
    /** Renew the responder certificate when fewer days than this remain. */
    responderRenewDays: z._default(intIn(1, 365), 10),
    /** Key type of responder keys; default: the CA's own key type. */
    responderKeyType: z.optional(z.enum(KEY_TYPES as [string, ...string[]])),
    /**
     * Memory for answers of each serving process, MiB (least recently used go first).
     * Default: 1/64 of the machine's memory, 16 to 256 MiB (authority/ocsp-answers.ts).
     */
    cacheMegabytes: z.optional(intIn(1, 65536)),
  })
  .check(
    z.refine((o) => o.responderRenewDays < o.responderDays, {
      message: "responderRenewDays must be less than responderDays",
    }),
    z.refine((o) => o.validityHours < o.responderRenewDays * 24, {
      message:
        "validityHours must be shorter than responderRenewDays (answers never outlive their responder)",
    }),
  );

/** `sigil serve`. */
const serve = z.strictObject({
  /** HOST:PORT to listen on (--listen overrides). */
  listen: z._default(z.string(), "127.0.0.1:8080"),
  /** Worker processes (--workers overrides); 0 means one per core. */
  workers: z._default(intIn(0, 64), 0),
  /** Log every request (JSON, pino); off by default, /metrics counts them. */
  logRequests: z._default(z.boolean(), false),
  /** Seconds between background job runs (responder renewal, answer refresh, CRL refresh). */
  jobIntervalSeconds: z._default(intIn(1, 3600), 60),
  /**
   * This instance's name in `sigil status` (several instances on one database): stable
   * across restarts. Default: the host name and a hash of the data folder's path.
   */
  instanceName: z.optional(
    z
      .string()
      .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, "must be 1-128 of A-Z a-z 0-9 . _ : @ -")),
  ),
});

/**
 * The audit log's signed checkpoints (authority/audit-checkpoints.ts): the audit key's pin,
 * how often the service signs, and where each checkpoint is sent besides the database.
 */
const audit = z.strictObject({
  /**
   * The audit key's public key, base64 DER SubjectPublicKeyInfo: the only key checkpoints
   * are trusted under (a key in the database is not). Written by `sigil init` or the first
   * `sigil audit checkpoint` / unsealed start that made the key.
   */
  publicKey: z.optional(z.string().check(z.regex(/^[A-Za-z0-9+/=]{40,}$/, "must be base64 DER"))),
  /** The service signs a checkpoint once this many events are unsigned... */
  checkpointEvery: z._default(intIn(1, 1_000_000), 1000),
  /** ...and at most this many seconds after an event (so the unsigned tail is seconds). */
  checkpointSeconds: z._default(intIn(1, 86_400), 10),
  /** Send each checkpoint to syslog/journald with logger(1) (tag sigil-audit). */
  syslog: z._default(z.boolean(), true),
  /** POST each checkpoint (JSON) to this URL: an outside witness that keeps what it gets. */
  witnessUrl: z.optional(z.string().check(z.url())),
});

/**
 * The admin API (`/api/v1/admin/...`, served by the primary process of `sigil serve`):
 * on a Unix socket in the data folder, and over TLS with a server certificate Sigil issues
 * to itself. Tokens and passphrases cross plain HTTP only on loopback.
 */
const admin = z.strictObject({
  /** Unix socket path (relative: inside the data folder); null: none. Mode 0660. */
  socket: z._default(z.nullable(z.string().check(z.minLength(1))), "admin.sock"),
  /** HOST:PORT for the TLS (or, on loopback only, plain HTTP) listener; null: none. */
  listen: z._default(z.nullable(z.string()), "127.0.0.1:8443"),
  /** TLS on `listen` (default). false is accepted only for a loopback address. */
  tls: z._default(z.boolean(), true),
  /** The CA that issues the admin server's certificate (default: the first CA whose default profile is `system`). */
  tlsCa: z.optional(z.string()),
  /** Extra DNS names / IPs for the server certificate (localhost and 127.0.0.1 are always in). */
  hostnames: z._default(z.array(z.string().check(z.minLength(1))), []),
  /**
   * Mutual TLS: also require a client certificate issued by one of Sigil's CAs (the token
   * is still required). Off by default.
   */
  mtls: z._default(z.boolean(), false),
});

/** The web portal and admin console (web/, served by `sigil serve`). */
const web = z.strictObject({
  /** CA for portal requests of kind "user" (default: the first non-root CA whose default profile is user). */
  userCa: z.optional(z.string()),
  /** CA for portal requests of kind "system" (default: likewise, profile system). */
  systemCa: z.optional(z.string()),
  /** Portal submissions allowed per client address and minute. */
  submitPerMinute: z._default(intIn(1, 10_000), 10),
  /**
   * Offer the admin API (and so the console's calls) on the public listener even when it
   * is not loopback: only behind a TLS proxy. The admin listener (TLS) always offers it.
   */
  adminOnPublic: z._default(z.boolean(), false),
});

const CHANNELS = REQUEST_CHANNELS;

/** A profile a setting may name: internal profiles (`ocsp`, `ca`) are Sigil's own. */
const userProfile = z.string().check(
  z.minLength(1),
  z.refine((n) => !isInternalProfile(n), {
    message: "is an internal profile: only Sigil itself issues it (choose user or system)",
  }),
);

/**
 * A CA's own issuance rule (policy/ca-rules.ts): the profiles it may issue under (a root:
 * none unless listed) and the names it may certify; holds on every channel.
 */
const caRule = z.strictObject({
  profiles: z.optional(z.array(userProfile)),
  names: z.optional(
    z.array(
      z.string().check(
        z.minLength(1),
        z.maxLength(253),
        z.superRefine((v, ctx) => {
          try {
            parseNamePattern(v);
          } catch (e) {
            ctx.addIssue({ code: "custom", message: (e as Error).message });
          }
        }),
      ),
    ),
  ),
});

/**
 * An auto-approval rule: a request on one of `channels` is signed by `ca` without an
 * operator when every condition holds (policy/auto-approve.ts); everything else waits.
 */
const autoApproveRule = z
  .strictObject({
    name: z.string().check(z.minLength(1), z.maxLength(64)),
    ca: z.string().check(z.minLength(1)),
    /** Default: the CA's default profile. */
    profile: z.optional(userProfile),
    channels: z.array(z.enum(CHANNELS)).check(z.minLength(1)),
    /** The submitter's e-mail domain must be one of these. */
    senderDomains: z.optional(z.array(z.string().check(z.minLength(1)))),
    /** Every e-mail SAN must match one of these (`*@genfic.com`); at least one e-mail SAN. */
    emails: z.optional(z.array(z.string().check(z.minLength(1)))),
    /** Every DNS SAN must match one of these (`*.genfic.internal`); at least one DNS SAN. */
    dnsNames: z.optional(z.array(z.string().check(z.minLength(1)))),
    /** E-mail SANs must be the submitter's own address (default true). */
    senderMustMatchEmail: z._default(z.boolean(), true),
    /**
     * A wildcard DNS name (`*.apps.genfic.internal`) is never matched by a `dnsNames`
     * pattern unless this is true, and then only by a `*.` pattern whose subtree holds every
     * name the wildcard covers (policy/names.ts). Default false: wildcards wait for an operator.
     */
    allowWildcards: z.optional(z.boolean()),
    /**
     * Subject attributes kept from the request besides the CN (a display name) and an
     * emailAddress equal to a proven address: attribute name to the values allowed (`*`
     * globs, as in `emails`). Anything else the request puts in its subject is left out
     * of the certificate (policy/subject.ts).
     */
    subject: z.optional(
      // A partial map (zod 4's record over an enum wants every key): a rule names only
      // the attributes it allows.
      z.partialRecord(
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
        z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
      ),
    ),
    /** Validity; default: the profile's. */
    days: z.optional(intIn(1, 36525)),
  })
  .check(
    z.refine((r) => r.emails !== undefined || r.dnsNames !== undefined, {
      message:
        "an auto-approval rule needs `emails` or `dnsNames` (a rule on the sender alone would sign anything)",
    }),
  );

/** Where a secret comes from: a file (first line) or an environment variable, never the config itself. */
const secretSource = {
  passwordFile: z.optional(z.string()),
  passwordEnv: z.optional(z.string()),
};

/** The request queue's intake. */
const intake = z.strictObject({
  /** The CA (and profile) queued requests are meant for, unless the channel says otherwise. */
  ca: z.optional(z.string()),
  profile: z.optional(userProfile),
  /** Mail from other domains is rejected at intake (Rejected folder, no request). */
  acceptSenderDomains: z.optional(z.array(z.string().check(z.minLength(1)))),
  /** Replies go to the sender (default), or to the e-mail address in the certificate. */
  replyTo: z._default(z.enum(["sender", "certificate"]), "sender"),
  autoApprove: z._default(z.array(autoApproveRule), []),
  /** A folder `sigil serve` watches (the handbook's munpack folder); files move to processed/ or rejected/. */
  dropFolder: z.optional(z.string()),
  dropIntervalSeconds: z._default(intIn(1, 3600), 10),
});

/**
 * How an e-mail address is proven before an auto-approval rule may sign it (DESIGN.md,
 * trust model): never by a header or a typed field. Either a round trip to the mailbox (a
 * challenge mail with a single-use secret, answered by replying or by following its link;
 * like the S/MIME Baseline Requirements' validation of mailbox control), or, for the From
 * address of a mailed request only, DKIM aligned with the From domain as verified by a
 * trusted receiving MTA (RFC 8601 Authentication-Results).
 */
const mail = z.strictObject({
  /** Send challenge mails (default true). false: only DKIM proves an address; the rest waits for an operator. */
  mailboxChallenge: z._default(z.boolean(), true),
  /** Hours a challenge may be answered. */
  challengeHours: z._default(intIn(1, 24 * 7), 24),
  /**
   * authserv-ids (RFC 8601 §2.5) of the MTAs whose Authentication-Results header is
   * believed: the topmost such header must say `dkim=pass header.d=<the From domain>`.
   * The MTA must remove such headers carrying its id from incoming mail (RFC 8601 §5), as
   * OpenDKIM, OpenDMARC and rspamd do. Empty (default): DKIM proves nothing.
   */
  trustedAuthservIds: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(255))), []),
});

/** IMAP intake (`sigil serve`). */
const imap = z
  .strictObject({
    host: z.string().check(z.minLength(1)),
    port: z._default(intIn(1, 65535), 143),
    /** Implicit TLS (port 993); otherwise STARTTLS when `starttls`. */
    secure: z._default(z.boolean(), false),
    starttls: z._default(z.boolean(), true),
    rejectUnauthorized: z._default(z.boolean(), true),
    caFile: z.optional(z.string()),
    user: z.string().check(z.minLength(1)),
    ...secretSource,
    mailbox: z._default(z.string(), "INBOX"),
    processedFolder: z._default(z.string(), "Processed"),
    rejectedFolder: z._default(z.string(), "Rejected"),
    /** Seconds between polls when the server has no IDLE (and the longest IDLE wait). */
    pollSeconds: z._default(intIn(1, 3600), 60),
    /** Messages over this size are rejected without being downloaded. */
    maxMessageBytes: z._default(intIn(1024, 100 * 1024 * 1024), 10 * 1024 * 1024),
  })
  .check(
    z.refine((o) => o.passwordFile !== undefined || o.passwordEnv !== undefined, {
      message: "give passwordFile or passwordEnv (passwords are not kept in sigil.json)",
    }),
  );

/** SMTP for replies and notices. */
const smtp = z.strictObject({
  host: z.string().check(z.minLength(1)),
  port: z._default(intIn(1, 65535), 25),
  secure: z._default(z.boolean(), false),
  /** Require STARTTLS (default: use it when offered). */
  requireTls: z._default(z.boolean(), false),
  rejectUnauthorized: z._default(z.boolean(), true),
  caFile: z.optional(z.string()),
  user: z.optional(z.string()),
  ...secretSource,
  /** The From address of Sigil's mails. */
  from: z.string().check(z.email()),
  /** Attempts before a mail is given up (backoff doubles from 30 s, at most 1 h). */
  maxAttempts: z._default(intIn(1, 50), 8),
});

/** Expiry notices. */
const notify = z.strictObject({
  /** Days before notAfter at which the owner is mailed, once each. */
  thresholdsDays: z._default(z.array(intIn(1, 3650)).check(z.minLength(1)), [30, 7, 1]),
  /** CA admins who get one summary mail a day of what expires within `summaryDays`. */
  admins: z._default(z.array(z.string().check(z.email())), []),
  summaryDays: z._default(intIn(1, 3650), 30),
  /** Hour of the day (UTC) the daily job runs in `sigil serve`. */
  hourUtc: z._default(intIn(0, 23), 6),
});

/**
 * The PKCS#11 token holding `pkcs11:` CA keys (src/keys/pkcs11-keystore.ts). The user PIN
 * comes from `pinFile` (first line; the file must not be group/world-readable) or else the
 * environment variable `pinEnv`; never from sigil.json.
 */
const pkcs11 = z.strictObject({
  /** The PKCS#11 module (shared library). */
  module: z._default(z.string().check(z.minLength(1)), "/usr/lib/softhsm/libsofthsm2.so"),
  /** The token label (CK_TOKEN_INFO.label). */
  token: z.string().check(z.minLength(1), z.maxLength(32)),
  pinFile: z.optional(z.string().check(z.minLength(1))),
  pinEnv: z._default(z.string().check(z.minLength(1)), "SIGIL_PKCS11_PIN"),
});

/** One CA's ACME policy given in the config (`sigil acme enable` keeps the same in the store, and wins). */
const acmeCa = z.strictObject({
  /** Allowed identifiers: DNS patterns (`*.genfic.internal`, `host.genfic.internal`) and IP ranges (CIDR). */
  allow: z.array(z.string().check(z.minLength(1), z.maxLength(253))).check(z.minLength(1)),
  /** Longest validity of an ACME-issued certificate, in days (default: the profile's). */
  maxDays: z.optional(intIn(1, 3650)),
  /** External Account Binding required on newAccount (RFC 8555 §7.3.4). */
  eab: z._default(z.boolean(), false),
  /** Orders wait in the request queue for an operator instead of being signed at finalize. */
  manualApproval: z._default(z.boolean(), false),
  /** Profile ACME certificates are signed under. */
  profile: z._default(userProfile, "system"),
});

/** The ACME server (RFC 8555), at `/acme/{ca}/directory` for each enabled CA. */
const acme = z.strictObject({
  /** Port http-01 validation connects to (RFC 8555 §8.3 says 80; a lab or a test may move it). */
  http01Port: z._default(intIn(1, 65535), 80),
  /** Port tls-alpn-01 validation connects to (RFC 8737 §3 says 443). */
  tlsAlpn01Port: z._default(intIn(1, 65535), 443),
  /**
   * A DNS server (`HOST` or `HOST:PORT`) for validation's name look-ups and dns-01 TXT
   * records. Unset: the system resolver (getaddrinfo, so /etc/hosts works for a lab).
   */
  dnsServer: z.optional(z.string().check(z.minLength(1))),
  /** How long one validation attempt may take. */
  validationTimeoutSeconds: z._default(intIn(1, 120), 10),
  /** The ACME base URL clients see (behind a proxy); default: from the request's Host. */
  baseUrl: z.optional(z.string().check(z.url())),
  /**
   * New orders one account may make per hour (0: no limit); past it, newOrder answers
   * rateLimited with Retry-After (RFC 8555 §6.6).
   */
  ordersPerAccountPerHour: z._default(intIn(0, 1_000_000), 300),
  /** Orders and their authorizations expire this many hours after creation. */
  orderHours: z._default(intIn(1, 24 * 30), 24),
  /** ACME-enabled CAs by name, when not enabled in the store with `sigil acme enable`. */
  cas: z._default(z.record(z.string(), acmeCa), {}),
});

/**
 * Where the data lives: SQLite (`SIGIL_HOME/sigil.db`, the default) or a PostgreSQL
 * database (`postgres://user@host:port/db`; keep the password out of sigil.json: libpq's
 * PGPASSWORD or ~/.pgpass are read). The environment variable SIGIL_DATABASE_URL, when
 * set, takes precedence. Several `sigil serve` instances may share one PostgreSQL database.
 */
const store = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("sqlite") }),
  z.strictObject({
    kind: z.literal("postgres"),
    url: z.string().check(z.regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres://... URL")),
  }),
]);

/** The store section of the configuration. */
export type StoreConfig = z.infer<typeof store>;

/** The configuration file (`SIGIL_HOME/sigil.json`); every field has a default. */
export const configSchema = z.strictObject({
  /** Base URL placed in issued certificates for CDP and AIA (RFC 5280 §4.2.1.13, §4.2.2.1). */
  publicUrl: z._default(z.string().check(z.url()), "http://127.0.0.1:8080"),
  /** Defaults for prompted subjects, as `openssl req` shows them in brackets. */
  subjectDefaults: z._default(subjectDefaults, {}),
  /** Key type for new CAs and requests when none is given. */
  defaultKeyType: z._default(z.enum(KEY_TYPES as [string, ...string[]]), "p256"),
  crl: z._default(
    z.strictObject({
      /** nextUpdate = thisUpdate + this many hours (RFC 5280 §5.1.2.5). */
      validityHours: z._default(intIn(1, 24 * 366), 24 * 7),
      /** `sigil ca status` reminds this many days before an offline CA's CRL nextUpdate. */
      offlineRemindDays: z._default(intIn(0, 366), 7),
    }),
    { validityHours: 24 * 7, offlineRemindDays: 7 },
  ),
  /** Seconds a new certificate's notBefore is set in the past, for clients with slow clocks. */
  backdateSeconds: z._default(intIn(0, 86400), 60),
  /** Each CA's own issuance rule, by CA name (the security admin's: sigil.json is theirs). */
  caRules: z._default(z.record(z.string(), caRule), {}),
  ocsp: z._default(ocsp, ocsp.parse({})),
  serve: z._default(serve, serve.parse({})),
  admin: z._default(admin, admin.parse({})),
  web: z._default(web, web.parse({})),
  intake: z._default(intake, intake.parse({})),
  mail: z._default(mail, mail.parse({})),
  imap: z.optional(imap),
  smtp: z.optional(smtp),
  notify: z._default(notify, notify.parse({})),
  pkcs11: z.optional(pkcs11),
  store: z.optional(store),
  acme: z._default(acme, acme.parse({})),
  audit: z._default(audit, audit.parse({})),
});

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
