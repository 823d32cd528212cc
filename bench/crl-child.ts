/**
 * Child process of bench/issue: publishes one CRL through `Authority.publishCrl`, composed
 * as src/cli/context.ts composes it, and prints one JSON line: the time of publishCrl
 * alone (the key is unlocked first), the RSS just before it, and the process's peak RSS.
 * Runs under tsx, whose loader adds to the RSS; `sigil crl` (the compiled CLI) is the
 * figure compared with OpenSSL.
 *
 *   node --import tsx bench/crl-child.ts HOME CA OUT.der
 */
import { writeFileSync } from "node:fs";
import { openHome } from "./lib/sigil.js";

const [home, caName, out] = process.argv.slice(2);
if (!home || !caName || !out) {
  process.stderr.write("usage: node --import tsx bench/crl-child.ts HOME CA OUT.der\n");
  process.exit(2);
}
const h = await openHome(home);
await h.authority.unlock(caName);
const rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
const t0 = performance.now();
const { der, crlNumber, entries } = await h.authority.publishCrl(caName);
const publishMs = performance.now() - t0;
writeFileSync(out, der);
await h.close();
process.stdout.write(
  JSON.stringify({
    publishMs,
    entries,
    crlNumber,
    bytes: der.length,
    rssBeforeKb,
    maxRssKb: process.resourceUsage().maxRSS,
  }) + "\n",
);
