#!/usr/bin/env bash
# Makes sure the external tools bench/ocsp uses are installed: OpenSSL, wrk (the load
# generator), nginx (the static-file ceiling), curl and pgrep. As root with apt-get it
# installs them; otherwise it says what to install and fails. Installing the nginx package
# may start Debian's own nginx service; the benchmark never uses or touches it (it runs a
# private nginx with its own config, on its own port).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v curl >/dev/null || need+=(curl)
command -v pgrep >/dev/null || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing benchmark dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
else
  echo "bench/ocsp needs: ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
