/**
 * `sigil notify [--dry-run]`: expiry notices to certificate owners (the e-mail in the
 * certificate) and the admins' summary, queued in the outbox and sent at once when SMTP is
 * configured (else by `sigil serve`).
 */
import { cliActor, openContext, type GlobalOptions } from "./context.js";

/** Runs `sigil notify`. */
export async function runNotify(opts: GlobalOptions & { dryRun?: boolean }): Promise<void> {
  const ctx = await openContext(opts);
  try {
    const now = Date.now();
    const { planNotices, queueNotices } = await import("../authority/notices.js");
    const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    if (opts.dryRun) {
      const plan = await planNotices(ctx.store, ctx.config, now);
      for (const p of plan.notices)
        process.stdout.write(
          `would mail ${p.to}: ${p.cert.subject} (${p.ca.name}/${p.cert.serialHex}) expires ${day(p.cert.notAfter)}, ${p.daysLeft} days left (threshold ${p.threshold})\n`,
        );
      for (const c of plan.renewed)
        process.stdout.write(`skip ${c.subject} (${c.serialHex}): renewed by a newer certificate\n`);
      if (plan.summaryDue)
        process.stdout.write(
          `would mail the summary (${plan.summary.length} certificates within ${ctx.config.notify.summaryDays} days) to ${ctx.config.notify.admins.join(", ")}\n`,
        );
      process.stderr.write(
        `dry run: ${plan.notices.length} notices${plan.summaryDue ? " and the summary" : ""}; nothing sent\n`,
      );
      return;
    }
    const r = await queueNotices(ctx.store, ctx.config, now, cliActor());
    let sent = "";
    if (ctx.config.smtp) {
      const { Outbox } = await import("../mail/outbox.js");
      const out = await Outbox.fromConfig(ctx.store, ctx.config, () => Date.now(), cliActor());
      try {
        const s = await out.runOnce();
        sent = `; sent ${s.sent}${s.retrying ? `, ${s.retrying} to retry` : ""}${s.failed ? `, ${s.failed} failed` : ""}`;
      } finally {
        out.close();
      }
    } else sent = "; no smtp section in sigil.json: 'sigil serve' sends them once one is set";
    process.stderr.write(
      `queued ${r.notices} expiry notices${r.summary ? " and the admins' summary" : ""}${sent}\n`,
    );
  } finally {
    await ctx.close();
  }
}
