#!/usr/bin/env python3
"""Ordinary TLS clients on an address, while an ACME order runs (tests/integration/acme.sh).

    acme_probe.py ADDRESS PORT STOPFILE

Handshakes one after another (alternately with ALPN http/1.1 and with none) until STOPFILE
exists, at most 20,000 or 300 s. Checks each leaf for the acmeIdentifier extension (RFC 8737):
an ordinary client must never get a challenge certificate. Prints "handshake" after the first,
then on exit: the distinct leaves in the order they were first served (SHA-256 prefixes), and
"handshakes=N failures=F challenge-certificates=C". Exits 1 if F or C is not 0.
"""
import hashlib
import os
import socket
import ssl
import sys
import time

address, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ACME_IDENTIFIER = bytes.fromhex("06082b060105050701") + b"\x1f"
handshakes = failures = challenge = 0
sequence = []
deadline = time.monotonic() + 300
while not os.path.exists(stop) and handshakes + failures < 20000 and time.monotonic() < deadline:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if handshakes % 2:
        context.set_alpn_protocols(["http/1.1"])
    try:
        with socket.create_connection((address, port), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as e:
        failures += 1
        print("failure", type(e).__name__, e, flush=True)
        continue
    handshakes += 1
    if handshakes == 1:
        print("handshake", flush=True)
    if ACME_IDENTIFIER in der:
        challenge += 1
    leaf = hashlib.sha256(der).hexdigest()[:16]
    if not sequence or sequence[-1] != leaf:
        sequence.append(leaf)
print("sequence=" + ",".join(sequence))
print(f"handshakes={handshakes} failures={failures} challenge-certificates={challenge}", flush=True)
sys.exit(1 if failures or challenge else 0)
