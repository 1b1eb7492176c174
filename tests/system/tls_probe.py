#!/usr/bin/env python3
"""TLS clients for the system test (runs inside the container, against certd-tls).

  tls_probe.py loop HOST PORT STOPFILE MAXSECONDS
      New TLS connections (full handshake, then close), one after another, until STOPFILE
      exists (at most MAXSECONDS, at most 100,000 connections). Prints "first" after the first
      handshake, then "connections N refused R failed F longest_ms L": R counts connection
      attempts refused (ECONNREFUSED), F every other failure, L the longest connect+handshake.
  tls_probe.py hold HOST PORT GOFIFO
      One connection: an HTTP GET now ("first ok"), another once a line arrives on the FIFO
      GOFIFO ("second ok" if the same connection still carries it, else "second failed: why").
"""
import http.client
import os
import socket
import ssl
import sys
import time

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def handshake(host, port):
    raw = socket.create_connection((host, port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="probe.test")


def loop(host, port, stopfile, maxseconds):
    end = time.monotonic() + maxseconds
    connections = refused = failed = 0
    longest = 0.0
    while connections < 100_000 and time.monotonic() < end and not os.path.exists(stopfile):
        start = time.monotonic()
        try:
            handshake(host, port).close()
            longest = max(longest, time.monotonic() - start)
            if connections == 0:
                print("first", flush=True)
            connections += 1
        except ConnectionRefusedError:
            refused += 1
        except (OSError, ssl.SSLError) as e:
            failed += 1
            print(f"failure {start:.3f} {time.monotonic():.3f}:", e, flush=True)
    print(f"connections {connections} refused {refused} failed {failed} longest_ms {longest * 1000:.0f}",
          flush=True)


def get(conn):
    conn.request("GET", "/tls_probe.py")
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise OSError(f"HTTP status {response.status}")


def hold(host, port, gofifo):
    conn = http.client.HTTPSConnection(host, port, context=ctx, timeout=30)
    get(conn)
    sock = conn.sock
    print("first ok", flush=True)
    with open(gofifo) as go:  # blocks until the test writes its go-ahead
        go.readline()
    try:
        get(conn)
        if conn.sock is not sock:
            raise OSError("the client had to reconnect")
        print("second ok", flush=True)
    except (OSError, ssl.SSLError) as e:
        print("second failed:", e, flush=True)


if sys.argv[1] == "loop":
    loop(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
else:
    hold(sys.argv[2], int(sys.argv[3]), sys.argv[4])
