import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_ACTIONS, ADMIN_ROLES, actionsOf, allowed, isAdminRole } from "./roles.js";

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
});
