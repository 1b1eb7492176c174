#!/usr/bin/env bash
# Browser tests of the Cockpit page: a private bus and a real certd (integration/lib.sh),
# the page installed by `meson install --tags web`, Cockpit's real cockpit-ws and
# cockpit-bridge (.ci/cockpit-local), and Debian's chromium driven by puppeteer-core
# (browser.cjs runs SCENARIO). Screenshots go to $BUILD_DIR/web-screenshots.
#   web.sh SCENARIO [--viewer]     --viewer: Cockpit runs as nobody, a non-admin
# Environment (meson sets it): CERTD, CERTCTL, MAKE_TEST_CERT, BUILD_DIR, WEB_NODE_MODULES,
# WEB_DATADIR (prefix/datadir as configured), SOURCE_DIR.
. "$(dirname "$0")/../integration/lib.sh"
scenario=$1
cockpit_user=()
[ "${2:-}" = "--viewer" ] && cockpit_user=(--user nobody)

for tool in /usr/lib/cockpit/cockpit-ws cockpit-bridge chromium node; do
  command -v "$tool" >/dev/null || fail "$tool is missing: run .ci/install-deps"
done
[ -d /usr/share/cockpit/shell ] || fail "cockpit-system is missing (Cockpit's shell): run .ci/install-deps"

start_bus
start_certd

# The page exactly as `meson install` lays it out, in a folder every user can read.
meson install -C "$BUILD_DIR" --no-rebuild --quiet --tags web --destdir "$WORK/root" >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log" >&2; fail "meson install --tags web failed"; }
datadir=$WORK/root$WEB_DATADIR
[ -f "$datadir/cockpit/certd/manifest.json" ] || fail "meson install did not put the page in $datadir/cockpit/certd"

# Cockpit on a free loopback port; the first line it prints says which, once it accepts.
exec {cockpit_out}< <(exec "$SOURCE_DIR/.ci/cockpit-local" --data-dir "$datadir" --port 0 "${cockpit_user[@]}" \
  2>"$WORK/cockpit.log")
COCKPIT_PID=$!
trap 'kill "$COCKPIT_PID" 2>/dev/null; wait "$COCKPIT_PID" 2>/dev/null; cleanup' EXIT
read -r -t 60 -u "$cockpit_out" line || fail "cockpit-local did not start: $(cat "$WORK/cockpit.log")"
url=$(echo "$line" | grep -o 'http://[^ ]*') || fail "cockpit-local said: $line"

mkdir -p "$BUILD_DIR/web-screenshots"
rm -f "$BUILD_DIR/web-screenshots/$scenario"-*.png
export COCKPIT_URL=$url TLS_PORT=$PORT WORK SCREENSHOTS=$BUILD_DIR/web-screenshots
NODE_PATH=$WEB_NODE_MODULES node "$(dirname "$0")/browser.cjs" "$scenario" \
  || { sed 's/^/  cockpit: /' "$WORK/cockpit.log" >&2; fail "browser scenario $scenario"; }
