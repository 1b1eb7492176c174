#!/usr/bin/env bash
# certd under a real systemd (issue 14, part 1): boots this machine's own Debian as a
# container with systemd as PID 1 (systemd-nspawn -D / --volatile=yes: /usr read-only from
# the host, the rest a fresh tmpfs), installs certd into it as a package would (the files
# `meson install` puts under /usr/local, the unit, sysusers.d and tmpfiles.d applied by
# systemd, the bus policy for the real dbus-daemon), and runs inside.sh there, which drives
# it with systemctl, busctl and openssl and reports one TAP line per check through a bound
# folder. Skipped (77) only where nspawn cannot boot a container at all.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD_DIR:?BUILD_DIR names the build folder}
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (package systemd-container)"
WORK=$(mktemp -d)
NSPAWN=
cleanup() {
  [ -n "$NSPAWN" ] && kill "$NSPAWN" 2>/dev/null && wait "$NSPAWN" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
# The container reads the tree through binds: nothing under a 0700 home is walked.
chmod 755 "$WORK"
mkdir -p "$WORK/pkg" "$WORK/report"
meson install -C "$BUILD" --destdir "$WORK/pkg" --no-rebuild --skip-subprojects >"$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log"; exit 1; }
cp "$HERE/inside.sh" "$WORK/inside.sh"
cat >"$WORK/system-test.service" <<'UNIT'
[Unit]
Description=certd system test (tests/system/inside.sh)
After=dbus.service
[Service]
Type=oneshot
# A hung check is stopped here, so that the journal below still reaches the report;
# system.sh bounds the whole boot (timeout 420).
TimeoutStartSec=300s
StandardOutput=file:/report/inside.log
StandardError=inherit
ExecStart=/bin/bash /report/inside.sh
ExecStopPost=/bin/sh -c 'journalctl --no-pager -o short-monotonic -u certd -u certd-tls -u certd-tls.socket -u dbus -u system-test >/report/journal.log'
ExecStopPost=/bin/systemctl poweroff --no-block
UNIT
cp "$WORK/inside.sh" "$WORK/report/inside.sh"
cp "$HERE/../integration/wait_lib.sh" "$WORK/report/wait_lib.sh"
cp "$HERE/tls_probe.py" "$WORK/report/tls_probe.py"
# Bounded: a boot that hangs fails the test instead of holding CI.
timeout 420 systemd-nspawn -D / --volatile=yes --boot --register=no --keep-unit --private-network --quiet \
  --bind="$WORK/report:/report" --bind-ro="$WORK/pkg:/pkg" --bind-ro="$WORK/pkg/usr/local:/usr/local" \
  --overlay-ro="/usr/share/dbus-1/system.d:$WORK/pkg/usr/local/share/dbus-1/system.d:/usr/share/dbus-1/system.d" \
  --bind-ro="$WORK/system-test.service:/etc/systemd/system/system-test.service" \
  systemd.firstboot=off systemd.wants=system-test.service >"$WORK/boot.log" 2>&1 </dev/null &
NSPAWN=$!
status=0
wait "$NSPAWN" || status=$?
NSPAWN=
if [ ! -s "$WORK/report/inside.log" ]; then
  tail -40 "$WORK/boot.log"
  # No report at all: the container never reached the test. Where nspawn cannot boot
  # (no cgroup access, inside another container), say so; anything else fails.
  if grep -q "Failed to create\|not supported\|Operation not permitted" "$WORK/boot.log" && ! grep -q "Welcome to" "$WORK/boot.log"; then
    skip "systemd-nspawn cannot boot a container here (exit $status; boot log above)"
  fi
  echo "FAIL: the container ran no test (systemd-nspawn exit $status)"
  exit 1
fi
cat "$WORK/report/inside.log"
journal() {
  [ -f "$WORK/report/journal.log" ] &&
    grep -v "secure heap\|connections need" "$WORK/report/journal.log" | tail -400 | sed 's/^/# journal: /'
}
grep -q '^# done' "$WORK/report/inside.log" || { journal; echo "FAIL: inside.sh did not finish"; exit 1; }
if grep -q '^not ok' "$WORK/report/inside.log"; then
  journal
  echo "FAIL: $(grep -c '^not ok' "$WORK/report/inside.log") check(s) failed"
  exit 1
fi
echo "PASS: $(grep -c '^ok' "$WORK/report/inside.log") checks under systemd $(systemctl --version | head -1 | cut -d' ' -f2)"
