/**
 * The mails Sigil sends, as outbox drafts: the certificate to its requester, a rejection
 * with its reason, an expiry notice, the admins' expiry summary. Pure formatting; the
 * outbox job (mail/outbox.ts) sends them.
 */
import type { CaRecord, CertRecord, OutboxRecord, RequestRecord } from "../store/types.js";
import { toPem } from "../x509/der.js";

/** An outbox row before it is stored. */
export type MailDraft = Omit<OutboxRecord, "id">;

function draft(
  kind: string,
  to: string,
  subject: string,
  body: string,
  now: number,
  extra: Partial<MailDraft> = {},
): MailDraft {
  return {
    kind,
    to,
    subject: subject.replace(/[\r\n]+/g, " ").slice(0, 200),
    body,
    attachments: [],
    requestId: null,
    certId: null,
    state: "pending",
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
    createdAt: now,
    sentAt: null,
    ...extra,
  };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A file name from a certificate's CN or e-mail ("amber-mcstone"), never a path. */
export function certFileBase(cert: Pick<CertRecord, "commonName" | "email" | "serialHex">): string {
  const base = (cert.commonName ?? cert.email ?? cert.serialHex)
    .toLowerCase()
    .replace(/[^a-z0-9.@_-]+/g, "-")
    .replace(/^[-.]+|[-.]+$/g, "")
    .slice(0, 60);
  return base || cert.serialHex;
}

/** The certificate, with its chain, to whoever asked for it (PEM, DER and the full chain). */
export function issuedMail(
  to: string,
  req: Pick<RequestRecord, "id">,
  cert: CertRecord,
  chain: CaRecord[],
  now: number,
): MailDraft {
  const base = certFileBase(cert);
  const pem = toPem(cert.der, "CERTIFICATE");
  const chainPem = chain.map((c) => toPem(c.certDer, "CERTIFICATE")).join("");
  const body = [
    `Your certificate request #${req.id} was signed by ${chain[0]?.name ?? "the CA"}.`,
    "",
    `  Subject:     ${cert.subject}`,
    ...(cert.sans.length ? [`  Names:       ${cert.sans.map((s) => s.value).join(", ")}`] : []),
    `  Serial:      ${cert.serialHex}`,
    `  Valid until: ${new Date(cert.notAfter).toISOString()}`,
    `  SHA-256:     ${cert.fingerprint}`,
    "",
    "Attached:",
    `  ${base}.crt        the certificate (PEM)`,
    `  ${base}.der        the certificate (DER)`,
    `  ${base}-chain.pem  the certificate followed by the CA chain, up to the root`,
    "",
    "Your private key never left your machine; keep it there.",
    "",
  ].join("\n");
  return draft("issued", to, `Certificate issued: ${cert.subject}`, body, now, {
    requestId: req.id,
    certId: cert.id,
    attachments: [
      {
        filename: `${base}.crt`,
        contentType: "application/x-pem-file",
        base64: Buffer.from(pem).toString("base64"),
      },
      { filename: `${base}.der`, contentType: "application/pkix-cert", base64: cert.der.toString("base64") },
      {
        filename: `${base}-chain.pem`,
        contentType: "application/x-pem-file",
        base64: Buffer.from(pem + chainPem).toString("base64"),
      },
    ],
  });
}

/** What a confirmation token looks like: 32 random bytes, base64url (RFC 4648 §5). */
const TOKEN = /sigil-confirm:([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/;

/** The marker a challenge mail carries its secret in; a reply that keeps it answers the challenge. */
export function confirmMarker(token: string): string {
  return `sigil-confirm:${token}`;
}

/** The first confirmation token in `texts` (a reply's Subject, then its text), if any. */
export function findConfirmToken(...texts: string[]): string | undefined {
  for (const t of texts) {
    const m = TOKEN.exec(t);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The challenge that proves control of a mailbox (like the S/MIME Baseline Requirements'
 * validation of mailbox control): sent to the address itself, never to a Reply-To; it holds
 * a single-use secret, answered by following `link` or by replying with the marker line.
 */
export function challengeMail(
  to: string,
  what: {
    requestId: number;
    subject: string;
    names: string[];
    caName: string;
    channel: string;
    submitter: string | null;
    token: string;
    link: string;
    expiresAt: number;
  },
  now: number,
): MailDraft {
  const marker = confirmMarker(what.token);
  const body = [
    `Someone asked for a certificate that names this address (${to}):`,
    "",
    `  Request:  #${what.requestId}, by ${what.channel}${what.submitter ? ` from ${what.submitter}` : ""}`,
    `  Subject:  ${what.subject || "(empty)"}`,
    ...(what.names.length ? [`  Names:    ${what.names.join(", ")}`] : []),
    `  CA:       ${what.caName}`,
    "",
    `If it was you, confirm that this mailbox is yours before ${new Date(what.expiresAt).toISOString()}:`,
    "",
    `  - open ${what.link} and press Confirm, or`,
    "  - reply to this mail, keeping the line below.",
    "",
    "If it was not you, ignore this mail: nothing is signed without the confirmation.",
    "",
    marker,
    "",
  ].join("\n");
  return draft("challenge", to, `Confirm certificate request #${what.requestId} [${marker}]`, body, now, {
    requestId: what.requestId,
  });
}

/** A rejection with its reason. */
export function rejectedMail(
  to: string,
  what: { requestId?: number; subject?: string; reason: string },
  now: number,
): MailDraft {
  const body = [
    what.requestId !== undefined
      ? `Your certificate request #${what.requestId}${what.subject ? ` (${what.subject})` : ""} was rejected.`
      : `Your message${what.subject ? ` "${what.subject}"` : ""} to the certificate authority was rejected.`,
    "",
    `Reason: ${what.reason}`,
    "",
    "Nothing was signed. Fix the request and send it again, or ask a CA administrator.",
    "",
  ].join("\n");
  return draft(
    "rejected",
    to,
    what.requestId !== undefined
      ? `Certificate request #${what.requestId} rejected`
      : "Certificate request rejected",
    body,
    now,
    { requestId: what.requestId ?? null },
  );
}

/** An expiry notice to a certificate's owner (RFC 5280 notAfter; the handbook mails owners). */
export function expiryMail(
  to: string,
  cert: CertRecord,
  ca: CaRecord,
  daysLeft: number,
  now: number,
): MailDraft {
  const body = [
    `Your certificate expires on ${new Date(cert.notAfter).toISOString()} (in ${daysLeft} day${daysLeft === 1 ? "" : "s"}).`,
    "",
    `  Subject: ${cert.subject}`,
    ...(cert.sans.length ? [`  Names:   ${cert.sans.map((s) => s.value).join(", ")}`] : []),
    `  Serial:  ${cert.serialHex} (issued by ${ca.name})`,
    "",
    "Make a new request (a new key is best) and send it before that day.",
    "",
  ].join("\n");
  return draft("expiry", to, `Certificate expires ${day(cert.notAfter)}: ${cert.subject}`, body, now, {
    certId: cert.id,
  });
}

/** The admins' summary of what expires soon. */
export function summaryMail(
  to: string,
  rows: Array<{ cert: CertRecord; ca: string }>,
  withinDays: number,
  now: number,
): MailDraft {
  const lines = rows.map(
    (r) => `  ${day(r.cert.notAfter)}  ${r.ca.padEnd(16)} ${r.cert.serialHex}  ${r.cert.subject}`,
  );
  const body = [
    `${rows.length} certificate${rows.length === 1 ? "" : "s"} expire${rows.length === 1 ? "s" : ""} in the next ${withinDays} days:`,
    "",
    ...(lines.length ? lines : ["  (none)"]),
    "",
  ].join("\n");
  return draft(
    "summary",
    to,
    `Sigil: ${rows.length} certificates expire within ${withinDays} days`,
    body,
    now,
  );
}
