/** Sigil's version (src/version.ts), re-exported for the CLI. */
export { VERSION } from "../version.js";
