/**
 * The use cases of the CA: create roots and children, sign requests, revoke, publish CRLs,
 * list, audit. Depends on interfaces (Store, KeyStore, Signer) and pure x509/ and policy/
 * code; the edges (CLI, later HTTP, mail) call these methods and map errors.
 */
import { createHash } from "node:crypto";
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { KeyBackend, KeyStore, KeyType, Signer } from "../keys/types.js";
import { keyBackendOf } from "../keys/key-router.js";
import type {
  AuditDraft,
  BlockedKey,
  AuditEvent,
  CaRecord,
  CertQuery,
  CertRecord,
  OcspEntry,
  OcspResponderRecord,
  RequestChannel,
  Store,
  StoreTx,
} from "../store/types.js";
import type { DistinguishedName, GeneralName, ParsedCsr } from "../x509/types.js";
import { REVOCATION_REASONS, type RevocationReason } from "../x509/types.js";
import { toPem } from "../x509/der.js";
import { encodeDn, formatDn, dnCommonName, validateDn } from "../x509/dn.js";
import { parseCsr, parseCsrAsync } from "../x509/csr.js";
import { parseCertificate } from "../x509/cert-reader.js";
import {
  getProfile,
  decideSans,
  internalProfile,
  PUBLIC_PROFILE_NAMES,
  type Profile,
} from "../x509/profiles.js";
import {
  makeIssuerTemplate,
  buildCertificate,
  keyIdentifier,
  type IssuerTemplate,
} from "../x509/certificate.js";
import { newSerial, serialToHex, normalizeSerialHex } from "../x509/serial.js";
import { buildCrl } from "../x509/crl.js";
import { describePublicKey, publicKeyId, signatureAlgorithmFor } from "../x509/algorithms.js";
import { evaluateIssuance, decideValidity } from "../policy/issuance.js";
import { decideSubject, inventoryEmail, type SubjectPolicy } from "../policy/subject.js";
import { checkCaRule } from "../policy/ca-rules.js";
import { verifyAuditChain } from "../audit/verify.js";
import { currentActor } from "../audit/actor.js";
import type { OcspCertStatus } from "../x509/ocsp.js";
import { buildOcspResponse } from "../x509/ocsp.js";
import {
  answerTimes,
  responderContext,
  signAnswer,
  statusOf,
  type ResponderContext,
} from "./ocsp-signing.js";
import { isOfflineKeyRef, keyOfflineError, openCaKeyFile } from "./offline-key.js";

/** Where published CRLs go (files under SIGIL_HOME/crl for the CLI; memory for `serve`). */
export interface CrlPublisher {
  publishCrl(ca: CaRecord, der: Buffer): Promise<void>;
}

/** Everything the authority needs from the outside world. */
export interface AuthorityDeps {
  store: Store;
  keys: KeyStore;
  config: Config;
  /** Epoch milliseconds; a fake clock in tests. */
  clock: () => number;
  /** Cryptographically secure random bytes. */
  random: (n: number) => Buffer;
  /** Asks for the passphrase of CA keys; called lazily, at most once per purpose. */
  passphrase: (purpose: "new-key" | "unlock") => Promise<Buffer>;
  publisher?: CrlPublisher;
  /** Who is acting, for the audit log. */
  actor: string;
}

/** A CA name: safe as a file name and in URLs. */
const CA_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Options of {@link Authority.createRoot}. */
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

/** Options of {@link Authority.createChild}. */
export interface CreateChildOptions extends CreateRootOptions {
  parent: string;
  clamp?: boolean;
}

/** Options of {@link Authority.sign}. */
export interface SignOptions {
  caName: string;
  profile?: string;
  days?: number;
  clamp?: boolean;
  channel?: RequestChannel;
  submitter?: string | null;
  /** Where the request came from (a file name), for the audit log. */
  source?: string;
  /**
   * What the caller says about the request and nobody checked (the admin API's `submitter`
   * and `source`): recorded in the audit event as `claimedSubmitter` / `claimedSource`,
   * beside the verified `submitter` and `source`, never in their place.
   */
  claims?: { submitter?: string; source?: string };
  /**
   * Sign a request already in the queue: its row is updated (issued, with the certificate)
   * instead of a new row being made. It must still be pending when the transaction runs.
   */
  requestId?: number;
  /** Who decided (an operator, `auto:<rule>`); default: the authority's actor. */
  decidedBy?: string;
  /** Runs inside the issuing transaction (e.g. to queue the reply mail with the certificate). */
  afterIssue?: (tx: StoreTx, issued: Issued) => Promise<void>;
  /**
   * How the subject is decided on an automated channel (ACME, auto-approval): from the
   * proven identifiers, not the CSR (policy/subject.ts). Absent: the CSR's subject, as an
   * operator decided.
   */
  subjectPolicy?: SubjectPolicy;
  /**
   * The request's key is one Sigil made for itself (e.g. the admin TLS key): it is blocked
   * from certification by any channel from this issuance on; the text says what it is.
   */
  serviceKey?: string;
}

/** Options of {@link Authority.issueServiceCertificate}. */
export interface ServiceCertificateOptions {
  caName: string;
  /** The internal profile: the admin API's server certificate, or an admin client certificate. */
  profile: "admin-tls" | "admin-client";
  days?: number;
  /** Who asked (for the audit log), e.g. `sigil serve`. */
  submitter: string;
  /** What it is for (for the audit log), e.g. `admin-tls`. */
  source: string;
  /** What the key is, in refusals of its later certification (see {@link SignOptions.serviceKey}). */
  serviceKey: string;
}

/** What {@link Authority.evaluate} finds, short of signing. */
export interface Evaluation {
  profile: string;
  sans: GeneralName[];
  notBefore: number;
  notAfter: number;
  clamped: boolean;
  subject: string;
}

/** What {@link Authority.sign} returns. */
export interface Issued {
  cert: CertRecord;
  pem: string;
  clamped: boolean;
}

/** Who is revoking, as far as the use case must know. */
export interface RevokeOptions {
  /**
   * The caller may revoke a CA certificate (a child CA listed among its parent's): the
   * security role, or the local CLI that holds custody of the keys. Operators, ACME and
   * every other channel may not.
   */
  mayRevokeCa?: boolean;
}

/** Which certificate to revoke. */
export type RevokeTarget = { serial: string } | { certDer: Buffer } | { match: string };

/** A certificate built and signed but not yet stored. */
interface Prepared {
  csr: ParsedCsr;
  profile: Profile;
  sans: GeneralName[];
  now: number;
  notBefore: number;
  notAfter: number;
  clamped: boolean;
  subject: string;
  email: string | null;
  commonName: string | null;
  channel: RequestChannel;
  submitter: string | null;
  source: string | null;
  opts: SignOptions;
  serialHex: string;
  der: Buffer;
  fingerprint: string;
  /** {@link publicKeyId} of the request's key. */
  keyId: string;
  /** (Re)allocates a serial and builds and signs the certificate. */
  build: () => Promise<void>;
}

interface IssuerContext {
  ca: CaRecord;
  signer: Signer;
  template: IssuerTemplate;
  /** The CA's own certificate as its parent revoked it, read when the key was opened. */
  revoked?: OwnRevocation;
}

/** What a CA's key is opened for: issuing certificates, or CRLs (and revocations) only. */
type IssuerUse = "issue" | "crl";

/** A CA's own certificate, revoked by its parent: when, and the RFC 5280 §5.3.1 reason code. */
interface OwnRevocation {
  at: number;
  reason: number | null;
}

/**
 * Where a CA stands, as listings show it: `active`; `retired` (its parent revoked its
 * certificate with reason cessationOfOperation, `sigil ca retire`: it issues nothing more but
 * still signs its CRL); `revoked` (by its parent for any other reason: it signs nothing
 * more); `expired` (past its notAfter).
 */
export interface CaStanding {
  state: "active" | "retired" | "revoked" | "expired";
  /** When its parent revoked it (retired or revoked), else null. */
  revokedAt: number | null;
  /** The RFC 5280 §5.3.1 reason name it was revoked with, else null. */
  reason: RevocationReason | null;
}

/** RFC 5280 §5.3.1 reason names by code. */
const REASON_NAMES = new Map<number, RevocationReason>(
  Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]),
);

