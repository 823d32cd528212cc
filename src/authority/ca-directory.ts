/**
 * Reading the CA hierarchy: CAs by name, their chains, where each stands (active, retired,
 * revoked, expired) and whether it still publishes CRLs; certificates by CA. No key, no
 * audit: every use case that acts on a CA looks it up here.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import type { CaRecord, CertQuery, CertRecord, Store } from "../store/types.js";
import { REVOCATION_REASONS, type RevocationReason } from "../x509/types.js";
import { normalizeSerialHex } from "../x509/serial.js";

/** The store reads of the CA directory. */
export type CaDirectoryStore = Pick<
  Store,
  "getCa" | "getCaById" | "listCas" | "getCert" | "latestCrl" | "lastNotAfter" | "countRevoked" | "findCerts"
>;

/** What {@link CaDirectory} needs. */
export interface CaDirectoryDeps {
  store: CaDirectoryStore;
  /** Epoch milliseconds; a fake clock in tests. */
  clock: () => number;
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

/** What a CA's key is opened for: issuing certificates, or CRLs (and revocations) only. */
export type IssuerUse = "issue" | "crl";

/** A CA's own certificate, revoked by its parent: when, and the RFC 5280 §5.3.1 reason code. */
export interface OwnRevocation {
  at: number;
  reason: number | null;
}

/** RFC 5280 §5.3.1 reason names by code. */
const REASON_NAMES = new Map<number, RevocationReason>(
  Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]),
);

/** A CA's own certificate as its parent revoked it, if it did. */
export async function ownRevocation(
  store: Pick<Store, "getCert">,
  ca: CaRecord,
): Promise<OwnRevocation | undefined> {
  if (ca.parentId === null) return undefined;
  const own = await store.getCert(ca.parentId, ca.serialHex);
  return own?.status === "revoked" ? { at: own.revokedAt ?? 0, reason: own.revocationReason } : undefined;
}

/**
 * A CA whose certificate its parent revoked issues nothing more (RFC 5280 §6.1.3); a
 * retired one (cessationOfOperation) still signs its CRL.
 */
export function checkMaySign(ca: CaRecord, revoked: OwnRevocation, use: IssuerUse): void {
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

/** The CA hierarchy and its certificates, read-only. */
export class CaDirectory {
  constructor(private readonly deps: CaDirectoryDeps) {}

  private now(): number {
    return this.deps.clock();
  }

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

  /** The revocation time of a CA's own certificate, when its parent revoked it. */
  async revokedAt(ca: CaRecord): Promise<number | undefined> {
    return (await ownRevocation(this.deps.store, ca))?.at;
  }

  /** Where CA `ca` stands: active, retired, revoked or expired ({@link CaStanding}). */
  async standing(ca: CaRecord): Promise<CaStanding> {
    const revoked = await ownRevocation(this.deps.store, ca);
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
}
