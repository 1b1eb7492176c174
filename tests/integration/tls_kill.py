#!/usr/bin/env python3
"""SIGKILLs certd's terminator in bursts while clients keep going; for tls_kill.sh.

  tls_kill.py CERTD_PID PORT FINGERPRINT CERT_A CERT_B BURSTS PER_BURST

Three loops at once (loopback only; every wait bounded):
  handshakes  TLS handshakes to 127.0.0.2:PORT, which must serve FINGERPRINT (SHA-256 hex of
              the leaf) whenever it serves at all; failures are kept with their times.
  bus         busctl calls to certd in turn: get-property TerminatorState, GetManagedObjects,
              Assign 127.0.0.3 to CERT_A / CERT_B (object paths); each latency is kept.
  kills       BURSTS bursts of PER_BURST kills: kill certd-tls, note when a new certd-tls (new
              pid) runs and when 127.0.0.2 serves FINGERPRINT again, then kill that one at once.
              Between bursts the terminator is left alone for longer than the supervisor's
              stable period (10 s), so that its restart backoff starts again from the minimum.
Prints "figure: ..." lines and "result NAME VALUE" lines for the script's assertions.
"""
import hashlib
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

STABLE_S = 10.5  # the supervisor's stableAfter (10 s), and a margin
LIMIT_S = 60.0   # longest wait for a restart, for serving again, or for the loops (a bound, not a pace)

certd_pid, port, fingerprint, cert_a, cert_b = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
bursts, per_burst = int(sys.argv[6]), int(sys.argv[7])
stop = threading.Event()
under_way = {"handshakes": threading.Event(), "bus": threading.Event()}  # each loop's first call is done


