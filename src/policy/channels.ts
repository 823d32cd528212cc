/**
 * Enrollment channels: the ways a request reaches Sigil. The word belongs to policy
 * (auto-approval rules name channels); the configuration lists them from here, the store
 * records them and re-exports the type.
 */

/** Every channel, in the order shown in help texts and settings. */
export const REQUEST_CHANNELS = ["cli", "mail", "web", "drop", "acme"] as const;

/** Channel a request came in by. */
export type RequestChannel = (typeof REQUEST_CHANNELS)[number];
