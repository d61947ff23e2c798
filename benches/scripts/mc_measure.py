#!/usr/bin/env python3
"""Measurements for the memcached proxy scripts (run by mc_idle_rss.sh and mc_mget_latency.sh).

  idle --port P --pid PID --conns N
      RSS of PID (VmRSS) before and after opening N idle client connections to port P, and
      again after every connection has made one request (`get` of a missing key) and gone
      idle again. Prints `<state> rss_kib=<k> per_conn_bytes=<b>` lines.

  mget --target LABEL:PORT ... --keys K --size S --runs R [--preload PORT ...]
      Stores K keys of S bytes through every --preload port, then times R multi-gets of all K
      keys (one `get k1 .. kK` line) against each target, interleaved, and prints the median
      and p90 latency per target plus the ratio of each median to the first target's.
"""

import argparse
import socket
import statistics
import sys
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS for %d" % pid)


def settle(pid, seconds=2.0):
    """RSS once it has stopped changing for a moment."""
    last, end = rss_kib(pid), time.monotonic() + seconds * 5
    while time.monotonic() < end:
        time.sleep(seconds / 4)
        now = rss_kib(pid)
        if now == last:
            return now
        last = now
    return last


def read_until(s, end):
    got = bytearray()
    while not got.endswith(end):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("connection closed after %d bytes" % len(got))
        got += chunk
    return bytes(got)


def idle(a):
    base = settle(a.pid)
    print("baseline rss_kib=%d" % base, flush=True)
    socks = []
    for i in range(a.conns):
        try:
            socks.append(socket.create_connection(("127.0.0.1", a.port), 10))
        except OSError as e:
            raise SystemExit("connection %d failed: %s (raise ulimit -n?)" % (i, e))
    # Let the proxy accept everything, then check that every connection is alive.
    time.sleep(1.0)
    connected = settle(a.pid)
    print("connected rss_kib=%d per_conn_bytes=%.0f" % (connected, (connected - base) * 1024.0 / a.conns), flush=True)
    for s in socks:
        s.sendall(b"get lvs-idle-probe\r\n")
    for s in socks:
        if read_until(s, b"END\r\n") != b"END\r\n":
            raise SystemExit("unexpected reply")
    used = settle(a.pid)
    print("after_one_get rss_kib=%d per_conn_bytes=%.0f" % (used, (used - base) * 1024.0 / a.conns), flush=True)
    for s in socks:
        s.close()


def mget(a):
    value = b"v" * a.size
    names = [b"mget:%06d" % i for i in range(a.keys)]
    for port in a.preload:
        s = socket.create_connection(("127.0.0.1", port), 10)
        s.sendall(b"".join(b"set %s 0 0 %d\r\n%s\r\n" % (k, a.size, value) for k in names))
        got = b""
        while got.count(b"STORED\r\n") < a.keys:
            chunk = s.recv(1 << 20)
            if not chunk or b"ERROR" in chunk:
                raise SystemExit("preload through %d failed: %r" % (port, chunk[:200]))
            got += chunk
        s.close()
    line = b"get " + b" ".join(names) + b"\r\n"
    expect = sum(len(b"VALUE %s 0 %d\r\n" % (k, a.size)) + a.size + 2 for k in names) + 5
    targets = []
    for t in a.target:
        label, port = t.rsplit(":", 1)
        s = socket.create_connection(("127.0.0.1", int(port)), 10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        targets.append((label, s, []))
    for r in range(a.runs + 3):
        for label, s, times in targets:
            t0 = time.perf_counter()
            s.sendall(line)
            got = read_until(s, b"END\r\n")
            dt = time.perf_counter() - t0
            if len(got) != expect:
                raise SystemExit("%s: %d bytes, want %d (%d values)" % (label, len(got), expect, got.count(b"VALUE ")))
            if r >= 3:  # warm-up rounds
                times.append(dt)
    first = statistics.median(targets[0][2])
    print("%d-key multi-get, %d B values, %d runs (median / p90):" % (a.keys, a.size, a.runs))
    for label, _, times in targets:
        times.sort()
        med = statistics.median(times)
        p90 = times[int(len(times) * 0.9) - 1]
        print("  %-12s %8.3f ms  %8.3f ms  %.2fx %s" % (label, med * 1e3, p90 * 1e3, med / first, targets[0][0]))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("idle")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--pid", type=int, required=True)
    i.add_argument("--conns", type=int, default=10000)
    m = sub.add_parser("mget")
    m.add_argument("--target", action="append", required=True)
    m.add_argument("--preload", type=int, action="append", default=[])
    m.add_argument("--keys", type=int, default=1000)
    m.add_argument("--size", type=int, default=100)
    m.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    idle(a) if a.cmd == "idle" else mget(a)


if __name__ == "__main__":
    sys.exit(main())