def terminators():
    """Pids of certd's certd-tls children that run (not zombies waiting to be reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if comm == "certd-tls" and int(ppid) == certd_pid and state != "Z":
            found.append(int(entry))
    return found


ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def served(timeout=30.0):
    """SHA-256 of the leaf 127.0.0.2 serves; raises on failure."""
    with socket.create_connection(("127.0.0.2", port), timeout=timeout) as s:
        with ctx.wrap_socket(s) as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


handshakes = {"ok": 0, "failed": 0, "wrong": 0, "failures": []}


def handshake_loop():
    end = time.monotonic() + 240
    while not stop.is_set() and time.monotonic() < end and handshakes["ok"] + handshakes["failed"] < 100000:
        start = time.monotonic()
        try:
            fp = served()
            if fp == fingerprint:
                handshakes["ok"] += 1
            else:
                handshakes["wrong"] += 1
        except (OSError, ssl.SSLError) as e:
            handshakes["failed"] += 1
            handshakes["failures"].append((start, time.monotonic(), repr(e)))
        under_way["handshakes"].set()
        time.sleep(0.01)


bus = {"calls": 0, "errors": [], "latencies": [], "states": {}}


def bus_loop():
    calls = [
        ["get-property", "org.certd1", "/org/certd1", "org.certd1.Manager", "TerminatorState"],
        ["call", "org.certd1", "/org/certd1", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"],
        ["call", "org.certd1", "/org/certd1", "org.certd1.Manager", "Assign", "soa{sv}", "127.0.0.3", None, "0"],
    ]
    end = time.monotonic() + 240
    i = 0
    while not stop.is_set() and time.monotonic() < end and bus["calls"] < 20000:
        args = list(calls[i % 3])
        if args[-2] is None:
            args[-2] = cert_a if (i // 3) % 2 == 0 else cert_b
        start = time.monotonic()
        try:
            r = subprocess.run(["busctl", "--system", "--timeout=10"] + args, capture_output=True, text=True,
                               timeout=30)
            ok, out = r.returncode == 0, r.stdout if r.returncode == 0 else r.stderr
        except subprocess.TimeoutExpired:
            ok, out = False, "busctl did not return in 30 s"
        bus["latencies"].append(time.monotonic() - start)
        bus["calls"] += 1
        if not ok:
            bus["errors"].append("%s: %s" % (args[4] if len(args) > 4 else args[0], out.strip()))
        elif i % 3 == 0:
            state = out.split()[-1].strip('"')
            bus["states"][state] = bus["states"].get(state, 0) + 1
        i += 1
        under_way["bus"].set()
        time.sleep(0.02)


def wait_for(predicate, limit=LIMIT_S, step=0.01):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        v = predicate()
        if v:
            return v
        time.sleep(step)
    return None


def serves_again():
    try:
        return served(timeout=2.0) == fingerprint
    except (OSError, ssl.SSLError):
        return False


threads = [threading.Thread(target=handshake_loop), threading.Thread(target=bus_loop)]
for t in threads:
    t.start()
kills = []  # (burst, index, t_kill, restart delay, serving-again delay)
failure = None
# Both loops under way (python threads and busctl start slowly on a busy machine) before the first kill.
if not all(e.wait(LIMIT_S) for e in under_way.values()):
    failure = "the client loops did not make a first call within %.0f s" % LIMIT_S
pid = wait_for(lambda: terminators())
if failure:
    pass
elif not pid or len(pid) != 1:
    failure = "no single certd-tls child of certd %d: %s" % (certd_pid, pid)
else:
    pid = pid[0]
for burst in range(bursts):
    if failure:
        break
    for k in range(per_burst):
        t_kill = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        new = wait_for(lambda: [p for p in terminators() if p != pid])
        if not new:
            failure = "kill %d: no new certd-tls within %.0f s" % (len(kills) + 1, LIMIT_S)
            break
        t_pid = time.monotonic()
        if not wait_for(serves_again, step=0.02):
            failure = "kill %d: 127.0.0.2 does not serve its certificate again within %.0f s" % (len(kills) + 1, LIMIT_S)
            break
        t_serving = time.monotonic()
        kills.append((burst, k, t_kill, t_pid - t_kill, t_serving - t_kill))
        pid = new[0]
    if burst < bursts - 1 and not failure:
        # Left alone past the stable period: the next death restarts after the minimum backoff.
        # The period is what is tested, so this is a sleep; it counts from when the terminator
        # serves again, which is after the supervisor started it, however slow the machine.
        time.sleep(max(0.0, t_serving + STABLE_S - time.monotonic()))
# The loops go on after the last restart: a few more handshakes and a round of bus calls.
after = (handshakes["ok"], bus["calls"])
if not failure and not wait_for(lambda: handshakes["ok"] >= after[0] + 5 and bus["calls"] >= after[1] + 3):
    failure = "the client loops made no progress after the last restart within %.0f s" % LIMIT_S
stop.set()
for t in threads:
    t.join(60)


def ms(s):
    return "%.0f" % (s * 1000)


# A failed handshake must overlap a gap: from a kill (the connection it cut) until serving again.
gaps = [(t, t + again) for (_, _, t, _, again) in kills]
outside = [f for f in handshakes["failures"] if not any(f[1] >= a - 0.05 and f[0] <= b + 0.5 for a, b in gaps)]
again = [k[4] for k in kills]
lat = bus["latencies"]
print("figure: kills %d in %d bursts of %d; restarts seen %d" % (len(kills), bursts, per_burst, len(kills)))
for b in range(bursts):
    delays = [ms(k[3]) for k in kills if k[0] == b]
    print("figure: burst %d restart delays (kill to new pid) ms: %s" % (b + 1, " ".join(delays)))
if again:
    print("figure: time until serving again after a kill: median %s ms, max %s ms" %
          (ms(statistics.median(again)), ms(max(again))))
print("figure: handshakes ok %d, failed %d (outside the gaps %d), wrong certificate %d" %
      (handshakes["ok"], handshakes["failed"], len(outside), handshakes["wrong"]))
if lat:
    print("figure: bus calls %d, errors %d, latency median %s ms, max %s ms; TerminatorState seen %s" %
          (len(lat), len(bus["errors"]), ms(statistics.median(lat)), ms(max(lat)),
           " ".join("%s=%d" % kv for kv in sorted(bus["states"].items()))))
for f in outside[:5]:
    print("failure outside a gap: %.3f-%.3f %s" % f)
for e in bus["errors"][:5]:
    print("bus error: %s" % e)
print("result failure %s" % (failure or "-"))
print("result kills %d" % len(kills))
for b in range(bursts):
    d = [k[3] for k in kills if k[0] == b]
    print("result burst%d %s" % (b + 1, " ".join(ms(x) for x in d)))
print("result handshakes_ok %d" % handshakes["ok"])
print("result handshakes_outside_gaps %d" % len(outside))
print("result wrong_certificate %d" % handshakes["wrong"])
print("result bus_calls %d" % len(lat))
print("result bus_errors %d" % len(bus["errors"]))
print("result bus_max_ms %s" % (ms(max(lat)) if lat else "0"))
print("result bus_assigns %d" % (len(lat) // 3))
