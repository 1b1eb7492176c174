#!/usr/bin/env bash
# The shipped bus policy (dbus/org.certd1.conf) agrees with certd's own rules:
# on a system bus that enforces it, root owns org.certd1 and may call anything;
# any local user may read (properties, GetManagedObjects, GetStatus, GetCallerRights, Check,
# certificate Export, introspection) but the bus itself refuses their mutations.
. "$(dirname "$0")/lib.sh"
POLICY=$(cd "$(dirname "$0")/../../dbus" && pwd)/org.certd1.conf
start_bus "$(cat <<CONF
  <!-- The defaults of Debian's system.conf: calls denied unless a rule allows them. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$POLICY</include>
CONF
)"
start_certd
cert=$(busctl --system call org.certd1 /org/certd1 org.certd1.Manager CreateSelfSigned 'a{sv}' 2 \
  key_type s ec-p256 common_name s root.example.com | cut -d'"' -f2)
[[ "$cert" == /org/certd1/certificate/* ]] || fail "root could not create a certificate under the policy"
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
nobody busctl --system get-property org.certd1 /org/certd1 org.certd1.Manager Version >/dev/null || fail "nobody cannot read a property"
nobody busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects >/dev/null \
  || fail "nobody cannot list objects"
nobody busctl --system call org.certd1 /org/certd1 org.certd1.Manager GetStatus >/dev/null || fail "nobody cannot GetStatus"
nobody busctl --system call org.certd1 /org/certd1 org.certd1.Manager GetCallerRights | grep -q '"Manage" b false' \
  || fail "nobody cannot learn its rights (GetCallerRights)"
nobody busctl --system call org.certd1 "$cert" org.certd1.Certificate Check as 1 root.example.com >/dev/null \
  || fail "nobody cannot Check"
nobody busctl --system call org.certd1 "$cert" org.certd1.Certificate Export 'a{sv}' 0 >/dev/null \
  || fail "nobody cannot export a certificate"
nobody busctl --system introspect org.certd1 "$cert" >/dev/null || fail "nobody cannot introspect"
denied() {
  nobody gdbus call --system --dest org.certd1 --object-path "$1" --method "$2" "${@:3}" \
    > "$WORK/denied.out" 2>&1 || true
  grep -q "org.freedesktop.DBus.Error.AccessDenied" "$WORK/denied.out" || fail "the bus let nobody call $2: $(cat "$WORK/denied.out")"
}
denied /org/certd1 org.certd1.Manager.CreateSelfSigned "{'common_name': <'x.example.com'>, 'key_type': <'ec-p256'>}"
denied /org/certd1 org.certd1.Manager.Import "[byte 1]" "''" "{}"
denied /org/certd1 org.certd1.Manager.Assign 127.0.0.2 "$cert" "{}"
denied "$cert" org.certd1.Certificate.Delete
denied "$cert" org.certd1.Certificate.SetFriendlyName "'x'"
pass "bus policy: reads open to every user, mutations refused by the bus for non-admins"
