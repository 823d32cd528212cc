/**
 * Enrollment channels: the ways a request reaches Sigil. The word belongs to policy
 * (auto-approval rules name channels); the store records it and re-exports the type.
 */

/** Channel a request came in by. */
export type RequestChannel = "cli" | "mail" | "web" | "drop" | "acme";
