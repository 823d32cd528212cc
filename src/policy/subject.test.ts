import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decideSubject, inventoryEmail } from "./subject.js";
import { parseDn, formatDn } from "../x509/dn.js";
import { ErrorCodes, isSigilError } from "../errors.js";
import type { GeneralName } from "../x509/types.js";

const dn = (s: string) => parseDn(s);
const dns = (value: string): GeneralName => ({ type: "dns", value });
const email = (value: string): GeneralName => ({ type: "email", value });
const denied = (re: RegExp) => (e: unknown) =>
  isSigilError(e, ErrorCodes.POLICY_DENIED) && re.test(e.message);

describe("subject policy", () => {
  it("without a policy (an operator's decision) keeps the request's subject", () => {
    const s = dn("/O=X/CN=a/CN=b");
    assert.deepEqual(decideSubject(s, [], undefined), s);
  });

  it("ACME: CN=<first identifier> alone, whatever the CSR says (attack: /CN=postgres/CN=localhost)", () => {
    const csr = dn("/O=Gentoo Fictional, Inc./OU=DBA/UID=admin/emailAddress=ceo@genfic.com/CN=postgres/CN=localhost");
    const out = decideSubject(csr, [dns("localhost")], { kind: "identifiers", commonName: "localhost" });
    assert.equal(formatDn(out), "CN=localhost");
    assert.equal(formatDn(decideSubject(csr, [dns("b.x"), dns("a.x")], { kind: "identifiers" })), "CN=b.x");
    assert.equal(formatDn(decideSubject(csr, [{ type: "ip", value: "10.0.0.1" }], { kind: "identifiers" })), "CN=10.0.0.1");
    // Longer than ub-common-name: an empty subject (the SAN carries the name).
    const long = `${"a".repeat(60)}.genfic.internal`;
    assert.deepEqual(decideSubject(csr, [dns(long)], { kind: "identifiers" }), []);
    assert.throws(() => decideSubject(csr, [dns("a.x")], { kind: "identifiers", commonName: "postgres" }), denied(/not one of/));
  }); // prettier-ignore

  it("mail/web: the CN is a display name, emailAddress only when proven, other attributes dropped", () => {
    // Bob proved bob@genfic.com; his CSR names Alice in its subject.
    const bob = dn("/O=Gentoo Fictional, Inc./OU=DBA/CN=Alice Admin/emailAddress=alice@genfic.com");
    const policy = { kind: "validated" as const, emails: ["bob@genfic.com"] };
    const out = decideSubject(bob, [email("bob@genfic.com")], policy);
    assert.equal(formatDn(out), "CN=Alice Admin");
    assert.equal(inventoryEmail(out, [email("bob@genfic.com")], policy), "bob@genfic.com");
    // Its own proven address is kept (in the SAN's form), once.
    const own = dn("/CN=Bob/emailAddress=BOB@genfic.com/emailAddress=bob@genfic.com");
    assert.equal(formatDn(decideSubject(own, [email("bob@genfic.com")], policy)), "emailAddress=bob@genfic.com,CN=Bob");
    // A rule may keep listed attributes with allowed values.
    const allow = { ...policy, allow: { O: ["Gentoo Fictional, Inc."], OU: ["D*"] } };
    assert.equal(formatDn(decideSubject(bob, [email("bob@genfic.com")], allow)), "CN=Alice Admin,OU=DBA,O=Gentoo Fictional\\, Inc.");
    assert.equal(formatDn(decideSubject(dn("/O=Evil Corp/CN=B"), [email("bob@genfic.com")], allow)), "CN=B");
  }); // prettier-ignore

  it("mail/web: refuses two CNs, a CN naming an unproven address or host, an unproven e-mail SAN", () => {
    const policy = { kind: "validated" as const, emails: ["bob@genfic.com"] };
    const sans = [email("bob@genfic.com")];
    assert.throws(() => decideSubject(dn("/CN=postgres/CN=Bob"), sans, policy), denied(/2 common names/));
    assert.throws(() => decideSubject(dn("/CN=alice@genfic.com"), sans, policy), denied(/e-mail address that is not proven/));
    assert.throws(() => decideSubject(dn("/CN=db.genfic.internal"), sans, policy), denied(/names a host/));
    assert.throws(() => decideSubject(dn("/CN=10.0.0.1"), sans, policy), denied(/names a host/));
    assert.throws(() => decideSubject(dn("/CN=Bob"), [...sans, email("alice@genfic.com")], policy), denied(/alice@genfic\.com is not proven/));
    // A host CN among the approved names is fine; so is no CN at all.
    const host = { kind: "validated" as const, emails: [] };
    assert.equal(formatDn(decideSubject(dn("/C=BE/CN=db.genfic.internal"), [dns("db.genfic.internal")], host)), "CN=db.genfic.internal");
    assert.deepEqual(decideSubject(dn("/O=X"), [dns("db.genfic.internal")], host), []);
    assert.equal(inventoryEmail([], [dns("db.genfic.internal")], { ...host, contact: "ops@genfic.com" }), "ops@genfic.com");
    assert.equal(inventoryEmail(dn("/emailAddress=x@y.z"), [], undefined), "x@y.z");
  }); // prettier-ignore
});
