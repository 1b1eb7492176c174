# Shared by the lifecycle_*.sh integration tests (issue 5), on top of lib.sh:
# state snapshots, certificate paths computed from files, error names from
# certctl and dbus-send, and a loopback HTTP server for FetchIssuer.
#   MAKE_TEST_CERT, MAKE_TEST_PKI   test certificate tools (meson passes them)
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HTTP_PID=
HTTP_PORT=
HTTP_ROOT="$WORK/www"
lifecycle_cleanup() {
  # Runs under set -e: a failing kill/wait here must not skip lib.sh's cleanup.
  if [ -n "$HTTP_PID" ]; then kill "$HTTP_PID" 2>/dev/null || true; wait "$HTTP_PID" 2>/dev/null || true; fi
  cleanup
}
trap lifecycle_cleanup EXIT

C() { "$CERTCTL" "$@"; }

# The object path of the certificate in FILE (PEM or DER): its id is the first
# 32 hex digits of the SHA-256 of the DER (docs/api.md, Ids).
cert_path() {
  local form=PEM
  head -c 11 "$1" | grep -q -- '-----BEGIN' || form=DER
  echo "/org/certd1/certificate/$(openssl x509 -in "$1" -inform $form -outform DER | sha256sum | cut -c1-32)"
}

# Every file under the state directory with its SHA-256: equal before and after a
# refused call means the call changed nothing on disk.
snapshot() { (cd "$WORK/state" && find . -type f | LC_ALL=C sort | xargs sha256sum); }

# expect_unchanged BEFORE WHAT: fail unless the state directory is as BEFORE.
expect_unchanged() {
  local now
  now=$(snapshot)
  [ "$1" = "$now" ] || fail "$2 changed the state directory: $(diff <(echo "$1") <(echo "$now") | head -5)"
}

# certctl_refused ERROR_NAME ARGS...: certctl ARGS must exit 1 with "certctl: ERROR_NAME: ..." on stderr.
certctl_refused() {
  local want=$1 rc; shift
  set +e
  "$CERTCTL" "$@" >"$WORK/out" 2>"$WORK/err"; rc=$?
  set -e
  { [ $rc = 1 ] && grep -q "^certctl: $want: " "$WORK/err"; } ||
    fail "certctl $* should be refused with $want (exit 1), got exit $rc: $(cat "$WORK/err")"
}

# dbus_error PATH INTERFACE.METHOD ARGS...: the error name of a call that must fail (dbus-send prints it).
dbus_error() {
  local out
  if out=$(dbus-send --system --print-reply --dest=org.certd1 "$@" 2>&1); then
    echo "SUCCEEDED"
  else
    echo "$out" | sed -n 's/^Error \([A-Za-z0-9_.]*\).*/\1/p' | head -1
  fi
}

# expect_dbus_error ERROR_NAME PATH INTERFACE.METHOD ARGS...
expect_dbus_error() {
  local want=$1 got; shift
  got=$(dbus_error "$@")
  [ "$got" = "org.certd1.Error.$want" ] || fail "$2 on $1 should fail with org.certd1.Error.$want, got '$got'"
}

# A file as a dbus-send argument: array:byte:1,2,3
dbus_bytes() { echo "array:byte:$(od -An -v -tu1 "$1" | tr -s ' \n' '  ' | sed 's/^ *//; s/ *$//; s/ /,/g')"; }

# busctl_import FILE: imports FILE (unencrypted) through busctl; prints the reply.
busctl_import() {
  busctl --system call org.certd1 /org/certd1 org.certd1.Manager Import 'aysa{sv}' $(bytes_of "$1") "" 0
}

# A PEM file's certificates in order, one subject per line (openssl's form).
subjects_of() { openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs -noout | sed -n 's/^subject=//p'; }
cert_count() { openssl crl2pkcs7 -nocrl -certfile "$1" | openssl pkcs7 -print_certs -noout | grep -c '^subject=' || true; }

# start_http: python's http.server on 127.0.0.1, an ephemeral port (no race for a
# free port: it binds port 0 and says which it got), serving $HTTP_ROOT.
start_http() {
  mkdir -p "$HTTP_ROOT"
  : > "$WORK/http.log" # exists before the server's own redirect does: http_port_known reads it at once
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$HTTP_ROOT" > "$WORK/http.log" 2>&1 &
  HTTP_PID=$!
  wait_until 60 http_port_known || fail "the HTTP server did not start: $(cat "$WORK/http.log")"
  # Up and serving: a probe file must come back whole.
  echo probe > "$HTTP_ROOT/probe"
  curl -fsS --max-time 60 "http://127.0.0.1:$HTTP_PORT/probe" | grep -q probe || fail "HTTP server not answering"
}

# Succeeds once the HTTP server has said which port it got (sets HTTP_PORT); fails the test if it exited.
http_port_known() {
  HTTP_PORT=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$WORK/http.log")
  [ -n "$HTTP_PORT" ] && return 0
  kill -0 "$HTTP_PID" 2>/dev/null || fail "the HTTP server exited: $(cat "$WORK/http.log")"
  return 1
}

# The certificate's property, busctl form without the type (as lib.sh's prop).
cprop() { prop "$1" org.certd1.Certificate "$2"; }
