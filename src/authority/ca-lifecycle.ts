/**
 * The CA lifecycle: create a root or a child CA (a new key, its certificate, its record,
 * its key blocked from certification, one audit event), retire a child CA, and the checks a
 * command runs before it asks for anything.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { KeyBackend, KeyType, Signer } from "../keys/types.js";
import type { CaRecord, CertRecord, Store } from "../store/types.js";
import type { DistinguishedName } from "../x509/types.js";
import { encodeDn, formatDn, dnCommonName } from "../x509/dn.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { getProfile, internalProfile } from "../x509/profiles.js";
import { makeIssuerTemplate, buildCertificate } from "../x509/certificate.js";
import { newSerial, serialToHex } from "../x509/serial.js";
import { describePublicKey, publicKeyId } from "../x509/algorithms.js";
import { decideValidity } from "../policy/issuance.js";
import type { AuditTrail } from "./audit-trail.js";
import type { CaDirectory } from "./ca-directory.js";
import type { KeySession } from "./key-session.js";
import type { Revocation } from "./revocation.js";
import { checkDays, isoDay, sha256 } from "./common.js";

/** A CA name: safe as a file name and in URLs. */
const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Options of {@link CaLifecycle.createRoot}. */
export interface CreateRootOptions {
  name: string;
  subject: DistinguishedName;
  days: number;
  keyType: KeyType;
  pathLen?: number | null;
  defaultProfile?: string;
  /** Where the CA key is made: encrypted file (default) or the configured PKCS#11 token. */
  keyBackend?: KeyBackend;
}

/** Options of {@link CaLifecycle.createChild}. */
export interface CreateChildOptions extends CreateRootOptions {
  parent: string;
  clamp?: boolean;
}

/** What the CA lifecycle needs. */
export interface CaLifecycleDeps {
  store: Pick<Store, "getCa" | "getCaById" | "transaction">;
  session: KeySession;
  directory: CaDirectory;
  revocation: Revocation;
  trail: AuditTrail;
  config: Pick<Config, "backdateSeconds">;
  clock: () => number;
  random: (n: number) => Buffer;
}

/** Creating and retiring CAs. */
export class CaLifecycle {
  constructor(private readonly deps: CaLifecycleDeps) {}

  private now(): number {
    return this.deps.clock();
  }

  private async checkNewCa(name: string, defaultProfile?: string): Promise<void> {
    // A CA's default profile is what its requests get when none is named: never internal.
    if (defaultProfile !== undefined) getProfile(defaultProfile);
    if (!CA_NAME.test(name))
      throw new SigilError(
        ErrorCodes.USAGE,
        `bad CA name "${name}": use letters, digits, '.', '_' and '-' (at most 64)`,
      );
    if (await this.deps.store.getCa(name))
      throw new SigilError(ErrorCodes.CA_EXISTS, `a CA named "${name}" already exists`);
  }

  /** Creates a self-signed root CA (RFC 5280 §4.2.1.9: CA:TRUE critical; §4.2.1.3: keyCertSign, cRLSign). */
  async createRoot(opts: CreateRootOptions): Promise<CaRecord> {
    return this.deps.trail.guarded("ca.create.refused", opts.name, async () => {
      await this.checkNewCa(opts.name, opts.defaultProfile);
      checkDays(opts.days);
      const subjectDer = encodeDn(opts.subject);
      const { notBefore, notAfter } = decideValidity({
        now: this.now(),
        backdateMs: this.deps.config.backdateSeconds * 1000,
        days: opts.days,
        defaultDays: opts.days,
        clamp: false,
        issuerNotAfter: Number.POSITIVE_INFINITY,
      });
      return this.withNewKey(opts, async (signer, keyRef) => {
        const template = makeIssuerTemplate({
          issuerSubjectDer: subjectDer,
          issuerSpki: signer.spki,
          signer,
        });
        const serial = newSerial(this.deps.random(16));
        const der = await buildCertificate(template, {
          serial,
          notBefore,
          notAfter,
          subjectDer,
          spki: signer.spki,
          profile: internalProfile("ca"),
          publicKey: describePublicKey(signer.spki),
          sans: [],
          pathLen: opts.pathLen ?? null,
          selfSigned: true,
        });
        return this.recordCa(opts, null, der, keyRef, notBefore, notAfter, serialToHex(serial));
      });
    });
  }

