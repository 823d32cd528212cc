/**
 * Issue 14 §9: each CA states which profiles it may issue under (a root: CA certificates
 * only unless the security admin says otherwise) and which names; operators act within it
 * on every channel (CLI, the handbook's -s, the queue, the admin API).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  sigil,
  sigilOk,
  tempDir,
  initHome,
  counts,
  auditActionsSince,
  newRequest,
  patchConfig,
} from "./helpers.js";
import { serveWithToken, type Served } from "./serve-helpers.js";

const csr = (dir: string, name: string, san?: string): string =>
  newRequest(dir, name, san ? { san } : {}).req;

describe("CA rules: profiles and names, on every channel", () => {
  const t = tempDir();
  const home = join(t.dir, "sigil-data");
  let s: Served;
  let operator: Record<string, string>;

  before(async () => {
    initHome(home);
    patchConfig(home, {
      caRules: {
        "genfic-system": { names: ["*.genfic.internal", "10.0.0.0/8"] },
        "genfic-user": { profiles: ["user"], names: ["*@genfic.com"] },
      },
    });
    ({ served: s, env: operator } = await serveWithToken(home, "operator", "olga"));
  });
  after(async () => {
    if (s) assert.equal(await s.stop(), 0);
    t.cleanup();
  });

  it("a root signs no end-entity certificate, locally or for an operator token", () => {
    const req = csr(t.dir, "leaf.genfic.internal");
    const before = counts(home);
    for (const env of [{}, operator]) {
      for (const args of [
        ["sign", req, "--ca", "genfic", "--profile", "system"],
        ["sign", req, "--ca", "genfic"],
      ]) {
        const r = sigil(home, args, { env });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /^sigil: CA genfic is a root: it signs CA certificates only/);
      }
    }
    const h = sigil(home, ["-p", "genfic", "-s", req, "-o", join(t.dir, "h.crt")]);
    assert.equal(h.status, 1, h.stderr);
    assert.match(h.stderr, /is a root/);
    assert.equal(counts(home).certificates, before.certificates);
    assert.ok(auditActionsSince(home, before.audit).includes("cert.issue.refused"));
  });

  it("names outside a CA's permitted patterns are refused on every channel; inside them signed", () => {
    const before = counts(home);
    const evil = csr(t.dir, "www.example.com");
    const mixed = csr(t.dir, "ok.genfic.internal", "DNS:ok.genfic.internal,DNS:bank.example.com");
    for (const req of [evil, mixed]) {
      for (const env of [{}, operator]) {
        const r = sigil(home, ["sign", req, "--ca", "genfic-system"], { env });
        assert.equal(r.status, 1, r.stderr);
        assert.match(
          r.stderr,
          /^sigil: CA genfic-system may not certify dns:(www|bank)\.example\.com \(permitted: /,
        );
      }
    }
    sigilOk(home, ["requests", "submit", evil, "--ca", "genfic-system"]);
    const id = (JSON.parse(sigilOk(home, ["requests", "list", "--json"]).stdout) as Array<{ id: number }>).at(
      -1,
    )!.id;
    for (const env of [{}, operator]) {
      const ap = sigil(home, ["requests", "approve", String(id)], { env });
      assert.equal(ap.status, 1, ap.stderr);
      assert.match(ap.stderr, /may not certify dns:www\.example\.com/);
    }
    // genfic-user: profile user only, mailboxes at genfic.com only.
    const sys = sigil(
      home,
      ["sign", csr(t.dir, "x.genfic.internal"), "--ca", "genfic-user", "--profile", "system"],
      {
        env: operator,
      },
    );
    assert.match(sys.stderr, /CA genfic-user may issue under user only, not system/);
    const mail = sigil(home, [
      "sign",
      csr(t.dir, "Mallory", "email:mallory@evil.example"),
      "--ca",
      "genfic-user",
    ]);
    assert.match(mail.stderr, /may not certify email:mallory@evil\.example/);
    assert.equal(counts(home).certificates, before.certificates, "nothing issued");
    // Within the rules: signed.
    const good = sigil(
      home,
      [
        "sign",
        csr(t.dir, "good.genfic.internal", "DNS:good.genfic.internal,IP:10.0.0.7"),
        "--ca",
        "genfic-system",
      ],
      { env: operator },
    );
    assert.equal(good.status, 0, good.stderr);
    const amber = sigil(home, ["sign", csr(t.dir, "Amber", "email:amber@genfic.com"), "--ca", "genfic-user"]);
    assert.equal(amber.status, 0, amber.stderr);
  });

  it("a bad pattern in sigil.json is refused when the configuration is read", () => {
    const saved = patchConfig(home, { caRules: { "genfic-system": { names: ["10.0.0.0/99"] } } });
    try {
      const r = sigil(home, ["ca", "list"]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /caRules/);
    } finally {
      writeFileSync(join(home, "sigil.json"), saved);
    }
  });
});