/** The certificate authority's use cases. */
export class Authority {
  private readonly deps: AuthorityDeps;
  private readonly issuers = new Map<number, Promise<IssuerContext>>();
  private readonly responders = new Map<number, Promise<ResponderContext>>();
  /** CAs that publish no more CRLs (revoked, or retired with the final one out), once seen. */
  private readonly crlsDone = new Set<number>();
  private pass?: Promise<Buffer>;
  private sealedFlag = false;
  /** Key files given for CAs (`--key-file`), by CA name: offline keys brought back for one run. */
  private readonly keyFiles = new Map<string, string>();

  constructor(deps: AuthorityDeps) {
    this.deps = deps;
  }

  /**
   * Uses the key in `path` (an exported, encrypted key file) for CA `caName` in this
   * process, instead of the online store: how an offline CA signs. The key must match
   * the CA certificate; it is opened with the home passphrase when first needed (call this
   * before the CA's key is first used).
   */
  useKeyFile(caName: string, path: string): void {
    this.keyFiles.set(caName, path);
  }

  /** True when CA `ca`'s key is offline and no key file was given for it. */
  keyUnavailable(ca: CaRecord): boolean {
    return isOfflineKeyRef(ca.keyRef) && !this.keyFiles.has(ca.name);
  }

  /** Opens a CA key: a given key file, else the online store; an offline CA without one: KEY_OFFLINE. */
  private async openCaKey(ca: CaRecord): Promise<Signer> {
    const file = this.keyFiles.get(ca.name);
    if (file !== undefined) return openCaKeyFile(ca, file, await this.passphraseFor("unlock"));
    if (isOfflineKeyRef(ca.keyRef)) throw keyOfflineError(ca);
    return this.openKey(ca.keyRef, `the key of CA ${ca.name}`);
  }

  get store(): Store {
    return this.deps.store;
  }

  private now(): number {
    return this.deps.clock();
  }

  private draft(action: string, target: string | null, details: Record<string, unknown>): AuditDraft {
    return { at: this.now(), actor: currentActor(this.deps.actor), action, target, details };
  }

  /** Records a refusal in the audit log (its own transaction), then throws `err`. */
  private async refuse(action: string, target: string | null, err: SigilError): Promise<never> {
    try {
      await this.deps.store.transaction((tx) =>
        tx.appendAudit(this.draft(action, target, { code: err.code, reason: err.message })),
      );
    } catch {
      // The refusal stands even when it cannot be recorded (e.g. a read-only store).
    }
    throw err;
  }

