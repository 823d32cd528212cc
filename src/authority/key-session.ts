/**
 * The key session: the one place that holds the home passphrase, the opened CA and OCSP
 * responder signers and the seal state. Sealing forgets all of them; unsealing proves a
 * passphrase on every online CA key first. Offline keys (`offline:`) are opened only from a
 * key file given for the run; token keys (`pkcs11:`) log in with the token's PIN and never
 * see the passphrase. Every use case that signs gets its keys from here.
 */
import { SigilError, ErrorCodes, isSigilError } from "../errors.js";
import type { KeyBackend, KeyStore, KeyType, Signer } from "../keys/types.js";
import type { CaRecord, Store } from "../store/types.js";
import { parseCertificate } from "../x509/cert-reader.js";
import { makeIssuerTemplate, type IssuerTemplate } from "../x509/certificate.js";
import type { AuditTrail } from "./audit-trail.js";
import { caUrls, sealedError } from "./common.js";
import { checkMaySign, ownRevocation, type IssuerUse, type OwnRevocation } from "./ca-directory.js";
import type { ResponderContext } from "./ocsp-signing.js";
import { isOfflineKeyRef, keyOfflineError, openCaKeyFile } from "./offline-key.js";

/**
 * Where a key the service makes for itself (an OCSP responder key, the audit signing key)
 * is made, by the custody of the CA key it goes with: a token CA's in the token (no key of
 * it leaves the HSM); any other's (file, or offline) in the database, encrypted with the
 * home passphrase as key files are (`store:`), so that every unsealed instance on that
 * database can open it, whichever machine made it.
 */
export function serviceKeyBackend(caKeyRef: string | undefined): KeyBackend {
  return caKeyRef?.startsWith("pkcs11:") ? "pkcs11" : "store";
}

/** Why the passphrase is asked for: a new key (confirmed on a prompt) or opening one. */
export type PassphrasePurpose = "new-key" | "unlock";

/** What the key session needs. */
export interface KeySessionDeps {
  keys: KeyStore;
  store: Pick<Store, "listCas" | "getCert">;
  /** Asks for the passphrase of CA keys; called lazily, at most once per purpose. */
  passphrase: (purpose: PassphrasePurpose) => Promise<Buffer>;
  /** Records seal and unseal (and refused unseals). */
  trail: AuditTrail;
  /** config `publicUrl`: the CDP and AIA URLs of the issuing templates. */
  publicUrl: string;
}

/** A CA opened for signing: its key and issuing template. */
export interface IssuerContext {
  ca: CaRecord;
  signer: Signer;
  template: IssuerTemplate;
  /** The CA's own certificate as its parent revoked it, read when the key was opened. */
  revoked?: OwnRevocation;
}

/** The passphrase, the opened signers and the seal state of one process. */
export class KeySession {
  private readonly issuers = new Map<number, Promise<IssuerContext>>();
  private readonly responders = new Map<number, Promise<ResponderContext>>();
  /** The service's own keys opened by ref (the audit signing key). */
  private readonly ownKeys = new Map<string, Promise<Signer>>();
  private pass?: Promise<Buffer>;
  private sealedFlag = false;
  /** Key files given for CAs (`--key-file`), by CA name: offline keys brought back for one run. */
  private readonly keyFiles = new Map<string, string>();

  constructor(private readonly deps: KeySessionDeps) {}

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

  /**
   * One passphrase per process: the first ask decides (with confirmation when it is for a
   * new key), later keys and unlocks reuse it, so `init` asks once on a terminal.
   */
  passphrase(purpose: PassphrasePurpose): Promise<Buffer> {
    if (this.sealedFlag) return Promise.reject(sealedError());
    if (!this.pass) {
      this.pass = this.deps.passphrase(purpose);
      this.pass.catch(() => (this.pass = undefined));
    }
    return this.pass;
  }

  /** A copy of the passphrase this process already holds (e.g. asked for by `init`), if any. */
  async heldPassphrase(): Promise<Buffer | undefined> {
    const b = await this.pass?.catch(() => undefined);
    return b ? Buffer.from(b) : undefined;
  }

  /** True while sealed: nothing can be signed until {@link unseal}. */
  get sealed(): boolean {
    return this.sealedFlag;
  }

