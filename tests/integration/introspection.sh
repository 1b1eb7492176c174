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
for p in "${paths[@]}"; do
  busctl --system call org.certd1 "$p" org.freedesktop.DBus.Introspectable Introspect --json=short \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0])' > "$WORK/$(echo "$p" | tr / _).xml"
done
python3 - "$XML_DIR" "$WORK" <<'PY' || fail "introspection differs from dbus/*.xml"
import glob, os, sys, xml.etree.ElementTree as ET
xml_dir, work = sys.argv[1], sys.argv[2]

def shape(iface):
    out = set()
    for m in iface.findall("method"):
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in")) for a in m.findall("arg"))
        out.add(("method", m.get("name"), args))
    for p in iface.findall("property"):
        out.add(("property", p.get("name"), p.get("type"), p.get("access")))
    for s in iface.findall("signal"):
        out.add(("signal", s.get("name"), tuple((a.get("name"), a.get("type")) for a in s.findall("arg"))))
    return out

source = {}
for f in glob.glob(os.path.join(xml_dir, "org.certd1.*.xml")):
    for iface in ET.parse(f).getroot().findall("interface"):
        source[iface.get("name")] = shape(iface)
seen = set()
ok = True
for f in glob.glob(os.path.join(work, "_org_certd1*.xml")):
    for iface in ET.parse(f).getroot().findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.certd1."):
            continue
        seen.add(name)
        live = shape(iface)
        if live != source.get(name):
            ok = False
            print(f"{name}: only in XML: {sorted(source.get(name, set()) - live)}")
            print(f"{name}: only live:   {sorted(live - source.get(name, set()))}")
missing = set(source) - seen
if missing:
    ok = False
    print("interfaces never seen on the bus:", sorted(missing))
print("introspection matches dbus/*.xml for", sorted(seen))
sys.exit(0 if ok else 1)
PY
# ObjectManager on /org/certd1 lists every object.
n=$(busctl --system call org.certd1 /org/certd1 org.freedesktop.DBus.ObjectManager GetManagedObjects --json=short \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"][0]))')
[ "$n" -ge 5 ] || fail "GetManagedObjects lists $n objects"
pass "introspection matches the interface XML; ObjectManager lists $n objects"
