# Shared by the terminator benches (idle-memory.sh, idle-load.sh). Source it; it uses set -eu.

# bench_workdir NAME TIMEOUT: a temporary directory ($WORK, made the current one), every pid
# added to PIDS killed on exit, and the whole script ended after TIMEOUT seconds.
bench_workdir() {
  local name=$1 timeout=$2
  WORK=$(mktemp -d "/tmp/$name.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  ( sleep "$timeout" & s=$!; trap 'kill $s 2>/dev/null; exit 0' TERM; wait $s
    echo "$name: timeout after ${timeout}s" >&2; kill -TERM $$ 2>/dev/null ) &
  PIDS+=($!)
  cd "$WORK"
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}

# bench_server_cert KEY_TYPE (rsa2048 | ecdsap256): key.pem, cert.pem (self-signed, CN
# bench.test) and both.pem (cert then key) in the current directory.
bench_server_cert() {
  case $1 in
    rsa2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out key.pem 2>/dev/null ;;
    ecdsap256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null ;;
    *) echo "bench: KEY_TYPE must be rsa2048 or ecdsap256" >&2; exit 1 ;;
  esac
  openssl req -x509 -new -key key.pem -subj "/CN=bench.test" -days 2 -out cert.pem 2>/dev/null
  cat cert.pem key.pem > both.pem
}

# bench_haproxy_cfg PORT BACKEND_PORT MAXCONN TIMEOUT_S: haproxy.cfg in the current directory,
# HAProxy as the peer terminator: one thread, mode tcp, TLS on bind with both.pem, one backend.
bench_haproxy_cfg() {
  cat > haproxy.cfg <<CFG
global
  nbthread 1
  maxconn $3
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode tcp
  timeout connect 5s
  timeout client ${4}s
  timeout server ${4}s
frontend fe
  bind 127.0.0.1:$1 ssl crt $WORK/both.pem
  default_backend be
backend be
  server s1 127.0.0.1:$2
CFG
}
