#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/. Kept tiny so `sigil --version` starts fast.
import("../dist/main.js").then((m) => m.main(process.argv.slice(2)));
