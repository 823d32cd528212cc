/**
 * `sigil backup --out FILE` and `sigil restore --from FILE`: see authority/backup.ts.
 * Neither needs the key passphrase: key files are copied as they are (encrypted).
 */
import { cliActor, resolveHome, type GlobalOptions } from "./context.js";
import { VERSION } from "./version.js";
import type { BackupManifest } from "../authority/backup.js";

function notIncludedLines(m: BackupManifest): string[] {
  return m.keys.notIncluded.map(
    (k) =>
      `  not in the backup: ${k.role === "ca" ? "key of CA" : "OCSP responder key of CA"} ${k.ca} (${
        k.where === "pkcs11"
          ? "in the PKCS#11 token: back the HSM up on its own"
          : k.where === "offline"
            ? "offline: keep its export safe"
            : k.keyRef
      })`,
  );
}

function countsLine(m: BackupManifest): string {
  const c = m.counts;
  return `${c.cas} CAs, ${c.certificates} certificates (${c.revoked} revoked), ${c.requests} requests, ${c.auditEvents} audit events`;
}

/** Runs `sigil backup`. */
export async function runBackup(opts: GlobalOptions & { out: string; force?: boolean }): Promise<void> {
  const home = resolveHome(opts);
  const [{ openHomeStore }, { createBackup }] = await Promise.all([
    import("../app/open.js"),
    import("../authority/backup.js"),
  ]);
  const store = await openHomeStore(home);
  try {
    const r = await createBackup({
      home,
      store,
      out: opts.out,
      force: opts.force,
      clock: () => Date.now(),
      actor: cliActor(),
      sigilVersion: VERSION,
    });
    const m = r.manifest;
    const lines = [
      `backup written: ${r.file === "-" ? "stdout" : r.file} (${r.bytes} bytes, mode 0600; it holds the encrypted CA keys: keep it secret)`,
      `  sha256 ${r.sha256}`,
      `  store: ${m.store.kind}${m.store.kind === "postgres" ? " (pg_dump of one snapshot)" : ""}`,
      `  snapshot: ${countsLine(m)}`,
      `  audit head: ${m.auditHead ? `event ${m.auditHead.seq} ${m.auditHead.hash}` : "none"}`,
      `  key files: ${m.keys.included.length}${
        m.keys.inDatabase ? ` (and ${m.keys.inDatabase.length} encrypted in the database)` : ""
      }`,
      ...notIncludedLines(m),
    ];
    // With --out - the archive is on stdout: the summary goes to stderr.
    (opts.out === "-" ? process.stderr : process.stdout).write(lines.join("\n") + "\n");
  } finally {
    await store.close();
  }
}

/** Runs `sigil restore`. */
export async function runRestore(opts: GlobalOptions & { from: string; force?: boolean }): Promise<void> {
  const { restoreHome } = await import("../app/restore.js");
  const r = await restoreHome({
    from: opts.from,
    home: resolveHome(opts),
    force: opts.force,
    actor: cliActor(),
  });
  const m = r.manifest;
  const lines = [
    `restored ${r.home} from a backup of ${m.createdAt} (Sigil ${m.sigilVersion})`,
    `  ${countsLine(m)}`,
    `  audit chain OK: ${r.audit.count} events, head ${r.audit.headHash}`,
    ...notIncludedLines(m),
    ...(r.previousMovedTo ? [`  the previous data folder was moved to ${r.previousMovedTo}`] : []),
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
