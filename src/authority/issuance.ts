/**
 * Issuance: the one gate every certificate passes. A request is decided
 * ({@link decideIssuance}: profile, SANs, validity, policy, the CA's own rule, subject),
 * signed, and stored in one transaction with its request row, its "good" OCSP answer and
 * its audit event; the certificate is handed out only after the commit.
 */
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { CaRecord, CertRecord, Store, StoreTx } from "../store/types.js";
import type { ParsedCsr } from "../x509/types.js";
import { toPem } from "../x509/der.js";
import { parseCsr, parseCsrAsync } from "../x509/csr.js";
import { internalProfile, type Profile } from "../x509/profiles.js";
import { publicKeyId } from "../x509/algorithms.js";
import { currentActor } from "../audit/actor.js";
import { answerTimes, signAnswer, type ResponderContext } from "./ocsp-signing.js";
import type { AuditTrail } from "./audit-trail.js";
import type { CaDirectory } from "./ca-directory.js";
import type { KeySession } from "./key-session.js";
import type { OcspResponders } from "./ocsp-responders.js";
import { blockedKeyError } from "./common.js";
import {
  decideIssuance,
  evaluationOf,
  signDecision,
  type Candidate,
  type Evaluation,
  type IssuanceDecision,
  type Issued,
  type ServiceCertificateOptions,
  type SignOptions,
} from "./issuance-decision.js";

/** The store issuance reads and writes. */
export type IssuanceStore = Pick<Store, "transaction" | "findBlockedKeys">;

/** What issuance needs. */
export interface IssuanceDeps {
  store: IssuanceStore;
  session: KeySession;
  directory: CaDirectory;
  ocsp: OcspResponders;
  trail: AuditTrail;
  config: Pick<Config, "backdateSeconds" | "caRules">;
  clock: () => number;
  random: (n: number) => Buffer;
  /** Who is acting, for `decidedBy` when the caller names nobody. */
  actor: string;
}

/** One request of a batch: its bytes (or how to read them), its source, and what its sender claims. */
export interface BatchInput {
  input: Buffer | string | (() => Promise<Buffer>);
  source: string;
  /** What the requester says about itself, recorded as claims (the admin API's callers). */
  claims?: SignOptions["claims"];
}

/** A new certificate's signed OCSP answer ("good"), stored with it. */
type Answer = { der: Buffer; thisUpdate: number; nextUpdate: number };

/** A batch item's outcome, handed to the caller of {@link Issuance.signBatch}. */
export interface BatchResult {
  source: string;
  issued?: Issued;
  error?: SigilError;
}

/** The issuance use cases. */
export class Issuance {
  constructor(private readonly deps: IssuanceDeps) {}

  private now(): number {
    return this.deps.clock();
  }

  private decide(ca: CaRecord, csr: ParsedCsr, opts: SignOptions, internal?: Profile): IssuanceDecision {
    return decideIssuance({
      ca,
      csr,
      opts,
      ...(internal ? { internal } : {}),
      config: this.deps.config,
      now: this.now(),
    });
  }

  /** Everything short of storing: the decision, then the certificate signed from it. */
  private async prepare(
    ca: CaRecord,
    csr: ParsedCsr,
    opts: SignOptions,
    internal?: Profile,
  ): Promise<Candidate> {
    const decision = this.decide(ca, csr, opts, internal);
    const issuer = await this.deps.session.issuer(ca);
    return { decision, cert: await signDecision(decision, issuer.template, this.deps.random) };
  }

