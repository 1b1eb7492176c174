#!/usr/bin/env python3
"""Backends for the terminator's integration tests (loopback only).

  tls_backend.py http PORT DIR     HTTP/1.1 file server (keep-alive) on 127.0.0.1:PORT
  tls_backend.py echo ADDR         ADDR is PORT (127.0.0.1) or unix:PATH. Per connection: if it
                                   starts with a PROXY v2 header, first sends one line
                                   "PROXY src=IP:PORT dst=IP:PORT alpn=X authority=Y"; then echoes
                                   every byte until the client half-closes, then sends
                                   "BYE <bytes echoed>\\n" and closes.
"""
import http.server
import socket
import socketserver
import struct
import sys
import threading

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def parse_proxy(conn):
    head = recv_exact(conn, 16)
    if head[:12] != SIG:
        return None, head
    fam = head[13]
    length = struct.unpack("!H", head[14:16])[0]
    body = recv_exact(conn, length)
    fields = {}
    if fam == 0x11:
        src = socket.inet_ntop(socket.AF_INET, body[0:4])
        dst = socket.inet_ntop(socket.AF_INET, body[4:8])
        sport, dport = struct.unpack("!HH", body[8:12])
        rest = body[12:]
    elif fam == 0x21:
        src = socket.inet_ntop(socket.AF_INET6, body[0:16])
        dst = socket.inet_ntop(socket.AF_INET6, body[16:32])
        sport, dport = struct.unpack("!HH", body[32:36])
        rest = body[36:]
    else:
        return "PROXY local", b""
    while len(rest) >= 3:
        t, l = rest[0], struct.unpack("!H", rest[1:3])[0]
        fields[t] = rest[3:3 + l].decode()
        rest = rest[3 + l:]
    line = "PROXY src=%s:%d dst=%s:%d alpn=%s authority=%s" % (
        src, sport, dst, dport, fields.get(1, "-"), fields.get(2, "-"))
    return line, b""


def echo(conn):
    try:
        line, pending = parse_proxy(conn)
        if line:
            conn.sendall(line.encode() + b"\n")
        total = 0
        if pending:
            conn.sendall(pending)
            total += len(pending)
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
            total += len(data)
        conn.sendall(b"BYE %d\n" % total)
    except (EOFError, OSError):
        pass
    finally:
        conn.close()


def serve_echo(addr):
    if addr.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(addr[5:])
    else:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(addr)))
    s.listen(128)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body

    def log_message(self, *args):
        pass


def serve_http(port, directory):
    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    handler = lambda *a, **k: Handler(*a, directory=directory, **k)
    Server(("127.0.0.1", port), handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "http":
        serve_http(int(sys.argv[2]), sys.argv[3])
    else:
        serve_echo(sys.argv[2])
