import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { validateConfig } from "./schema.js";
import { SigilError } from "../errors.js";

/**
 * Pins what sigil.json accepts, its defaults and the exact one-line error a user sees for a
 * bad field (`SOURCE: PATH: MESSAGE`, the first issue zod reports, in English).
 */

const DEFAULTS = {
  publicUrl: "http://127.0.0.1:8080",
  subjectDefaults: {},
  defaultKeyType: "p256",
  crl: { validityHours: 168, offlineRemindDays: 7 },
  backdateSeconds: 60,
  caRules: {},
  ocsp: { validityHours: 96, maxAgeSeconds: 300, nonce: "ignore", responderDays: 30, responderRenewDays: 10 },
  serve: { listen: "127.0.0.1:8080", workers: 0, logRequests: false, jobIntervalSeconds: 60 },
  admin: { socket: "admin.sock", listen: "127.0.0.1:8443", tls: true, hostnames: [], mtls: false },
  web: { submitPerMinute: 10, adminOnPublic: false },
  intake: { replyTo: "sender", autoApprove: [], dropIntervalSeconds: 10 },
  mail: { mailboxChallenge: true, challengeHours: 24, trustedAuthservIds: [] },
  notify: { thresholdsDays: [30, 7, 1], admins: [], summaryDays: 30, hourUtc: 6 },
  acme: {
    http01Port: 80,
    tlsAlpn01Port: 443,
    validationTimeoutSeconds: 10,
    ordersPerAccountPerHour: 300,
    orderHours: 24,
    cas: {},
  },
  audit: { checkpointEvery: 1000, checkpointSeconds: 10, syslog: true },
};

function errorOf(raw: unknown): string {
  try {
    validateConfig(raw, "sigil.json");
  } catch (e) {
    assert.ok(e instanceof SigilError);
    assert.equal(e.code, "config");
    return e.message;
  }
  assert.fail("accepted: " + JSON.stringify(raw));
}

const rule = { name: "r", ca: "c", channels: ["mail"], emails: ["*@x"] };

