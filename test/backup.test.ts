/**
 * `sigil backup` / `sigil restore` through the built CLI: an online backup taken while
 * `sigil serve` runs and certificates keep being issued, restored into a new home that
 * verifies its audit chain, lists the same certificates, and serves the same OCSP answers
 * (`openssl ocsp` status lines, and the pre-signed answer bytes); a damaged archive and a
 * non-empty target are refused with one line and nothing written.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import {
  sigil,
  sigilOk,
  sigilAsync,
  tool,
  tempDir,
  write,
  initHome,
  counts,
  auditActionsSince,
} from "./helpers.js";
import { startServe, post, ocspResponseStatus, type Served } from "./serve-helpers.js";

interface CertJson {
  ca: string;
  serial: string;
  status: string;
  revocationReason: string | null;
}

function request(home: string, dir: string, cn: string): string {
  sigilOk(home, ["request", "create", join(dir, cn), "--subject", `/CN=${cn}`, "--no-encrypt"]);
  return join(dir, `${cn}.req`);
}

function certsJson(home: string): CertJson[] {
  return JSON.parse(sigilOk(home, ["certs", "--json"]).stdout) as CertJson[];
}

function mode(p: string): number {
  return statSync(p).mode & 0o777;
}

describe("sigil backup and restore (online, while serve issues)", () => {
  const t = tempDir("sigil-backup-");
  const dir = t.dir;
  const home = join(dir, "sigil-data");
  const restored = join(dir, "restored");
  const archive = join(dir, "backup.tar.gz");
  let served: Served | undefined;
  let servedRestored: Served | undefined;
  let root: string;
  let system: string;
  /** Leaf certificates issued before the backup: path and expected openssl status. */
  const leaves: Array<{ cn: string; crt: string; expect: RegExp }> = [];
  let backupOut = "";
  let duringIssued = 0;

  before(async () => {
    initHome(home);
    root = write(dir, "root.pem", sigilOk(home, ["ca", "show", "genfic", "--pem"]).stdout);
    system = write(dir, "system.pem", sigilOk(home, ["ca", "show", "genfic-system", "--pem"]).stdout);
    for (const [cn, reason] of [
      ["good.genfic.internal", null],
      ["stolen.genfic.internal", "keyCompromise"],
      ["old.genfic.internal", "superseded"],
    ] as const) {
      const crt = join(dir, `${cn}.crt`);
      sigilOk(home, ["sign", request(home, dir, cn), "--ca", "genfic-system", "-o", crt]);
      if (reason) sigilOk(home, ["revoke", "--cert", crt, "--ca", "genfic-system", "--reason", reason]);
      leaves.push({
        cn,
        crt,
        expect: reason ? new RegExp(`: revoked[\\s\\S]*Reason: ${reason}`) : /: good\b/,
      });
    }
    served = await startServe(home);

    // Issue in the background while the backup runs: the loop starts first and goes on
    // after the backup is done, so the live store moves on past the snapshot.
    const reqs = Array.from({ length: 6 }, (_, i) => request(home, dir, `during-${i}.genfic.internal`));
    let backupDone = false;
    let issuedAfterBackup = 0;
    let firstIssued!: () => void;
    const first = new Promise<void>((r) => (firstIssued = r));
    const loop = (async () => {
      for (const [i, req] of reqs.entries()) {
        if (backupDone && issuedAfterBackup >= 1) break;
        const r = await sigilAsync(home, [
          "sign",
          req,
          "--ca",
          "genfic-system",
          "-o",
          join(dir, `during-${i}.crt`),
        ]);
        assert.equal(r.status, 0, r.stderr);
        duringIssued++;
        if (backupDone) issuedAfterBackup++;
        if (i === 0) firstIssued();
      }
    })();
    await first;
    const b = await sigilAsync(home, ["backup", "--out", archive]);
    backupDone = true;
    await loop;
    assert.equal(b.status, 0, b.stderr);
    assert.ok(issuedAfterBackup >= 1, "a certificate was issued after the backup");
    backupOut = b.stdout;
  });

  after(async () => {
    await served?.stop();
    await servedRestored?.stop();
    t.cleanup();
  });

  it("writes one 0600 archive and records backup.create in the live store (not in the archive)", () => {
    assert.match(backupOut, /^backup written: .*backup\.tar\.gz \(\d+ bytes, mode 0600/);
    assert.match(backupOut, /snapshot: 3 CAs, \d+ certificates \(2 revoked\)/);
    // The OCSP responder and audit keys are kept encrypted in the database: the copy holds
    // them, so they count as in the backup, never as missing.
    assert.match(backupOut, /key files: \d+ \(and \d+ encrypted in the database\)/);
    assert.doesNotMatch(backupOut, /not in the backup/);
    const manifest = JSON.parse(tool("tar", ["xzf", archive, "-O", "manifest.json"]).stdout) as {
      keys: { inDatabase?: string[]; notIncluded: unknown[] };
    };
    assert.ok(
      manifest.keys.inDatabase?.some((k) => /^store:ocsp-\d+-/.test(k)),
      backupOut,
    );
    assert.ok(
      manifest.keys.inDatabase?.some((k) => /^store:audit-/.test(k)),
      backupOut,
    );
    assert.deepEqual(manifest.keys.notIncluded, []);
    assert.equal(mode(archive), 0o600);
    const listing = tool("tar", ["tzf", archive]);
    assert.equal(listing.status, 0, listing.stderr);
    const names = listing.stdout.trim().split("\n");
    assert.equal(names[0], "manifest.json");
    for (const n of [
      "sigil.db",
      "sigil.json",
      "keys/genfic.key.pem",
      "keys/genfic-system.key.pem",
      "crl/genfic-system.crl",
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(" ")}`);
    assert.ok(auditActionsSince(home, 0).includes("backup.create"));
    assert.equal(
      readdirSync(dir).filter((f) => f.startsWith(".sigil-backup-")).length,
      0,
      "no temporary files left",
    );
    const again = sigil(home, ["backup", "--out", archive]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^sigil: .*already exists \(use --force/);
    assert.equal(again.stderr.trim().split("\n").length, 1);
  });

  it("restores into a new home: modes, audit chain, the same certificates as the snapshot", () => {
    const r = sigilOk(restored, ["restore", "--from", archive]);
    assert.match(r.stdout, /^restored .*restored from a backup of/);
    assert.match(r.stdout, /audit chain OK: \d+ events/);
    assert.equal(mode(restored), 0o700);
    assert.equal(mode(join(restored, "keys")), 0o700);
    for (const f of readdirSync(join(restored, "keys")))
      assert.equal(mode(join(restored, "keys", f)), 0o600, f);
    assert.equal(mode(join(restored, "sigil.db")), 0o600);
    assert.ok(!existsSync(join(restored, "manifest.json")));
    assert.match(sigilOk(restored, ["audit", "verify"]).stdout, /^audit chain OK/);
    const actions = auditActionsSince(restored, 0);
    assert.equal(actions.at(-1), "backup.restore");
    assert.ok(!actions.includes("backup.create"), "the archive does not hold its own event");

    const live = new Map(certsJson(home).map((c) => [`${c.ca}/${c.serial}`, c]));
    const back = certsJson(restored);
    // Everything issued before the backup started is in it; some of the background issuing is
    // not. (`certs` lists no CA or responder certificates: Sigil's own, internal profiles.)
    assert.ok(back.length >= leaves.length + 1, `restored ${back.length} certificates`);
    assert.ok(back.length < live.size, "certificates issued after the snapshot are not in it");
    for (const c of back) assert.deepEqual(c, live.get(`${c.ca}/${c.serial}`));
    assert.ok(duringIssued >= 2);
  });

  it("serves the same OCSP answers from the restored home", async () => {
    const s2 = await startServe(restored);
    servedRestored = s2;
    const ask = (s: Served, crt: string) =>
      tool("openssl", [
        "ocsp",
        "-issuer",
        system,
        "-cert",
        crt,
        "-url",
        `${s.url}/ocsp`,
        "-CAfile",
        root,
        "-no_nonce",
      ]);
    for (const leaf of leaves) {
      const a = ask(served!, leaf.crt);
      const b = ask(s2, leaf.crt);
      assert.equal(b.status, 0, b.stderr);
      assert.match(b.stderr, /Response verify OK/);
      assert.match(b.stdout, leaf.expect, leaf.cn);
      assert.equal(b.stdout, a.stdout, `${leaf.cn}: same status, reason and times`);
      // The pre-signed answer itself: byte for byte.
      const reqFile = join(dir, `${leaf.cn}.ocspreq`);
      const q = tool("openssl", [
        "ocsp",
        "-issuer",
        system,
        "-cert",
        leaf.crt,
        "-no_nonce",
        "-reqout",
        reqFile,
      ]);
      assert.equal(q.status, 0, q.stderr);
      const body = readFileSync(reqFile);
      const [x, y] = await Promise.all([post(`${served!.url}/ocsp`, body), post(`${s2.url}/ocsp`, body)]);
      assert.equal(ocspResponseStatus(y.body), "successful");
      assert.ok(x.body.equals(y.body), `${leaf.cn}: identical answer bytes`);
    }
  });

  it("refuses to restore over a home a running serve holds, even with --force", () => {
    assert.ok(servedRestored, "the restored home is being served");
    const before = counts(restored);
    const r = sigil(restored, ["restore", "--from", archive, "--force"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: a sigil serve is running on /);
    assert.deepEqual(counts(restored), before);
  });

  it("refuses a non-empty home without --force; --force moves the old one aside", async () => {
    await servedRestored?.stop();
    servedRestored = undefined;
    const before = counts(restored);
    const r = sigil(restored, ["restore", "--from", archive]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: .* is not empty: restore into a new folder, or use --force/);
    assert.equal(r.stderr.trim().split("\n").length, 1);
    assert.deepEqual(counts(restored), before);
    const f = sigilOk(restored, ["restore", "--from", archive, "--force"]);
    const moved = /moved to (\S+)/.exec(f.stdout)?.[1];
    assert.ok(moved && existsSync(join(moved, "sigil.db")), f.stdout);
    assert.deepEqual(counts(moved), before);
    assert.match(sigilOk(restored, ["audit", "verify"]).stdout, /^audit chain OK/);
  });

  it("refuses a damaged archive with one line and restores nothing", () => {
    const good = readFileSync(archive);
    const content = gunzipSync(good);
    /**
     * `good` with one bit flipped at the first byte from `from` on where that changes what
     * the archive holds. Deflate has bits that change nothing (a Huffman code length of a
     * symbol the block never uses, for one): about one flip in a thousand gives the same
     * bytes and the same CRC, and is rightly restored.
     */
    const damage = (from: number): { at: number; bad: Buffer } => {
      for (let at = from; at < good.length; at++) {
        const bad = Buffer.from(good);
        bad[at]! ^= 0x01;
        try {
          if (!gunzipSync(bad).equals(content)) return { at, bad };
        } catch {
          return { at, bad }; // a broken stream or a CRC or length mismatch
        }
      }
      throw new Error(`no damaging flip from byte ${from}`);
    };
    // Bytes inside the compressed data (the gzip header's time and OS bytes carry no data).
    for (const from of [Math.floor(good.length / 3), Math.floor(good.length / 2), good.length - 10]) {
      const { at, bad } = damage(from);
      const file = write(dir, `bad-${at}.tar.gz`, bad);
      const target = join(dir, `from-bad-${at}`);
      const r = sigil(target, ["restore", "--from", file]);
      assert.equal(r.status, 1, `byte ${at}`);
      assert.match(r.stderr, /^sigil: backup .* is damaged or not a Sigil backup: /);
      assert.equal(r.stderr.trim().split("\n").length, 1);
      assert.ok(!existsSync(target), "nothing restored");
    }
    // A member changed and the archive rebuilt consistently (gzip CRC fine): the manifest catches it.
    const x = join(dir, "x");
    tool("mkdir", [x]);
    assert.equal(tool("tar", ["xzf", archive, "-C", x]).status, 0);
    const key = join(x, "keys", "genfic.key.pem");
    writeFileSync(
      key,
      readFileSync(key, "utf8").replace(/[A-Za-z]/, (c) => (c === "A" ? "B" : "A")),
    );
    const names = tool("tar", ["tzf", archive]).stdout.trim().split("\n");
    const rebuilt = join(dir, "rebuilt.tar.gz");
    assert.equal(tool("tar", ["czf", rebuilt, "-C", x, ...names]).status, 0);
    const target = join(dir, "from-rebuilt");
    const r = sigil(target, ["restore", "--from", rebuilt]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^sigil: backup .*: member keys\/genfic\.key\.pem does not match its SHA-256/);
    assert.ok(!existsSync(target));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(".restore-")),
      [],
      "no half-restored folder left",
    );
  });
});

describe("sigil backup: keys that are not in the archive", () => {
  const t = tempDir("sigil-backup-keys-");
  const home = join(t.dir, "sigil-data");
  after(() => t.cleanup());

  it("names an offline CA key as not included, and restores without it", () => {
    initHome(home);
    sigilOk(home, ["ca", "export", "genfic", "--out", join(t.dir, "export")]);
    sigilOk(home, ["ca", "offline", "genfic", "--export", join(t.dir, "export")]);
    const file = join(t.dir, "b.tar.gz");
    const b = sigilOk(home, ["backup", "--out", file]);
    assert.match(b.stdout, /not in the backup: key of CA genfic \(offline/);
    const manifest = JSON.parse(tool("tar", ["xzf", file, "-O", "manifest.json"]).stdout) as {
      keys: { included: string[]; notIncluded: Array<{ ca: string; where: string }> };
    };
    assert.deepEqual(
      manifest.keys.notIncluded.map((k) => `${k.ca}:${k.where}`),
      ["genfic:offline"],
    );
    assert.ok(!manifest.keys.included.includes("genfic.key.pem"));
    const target = join(t.dir, "restored");
    const r = sigilOk(target, ["restore", "--from", file]);
    assert.match(r.stdout, /not in the backup: key of CA genfic \(offline/);
    assert.match(sigilOk(target, ["audit", "verify"]).stdout, /^audit chain OK/);
  });

  it("refuses a backup when a key file the store refers to is missing, and writes nothing", () => {
    const key = join(home, "keys", "genfic-user.key.pem");
    const saved = readFileSync(key);
    rmSync(key);
    try {
      const file = join(t.dir, "missing.tar.gz");
      const r = sigil(home, ["backup", "--out", file]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^sigil: the key of CA genfic-user \(keys\/genfic-user\.key\.pem\) is missing/);
      assert.ok(!existsSync(file));
      assert.deepEqual(
        readdirSync(t.dir).filter((f) => f.startsWith(".sigil-backup-")),
        [],
      );
    } finally {
      writeFileSync(key, saved, { mode: 0o600 });
    }
  });
});
