#!/usr/bin/env bash
# Installs Sigil as a hardened service on a Debian host. Run as root from a built checkout
# (npm ci && npm run build). Idempotent: running it again upgrades the program files and
# re-checks users, folders and modes; it never touches the CA data beyond modes and owner.
#
#   sudo deploy/install.sh            # program in /opt/sigil, data in /var/lib/sigil
#
# What it does:
#   - system user and group `sigil` (no login shell, no home folder);
#   - /opt/sigil: bin/, dist/, production node_modules/ (root-owned, read-only to the service);
#   - /usr/local/bin/sigil: the operator command (a wrapper around node);
#   - /var/lib/sigil 0700 sigil:sigil, keys/ 0700, key files 0600 (modes fixed if looser);
#   - /etc/systemd/system/sigil.service, then `systemctl daemon-reload` when systemd runs;
#   - with SELinux enabled and selinux-policy-dev installed: builds and loads the sigil
#     module (deploy/selinux) and restores the file labels.
# It does not enable or start the service, and never asks for or stores a passphrase.
set -euo pipefail

PREFIX=/opt/sigil
DATA=/var/lib/sigil
UNIT_DIR=/etc/systemd/system
SRC=$(cd "$(dirname "$0")/.." && pwd)

die() {
  echo "install.sh: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || die "run as root"
[ -f "$SRC/dist/main.js" ] || die "$SRC/dist/main.js is missing: run 'npm ci && npm run build' first"
[ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run 'npm ci' first"
[ -x /usr/bin/node ] || die "/usr/bin/node is missing (Debian: apt-get install nodejs, Node 20 or later)"
major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || die "/usr/bin/node is Node $major; Sigil needs Node 20 or later"

# 1. The service account.
if ! getent group sigil >/dev/null; then groupadd --system sigil; fi
if ! getent passwd sigil >/dev/null; then
  useradd --system --gid sigil --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "Sigil certificate authority" sigil
fi

# 2. Program files, staged then swapped in, so a failed copy leaves the old version.
stage="$PREFIX.new.$$"
trap 'rm -rf "$stage"' EXIT
rm -rf "$stage"
install -d -m 0755 "$stage" "$stage/bin" "$stage/deploy"
cp -R "$SRC/dist" "$stage/dist"
cp -R "$SRC/node_modules" "$stage/node_modules"
install -m 0644 "$SRC/package.json" "$SRC/package-lock.json" "$SRC/README.md" "$stage/"
install -m 0755 "$SRC/bin/sigil.js" "$SRC/deploy/bin/sigil-serve" "$SRC/deploy/bin/sigil" "$stage/bin/"
cp -R "$SRC/deploy/systemd" "$SRC/deploy/selinux" "$stage/deploy/"
install -m 0755 "$SRC/deploy/check-modes.sh" "$stage/deploy/"
# Development dependencies out; no network needed (the native addon is already built).
(cd "$stage" && npm prune --omit=dev --no-audit --no-fund --offline --loglevel=error >/dev/null)
chown -R root:root "$stage"
chmod -R u=rwX,go=rX "$stage"
if [ -d "$PREFIX" ]; then
  rm -rf "$PREFIX.old"
  mv "$PREFIX" "$PREFIX.old"
fi
mv "$stage" "$PREFIX"
rm -rf "$PREFIX.old"
trap - EXIT
install -m 0755 "$PREFIX/bin/sigil" /usr/local/bin/sigil

# 3. Data folder: owner-only. systemd's StateDirectory= would create it too; doing it here
# lets a security admin run `sigil init` before the first start.
install -d -m 0700 -o sigil -g sigil "$DATA"
chmod 0700 "$DATA"
chown sigil:sigil "$DATA"
if [ -d "$DATA/keys" ]; then
  chown sigil:sigil "$DATA/keys"
  chmod 0700 "$DATA/keys"
  find "$DATA/keys" -maxdepth 1 -type f -exec chown sigil:sigil {} + -exec chmod 0600 {} +
fi
for f in "$DATA"/sigil.db "$DATA"/sigil.db-wal "$DATA"/sigil.db-shm; do
  if [ -e "$f" ]; then chmod go-rwx "$f"; fi
done

# 4. The unit.
install -d -m 0755 "$UNIT_DIR"
install -m 0644 "$SRC/deploy/systemd/sigil.service" "$UNIT_DIR/sigil.service"

# 5. SELinux, when enabled.
if command -v selinuxenabled >/dev/null && selinuxenabled; then
  if [ -f /usr/share/selinux/devel/Makefile ]; then
    build=$(mktemp -d)
    cp "$SRC"/deploy/selinux/sigil.{te,if,fc} "$build/"
    make -s -C "$build" -f /usr/share/selinux/devel/Makefile sigil.pp
    semodule -i "$build/sigil.pp"
    rm -rf "$build"
    restorecon -R "$PREFIX" /usr/local/bin/sigil "$DATA" "$UNIT_DIR/sigil.service"
  else
    echo "install.sh: SELinux is enabled but selinux-policy-dev is missing: the sigil module was not loaded" >&2
  fi
fi

# 6. systemd, only when it is the running init (sd_booted(3)).
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi

cat <<NEXT
Sigil installed in $PREFIX, data in $DATA, unit $UNIT_DIR/sigil.service.
Next, as the security admin:
  runuser -u sigil -- env SIGIL_HOME=$DATA /usr/local/bin/sigil init
  $PREFIX/deploy/check-modes.sh --owner sigil $DATA
  systemctl enable --now sigil
Optional drop-ins: $PREFIX/deploy/systemd/sigil-{passphrase,hsm,mdwe}.conf
NEXT
