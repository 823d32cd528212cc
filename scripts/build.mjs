// Bundles the CLI into dist/ with esbuild: one entry, lazily loaded chunks per command.
// Bundling saves Node ~80 ms of module resolution per process (`sigil sign` runs once per
// certificate in the handbook's scripts). Type-checking is `npm run typecheck` (tsc).
import { build } from "esbuild";
import { build as viteBuild } from "vite";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

// Built into a fresh folder, then moved into dist/ file by file (each rename atomic): a
// `sigil` process running during a rebuild (tests, `npm start`) never finds dist/ empty or
// a half-written file. Files of older builds are removed once they are an hour old (a
// running process may still load one of its lazy chunks).
const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const stage = join(root, `.dist-build-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
await build({
  // version.ts is an entry of its own (dist/version.js): bin/sigil.js answers --version
  // from it without loading the CLI.
  // dist/audit-scan-worker.js is the worker thread of the parallel audit log read
  // (src/store/sqlite/audit-scan.ts finds it next to its own chunk); dist/audit-export-worker.js
  // the one of `sigil audit verify --offline` (src/cli/audit-export.ts). dist/key-ahead.js
  // lets bin/sigil.js start a `sigil sign` key's derivation before the CLI loads.
  entryPoints: [
    "src/cli/main.ts",
    "src/version.ts",
    "src/store/sqlite/audit-scan-worker.ts",
    "src/cli/audit-export-worker.ts",
    "src/app/key-ahead.ts",
  ],
  // dist/main.js and dist/version.js (not dist/cli/main.js: two entries would keep src/'s layout).
  entryNames: "[name]",
  outdir: stage,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // Native addons (better-sqlite3, pkcs11js), pg (loaded only for a PostgreSQL store), and
  // the server's libraries (loaded only by
  // `serve`): runtime imports.
  external: [
    "better-sqlite3",
    "fastify",
    "pino",
    "prom-client",
    "imapflow",
    "mailparser",
    "nodemailer",
    "pkcs11js",
    "pg",
  ],
  // Bundled CommonJS dependencies call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __sigilRequire } from 'node:module'; const require = __sigilRequire(import.meta.url);",
  },
  logLevel: "warning",
  legalComments: "none",
  // Whitespace and syntax only (names are kept, so stack traces stay readable): less source
  // for Node to read and compile at every start of a one-shot command.
  minifyWhitespace: true,
  minifySyntax: true,
});

// The web portal and admin console (web/ -> dist/web/), served by `sigil serve`.
await viteBuild({
  configFile: join(root, "web", "vite.config.ts"),
  build: { outDir: join(stage, "web"), emptyOutDir: true },
});

// What bin/sigil.js loads must come from this build: older files stay in dist/ for an hour,
// so a layout change would otherwise go unnoticed until a clean clone.
for (const entry of ["main.js", "version.js", "audit-scan-worker.js"])
  if (!existsSync(join(stage, entry))) throw new Error(`build: ${entry} was not produced in ${stage}`);

const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
const built = new Set();
for (const f of files(stage)) {
  const to = join(dist, relative(stage, f));
  built.add(to);
  mkdirSync(dirname(to), { recursive: true });
  renameSync(f, to);
}
rmSync(stage, { recursive: true, force: true });
const hourAgo = Date.now() - 3_600_000;
for (const f of files(dist)) if (!built.has(f) && statSync(f).mtimeMs < hourAgo) rmSync(f, { force: true });
