#!/usr/bin/env python3
"""An HTTPS proxy between certd and pebble that misbehaves on request (tests/integration/acme.sh).

    acme_proxy.py LISTEN_PORT UPSTREAM_PORT CERT KEY CONTROL_PORT

Forwards every request to https://127.0.0.1:UPSTREAM_PORT with the Host header the client sent,
so pebble's URLs point back at this proxy. A plain-HTTP control port on 127.0.0.1 sets one rule
at a time:

    GET /rule?prefix=/certZ/&action=hold[&after=N]
                                           requests whose path starts with prefix (but the
                                           first N of them, which pass untouched) ...
        hold       wait until /release (then forward, or drop when the release says so)
        drop       close the connection without an answer
        status500  answer 500 with an HTML body
        badjson    forward, then answer with the body cut in half (still application/json)
        badtype    forward, then answer with Content-Type text/html
        swapcert   forward, then replace a certificate chain with the PEM in /swap?file=
    GET /release?action=forward|drop       releases held requests
    GET /clear                             no rule
    GET /count?prefix=/order-plz           requests seen whose path starts with prefix

While pebble is down, requests end without an answer, as if the server were gone.
Prints "held METHOD PATH" (flushed) when it holds a request, for the test to wait on.
"""

import http.client
import http.server
import socketserver
import ssl
import sys
import threading
import urllib.parse

LISTEN, UPSTREAM, CERT, KEY, CONTROL = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])

lock = threading.Lock()
rule = {"prefix": None, "action": None, "after": 0}
seen = []
released = threading.Condition(lock)
release = {"generation": 0, "action": "forward"}
swap = {"pem": b""}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            seen.append(self.path)
            action = rule["action"] if rule["prefix"] and self.path.startswith(rule["prefix"]) else None
            if action and rule["after"] > 0:
                rule["after"] -= 1
                action = None
            if action == "hold":
                generation = release["generation"]
                print("held", self.command, self.path, flush=True)
                released.wait_for(lambda: release["generation"] != generation, timeout=300)
                action = "drop" if release["action"] == "drop" else None
        if action == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action == "status500":
            self.answer(500, {"Content-Type": "text/html"}, b"<html>internal error</html>")
            return
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        upstream = http.client.HTTPSConnection("127.0.0.1", UPSTREAM, context=context, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        try:
            upstream.request(self.command, self.path, body=body if self.command == "POST" else None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:
            # pebble is down: look like it, a connection that ends without an answer
            self.close_connection = True
            self.connection.shutdown(2)
            return
        out = {k: v for k, v in response.getheaders()
               if k.lower() not in ("connection", "content-length", "transfer-encoding")}
        if action == "badjson":
            data = data[: len(data) // 2]
        elif action == "badtype":
            out = {k: v for k, v in out.items() if k.lower() != "content-type"}
            out["Content-Type"] = "text/html"
        elif action == "swapcert" and swap["pem"]:
            data = swap["pem"]
        self.answer(response.status, out, data)

    def answer(self, status, headers, data):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = handle_any


class Control(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        text = "ok"
        with lock:
            if url.path == "/rule":
                rule["prefix"], rule["action"] = query["prefix"], query["action"]
                rule["after"] = int(query.get("after", "0"))
            elif url.path == "/clear":
                rule["prefix"] = rule["action"] = None
                rule["after"] = 0
            elif url.path == "/release":
                release["generation"] += 1
                release["action"] = query.get("action", "forward")
                released.notify_all()
            elif url.path == "/swap":
                with open(query["file"], "rb") as f:
                    swap["pem"] = f.read()
            elif url.path == "/count":
                text = str(sum(1 for p in seen if p.startswith(query["prefix"])))
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


proxy = Server(("127.0.0.1", LISTEN), Proxy)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(CERT, KEY)
proxy.socket = context.wrap_socket(proxy.socket, server_side=True)
control = Server(("127.0.0.1", CONTROL), Control)
threading.Thread(target=control.serve_forever, daemon=True).start()
print("listening", LISTEN, flush=True)
proxy.serve_forever()