  /**
   * Signs one PKCS#10 request (RFC 2986) under a profile. The CSR only proposes subject and
   * SANs; every extension comes from the profile (RFC 5280 §4.2). One transaction stores
   * the request, the certificate and the audit event; the certificate is handed out after
   * commit.
   */
  async sign(input: Buffer | string, opts: SignOptions): Promise<Issued> {
    const target = opts.source ? `${opts.caName}:${opts.source}` : opts.caName;
    return this.deps.trail.guarded("cert.issue.refused", target, async () => {
      const ca = await this.deps.directory.getCa(opts.caName);
      // Open the OCSP responder's key alongside the CA key (both PBKDF2, on the thread pool).
      this.deps.ocsp.warmPresigner(ca);
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
    return this.deps.trail.guarded("cert.issue.refused", `${opts.caName}:${opts.source}`, async () => {
      const ca = await this.deps.directory.getCa(opts.caName);
      this.deps.ocsp.warmPresigner(ca);
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
    inputs: BatchInput[],
    opts: Omit<SignOptions, "source">,
    onResult: (r: BatchResult) => Promise<void | "stop"> | void | "stop",
    groupSize = 128,
  ): Promise<void> {
    const { trail } = this.deps;
    const ca = await trail.guarded("cert.issue.refused", opts.caName, async () => {
      const found = await this.deps.directory.getCa(opts.caName);
      this.deps.ocsp.warmPresigner(found);
      await this.deps.session.issuer(found);
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
          return this.prepare(ca, await parseCsrAsync(raw), {
            ...opts,
            source: item.source,
            ...(item.claims ? { claims: item.claims } : {}),
          });
        }),
      );
      const ready: Candidate[] = [];
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
              trail.draft("cert.issue.refused", `${ca.name}:${r.source}`, {
                code: r.error.code,
                reason: r.error.message,
              }),
            );
        });
      const issued = ready.length
        ? await trail.guarded("cert.issue.refused", ca.name, () => this.persist(ca, ready))
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
    const ca = await this.deps.directory.getCa(caName);
    const d = this.decide(ca, csr, { ...opts, caName });
    const blocked = await this.deps.store.findBlockedKeys([publicKeyId(csr.spki)]);
    for (const b of blocked.values()) throw blockedKeyError(b);
    return evaluationOf(d);
  }

