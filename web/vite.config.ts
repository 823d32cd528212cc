// The portal and admin console: web/ -> dist/web/ (served by `sigil serve`). The server's
// CSP allows scripts and styles from 'self' only, so the build emits external files and no
// inline module-preload polyfill.
import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  plugins: [preact()],
  logLevel: "warn",
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
    chunkSizeWarningLimit: 2000,
  },
});
