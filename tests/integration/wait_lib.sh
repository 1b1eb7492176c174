# Sourced by lib.sh and tls_lib.sh: the one way the shell integration tests wait for something.
#
# wait_until SECONDS CONDITION: evaluates CONDITION (shell code: single-quote it, so that it is
# evaluated afresh on each try) until it succeeds, and returns 1 if SECONDS pass first. A test
# waits for an event this way (a socket, a line in a log, a property), never for a fixed time.
# SECONDS is a generous upper bound: it only decides how long a broken run takes to fail, not
# whether a correct one passes, so it must hold on a loaded machine and under a sanitizer.
# CONDITION sees the caller's variables (but not its positional parameters: copy $1 to a local).
wait_until() {
  local wait_until_end wait_until_now
  wait_until_now=${EPOCHREALTIME//[!0-9]/}
  wait_until_end=$((wait_until_now + $1 * 1000000))
  until eval "$2"; do
    wait_until_now=${EPOCHREALTIME//[!0-9]/}
    [ "$wait_until_now" -lt "$wait_until_end" ] || return 1
    sleep 0.05 # the polling interval of the condition above, not a wait for an event
  done
}

# wait_port HOST PORT: until something accepts connections there (at most 60 s; the caller's
# fail() otherwise).
wait_port() {
  wait_until 60 "python3 -c \"import socket; socket.create_connection(('$1', $2), 5)\" 2>/dev/null" \
    || fail "nothing listens on $1:$2"
}

# sanitized BINARY: whether BINARY is an AddressSanitizer build. grep reads all that ldd prints:
# with pipefail, `ldd | grep -q` could end early at the match, ldd's next line then kills it
# with SIGPIPE, and the pipeline says "no" (key_custody scanned an ASan certd that way).
sanitized() { ldd "$1" 2>/dev/null | grep libasan >/dev/null; }
