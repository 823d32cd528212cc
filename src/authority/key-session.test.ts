/**
 * The key session alone holds the passphrase, the opened keys and the seal state; the
 * issuance decision is made once and never changes.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Authority } from "./authority.js";
import { decideIssuance } from "./issuance-decision.js";
import { validateConfig } from "../config/schema.js";
import { openStore } from "../store/open.js";
import { FileKeyStore } from "../keys/file-keystore.js";
import { NodeSigner } from "../keys/node-signer.js";
import { buildCsr } from "../x509/csr-build.js";
import { parseCsr } from "../x509/csr.js";
import { parseDn } from "../x509/dn.js";
import { isSigilError, ErrorCodes } from "../errors.js";
import type { AuditEvent, Store } from "../store/types.js";

const T0 = Date.UTC(2026, 0, 1);
const PASS = "a test passphrase";

async function csr(cn: string): Promise<Buffer> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer = new NodeSigner(privateKey, "p256");
  return buildCsr({ subject: parseDn(`/CN=${cn}`), sans: [], spki: signer.spki, signer });
}

async function events(store: Store): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of store.auditEvents()) out.push(e);
  return out;
}

describe("KeySession", () => {
  let dir: string;
  let store: Store;
  let authority: Authority;
  let asked = 0;
  const config = validateConfig({ publicUrl: "http://ca.genfic.internal" });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sigil-session-"));
    store = await openStore(dir);
    authority = new Authority({
      store,
      keys: new FileKeyStore(join(dir, "keys")),
      config,
      clock: () => T0,
      random: (n) => randomBytes(n),
      passphrase: async () => {
        asked++;
        return Buffer.from(PASS);
      },
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

  it("asks for the passphrase once per process, and forgets it when sealed", async () => {
    await authority.sign(await csr("a.genfic.internal"), { caName: "sys" });
    assert.equal(asked, 1);
    assert.equal((await authority.heldPassphrase())?.toString(), PASS);
    await authority.seal();
    assert.equal(authority.sealed, true);
    assert.equal(await authority.heldPassphrase(), undefined);
    await assert.rejects(authority.sign(await csr("b.genfic.internal"), { caName: "sys" }), (e: unknown) =>
      isSigilError(e, ErrorCodes.SEALED),
    );
    assert.equal((await events(store)).at(-1)?.action, "service.seal");
  });

  it("stays sealed on a wrong passphrase (audited as refused), signs again once unsealed", async () => {
    await assert.rejects(authority.unseal(Buffer.from("not the passphrase"), "passphrase"), (e: unknown) =>
      isSigilError(e, ErrorCodes.WRONG_PASSPHRASE),
    );
    assert.equal(authority.sealed, true);
    assert.equal((await events(store)).at(-1)?.action, "service.unseal.refused");
    assert.deepEqual(await authority.unseal(Buffer.from(PASS), "passphrase"), { opened: ["root", "sys"] });
    assert.equal(authority.sealed, false);
    const issued = await authority.sign(await csr("c.genfic.internal"), { caName: "sys" });
    assert.equal(issued.cert.commonName, "c.genfic.internal");
    assert.equal(asked, 1);
  });

  it("makes an issuance decision that cannot be changed afterwards", async () => {
    const ca = await authority.getCa("sys");
    const d = decideIssuance({
      ca,
      csr: parseCsr(await csr("d.genfic.internal")),
      opts: { caName: "sys", profile: "system" },
      config,
      now: T0,
    });
    assert.ok(Object.isFrozen(d));
    assert.equal(d.subject, "CN=d.genfic.internal");
    assert.throws(() => {
      (d as { notAfter: number }).notAfter = 0;
    }, TypeError);
  });
});
