/**
 * ACME problem documents (RFC 8555 §6.7, RFC 7807): every refusal of the ACME use cases and
 * every error the ACME server answers with is an {@link AcmeProblem}, sent as
 * `application/problem+json` by the server (acme/server.ts).
 *
 * Pure: no I/O, no clock. Details are one line and never carry key material.
 */
import type { AcmeIdentifier, StoredProblem } from "../../store/acme-records.js";

/** The error type namespace of RFC 8555 §6.7. */
export const ACME_ERROR_NS = "urn:ietf:params:acme:error:";

/**
 * The RFC 8555 §6.7 error types (short names) and the HTTP status Sigil answers each with
 * when the caller gives none. RFC 8555 fixes a few (§6.5 badNonce 400, §6.6 rateLimited
 * 429); the rest follow RFC 7807's meaning of the status and common ACME servers.
 */
export const ACME_PROBLEM_STATUS = {
  accountDoesNotExist: 400,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  caa: 403,
  compound: 403,
  connection: 400,
  dns: 400,
  externalAccountRequired: 400,
  incorrectResponse: 403,
  invalidContact: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  tls: 400,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
  userActionRequired: 403,
} as const;

/** An RFC 8555 §6.7 error type, short name (`malformed`, `badNonce`, ...). */
export type AcmeProblemType = keyof typeof ACME_PROBLEM_STATUS;

/** RFC 8555 §6.7.1: a problem about one identifier of a request with several. */
export interface AcmeSubproblem {
  type: AcmeProblemType;
  detail: string;
  identifier?: AcmeIdentifier;
}

/** The JSON body of a problem document (RFC 7807 §3.1, RFC 8555 §6.7). */
export interface AcmeProblemJson {
  type: string;
  detail: string;
  status: number;
  subproblems?: { type: string; detail: string; identifier?: AcmeIdentifier }[];
  /** RFC 8555 §6.2: with badSignatureAlgorithm, the algorithms the server accepts. */
  algorithms?: string[];
}

export interface AcmeProblemOptions {
  status?: number;
  /** Seconds for a Retry-After header (rateLimited, RFC 8555 §6.6). */
  retryAfter?: number;
  subproblems?: AcmeSubproblem[];
  algorithms?: string[];
}

/** True for a short type name of RFC 8555 §6.7. */
export function isAcmeProblemType(t: string): t is AcmeProblemType {
  return Object.prototype.hasOwnProperty.call(ACME_PROBLEM_STATUS, t);
}

/** An ACME error: thrown by the ACME code, turned into a problem document by the server. */
export class AcmeProblem extends Error {
  readonly type: AcmeProblemType;
  readonly status: number;
  readonly detail: string;
  readonly subproblems?: AcmeSubproblem[];
  readonly algorithms?: string[];
  readonly retryAfter?: number;

  constructor(type: AcmeProblemType, detail: string, opts: AcmeProblemOptions = {}) {
    super(`${type}: ${detail}`);
    this.name = "AcmeProblem";
    this.type = type;
    this.detail = detail;
    this.status = opts.status ?? ACME_PROBLEM_STATUS[type];
    if (opts.subproblems && opts.subproblems.length > 0) this.subproblems = opts.subproblems;
    if (opts.algorithms) this.algorithms = opts.algorithms;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }

  /** The full type URN, e.g. `urn:ietf:params:acme:error:malformed`. */
  get urn(): string {
    return ACME_ERROR_NS + this.type;
  }

  /** The `application/problem+json` body (RFC 8555 §6.7). */
  toJson(): AcmeProblemJson {
    const out: AcmeProblemJson = { type: this.urn, detail: this.detail, status: this.status };
    if (this.subproblems) {
      out.subproblems = this.subproblems.map((s) => ({
        type: ACME_ERROR_NS + s.type,
        detail: s.detail,
        ...(s.identifier ? { identifier: s.identifier } : {}),
      }));
    }
    if (this.algorithms) out.algorithms = [...this.algorithms];
    return out;
  }

  /** The form kept on an order or challenge record (types.ts StoredProblem). */
  toStored(): StoredProblem {
    return { type: this.urn, detail: this.detail, status: this.status };
  }
}
