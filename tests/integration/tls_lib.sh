# Shared by the terminator's integration tests: a test PKI made with the openssl
# CLI, backends on loopback, and tls-driver (the real tls::Supervisor standing in
# for certd) as a coprocess. Source it; it uses set -eu.
#   CERTD_TLS   path of certd-tls        TLS_DRIVER   path of tls-driver   (meson passes both)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/wait_lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/certd-tls-it-XXXXXX")
chmod 755 "$WORK"
PIDS=()
DRV_PID=
cleanup() {
  [ -n "$DRV_PID" ] && kill "$DRV_PID" 2>/dev/null && wait "$DRV_PID" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; [ -f "$WORK/driver.log" ] && sed 's/^/  driver: /' "$WORK/driver.log" | tail -40 >&2; exit 1; }
pass() { echo "ok: $*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }

# make_ca: root and intermediate (EC P-256) in $WORK.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/root.key" \
    -out "$WORK/root.pem" -days 30 -subj "/CN=Test Root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/inter.key" \
    -out "$WORK/inter.csr" -subj "/CN=Test Intermediate" 2>/dev/null
  printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' > "$WORK/ca.ext"
  openssl x509 -req -in "$WORK/inter.csr" -CA "$WORK/root.pem" -CAkey "$WORK/root.key" -CAcreateserial \
    -days 30 -extfile "$WORK/ca.ext" -out "$WORK/inter.pem" 2>/dev/null
}

# make_leaf NAME [rsa]: $WORK/NAME.key, NAME.pem, NAME.chain (leaf + intermediate), valid for
# 127.0.0.2, 127.0.0.3, ::1 and NAME.test.
make_leaf() {
  local alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
  [ "${2:-}" = rsa ] && alg=(-newkey rsa:2048)
  openssl req "${alg[@]}" -nodes -keyout "$WORK/$1.key" -out "$WORK/$1.csr" -subj "/CN=$1.test" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.2,IP:127.0.0.3,IP:::1,DNS:%s.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$1" > "$WORK/$1.ext"
  openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/inter.pem" -CAkey "$WORK/inter.key" -CAcreateserial \
    -days 20 -extfile "$WORK/$1.ext" -out "$WORK/$1.pem" 2>/dev/null
  cat "$WORK/$1.pem" "$WORK/inter.pem" > "$WORK/$1.chain"
}

fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }

# start_http_backend: a keep-alive HTTP/1.1 file server for $WORK/www on 127.0.0.1:$BACKEND_PORT.
start_http_backend() {
  mkdir -p "$WORK/www"
  echo "hello through certd-tls" > "$WORK/www/hello.txt"
  BACKEND_PORT=$(free_port)
  python3 "$HERE/tls_backend.py" http "$BACKEND_PORT" "$WORK/www" &
  PIDS+=($!)
  wait_port 127.0.0.1 "$BACKEND_PORT"
}


# start_driver: tls-driver (and so certd-tls) as a coprocess; as root the terminator runs as
# the certd-tls account, or nobody when that does not exist.
start_driver() {
  local user=()
  if [ "$(id -u)" = 0 ]; then
    TLS_USER=certd-tls
    id certd-tls >/dev/null 2>&1 || TLS_USER=nobody
    user=(--user "$TLS_USER")
  fi
  coproc DRV { CERTD_LOG_STDERR=1 "$TLS_DRIVER" --binary "$CERTD_TLS" "${user[@]}" 2>>"$WORK/driver.log"; }
  DRV_PID=$DRV_PID
  drv wait-running >/dev/null
  [ "$DRV_LAST" = running ] || fail "certd-tls did not start"
}

# drv COMMAND...: sends one command; DRV_OUT gets every line of the answer, DRV_LAST the last.
drv() {
  echo "$*" >&"${DRV[1]}"
  DRV_OUT=
  local line
  while :; do
    IFS= read -r -t 120 line <&"${DRV[0]}" || fail "tls-driver did not answer '$*'"
    DRV_OUT+="$line"$'\n'
    case "$1" in
      apply) [ "$line" = applied ] && break ;;
      statuses) [ "$line" = end ] && break ;;
      *) break ;;
    esac
  done
  DRV_LAST=$line
  case "$line" in error*) fail "tls-driver: '$*' -> $line" ;; esac
}

# status_of ADDR: the status line apply printed for ADDR.
status_of() { echo "$DRV_OUT" | grep "^status $1 " || true; }

# served HOST [s_client options...]: SHA-256 fingerprint of the leaf HOST:$PORT serves ("" if none).
served() {
  local host=$1; shift
  timeout 20 openssl s_client -connect "$host:$PORT" "$@" 2>/dev/null </dev/null \
    | openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 || true
}

# handshake HOST [s_client options...]: succeeds when a TLS handshake completes.
handshake() {
  local host=$1; shift
  timeout 20 openssl s_client -connect "$host:$PORT" "$@" </dev/null >"$WORK/hs.out" 2>&1 || return 1
  grep -q "^    Cipher    : [A-Z]" "$WORK/hs.out" || grep -q "Cipher is [A-Z]" "$WORK/hs.out"
}
