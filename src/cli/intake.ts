/**
 * `sigil intake mail < message.eml`: one e-mail from stdin into the request queue, as the
 * IMAP intake does (the handbook's procmail recipe pipes here instead of into munpack).
 * Exit 0 when the message was taken in (its requests recorded, or the message rejected
 * with a reason and a reply queued); 1 when it could not be (procmail keeps it and retries).
 */
import { SigilError, ErrorCodes } from "../errors.js";
import { openContext, queueOf, type GlobalOptions } from "./context.js";

const MAX_STDIN = 10 * 1024 * 1024;

async function readStdin(limit: number): Promise<{ raw: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) return { raw: Buffer.concat(chunks), truncated: true };
    chunks.push(c);
  }
  return { raw: Buffer.concat(chunks), truncated: false };
}

/** Runs `sigil intake mail`. */
export async function intakeMail(opts: GlobalOptions & { json?: boolean }): Promise<void> {
  if (process.stdin.isTTY)
    throw new SigilError(ErrorCodes.USAGE, "pipe a message in: sigil intake mail < message.eml");
  const ctx = await openContext(opts);
  try {
    const limit = ctx.config.imap?.maxMessageBytes ?? MAX_STDIN;
    const { raw, truncated } = await readStdin(limit + 1);
    const q = await queueOf(ctx, "intake:mail");
    const { takeMail } = await import("../mail/intake.js");
    // An oversized message is handed on whole-size-unknown: parseMail rejects it by size.
    const r = await takeMail(
      q,
      ctx.config,
      truncated ? Buffer.concat([raw, Buffer.alloc(1)]) : raw,
      "stdin",
      limit,
    );
    // Without `sigil serve` running, the replies would wait: send them now when SMTP is set
    // up (failures stay queued for serve's retries).
    if (ctx.config.smtp && !r.duplicate) {
      const { Outbox } = await import("../mail/outbox.js");
      const out = await Outbox.fromConfig(ctx.store, ctx.config, () => Date.now(), "intake:mail");
      try {
        await out.runOnce(20);
      } finally {
        out.close();
      }
    }
    if (opts.json) {
      process.stdout.write(
        JSON.stringify(
          {
            key: r.key,
            duplicate: r.duplicate,
            outcome: r.outcome,
            reason: r.reason,
            requests: r.requests.map((x) => ({
              id: x.id,
              state: x.state,
              subject: x.subject,
              reason: x.reason,
            })),
          },
          null,
          2,
        ) + "\n",
      );
      return;
    }
    const from = r.mail.from ?? "(no sender)";
    if (r.duplicate) process.stderr.write(`message ${r.key} was taken in before: nothing done\n`);
    else if (r.outcome === "rejected") process.stderr.write(`message from ${from} rejected: ${r.reason}\n`);
    for (const x of r.requests)
      process.stderr.write(`request ${x.id} from ${from}: ${x.state}${x.reason ? ` (${x.reason})` : ""}\n`);
  } finally {
    await ctx.close();
  }
}
