#!/usr/bin/env bash
# The running certd's introspection matches the interface XML in dbus/ exactly
# (methods with argument names, types and directions; properties with type and
# access; signals), for one object of every kind.
. "$(dirname "$0")/lib.sh"
XML_DIR=$(cd "$(dirname "$0")/../../dbus" && pwd)
start_bus
start_certd
# One object of each kind: a request gives a key too.
busctl --system call org.certd1 /org/certd1 org.certd1.Manager CreateRequest 'a{sv}' 2 \
  key_type s ec-p256 common_name s x.example.com >/dev/null
# An ACME order whose server is not there: it fails, its object stays.
busctl --system call org.certd1 /org/certd1 org.certd1.Manager CreateAcmeOrder 'a{sv}' 2 \
  directory_url s https://127.0.0.1:1/dir identifiers as 1 127.0.0.2 >/dev/null
paths=(/org/certd1
       "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/acme_order/')"
       "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/certificate/')"
       "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/key/')"
       "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/request/')"
       "$(busctl --system tree org.certd1 --list | grep -m1 '^/org/certd1/address/')")
# org.certd1.AcmeAccount needs an account a real ACME server registered: acme.sh checks it.
python3 "$(dirname "$0")/introspect_compare.py" "$XML_DIR" "${paths[@]}" --elsewhere org.certd1.AcmeAccount ||
  fail "introspection differs from dbus/*.xml"
# ObjectManager on /org/certd1 lists every object.
n=$(busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects --json=short \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"][0]))')
[ "$n" -ge 5 ] || fail "GetManagedObjects lists $n objects"
pass "introspection matches the interface XML; ObjectManager lists $n objects"
