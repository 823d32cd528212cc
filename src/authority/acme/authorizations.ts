/**
 * ACME authorizations and challenges (RFC 8555 §7.5, §8): deactivation, starting a
 * challenge, running its validation (the network I/O of acme/challenges.ts, injected as
 * {@link Validators}) and recording the outcome, each state change in one transaction.
 *
 * One validation attempt per challenge: a failure makes the authorization, and so the
 * order, invalid (§7.1.6). A validation left "processing" by a process that stopped is run
 * again by the next poller, on one instance (a claim under the row lock).
 */
import type { AccountRecord, AuthzRecord, ChallengeRecord, StoredProblem } from "../../store/acme-records.js";
import type { ValidationResult, Validators } from "./validators.js";
import { act, oneLine, urn, type AcmeSite, type AcmeUseCaseDeps } from "./context.js";
import { AcmeProblem } from "./problem.js";

/** Past the validation timeout, how long a "processing" challenge may wait before it is run again. */
const STALE_GRACE_MS = 15_000;

/** The key authorization `token || '.' || base64url(JWK thumbprint)` (RFC 8555 §8.1). */
export function keyAuthorization(token: string, thumbprint: string): string {
  return `${token}.${thumbprint}`;
}

/** What authorizations need besides the common deps: the validators (network I/O). */
export interface AcmeAuthzDeps extends AcmeUseCaseDeps {
  validators: Validators;
}

export class AcmeAuthorizations {
  /** Validations running in this process, by challenge id (one attempt each). */
  private readonly running = new Set<number>();

  constructor(private readonly d: AcmeAuthzDeps) {}

  /** The authorization `publicId`, owned by `a`. */
  async get(site: AcmeSite, a: AccountRecord, publicId: string): Promise<AuthzRecord> {
    const z = await this.d.acme.getAuthzByPublicId(site.ca.id, publicId);
    if (!z) throw new AcmeProblem("malformed", "no such authorization", { status: 404 });
    if (z.accountId !== a.id)
      throw new AcmeProblem("unauthorized", "the authorization belongs to another account");
    return z;
  }

  /** §7.5.2: a client may only deactivate; its pending or ready order becomes invalid. */
  async deactivate(z: AuthzRecord): Promise<AuthzRecord> {
    if (z.status !== "pending" && z.status !== "valid")
      throw new AcmeProblem("malformed", `the authorization is ${z.status}`);
    await act(this.d, async (tx) => {
      await tx.acme.updateAuthz(z.id, { status: "deactivated" });
      const o = await tx.acme.getOrderForUpdate(z.orderId);
      if (o && (o.status === "pending" || o.status === "ready"))
        await tx.acme.updateOrder(o.id, {
          status: "invalid",
          error: { type: urn("unauthorized"), detail: "an authorization was deactivated" },
        });
    });
    return { ...z, status: "deactivated" };
  }

  /** The challenge `publicId` and its authorization, owned by `a`. */
  async challenge(
    site: AcmeSite,
    a: AccountRecord,
    publicId: string,
  ): Promise<{ challenge: ChallengeRecord; authz: AuthzRecord }> {
    const c = await this.d.acme.getChallengeByPublicId(site.ca.id, publicId);
    if (!c) throw new AcmeProblem("malformed", "no such challenge", { status: 404 });
    const z = await this.d.acme.getAuthzById(c.authzId);
    if (!z || z.accountId !== a.id)
      throw new AcmeProblem("unauthorized", "the challenge belongs to another account");
    return { challenge: c, authz: z };
  }

  /**
   * §7.5.1: the client is ready; the challenge becomes "processing" (once, under its row
   * lock) and is validated after the answer (the client polls the authorization).
   */
  async respond(
    site: AcmeSite,
    z: AuthzRecord,
    c: ChallengeRecord,
    a: AccountRecord,
  ): Promise<ChallengeRecord> {
    const now = this.d.clock();
    if (z.status !== "pending" || z.expiresAt < now)
      throw new AcmeProblem("malformed", `the authorization is ${z.expiresAt < now ? "expired" : z.status}`);
    const started = await act(this.d, async (tx) => {
      const cur = await tx.acme.getChallengeForUpdate(c.id);
      if (!cur || cur.status !== "pending") return false;
      await tx.acme.updateChallenge(c.id, { status: "processing", startedAt: now });
      return true;
    });
    const out: ChallengeRecord = { ...c, status: started ? "processing" : c.status };
    if (started) this.validateLater(site, z, out, a);
    return out;
  }

