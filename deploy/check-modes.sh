#!/usr/bin/env bash
# Checks the file modes of a Sigil data folder: the folder and keys/ 0700, every key file
# 0600, the database (sigil.db and its -wal/-shm/-journal) not readable by group or others.
# With --owner USER, also that they all belong to USER.
#   deploy/check-modes.sh [--owner sigil] [/var/lib/sigil]
# Prints one line per problem on stderr; exit 0 when none, 1 otherwise, 2 on usage errors.
set -euo pipefail
owner=""
if [ "${1:-}" = "--owner" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [--owner USER] [HOME]" >&2; exit 2; }
  owner=$2
  shift 2
fi
[ $# -le 1 ] || { echo "usage: $0 [--owner USER] [HOME]" >&2; exit 2; }
home=${1:-${SIGIL_HOME:-/var/lib/sigil}}
[ -d "$home" ] || { echo "check-modes: $home is not a folder" >&2; exit 2; }

problems=0
bad() {
  echo "check-modes: $*" >&2
  problems=$((problems + 1))
}
mode_of() { stat -c '%a' -- "$1"; }
check_owner() {
  [ -z "$owner" ] && return 0
  local who
  who=$(stat -c '%U' -- "$1")
  [ "$who" = "$owner" ] || bad "$1 belongs to $who, not $owner"
}
# exact MODE PATH
exact() {
  local m
  m=$(mode_of "$2")
  [ "$m" = "$1" ] || bad "$2 has mode $m, want $1"
  check_owner "$2"
}
# private PATH: no group or other bits
private() {
  local m
  m=$(stat -c '%a' -- "$1")
  (((8#$m & 8#077) == 0)) || bad "$1 has mode $m: readable or writable by group or others"
  check_owner "$1"
}

exact 700 "$home"
if [ -e "$home/keys" ]; then
  [ -d "$home/keys" ] && [ ! -L "$home/keys" ] || bad "$home/keys is not a folder"
  exact 700 "$home/keys"
  shopt -s nullglob dotglob
  for f in "$home/keys"/*; do
    if [ -L "$f" ] || [ ! -f "$f" ]; then
      bad "$f is not a regular file"
      continue
    fi
    exact 600 "$f"
  done
  shopt -u nullglob dotglob
fi
for f in "$home/sigil.db" "$home/sigil.db-wal" "$home/sigil.db-shm" "$home/sigil.db-journal"; do
  [ -e "$f" ] && private "$f"
done
[ -e "$home/sigil.db" ] || bad "$home/sigil.db is missing (not a Sigil data folder?)"

if [ "$problems" -gt 0 ]; then
  echo "check-modes: $problems problem(s) in $home" >&2
  exit 1
fi
echo "check-modes: $home ok"
