// Bundles the CLI into dist/ with esbuild: one entry, lazily loaded chunks per command.
// Bundling saves Node ~80 ms of module resolution per process (`sigil sign` runs once per
// certificate in the handbook's scripts). Type-checking is `npm run typecheck` (tsc).
import { build } from "esbuild";
import { build as viteBuild } from "vite";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

rmSync(new URL("../dist", import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: ["src/cli/main.ts"],
  outdir: "dist",
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
});

// The web portal and admin console (web/ -> dist/web/), served by `sigil serve`.
await viteBuild({ configFile: fileURLToPath(new URL("../web/vite.config.ts", import.meta.url)) });
