#!/usr/bin/env bash
# Makes sure the external verifiers the tests use are installed: OpenSSL and GnuTLS
# certtool. As root with apt-get (a fresh Debian machine, CI) it installs them; otherwise
# it says what to install and fails.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v certtool >/dev/null || need+=(gnutls-bin)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing test dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
else
  echo "the tests need: ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
