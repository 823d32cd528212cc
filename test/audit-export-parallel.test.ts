/**
 * `sigil audit verify --offline` reads a large export in byte ranges on worker threads
 * (cli/audit-export.ts, joined by audit/log-verify.ts). It must give exactly the verdict of
 * the one-stream read (`readExportEvents`): for an intact export from any part size, thread
 * count and start; and for every tampering (an edit, a deleted, swapped or blank line, the
 * insider's rewrite with every hash recomputed, a truncation, CRLF lines, a line not in the
 * export's own form, a line that is not JSON), where the parts hand the file to the stream.
 * Also: the build ships every worker entry the code starts and every entry bin/sigil.js loads.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { chainHash, GENESIS_HASH, parseDetails, stableStringify } from "../src/audit/chain.js";
import { auditKeyId, checkpointText, eventLeaf } from "../src/audit/checkpoint.js";
import { verifyAuditLog, type LogVerifyInput } from "../src/audit/log-verify.js";
import { MerkleFrontier, rootOf } from "../src/audit/merkle.js";
import { AuditRangeScan, partFails, partsInOrder } from "../src/audit/segment.js";
import { readExportEvents, verifyExportEvents, type ExportScanOptions } from "../src/cli/audit-export.js";
import type { AuditCheckpoint, AuditEvent } from "../src/store/types.js";
import { auditDraft } from "./audit-fixtures.js";

const N = 1500;
const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = key.publicKey.export({ format: "der", type: "spki" });
const dir = mkdtempSync(join(tmpdir(), "sigil-audit-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The intact log, as the export writes it (the store's key order). */
const events: AuditEvent[] = [];
{
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= N; seq++) {
    // As the store gives it back: its details text is stableStringify's (sorted keys).
    const d = auditDraft(seq);
    const body = { seq, ...d, details: parseDetails(stableStringify(d.details)) };
    const hash = chainHash(prev, body);
    events.push({ ...body, prevHash: prev, hash });
    prev = hash;
  }
}
const leaves = events.map((e) => eventLeaf(e.hash));

/** Checkpoints signed over the intact log: inside parts, at byte-part edges, at the end. */
const checkpoints: AuditCheckpoint[] = [1, 256, 257, 700, 1024, 1499, N].map((size) => {
  const head = { treeSize: size, rootHash: rootOf(leaves, 0, size).toString("hex"), at: 9000 + size };
  return {
    ...head,
    keyId: auditKeyId(spki),
    signature: sign("sha256", checkpointText(head), key.privateKey).toString("base64"),
  };
});

const line = (e: AuditEvent) => JSON.stringify(e);

/** The verify input of an export from event `from` (the export's start.json). */
function inputFrom(from = 1): Omit<LogVerifyInput, "events"> {
  const frontier = new MerkleFrontier();
  for (const l of leaves.slice(0, from - 1)) frontier.push(l);
  return {
    checkpoints: checkpoints.filter((c) => c.treeSize >= from - 1),
    pinned: [spki],
    start: {
      seq: from - 1,
      hash: from === 1 ? GENESIS_HASH : events[from - 2]!.hash,
      frontier: frontier.nodes(),
    },
  };
}

