/**
 * Revocation and CRLs: revoke one certificate (its OCSP answer re-signed in the same
 * transaction, a compromised key blocked for good, a fresh CRL published at once), publish
 * a CA's next CRL, and keep every CA's CRL fresh.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { CaRecord, CertRecord, Store, StoreTx } from "../store/types.js";
import { REVOCATION_REASONS, type RevocationReason } from "../x509/types.js";
import { formatDn } from "../x509/dn.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { keyIdentifier } from "../x509/certificate.js";
import { normalizeSerialHex } from "../x509/serial.js";
import { buildCrl } from "../x509/crl.js";
import { publicKeyId, signatureAlgorithmFor } from "../x509/algorithms.js";
import { answerTimes, signAnswer, statusOf } from "./ocsp-signing.js";
import type { AuditTrail } from "./audit-trail.js";
import type { CaDirectory } from "./ca-directory.js";
import type { KeySession } from "./key-session.js";
import { UNSIGNED_ANSWER, type OcspResponders } from "./ocsp-responders.js";
import { isoDay, sha256 } from "./common.js";

/** Where published CRLs go (files under SIGIL_HOME/crl for the CLI; memory for `serve`). */
export interface CrlPublisher {
  publishCrl(ca: CaRecord, der: Buffer): Promise<void>;
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

/** The store revocation and CRLs read and write. */
export type RevocationStore = Pick<
  Store,
  "transaction" | "getCert" | "findCerts" | "listCas" | "countRevoked" | "revokedEntries" | "latestCrl"
>;

/** What revocation and CRL publishing need. */
export interface RevocationDeps {
  store: RevocationStore;
  session: KeySession;
  directory: CaDirectory;
  ocsp: OcspResponders;
  trail: AuditTrail;
  config: Pick<Config, "crl">;
  clock: () => number;
  publisher?: CrlPublisher;
}

/** Revocation and CRLs. */
export class Revocation {
  /** CAs that publish no more CRLs (revoked, or retired with the final one out), once seen. */
  private readonly crlsDone = new Set<number>();

  constructor(private readonly deps: RevocationDeps) {}

  private now(): number {
    return this.deps.clock();
  }

