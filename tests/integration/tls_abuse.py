#!/usr/bin/env python3
"""Hostile and broken clients for tls_abuse.sh (loopback only; every wait is bounded).

  tls_abuse.py garbage HOST PORT N          N connections, half plain-text HTTP, half random
                                            bytes; prints "garbage sent N closed C open O"
  tls_abuse.py silent HOST PORT             connects, sends nothing; prints "connected", then
                                            "closed after S"
  tls_abuse.py slowloris HOST PORT DELAY    a real ClientHello, one byte every DELAY s;
                                            prints "closed after S bytes B"
  tls_abuse.py oversized HOST PORT MODE     MODE: record (a 100 KB record), message (a 16 MB
                                            ClientHello in 16 KB records) or padded (a well-formed
                                            ClientHello padded to about 60 KB, then silence);
                                            prints "oversized MODE answer A closed after S sent B"
  tls_abuse.py fragmented HOST PORT CAFILE MODE
                                            MODE: records (the ClientHello in 1-byte records) or
                                            segments (its bytes in many TCP segments); prints
                                            "fragmented MODE completed|rejected DETAIL"
  tls_abuse.py halfopen HOST PORT N M STOPFILE
                                            N connections that send nothing and M that send half
                                            a ClientHello, held until STOPFILE exists (at most
                                            120 s); prints "opened N M" when all are open, and at
                                            the end "reaped K of T" (K closed by the server)
  tls_abuse.py handshake HOST PORT CAFILE   one verified handshake; prints the leaf's SHA-256
  tls_abuse.py idle HOST PORT CAFILE        handshakes, then sends nothing; prints
                                            "closed after S"
"""
import hashlib
import os
import random
import resource
import select
import socket
import ssl
import struct
import sys
import threading
import time

LIMIT = 10.0  # no single wait for the server is longer than this


def connect(host, port):
    s = socket.create_connection((host, int(port)), timeout=LIMIT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client_hello(server_name="a.test"):
    """The first flight of a real TLS client (python's ssl module), as bytes on the wire."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def wait_closed(s, limit=LIMIT):
    """Seconds until the server closes s (EOF or reset), reading whatever it sends; None if not."""
    start = time.monotonic()
    s.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if not s.recv(65536):
                return time.monotonic() - start
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def garbage(host, port, n):
    n = int(n)
    closed = 0
    lock = threading.Lock()
    rnd = random.Random(6)
    payloads = []
    for i in range(n):
        if i % 2 == 0:
            payloads.append(b"GET / HTTP/1.1\r\nHost: %s\r\nUser-Agent: abuse\r\n\r\n" % host.encode())
        else:
            payloads.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 4096))))
    queue = list(range(n))

    def work():
        nonlocal closed
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            try:
                s = connect(host, port)
                try:
                    s.sendall(payloads[i])
                except OSError:
                    pass  # closed while we were still sending: closed all the same
                ok = wait_closed(s) is not None
                s.close()
            except OSError:
                ok = False
            with lock:
                closed += ok

    threads = [threading.Thread(target=work) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("garbage sent %d closed %d open %d" % (n, closed, n - closed))


def silent(host, port):
    s = connect(host, port)
    print("connected", flush=True)
    t = wait_closed(s, 3 * LIMIT)
    print("closed after %s" % ("never" if t is None else "%.3f" % t))


def slowloris(host, port, delay):
    hello = client_hello()
    s = connect(host, port)
    start = time.monotonic()
    sent = 0
    closed = None
    s.setblocking(False)
    for b in hello:
        try:
            s.send(bytes([b]))
            sent += 1
        except OSError:
            closed = time.monotonic() - start
            break
        # Stop as soon as the server hangs up, not only at the next send.
        r, _, _ = select.select([s], [], [], float(delay))
        if r:
            try:
                if not s.recv(65536):
                    closed = time.monotonic() - start
                    break
            except OSError:
                closed = time.monotonic() - start
                break
        if time.monotonic() - start > 3 * LIMIT:
            break
    print("closed after %s bytes %d of %d" % ("never" if closed is None else "%.3f" % closed, sent, len(hello)))


def records(payload, size, version=b"\x03\x01"):
    """Handshake bytes cut into TLS records of at most size bytes."""
    return b"".join(b"\x16" + version + struct.pack(">H", len(payload[i:i + size])) + payload[i:i + size]
                    for i in range(0, len(payload), size))


def padded_hello(total):
    """python's ClientHello with an extension of a GREASE type (RFC 8701: servers ignore it) that
    brings it to about total bytes. Not padding (21): python's hello may carry one already."""
    hello = client_hello()
    body = hello[5 + 4:]  # record header, handshake header
    p = 2 + 32
    p += 1 + body[p]  # session id
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]  # cipher suites
    p += 1 + body[p]  # compression methods
    ext_len = struct.unpack(">H", body[p:p + 2])[0]
    extensions = body[p + 2:p + 2 + ext_len]
    pad = min(total, 65535 - ext_len - 4)
    # First: pre_shared_key, when present, must stay last.
    extensions = struct.pack(">HH", 0x7A7A, pad) + bytes(pad) + extensions
    body = body[:p] + struct.pack(">H", len(extensions)) + extensions
    return b"\x01" + struct.pack(">I", len(body))[1:] + body