/** Bad inputs and the exact message each one gets. */
const REFUSED: [unknown, string][] = [
  [42, "sigil.json: (root): Invalid input: expected object, received number"],
  [[], "sigil.json: (root): Invalid input: expected object, received array"],
  [{ bogus: 1 }, 'sigil.json: (root): Unrecognized key: "bogus"'],
  [{ bogus: 1, other: 2 }, 'sigil.json: (root): Unrecognized keys: "bogus", "other"'],
  [{ serve: { port: 1 } }, 'sigil.json: serve: Unrecognized key: "port"'],
  [{ crl: { foo: 1 } }, 'sigil.json: crl: Unrecognized key: "foo"'],
  [
    { acme: { cas: { x: { allow: ["a"], bogus: true } } } },
    'sigil.json: acme.cas.x: Unrecognized key: "bogus"',
  ],
  [{ serve: null }, "sigil.json: serve: Invalid input: expected object, received null"],
  [{ publicUrl: 5 }, "sigil.json: publicUrl: Invalid input: expected string, received number"],
  [{ publicUrl: "not a url" }, "sigil.json: publicUrl: Invalid URL"],
  [{ acme: { baseUrl: "nope" } }, "sigil.json: acme.baseUrl: Invalid URL"],
  [{ backdateSeconds: -1 }, "sigil.json: backdateSeconds: Too small: expected number to be >=0"],
  [{ backdateSeconds: 86401 }, "sigil.json: backdateSeconds: Too big: expected number to be <=86400"],
  [
    JSON.parse('{"backdateSeconds": 1e400}'), // what JSON.parse makes of a huge number
    "sigil.json: backdateSeconds: Invalid input: expected number, received Infinity",
  ],
  [{ serve: { workers: 1.5 } }, "sigil.json: serve.workers: Invalid input: expected int, received number"],
  [{ serve: { workers: "2" } }, "sigil.json: serve.workers: Invalid input: expected number, received string"],
  [
    { serve: { logRequests: "yes" } },
    "sigil.json: serve.logRequests: Invalid input: expected boolean, received string",
  ],
  [
    { defaultKeyType: "rsa1" },
    'sigil.json: defaultKeyType: Invalid option: expected one of "rsa2048"|"rsa3072"|"rsa4096"|"p256"|"p384"|"ed25519"',
  ],
  [{ ocsp: { nonce: "maybe" } }, 'sigil.json: ocsp.nonce: Invalid option: expected one of "ignore"|"sign"'],
  [
    { ocsp: { responderDays: 10, responderRenewDays: 10 } },
    "sigil.json: ocsp: responderRenewDays must be less than responderDays",
  ],
  [
    { ocsp: { validityHours: 240 } },
    "sigil.json: ocsp: validityHours must be shorter than responderRenewDays (answers never outlive their responder)",
  ],
  [
    { subjectDefaults: { C: "USA" } },
    "sigil.json: subjectDefaults.C: Too big: expected string to have exactly 2 characters",
  ],
  [
    { subjectDefaults: { O: "x".repeat(65) } },
    "sigil.json: subjectDefaults.O: Too big: expected string to have <=64 characters",
  ],
  [{ admin: { socket: "" } }, "sigil.json: admin.socket: Too small: expected string to have >=1 characters"],
  [
    { caRules: { root: { names: ["*.*.example"] } } },
    "sigil.json: caRules.root.names.0: bad ACME allow pattern \"*.*.example\": give a hostname, '*.' and a domain (any name below it), an IP address or a CIDR range",
  ],
  [
    { caRules: { root: { names: [""] } } },
    "sigil.json: caRules.root.names.0: Too small: expected string to have >=1 characters",
  ],
  [
    { caRules: { root: { profiles: ["ocsp"] } } },
    "sigil.json: caRules.root.profiles.0: is an internal profile: only Sigil itself issues it (choose user or system)",
  ],
  [{ caRules: { root: 3 } }, "sigil.json: caRules.root: Invalid input: expected object, received number"],
  [
    { intake: { autoApprove: [{ name: "r", ca: "c", channels: ["mail"] }] } },
    "sigil.json: intake.autoApprove.0: an auto-approval rule needs `emails` or `dnsNames` (a rule on the sender alone would sign anything)",
  ],
  [
    { intake: { autoApprove: [{ ...rule, channels: ["fax"] }] } },
    'sigil.json: intake.autoApprove.0.channels.0: Invalid option: expected one of "cli"|"mail"|"web"|"drop"|"acme"',
  ],
  [
    { intake: { autoApprove: [{ ...rule, channels: [] }] } },
    "sigil.json: intake.autoApprove.0.channels: Too small: expected array to have >=1 items",
  ],
  [
    { intake: { autoApprove: [{ ...rule, name: undefined }] } },
    "sigil.json: intake.autoApprove.0.name: Invalid input: expected string, received undefined",
  ],
  [
    { intake: { autoApprove: [{ ...rule, foo: 1 }] } },
    'sigil.json: intake.autoApprove.0: Unrecognized key: "foo"',
  ],
  [
    { intake: { autoApprove: [{ ...rule, profile: "ca" }] } },
    "sigil.json: intake.autoApprove.0.profile: is an internal profile: only Sigil itself issues it (choose user or system)",
  ],
  [
    { intake: { replyTo: "nobody" } },
    'sigil.json: intake.replyTo: Invalid option: expected one of "sender"|"certificate"',
  ],
  [{ store: {} }, "sigil.json: store.kind: Invalid discriminator value. Expected 'sqlite' | 'postgres'"],
  [
    { store: { kind: "mysql" } },
    "sigil.json: store.kind: Invalid discriminator value. Expected 'sqlite' | 'postgres'",
  ],
  [{ store: { kind: "sqlite", url: "x" } }, 'sigil.json: store: Unrecognized key: "url"'],
  [{ store: { kind: "postgres", url: "mysql://x" } }, "sigil.json: store.url: must be a postgres://... URL"],
  [
    { store: { kind: "postgres" } },
    "sigil.json: store.url: Invalid input: expected string, received undefined",
  ],
  [{ store: "sqlite" }, "sigil.json: store: Invalid input: expected object, received string"],
  [
    { acme: { cas: { x: { allow: [] } } } },
    "sigil.json: acme.cas.x.allow: Too small: expected array to have >=1 items",
  ],
  [{ acme: { http01Port: 70000 } }, "sigil.json: acme.http01Port: Too big: expected number to be <=65535"],
  [
    { acme: { cas: { x: { allow: ["*.a"], profile: "ocsp" } } } },
    "sigil.json: acme.cas.x.profile: is an internal profile: only Sigil itself issues it (choose user or system)",
  ],
  [
    { imap: { user: "u", passwordEnv: "P" } },
    "sigil.json: imap.host: Invalid input: expected string, received undefined",
  ],
  [
    { imap: { host: "h", user: "u" } },
    "sigil.json: imap: give passwordFile or passwordEnv (passwords are not kept in sigil.json)",
  ],
  [{ imap: { host: "h", user: "u", password: "x" } }, 'sigil.json: imap: Unrecognized key: "password"'],
  [
    { imap: { host: "h", user: "u", passwordEnv: "P", port: 0 } },
    "sigil.json: imap.port: Too small: expected number to be >=1",
  ],
  [{ smtp: { host: "h", from: "not-an-email" } }, "sigil.json: smtp.from: Invalid email address"],
  [{ smtp: { host: "h" } }, "sigil.json: smtp.from: Invalid input: expected string, received undefined"],
  [{ notify: { admins: ["x"] } }, "sigil.json: notify.admins.0: Invalid email address"],
  [
    { notify: { thresholdsDays: [] } },
    "sigil.json: notify.thresholdsDays: Too small: expected array to have >=1 items",
  ],
  [{ notify: { hourUtc: 24 } }, "sigil.json: notify.hourUtc: Too big: expected number to be <=23"],
  [{ pkcs11: {} }, "sigil.json: pkcs11.token: Invalid input: expected string, received undefined"],
  [
    { pkcs11: { token: "x".repeat(33) } },
    "sigil.json: pkcs11.token: Too big: expected string to have <=32 characters",
  ],
  [
    { mail: { challengeHours: 1000 } },
    "sigil.json: mail.challengeHours: Too big: expected number to be <=168",
  ],
];