  /** Throws SEALED while sealed. */
  checkUnsealed(): void {
    if (this.sealedFlag) throw sealedError();
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
    this.ownKeys.clear();
    const b = await pass?.catch(() => undefined);
    b?.fill(0);
    if (audit) await this.deps.trail.append("service.seal", null, details);
  }

  /**
   * Unseals with the passphrase that protects the online CA keys: it must open every one
   * of them (offline and HSM keys are skipped); a wrong one leaves the service sealed and
   * is audited as refused. `method` says how it was given (passphrase, shares).
   */
  async unseal(pass: Buffer, method: string): Promise<{ opened: string[] }> {
    return this.deps.trail.guarded("service.unseal.refused", null, async () => {
      const online = (await this.deps.store.listCas()).filter(
        (ca) => !ca.keyRef.startsWith("offline:") && this.deps.keys.needsPassphrase?.(ca.keyRef) !== false,
      );
      // Each open runs PBKDF2 on libuv's pool: in parallel. Every open is waited for, so a
      // wrong passphrase is reported as such even when another key is missing here (a missing
      // key fails fast, before any PBKDF2 ends).
      const results = await Promise.allSettled(online.map((ca) => this.deps.keys.open(ca.keyRef, pass)));
      const failed = results.flatMap((r, i) =>
        r.status === "rejected" ? [{ ca: online[i]!, e: r.reason }] : [],
      );
      const wrong = failed.find((f) => isSigilError(f.e, ErrorCodes.WRONG_PASSPHRASE));
      if (wrong)
        throw new SigilError(
          ErrorCodes.WRONG_PASSPHRASE,
          `wrong passphrase (it does not open the key of CA ${wrong.ca.name}); still sealed`,
          { details: { ca: wrong.ca.name } },
        );
      const first = failed[0];
      if (first) {
        // A CA key that is not on this machine: named (details) for the service's start-up.
        if (isSigilError(first.e, ErrorCodes.KEY_NOT_FOUND))
          throw new SigilError(ErrorCodes.KEY_NOT_FOUND, first.e.message, {
            details: { ...first.e.details, ca: first.ca.name, keyRef: first.ca.keyRef },
            cause: first.e,
          });
        throw first.e;
      }
      const opened = online.map((ca) => ca.name);
      this.pass = Promise.resolve(Buffer.from(pass));
      this.sealedFlag = false;
      await this.deps.trail.append("service.unseal", null, { method, keys: opened });
      return { opened };
    });
  }

  /** Opens a key with the process passphrase; a wrong one is a clear error naming `what`. */
  async openKey(keyRef: string, what: string): Promise<Signer> {
    // Token keys: the store logs in with its PIN; its errors (wrong PIN) are passed on as they are.
    if (this.deps.keys.needsPassphrase?.(keyRef) === false)
      return this.deps.keys.open(keyRef, Buffer.alloc(0));
    const pass = await this.passphrase("unlock");
    try {
      return await this.deps.keys.open(keyRef, pass);
    } catch (e) {
      if (isSigilError(e, ErrorCodes.WRONG_PASSPHRASE))
        throw new SigilError(ErrorCodes.WRONG_PASSPHRASE, `wrong passphrase for ${what}`);
      throw e;
    }
  }

  /** Opens a CA key: a given key file, else the online store; an offline CA without one: KEY_OFFLINE. */
  private async openCaKey(ca: CaRecord): Promise<Signer> {
    const file = this.keyFiles.get(ca.name);
    if (file !== undefined) return openCaKeyFile(ca, file, await this.passphrase("unlock"));
    if (isOfflineKeyRef(ca.keyRef)) throw keyOfflineError(ca);
    return this.openKey(ca.keyRef, `the key of CA ${ca.name}`);
  }

