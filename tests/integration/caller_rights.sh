#!/usr/bin/env bash
# Manager.GetCallerRights tells each caller what certd will let it do, from the same
# credentials and groups as certd's own checks: root holds every right, a member of
# admin_group may manage but not export keys, a member of key_export_group may export
# keys but not manage, anyone else may only read. Each answer is then checked against
# what certd really does with that caller's mutation and key export.
. "$(dirname "$0")/lib.sh"
start_bus
# The accounts every Debian system has: nobody (primary group nogroup), daemon (group
# daemon) and bin (group bin); the groups stand in for certd-admin and a key export group.
start_certd "admin_group: nogroup" "key_export_group: daemon"
as() { local user=$1; shift; setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups "$@"; }
rights() { as "$1" busctl --system call org.certd1 /org/certd1 org.certd1.Manager GetCallerRights; }

expect_rights() { # USER MANAGE EXPORT
  local out uid
  out=$(rights "$1") || fail "$1 cannot call GetCallerRights"
  uid=$(id -u "$1")
  [ "$out" = "a{sv} 3 \"ExportPrivateKey\" b $3 \"Manage\" b $2 \"UnixUser\" u $uid" ] \
    || fail "GetCallerRights for $1: $out (expected Manage $2, ExportPrivateKey $3, uid $uid)"
}
expect_rights root true true
expect_rights nobody true false
expect_rights daemon false true
expect_rights bin false false
pass "GetCallerRights: root all, admin group manages, export group exports keys, others read"

# The answers are what certd does: Manage decides CreateSelfSigned, ExportPrivateKey
# decides Export with the key.
# Each prints the reply or the error (gdbus names it); a refused call is not a failure here.
create() {
  as "$1" gdbus call --system --dest org.certd1 --object-path /org/certd1 \
    --method org.certd1.Manager.CreateSelfSigned "{'common_name': <'$1.example.com'>, 'key_type': <'ec-p256'>}" 2>&1 || true
}
export_key() {
  as "$1" gdbus call --system --dest org.certd1 --object-path "$cert" \
    --method org.certd1.Certificate.Export "{'include_private_key': <true>, 'passphrase': <'x'>}" 2>&1 || true
}
out=$(create nobody)
cert=$(echo "$out" | grep -o "/org/certd1/certificate/[0-9a-f]*") || fail "nobody (Manage true) could not create: $out"
for user in daemon bin; do
  create "$user" | grep -q org.certd1.Error.AccessDenied || fail "$user (Manage false) was allowed to create"
done
for user in root daemon; do
  export_key "$user" | grep -q "^(\[byte" || fail "$user (ExportPrivateKey true) could not export the key: $(export_key "$user")"
done
for user in nobody bin; do
  export_key "$user" | grep -q org.certd1.Error.AccessDenied || fail "$user (ExportPrivateKey false) exported a key"
done
pass "GetCallerRights agrees with what certd allows each caller"