  /**
   * For each candidate, the refusal when its key must never be certified: a key whose
   * certificate was revoked for keyCompromise or cACompromise (RFC 5280 §5.3.1), or one of
   * Sigil's own keys (a CA's, an OCSP responder's, a service key). One query for all.
   */
  private async blockedKeyErrors(items: Candidate[]): Promise<Array<SigilError | undefined>> {
    if (!items.length) return [];
    const blocked = await this.deps.store.findBlockedKeys(items.map((p) => p.decision.keyId));
    return items.map((p) => {
      const b = blocked.get(p.decision.keyId);
      return b ? blockedKeyError(b) : undefined;
    });
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
        this.deps.session.forgetIssuer(chain[0]!.id);
        throw new SigilError(
          ErrorCodes.POLICY_DENIED,
          `CA ${c.name} was revoked by its parent on ${new Date(st.revokedAt ?? 0).toISOString()}: ${i ? `CA ${chain[0]!.name} under it` : "it"} signs nothing more`,
        );
      }
    }
  }

  /** The "good" answers of new certificates, or unsigned ones when `responder` is undefined. */
  private async presign(
    responder: ResponderContext | undefined,
    items: Candidate[],
  ): Promise<Array<Answer | undefined>> {
    if (!responder) return items.map(() => undefined);
    const [thisUpdate, nextUpdate] = answerTimes(responder, this.now(), this.deps.ocsp.validityMs());
    const ders = await Promise.all(
      items.map((p) => signAnswer(responder, p.cert.serialHex, { kind: "good" }, thisUpdate, nextUpdate)),
    );
    return ders.map((der) => ({ der, thisUpdate, nextUpdate }));
  }

  /** Stores candidates in one transaction: request, certificate, OCSP answer and audit event each. */
  private async persist(ca: CaRecord, candidates: Candidate[]): Promise<Issued[]> {
    const { ocsp } = this.deps;
    const responder = await ocsp.presigner(ca);
    const chain = await this.deps.directory.chain(ca.name);
    let items = candidates;
    for (let attempt = 0; ; attempt++) {
      try {
        // DESIGN.md: issuing produces the certificate's signed OCSP answer ("good") in the
        // same transaction, so the responder never has to sign for a new certificate (a
        // one-shot command stores it unsigned and due: OcspResponders.presigner).
        const answers = await this.presign(responder, items);
        const recs = await this.deps.store.transaction(async (tx) => {
          await this.checkChainAtCommit(tx, chain);
          const out: CertRecord[] = [];
          for (const [i, p] of items.entries()) out.push(await this.store(tx, ca, p, answers[i]!));
          return out;
        });
        return recs.map((cert, i) => ({
          cert,
          pem: toPem(items[i]!.cert.der, "CERTIFICATE"),
          clamped: items[i]!.decision.clamped,
        }));
      } catch (e) {
        // A 128-bit serial collision is astronomically rare; the transaction rolled back
        // whole, so re-serial everything in it and try again.
        if (isSigilError(e, ErrorCodes.STORE) && e.details.duplicateSerial && attempt < 3) {
          const again: Candidate[] = [];
          for (const p of items) {
            const issuer = await this.deps.session.issuer(ca);
            again.push({
              decision: p.decision,
              cert: await signDecision(p.decision, issuer.template, this.deps.random),
            });
          }
          items = again;
          continue;
        }
        throw e;
      }
    }
  }

  /** Inside the issuing transaction: one candidate's request row, certificate and audit event. */
  private async store(
    tx: StoreTx,
    ca: CaRecord,
    { decision: d, cert: c }: Candidate,
    answer: Answer | undefined,
  ): Promise<CertRecord> {
    const opts = d.opts;
    const decidedBy = opts.decidedBy ?? currentActor(this.deps.actor);
    let req: { id: number };
    if (opts.requestId !== undefined) {
      // Read and locked inside the transaction: a concurrent decision (another
      // process or instance) waits or is seen here (no double issuance).
      const queued = await tx.getRequestForUpdate(opts.requestId);
      if (!queued) throw new SigilError(ErrorCodes.REQUEST_NOT_FOUND, `no request ${opts.requestId}`);
      if (queued.state !== "pending" && queued.state !== "failed")
        throw new SigilError(
          ErrorCodes.REQUEST_STATE,
          `request ${queued.id} is ${queued.state}${queued.decidedBy ? ` (by ${queued.decidedBy})` : ""}; only a pending request can be approved`,
        );
      req = queued;
    } else
      req = await tx.insertRequest({
        channel: d.channel,
        submitter: d.submitter,
        email: d.email,
        receivedAt: d.now,
        csrDer: d.csr.der,
        subject: d.subject,
        caName: ca.name,
        profile: d.profile.name,
        state: "approved",
        reason: null,
        certificateId: null,
        source: d.source,
        checks: [],
        decidedBy,
        decidedAt: d.now,
        replyTo: null,
      });
    const rec = await tx.insertCert(
      {
        caId: ca.id,
        serialHex: c.serialHex,
        subject: d.subject,
        commonName: d.commonName,
        email: d.email,
        sans: d.sans,
        profile: d.profile.name,
        notBefore: d.notBefore,
        notAfter: d.notAfter,
        der: c.der,
        fingerprint: c.fingerprint,
        status: "valid",
        revokedAt: null,
        revocationReason: null,
        requestId: req.id,
        issuedAt: d.now,
      },
      answer,
    );
    await tx.updateRequest(req.id, {
      state: "issued",
      certificateId: rec.id,
      caName: ca.name,
      profile: d.profile.name,
      reason: null,
      decidedBy,
      decidedAt: d.now,
    });
    await tx.appendAudit(
      this.deps.trail.draft("cert.issue", `${ca.name}/${c.serialHex}`, {
        request: req.id,
        channel: d.channel,
        submitter: d.submitter,
        source: d.source,
        ...(opts.claims?.submitter !== undefined ? { claimedSubmitter: opts.claims.submitter } : {}),
        ...(opts.claims?.source !== undefined ? { claimedSource: opts.claims.source } : {}),
        subject: d.subject,
        sans: d.sans.map((s) => `${s.type}:${s.value}`),
        profile: d.profile.name,
        notAfter: new Date(d.notAfter).toISOString(),
        fingerprint: c.fingerprint,
      }),
    );
    if (opts.serviceKey)
      await tx.blockKeys([
        {
          keyId: d.keyId,
          kind: "sigil",
          detail: `${opts.serviceKey} (certificate ${c.serialHex} of CA ${ca.name})`,
          caName: ca.name,
          serialHex: c.serialHex,
          since: d.now,
        },
      ]);
    if (opts.afterIssue)
      await opts.afterIssue(tx, { cert: rec, pem: toPem(c.der, "CERTIFICATE"), clamped: d.clamped });
    return rec;
  }
}
