/**
 * Expiry notices (the handbook: mail the address in the certificate before it expires).
 * Each owner gets one mail per threshold (default 30, 7 and 1 days before notAfter),
 * recorded so a restart never resends; certificates already renewed (a newer valid one
 * with the same subject and SANs) are skipped; CA admins get one summary a day.
 */
import type { Config } from "../config/schema.js";
import type { CaRecord, CertRecord, Store } from "../store/types.js";
import { INTERNAL_PROFILES } from "../x509/profiles.js";
import { expiryMail, summaryMail, type MailDraft } from "./replies.js";

const DAY = 86_400_000;

/** One notice to send. */
export interface PlannedNotice {
  cert: CertRecord;
  ca: CaRecord;
  to: string;
  /** The threshold the mail is for (the nearest one crossed). */
  threshold: number;
  /** Every threshold crossed and not yet noticed (all recorded with this mail). */
  thresholds: number[];
  daysLeft: number;
}

/** What a notice run would do (or did). */
export interface NoticePlan {
  notices: PlannedNotice[];
  /** Certificates skipped because a newer one replaces them. */
  renewed: CertRecord[];
  /** Certificates expiring within `notify.summaryDays`, for the admins' summary. */
  summary: Array<{ cert: CertRecord; ca: string }>;
  /** The summary is due today (not sent yet) and there are admins to send it to. */
  summaryDue: boolean;
  /** Today's date (UTC), the summary's mark. */
  day: string;
}

function sameNames(a: CertRecord, b: CertRecord): boolean {
  const key = (c: CertRecord) =>
    c.sans
      .map((s) => `${s.type}:${s.value.toLowerCase()}`)
      .sort()
      .join(",");
  return a.subject === b.subject && key(a) === key(b);
}

/** Works out the notices due at `now`. */
export async function planNotices(store: Store, config: Config, now: number): Promise<NoticePlan> {
  const thresholds = [...new Set(config.notify.thresholdsDays)].sort((x, y) => x - y);
  const horizon = Math.max(thresholds[thresholds.length - 1]!, config.notify.summaryDays);
  const cas = new Map((await store.listCas()).map((c) => [c.id, c]));
  const soon = (await store.findCerts({ status: "valid", expiringBefore: now + horizon * DAY, now })).filter(
    (c) => c.profile !== "ocsp",
  );
  const plan: NoticePlan = {
    notices: [],
    renewed: [],
    summary: [],
    summaryDue: false,
    day: new Date(now).toISOString().slice(0, 10),
  };
  for (const cert of soon) {
    const ca = cas.get(cert.caId)!;
    const match = cert.commonName ?? cert.email;
    const renewedBy = match
      ? (await store.findCerts({ status: "valid", match, now })).find(
          (n) => n.id !== cert.id && n.notAfter > cert.notAfter && sameNames(n, cert),
        )
      : undefined;
    if (cert.notAfter <= now + config.notify.summaryDays * DAY && !renewedBy)
      plan.summary.push({ cert, ca: ca.name });
    if (renewedBy) {
      plan.renewed.push(cert);
      continue;
    }
    // Mail goes to the people certificates were issued to: Sigil's own (internal profiles:
    // CA certificates, responders, admin TLS) have no owner to mail; a CA's end is in the
    // admins' summary.
    if (!cert.email || INTERNAL_PROFILES.includes(cert.profile)) continue;
    const left = cert.notAfter - now;
    const sent = new Set(await store.noticesSent(cert.id));
    const crossed = thresholds.filter((t) => left <= t * DAY && !sent.has(t));
    if (!crossed.length) continue;
    plan.notices.push({
      cert,
      ca,
      to: cert.email,
      threshold: crossed[0]!,
      thresholds: crossed,
      daysLeft: Math.max(0, Math.ceil(left / DAY)),
    });
  }
  const mark = await store.getJobMark("notify.summary");
  plan.summaryDue = config.notify.admins.length > 0 && mark?.value !== plan.day;
  return plan;
}

/**
 * Queues the planned notices in the outbox, each in one transaction with its record (a
 * notice is queued at most once per certificate and threshold, even with two runs at once),
 * and the day's summary. Returns what was queued.
 */
export async function queueNotices(
  store: Store,
  config: Config,
  now: number,
  actor: string,
): Promise<{ notices: number; summary: boolean; plan: NoticePlan }> {
  const plan = await planNotices(store, config, now);
  let n = 0;
  for (const p of plan.notices) {
    const queued = await store.transaction(async (tx) => {
      let fresh = false;
      for (const t of p.thresholds) fresh = (await tx.recordNotice(p.cert.id, t, now)) || fresh;
      if (!fresh) return false;
      await tx.enqueueMail(expiryMail(p.to, p.cert, p.ca, p.daysLeft, now));
      await tx.appendAudit({
        at: now,
        actor,
        action: "notice.expiry",
        target: `${p.ca.name}/${p.cert.serialHex}`,
        details: { to: p.to, thresholdDays: p.threshold, notAfter: new Date(p.cert.notAfter).toISOString() },
      });
      return true;
    });
    if (queued) n++;
  }
  let summary = false;
  if (plan.summaryDue) {
    summary = await store.transaction(async (tx) => {
      const mark = await store.getJobMark("notify.summary");
      if (mark?.value === plan.day) return false;
      await tx.setJobMark("notify.summary", plan.day, now);
      const mails: MailDraft[] = config.notify.admins.map((a) =>
        summaryMail(a, plan.summary, config.notify.summaryDays, now),
      );
      for (const m of mails) await tx.enqueueMail(m);
      await tx.appendAudit({
        at: now,
        actor,
        action: "notice.summary",
        target: null,
        details: { to: config.notify.admins, certificates: plan.summary.length, day: plan.day },
      });
      return true;
    });
  }
  return { notices: n, summary, plan };
}