def oversized(host, port, mode):
    if mode == "record":  # one record far beyond the 16 KB (+ expansion) a record may carry
        data = b"\x16\x03\x01\xff\xff" + os.urandom(100 * 1024)
    elif mode == "message":  # a ClientHello that claims, and sends, 16 MB
        size = 16 * 1024 * 1024
        data = records(b"\x01" + struct.pack(">I", size)[1:] + bytes(size), 16384)
    else:
        data = records(padded_hello(60000), 16384)
    s = connect(host, port)
    start = time.monotonic()
    sent = 0
    answer = "none"
    s.settimeout(0.5)
    # Send until done or the server hangs up, noting the first byte it answers with.
    while sent < len(data) and time.monotonic() - start < 3 * LIMIT:
        try:
            sent += s.send(data[sent:sent + 65536])
        except socket.timeout:
            pass
        except OSError:
            break
        r, _, _ = select.select([s], [], [], 0)
        if r:
            break
    closed = None
    s.settimeout(0.2)
    while time.monotonic() - start < 3 * LIMIT:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = time.monotonic() - start
            break
        if not chunk:
            closed = time.monotonic() - start
            break
        if answer == "none":
            answer = {0x15: "alert", 0x16: "handshake"}.get(chunk[0], "other")
            if answer == "alert" and len(chunk) >= 7:
                answer += "-%d" % chunk[6]  # its description (RFC 8446 6.2)
    print("oversized %s answer %s closed after %s sent %d" %
          (mode, answer, "never" if closed is None else "%.3f" % closed, sent))


def fragmented(host, port, cafile, mode):
    ctx = ssl.create_default_context(cafile=cafile)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="a.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    s = connect(host, port)
    if mode == "records":
        assert hello[0] == 0x16
        s.sendall(records(hello[5:], 1, hello[1:3]))
    else:
        for i in range(0, len(hello), 7):
            s.send(hello[i:i + 7])
            if i % 70 == 0:
                time.sleep(0.002)
    start = time.monotonic()
    s.settimeout(LIMIT)
    try:
        while time.monotonic() - start < LIMIT:
            data = s.recv(65536)
            if not data:
                print("fragmented %s rejected closed-by-server" % mode)
                return
            incoming.write(data)
            try:
                obj.do_handshake()
                out = outgoing.read()
                if out:
                    s.sendall(out)
                fp = hashlib.sha256(obj.getpeercert(binary_form=True)).hexdigest()
                print("fragmented %s completed %s %s" % (mode, obj.version(), fp))
                return
            except ssl.SSLWantReadError:
                out = outgoing.read()
                if out:
                    s.sendall(out)
    except ssl.SSLError as e:
        print("fragmented %s rejected %s" % (mode, e.reason))
        return
    except OSError as e:
        print("fragmented %s rejected %s" % (mode, e.__class__.__name__))
        return
    print("fragmented %s rejected no-answer" % mode)


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def halfopen(host, port, n, m, stopfile):
    n, m = int(n), int(m)
    limit = raise_fd_limit(n + m + 64)
    if limit < n + m + 64:
        scale = (limit - 64) / (n + m)
        n, m = int(n * scale), int(m * scale)
    half = client_hello()
    half = half[:len(half) // 2]
    socks = []
    failed = 0
    start = time.monotonic()
    for i in range(n + m):
        if time.monotonic() - start > 60:
            break
        try:
            s = socket.create_connection((host, int(port)), timeout=LIMIT)
            if i >= n:
                s.sendall(half)
            socks.append(s)
        except OSError:
            failed += 1
    print("opened %d %d failed %d in %.3f" % (min(n, len(socks)), max(0, len(socks) - n), failed,
                                             time.monotonic() - start), flush=True)
    while not os.path.exists(stopfile) and time.monotonic() - start < 120:
        time.sleep(0.05)
    # The server's close shows as readable with EOF (or a reset).
    reaped = 0
    for s in socks:
        s.setblocking(False)
        try:
            reaped += s.recv(65536) == b""
        except BlockingIOError:
            pass
        except OSError:
            reaped += 1
        s.close()
    print("reaped %d of %d" % (reaped, len(socks)), flush=True)


def handshake(host, port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, int(port)), timeout=LIMIT) as s:
        with ctx.wrap_socket(s, server_hostname="a.test") as t:
            print(hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest())


def idle(host, port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, int(port)), timeout=LIMIT) as s:
        t = ctx.wrap_socket(s, server_hostname="a.test")
        start = time.monotonic()
        t.settimeout(0.2)
        closed = None
        while time.monotonic() - start < 3 * LIMIT:
            try:
                if not t.recv(65536):
                    closed = time.monotonic() - start
                    break
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except (ssl.SSLError, OSError):
                closed = time.monotonic() - start
                break
        print("closed after %s" % ("never" if closed is None else "%.3f" % closed))


if __name__ == "__main__":
    {"garbage": garbage, "silent": silent, "slowloris": slowloris, "oversized": oversized,
     "fragmented": fragmented, "halfopen": halfopen, "handshake": handshake, "idle": idle}[sys.argv[1]](*sys.argv[2:])
