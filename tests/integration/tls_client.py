#!/usr/bin/env python3
"""Load for the swap test: GET /hello.txt over TLS until STOPFILE exists (at most MAX requests).

  tls_client.py keepalive|new HOST PORT CAFILE STOPFILE MAX
keepalive: one connection for every request; a reconnect counts as a failure of the test.
new: a new TLS connection (full handshake) per request.
Prints "first request done" once its first request has finished (the test starts swapping only
then), and at the end "requests N failures F reconnects R certs K" (K distinct leaf certificates seen).
"""
import hashlib
import http.client
import os
import ssl
import sys

mode, host, port, cafile, stopfile, limit = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
requests = failures = reconnects = 0
certs = set()
conn = None
sock = None
expected = open(os.path.join(os.path.dirname(stopfile), "www", "hello.txt"), "rb").read()
while requests < int(limit) and not os.path.exists(stopfile):
    try:
        if conn is None or mode == "new":
            if conn is not None:
                conn.close()
            conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)
            conn.connect()
            sock = conn.sock
            certs.add(hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest())
        conn.request("GET", "/hello.txt")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or body != expected:
            failures += 1
        if mode == "keepalive" and conn.sock is not sock:
            reconnects += 1
    except Exception as e:  # noqa: BLE001 - every failure counts, the text helps debugging
        failures += 1
        print("error:", repr(e), file=sys.stderr)
        conn = None
        if mode == "keepalive":
            reconnects += 1
    requests += 1
    if requests == 1:
        print("first request done", flush=True)
print("requests %d failures %d reconnects %d certs %d" % (requests, failures, reconnects, len(certs)))