  /** Creates a CA signed by `parent` (RFC 5280 §4.2.1.9 pathLenConstraint honoured). */
  async createChild(opts: CreateChildOptions): Promise<CaRecord> {
    return this.deps.trail.guarded("ca.create.refused", opts.name, async () => {
      await this.checkNewCa(opts.name, opts.defaultProfile);
      checkDays(opts.days);
      const parent = await this.deps.directory.getCa(opts.parent);
      if (parent.pathLen === 0)
        throw new SigilError(
          ErrorCodes.PATH_LEN,
          `CA ${parent.name} has pathLen 0 and cannot have child CAs (give its parent's create-child --path-len)`,
        );
      let pathLen = opts.pathLen ?? (parent.pathLen === null ? 0 : Math.max(0, parent.pathLen - 1));
      if (parent.pathLen !== null && pathLen > parent.pathLen - 1) {
        if (opts.pathLen !== undefined && opts.pathLen !== null)
          throw new SigilError(
            ErrorCodes.PATH_LEN,
            `path length ${pathLen} is too long under ${parent.name} (its pathLen is ${parent.pathLen}; at most ${parent.pathLen - 1})`,
          );
        pathLen = parent.pathLen - 1;
      }
      const now = this.now();
      const v = decideValidity({
        now,
        backdateMs: this.deps.config.backdateSeconds * 1000,
        days: opts.days,
        defaultDays: opts.days,
        clamp: opts.clamp ?? false,
        issuerNotAfter: parent.notAfter,
      });
      if (v.exceeds)
        throw new SigilError(
          ErrorCodes.VALIDITY_EXCEEDS_PARENT,
          `${opts.days} days would end ${isoDay(now + opts.days * 86_400_000)}, after parent ${parent.name} expires (${isoDay(parent.notAfter)}); ask for fewer days or use --clamp`,
        );
      if (now > parent.notAfter)
        throw new SigilError(ErrorCodes.POLICY_DENIED, `CA ${parent.name} has expired`);
      const issuer = await this.deps.session.issuer(parent);
      const subjectDer = encodeDn(opts.subject);
      return this.withNewKey(opts, async (signer, keyRef) => {
        const serial = newSerial(this.deps.random(16));
        const notBefore = Math.max(v.notBefore, parent.notBefore);
        const der = await buildCertificate(issuer.template, {
          serial,
          notBefore,
          notAfter: v.notAfter,
          subjectDer,
          spki: signer.spki,
          profile: internalProfile("ca"),
          publicKey: describePublicKey(signer.spki),
          sans: [],
          pathLen,
        });
        return this.recordCa(
          { ...opts, pathLen },
          parent,
          der,
          keyRef,
          notBefore,
          v.notAfter,
          serialToHex(serial),
        );
      });
    });
  }

  /** Generates the key, runs `fn`; removes the key again when `fn` fails (nothing half-made). */
  private async withNewKey(
    opts: CreateRootOptions,
    fn: (signer: Signer, keyRef: string) => Promise<CaRecord>,
  ): Promise<CaRecord> {
    const { session } = this.deps;
    session.checkUnsealed();
    const { keyRef, signer } = await session.generateKey(
      opts.name,
      opts.keyType,
      opts.keyBackend ?? "file",
      "new-key",
    );
    try {
      return await fn(signer, keyRef);
    } catch (e) {
      await session.removeKey(keyRef);
      throw e;
    }
  }

