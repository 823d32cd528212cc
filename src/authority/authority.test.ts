/**
 * The authority's use cases in-process, with a fake clock: validity rules, policy,
 * refusals recorded, CRL numbering, batch issuance.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Authority } from "./authority.js";
import { validateConfig } from "../config/schema.js";
import { openStore } from "../store/open.js";
import { FileKeyStore } from "../keys/file-keystore.js";
import { NodeSigner } from "../keys/node-signer.js";
import { buildCsr } from "../x509/csr-build.js";
import { parseDn } from "../x509/dn.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { isSigilError, ErrorCodes } from "../errors.js";
import type { Store } from "../store/types.js";
import type { DistinguishedName, GeneralName } from "../x509/types.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

async function csr(subject: string | DistinguishedName, sans: GeneralName[] = []): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  const dn = typeof subject === "string" ? parseDn(subject) : subject;
  return buildCsr({ subject: dn, sans, spki: signer.spki, signer });
}

describe("Authority", () => {
  let dir: string;
  let store: Store;
  let now = T0;
  let authority: Authority;
  const crls: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sigil-auth-"));
    store = await openStore(dir);
    authority = new Authority({
      store,
      keys: new FileKeyStore(join(dir, "keys")),
      config: validateConfig({ publicUrl: "http://ca.genfic.internal" }),
      clock: () => now,
      random: (n) => randomBytes(n),
      passphrase: async () => Buffer.from("a test passphrase"),
      publisher: { publishCrl: async (ca) => void crls.push(ca.name) },
      actor: "test",
    });
    await authority.createRoot({ name: "root", subject: parseDn("/CN=Root"), days: 3650, keyType: "p256" });
    await authority.createChild({
      name: "sys",
      parent: "root",
      subject: parseDn("/CN=Sys"),
      days: 1000,
      keyType: "p256",
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("puts the config's public URL in CDP and AIA", async () => {
    const sys = parseCertificate((await authority.getCa("sys")).certDer);
    assert.deepEqual(sys.crlUrls, ["http://ca.genfic.internal/crl/root.crl"]);
    assert.deepEqual(sys.ocspUrls, ["http://ca.genfic.internal/ocsp"]);
    assert.deepEqual(sys.caIssuersUrls, ["http://ca.genfic.internal/ca/root.crt"]);
    assert.equal(sys.pathLen, 0);
  });

  it("caps a default validity at the CA's end, refuses an explicit one beyond it, clamps on request", async () => {
    const sys = await authority.getCa("sys");
    const a = await authority.sign(await csr("/CN=a.genfic.internal"), { caName: "sys" });
    assert.equal(a.cert.notAfter, sys.notAfter);
    assert.ok(a.clamped);
    await assert.rejects(
      authority.sign(await csr("/CN=b.genfic.internal"), { caName: "sys", days: 1500 }),
      (e) => isSigilError(e, ErrorCodes.POLICY_DENIED) && /after CA sys expires/.test(e.message),
    );
    const c = await authority.sign(await csr("/CN=c.genfic.internal"), {
      caName: "sys",
      days: 1500,
      clamp: true,
    });
    assert.equal(c.cert.notAfter, sys.notAfter);
    const d = await authority.sign(await csr("/CN=d.genfic.internal"), { caName: "sys", days: 30 });
    assert.equal(d.cert.notAfter, Math.floor(now / 1000) * 1000 + 30 * DAY);
    assert.equal(d.cert.notBefore, Math.floor(now / 1000) * 1000 - 60_000);
  });

  it("refuses a subject beyond RFC 5280's bounds, a system certificate without a name, and the ca profile", async () => {
    await assert.rejects(
      authority.sign(await csr([{ oid: "2.5.4.3", name: "CN", value: "x".repeat(70) }]), {
        caName: "sys",
        profile: "user",
      }),
      (e) => isSigilError(e) && /CN is too long/.test(e.message),
    );
    await assert.rejects(
      authority.sign(await csr("/CN=Not A Host Name"), { caName: "sys" }),
      (e) => isSigilError(e, ErrorCodes.POLICY_DENIED) && /needs a DNS name/.test(e.message),
    );
    await assert.rejects(
      authority.sign(await csr("/CN=sub.genfic.internal"), { caName: "sys", profile: "ca" }),
      (e) => isSigilError(e, ErrorCodes.POLICY_DENIED) && /create-child/.test(e.message),
    );
  });

  it("records the requester's e-mail from the subject or the SAN", async () => {
    const u = await authority.sign(await csr("/CN=Amber/emailAddress=amber@genfic.com"), {
      caName: "sys",
      profile: "user",
    });
    assert.equal(u.cert.email, "amber@genfic.com");
    const v = await authority.sign(await csr("/CN=Bert", [{ type: "email", value: "bert@genfic.com" }]), {
      caName: "sys",
      profile: "user",
    });
    assert.equal(v.cert.email, "bert@genfic.com");
    const req = await store.getRequest(v.cert.requestId!);
    assert.equal(req?.email, "bert@genfic.com");
    assert.equal(req?.state, "issued");
    assert.equal(req?.certificateId, v.cert.id);
  });

  it("refuses to sign once the CA has expired (fake clock)", async () => {
    const sys = await authority.getCa("sys");
    const saved = now;
    now = sys.notAfter + 1000;
    try {
      await assert.rejects(
        authority.sign(await csr("/CN=late.genfic.internal"), { caName: "sys" }),
        (e) => isSigilError(e, ErrorCodes.POLICY_DENIED) && /has expired/.test(e.message),
      );
      const expired = await authority.certs({ status: "expired" });
      assert.ok(expired.length >= 1);
    } finally {
      now = saved;
    }
  });

  it("numbers CRLs monotonically and publishes on revoke", async () => {
    const first = await authority.publishCrl("sys");
    const x = await authority.sign(await csr("/CN=x.genfic.internal"), { caName: "sys", days: 10 });
    const r = await authority.revoke("sys", { serial: x.cert.serialHex }, "keyCompromise");
    assert.equal(r.crlNumber, first.crlNumber + 1);
    assert.equal(crls.at(-1), "sys");
    await assert.rejects(authority.revoke("sys", { serial: x.cert.serialHex }), (e) =>
      isSigilError(e, ErrorCodes.ALREADY_REVOKED),
    );
    await assert.rejects(authority.revoke("sys", { serial: "ffff" }), (e) =>
      isSigilError(e, ErrorCodes.CERT_NOT_FOUND),
    );
  });

  it("signs a batch with refusals in place and audits each", async () => {
    const good = await csr("/CN=batch.genfic.internal");
    const inputs = [
      { input: good, source: "one" },
      { input: Buffer.from("garbage"), source: "two" },
      { input: await csr("/CN=batch2.genfic.internal"), source: "three" },
    ];
    const seen: string[] = [];
    await authority.signBatch(
      inputs,
      { caName: "sys" },
      (r) => {
        seen.push(`${r.source}:${r.issued ? "ok" : r.error!.code}`);
      },
      2,
    );
    assert.deepEqual(seen, ["one:ok", "two:bad_csr", "three:ok"]);
    const verify = await authority.verifyAudit();
    assert.ok(verify.ok);
    const actions: string[] = [];
    for await (const e of authority.auditLog()) actions.push(e.action);
    assert.ok(actions.includes("cert.issue.refused"));
  });

  it("stops a batch after the group in which onResult said stop", async () => {
    const inputs = await Promise.all(
      [1, 2, 3, 4, 5].map(async (i) => ({
        input: await csr(`/CN=stop${i}.genfic.internal`),
        source: `s${i}`,
      })),
    );
    const seen: string[] = [];
    await authority.signBatch(
      inputs,
      { caName: "sys" },
      (r) => {
        seen.push(r.source);
        return r.source === "s3" ? "stop" : undefined;
      },
      2,
    );
    // s3 and s4 were one group (both committed): s4 is still handed out; s5 is never signed.
    assert.deepEqual(seen, ["s1", "s2", "s3", "s4"]);
    const subjects: string[] = [];
    for await (const e of authority.auditLog())
      if (e.action === "cert.issue") subjects.push(JSON.stringify(e.details));
    assert.ok(subjects.some((d) => d.includes("stop4")));
    assert.ok(!subjects.some((d) => d.includes("stop5")), "s5 was signed after the stop");
  });
});

describe("Authority: a retired CA keeps its CRL until its certificates expire (fake clock)", () => {
  let dir: string;
  let store: Store;
  let now = T0;
  let authority: Authority;
  let leafEnd = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sigil-retired-"));
    store = await openStore(dir);
    authority = new Authority({
      store,
      keys: new FileKeyStore(join(dir, "keys")),
      config: validateConfig({}),
      clock: () => now,
      random: (n) => randomBytes(n),
      passphrase: async () => Buffer.from("a test passphrase"),
      actor: "test",
    });
    await authority.createRoot({ name: "root", subject: parseDn("/CN=Root"), days: 3650, keyType: "p256" });
    for (const name of ["old", "bad"])
      await authority.createChild({ name, parent: "root", subject: parseDn(`/CN=${name}`), days: 1000, keyType: "p256" }); // prettier-ignore
    const leaf = await authority.sign(await csr("/CN=leaf.genfic.internal"), { caName: "old", days: 40 });
    leafEnd = leaf.cert.notAfter;
    await authority.ensureResponders(); // each CA's 30-day responder: certificates it issued too
    await authority.retireCa("old");
    await authority.revoke("root", { serial: (await authority.getCa("bad")).serialHex }, "keyCompromise", {
      mayRevokeCa: true,
    });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("stands retired (or revoked) with when and why", async () => {
    assert.deepEqual(await authority.standing(await authority.getCa("old")), {
      state: "retired",
      revokedAt: Math.floor(T0 / 1000) * 1000,
      reason: "cessationOfOperation",
    });
    assert.equal((await authority.standing(await authority.getCa("bad"))).state, "revoked");
    assert.equal((await authority.standing(await authority.getCa("root"))).state, "active");
  });

  it("issues nothing more, but signs its CRL and still revokes what it issued", async () => {
    await assert.rejects(
      authority.sign(await csr("/CN=late.genfic.internal"), { caName: "old" }),
      (e) =>
        isSigilError(e, ErrorCodes.POLICY_DENIED) && /was retired on .*issues nothing more/.test(e.message),
    );
    const first = await authority.publishCrl("old");
    const leaf = (await authority.certs({ caId: (await authority.getCa("old")).id, profile: "system" }))[0]!;
    const r = await authority.revoke("old", { serial: leaf.serialHex }, "keyCompromise");
    assert.equal(r.crlNumber, first.crlNumber + 1);
    assert.equal((await authority.publishCrl("old")).entries, 1);
  });

  it("a CA revoked for another reason signs no CRL", async () => {
    await assert.rejects(
      authority.publishCrl("bad"),
      (e) =>
        isSigilError(e, ErrorCodes.POLICY_DENIED) &&
        /revoked by its parent .*signs nothing more/.test(e.message),
    );
    assert.ok(!(await authority.refreshCrls()).includes("bad"));
  });

  it("the refresh job re-signs it before nextUpdate until its last certificate expired, then one final CRL, then stops", async () => {
    const half = (7 * 24 * 3_600_000) / 2; // crl.validityHours default: 7 days
    const runs: number[] = [];
    const published: number[] = [];
    for (now = T0 + half + 1000; now < leafEnd + 3 * half; now += half) {
      runs.push(now);
      if ((await authority.refreshCrls()).includes("old")) published.push(now);
    }
    // Each run found the CRL at half its validity: re-signed while certificates are live,
    // then once after the last one expired (its final CRL), then never again.
    const firstAfter = runs.find((t) => t > leafEnd)!;
    assert.deepEqual(published, [...runs.filter((t) => t <= leafEnd), firstAfter]);
    assert.ok(runs.filter((t) => t > firstAfter).length >= 1, "runs after the final one");
    const old = await authority.getCa("old");
    assert.equal((await store.latestCrl(old.id))!.thisUpdate, Math.floor(firstAfter / 1000) * 1000);
    assert.equal(await authority.publishesCrls(old), false);
  });
});
