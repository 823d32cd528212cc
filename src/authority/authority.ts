/**
 * The certificate authority as the edges call it today: one object composed of the use
 * cases, each its own module taking only the ports it uses ({@link KeySession} holds the
 * passphrase, opened keys and seal state; {@link CaDirectory} reads the hierarchy;
 * {@link CaLifecycle}, {@link Issuance}, {@link Revocation} and {@link OcspResponders} act).
 * Every method here only delegates; edges may call the use cases directly.
 */
import type { Config } from "../config/schema.js";
import type { KeyStore } from "../keys/types.js";
import type { AuditEvent, CaRecord, CertQuery, CertRecord, Store } from "../store/types.js";
import type { ParsedCsr } from "../x509/types.js";
import type { RevocationReason } from "../x509/types.js";
import type { SigilError } from "../errors.js";
import type { ResponderContext } from "./ocsp-signing.js";
import { AuditTrail } from "./audit-trail.js";
import { KeySession } from "./key-session.js";
import { CaDirectory, type CaStanding } from "./ca-directory.js";
import { CaLifecycle, type CreateChildOptions, type CreateRootOptions } from "./ca-lifecycle.js";
import { Issuance, type BatchInput, type BatchResult } from "./issuance.js";
import type { Evaluation, Issued, ServiceCertificateOptions, SignOptions } from "./issuance-decision.js";
import { Revocation, type CrlPublisher, type RevokeOptions, type RevokeTarget } from "./revocation.js";
import { OcspResponders } from "./ocsp-responders.js";
import { AuditCheckpoints } from "./audit-checkpoints.js";
import type { AuditCheckpoint } from "../store/types.js";

export { sha256 } from "./common.js";
export type { CaStanding } from "./ca-directory.js";
export type { CreateChildOptions, CreateRootOptions } from "./ca-lifecycle.js";
export type { Evaluation, Issued, ServiceCertificateOptions, SignOptions } from "./issuance-decision.js";
export type { CrlPublisher, RevokeOptions, RevokeTarget } from "./revocation.js";

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
  /**
   * Sign OCSP answers with issuance and revocation (default true: the service). A one-shot
   * command passes false: see OcspResponders.presigner.
   */
  presignOcsp?: boolean;
  /** The pinned audit key (sigil.json `audit.publicKey`), DER; read when needed. */
  auditPin?: () => Buffer | undefined;
  /** Sends a new audit checkpoint outside the database (never throws). */
  publishCheckpoint?: (cp: AuditCheckpoint) => Promise<void>;
  /** The service: see AuditCheckpointsDeps.background. */
  backgroundAuditScan?: boolean;
}

/** The certificate authority's use cases, composed. */
export class Authority {
  private readonly deps: AuthorityDeps;
  /** The audit trail the use cases append to. */
  readonly trail: AuditTrail;
  /** The passphrase, the opened keys and the seal state. */
  readonly session: KeySession;
  /** The CA hierarchy and its certificates, read-only. */
  readonly directory: CaDirectory;
  /** Delegated OCSP responders, pre-signed and live answers. */
  readonly ocsp: OcspResponders;
  /** Revocation and CRLs. */
  readonly revocation: Revocation;
  /** The one issuing gate. */
  readonly issuance: Issuance;
  /** Creating and retiring CAs. */
  readonly lifecycle: CaLifecycle;
  /** The audit log's signed checkpoints. */
  readonly checkpoints: AuditCheckpoints;

  constructor(deps: AuthorityDeps) {
    this.deps = deps;
    const { store, config, clock, random } = deps;
    this.trail = new AuditTrail({ store, clock, actor: deps.actor });
    this.session = new KeySession({
      keys: deps.keys,
      store,
      passphrase: deps.passphrase,
      trail: this.trail,
      publicUrl: config.publicUrl,
    });
    const session = this.session;
    const trail = this.trail;
    this.directory = new CaDirectory({ store, clock });
    const directory = this.directory;
    this.ocsp = new OcspResponders({
      store,
      session,
      directory,
      trail,
      config,
      clock,
      random,
      presign: deps.presignOcsp !== false,
    });
    const ocsp = this.ocsp;
    this.revocation = new Revocation({
      store,
      session,
      directory,
      ocsp,
      trail,
      config,
      clock,
      ...(deps.publisher ? { publisher: deps.publisher } : {}),
    });
    this.issuance = new Issuance({
      store,
      session,
      directory,
      ocsp,
      trail,
      config,
      clock,
      random,
      actor: deps.actor,
    });
    this.lifecycle = new CaLifecycle({
      store,
      session,
      directory,
      revocation: this.revocation,
      trail,
      config,
      clock,
      random,
    });
    this.checkpoints = new AuditCheckpoints({
      store,
      session,
      trail,
      clock,
      random,
      pinned: deps.auditPin ?? (() => undefined),
      ...(deps.publishCheckpoint ? { publish: deps.publishCheckpoint } : {}),
      ...(deps.backgroundAuditScan ? { background: true } : {}),
    });
  }

