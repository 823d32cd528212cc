#!/usr/bin/env bash
# First run: build, create the genfic hierarchy in ./sigil-data, then issue and verify a
# system certificate, the handbook's daily flow. Asks for a passphrase on a terminal;
# set SIGIL_PASSPHRASE (or --passphrase-file) to run it unattended.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
sigil() { node bin/sigil.js "$@"; }
export SIGIL_HOME="${SIGIL_HOME:-$PWD/sigil-data}"
if [ ! -f "$SIGIL_HOME/sigil.db" ]; then
  sigil init
fi
mkdir -p "$SIGIL_HOME/demo"
host="demo-$(date +%s).genfic.internal"
sigil request create "$SIGIL_HOME/demo/$host" --subject "/O=Gentoo Fictional, Inc./CN=$host" --no-encrypt
sigil sign "$SIGIL_HOME/demo/$host.req" --ca genfic-system -o "$SIGIL_HOME/demo/$host.crt"
sigil ca show genfic --pem > "$SIGIL_HOME/demo/root.pem"
sigil ca show genfic-system --pem > "$SIGIL_HOME/demo/system.pem"
if command -v openssl >/dev/null; then
  openssl verify -CAfile "$SIGIL_HOME/demo/root.pem" -untrusted "$SIGIL_HOME/demo/system.pem" "$SIGIL_HOME/demo/$host.crt"
fi
sigil certs --expiring 3650d
sigil audit verify
