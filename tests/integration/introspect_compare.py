#!/usr/bin/env python3
"""Compares the introspection of live certd objects with the interface XML in dbus/.

introspect_compare.py XML_DIR PATH... [--elsewhere IFACE]... [--only]

Introspects each object PATH on the system bus (busctl) and compares every org.certd1.*
interface it has with the XML's (methods with argument names, types and directions;
properties with type and access; signals). Every interface of the XML must be seen on some
PATH, except the --elsewhere ones (another test checks those), or with --only none but those
of the PATHs. Exit 1 on any difference.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET


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


def introspect(path):
    reply = subprocess.run(["busctl", "--system", "call", "org.certd1", path,
                            "org.freedesktop.DBus.Introspectable", "Introspect", "--json=short"],
                           check=True, capture_output=True, text=True).stdout
    return ET.fromstring(json.loads(reply)["data"][0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("xml_dir")
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--elsewhere", action="append", default=[])
    parser.add_argument("--only", action="store_true")
    args = parser.parse_args()
    xml_dir, paths = args.xml_dir, args.paths
    source = {}
    for f in glob.glob(os.path.join(xml_dir, "org.certd1.*.xml")):
        for iface in ET.parse(f).getroot().findall("interface"):
            source[iface.get("name")] = shape(iface)
    seen = set()
    ok = True
    for path in paths:
        for iface in introspect(path).findall("interface"):
            name = iface.get("name")
            if not name.startswith("org.certd1."):
                continue
            seen.add(name)
            live = shape(iface)
            if live != source.get(name):
                ok = False
                print(f"{name} ({path}): only in XML: {sorted(source.get(name, set()) - live)}")
                print(f"{name} ({path}): only live:   {sorted(live - source.get(name, set()))}")
    missing = set() if args.only else set(source) - seen - set(args.elsewhere)
    if missing:
        ok = False
        print("interfaces never seen on the bus:", sorted(missing))
    print("introspection matches dbus/*.xml for", sorted(seen))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