  // Keys and sealing (KeySession)

  /** See {@link KeySession.useKeyFile}. */
  useKeyFile(caName: string, path: string): void {
    this.session.useKeyFile(caName, path);
  }

  /** True when CA `ca`'s key is offline and no key file was given for it. */
  keyUnavailable(ca: CaRecord): boolean {
    return this.session.keyUnavailable(ca);
  }

  get store(): Store {
    return this.deps.store;
  }

  /** A copy of the passphrase this process already holds (e.g. asked for by `init`), if any. */
  heldPassphrase(): Promise<Buffer | undefined> {
    return this.session.heldPassphrase();
  }

  /** True while sealed: nothing can be signed until {@link unseal}. */
  get sealed(): boolean {
    return this.session.sealed;
  }

  /** See {@link KeySession.seal}. */
  seal(audit = true, details: Record<string, unknown> = {}): Promise<void> {
    return this.session.seal(audit, details);
  }

  /** See {@link KeySession.unseal}. */
  unseal(pass: Buffer, method: string): Promise<{ opened: string[] }> {
    return this.session.unseal(pass, method);
  }

  // CAs (CaDirectory, CaLifecycle)

  /** Looks a CA up by name; unknown is a clear user error. */
  getCa(name: string): Promise<CaRecord> {
    return this.directory.getCa(name);
  }

  /** All CAs, roots first. */
  listCas(): Promise<CaRecord[]> {
    return this.directory.listCas();
  }

  /** The CA's chain, the CA first and its root last. */
  chain(name: string): Promise<CaRecord[]> {
    return this.directory.chain(name);
  }

  /** Where CA `ca` stands: active, retired, revoked or expired. */
  standing(ca: CaRecord): Promise<CaStanding> {
    return this.directory.standing(ca);
  }

  /** See {@link CaDirectory.publishesCrls}. */
  publishesCrls(ca: CaRecord): Promise<boolean> {
    return this.directory.publishesCrls(ca);
  }

  /** See {@link CaLifecycle.createRoot}. */
  createRoot(opts: CreateRootOptions): Promise<CaRecord> {
    return this.lifecycle.createRoot(opts);
  }

  /** See {@link CaLifecycle.createChild}. */
  createChild(opts: CreateChildOptions): Promise<CaRecord> {
    return this.lifecycle.createChild(opts);
  }

  /** See {@link CaLifecycle.retireCa}. */
  retireCa(name: string): Promise<{ cert: CertRecord; crlNumber: number }> {
    return this.lifecycle.retireCa(name);
  }

  /** See {@link CaLifecycle.precheckNewCa}. */
  precheckNewCa(name: string, opts: { passphrase: boolean }): Promise<void> {
    return this.lifecycle.precheckNewCa(name, opts);
  }

  /** Opens a CA's key now (checking the passphrase), before work that needs it. */
  unlock(caName: string): Promise<void> {
    return this.lifecycle.unlock(caName);
  }

  // Issuance

  /** See {@link Issuance.sign}. */
  sign(input: Buffer | string, opts: SignOptions): Promise<Issued> {
    return this.issuance.sign(input, opts);
  }

  /** See {@link Issuance.issueServiceCertificate}. */
  issueServiceCertificate(csr: Buffer | string, opts: ServiceCertificateOptions): Promise<Issued> {
    return this.issuance.issueServiceCertificate(csr, opts);
  }

