#!/usr/bin/env bash
# Makes sure the external tools the tests use are installed: OpenSSL, GnuTLS certtool,
# GnuTLS ocsptool, curl, pgrep, Debian's update-ca-certificates (ca-certificates), NSS
# certutil (libnss3-tools), PostgreSQL (postgresql, for the PostgreSQL store tests), Chromium (for the browser tests), dovecot's IMAP server (dovecot-imapd, for the mail tests in
# test/mail-harness.ts), SoftHSM2 (softhsm2) and OpenSC's pkcs11-tool (opensc) for the PKCS#11
# tests, Python 3 (python3, for the Merkle tree reference) and strace (a commit's sync). As root with apt-get (a fresh
# Debian machine, CI) it installs them; otherwise it says what to install and fails. As root it also creates the `vmail` system
# user that the test dovecot stores mail as. The tests run their own dovecot (private config,
# base_dir and port in a temp folder), so the system dovecot service need not run.
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v certtool >/dev/null || need+=(gnutls-bin)
[ -x /usr/sbin/update-ca-certificates ] || command -v update-ca-certificates >/dev/null || need+=(ca-certificates)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v ocsptool >/dev/null || need+=(gnutls-bin)
command -v curl >/dev/null || need+=(curl)
command -v pgrep >/dev/null || need+=(procps)
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null || need+=(dovecot-imapd)
# PKCS#11 tests (test/softhsm.ts): the SoftHSM2 module and tools, and OpenSC's pkcs11-tool.
{ [ -e /usr/lib/softhsm/libsofthsm2.so ] && command -v softhsm2-util >/dev/null; } || need+=(softhsm2)
command -v pkcs11-tool >/dev/null || need+=(opensc)
# deploy/ (test/deploy.test.ts): the SELinux module is built with the reference policy's
# devel Makefile, linked into Debian's policy store (a private copy) with semodule and
# queried with sesearch; the unit is checked with systemd-analyze; install.sh runs in a
# private mount namespace (unshare, util-linux).
[ -f /usr/share/selinux/devel/Makefile ] || need+=(selinux-policy-dev)
[ -d /var/lib/selinux/default ] || need+=(selinux-policy-default)
command -v semodule >/dev/null || need+=(policycoreutils)
command -v sesearch >/dev/null || need+=(setools)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v unshare >/dev/null || need+=(util-linux)
# test/cli-details.test.ts drives the interactive prompts on a pseudo-terminal with script(1).
command -v script >/dev/null || need+=(bsdutils)
command -v make >/dev/null || need+=(make)
# PostgreSQL store tests (test/postgres.ts): initdb/pg_ctl start a private cluster in a temp
# folder (as the `postgres` user when root), and psql; the system service need not run.
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && command -v psql >/dev/null || need+=(postgresql)
# Browser tests of the web portal (test/web.test.ts): playwright-core drives Debian's Chromium.
command -v chromium >/dev/null || need+=(chromium)
# ACME tests and bench (test/acme*, bench/acme): real clients against `sigil serve`, see
# docs/acme-clients.md for their non-interactive command lines.
command -v certbot >/dev/null || need+=(certbot)
command -v lego >/dev/null || need+=(lego)
# src/audit/merkle.test.ts checks the audit Merkle tree against an independent Python 3
# reference written from RFC 9162 (test/fixtures/merkle_ref.py, standard library only).
command -v python3 >/dev/null || need+=(python3)
# src/store/sqlite/sqlite-store.test.ts watches a commit's WAL sync with strace.
command -v strace >/dev/null || need+=(strace)

# The mail user of the test dovecot (test/mail-harness.ts); useradd needs root.
ensure_vmail() {
  getent passwd vmail >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
  else
    echo "the mail tests need a 'vmail' system user (sudo useradd --system --user-group --no-create-home vmail)" >&2
    return 1
  fi
}

if [ ${#need[@]} -eq 0 ]; then
  ensure_vmail
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing test dependencies: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Packages like dovecot would start their system service on install; the tests run their
  # own instances, and a CI container may have no init: tell invoke-rc.d not to start any.
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && added_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 || status=$?
  [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
  [ "${status:-0}" = 0 ] || exit "$status"
  ensure_vmail
else
  echo "the tests need: ${need[*]} (Debian: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
