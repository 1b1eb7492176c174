#!/usr/bin/env python3
"""Records what one TLS client sends, for fuzz-client-hello's seeds (make_corpus.sh).

    capture_client_hello.py OUT                      answer nothing: OUT gets the client's first
                                                     flight (its ClientHello, and early data if
                                                     it sends any), up to a 0.5 s pause
    capture_client_hello.py OUT --upstream HOST:PORT relay to a real server (openssl s_server) and
                                                     record everything the client sends, e.g. the
                                                     second ClientHello after a HelloRetryRequest

Prints the port it listens on (127.0.0.1), then serves one connection.
"""
import select
import socket
import sys
import time


def first_flight(conn):
    conn.settimeout(0.5)
    data = b""
    while len(data) < 65536:
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def relayed(conn, upstream):
    host, port = upstream.rsplit(":", 1)
    server = socket.create_connection((host, int(port)))
    data = b""
    deadline = time.time() + 3
    while time.time() < deadline:
        readable, _, _ = select.select([conn, server], [], [], 0.2)
        for sock in readable:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            if sock is conn:
                data += chunk
                server.sendall(chunk)
            else:
                conn.sendall(chunk)
    return data


def main():
    out = sys.argv[1]
    upstream = sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--upstream" else None
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(20)
    print(listener.getsockname()[1], flush=True)
    conn, _ = listener.accept()
    data = relayed(conn, upstream) if upstream else first_flight(conn)
    conn.close()
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
