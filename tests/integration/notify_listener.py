#!/usr/bin/env python3
"""A NOTIFY_SOCKET listener, as systemd would be (notify.sh, reload.sh).

  notify_listener.py SOCKET LOG SECONDS
Binds the datagram socket SOCKET and writes each message to LOG as one line, "MONOTONIC
message" with newlines shown as " | ", until STOPPING=1 arrives or SECONDS pass.
"""
import socket
import sys
import time

s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.monotonic() + float(sys.argv[3])
with open(sys.argv[2], "w") as log:
    while time.monotonic() < end:
        try:
            msg = s.recv(4096).decode()
        except socket.timeout:
            continue
        log.write("%.6f %s\n" % (time.monotonic(), msg.replace("\n", " | ")))
        log.flush()
        if "STOPPING=1" in msg:
            break
