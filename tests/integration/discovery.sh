#!/usr/bin/env bash
# Address discovery through rtnetlink, in a network namespace of our own: an
# address added to an interface appears on the bus bound to the factory
# certificate; a removed one disappears; a configured one stays.
. "$(dirname "$0")/lib.sh"
NS=certd-disc-$$
ip netns add "$NS" || fail "cannot create a network namespace"
trap 'ip netns del "$NS" 2>/dev/null; cleanup' EXIT
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set lo up
ip -n "$NS" link set v0 up
ip -n "$NS" addr add 10.77.0.1/24 dev v0
start_bus
CERTD_REAL=$CERTD
# certd runs inside the namespace; the bus is a filesystem socket, reachable from there.
cat > "$WORK/certd-in-ns" <<SH
#!/bin/sh
exec ip netns exec $NS $CERTD_REAL "\$@"
SH
chmod +x "$WORK/certd-in-ns"
CERTD=$WORK/certd-in-ns
start_certd "discovery:" "  enabled: true" "  interfaces: [v0]"
factory=$(prop /org/certd1 org.certd1.Manager FactoryCertificate)
a=$(find_object address org.certd1.Address Address '"10.77.0.1"')
[ -n "$a" ] || fail "address present at start-up not discovered"
[ "$(prop "$a" org.certd1.Address Origin)" = '"discovered"' ] || fail "origin is not discovered"
[ "$(prop "$a" org.certd1.Address Certificate)" = "$factory" ] || fail "new address not on the factory certificate"
ip -n "$NS" addr add 10.77.0.2/24 dev v0
ip -n "$NS" addr add fd00:77::2/64 dev v0 nodad
wait_until 60 '[ -n "$(find_object address org.certd1.Address Address "\"fd00:77::2\"")" ]' || true # checked below
b=$(find_object address org.certd1.Address Address '"10.77.0.2"')
[ -n "$b" ] || fail "added IPv4 address did not appear"
[ -n "$(find_object address org.certd1.Address Address '"fd00:77::2"')" ] || fail "added IPv6 address did not appear"
[ -z "$(find_object address org.certd1.Address Address '"10.77.0.255"')" ] || fail "unexpected address"
ip -n "$NS" addr del 10.77.0.2/24 dev v0
wait_until 60 '[ -z "$(find_object address org.certd1.Address Address "\"10.77.0.2\"")" ]' || true # checked below
[ -z "$(find_object address org.certd1.Address Address '"10.77.0.2"')" ] || fail "removed address still on the bus"
[ -n "$(find_object address org.certd1.Address Address '"127.0.0.2"')" ] || fail "configured address vanished"
# An address on an interface that is not listed is ignored. certd reads address events in order:
# once an address added after it to a listed interface is on the bus, it has seen this one too.
ip -n "$NS" addr add 10.88.0.1/32 dev lo
ip -n "$NS" addr add 10.77.0.3/24 dev v0
wait_until 60 '[ -n "$(find_object address org.certd1.Address Address "\"10.77.0.3\"")" ]' \
  || fail "an address added to v0 after the one on lo did not appear"
[ -z "$(find_object address org.certd1.Address Address '"10.88.0.1"')" ] || fail "address on an unlisted interface appeared"
pass "discovery follows addresses live; new ones serve the factory certificate"
