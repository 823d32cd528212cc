/**
 * ACME nonces (RFC 8555 §6.5): issued by the server, good once across every instance and
 * for an hour. A nonce is 6 bytes of issue time and 16 random bytes, followed by a 16-byte
 * HMAC under a key shared by every instance through the store (a job mark, made on first
 * start); a used nonce is recorded in the store in one statement, so of two instances
 * seeing the same nonce, one takes it.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { Store } from "../../store/types.js";
import { act, b64u, type AcmeUseCaseDeps } from "./context.js";

/** How long a nonce is good (and its used-record kept). */
export const NONCE_MAX_AGE_MS = 60 * 60 * 1000;
const NONCE_KEY_MARK = "acme.nonce-key";

/** Why a nonce was not good; "ok" when it was (and is now used). */
export type NonceVerdict = "ok" | "foreign" | "expired" | "replayed";

/** Issues and redeems nonces. */
export class AcmeNonces {
  private nonceKey?: Promise<Buffer>;

  constructor(private readonly d: Pick<AcmeUseCaseDeps, "store" | "clock" | "random">) {}

  private key(): Promise<Buffer> {
    this.nonceKey ??= (async () => {
      const mark = await this.d.store.getJobMark(NONCE_KEY_MARK);
      if (mark) return Buffer.from(mark.value, "base64url");
      // First start on this store. Two instances starting together may each write one;
      // the later wins, and a nonce from the other is refused once as badNonce, which
      // clients retry with the fresh nonce of the error (§6.5).
      const k = this.d.random(32);
      await act(this.d, (tx) => tx.store.setJobMark(NONCE_KEY_MARK, b64u(k), this.d.clock()));
      return k;
    })().catch((e: unknown) => {
      this.nonceKey = undefined;
      throw e;
    });
    return this.nonceKey;
  }

  /** A fresh nonce. */
  async issue(): Promise<string> {
    const body = Buffer.alloc(22);
    body.writeUIntBE(this.d.clock(), 0, 6);
    this.d.random(16).copy(body, 6);
    const mac = createHmac("sha256", await this.key())
      .update(body)
      .digest()
      .subarray(0, 16);
    return b64u(Buffer.concat([body, mac]));
  }

  /** Checks a nonce and records it as used (one atomic insert, §6.5). */
  async redeem(nonce: string): Promise<NonceVerdict> {
    const raw = Buffer.from(nonce, "base64url");
    if (raw.length !== 38 || b64u(raw) !== nonce) return "foreign";
    const body = raw.subarray(0, 22);
    const mac = createHmac("sha256", await this.key())
      .update(body)
      .digest()
      .subarray(0, 16);
    if (!timingSafeEqual(mac, raw.subarray(22))) return "foreign";
    const at = body.readUIntBE(0, 6);
    if (at + NONCE_MAX_AGE_MS < this.d.clock()) return "expired";
    const fresh = await act(this.d, (tx) => tx.acme.useNonce(nonce, at + NONCE_MAX_AGE_MS));
    return fresh ? "ok" : "replayed";
  }
}

/**
 * Deletes the used-nonce records past their nonce's age limit (a job of `sigil serve`; any
 * instance may run it). Returns how many.
 */
export function pruneAcmeNonces(store: Store, now: number): Promise<number> {
  return act({ store, clock: () => now }, (tx) => tx.acme.pruneNonces(now));
}
