/**
 * OCSP: each CA's delegated responder (RFC 6960 §4.2.2.2: issued, renewed, its key kept in
 * the key session), the pre-signed answers refreshed in batches, and answers signed live
 * for what the pre-signed ones cannot serve.
 */
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { KeyType } from "../keys/types.js";
import type { CaRecord, OcspEntry, OcspResponderRecord, Store } from "../store/types.js";
import type { DistinguishedName } from "../x509/types.js";
import { encodeDn, formatDn, dnCommonName } from "../x509/dn.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { internalProfile } from "../x509/profiles.js";
import { buildCertificate } from "../x509/certificate.js";
import { newSerial, serialToHex } from "../x509/serial.js";
import { describePublicKey, publicKeyId } from "../x509/algorithms.js";
import { decideValidity } from "../policy/issuance.js";
import type { OcspCertStatus } from "../x509/ocsp.js";
import { buildOcspResponse } from "../x509/ocsp.js";
import {
  answerTimes,
  responderContext,
  signAnswer,
  statusOf,
  type ResponderContext,
} from "./ocsp-signing.js";
import type { AuditTrail } from "./audit-trail.js";
import type { CaDirectory } from "./ca-directory.js";
import { serviceKeyBackend, type KeySession } from "./key-session.js";
import { DAY_MS, sha256 } from "./common.js";

/**
 * A certificate's answer stored unsigned and due now: the OCSP path signs it live on the
 * first request (from the certificate's status) and the refresh job signs it ahead.
 */
export const UNSIGNED_ANSWER = { der: null, thisUpdate: 0, nextUpdate: 0 } as const;

/** The store the OCSP use cases read and write. */
export type OcspStorePort = Pick<
  Store,
  "transaction" | "currentOcspResponder" | "ocspDue" | "ocspLookup" | "getCaById" | "listCas"
>;

/** What the OCSP use cases need. */
export interface OcspRespondersDeps {
  store: OcspStorePort;
  session: KeySession;
  directory: CaDirectory;
  trail: AuditTrail;
  config: Pick<Config, "ocsp" | "backdateSeconds">;
  clock: () => number;
  random: (n: number) => Buffer;
  /**
   * Whether issuing and revoking sign the certificate's answer in their own transaction
   * (the service, default). A one-shot command leaves it to the service (see
   * {@link OcspResponders.presigner}).
   */
  presign?: boolean;
}

/** Delegated responders, pre-signed answers and live answers. */
export class OcspResponders {
  constructor(private readonly deps: OcspRespondersDeps) {}

  private now(): number {
    return this.deps.clock();
  }

  /** How long a signed answer is valid (config `ocsp.validityHours`). */
  validityMs(): number {
    return this.deps.config.ocsp.validityHours * 3_600_000;
  }

