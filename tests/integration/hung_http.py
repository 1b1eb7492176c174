#!/usr/bin/env python3
"""A loopback HTTP server that accepts connections and never answers (issue 12's tests).

Prints "port N" once listening, then "accept K open M" for every connection it takes and
holds. SIGUSR1 closes every held connection and makes it close each later one at once
("release" in the log), so the downloads waiting on it fail fast. SIGUSR2 closes the held
connections only ("drop"): later ones are held again.
"""
import signal
import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
held = []
released = False
accepted = 0


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def release(signum, frame):
    global released
    released = True
    for conn in held:
        conn.close()
    held.clear()
    say("release")


def drop(signum, frame):
    for conn in held:
        conn.close()
    held.clear()
    say("drop")


signal.signal(signal.SIGUSR1, release)
signal.signal(signal.SIGUSR2, drop)
say("port %d" % server.getsockname()[1])
while True:
    conn, _ = server.accept()
    accepted += 1
    if released:
        say("accept %d closed" % accepted)
        conn.close()
    else:
        held.append(conn)
        say("accept %d open %d" % (accepted, len(held)))
