/** Sigil's version, kept in code so `sigil --version` reads no file. Matches package.json. */
export const VERSION = "0.1.0";
