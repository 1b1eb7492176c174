#!/usr/bin/env python3
"""Stands in for systemd's file descriptor store outside systemd (terminator_service.sh).

  fd_holder.py ADDRESS PORT COMMAND...
Binds one listening socket on ADDRESS:PORT and keeps it. For each line "start" on standard
input it starts COMMAND with that socket as fd 3 (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES, as
systemd passes a stored socket back) and prints "started PID"; for "kill" it SIGKILLs and reaps
that process and prints "killed T", T the CLOCK_MONOTONIC seconds just before the kill. Ends
(killing it) at end of input.
"""
import os
import signal
import socket
import sys
import time

address, port, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((address, port))
listener.listen(4096)
print("listening", flush=True)
child = 0
for line in sys.stdin:
    if line.strip() == "start":
        child = os.fork()
        if child == 0:
            os.dup2(listener.fileno(), 3)
            os.set_inheritable(3, True)  # dup2 to itself (listener is fd 3) changes no flag
            os.environ.update(LISTEN_FDS="1", LISTEN_PID=str(os.getpid()),
                              LISTEN_FDNAMES=f"tcp@{address}_{port}")
            os.execvp(command[0], command)
        print("started", child, flush=True)
    elif line.strip() == "kill" and child:
        killed_at = time.monotonic()
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        child = 0
        print(f"killed {killed_at:.3f}", flush=True)
if child:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