let files = 0;
/** Both reads of `text`: the parts' (forced onto worker threads) and the stream's. */
async function both(text: string, opts: ExportScanOptions = {}, from = 1) {
  const file = join(dir, `events-${++files}.jsonl`);
  writeFileSync(file, text);
  const input = inputFrom(from);
  const run = async <T>(f: () => Promise<T>): Promise<{ value: T } | { error: string }> => {
    try {
      return { value: await f() };
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  const parts = await run(() =>
    verifyExportEvents(file, input, { minBytes: 0, threads: 2, partBytes: 4096, ...opts }),
  );
  const stream = await run(() => verifyAuditLog({ ...input, events: { hashed: readExportEvents(file) } }));
  return { parts, stream };
}

const text = (list: string[], end = "\n") => list.join(end) + end;
const intact = () => events.map(line);

describe("audit export read in parts (verify --offline)", () => {
  it("an intact export: the stream's verdict from any part size and thread count, decided by the parts", async () => {
    for (const [partBytes, threads] of [
      [1, 2],
      [301, 3],
      [997, 2],
      [4096, 1],
      [65_536, 2],
      [1 << 30, 2],
    ] as const) {
      const { parts, stream } = await both(text(intact()), { partBytes, threads });
      assert.ok("value" in stream && stream.value.ok, JSON.stringify(stream));
      assert.equal(stream.value.count, N);
      assert.deepEqual(parts, { value: { verdict: stream.value, parted: true } }, `${partBytes}/${threads}`);
    }
  });

  it("an export from a later event, and one without a final newline: decided by the parts", async () => {
    for (const from of [2, 257, 700, 1025]) {
      const { parts, stream } = await both(text(intact().slice(from - 1)), { partBytes: 2000 }, from);
      assert.ok(
        "value" in stream && stream.value.ok && stream.value.count === N - from + 1,
        JSON.stringify(stream),
      );
      assert.deepEqual(parts, { value: { verdict: stream.value, parted: true } }, `from ${from}`);
    }
    const { parts, stream } = await both(intact().join("\n"));
    assert.ok("value" in stream && stream.value.ok);
    assert.deepEqual(parts, { value: { verdict: stream.value, parted: true } });
  });

  it("a small export, or one without the workers' options, is read as one stream", async () => {
    const { parts, stream } = await both(text(intact()), { minBytes: 1 << 30 });
    assert.ok("value" in stream && stream.value.ok);
    assert.deepEqual(parts, { value: { verdict: stream.value, parted: false } });
  });

  /** Each a change to the intact lines; the verdict must be the stream's, with the stream reading it. */
  const tamperings: Array<[string, (l: string[]) => string]> = [
    [
      "an actor edited",
      (l) =>
        text(
          l.map((x, i) => (i === 698 ? x.replace('"actor":"token:deploy-bot"', '"actor":"cli:mallory"') : x)),
        ),
    ],
    ["a line deleted at a checkpoint's size", (l) => text(l.filter((_, i) => i !== 256))],
    ["two lines swapped", (l) => text(l.map((x, i) => (i === 600 ? l[601]! : i === 601 ? l[600]! : x)))],
    ["the tail cut", (l) => text(l.slice(0, N - 10))],
    ["the first event deleted", (l) => text(l.slice(1))],
    [
      "the insider's rewrite: an actor edited, an event deleted, every hash recomputed",
      (l) => {
        const kept = events
          .filter((e) => e.seq !== 900)
          .map((e) => (e.seq === 300 ? { ...e, actor: "cli:mallory" } : e));
        let prev = GENESIS_HASH;
        const out: string[] = [];
        kept.forEach((e, i) => {
          const body = {
            seq: i + 1,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            details: e.details,
          };
          const hash = chainHash(prev, body);
          out.push(line({ ...body, prevHash: prev, hash }));
          prev = hash;
        });
        void l;
        return text(out);
      },
    ],
    ["a blank line", (l) => text([...l.slice(0, 400), "", ...l.slice(400)])],
    ["CRLF line ends", (l) => text(l, "\r\n")],
    [
      "a line in another key order (JSON, the same event)",
      (l) => {
        const e = events[1000]!;
        const { hash, ...rest } = e;
        const reordered = JSON.stringify({ hash, ...rest });
        return text(l.map((x, i) => (i === 1000 ? reordered : x)));
      },
    ],
    ["a line that is not JSON", (l) => text(l.map((x, i) => (i === 1200 ? x.slice(0, -1) : x)))],
    ["a seq of 0", (l) => text(l.map((x, i) => (i === 500 ? x.replace('{"seq":501,', '{"seq":0,') : x)))],
  ];
  for (const [name, change] of tamperings)
    it(`${name}: the stream's verdict, read by the stream`, async () => {
      const { parts, stream } = await both(change(intact()), { partBytes: 3000 });
      if ("value" in stream) assert.deepEqual(parts, { value: { verdict: stream.value, parted: false } });
      else assert.deepEqual(parts, stream);
    });

  it("the stream's verdicts above are the expected ones (not all ok)", async () => {
    const verdicts: string[] = [];
    for (const [, change] of tamperings) {
      const { stream } = await both(change(intact()), { minBytes: 1 << 30 });
      verdicts.push("value" in stream ? (stream.value.ok ? "ok" : "fail") : "error");
    }
    assert.deepEqual(verdicts, [
      "fail",
      "fail",
      "fail",
      "fail",
      "fail",
      "fail",
      "ok",
      "ok",
      "ok",
      "error",
      "fail",
    ]);
  });

  it("parts joined in order: a part left unread is an error unless one before it fails", () => {
    const part = (after: number, fail: boolean) => {
      const scan = new AuditRangeScan(after, after + 1, []);
      const e = events[after]!;
      scan.addLink(e, fail ? "0".repeat(64) : e.hash);
      return scan.summary();
    };
    assert.throws(() => partsInOrder([part(0, false), undefined, part(2, false)]), /a part was not read/);
    assert.equal(partsInOrder([part(0, false), part(1, true), undefined]).length, 2);
    assert.ok(partFails(part(1, true)) && !partFails(part(1, false)));
  });

  it("the build ships every worker entry the code starts, and every entry the launcher loads", () => {
    const started = new Set<string>();
    const walk = (d: string): void => {
      for (const f of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, f.name);
        if (f.isDirectory()) walk(p);
        else if (p.endsWith(".ts"))
          for (const m of readFileSync(p, "utf8").matchAll(/workerScript\(import\.meta\.url, "([\w-]+)"\)/g))
            started.add(m[1]!);
      }
    };
    walk(join(import.meta.dirname, "..", "src"));
    assert.deepEqual([...started].sort(), ["audit-export-worker", "audit-scan-worker"]);
    // And every entry the launcher loads (bin/sigil.js: the CLI, --version, the key ahead).
    const launcher = readFileSync(join(import.meta.dirname, "..", "bin", "sigil.js"), "utf8");
    const loaded = [...launcher.matchAll(/"\.\.\/dist\/([\w-]+)\.js"/g)].map((m) => m[1]!);
    assert.deepEqual(loaded.sort(), ["key-ahead", "main", "version"]);
    for (const name of loaded) started.add(name);
    for (const name of started)
      assert.ok(existsSync(join(import.meta.dirname, "..", "dist", `${name}.js`)), `dist/${name}.js`);
  });
});
