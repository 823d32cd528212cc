/**
 * The server's JSON API (same origin). Portal calls that change state carry the CSRF token
 * from GET /api/v1/portal/session (double submit with its HttpOnly SameSite=Strict cookie).
 * Admin calls carry the admin token in an Authorization header; the token lives only in
 * memory (this module), never in storage or cookies.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;
let adminToken: string | null = null;

export function setAdminToken(token: string | null): void {
  adminToken = token;
}

export function hasAdminToken(): boolean {
  return adminToken !== null;
}

async function csrfToken(): Promise<string> {
  if (csrf) return csrf;
  const r = await fetch("/api/v1/portal/session", { credentials: "same-origin" });
  const body = (await readJson(r)) as { csrf: string };
  csrf = body.csrf;
  return csrf;
}

async function readJson(r: Response): Promise<unknown> {
  const text = await r.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!r.ok) {
    const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
    let message = e?.message;
    if (!message) {
      if (r.status === 413) message = "the request is too large";
      else if (r.status === 429) message = "too many requests: wait a minute and try again";
      else message = `the server answered ${r.status} ${r.statusText}`.trim();
    }
    throw new ApiError(r.status, e?.code ?? String(r.status), message);
  }
  return body;
}

async function call<T>(method: string, path: string, body: unknown, admin: boolean): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (admin) {
    if (adminToken) headers.authorization = `Bearer ${adminToken}`;
  } else if (method !== "GET") {
    headers["x-csrf-token"] = await csrfToken();
  }
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  try {
    return (await readJson(r)) as T;
  } catch (e) {
    // A stale CSRF session (server restarted): fetch a new one and try once more.
    if (!admin && e instanceof ApiError && e.status === 403 && e.code === "csrf" && csrf) {
      csrf = null;
      return call<T>(method, path, body, admin);
    }
    if (admin && e instanceof ApiError && e.status === 401) onUnauthorized?.();
    throw e;
  }
}

let onUnauthorized: (() => void) | null = null;
export function onAdminUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

export const portal = {
  get: <T>(path: string) => call<T>("GET", `/api/v1/portal${path}`, undefined, false),
  post: <T>(path: string, body: unknown) => call<T>("POST", `/api/v1/portal${path}`, body, false),
};

export const admin = {
  get: <T>(path: string) => call<T>("GET", `/api/v1/admin${path}`, undefined, true),
  post: <T>(path: string, body: unknown) => call<T>("POST", `/api/v1/admin${path}`, body, true),
};

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---- shapes of the answers (see the HTTP contract) ----

export interface SubmitAnswer {
  id: string;
  state: string;
  statusUrl: string;
  /** What a pending request waits for (a mailbox confirmation), if anything in particular. */
  waitingFor?: string | null;
}

export interface ConfirmInfo {
  address: string;
  state: "waiting" | "confirmed" | "expired";
  expires: string | null;
  request: { subject: string; kind: string | null; ca: string | null; state: string; submittedAt: string };
}

export interface ConfirmAnswer {
  confirmed: boolean;
  address: string;
  state: string;
  statusUrl?: string;
}

export interface PortalRequest {
  id: string;
  state: "pending" | "issued" | "rejected" | "failed" | "approved";
  reason: string | null;
  subject: string;
  kind: "user" | "system";
  ca: string;
  submittedAt: string;
  decidedAt: string | null;
  waitingFor?: string | null;
  certificate: null | {
    serial: string;
    notBefore: string;
    notAfter: string;
    status: "valid" | "revoked" | "expired";
    subject: string;
  };
}

export interface PortalCa {
  name: string;
  subject: string;
  parent: string | null;
  notAfter: string;
  kind: string;
  certUrl: string;
  pemUrl: string;
  crlUrl: string;
}

export interface WhoAmI {
  name: string;
  role: string;
  tokenId: string;
  may: string[];
}

export interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export interface AdminRequest {
  id: number;
  state: string;
  channel: string;
  submitter: string | null;
  receivedAt: string;
  subject: string;
  ca: string | null;
  profile: string | null;
  reason: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  source: string | null;
  replyTo: string | null;
  certificateId: number | null;
  checks?: Check[];
  csrPem?: string;
}

export interface AdminCert {
  ca: string;
  serial: string;
  subject: string;
  email: string | null;
  sans: string[];
  profile: string;
  notBefore: string;
  notAfter: string;
  status: string;
  revokedAt: string | null;
  /** The RFC 5280 reason name (keyCompromise, ...); revocationReasonCode is its number. */
  revocationReason: string | null;
  revocationReasonCode: number | null;
  fingerprint: string;
}

export interface AdminCa {
  name: string;
  parent: string | null;
  subject: string;
  serial: string;
  keyType: string;
  notBefore: string;
  notAfter: string;
  pathLen: number | null;
  defaultProfile: string | null;
  crlNumber: number | null;
}

export interface ExpiryStats {
  from: string;
  weekStarts: string[];
  series: Array<{ ca: string; counts: number[] }>;
}

export interface AuditEvent {
  seq: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  details: unknown;
  prevHash: string;
  hash: string;
}

export interface AuditVerify {
  ok: boolean;
  count?: number;
  headHash?: string;
  firstBad?: number;
  reason?: string;
}