describe("config schema", () => {
  it("fills every default into an empty config (and into none)", () => {
    assert.deepEqual(validateConfig({}), DEFAULTS);
    assert.deepEqual(validateConfig(undefined), DEFAULTS);
    assert.deepEqual(validateConfig(null), DEFAULTS);
  });

  it("freezes the result, nested sections too", () => {
    const c = validateConfig({});
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.ocsp));
    assert.ok(Object.isFrozen(c.notify.thresholdsDays));
  });

  it("fills the defaults of optional sections when they are given", () => {
    const c = validateConfig({
      imap: { host: "imap.example", user: "ca", passwordFile: "/run/pw" },
      smtp: { host: "smtp.example", from: "ca@example.com" },
      pkcs11: { token: "sigil" },
      store: { kind: "postgres", url: "postgres://sigil@db/sigil" },
      acme: { cas: { sys: { allow: ["*.genfic.internal"] } } },
      caRules: { root: { names: ["*.genfic.internal"], profiles: ["system"] } },
      intake: {
        autoApprove: [{ name: "hosts", ca: "sys", channels: ["mail"], dnsNames: ["*.genfic.internal"] }],
      },
      admin: { socket: null, listen: null },
    });
    assert.deepEqual(c.imap, {
      host: "imap.example",
      port: 143,
      secure: false,
      starttls: true,
      rejectUnauthorized: true,
      user: "ca",
      passwordFile: "/run/pw",
      mailbox: "INBOX",
      processedFolder: "Processed",
      rejectedFolder: "Rejected",
      pollSeconds: 60,
      maxMessageBytes: 10 * 1024 * 1024,
    });
    assert.deepEqual(c.smtp, {
      host: "smtp.example",
      port: 25,
      secure: false,
      requireTls: false,
      rejectUnauthorized: true,
      from: "ca@example.com",
      maxAttempts: 8,
    });
    assert.deepEqual(c.pkcs11, {
      module: "/usr/lib/softhsm/libsofthsm2.so",
      token: "sigil",
      pinEnv: "SIGIL_PKCS11_PIN",
    });
    assert.deepEqual(c.store, { kind: "postgres", url: "postgres://sigil@db/sigil" });
    assert.deepEqual(c.acme.cas, {
      sys: { allow: ["*.genfic.internal"], eab: false, manualApproval: false, profile: "system" },
    });
    assert.deepEqual(c.caRules, { root: { names: ["*.genfic.internal"], profiles: ["system"] } });
    assert.deepEqual(c.intake.autoApprove, [
      {
        name: "hosts",
        ca: "sys",
        channels: ["mail"],
        dnsNames: ["*.genfic.internal"],
        senderMustMatchEmail: true,
      },
    ]);
    assert.equal(c.admin.socket, null);
    assert.equal(c.admin.listen, null);
    assert.deepEqual(validateConfig({ store: { kind: "sqlite" } }).store, { kind: "sqlite" });
  });

  it("refuses bad input with one line naming the field", () => {
    for (const [raw, message] of REFUSED) assert.equal(errorOf(raw), message, JSON.stringify(raw));
  });

  it("takes an auto-approval rule's subject map with only the attributes it allows (README)", () => {
    const cfg = validateConfig({
      intake: { autoApprove: [{ ...rule, subject: { O: ["Gentoo Fictional, Inc."] } }] },
    });
    assert.deepEqual(cfg.intake.autoApprove[0]!.subject, { O: ["Gentoo Fictional, Inc."] });
    assert.match(
      errorOf({ intake: { autoApprove: [{ ...rule, subject: { CN: ["x"] } }] } }),
      /^sigil\.json: intake\.autoApprove\.0\.subject: Unrecognized key: "CN"$/,
    );
  });

  it("names the source given, `config` by default", () => {
    assert.throws(() => validateConfig({ bogus: 1 }), {
      message: 'config: (root): Unrecognized key: "bogus"',
    });
  });
});
