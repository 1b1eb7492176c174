#!/usr/bin/env bash
# systemd/certd.service passes `systemd-analyze verify`, and its exposure score
# from `systemd-analyze security --offline=yes` is printed and must be 2.0 or lower
# (docs/security.md); `meson install` puts every file where Debian expects it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# verify needs the ExecStart binary to exist: point it at the freshly built certd.
sed "s|^ExecStart=/usr/bin/certd|ExecStart=$CERTD|" "$SRC/systemd/certd.service" > "$WORK/certd.service"
out=$(systemd-analyze verify "$WORK/certd.service" 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
score=$(systemd-analyze security --offline=yes --no-pager "$WORK/certd.service" 2>/dev/null \
  | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || fail "no exposure score"
echo "systemd-analyze security --offline=yes: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is above the 2.0 target (docs/security.md)"
DESTDIR="$WORK/root" meson install -C "$BUILD_DIR" --no-rebuild --quiet >/dev/null
for f in usr/local/bin/certd usr/local/bin/certctl usr/local/share/dbus-1/system.d/org.certd1.conf \
         usr/local/share/dbus-1/system-services/org.certd1.service \
         usr/local/share/dbus-1/interfaces/org.certd1.Manager.xml usr/local/etc/certd/certd.yaml; do
  [ -e "$WORK/root/$f" ] || fail "meson install did not install $f"
done
find "$WORK/root" -name certd.service | grep -q . || fail "unit not installed"
echo "ok: unit verifies, installs in place"