  /**
   * Runs again a validation that has been "processing" for longer than an attempt can take:
   * the process that started it (this one before a restart, or another instance) died
   * before recording the outcome. The claim (a new start time, under the row lock) makes
   * one poller, on one instance, take it over.
   */
  async resumeStale(
    site: AcmeSite,
    z: AuthzRecord,
    challenges: ChallengeRecord[],
    a: AccountRecord,
  ): Promise<void> {
    const now = this.d.clock();
    const staleBefore = now - (this.d.config.acme.validationTimeoutSeconds * 1000 + STALE_GRACE_MS);
    for (const c of challenges) {
      if (c.status !== "processing" || this.running.has(c.id)) continue;
      if (c.startedAt !== null && c.startedAt > staleBefore) continue;
      const claimed = await act(this.d, async (tx) => {
        const cur = await tx.acme.getChallengeForUpdate(c.id);
        if (!cur || cur.status !== "processing") return false;
        if (cur.startedAt !== null && cur.startedAt > staleBefore) return false;
        await tx.acme.updateChallenge(c.id, { startedAt: now });
        return true;
      });
      if (!claimed) continue;
      this.d.logger.warn(
        { ca: site.ca.name, challenge: c.publicId, type: c.type },
        "ACME validation left unfinished by a stopped process: running it again",
      );
      this.validateLater(site, z, { ...c, startedAt: now }, a);
    }
  }

  /** Runs the validation in the background and records its outcome. */
  private validateLater(site: AcmeSite, z: AuthzRecord, c: ChallengeRecord, a: AccountRecord): void {
    if (this.running.has(c.id)) return;
    this.running.add(c.id);
    const keyAuth = keyAuthorization(c.token, a.thumbprint);
    const v = this.d.validators;
    const attempt =
      c.type === "http-01"
        ? v.http01(z.identifier, c.token, keyAuth)
        : c.type === "tls-alpn-01"
          ? v.tlsAlpn01(z.identifier, keyAuth)
          : v.dns01(z.identifier, keyAuth);
    void attempt
      .catch((e: unknown): ValidationResult => ({
        ok: false,
        problem: {
          type: urn("serverInternal"),
          detail: `validation failed: ${oneLine((e as Error).message)}`,
        },
      }))
      .then((result) => this.record(site, z, c, result))
      .catch((e: unknown) =>
        this.d.logger.error(
          { err: { message: (e as Error).message }, challenge: c.publicId },
          "ACME validation not recorded",
        ),
      )
      .finally(() => this.running.delete(c.id));
  }

  /** §7.1.6: a valid challenge makes its authorization valid, a failed one invalid; the order follows. */
  private async record(
    site: AcmeSite,
    z: AuthzRecord,
    c: ChallengeRecord,
    result: { ok: true } | { ok: false; problem: StoredProblem },
  ): Promise<void> {
    const now = this.d.clock();
    await act(this.d, async (tx) => {
      const cur = await tx.acme.getChallengeForUpdate(c.id);
      if (!cur || cur.status !== "processing") return;
      const order = await tx.acme.getOrderForUpdate(z.orderId);
      if (result.ok) {
        await tx.acme.updateChallenge(c.id, { status: "valid", validatedAt: now });
        await tx.acme.updateAuthz(z.id, { status: "valid" });
      } else {
        await tx.acme.updateChallenge(c.id, { status: "invalid", error: result.problem });
        await tx.acme.updateAuthz(z.id, { status: "invalid" });
      }
      if (!order || order.status !== "pending") return;
      if (!result.ok) {
        await tx.acme.updateOrder(order.id, {
          status: "invalid",
          error: { ...result.problem, detail: `${z.identifier.value}: ${result.problem.detail}` },
        });
        return;
      }
      const all = await tx.acme.authzsOfOrder(order.id);
      if (all.every((x) => (x.id === z.id ? true : x.status === "valid")))
        await tx.acme.updateOrder(order.id, { status: "ready" });
    });
    this.d.logger.info(
      { ca: site.ca.name, challenge: c.type, identifier: z.identifier.value, ok: result.ok },
      result.ok ? "ACME challenge valid" : "ACME challenge failed",
    );
  }
}