  /** See {@link Issuance.signBatch}. */
  signBatch(
    inputs: BatchInput[],
    opts: Omit<SignOptions, "source">,
    onResult: (r: BatchResult) => Promise<void | "stop"> | void | "stop",
    groupSize = 128,
  ): Promise<void> {
    return this.issuance.signBatch(inputs, opts, onResult, groupSize);
  }

  /** See {@link Issuance.blockedKeyRefusal}. */
  blockedKeyRefusal(csr: ParsedCsr): Promise<SigilError | undefined> {
    return this.issuance.blockedKeyRefusal(csr);
  }

  /** See {@link Issuance.evaluate}. */
  evaluate(caName: string, csr: ParsedCsr, opts: Omit<SignOptions, "caName"> = {}): Promise<Evaluation> {
    return this.issuance.evaluate(caName, csr, opts);
  }

  // Revocation and CRLs

  /** See {@link Revocation.findTarget}. */
  findTarget(ca: CaRecord, target: RevokeTarget): Promise<CertRecord> {
    return this.revocation.findTarget(ca, target);
  }

  /** See {@link Revocation.revoke}. */
  revoke(
    caName: string,
    target: RevokeTarget,
    reasonName: RevocationReason = "unspecified",
    opts: RevokeOptions = {},
  ): Promise<{ cert: CertRecord; crl: Buffer; crlNumber: number }> {
    return this.revocation.revoke(caName, target, reasonName, opts);
  }

  /** See {@link Revocation.publishCrl}. */
  publishCrl(caName: string): Promise<{ der: Buffer; crlNumber: number; entries: number }> {
    return this.revocation.publishCrl(caName);
  }

  /** See {@link Revocation.refreshCrls}. */
  refreshCrls(): Promise<string[]> {
    return this.revocation.refreshCrls();
  }

  // OCSP

  /** See {@link OcspResponders.responder}. */
  responder(ca: CaRecord): Promise<ResponderContext> {
    return this.ocsp.responder(ca);
  }

  /** See {@link OcspResponders.reloadResponders}. */
  reloadResponders(): Promise<void> {
    return this.ocsp.reloadResponders();
  }

  /** See {@link OcspResponders.ensureResponders}. */
  ensureResponders(
    opts?: Parameters<OcspResponders["ensureResponders"]>[0],
  ): Promise<Array<{ ca: string; responderNotAfter: number }>> {
    return this.ocsp.ensureResponders(opts);
  }

  /** See {@link OcspResponders.renewResponder}. */
  renewResponder(caName: string): ReturnType<OcspResponders["renewResponder"]> {
    return this.ocsp.renewResponder(caName);
  }

  /** See {@link OcspResponders.refreshOcsp}. */
  refreshOcsp(
    opts: { all?: boolean; batch?: number; shouldStop?: () => boolean; caName?: string } = {},
  ): Promise<{ signed: number; parked: number }> {
    return this.ocsp.refreshOcsp(opts);
  }

  /** See {@link OcspResponders.answerLive}. */
  answerLive(...a: Parameters<OcspResponders["answerLive"]>): ReturnType<OcspResponders["answerLive"]> {
    return this.ocsp.answerLive(...a);
  }

  // Listing and audit

  /** The certificate of CA `caName` with this serial (any spelling of hex), if any. */
  findCert(caName: string, serial: string): Promise<CertRecord | undefined> {
    return this.directory.findCert(caName, serial);
  }

  /** How many certificates of CA `caName` are revoked (the size of its CRL). */
  countRevoked(caName: string): Promise<number> {
    return this.directory.countRevoked(caName);
  }

  /** Certificates matching `q`, sorted by expiry. */
  certs(q: Omit<CertQuery, "now">): Promise<CertRecord[]> {
    return this.directory.certs(q);
  }

  /** Verifies the audit log: the chain, and every signed checkpoint under the pinned key (see AuditCheckpoints.verify). */
  verifyAudit(opts: Parameters<AuditCheckpoints["verify"]>[0] = {}): ReturnType<AuditCheckpoints["verify"]> {
    return this.checkpoints.verify(opts);
  }

  /** Streams the audit log (the events after `afterSeq`). */
  auditLog(afterSeq = 0): AsyncIterable<AuditEvent> {
    return this.deps.store.auditEventsAfter(afterSeq);
  }
}
