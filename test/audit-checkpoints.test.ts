/**
 * The audit log against an insider who can write the database but not the keys (issue 17):
 * the 30-line rewrite (edit an actor, delete an event, recompute every hash and the head)
 * passes the chain check but not the signed checkpoints; deleting the checkpoint rows too
 * is caught by the copy outside the database. Checkpoints signed by another key, with a
 * changed root, a truncated or a reordered log are refused in one line. Proofs are checked
 * by an independent verifier (Python, hashlib), signatures by `openssl dgst`.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import Database from "better-sqlite3";
import {
  sigil,
  sigilOk,
  tempDir,
  tool,
  initHome,
  newRequest,
  auditLog,
  execHomeSql,
  patchConfig,
  ROOT,
} from "./helpers.js";
import { adminCall, startServe } from "./serve-helpers.js";

/** The attacker's tool: the chain as documented (README: audit log), recomputed from scratch. */
function rewriteChain(dbFile: string, edit: (rows: Row[]) => Row[]): void {
  const db = new Database(dbFile);
  const rows = db.prepare("SELECT * FROM audit_events ORDER BY seq").all() as Row[];
  const out = edit(rows);
  let prev = "0".repeat(64);
  db.exec("DELETE FROM audit_events");
  const ins = db.prepare(
    "INSERT INTO audit_events (seq, at, actor, action, target, details, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
  );
  out.forEach((r, i) => {
    const seq = i + 1;
    const canon = canonical({
      seq,
      at: r.at,
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: JSON.parse(r.details) as unknown,
    });
    const hash = createHash("sha256").update(`${prev}\n${canon}`).digest("hex");
    ins.run(seq, r.at, r.actor, r.action, r.target, r.details, prev, hash);
    prev = hash;
  });
  db.prepare("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1").run(out.length, prev);
  db.close();
}

