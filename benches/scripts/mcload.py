#!/usr/bin/env python3
"""A small closed-loop memcached load generator for mcproxy_vs_nutcracker.sh.

Each connection keeps `depth` requests in flight (pipelined batches): `get <key>` or, with
probability 1 - get_ratio, `set <key> 0 0 <size>`. Keys are drawn uniformly from `keys`
names. Replies are counted by their terminators (`END`, `STORED`); values are made of 'x' so
they never contain one. Prints one line: `ops=<n> seconds=<s> ops_per_s=<r> errors=<e>`.
"""

import argparse
import random
import selectors
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--get-ratio", type=float, default=0.9)
    ap.add_argument("--preload", action="store_true", help="set every key first")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    rnd = random.Random(a.seed)
    value = b"x" * a.size
    names = [b"key:%d" % i for i in range(a.keys)]
    sets = [b"set %s 0 0 %d\r\n%s\r\n" % (k, a.size, value) for k in names]
    gets = [b"get %s\r\n" % k for k in names]

    if a.preload:
        s = socket.create_connection((a.host, a.port))
        for i in range(0, a.keys, 500):
            chunk = sets[i:i + 500]
            s.sendall(b"".join(chunk))
            need, got = len(chunk), b""
            while got.count(b"STORED\r\n") < need:
                if b"ERROR" in got:
                    raise SystemExit("preload failed: %r" % got[-200:])
                chunk = s.recv(65536)
                if not chunk:
                    raise SystemExit("server closed the preload connection")
                got += chunk
        s.close()

    def batch():
        out = []
        for _ in range(a.depth):
            i = rnd.randrange(a.keys)
            out.append(gets[i] if rnd.random() < a.get_ratio else sets[i])
        return b"".join(out)

    sel = selectors.DefaultSelector()
    state = {}
    for _ in range(a.conns):
        s = socket.create_connection((a.host, a.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        state[s] = {"owed": 0, "tail": b""}
        sel.register(s, selectors.EVENT_READ)

    ops = errors = 0
    start = time.monotonic()
    end = start + a.seconds
    for s, st in state.items():
        s.sendall(batch())
        st["owed"] = a.depth
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for key, _ in sel.select(timeout=end - now):
            s = key.fileobj
            st = state[s]
            try:
                chunk = s.recv(262144)
            except BlockingIOError:
                continue
            if not chunk:
                raise SystemExit("server closed a connection")
            data = st["tail"] + chunk
            n = data.count(b"END\r\n") + data.count(b"STORED\r\n")
            errors += data.count(b"ERROR")
            last = max(data.rfind(b"END\r\n") + 5, data.rfind(b"STORED\r\n") + 8)
            st["tail"] = (data[last:] if last > 4 else data)[-7:]
            st["owed"] -= n
            ops += n
            if st["owed"] <= 0:
                s.setblocking(True)
                s.sendall(batch())
                s.setblocking(False)
                st["owed"] += a.depth
    elapsed = time.monotonic() - start
    print("ops=%d seconds=%.3f ops_per_s=%.0f errors=%d" % (ops, elapsed, ops / elapsed, errors))


if __name__ == "__main__":
    main()
