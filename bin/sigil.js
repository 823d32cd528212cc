#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/. Kept tiny so `sigil --version` starts fast:
// it loads dist/version.js alone (src/version.ts), not the CLI.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
  // A reader that went away (`sigil --version | true`) is not an error.
  process.stdout.on("error", () => process.exit());
  import("../dist/version.js").then(({ VERSION }) => process.stdout.write(`sigil ${VERSION}\n`));
} else {
  // `sigil sign` and `crl` open a CA key in this process: its PBKDF2 starts first, on the
  // thread pool, while the CLI loads (src/app/key-ahead.ts: only a guess, which the real
  // open checks; it starts nothing when the command goes to a service).
  if (argv.includes("sign") || argv.includes("crl"))
    import("../dist/key-ahead.js").then((k) => k.deriveKeyAheadFromArgv(argv)).catch(() => {});
  import("../dist/main.js").then((m) => m.main(argv));
}