interface Row {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: string;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(",")}}`;
}

const verify = (home: string, args: string[] = []) => sigil(home, ["audit", "verify", ...args]);

/** One line on stderr, exit 1. */
function refused(r: ReturnType<typeof sigil>, pattern: RegExp, status = 1): void {
  assert.equal(r.status, status, r.stdout + r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, pattern);
}

describe("signed audit checkpoints", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  const db = join(home, "sigil.db");
  let pristine = "";

  before(() => {
    const out = sigilOk(home, ["init"]).stdout;
    assert.match(out, /Audit key [0-9a-f]{16} pinned in sigil\.json/);
    for (const n of ["a", "b", "c"]) {
      const { req } = newRequest(t.dir, n);
      sigilOk(home, ["sign", req, "--ca", "genfic-system", "--out", join(t.dir, `${n}.pem`)]);
    }
    sigilOk(home, [
      "revoke",
      "--ca",
      "genfic-system",
      "--cert",
      join(t.dir, "b.pem"),
      "--reason",
      "keyCompromise",
    ]);
    pristine = join(t.dir, "pristine");
    cpSync(home, pristine, { recursive: true });
  });
  after(() => t.cleanup());

  const restore = () => {
    rmSync(home, { recursive: true, force: true });
    cpSync(pristine, home, { recursive: true });
  };

  it("init pins the audit key outside the database: sigil.json and audit/audit-key.pem", () => {
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as {
      audit?: { publicKey?: string };
    };
    const pem = readFileSync(join(home, "audit", "audit-key.pem"), "utf8");
    assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
    const der = tool("openssl", [
      "pkey",
      "-pubin",
      "-outform",
      "DER",
      "-in",
      join(home, "audit", "audit-key.pem"),
    ]);
    assert.equal(der.status, 0, der.stderr);
    assert.ok(cfg.audit?.publicKey);
    assert.ok(auditLog(home).some((e) => e.action === "audit.key.create"));
  });

  it("checkpoint signs the whole log; verify checks it; openssl verifies the signature", () => {
    restore();
    const r = sigilOk(home, ["audit", "checkpoint"]);
    const m = /checkpoint of (\d+) events, root ([0-9a-f]{64}), signed (\S+) by audit key/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const n = Number(m[1]);
    assert.equal(n, auditLog(home).length);
    const v = sigilOk(home, ["audit", "verify"]);
    assert.match(v.stdout, /audit chain OK/);
    assert.match(
      v.stdout,
      new RegExp(`checkpoints OK: 1 signed by the pinned audit key.*covers ${n} events`),
    );
    // The outside copy, and the signature checked by OpenSSL over the documented text.
    const line = readFileSync(join(home, "audit", "checkpoints.jsonl"), "utf8").trim();
    const cp = JSON.parse(line) as { treeSize: number; rootHash: string; at: number; signature: string };
    assert.equal(cp.treeSize, n);
    const text = write(`sigil-audit-checkpoint/v1\n${cp.treeSize}\n${cp.rootHash}\n${cp.at}\n`, "cp.txt");
    const sig = write(Buffer.from(cp.signature, "base64"), "cp.sig");
    const o = tool("openssl", [
      "dgst",
      "-sha256",
      "-verify",
      join(home, "audit", "audit-key.pem"),
      "-signature",
      sig,
      text,
    ]);
    assert.equal(o.status, 0, o.stderr);
    assert.match(o.stdout, /Verified OK/);
    // A second checkpoint with nothing new is the same one.
    assert.match(sigilOk(home, ["audit", "checkpoint"]).stdout, new RegExp(`checkpoint of ${n} events`));
    pristine = snapshot();
  });

  it("the insider's rewrite (actor edited, an event deleted, every hash and the head recomputed) is caught by the checkpoint", () => {
    restore();
    rewriteChain(db, (rows) =>
      rows
        .filter(
          (r, i) => !(r.action === "cert.issue" && i === rows.findIndex((x) => x.action === "cert.issue")),
        )
        .map((r) => (r.action === "cert.revoke" ? { ...r, actor: "cli:someone-else" } : r)),
    );
    // The plain chain check is fooled: only the checkpoint sees it, as a log too short for it...
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    refused(
      verify(home),
      /does not verify: the database's checkpoint of \d+ events .*covers \d+ events but the log ends/,
    );
    // ...and, once the log has grown past it again, as a root its events no longer hash to.
    const { req } = newRequest(t.dir, "d");
    sigilOk(home, ["sign", req, "--ca", "genfic-system", "--out", join(t.dir, "d.pem")]);
    refused(
      verify(home),
      /does not verify: the database's checkpoint of \d+ events .*do not hash to its root/,
    );
  });

  it("the same rewrite plus deleting the checkpoint rows is caught by the witness file", () => {
    restore();
    const witness = join(t.dir, "witness.jsonl");
    cpSync(join(home, "audit", "checkpoints.jsonl"), witness);
    rewriteChain(db, (rows) =>
      rows.map((r) => (r.action === "cert.revoke" ? { ...r, actor: "cli:mallory" } : r)),
    );
    execHomeSql(home, "DELETE FROM audit_checkpoints");
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    assert.equal(verify(home).status, 0, "without a witness nothing is left to contradict the rewrite");
    refused(
      verify(home, ["--witness", witness]),
      /the witness's checkpoint of \d+ events .*do not hash to its root/,
    );
    // The home's own checkpoint file is a witness by default.
    cpSync(witness, join(home, "audit", "checkpoints.jsonl"));
    refused(verify(home), /the witness's checkpoint/);
  });

  it("a checkpoint signed by another key, a changed root, a truncated or a reordered log are refused in one line", () => {
    restore();
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    const d = new Database(db);
    const cp = d.prepare("SELECT * FROM audit_checkpoints").get() as {
      tree_size: number;
      root_hash: string;
      at: number;
      key_id: string;
      signature: string;
    };
    d.close();
    // Another key, signing the documented text honestly.
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = other.publicKey.export({ format: "der", type: "spki" });
    const otherId = createHash("sha256").update(spki).digest("hex");
    const text = `sigil-audit-checkpoint/v1\n${cp.tree_size + 1}\n${"ab".repeat(32)}\n${cp.at}\n`;
    const sig = nodeSign("sha256", Buffer.from(text), other.privateKey).toString("base64");
    execHomeSql(
      home,
      `INSERT INTO audit_checkpoints VALUES (${cp.tree_size + 1}, '${"ab".repeat(32)}', ${cp.at}, '${otherId}', '${sig}')`,
    );
    refused(verify(home), /signed by key [0-9a-f]{16}, which is not the pinned audit key/);

    restore();
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    execHomeSql(home, `UPDATE audit_checkpoints SET root_hash = '${"cd".repeat(32)}'`);
    refused(verify(home), /its signature does not verify/);

    restore();
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    rewriteChain(db, (rows) => rows.slice(0, rows.length - 2));
    refused(verify(home), /covers \d+ events but the log ends at event \d+ \(truncated\?\)/);

    restore();
    rmSync(join(home, "audit", "checkpoints.jsonl"));
    rewriteChain(db, (rows) => [rows[1]!, rows[0]!, ...rows.slice(2)]);
    refused(verify(home), /do not hash to its root/);
  });

  it("prove: an inclusion proof an independent verifier (Python, RFC 9162 §2.1.3.2) accepts", () => {
    restore();
    const events = auditLog(home);
    for (const seq of [1, Math.ceil(events.length / 2), events.length]) {
      const proof = JSON.parse(sigilOk(home, ["audit", "prove", String(seq)]).stdout) as {
        leafIndex: number;
        leafHash: string;
        path: string[];
        checkpoint: { treeSize: number; rootHash: string };
        event: { hash: string };
      };
      assert.equal(proof.leafIndex, seq - 1);
      const py = tool("python3", [join(ROOT, "test", "fixtures", "verify_inclusion.py")], {
        input: JSON.stringify({
          leaf: proof.event.hash,
          index: proof.leafIndex,
          size: proof.checkpoint.treeSize,
          path: proof.path,
          root: proof.checkpoint.rootHash,
        }),
      });
      assert.equal(py.status, 0, py.stderr);
      assert.equal(py.stdout.trim(), "ok");
      // A proof of one event does not prove another.
      const wrong = tool("python3", [join(ROOT, "test", "fixtures", "verify_inclusion.py")], {
        input: JSON.stringify({
          leaf: "00".repeat(32),
          index: proof.leafIndex,
          size: proof.checkpoint.treeSize,
          path: proof.path,
          root: proof.checkpoint.rootHash,
        }),
      });
      assert.equal(wrong.stdout.trim(), "bad");
    }
    refused(sigil(home, ["audit", "prove", "0"]), /bad event number/, 2);
    refused(sigil(home, ["audit", "prove", String(events.length + 50)]), /no signed checkpoint covers event/);
  });

  it("export and verify --offline need only the export and the public key", () => {
    restore();
    sigilOk(home, ["revoke", "--ca", "genfic-system", "--cert", join(t.dir, "c.pem")]);
    sigilOk(home, ["audit", "checkpoint"]);
    const out = join(t.dir, "export");
    rmSync(out, { recursive: true, force: true });
    assert.match(
      sigilOk(home, ["audit", "export", "--out", out]).stdout,
      /exported \d+ events .* 2 checkpoints and 1 consistency proofs/,
    );
    const key = join(t.dir, "my-copy.pem");
    cpSync(join(home, "audit", "audit-key.pem"), key);
    const nowhere = join(t.dir, "nowhere");
    assert.match(
      sigilOk(nowhere, ["audit", "verify", "--offline", out, "--key", key]).stdout,
      /checkpoints OK: 2/,
    );
    // From a later event: the frontier in start.json carries the tree.
    const later = join(t.dir, "export-later");
    rmSync(later, { recursive: true, force: true });
    sigilOk(home, ["audit", "export", "--out", later, "--since", "5"]);
    assert.match(
      sigilOk(nowhere, ["audit", "verify", "--offline", later, "--key", key]).stdout,
      /checkpoints OK: 2/,
    );
    // Line ends as node:readline takes them (CRLF, blank lines) read the same; a line that
    // is not JSON is named by its number.
    const ev = join(out, "events.jsonl");
    const lines = readFileSync(ev, "utf8").trimEnd().split("\n");
    writeFileSync(ev, "\r\n" + lines.join("\r\n\n") + "\r\n");
    assert.match(
      sigilOk(nowhere, ["audit", "verify", "--offline", out, "--key", key]).stdout,
      /checkpoints OK: 2/,
    );
    writeFileSync(ev, [...lines.slice(0, 2), "{not json", ...lines.slice(2)].join("\n") + "\n");
    refused(
      sigil(nowhere, ["audit", "verify", "--offline", out, "--key", key]),
      /events\.jsonl:3: not a JSON event/,
    );
    writeFileSync(ev, lines.join("\n") + "\n");
    // An exported event edited: caught.
    writeFileSync(ev, readFileSync(ev, "utf8").replace('"actor":"cli:', '"actor":"cli:x'));
    refused(sigil(nowhere, ["audit", "verify", "--offline", out, "--key", key]), /does not verify|broken/);
    // Someone else's key: refused.
    const stranger = write(
      generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "pem", type: "spki" }),
      "stranger.pem",
    );
    refused(
      sigil(nowhere, ["audit", "verify", "--offline", later, "--key", stranger]),
      /not the pinned audit key/,
    );
  });

  function write(data: string | Buffer, name: string): string {
    const p = join(t.dir, name);
    writeFileSync(p, data);
    return p;
  }

  function snapshot(): string {
    const p = join(t.dir, `pristine-${Date.now()}`);
    cpSync(home, p, { recursive: true });
    return p;
  }
});

describe("the service signs checkpoints only while unsealed", () => {
  const t = tempDir();
  const home = join(t.dir, "home");
  after(() => t.cleanup());

  it("sealed: none signed, /healthz and the metric say so; the unseal signs one covering what was logged meanwhile", async () => {
    initHome(home);
    const security = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "security",
      "--name",
      "sam",
    ]).stdout.trim();
    const s = await startServe(home, ["--workers", "1"], { SIGIL_PASSPHRASE: undefined });
    try {
      const h = (await (await fetch(`${s.url}/healthz`)).json()) as { audit: { checkpoints: string } };
      assert.match(h.audit.checkpoints, /sealed/);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.match(metrics, /sigil_audit_checkpoint_signing 0/);
      const before = auditLog(home).length;
      const un = sigil(home, ["unseal"], { env: { SIGIL_TOKEN: security } });
      assert.equal(un.status, 0, un.stderr);
      // The unseal's own event and everything before it end up under a signed checkpoint.
      let covered = 0;
      for (let i = 0; i < 100 && covered <= before; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const hz = (await (await fetch(`${s.url}/healthz`)).json()) as {
          audit: { lastCheckpoint?: { treeSize: number } };
        };
        covered = hz.audit.lastCheckpoint?.treeSize ?? 0;
      }
      assert.ok(
        covered > before,
        `a checkpoint after the unseal covers more than ${before} events: ${covered}`,
      );
      assert.match(await (await fetch(`${s.url}/metrics`)).text(), /sigil_audit_checkpoint_signing 1/);
    } finally {
      assert.equal(await s.stop(), 0);
    }
    assert.ok(existsSync(join(home, "audit", "checkpoints.jsonl")));
    assert.match(sigilOk(home, ["audit", "verify"]).stdout, /checkpoints OK/);
  });

  it("each checkpoint reaches the witness URL; an auditor reads checkpoints and proofs through the admin API", async () => {
    const auditor = sigilOk(home, [
      "admin",
      "token",
      "create",
      "--role",
      "auditor",
      "--name",
      "ada",
    ]).stdout.trim();
    const got: string[] = [];
    const witness = createServer((req, res) => {
      let body = "";
      req.on("data", (d: Buffer) => (body += d.toString()));
      req.on("end", () => {
        got.push(body);
        res.end("kept");
      });
    });
    await new Promise<void>((r) => witness.listen(0, "127.0.0.1", r));
    const port = (witness.address() as AddressInfo).port;
    const cfg = JSON.parse(readFileSync(join(home, "sigil.json"), "utf8")) as {
      audit: Record<string, unknown>;
    };
    patchConfig(home, {
      audit: { ...cfg.audit, witnessUrl: `http://127.0.0.1:${port}/checkpoints`, checkpointSeconds: 1 },
    });
    // syslog through logger(1): a logger on PATH that keeps its arguments.
    const bin = join(t.dir, "bin");
    mkdirSync(bin, { recursive: true });
    const syslog = join(t.dir, "syslog.txt");
    writeFileSync(join(bin, "logger"), `#!/bin/sh\nprintf '%s\\n' "$*" >> '${syslog}'\n`, { mode: 0o755 });
    const s = await startServe(home, ["--workers", "1"], { PATH: `${bin}:${process.env.PATH}` });
    try {
      for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(got.length > 0, "the witness got a checkpoint");
      const sock = s.admin.find((a) => a.startsWith("unix:"))!;
      const list = await adminCall(sock, auditor, "GET", "/api/v1/admin/audit/checkpoints");
      assert.equal(list.status, 200, list.text);
      const cps = list.body.checkpoints as Array<{ treeSize: number; rootHash: string }>;
      assert.ok(cps.length >= 1);
      const proof = await adminCall(sock, auditor, "GET", "/api/v1/admin/audit/proof/1");
      assert.equal(proof.status, 200, proof.text);
      assert.equal((proof.body.checkpoint as { treeSize: number }).treeSize, cps.at(-1)!.treeSize);
      const operatorLike = await adminCall(sock, "nope", "GET", "/api/v1/admin/audit/checkpoints");
      assert.equal(operatorLike.status, 401);
    } finally {
      assert.equal(await s.stop(), 0);
      await new Promise<void>((r) => witness.close(() => r()));
    }
    const file = join(t.dir, "witness.jsonl");
    writeFileSync(file, got.join("\n") + "\n");
    assert.match(sigilOk(home, ["audit", "verify", "--witness", file]).stdout, /checkpoints OK/);
    const logged = readFileSync(syslog, "utf8").trim().split("\n");
    assert.match(logged[0]!, /^-t sigil-audit -p auth\.notice -- checkpoint \{"treeSize":\d+/);
    assert.match(sigilOk(home, ["audit", "verify", "--witness", syslog]).stdout, /checkpoints OK/);
  });

  it("an audit key swapped in the database signs nothing: it is not the pinned one", async () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const spki = other.publicKey.export({ format: "der", type: "spki" });
    const id = createHash("sha256").update(spki).digest("hex");
    execHomeSql(
      home,
      `DELETE FROM audit_keys; INSERT INTO audit_keys VALUES ('${id}', 'file:audit-evil', X'${spki.toString("hex")}', ${Date.now()})`,
    );
    refused(sigil(home, ["audit", "checkpoint"]), /not the key pinned in sigil\.json/);
  });
});
