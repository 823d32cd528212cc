#!/usr/bin/env bash
# Makes sure the external tools the tests use are installed: OpenSSL, GnuTLS certtool,
# GnuTLS ocsptool, curl, pgrep, Debian's update-ca-certificates (ca-certificates) and NSS
# certutil (libnss3-tools). As
# root with apt-get (a fresh Debian machine, CI) it installs them; otherwise it says what
# to install and fails.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v certtool >/dev/null || need+=(gnutls-bin)
[ -x /usr/sbin/update-ca-certificates ] || command -v update-ca-certificates >/dev/null || need+=(ca-certificates)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v ocsptool >/dev/null || need+=(gnutls-bin)
command -v curl >/dev/null || need+=(curl)
command -v pgrep >/dev/null || need+=(procps)
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