  /** True while a responder need not be renewed (or cannot be bettered: it ends with its CA). */
  private fresh(rec: OcspResponderRecord, ca: CaRecord, now: number): boolean {
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
  responder(ca: CaRecord): Promise<ResponderContext> {
    return this.deps.session.responder(
      ca,
      (r) => this.fresh(r.record, ca, this.now()),
      async () => {
        const rec = await this.deps.store.currentOcspResponder(ca.id);
        if (rec && this.fresh(rec, ca, this.now())) return this.open(ca, rec);
        return this.issue(ca, rec);
      },
    );
  }

  /**
   * The responder that signs a new certificate's or a revocation's answer in the same
   * transaction, or undefined when this process leaves answers to the service: a one-shot
   * command would pay a second key unlock (PBKDF2) for it. The answer is then stored unsigned
   * and due (see {@link UNSIGNED_ANSWER}); the service signs it when first asked (RFC 6960
   * §2.2 answers come from the store's status, never from a stale "good") and in its refresh
   * job. So it is, too, when the responder's key is not in this instance's custody.
   */
  async presigner(ca: CaRecord): Promise<ResponderContext | undefined> {
    if (this.deps.presign === false) return undefined;
    try {
      return await this.responder(ca);
    } catch (e) {
      // The responder's key is not here (a key file made on another machine): the answer is
      // stored unsigned and due, as a one-shot command does, for an instance that has it.
      if (isSigilError(e, ErrorCodes.KEY_NOT_FOUND)) return undefined;
      throw e;
    }
  }

  /** Opens the presigner's key ahead of need, on the thread pool (errors surface at use). */
  warmPresigner(ca: CaRecord): void {
    if (this.deps.presign !== false) this.responder(ca).catch(() => undefined);
  }

  /**
   * Renews CA `name`'s delegated responder now, whatever its freshness (`sigil ocsp
   * renew-responder`: a responder key that may have been exposed, a new key type or
   * lifetime): a new certificate with a new key, recorded and audited as a scheduled renewal
   * is (`ocsp.responder.issue`, naming the one it replaces), the old key deleted. Answers
   * the old responder signed stay valid until their nextUpdate (RFC 6960 §4.2.2.2.1: a
   * no-check responder is trusted for its lifetime; `sigil ocsp refresh --all` re-signs them
   * now). Every instance on the database takes the new one at its next job run.
   */
  async renewResponder(
    name: string,
  ): Promise<{ ca: string; serial: string; notAfter: number; replaced: string | null }> {
    const ca = await this.deps.directory.getCa(name);
    if (this.now() >= ca.notAfter)
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${ca.name} has expired; it has no responder to renew`,
      );
    if ((await this.deps.directory.revokedAt(ca)) !== undefined)
      throw new SigilError(
        ErrorCodes.POLICY_DENIED,
        `CA ${ca.name} was revoked by its parent: it issues no responder`,
      );
    const old = await this.deps.store.currentOcspResponder(ca.id);
    const r = await this.issue(ca, old);
    // The session still holds the old one: take the new one from the store at next use.
    await this.reloadResponders();
    return {
      ca: ca.name,
      serial: parseCertificate(r.record.certDer).serialHex,
      notAfter: r.record.notAfter,
      replaced: old ? parseCertificate(old.certDer).serialHex : null,
    };
  }

  /** Forgets opened responders whose record is no longer the CA's newest (another process renewed). */
  async reloadResponders(): Promise<void> {
    await this.deps.session.reloadResponders(async (caId, r) => {
      const current = await this.deps.store.currentOcspResponder(caId);
      return !!r && !!current && current.id === r.record.id;
    });
  }

  private async open(ca: CaRecord, rec: OcspResponderRecord): Promise<ResponderContext> {
    const signer = await this.deps.session.openKey(rec.keyRef, `the OCSP responder key of CA ${ca.name}`);
    return responderContext(ca, rec, signer);
  }

  /**
   * Issues a responder certificate (profile ocsp: EKU OCSPSigning, id-pkix-ocsp-nocheck,
   * RFC 6960 §4.2.2.2 and §4.2.2.2.1) with a new key, records it, and drops the old key.
   */
  private async issue(ca: CaRecord, old: OcspResponderRecord | undefined): Promise<ResponderContext> {
    const { session, store } = this.deps;
    const issuer = await session.issuer(ca);
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
    // An HSM CA's responder key is in the token; any other's (a file or an offline CA's) is
    // in the database, encrypted, so that every instance on it answers with this responder.
    const { keyRef, signer } = await session.generateKey(
      `ocsp-${ca.id}-${serialHex.slice(0, 16)}`,
      keyType,
      serviceKeyBackend(ca.keyRef),
      "unlock",
    );
    try {
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
      const rec = await store.transaction(async (tx) => {
        // Another process may have issued one while this key was made (the write lock is
        // held now, so this read sees every commit): use theirs, drop ours.
        const theirs = await store.currentOcspResponder(ca.id);
        if (theirs && theirs.id !== old?.id && this.fresh(theirs, ca, now)) return theirs;
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
          this.deps.trail.draft("ocsp.responder.issue", `${ca.name}/${serialHex}`, {
            keyType,
            notAfter: new Date(v.notAfter).toISOString(),
            fingerprint,
            replaces: old ? parseCertificate(old.certDer).serialHex : null,
          }),
        );
        return r;
      });
      if (rec.keyRef !== keyRef) {
        await session.removeKey(keyRef);
        return this.open(ca, rec);
      }
      // The old key has signed its last answer; answers it signed stay valid until their
      // nextUpdate, which never passes its certificate's end.
      if (old) await session.removeKey(old.keyRef);
      return responderContext(ca, rec, signer);
    } catch (e) {
      await session.removeKey(keyRef);
      throw e;
    }
  }

  /** True when CA `ca` cannot sign here: its key is offline, or its parent revoked it. */
  private async keyless(ca: CaRecord): Promise<boolean> {
    return this.deps.session.keyUnavailable(ca) || (await this.deps.directory.revokedAt(ca)) !== undefined;
  }

  /**
   * Makes sure every CA that can sign has a fresh responder (renewing those near their end).
   * With `onMissingKey`, a CA whose responder (or CA) key is not here (KEY_NOT_FOUND: a key
   * file made on another machine) is told to it and skipped; without, that error is thrown.
   */
  async ensureResponders(
    opts: { onMissingKey?: (ca: CaRecord, e: SigilError) => void } = {},
  ): Promise<Array<{ ca: string; responderNotAfter: number }>> {
    const out: Array<{ ca: string; responderNotAfter: number }> = [];
    for (const ca of await this.deps.store.listCas()) {
      if (this.now() >= ca.notAfter) continue;
      if (await this.keyless(ca)) {
        // An offline (or revoked) CA keeps answering through its (online) responder until that needs
        // renewing, which needs the CA key: `sigil ca status` reminds of it.
        const rec = await this.deps.store.currentOcspResponder(ca.id);
        if (!rec || !this.fresh(rec, ca, this.now())) continue;
      }
      let r: ResponderContext;
      try {
        r = await this.responder(ca);
      } catch (e) {
        if (opts.onMissingKey && isSigilError(e, ErrorCodes.KEY_NOT_FOUND)) {
          opts.onMissingKey(ca, e);
          continue;
        }
        throw e;
      }
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
    const { store } = this.deps;
    const validity = this.validityMs();
    const batch = opts.batch ?? 1000;
    const only = opts.caName === undefined ? undefined : (await this.deps.directory.getCa(opts.caName)).id;
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
      const page = await store.ocspDue(dueBefore, batch, cursor);
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
          ca = (await store.getCaById(e.caId))!;
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
          noKey = await this.keyless(ca);
          keyless.set(ca.id, noKey);
        }
        if (noKey) {
          const rec = await store.currentOcspResponder(ca.id);
          if (!rec || !this.fresh(rec, ca, now)) continue; // needs the offline key
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
      await store.transaction((tx) => tx.putOcspResponses(rows));
      // Let a server in the same process answer between batches.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (signed > 0 || parked > 0)
      await this.deps.trail.append("ocsp.refresh", opts.caName ?? null, { signed, parked, all: !!opts.all });
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
    const { store } = this.deps;
    const ca = await store.getCaById(caId);
    if (!ca) throw new SigilError(ErrorCodes.CA_NOT_FOUND, `no CA with id ${caId}`);
    const r = await this.responder(ca);
    const [thisUpdate, nextUpdate] = answerTimes(r, this.now(), this.validityMs());
    const children = (await store.listCas()).filter((c) => c.parentId === caId);
    const singles = await Promise.all(
      items.map(async (it) => {
        const e: OcspEntry | undefined = await store.ocspLookup(caId, it.serialHex);
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
}
