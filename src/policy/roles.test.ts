import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_ACTIONS, ADMIN_ROLES, actionsOf, allowed, isAdminRole, isReadAction } from "./roles.js";

describe("roles matrix", () => {
  it("keeps duties apart: only operators sign and revoke, only security admins hold custody", () => {
    for (const a of [
      "cert.sign",
      "cert.revoke",
      "request.approve",
      "request.reject",
      "crl.publish",
    ] as const) {
      assert.deepEqual(
        ADMIN_ROLES.filter((r) => allowed(r, a)),
        ["operator"],
        a,
      );
    }
    for (const a of [
      "unseal",
      "seal",
      "token.create",
      "token.revoke",
      "ca.create",
      "ca.retire",
      "policy.read",
      "acme.enable",
      "acme.disable",
      "acme.eab.create",
      "acme.eab.list",
    ] as const)
      assert.deepEqual(
        ADMIN_ROLES.filter((r) => allowed(r, a)),
        ["security"],
        a,
      );
    assert.deepEqual(
      ADMIN_ROLES.filter((r) => allowed(r, "audit.read")),
      ["security", "auditor"],
    );
  });

  it("gives the auditor reads only", () => {
    for (const a of actionsOf("auditor"))
      assert.match(a, /^(status|audit\.|.*\.list|.*\.show)/, `auditor may ${a}`);
  });

  it("denies unknown roles everything and lists only known actions", () => {
    for (const a of ADMIN_ACTIONS) assert.equal(allowed("root", a), false);
    assert.equal(allowed("__proto__", "status"), false);
    assert.equal(isAdminRole("operator"), true);
    assert.equal(isAdminRole("admin"), false);
    for (const r of ADMIN_ROLES) for (const a of actionsOf(r)) assert.ok(ADMIN_ACTIONS.includes(a));
  });
  it("classifies every action as a read or a write: only looking is a read", () => {
    const reads = ADMIN_ACTIONS.filter((a) => isReadAction(a));
    assert.deepEqual(reads, [
      "status",
      "cert.list",
      "cert.show",
      "request.list",
      "request.show",
      "expiring.list",
      "ca.list",
      "acme.eab.list",
      "policy.read",
      "token.list",
      "audit.read",
      "audit.verify",
    ]);
    // Everything that signs, changes state, or opens or closes the keys is a write. A new
    // action added to ADMIN_ACTIONS lands here (a write) until it is classified, and this
    // list then fails: look at what the new act does before adding it to one of the two.
    assert.deepEqual(
      ADMIN_ACTIONS.filter((a) => !isReadAction(a)),
      [
        "cert.sign",
        "cert.revoke",
        "request.approve",
        "request.reject",
        "crl.publish",
        "notices.run",
        "ca.create",
        "ca.retire",
        "ca.revoke",
        "acme.enable",
        "acme.disable",
        "acme.eab.create",
        "seal",
        "unseal",
        "token.create",
        "token.revoke",
      ],
    );
    // The auditor reads only.
    for (const a of actionsOf("auditor")) assert.ok(isReadAction(a), a);
    // Not a known action: not a read (audited per call).
    assert.equal(isReadAction("toString" as never), false);
    assert.equal(isReadAction("__proto__" as never), false);
  });
});