  /**
   * Generates a key named `name` in `backend` (a token key is guarded by the token's PIN,
   * not a key passphrase: none is asked for) and opens it. On failure nothing is left.
   */
  async generateKey(
    name: string,
    keyType: KeyType,
    backend: KeyBackend,
    purpose: PassphrasePurpose,
  ): Promise<{ keyRef: string; signer: Signer }> {
    const pass = backend === "pkcs11" ? Buffer.alloc(0) : await this.passphrase(purpose);
    const keyRef = await this.deps.keys.generate(name, keyType, pass, { backend });
    try {
      return { keyRef, signer: await this.deps.keys.open(keyRef, pass) };
    } catch (e) {
      await this.removeKey(keyRef);
      throw e;
    }
  }

  /** True when the key behind `keyRef` is in this process's custody (its file or token is here). */
  hasKey(keyRef: string): Promise<boolean> {
    return this.deps.keys.exists(keyRef).catch(() => false);
  }

  /** Removes a key (best effort: a key that cannot be removed is left, never an error). */
  async removeKey(keyRef: string): Promise<void> {
    await this.deps.keys.remove(keyRef).catch(() => undefined);
  }

  /**
   * Opens a CA's key once per process and builds its issuing template. A CA its parent
   * revoked signs nothing more, except a retired one (cessationOfOperation) for `use`
   * "crl": retirement stops issuance, not the CRL its certificates' relying parties need
   * (RFC 5280 §5: the CA is the CRL issuer).
   */
  issuer(ca: CaRecord, use: IssuerUse = "issue"): Promise<IssuerContext> {
    if (this.sealedFlag) return Promise.reject(sealedError());
    let p = this.issuers.get(ca.id);
    if (!p) {
      p = (async () => {
        const revoked = await ownRevocation(this.deps.store, ca);
        // Refused before the key is opened (no passphrase asked for nothing).
        if (revoked) checkMaySign(ca, revoked, use);
        const signer = await this.openCaKey(ca);
        const template = makeIssuerTemplate({
          issuerCertDer: ca.certDer,
          issuerSubjectDer: parseCertificate(ca.certDer).subjectDer,
          issuerSpki: signer.spki,
          signer,
          ...caUrls(this.deps.publicUrl, ca),
        });
        return { ca, signer, template, ...(revoked ? { revoked } : {}) };
      })();
      p.catch(() => this.issuers.delete(ca.id));
      this.issuers.set(ca.id, p);
    }
    return p.then((ctx) => {
      if (ctx.revoked) checkMaySign(ca, ctx.revoked, use);
      return ctx;
    });
  }

  /**
   * The service's own key `keyRef` (the audit signing key), opened once per unseal: sealing
   * forgets it with the CA keys.
   */
  serviceKey(keyRef: string, what: string): Promise<Signer> {
    if (this.sealedFlag) return Promise.reject(sealedError());
    let p = this.ownKeys.get(keyRef);
    if (!p) {
      p = this.openKey(keyRef, what);
      p.catch(() => this.ownKeys.delete(keyRef));
      this.ownKeys.set(keyRef, p);
    }
    return p;
  }

  /** Forgets CA `caId`'s opened key (its certificate was revoked: the next use reads it again). */
  forgetIssuer(caId: number): void {
    this.issuers.delete(caId);
  }

  /**
   * CA `ca`'s opened OCSP responder: the cached one while `fresh` says it need not be
   * renewed, else the one `open` opens (or issues), cached from then on.
   */
  async responder(
    ca: CaRecord,
    fresh: (r: ResponderContext) => boolean,
    open: () => Promise<ResponderContext>,
  ): Promise<ResponderContext> {
    if (this.sealedFlag) throw sealedError();
    const cached = this.responders.get(ca.id);
    if (cached) {
      const r = await cached.catch(() => undefined);
      if (r && fresh(r)) return r;
      if (this.responders.get(ca.id) === cached) this.responders.delete(ca.id);
    }
    let p = this.responders.get(ca.id);
    if (!p) {
      p = open();
      p.catch(() => this.responders.delete(ca.id));
      this.responders.set(ca.id, p);
    }
    return p;
  }

  /** Forgets opened responders for which `current` answers false (another process renewed them). */
  async reloadResponders(
    current: (caId: number, r: ResponderContext | undefined) => Promise<boolean>,
  ): Promise<void> {
    for (const [caId, p] of [...this.responders]) {
      const r = await p.catch(() => undefined);
      if (!(await current(caId, r))) this.responders.delete(caId);
    }
  }
}
