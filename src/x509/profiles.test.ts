import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SigilError } from "../errors.js";
import { parseDn } from "./dn.js";
import { EkuOid } from "./oids.js";
import {
  PROFILES,
  PUBLIC_PROFILE_NAMES,
  decideSans,
  getProfile,
  internalProfile,
  isInternalProfile,
} from "./profiles.js";
import type { GeneralName, ParsedCsr, UnsupportedGeneralName } from "./types.js";

function csr(subject: string, sans: GeneralName[], unsupported: UnsupportedGeneralName[] = []): ParsedCsr {
  return {
    der: Buffer.alloc(0),
    subject: parseDn(subject),
    subjectDer: Buffer.alloc(0),
    spki: Buffer.alloc(0),
    publicKey: { kind: "ec", curve: "P-256" },
    requestedSans: sans,
    unsupportedSans: unsupported,
    requestedExtensions: [],
    signatureAlgorithm: "1.2.840.10045.4.3.2",
    keyFingerprint: "",
  };
}

describe("profiles", () => {
  it("key usages depend on the key", () => {
    assert.deepEqual(PROFILES.user!.keyUsage({ kind: "rsa", bits: 2048 }), [
      "digitalSignature",
      "keyEncipherment",
    ]);
    assert.deepEqual(PROFILES.user!.keyUsage({ kind: "ec", curve: "P-256" }), ["digitalSignature"]);
    assert.deepEqual(PROFILES.system!.keyUsage({ kind: "ed25519" }), ["digitalSignature"]);
    assert.deepEqual(PROFILES.ca!.keyUsage({ kind: "rsa", bits: 4096 }), ["keyCertSign", "cRLSign"]);
    assert.deepEqual(PROFILES.ocsp!.extKeyUsage, [EkuOid.OCSPSigning]);
    assert.deepEqual(PROFILES["admin-tls"]!.extKeyUsage, [EkuOid.serverAuth, EkuOid.sigilAdminServer]);
    assert.deepEqual(PROFILES["admin-client"]!.extKeyUsage, [EkuOid.clientAuth, EkuOid.sigilAdminClient]);
    assert.equal(PROFILES.ocsp!.ocspNoCheck, true);
    assert.equal(PROFILES.user!.defaultDays, 396);
    assert.equal(PROFILES.system!.defaultDays, 3650);
    assert.equal(PROFILES.ocsp!.defaultDays, 30);
  });

  it("getProfile", () => {
    assert.equal(getProfile("system").name, "system");
    assert.throws(
      () => getProfile("toString"),
      (e: unknown) =>
        e instanceof SigilError &&
        e.code === "usage" &&
        /unknown profile toString \(known: user, system\)/.test(e.message),
    );
  });

  it("internal profiles (ocsp, ca, admin-tls, admin-client) are never handed to a request, and not listed", () => {
    assert.deepEqual(PUBLIC_PROFILE_NAMES, ["user", "system"]);
    for (const name of ["ocsp", "ca", "admin-tls", "admin-client"] as const) {
      assert.ok(isInternalProfile(name));
      assert.throws(
        () => getProfile(name),
        (e: unknown) =>
          e instanceof SigilError &&
          e.code === "policy_denied" &&
          e.message.startsWith(`profile ${name} is internal`),
      );
      assert.equal(internalProfile(name).name, name);
    }
    assert.ok(!isInternalProfile("system") && !isInternalProfile("toString"));
  });

  it("decideSans: user gets the subject e-mail, system gets CN as DNS, foreign types are refused", () => {
    assert.deepEqual(decideSans(PROFILES.user!, csr("/CN=Jane/emailAddress=jane@genfic.example", [])), [
      { type: "email", value: "jane@genfic.example" },
    ]);
    assert.deepEqual(
      decideSans(
        PROFILES.user!,
        csr("/CN=Jane/emailAddress=jane@genfic.example", [{ type: "email", value: "j@genfic.example" }]),
      ),
      [{ type: "email", value: "j@genfic.example" }],
    );
    assert.deepEqual(decideSans(PROFILES.system!, csr("/CN=myhostname", [])), [
      { type: "dns", value: "myhostname" },
    ]);
    assert.deepEqual(decideSans(PROFILES.system!, csr("/CN=10.0.0.9", [])), [
      { type: "ip", value: "10.0.0.9" },
    ]);
    assert.deepEqual(decideSans(PROFILES.system!, csr("/CN=GenFic Web Server", [])), []);
    assert.deepEqual(
      decideSans(
        PROFILES.system!,
        csr("/CN=www.genfic.example", [
          { type: "dns", value: "WWW.genfic.example" },
          { type: "ip", value: "192.0.2.1" },
        ]),
      ),
      [
        { type: "dns", value: "www.genfic.example" },
        { type: "ip", value: "192.0.2.1" },
      ],
    );
    assert.throws(
      () => decideSans(PROFILES.system!, csr("/CN=x", [{ type: "email", value: "x@y.example" }])),
      (e: unknown) =>
        e instanceof SigilError &&
        e.code === "policy_denied" &&
        /profile system does not allow e-mail SANs/.test(e.message),
    );
    assert.throws(
      () => decideSans(PROFILES.user!, csr("/CN=x", [{ type: "dns", value: "x.example" }])),
      (e: unknown) =>
        e instanceof SigilError && e.code === "policy_denied" && /does not allow DNS SANs/.test(e.message),
    );
    assert.throws(
      () => decideSans(PROFILES.system!, csr("/CN=x", [{ type: "dns", value: "bad name" }])),
      (e: unknown) => e instanceof SigilError && e.code === "bad_san",
    );
  });

  it("one rule for every SAN type a profile does not take: refused with one line naming it, never dropped", () => {
    const refused = (profile: string, c: ParsedCsr, msg: RegExp): void =>
      assert.throws(
        () => decideSans(PROFILES[profile]!, c),
        (e: unknown) =>
          e instanceof SigilError &&
          e.code === "policy_denied" &&
          !e.message.includes("\n") &&
          msg.test(e.message),
      );
    const upn = { type: "otherName", detail: "1.3.6.1.4.1.311.20.2.3, Microsoft UPN" } as const;
    for (const profile of PUBLIC_PROFILE_NAMES) {
      refused(
        profile,
        csr("/CN=host.genfic.example", [], [upn]),
        new RegExp(
          `^profile ${profile} does not allow otherName SANs \\(requested otherName 1\\.3\\.6\\.1\\.4\\.1\\.311\\.20\\.2\\.3, Microsoft UPN\\)$`,
        ),
      );
      for (const type of ["x400Address", "directoryName", "ediPartyName"] as const)
        refused(
          profile,
          csr("/CN=x", [], [{ type, detail: "" }]),
          new RegExp(`^profile ${profile} does not allow ${type} SANs \\(requested ${type}\\)$`),
        );
      refused(
        profile,
        csr("/CN=x", [], [{ type: "registeredID", detail: "1.2.3.4" }]),
        /does not allow registeredID SANs \(requested registeredID 1\.2\.3\.4\)$/,
      );
    }
    // Next to names the profile takes, the foreign one still refuses the whole request.
    refused("system", csr("/CN=x", [{ type: "dns", value: "x.example" }], [upn]), /otherName/);
    refused("user", csr("/CN=x", [{ type: "email", value: "x@y.example" }], [upn]), /otherName/);
  });
});