  private async recordCa(
    opts: CreateRootOptions,
    parent: CaRecord | null,
    der: Buffer,
    keyRef: string,
    notBefore: number,
    notAfter: number,
    serialHex: string,
  ): Promise<CaRecord> {
    return this.deps.store.transaction(async (tx) => {
      const ca = await tx.insertCa({
        name: opts.name,
        parentId: parent?.id ?? null,
        subject: formatDn(opts.subject),
        certDer: der,
        keyRef,
        keyType: opts.keyType,
        serialHex,
        notBefore,
        notAfter,
        pathLen: opts.pathLen ?? null,
        defaultProfile: opts.defaultProfile ?? "system",
        crlNumber: 0,
        createdAt: this.now(),
      });
      if (parent) {
        // The child's certificate is one the parent issued (RFC 5280 §6.1): listed with the
        // parent's certificates, so it has an OCSP answer and can be revoked (and then
        // appears on the parent's CRL).
        await tx.insertCert({
          caId: parent.id,
          serialHex,
          subject: ca.subject,
          commonName: dnCommonName(opts.subject) ?? null,
          email: null,
          sans: [],
          profile: "ca",
          notBefore,
          notAfter,
          der,
          fingerprint: sha256(der),
          status: "valid",
          revokedAt: null,
          revocationReason: null,
          requestId: null,
          issuedAt: this.now(),
        });
      }
      await tx.blockKeys([
        {
          keyId: publicKeyId(parseCertificate(der).spki),
          kind: "sigil",
          detail: `the key of CA ${ca.name}`,
          caName: ca.name,
          serialHex,
          since: this.now(),
        },
      ]);
      await tx.appendAudit(
        this.deps.trail.draft("ca.create", ca.name, {
          parent: parent?.name ?? null,
          subject: ca.subject,
          serial: serialHex,
          keyType: opts.keyType,
          notAfter: new Date(notAfter).toISOString(),
          pathLen: ca.pathLen,
          fingerprint: sha256(der),
        }),
      );
      return ca;
    });
  }

  /**
   * Retires a child CA: its parent revokes its certificate with reason
   * cessationOfOperation (RFC 5280 §5.3.1), so it is on the parent's CRL and signs nothing
   * more. A root is retired by taking it out of trust stores, not here.
   */
  async retireCa(name: string): Promise<{ cert: CertRecord; crlNumber: number }> {
    const ca = await this.deps.directory.getCa(name);
    if (ca.parentId === null)
      throw new SigilError(
        ErrorCodes.USAGE,
        `CA ${name} is a root: retire it by removing it from trust stores ('sigil trust remove ${name}')`,
      );
    const parent = (await this.deps.store.getCaById(ca.parentId))!;
    const r = await this.deps.revocation.revoke(
      parent.name,
      { serial: ca.serialHex },
      "cessationOfOperation",
      {
        mayRevokeCa: true,
      },
    );
    return { cert: r.cert, crlNumber: r.crlNumber };
  }

  /**
   * The checks of a new CA that need no key, run before a command asks for anything else
   * (the subject field by field): a valid, unused name, then, with `passphrase`, the home
   * passphrase, asked now and checked as a new key's (at least 8 bytes, confirmed on a
   * prompt). Refusals are recorded as `ca.create.refused`, as {@link createRoot} records them.
   */
  async precheckNewCa(name: string, opts: { passphrase: boolean }): Promise<void> {
    await this.deps.trail.guarded("ca.create.refused", name, async () => {
      await this.checkNewCa(name);
      if (opts.passphrase) await this.deps.session.passphrase("new-key");
    });
  }

  /** Opens a CA's key now (checking the passphrase), before work that needs it. */
  async unlock(caName: string): Promise<void> {
    const ca = await this.deps.directory.getCa(caName);
    await this.deps.trail.guarded("ca.unlock.refused", ca.name, () => this.deps.session.issuer(ca));
  }
}
