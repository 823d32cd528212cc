/**
 * What issuance decides before anything is stored: the profile, SANs, validity, policy,
 * the CA's own rule and the subject, as one immutable {@link IssuanceDecision}; and the
 * certificate signed from it ({@link SignedCertificate}), a new serial each time.
 */
import { SigilError, ErrorCodes } from "../errors.js";
import type { Config } from "../config/schema.js";
import type { CaRecord, RequestChannel, StoreTx } from "../store/types.js";
import type { DistinguishedName, GeneralName, ParsedCsr } from "../x509/types.js";
import { encodeDn, formatDn, dnCommonName, validateDn } from "../x509/dn.js";
import { getProfile, decideSans, PUBLIC_PROFILE_NAMES, type Profile } from "../x509/profiles.js";
import { buildCertificate, type IssuerTemplate } from "../x509/certificate.js";
import { newSerial, serialToHex } from "../x509/serial.js";
import { publicKeyId } from "../x509/algorithms.js";
import { evaluateIssuance, decideValidity } from "../policy/issuance.js";
import { decideSubject, inventoryEmail, type SubjectPolicy } from "../policy/subject.js";
import { checkCaRule } from "../policy/ca-rules.js";
import type { CertRecord } from "../store/types.js";
import { checkDays, sha256 } from "./common.js";

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

/** Everything decided about one certificate before it is signed; frozen once made. */
export interface IssuanceDecision {
  readonly csr: ParsedCsr;
  readonly profile: Profile;
  readonly sans: GeneralName[];
  readonly now: number;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly clamped: boolean;
  readonly subjectDn: DistinguishedName;
  readonly subject: string;
  readonly email: string | null;
  readonly commonName: string | null;
  readonly channel: RequestChannel;
  readonly submitter: string | null;
  readonly source: string | null;
  readonly opts: SignOptions;
  /** {@link publicKeyId} of the request's key. */
  readonly keyId: string;
}

/** A certificate signed from a decision, not yet stored. */
export interface SignedCertificate {
  readonly serialHex: string;
  readonly der: Buffer;
  readonly fingerprint: string;
}

/** A decision and the certificate signed from it. */
export interface Candidate {
  readonly decision: IssuanceDecision;
  readonly cert: SignedCertificate;
}

/** The inputs of {@link decideIssuance}. */
export interface DecisionInput {
  ca: CaRecord;
  csr: ParsedCsr;
  opts: SignOptions;
  /** An internal profile: Sigil's own service certificate (no channel can ask for one). */
  internal?: Profile;
  config: Pick<Config, "backdateSeconds" | "caRules">;
  now: number;
}

/**
 * The decisions of signing, without the key (RFC 5280 §4.1.2.6 subject rules, policy,
 * validity, the CA's own rule). Throws the refusal; never signs or stores anything.
 */
export function decideIssuance(input: DecisionInput): IssuanceDecision {
  const { ca, csr, opts, internal, config, now } = input;
  const profile: Profile = internal ?? getProfile(opts.profile ?? ca.defaultProfile);
  if (opts.days !== undefined) checkDays(opts.days);
  const sans: GeneralName[] = decideSans(profile, csr);
  const v = decideValidity({
    now,
    backdateMs: config.backdateSeconds * 1000,
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
          rule: config.caRules[ca.name],
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
  return Object.freeze({
    csr,
    profile,
    sans,
    now,
    notBefore,
    notAfter: v.notAfter,
    clamped: v.clamped,
    subjectDn,
    subject: formatDn(subjectDn),
    email: inventoryEmail(subjectDn, sans, opts.subjectPolicy),
    commonName: dnCommonName(subjectDn) ?? null,
    channel: opts.channel ?? "cli",
    submitter: opts.submitter ?? null,
    source: opts.source ?? null,
    opts,
    keyId: publicKeyId(csr.spki),
  });
}

/** What an evaluation reports of a decision. */
export function evaluationOf(d: IssuanceDecision): Evaluation {
  return {
    profile: d.profile.name,
    sans: d.sans,
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    clamped: d.clamped,
    subject: d.subject,
  };
}

/** Allocates a random 128-bit serial and builds and signs the certificate of decision `d`. */
export async function signDecision(
  d: IssuanceDecision,
  template: IssuerTemplate,
  random: (n: number) => Buffer,
): Promise<SignedCertificate> {
  const serial = newSerial(random(16));
  const der = await buildCertificate(template, {
    serial,
    notBefore: d.notBefore,
    notAfter: d.notAfter,
    subjectDer: encodeDn(d.subjectDn),
    spki: d.csr.spki,
    profile: d.profile,
    publicKey: d.csr.publicKey,
    sans: d.sans,
  });
  return Object.freeze({ serialHex: serialToHex(serial), der, fingerprint: sha256(der) });
}
