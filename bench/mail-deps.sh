#!/usr/bin/env bash
# Makes sure what bench/mail needs is installed: dovecot's IMAP server (dovecot-imapd) and
# the `vmail` user the private test dovecot stores mail as (as scripts/test-deps.sh makes
# them), and the pipeline Sigil replaces: fetchmail, procmail and munpack (mpack). As root
# with apt-get it installs them; otherwise it says what to install and fails. The Debian
# packages may bring a fetchmail or dovecot service; the benchmark never uses or touches
# them (it runs a private dovecot on its own port and one fetchmail poll with its own rc).
set -euo pipefail
need=()
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || need+=(dovecot-imapd)
command -v fetchmail >/dev/null || need+=(fetchmail)
command -v procmail >/dev/null || need+=(procmail)
command -v munpack >/dev/null || need+=(mpack)

ensure_vmail() {
  getent passwd vmail >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
  else
    echo "bench/mail needs a 'vmail' system user (sudo useradd --system --user-group --no-create-home vmail)" >&2
    return 1
  fi
}

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing benchmark dependencies: ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "bench/mail needs: ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
ensure_vmail
