#!/usr/bin/env bash
# The main job: build when needed, create the genfic hierarchy in ./sigil-data on the first
# run, then run `sigil serve` (OCSP, CRLs, CA certificates) in the foreground, printing its
# URLs. Run it again and it reuses ./sigil-data. Extra arguments go to `sigil serve`
# (e.g. `npm start -- --listen 0.0.0.0:8080 --workers 2`). Asks for the CA key passphrase
# on a terminal; unattended, set SIGIL_PASSPHRASE or pass --passphrase-file FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
if [ ! -f dist/main.js ] || [ ! -f dist/web/index.html ] || [ -n "$(find src web package.json scripts -newer dist/main.js -type f ! -name '*.test.ts' -print -quit)" ]; then
  npm run build --silent
fi
export SIGIL_HOME="${SIGIL_HOME:-$PWD/sigil-data}"
exec node bin/sigil.js serve --init "$@"