  /** Runs `fn`, recording any user error as a refusal under `action`. */
  private async guarded<T>(action: string, target: string | null, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (
        isSigilError(e) &&
        e.kind === "user" &&
        e.code !== ErrorCodes.NO_PASSPHRASE &&
        e.code !== ErrorCodes.SEALED
      )
        return this.refuse(action, target, e);
      throw e;
    }
  }

  /**
   * One passphrase per process: the first ask decides (with confirmation when it is for a
   * new key), later keys and unlocks reuse it, so `init` asks once on a terminal.
   */
  private passphraseFor(purpose: "new-key" | "unlock"): Promise<Buffer> {
    if (this.sealedFlag) return Promise.reject(sealedError());
    if (!this.pass) {
      this.pass = this.deps.passphrase(purpose);
      this.pass.catch(() => (this.pass = undefined));
    }
    return this.pass;
  }

  // ----------------------------------------------------------------------------------
  // CAs
  // ----------------------------------------------------------------------------------

  /** Looks a CA up by name; unknown is a clear user error. */
  async getCa(name: string): Promise<CaRecord> {
    const ca = await this.deps.store.getCa(name);
    if (!ca) {
      const known = (await this.deps.store.listCas()).map((c) => c.name);
      throw new SigilError(
        ErrorCodes.CA_NOT_FOUND,
        `unknown CA "${name}"${known.length ? ` (known: ${known.join(", ")})` : " (none yet: run 'sigil init' or 'sigil ca create-root')"}`,
      );
    }
    return ca;
  }

  /** All CAs, roots first. */
  listCas(): Promise<CaRecord[]> {
    return this.deps.store.listCas();
  }

  /** The CA's chain, the CA first and its root last. */
  async chain(name: string): Promise<CaRecord[]> {
    const out: CaRecord[] = [];
    let ca: CaRecord | undefined = await this.getCa(name);
    while (ca) {
      out.push(ca);
      ca = ca.parentId === null ? undefined : await this.deps.store.getCaById(ca.parentId);
    }
    return out;
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

  private checkDays(days: number): void {
    if (!Number.isInteger(days) || days < 1 || days > 36525)
      throw new SigilError(ErrorCodes.USAGE, `bad validity ${days}: give whole days between 1 and 36525`);
  }

  private urls(ca: CaRecord): { crlUrl: string; ocspUrl: string; caIssuersUrl: string } {
    const base = this.deps.config.publicUrl.replace(/\/+$/, "");
    return {
      crlUrl: `${base}/crl/${ca.name}.crl`,
      ocspUrl: `${base}/ocsp`,
      caIssuersUrl: `${base}/ca/${ca.name}.crt`,
    };
  }

  /** Creates a self-signed root CA (RFC 5280 §4.2.1.9: CA:TRUE critical; §4.2.1.3: keyCertSign, cRLSign). */
  async createRoot(opts: CreateRootOptions): Promise<CaRecord> {
    return this.guarded("ca.create.refused", opts.name, async () => {
      await this.checkNewCa(opts.name, opts.defaultProfile);
      this.checkDays(opts.days);
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
    return this.guarded("ca.create.refused", opts.name, async () => {
      await this.checkNewCa(opts.name, opts.defaultProfile);
      this.checkDays(opts.days);
      const parent = await this.getCa(opts.parent);
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
      const issuer = await this.issuer(parent);
      const subjectDer = encodeDn(opts.subject);
      return this.withNewKey(opts, async (signer, keyRef) => {
        const serial = newSerial(this.deps.random(16));
        const der = await buildCertificate(issuer.template, {
          serial,
          notBefore: Math.max(v.notBefore, parent.notBefore),
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
          Math.max(v.notBefore, parent.notBefore),
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
    if (this.sealedFlag) throw sealedError();
    const backend = opts.keyBackend ?? "file";
    // A token key is guarded by the token's PIN, not a key passphrase: none is asked for.
    const pass = backend === "pkcs11" ? Buffer.alloc(0) : await this.passphraseFor("new-key");
    const keyRef = await this.deps.keys.generate(opts.name, opts.keyType, pass, { backend });
    try {
      const signer = await this.deps.keys.open(keyRef, pass);
      return await fn(signer, keyRef);
    } catch (e) {
      await this.deps.keys.remove(keyRef).catch(() => undefined);
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
        this.draft("ca.create", ca.name, {
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

  /** Opens a key with the process passphrase; a wrong one is a clear error naming `what`. */
  private async openKey(keyRef: string, what: string): Promise<Signer> {
    // Token keys: the store logs in with its PIN; its errors (wrong PIN) are passed on as they are.
    if (this.deps.keys.needsPassphrase?.(keyRef) === false)
      return this.deps.keys.open(keyRef, Buffer.alloc(0));
    const pass = await this.passphraseFor("unlock");
    try {
      return await this.deps.keys.open(keyRef, pass);
    } catch (e) {
      if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
        throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong passphrase for ${what}`);
      throw e;
    }
  }

  /**
   * Retires a child CA: its parent revokes its certificate with reason
   * cessationOfOperation (RFC 5280 §5.3.1), so it is on the parent's CRL and signs nothing
   * more. A root is retired by taking it out of trust stores, not here.
   */
  async retireCa(name: string): Promise<{ cert: CertRecord; crlNumber: number }> {
    const ca = await this.getCa(name);
    if (ca.parentId === null)
      throw new SigilError(
        ErrorCodes.USAGE,
        `CA ${name} is a root: retire it by removing it from trust stores ('sigil trust remove ${name}')`,
      );
    const parent = (await this.deps.store.getCaById(ca.parentId))!;
    const r = await this.revoke(parent.name, { serial: ca.serialHex }, "cessationOfOperation", {
      mayRevokeCa: true,
    });
    return { cert: r.cert, crlNumber: r.crlNumber };
  }

  // ----------------------------------------------------------------------------------
  // Sealing (the service's custody of keys)
  // ----------------------------------------------------------------------------------

  /** A copy of the passphrase this process already holds (e.g. asked for by `init`), if any. */
  async heldPassphrase(): Promise<Buffer | undefined> {
    const b = await this.pass?.catch(() => undefined);
    return b ? Buffer.from(b) : undefined;
  }

  /** True while sealed: nothing can be signed until {@link unseal}. */
  get sealed(): boolean {
    return this.sealedFlag;
  }

  /**
   * Seals: forgets every opened CA and responder key and the passphrase (zeroed), so
   * nothing can be signed until {@link unseal}. Pre-signed OCSP answers and stored CRLs
   * are still served. Node cannot wipe a KeyObject's memory; dropping every reference lets
   * it be freed. `audit` false for the service's start-up state (no one acted).
   */
  async seal(audit = true, details: Record<string, unknown> = {}): Promise<void> {
    const pass = this.pass;
    this.sealedFlag = true;
    this.pass = undefined;
    this.issuers.clear();
    this.responders.clear();
    const b = await pass?.catch(() => undefined);
    b?.fill(0);
    if (audit)
      await this.deps.store.transaction((tx) => tx.appendAudit(this.draft("service.seal", null, details)));
  }

  /**
   * Unseals with the passphrase that protects the online CA keys: it must open every one
   * of them (offline and HSM keys are skipped); a wrong one leaves the service sealed and
   * is audited as refused. `method` says how it was given (passphrase, shares).
   */
  async unseal(pass: Buffer, method: string): Promise<{ opened: string[] }> {
    return this.guarded("service.unseal.refused", null, async () => {
      const online = (await this.deps.store.listCas()).filter(
        (ca) => !ca.keyRef.startsWith("offline:") && this.deps.keys.needsPassphrase?.(ca.keyRef) !== false,
      );
      // Each open runs PBKDF2 on libuv's pool: in parallel.
      await Promise.all(
        online.map(async (ca) => {
          try {
            await this.deps.keys.open(ca.keyRef, pass);
          } catch (e) {
            if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
              throw new SigilError(
                ErrorCodes.WRONG_PASSPHRASE,
                `wrong passphrase (it does not open the key of CA ${ca.name}); still sealed`,
                { details: { ca: ca.name } },
              );
            throw e;
          }
        }),
      );
      const opened = online.map((ca) => ca.name);
      this.pass = Promise.resolve(Buffer.from(pass));
      this.sealedFlag = false;
      await this.deps.store.transaction((tx) =>
        tx.appendAudit(this.draft("service.unseal", null, { method, keys: opened })),
      );
      return { opened };
    });
  }

  /**
   * Opens a CA's key once per process and builds its issuing template. A CA its parent
   * revoked signs nothing more, except a retired one (cessationOfOperation) for `use`
   * "crl": retirement stops issuance, not the CRL its certificates' relying parties need
   * (RFC 5280 §5: the CA is the CRL issuer).
   */
  private issuer(ca: CaRecord, use: IssuerUse = "issue"): Promise<IssuerContext> {
    if (this.sealedFlag) return Promise.reject(sealedError());
    let p = this.issuers.get(ca.id);
    if (!p) {
      p = (async () => {
        const revoked = await this.ownRevocation(ca);
        // Refused before the key is opened (no passphrase asked for nothing).
        if (revoked) this.checkMaySign(ca, revoked, use);
        const signer = await this.openCaKey(ca);
        const template = makeIssuerTemplate({
          issuerCertDer: ca.certDer,
          issuerSubjectDer: parseCertificate(ca.certDer).subjectDer,
          issuerSpki: signer.spki,
          signer,
          ...this.urls(ca),
        });
        return { ca, signer, template, ...(revoked ? { revoked } : {}) };
      })();
      p.catch(() => this.issuers.delete(ca.id));
      this.issuers.set(ca.id, p);
    }
    return p.then((ctx) => {
      if (ctx.revoked) this.checkMaySign(ca, ctx.revoked, use);
      return ctx;
    });
  }

  /** A CA's own certificate as its parent revoked it, if it did. */
  private async ownRevocation(ca: CaRecord): Promise<OwnRevocation | undefined> {
    if (ca.parentId === null) return undefined;
    const own = await this.deps.store.getCert(ca.parentId, ca.serialHex);
    return own?.status === "revoked" ? { at: own.revokedAt ?? 0, reason: own.revocationReason } : undefined;
  }

  /** The revocation time of a CA's own certificate, when its parent revoked it. */
  private async revokedAt(ca: CaRecord): Promise<number | undefined> {
    return (await this.ownRevocation(ca))?.at;
  }

  /**
   * A CA whose certificate its parent revoked issues nothing more (RFC 5280 §6.1.3); a
   * retired one (cessationOfOperation) still signs its CRL.
   */
  private checkMaySign(ca: CaRecord, revoked: OwnRevocation, use: IssuerUse): void {
    const on = new Date(revoked.at).toISOString();
    if (revoked.reason === REVOCATION_REASONS.cessationOfOperation) {
      if (use === "crl") return;
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${ca.name} was retired on ${on}: it issues nothing more (it still signs its CRL)`,
      );
    }
    throw new SigilError(
      ErrorCodes.POLICY_DENIED,
      `CA ${ca.name} was revoked by its parent on ${on}: it signs nothing more`,
    );
  }

  /** Where CA `ca` stands: active, retired, revoked or expired ({@link CaStanding}). */
  async standing(ca: CaRecord): Promise<CaStanding> {
    const revoked = await this.ownRevocation(ca);
    if (revoked) {
      const reason = revoked.reason === null ? null : (REASON_NAMES.get(revoked.reason) ?? null);
      return {
        state: reason === "cessationOfOperation" ? "retired" : "revoked",
        revokedAt: revoked.at,
        reason,
      };
    }
    return { state: this.now() >= ca.notAfter ? "expired" : "active", revokedAt: null, reason: null };
  }

  /**
   * True while CA `ca` must keep publishing CRLs: until it expires, unless its parent
   * revoked it. A retired CA publishes them until the last certificate it issued has
   * expired and one CRL signed after that is out (its final one; RFC 5280 §3.3: an entry
   * may leave a CRL once its certificate has expired).
   */
  async publishesCrls(ca: CaRecord): Promise<boolean> {
    if (this.now() >= ca.notAfter) return false;
    const s = await this.standing(ca);
    if (s.state === "revoked") return false;
    if (s.state !== "retired") return true;
    const latest = await this.deps.store.latestCrl(ca.id);
    return !latest || latest.thisUpdate <= ((await this.deps.store.lastNotAfter(ca.id)) ?? 0);
  }

  /**
   * Inside the issuing transaction: every CA certificate of the chain is still valid as
   * the database sees it now (RFC 5280 §6.1.3: a path through a revoked or expired CA
   * certificate is invalid), so a revocation by another process or instance stops issuance
   * at its next commit, whatever this process cached. One indexed read per chain link.
   */
  private async checkChainAtCommit(tx: StoreTx, chain: CaRecord[]): Promise<void> {
    const now = this.now();
    for (let i = 0; i < chain.length; i++) {
      const c = chain[i]!;
      if (now > c.notAfter)
        throw new SigilError(
          ErrorCodes.POLICY_DENIED,
          `CA ${c.name} expired on ${new Date(c.notAfter).toISOString()}: ${i ? `CA ${chain[0]!.name} under it` : "it"} signs nothing more`,
        );
      if (c.parentId === null) continue;
      const st = await tx.getCertStatus(c.parentId, c.serialHex);
      if (st?.status === "revoked") {
        this.issuers.delete(chain[0]!.id);
        throw new SigilError(
          ErrorCodes.POLICY_DENIED,
          `CA ${c.name} was revoked by its parent on ${new Date(st.revokedAt ?? 0).toISOString()}: ${i ? `CA ${chain[0]!.name} under it` : "it"} signs nothing more`,
        );
      }
    }
  }

  /**
   * The checks of a new CA that need no key, run before a command asks for anything else
   * (the subject field by field): a valid, unused name, then, with `passphrase`, the home
   * passphrase, asked now and checked as a new key's (at least 8 bytes, confirmed on a
   * prompt). Refusals are recorded as `ca.create.refused`, as {@link createRoot} records them.
   */
  async precheckNewCa(name: string, opts: { passphrase: boolean }): Promise<void> {
    await this.guarded("ca.create.refused", name, async () => {
      await this.checkNewCa(name);
      if (opts.passphrase) await this.passphraseFor("new-key");
    });
  }

  /** Opens a CA's key now (checking the passphrase), before work that needs it. */
  async unlock(caName: string): Promise<void> {
    const ca = await this.getCa(caName);
    await this.guarded("ca.unlock.refused", ca.name, () => this.issuer(ca));
  }

  // ----------------------------------------------------------------------------------
  // Signing
  // ----------------------------------------------------------------------------------

  /**
   * Signs one PKCS#10 request (RFC 2986) under a profile. The CSR only proposes subject and
   * SANs; every extension comes from the profile (RFC 5280 §4.2). One transaction stores
   * the request, the certificate and the audit event; the certificate is handed out after
   * commit.
   */
  async sign(input: Buffer | string, opts: SignOptions): Promise<Issued> {
    const target = opts.source ? `${opts.caName}:${opts.source}` : opts.caName;
    return this.guarded("cert.issue.refused", target, async () => {
      const ca = await this.getCa(opts.caName);
      // Open the OCSP responder's key alongside the CA key (both PBKDF2, on the thread pool).
      this.responder(ca).catch(() => undefined);
      const prepared = await this.prepare(ca, parseCsr(input), opts);
      const blocked = await this.blockedKeyErrors([prepared]);
      if (blocked[0]) throw blocked[0];
      return (await this.persist(ca, [prepared]))[0]!;
    });
  }

  /**
   * Certifies a key Sigil generated itself for one of its own services, under an internal
   * profile no channel can ask for (`admin-tls`: the admin API's server certificate;
   * `admin-client`: a client certificate for the admin API under mutual TLS). Like
   * {@link sign} otherwise: policy, validity clamped to the CA (RFC 5280 §4.1.2.5), one
   * transaction with the audit event, and the key blocked from any later certification.
   */
  async issueServiceCertificate(csr: Buffer | string, opts: ServiceCertificateOptions): Promise<Issued> {
    return this.guarded("cert.issue.refused", `${opts.caName}:${opts.source}`, async () => {
      const ca = await this.getCa(opts.caName);
      this.responder(ca).catch(() => undefined);
      const signOpts: SignOptions = {
        caName: opts.caName,
        profile: opts.profile,
        ...(opts.days !== undefined ? { days: opts.days } : {}),
        clamp: true,
        channel: "cli",
        submitter: opts.submitter,
        source: opts.source,
        serviceKey: opts.serviceKey,
      };
      const prepared = await this.prepare(ca, parseCsr(csr), signOpts, internalProfile(opts.profile));
      const blocked = await this.blockedKeyErrors([prepared]);
      if (blocked[0]) throw blocked[0];
      return (await this.persist(ca, [prepared]))[0]!;
    });
  }

  /**
   * Signs many requests in one process, each accepted or refused on its own (like
   * `openssl ca -infiles`). Certificates are committed in groups (one transaction per
   * group, each certificate with its request row and audit event) and a group is handed
   * to `onResult` only after its commit, so a crash loses nothing handed out. When
   * `onResult` returns `"stop"` (it could not hand a certificate out), the rest of that
   * group is still handed to it and no further group is signed.
   */
  async signBatch(
    inputs: Array<{ input: Buffer | string | (() => Promise<Buffer>); source: string }>,
    opts: Omit<SignOptions, "source">,
    onResult: (r: {
      source: string;
      issued?: Issued;
      error?: SigilError;
    }) => Promise<void | "stop"> | void | "stop",
    groupSize = 128,
  ): Promise<void> {
    const ca = await this.guarded("cert.issue.refused", opts.caName, async () => {
      const found = await this.getCa(opts.caName);
      this.responder(found).catch(() => undefined);
      await this.issuer(found);
      return found;
    });
    for (let i = 0; i < inputs.length; i += groupSize) {
      const group = inputs.slice(i, i + groupSize);
      // The group's requests are checked and signed concurrently: signature checks and
      // signatures run on the thread pool (both cores) while this thread parses, loads
      // keys and builds certificates. Results keep the input order.
      const settled = await Promise.allSettled(
        group.map(async (item) => {
          const raw = typeof item.input === "function" ? await item.input() : item.input;
          return this.prepare(ca, await parseCsrAsync(raw), { ...opts, source: item.source });
        }),
      );
      const ready: Prepared[] = [];
      const slots: Array<{ ready?: number; error?: SigilError }> = [];
      const fulfilled = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      const blocked = await this.blockedKeyErrors(fulfilled);
      let f = 0;
      for (const r of settled) {
        if (r.status === "fulfilled") {
          const error = blocked[f++];
          if (error) {
            slots.push({ error });
            continue;
          }
          ready.push(r.value);
          slots.push({ ready: ready.length - 1 });
        } else {
          const e: unknown = r.reason;
          if (!isSigilError(e) || e.kind !== "user") throw e;
          slots.push({ error: e });
        }
      }
      const refused = group.flatMap((item, j) =>
        slots[j]!.error ? [{ source: item.source, error: slots[j]!.error! }] : [],
      );
      if (refused.length)
        await this.deps.store.transaction(async (tx) => {
          for (const r of refused)
            await tx.appendAudit(
              this.draft("cert.issue.refused", `${ca.name}:${r.source}`, {
                code: r.error.code,
                reason: r.error.message,
              }),
            );
        });
      const issued = ready.length
        ? await this.guarded("cert.issue.refused", ca.name, () => this.persist(ca, ready))
        : [];
      let stop = false;
      for (let j = 0; j < group.length; j++) {
        const slot = slots[j]!;
        const said = await onResult(
          slot.error
            ? { source: group[j]!.source, error: slot.error }
            : { source: group[j]!.source, issued: issued[slot.ready!]! },
        );
        if (said === "stop") stop = true;
      }
      if (stop) return;
    }
  }

  /**
   * The refusal for a request whose key must never be certified (compromised, or one of
   * Sigil's own), whichever CA it is meant for; undefined when the key may be certified.
   */
  async blockedKeyRefusal(csr: ParsedCsr): Promise<SigilError | undefined> {
    const found = await this.deps.store.findBlockedKeys([publicKeyId(csr.spki)]);
    for (const b of found.values()) return blockedKeyError(b);
    return undefined;
  }

  /**
   * Would CA `caName` sign this request under these options? Runs every decision of
   * signing (profile, SANs, validity, policy, subject) without the key; throws the same
   * errors signing would.
   */
  async evaluate(
    caName: string,
    csr: ParsedCsr,
    opts: Omit<SignOptions, "caName"> = {},
  ): Promise<Evaluation> {
    const ca = await this.getCa(caName);
    const d = this.decide(ca, csr, { ...opts, caName });
    const blocked = await this.deps.store.findBlockedKeys([publicKeyId(csr.spki)]);
    for (const b of blocked.values()) throw blockedKeyError(b);
    return {
      profile: d.profile.name,
      sans: d.sans,
      notBefore: d.notBefore,
      notAfter: d.notAfter,
      clamped: d.clamped,
      subject: formatDn(d.subjectDn),
    };
  }

  /** The decisions of signing, without the key (RFC 5280 §4.1.2.6 subject rules, policy, validity). */
  private decide(ca: CaRecord, csr: ParsedCsr, opts: SignOptions, internal?: Profile) {
    const profile: Profile = internal ?? getProfile(opts.profile ?? ca.defaultProfile);
    if (opts.days !== undefined) this.checkDays(opts.days);
    const sans: GeneralName[] = decideSans(profile, csr);
    const now = this.now();
    const v = decideValidity({
      now,
      backdateMs: this.deps.config.backdateSeconds * 1000,
      days: opts.days,
      defaultDays: profile.defaultDays,
      clamp: opts.clamp ?? false,
      issuerNotAfter: ca.notAfter,
    });
    const notBefore = Math.max(v.notBefore, ca.notBefore);
    const decision = evaluateIssuance({
      ca: { name: ca.name, notBefore: ca.notBefore, notAfter: ca.notAfter },
      profile,
      csr,
      sans,
      notBefore,
      notAfter: v.notAfter,
      now,
      ownKey: internal !== undefined,
    });
    if (!decision.allow) throw new SigilError(ErrorCodes.POLICY_DENIED, decision.reason);
    // The CA's own rule (sigil.json caRules): which profiles, which names; on every channel.
    // Sigil's own service certificates (internal profiles, for a key the use case made
    // itself: issueServiceCertificate) are not a request from anyone.
    const own =
      internal !== undefined
        ? { allow: true as const }
        : checkCaRule({
            caName: ca.name,
            isRoot: ca.parentId === null,
            rule: this.deps.config.caRules[ca.name],
            publicProfiles: PUBLIC_PROFILE_NAMES,
            profile: profile.name,
            sans,
          });
    if (!own.allow) throw new SigilError(ErrorCodes.POLICY_DENIED, own.reason);
    // RFC 5280 §4.1.2.6 / App. A: the subject we sign must meet the bounds and string
    // types, whatever the request carried.
    const proposed = decideSubject(csr.subject, sans, opts.subjectPolicy);
    let subjectDn: DistinguishedName;
    try {
      subjectDn = validateDn(proposed);
    } catch (e) {
      throw new SigilError(ErrorCodes.BAD_CSR, `CSR subject: ${(e as Error).message}`);
    }
    return { profile, sans, now, notBefore, notAfter: v.notAfter, clamped: v.clamped, subjectDn };
  }

  /** Everything short of storing: the decisions, then the signed certificate. */
  private async prepare(
    ca: CaRecord,
    csr: ParsedCsr,
    opts: SignOptions,
    internal?: Profile,
  ): Promise<Prepared> {
    const { profile, sans, now, notBefore, notAfter, clamped, subjectDn } = this.decide(
      ca,
      csr,
      opts,
      internal,
    );
    const v = { notAfter, clamped };
    const issuer = await this.issuer(ca);
    const subjectDer = encodeDn(subjectDn);
    const p: Prepared = {
      csr,
      profile,
      sans,
      now,
      notBefore,
      notAfter: v.notAfter,
      clamped: v.clamped,
      subject: formatDn(subjectDn),
      email: inventoryEmail(subjectDn, sans, opts.subjectPolicy),
      commonName: dnCommonName(subjectDn) ?? null,
      channel: opts.channel ?? "cli",
      submitter: opts.submitter ?? null,
      source: opts.source ?? null,
      opts,
      serialHex: "",
      der: Buffer.alloc(0),
      fingerprint: "",
      keyId: publicKeyId(csr.spki),
      build: async () => {
        const serial = newSerial(this.deps.random(16));
        p.serialHex = serialToHex(serial);
        p.der = await buildCertificate(issuer.template, {
          serial,
          notBefore,
          notAfter: v.notAfter,
          subjectDer,
          spki: csr.spki,
          profile,
          publicKey: csr.publicKey,
          sans,
        });
        p.fingerprint = sha256(p.der);
      },
    };
    await p.build();
    return p;
  }

  /**
   * For each prepared certificate, the refusal when its key must never be certified: a key
   * whose certificate was revoked for keyCompromise or cACompromise (RFC 5280 §5.3.1), or
   * one of Sigil's own keys (a CA's, an OCSP responder's, a service key). One query for all.
   */
  private async blockedKeyErrors(items: Prepared[]): Promise<Array<SigilError | undefined>> {
    if (!items.length) return [];
    const blocked = await this.deps.store.findBlockedKeys(items.map((p) => p.keyId));
    return items.map((p) => {
      const b = blocked.get(p.keyId);
      return b ? blockedKeyError(b) : undefined;
    });
  }

  /** Stores prepared certificates in one transaction: request, certificate, audit event each. */
  private async persist(ca: CaRecord, items: Prepared[]): Promise<Issued[]> {
    const responder = await this.responder(ca);
    const chain = await this.chain(ca.name);
    for (let attempt = 0; ; attempt++) {
      try {
        // DESIGN.md: issuing produces the certificate's signed OCSP answer ("good") in the
        // same transaction, so the responder never has to sign for a new certificate.
        const [thisUpdate, nextUpdate] = answerTimes(responder, this.now(), this.ocspValidityMs());
        const answers = await Promise.all(
          items.map((p) => signAnswer(responder, p.serialHex, { kind: "good" }, thisUpdate, nextUpdate)),
        );
        const recs = await this.deps.store.transaction(async (tx) => {
          await this.checkChainAtCommit(tx, chain);
          const out: CertRecord[] = [];
          for (const [i, p] of items.entries()) {
            const decidedBy = p.opts.decidedBy ?? currentActor(this.deps.actor);
            let req: { id: number };
            if (p.opts.requestId !== undefined) {
              // Read and locked inside the transaction: a concurrent decision (another
              // process or instance) waits or is seen here (no double issuance).
              const queued = await tx.getRequestForUpdate(p.opts.requestId);
              if (!queued)
                throw new SigilError(ErrorCodes.REQUEST_NOT_FOUND, `no request ${p.opts.requestId}`);
              if (queued.state !== "pending" && queued.state !== "failed")
                throw new SigilError(
                  ErrorCodes.REQUEST_STATE,
                  `request ${queued.id} is ${queued.state}${queued.decidedBy ? ` (by ${queued.decidedBy})` : ""}; only a pending request can be approved`,
                );
              req = queued;
            } else
              req = await tx.insertRequest({
                channel: p.channel,
                submitter: p.submitter,
                email: p.email,
                receivedAt: p.now,
                csrDer: p.csr.der,
                subject: p.subject,
                caName: ca.name,
                profile: p.profile.name,
                state: "approved",
                reason: null,
                certificateId: null,
                source: p.source,
                checks: [],
                decidedBy,
                decidedAt: p.now,
                replyTo: null,
              });
            const rec = await tx.insertCert(
              {
                caId: ca.id,
                serialHex: p.serialHex,
                subject: p.subject,
                commonName: p.commonName,
                email: p.email,
                sans: p.sans,
                profile: p.profile.name,
                notBefore: p.notBefore,
                notAfter: p.notAfter,
                der: p.der,
                fingerprint: p.fingerprint,
                status: "valid",
                revokedAt: null,
                revocationReason: null,
                requestId: req.id,
                issuedAt: p.now,
              },
              { der: answers[i]!, thisUpdate, nextUpdate },
            );
            await tx.updateRequest(req.id, {
              state: "issued",
              certificateId: rec.id,
              caName: ca.name,
              profile: p.profile.name,
              reason: null,
              decidedBy,
              decidedAt: p.now,
            });
            await tx.appendAudit(
              this.draft("cert.issue", `${ca.name}/${p.serialHex}`, {
                request: req.id,
                channel: p.channel,
                submitter: p.submitter,
                source: p.source,
                ...(p.opts.claims?.submitter !== undefined
                  ? { claimedSubmitter: p.opts.claims.submitter }
                  : {}),
                ...(p.opts.claims?.source !== undefined ? { claimedSource: p.opts.claims.source } : {}),
                subject: p.subject,
                sans: p.sans.map((s) => `${s.type}:${s.value}`),
                profile: p.profile.name,
                notAfter: new Date(p.notAfter).toISOString(),
                fingerprint: p.fingerprint,
              }),
            );
            if (p.opts.serviceKey)
              await tx.blockKeys([
                {
                  keyId: p.keyId,
                  kind: "sigil",
                  detail: `${p.opts.serviceKey} (certificate ${p.serialHex} of CA ${ca.name})`,
                  caName: ca.name,
                  serialHex: p.serialHex,
                  since: p.now,
                },
              ]);
            out.push(rec);
            if (p.opts.afterIssue)
              await p.opts.afterIssue(tx, {
                cert: rec,
                pem: toPem(p.der, "CERTIFICATE"),
                clamped: p.clamped,
              });
          }
          return out;
        });
        return recs.map((cert, i) => ({
          cert,
          pem: toPem(items[i]!.der, "CERTIFICATE"),
          clamped: items[i]!.clamped,
        }));
      } catch (e) {
        // A 128-bit serial collision is astronomically rare; the transaction rolled back
        // whole, so re-serial everything in it and try again.
        if (isSigilError(e, ErrorCodes.STORE) && e.details.duplicateSerial && attempt < 3) {
          for (const p of items) await p.build();
          continue;
        }
        throw e;
      }
    }
  }

  // ----------------------------------------------------------------------------------
  // Revocation and CRLs
  // ----------------------------------------------------------------------------------

  /** Finds the one certificate a revoke target names; ambiguous or unknown is a clear error. */
  async findTarget(ca: CaRecord, target: RevokeTarget): Promise<CertRecord> {
    if ("serial" in target) {
      const hex = normalizeSerialHex(target.serial);
      const c = await this.deps.store.getCert(ca.id, hex);
      if (!c)
        throw new SigilError(
          ErrorCodes.CERT_NOT_FOUND,
          `no certificate with serial ${hex} issued by CA ${ca.name}`,
        );
      return c;
    }
    if ("certDer" in target) {
      const info = parseCertificate(target.certDer);
      const c = await this.deps.store.getCert(ca.id, info.serialHex);
      if (!c || c.fingerprint !== info.fingerprint)
        throw new SigilError(
          ErrorCodes.CERT_NOT_FOUND,
          `certificate ${info.serialHex} (${formatDn(info.subject)}) was not issued by CA ${ca.name}`,
        );
      return c;
    }
    const m = target.match.trim();
    if (!m) throw new SigilError(ErrorCodes.USAGE, "nothing to match: give a serial, CN or e-mail");
    let found = await this.deps.store.findCerts({ caId: ca.id, match: m, now: this.now(), limit: 50 });
    const live = found.filter((c) => c.status === "valid");
    if (live.length >= 1) found = live;
    if (found.length === 0)
      throw new SigilError(ErrorCodes.CERT_NOT_FOUND, `no certificate of CA ${ca.name} matches "${m}"`);
    if (found.length > 1)
      throw new SigilError(
        ErrorCodes.AMBIGUOUS_MATCH,
        `"${m}" matches ${found.length} certificates of CA ${ca.name}: ${found
          .slice(0, 10)
          .map((c) => `${c.serialHex} (${c.subject}, until ${isoDay(c.notAfter)})`)
          .join("; ")}${found.length > 10 ? "; ..." : ""}; revoke by serial`,
        { details: { candidates: found.map((c) => c.serialHex) } },
      );
    return found[0]!;
  }

  /**
   * Revokes one certificate (RFC 5280 §5.3.1 reason) and publishes a fresh CRL at once.
   * The CA key is unlocked first, so a wrong passphrase changes nothing.
   */
  async revoke(
    caName: string,
    target: RevokeTarget,
    reasonName: RevocationReason = "unspecified",
    opts: RevokeOptions = {},
  ): Promise<{ cert: CertRecord; crl: Buffer; crlNumber: number }> {
    return this.guarded("cert.revoke.refused", caName, async () => {
      const ca = await this.getCa(caName);
      const reason = REVOCATION_REASONS[reasonName];
      if (reason === undefined)
        throw new SigilError(
          ErrorCodes.USAGE,
          `unknown reason "${reasonName}" (known: ${Object.keys(REVOCATION_REASONS).join(", ")})`,
        );
      const cert = await this.findTarget(ca, target);
      // Revoking a CA certificate ends everything below it: the security role's act on every
      // path (the local CLI holds custody of the keys; the admin API's security role).
      if (cert.profile === "ca" && !opts.mayRevokeCa)
        throw new SigilError(
          ErrorCodes.FORBIDDEN,
          `certificate ${cert.serialHex} is CA ${cert.subject}'s: revoking a CA is the security role's act (sigil ca retire, or a security token)`,
        );
      if (cert.status === "revoked")
        throw new SigilError(
          ErrorCodes.ALREADY_REVOKED,
          `certificate ${cert.serialHex} (${cert.subject}) was already revoked on ${new Date(cert.revokedAt!).toISOString()}`,
        );
      // A retired CA still revokes what it issued: its CRL is still published.
      await this.issuer(ca, "crl");
      const responder = await this.responder(ca);
      // Whole seconds: CRLs and OCSP carry none (RFC 5280 §5.1.2.6 UTCTime, §4.1.2.5.2 no
      // fractional GeneralizedTime), and index.txt exports (authority/openssl-ca.ts) round-trip.
      const at = Math.floor(this.now() / 1000) * 1000;
      // DESIGN.md: revoking re-signs the certificate's OCSP answer in the same transaction,
      // so a running responder serves "revoked" as soon as it sees the commit.
      const [thisUpdate, nextUpdate] = answerTimes(responder, at, this.ocspValidityMs());
      const answer = await signAnswer(
        responder,
        cert.serialHex,
        statusOf({ status: "revoked", revokedAt: at, revocationReason: reason }),
        thisUpdate,
        nextUpdate,
      );
      await this.deps.store.transaction(async (tx) => {
        await tx.revokeCert(cert.id, at, reason);
        // A compromised key is never certified again, on any channel (RFC 5280 §5.3.1:
        // keyCompromise, and cACompromise for a CA certificate's key).
        if (reasonName === "keyCompromise" || reasonName === "cACompromise")
          await tx.blockKeys([
            {
              keyId: publicKeyId(parseCertificate(cert.der).spki),
              kind: "compromised",
              detail: `certificate ${cert.serialHex} of CA ${ca.name} was revoked for ${reasonName} on ${new Date(at).toISOString()}`,
              caName: ca.name,
              serialHex: cert.serialHex,
              since: at,
            },
          ]);
        await tx.putOcspResponses([{ certId: cert.id, caId: ca.id, der: answer, thisUpdate, nextUpdate }]);
        await tx.appendAudit(
          this.draft("cert.revoke", `${ca.name}/${cert.serialHex}`, {
            subject: cert.subject,
            reason: reasonName,
          }),
        );
      });
      if (cert.profile === "ca")
        for (const child of await this.deps.store.listCas())
          if (child.parentId === ca.id && child.serialHex === cert.serialHex) this.issuers.delete(child.id);
      const { der, crlNumber } = await this.publishCrl(ca.name);
      return {
        cert: { ...cert, status: "revoked", revokedAt: at, revocationReason: reason },
        crl: der,
        crlNumber,
      };
    });
  }

  /**
   * Builds, signs, records and publishes the CA's next CRL (RFC 5280 §5: v2, AKI,
   * monotonic cRLNumber §5.2.3, nextUpdate from config §5.1.2.5).
   */
  async publishCrl(caName: string): Promise<{ der: Buffer; crlNumber: number; entries: number }> {
    return this.guarded("crl.publish.refused", caName, async () => {
      const ca0 = await this.getCa(caName);
      // Unlocking the key (PBKDF2, off the main thread) runs while the entries are read and
      // encoded: nothing before the signature needs the key. The CRL number is taken only
      // once the key is open, so a wrong passphrase changes nothing.
      const issuerP = this.issuer(ca0, "crl");
      issuerP.catch(() => undefined); // awaited below; its error is reported there
      const cert = parseCertificate(ca0.certDer);
      const thisUpdate = Math.floor(this.now() / 1000) * 1000;
      const nextUpdate = thisUpdate + this.deps.config.crl.validityHours * 3_600_000;
      const entries = await this.deps.store.countRevoked(ca0.id);
      let crlNumber = 0;
      const algorithmIdentifier = signatureAlgorithmFor(ca0.keyType).der;
      const der = await buildCrl({
        issuerNameDer: cert.subjectDer,
        authorityKeyId: cert.subjectKeyId ?? keyIdentifier(cert.spki),
        signer: {
          algorithmIdentifier,
          sign: async (data) => {
            const { signer } = await issuerP;
            if (!signer.algorithmIdentifier.equals(algorithmIdentifier))
              throw new SigilError(ErrorCodes.INTERNAL, `CA ${ca0.name}: key does not match its key type`);
            return signer.sign(data);
          },
        },
        crlNumber: async () => {
          await issuerP;
          // One atomic increment: two instances publishing at once get distinct numbers.
          crlNumber = await this.deps.store.transaction((tx: StoreTx) => tx.nextCrlNumber(ca0.id));
          return crlNumber;
        },
        thisUpdate,
        nextUpdate,
        entries: this.deps.store.revokedEntries(ca0.id),
        expectedEntries: entries,
      });
      await this.deps.store.transaction(async (tx) => {
        await tx.putCrl({ caId: ca0.id, crlNumber, der, thisUpdate, nextUpdate });
        await tx.appendAudit(
          this.draft("crl.publish", ca0.name, {
            crlNumber,
            entries,
            thisUpdate: new Date(thisUpdate).toISOString(),
            nextUpdate: new Date(nextUpdate).toISOString(),
            sha256: sha256(der),
          }),
        );
      });
      await this.deps.publisher?.publishCrl(ca0, der);
      return { der, crlNumber, entries };
    });
  }

  // ----------------------------------------------------------------------------------
  // OCSP: delegated responders, pre-signed answers, live answers
  // ----------------------------------------------------------------------------------

  private ocspValidityMs(): number {
    return this.deps.config.ocsp.validityHours * 3_600_000;
  }

  /** True while a responder need not be renewed (or cannot be bettered: it ends with its CA). */
  private responderFresh(rec: OcspResponderRecord, ca: CaRecord, now: number): boolean {
    if (now >= rec.notAfter) return false;
    return (
      rec.notAfter >= ca.notAfter || now < rec.notAfter - this.deps.config.ocsp.responderRenewDays * DAY_MS
    );
  }

  /**
   * The CA's delegated OCSP responder (RFC 6960 §4.2.2.2), opened for signing. Issues one
   * when the CA has none, and a new one (with a new key) when the current one is within
   * `ocsp.responderRenewDays` of its end; both need the CA key.
   */
  async responder(ca: CaRecord): Promise<ResponderContext> {
    if (this.sealedFlag) throw sealedError();
    const cached = this.responders.get(ca.id);
    if (cached) {
      const r = await cached.catch(() => undefined);
      if (r && this.responderFresh(r.record, ca, this.now())) return r;
      if (this.responders.get(ca.id) === cached) this.responders.delete(ca.id);
    }
    let p = this.responders.get(ca.id);
    if (!p) {
      p = (async () => {
        const rec = await this.deps.store.currentOcspResponder(ca.id);
        if (rec && this.responderFresh(rec, ca, this.now())) return this.openResponder(ca, rec);
        return this.issueResponder(ca, rec);
      })();
      p.catch(() => this.responders.delete(ca.id));
      this.responders.set(ca.id, p);
    }
    return p;
  }

  /** Forgets opened responders whose record is no longer the CA's newest (another process renewed). */
  async reloadResponders(): Promise<void> {
    for (const [caId, p] of [...this.responders]) {
      const r = await p.catch(() => undefined);
      const current = await this.deps.store.currentOcspResponder(caId);
      if (!r || !current || current.id !== r.record.id) this.responders.delete(caId);
    }
  }

  private async openResponder(ca: CaRecord, rec: OcspResponderRecord): Promise<ResponderContext> {
    const signer = await this.openKey(rec.keyRef, `the OCSP responder key of CA ${ca.name}`);
    return responderContext(ca, rec, signer);
  }

  /**
   * Issues a responder certificate (profile ocsp: EKU OCSPSigning, id-pkix-ocsp-nocheck,
   * RFC 6960 §4.2.2.2 and §4.2.2.2.1) with a new key, records it, and drops the old key.
   */
  private async issueResponder(
    ca: CaRecord,
    old: OcspResponderRecord | undefined,
  ): Promise<ResponderContext> {
    const issuer = await this.issuer(ca);
    const now = this.now();
    if (now >= ca.notAfter)
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${ca.name} has expired; it cannot sign OCSP answers`,
      );
    const cfg = this.deps.config.ocsp;
    const keyType = (cfg.responderKeyType as KeyType | undefined) ?? ca.keyType;
    const serial = newSerial(this.deps.random(16));
    const serialHex = serialToHex(serial);
    // The responder key lives where its CA's key lives (an HSM CA's responder key is in the token).
    const backend = keyBackendOf(ca.keyRef);
    const pass = backend === "pkcs11" ? Buffer.alloc(0) : await this.passphraseFor("unlock");
    const keyRef = await this.deps.keys.generate(`ocsp-${ca.id}-${serialHex.slice(0, 16)}`, keyType, pass, {
      backend,
    });
    try {
      const signer = await this.deps.keys.open(keyRef, pass);
      const caCert = parseCertificate(ca.certDer);
      const cn = `${dnCommonName(caCert.subject) ?? ca.name} OCSP Responder`.slice(0, 64);
      const subject: DistinguishedName = [
        ...caCert.subject.filter((a) => a.name !== "CN" && a.name !== "emailAddress"),
        { oid: "2.5.4.3", name: "CN", value: cn },
      ];
      const v = decideValidity({
        now,
        backdateMs: this.deps.config.backdateSeconds * 1000,
        days: cfg.responderDays,
        defaultDays: cfg.responderDays,
        clamp: true,
        issuerNotAfter: ca.notAfter,
      });
      const notBefore = Math.max(v.notBefore, ca.notBefore);
      const der = await buildCertificate(issuer.template, {
        serial,
        notBefore,
        notAfter: v.notAfter,
        subjectDer: encodeDn(subject),
        spki: signer.spki,
        profile: internalProfile("ocsp"),
        publicKey: describePublicKey(signer.spki),
        sans: [],
      });
      const fingerprint = sha256(der);
      const rec = await this.deps.store.transaction(async (tx) => {
        // Another process may have issued one while this key was made (the write lock is
        // held now, so this read sees every commit): use theirs, drop ours.
        const theirs = await this.deps.store.currentOcspResponder(ca.id);
        if (theirs && theirs.id !== old?.id && this.responderFresh(theirs, ca, now)) return theirs;
        const cert = await tx.insertCert({
          caId: ca.id,
          serialHex,
          subject: formatDn(subject),
          commonName: cn,
          email: null,
          sans: [],
          profile: "ocsp",
          notBefore,
          notAfter: v.notAfter,
          der,
          fingerprint,
          status: "valid",
          revokedAt: null,
          revocationReason: null,
          requestId: null,
          issuedAt: now,
        });
        await tx.blockKeys([
          {
            keyId: publicKeyId(signer.spki),
            kind: "sigil",
            detail: `the key of an OCSP responder of CA ${ca.name} (certificate ${serialHex})`,
            caName: ca.name,
            serialHex,
            since: now,
          },
        ]);
        const r = await tx.insertOcspResponder({
          caId: ca.id,
          certId: cert.id,
          certDer: der,
          keyRef,
          keyType,
          notBefore,
          notAfter: v.notAfter,
          createdAt: now,
        });
        await tx.appendAudit(
          this.draft("ocsp.responder.issue", `${ca.name}/${serialHex}`, {
            keyType,
            notAfter: new Date(v.notAfter).toISOString(),
            fingerprint,
            replaces: old ? parseCertificate(old.certDer).serialHex : null,
          }),
        );
        return r;
      });
      if (rec.keyRef !== keyRef) {
        await this.deps.keys.remove(keyRef).catch(() => undefined);
        return this.openResponder(ca, rec);
      }
      // The old key has signed its last answer; answers it signed stay valid until their
      // nextUpdate, which never passes its certificate's end.
      if (old) await this.deps.keys.remove(old.keyRef).catch(() => undefined);
      return responderContext(ca, rec, signer);
    } catch (e) {
      await this.deps.keys.remove(keyRef).catch(() => undefined);
      throw e;
    }
  }

  /** Makes sure every CA that can sign has a fresh responder (renewing those near their end). */
  async ensureResponders(): Promise<Array<{ ca: string; responderNotAfter: number }>> {
    const out: Array<{ ca: string; responderNotAfter: number }> = [];
    for (const ca of await this.deps.store.listCas()) {
      if (this.now() >= ca.notAfter) continue;
      if (this.keyUnavailable(ca) || (await this.revokedAt(ca)) !== undefined) {
        // An offline (or revoked) CA keeps answering through its (online) responder until that needs
        // renewing, which needs the CA key: `sigil ca status` reminds of it.
        const rec = await this.deps.store.currentOcspResponder(ca.id);
        if (!rec || !this.responderFresh(rec, ca, this.now())) continue;
      }
      const r = await this.responder(ca);
      out.push({ ca: ca.name, responderNotAfter: r.record.notAfter });
    }
    return out;
  }

  /**
   * Signs the answers that are due: never signed, or past half their validity (nextUpdate
   * within validity/2). With `all`, every answer is signed again. Answers of certificates
   * that expired more than one answer-validity ago are parked (no longer refreshed; a request
   * for one is answered live). Runs in batches of `batch`, each one transaction; `shouldStop`
   * is asked between batches.
   */
  async refreshOcsp(
    opts: { all?: boolean; batch?: number; shouldStop?: () => boolean; caName?: string } = {},
  ): Promise<{ signed: number; parked: number }> {
    const validity = this.ocspValidityMs();
    const batch = opts.batch ?? 1000;
    const only = opts.caName === undefined ? undefined : (await this.getCa(opts.caName)).id;
    const runStart = Math.floor(this.now() / 1000) * 1000;
    // --all (or one CA) walks the answers once in certificate order (parked ones excluded); otherwise
    // the due ones, oldest first, until none is left (a signed answer is no longer due).
    const dueBefore = opts.all ? Number.MAX_SAFE_INTEGER - 1 : runStart + Math.floor(validity / 2);
    let cursor = opts.all || only !== undefined ? 0 : undefined;
    const seen = new Set<number>();
    let signed = 0;
    let parked = 0;
    const cas = new Map<number, CaRecord>();
    /** CAs whose key cannot sign here (offline, or revoked by their parent), asked once per run. */
    const keyless = new Map<number, boolean>();
    for (;;) {
      if (opts.shouldStop?.()) break;
      const page = await this.deps.store.ocspDue(dueBefore, batch, cursor);
      if (page.length === 0) break;
      if (cursor !== undefined) cursor = page[page.length - 1]!.certId;
      const due = page.filter((e) => !seen.has(e.certId) && (only === undefined || e.caId === only));
      if (due.length === 0) {
        if (cursor !== undefined) continue;
        break;
      }
      const now = this.now();
      const rows: Array<{
        certId: number;
        caId: number;
        der: Buffer | null;
        thisUpdate: number;
        nextUpdate: number;
      }> = [];
      const work: Array<Promise<void>> = [];
      for (const e of due) {
        if (cursor === undefined) seen.add(e.certId);
        let ca = cas.get(e.caId);
        if (!ca) {
          ca = (await this.deps.store.getCaById(e.caId))!;
          cas.set(e.caId, ca);
        }
        if (e.notAfter + validity < now || now >= ca.notAfter) {
          rows.push({
            certId: e.certId,
            caId: e.caId,
            der: null,
            thisUpdate: 0,
            nextUpdate: Number.MAX_SAFE_INTEGER,
          });
          parked++;
          continue;
        }
        const ctx = ca;
        let noKey = keyless.get(ca.id);
        if (noKey === undefined) {
          noKey = this.keyUnavailable(ca) || (await this.revokedAt(ca)) !== undefined;
          keyless.set(ca.id, noKey);
        }
        if (noKey) {
          const rec = await this.deps.store.currentOcspResponder(ca.id);
          if (!rec || !this.responderFresh(rec, ca, now)) continue; // needs the offline key
        }
        work.push(
          this.responder(ctx).then(async (r) => {
            const [thisUpdate, nextUpdate] = answerTimes(r, now, validity);
            const der = await signAnswer(r, e.serialHex, statusOf(e), thisUpdate, nextUpdate);
            rows.push({ certId: e.certId, caId: e.caId, der, thisUpdate, nextUpdate });
          }),
        );
      }
      await Promise.all(work);
      signed += rows.length - rows.filter((r) => r.der === null).length;
      await this.deps.store.transaction((tx) => tx.putOcspResponses(rows));
      // Let a server in the same process answer between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (signed > 0 || parked > 0)
      await this.deps.store.transaction((tx) =>
        tx.appendAudit(this.draft("ocsp.refresh", opts.caName ?? null, { signed, parked, all: !!opts.all })),
      );
    return { signed, parked };
  }

  /**
   * Signs one answer now (RFC 6960 §4.2.1): for requests the pre-signed answers cannot serve
   * (a nonce to echo when config says so, several certificates, a non-SHA-1 CertID, a serial
   * never issued, an answer not signed yet). Every CertID must name CA `caId` (the caller
   * matched the issuer hashes); serials Sigil never issued answer "unknown" (RFC 6960 §2.2),
   * and a child CA's own certificate answers by its record.
   */
  async answerLive(
    caId: number,
    items: Array<{ certIdDer: Buffer; serialHex: string }>,
    nonce?: Buffer,
  ): Promise<{
    der: Buffer;
    statuses: Array<OcspCertStatus["kind"]>;
    thisUpdate: number;
    nextUpdate: number;
  }> {
    const ca = await this.deps.store.getCaById(caId);
    if (!ca) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `no CA with id ${caId}`);
    const r = await this.responder(ca);
    const [thisUpdate, nextUpdate] = answerTimes(r, this.now(), this.ocspValidityMs());
    const children = (await this.deps.store.listCas()).filter((c) => c.parentId === caId);
    const singles = await Promise.all(
      items.map(async (it) => {
        const e: OcspEntry | undefined = await this.deps.store.ocspLookup(caId, it.serialHex);
        let status: OcspCertStatus;
        if (e) status = statusOf(e);
        else if (children.some((c) => c.serialHex === it.serialHex)) status = { kind: "good" };
        else status = { kind: "unknown" };
        return { certIdDer: it.certIdDer, status, thisUpdate, nextUpdate };
      }),
    );
    const der = await buildOcspResponse(r.template, thisUpdate, singles, (d) => r.signer.sign(d), nonce);
    return { der, statuses: singles.map((x) => x.status.kind), thisUpdate, nextUpdate };
  }

  /**
   * Publishes a new CRL for every CA whose latest one is missing or past half its validity
   * (RFC 5280 §5.1.2.5: a fresh CRL before nextUpdate). A retired CA's too, until its final
   * one ({@link publishesCrls}); a CA revoked for another reason signs no more.
   */
  async refreshCrls(): Promise<string[]> {
    const half = (this.deps.config.crl.validityHours * 3_600_000) / 2;
    const out: string[] = [];
    for (const ca of await this.deps.store.listCas()) {
      if (this.now() >= ca.notAfter) continue;
      if (this.keyUnavailable(ca)) continue; // offline: 'sigil crl CA --key-file', see 'sigil ca status'
      if (this.crlsDone.has(ca.id)) continue;
      const latest = await this.deps.store.latestCrl(ca.id);
      if (latest && latest.nextUpdate - this.now() > half) continue;
      if (!(await this.publishesCrls(ca))) {
        this.crlsDone.add(ca.id); // revoked, or retired with its final CRL out: for good
        continue;
      }
      await this.publishCrl(ca.name);
      out.push(ca.name);
    }
    return out;
  }

  // ----------------------------------------------------------------------------------
  // Listing and audit
  // ----------------------------------------------------------------------------------

  /** The certificate of CA `caName` with this serial (any spelling of hex), if any. */
  async findCert(caName: string, serial: string): Promise<CertRecord | undefined> {
    const ca = await this.getCa(caName);
    let hex: string;
    try {
      hex = normalizeSerialHex(serial);
    } catch {
      return undefined;
    }
    return this.deps.store.getCert(ca.id, hex);
  }

  /** How many certificates of CA `caName` are revoked (the size of its CRL). */
  async countRevoked(caName: string): Promise<number> {
    return this.deps.store.countRevoked((await this.getCa(caName)).id);
  }

  /** Certificates matching `q`, sorted by expiry. */
  certs(q: Omit<CertQuery, "now">): Promise<CertRecord[]> {
    return this.deps.store.findCerts({ ...q, now: this.now() });
  }

  /** Verifies the audit chain. */
  async verifyAudit(): ReturnType<typeof verifyAuditChain> {
    return verifyAuditChain(this.deps.store.auditEvents(), await this.deps.store.auditHead());
  }

  /** Streams the audit log. */
  auditLog(): AsyncIterable<AuditEvent> {
    return this.deps.store.auditEvents();
  }
}

/** Lowercase hex SHA-256. */
export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

const DAY_MS = 86_400_000;

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function sealedError(): SigilError {
  return new SigilError(
    ErrorCodes.SEALED,
    "the service is sealed: a security admin must run 'sigil unseal' before anything can be signed",
  );
}

/** The refusal for a request whose key must never be certified (see `blocked_keys`). */
function blockedKeyError(b: BlockedKey): SigilError {
  return new SigilError(
    ErrorCodes.POLICY_DENIED,
    b.kind === "compromised"
      ? `the request's public key was reported compromised: ${b.detail}; make a new key`
      : `the request's public key is Sigil's own (${b.detail}); make a new key`,
    { details: { blockedKey: b.kind } },
  );
}
