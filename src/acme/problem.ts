/**
 * ACME problem documents (RFC 8555 §6.7): the vocabulary lives with the ACME use cases
 * (authority/acme/problem.ts), which decide the refusals; the server renders them.
 */
export * from "../authority/acme/problem.js";