  /** Finds the one certificate a revoke target names; ambiguous or unknown is a clear error. */
  async findTarget(ca: CaRecord, target: RevokeTarget): Promise<CertRecord> {
    const { store } = this.deps;
    if ("serial" in target) {
      const hex = normalizeSerialHex(target.serial);
      const c = await store.getCert(ca.id, hex);
      if (!c)
        throw new SigilError(
          ErrorCodes.CERT_NOT_FOUND,
          `no certificate with serial ${hex} issued by CA ${ca.name}`,
        );
      return c;
    }
    if ("certDer" in target) {
      const info = parseCertificate(target.certDer);
      const c = await store.getCert(ca.id, info.serialHex);
      if (!c || c.fingerprint !== info.fingerprint)
        throw new SigilError(
          ErrorCodes.CERT_NOT_FOUND,
          `certificate ${info.serialHex} (${formatDn(info.subject)}) was not issued by CA ${ca.name}`,
        );
      return c;
    }
    const m = target.match.trim();
    if (!m) throw new SigilError(ErrorCodes.USAGE, "nothing to match: give a serial, CN or e-mail");
    let found = await store.findCerts({ caId: ca.id, match: m, now: this.now(), limit: 50 });
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
    const { store, session, ocsp, trail } = this.deps;
    return trail.guarded("cert.revoke.refused", caName, async () => {
      const ca = await this.deps.directory.getCa(caName);
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
      await session.issuer(ca, "crl");
      const responder = await ocsp.presigner(ca);
      // Whole seconds: CRLs and OCSP carry none (RFC 5280 §5.1.2.6 UTCTime, §4.1.2.5.2 no
      // fractional GeneralizedTime), and index.txt exports (authority/openssl-ca.ts) round-trip.
      const at = Math.floor(this.now() / 1000) * 1000;
      // DESIGN.md: revoking re-signs the certificate's OCSP answer in the same transaction,
      // so a running responder serves "revoked" as soon as it sees the commit. Without the
      // responder here (a one-shot command) the old "good" answer is replaced by an unsigned,
      // due one: the responder then signs "revoked" from the status, never serves "good".
      let answer: { der: Buffer | null; thisUpdate: number; nextUpdate: number } = UNSIGNED_ANSWER;
      if (responder) {
        const [thisUpdate, nextUpdate] = answerTimes(responder, at, ocsp.validityMs());
        const der = await signAnswer(
          responder,
          cert.serialHex,
          statusOf({ status: "revoked", revokedAt: at, revocationReason: reason }),
          thisUpdate,
          nextUpdate,
        );
        answer = { der, thisUpdate, nextUpdate };
      }
      await store.transaction(async (tx) => {
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
        await tx.putOcspResponses([{ certId: cert.id, caId: ca.id, ...answer }]);
        await tx.appendAudit(
          trail.draft("cert.revoke", `${ca.name}/${cert.serialHex}`, {
            subject: cert.subject,
            reason: reasonName,
          }),
        );
      });
      if (cert.profile === "ca")
        for (const child of await store.listCas())
          if (child.parentId === ca.id && child.serialHex === cert.serialHex) session.forgetIssuer(child.id);
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
    const { store, trail } = this.deps;
    return trail.guarded("crl.publish.refused", caName, async () => {
      const ca0 = await this.deps.directory.getCa(caName);
      // Unlocking the key (PBKDF2, off the main thread) runs while the entries are read and
      // encoded: nothing before the signature needs the key. The CRL number is taken only
      // once the key is open, so a wrong passphrase changes nothing.
      const issuerP = this.deps.session.issuer(ca0, "crl");
      issuerP.catch(() => undefined); // awaited below; its error is reported there
      const cert = parseCertificate(ca0.certDer);
      const thisUpdate = Math.floor(this.now() / 1000) * 1000;
      const nextUpdate = thisUpdate + this.deps.config.crl.validityHours * 3_600_000;
      const entries = await store.countRevoked(ca0.id);
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
          crlNumber = await store.transaction((tx: StoreTx) => tx.nextCrlNumber(ca0.id));
          return crlNumber;
        },
        thisUpdate,
        nextUpdate,
        entries: store.revokedEntries(ca0.id),
        expectedEntries: entries,
      });
      await store.transaction(async (tx) => {
        await tx.putCrl({ caId: ca0.id, crlNumber, der, thisUpdate, nextUpdate });
        await tx.appendAudit(
          trail.draft("crl.publish", ca0.name, {
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

  /**
   * Publishes a new CRL for every CA whose latest one is missing or past half its validity
   * (RFC 5280 §5.1.2.5: a fresh CRL before nextUpdate). A retired CA's too, until its final
   * one ({@link CaDirectory.publishesCrls}); a CA revoked for another reason signs no more.
   */
  async refreshCrls(): Promise<string[]> {
    const half = (this.deps.config.crl.validityHours * 3_600_000) / 2;
    const out: string[] = [];
    for (const ca of await this.deps.store.listCas()) {
      if (this.now() >= ca.notAfter) continue;
      if (this.deps.session.keyUnavailable(ca)) continue; // offline: 'sigil crl CA --key-file', see 'sigil ca status'
      if (this.crlsDone.has(ca.id)) continue;
      const latest = await this.deps.store.latestCrl(ca.id);
      if (latest && latest.nextUpdate - this.now() > half) continue;
      if (!(await this.deps.directory.publishesCrls(ca))) {
        this.crlsDone.add(ca.id); // revoked, or retired with its final CRL out: for good
        continue;
      }
      await this.publishCrl(ca.name);
      out.push(ca.name);
    }
    return out;
  }
}
