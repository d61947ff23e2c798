#!/usr/bin/env python3
"""Placement agreement of lvs-mcproxy and nutcracker on live memcached instances.

For every pool case (each of nutcracker's 12 hashes with ketama, md5 with modula, fnv1a_64
with a hash tag, murmur with named servers; 5 backends weighted 1,2,1,3,1), the same random
keys are stored through nutcracker, then (after flush_all) through lvs-mcproxy, into the same
memcached instances. After each pass every backend's keys are listed with
`lru_crawler metadump all`, so the placement read back is the one the live servers hold. A
key counts as agreeing when both proxies put it on the same backend; every key must be found
on exactly one backend after each pass (no eviction, no loss).

Keys: 1 to 40 random bytes from 0x21..0xff (bytes >= 0x80 included, which exercises the
hashes' sign handling), a quarter of them with a `{tag}` inside, all distinct.

Prints one line per case and a summary; exits 1 if any key disagrees or goes missing.
Run it through benches/scripts/mc_placement.sh, which starts the processes.
"""

import argparse
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HASHES = ["one_at_a_time", "md5", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1a_64",
          "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins"]
WEIGHTS = [1, 2, 1, 3, 1]
NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"]


def cases():
    out = [(h, "ketama", None, False) for h in HASHES]
    out.append(("md5", "modula", None, False))
    out.append(("fnv1a_64", "ketama", "{}", False))
    out.append(("murmur", "ketama", None, True))
    return out


def make_keys(n, seed):
    rnd = random.Random(seed)
    # Map every byte value onto 0x21..0xff (223 values).
    table = bytes(0x21 + (b % 223) for b in range(256))
    seen = set()
    keys = []
    while len(keys) < n:
        k = rnd.randbytes(1 + rnd.randrange(40)).translate(table)
        if rnd.randrange(4) == 0:
            at = rnd.randrange(len(k) + 1)
            k = k[:at] + b"{%d}" % rnd.randrange(50) + k[at:]
        if k not in seen:
            seen.add(k)
            keys.append(k)
    return keys


def pool_yaml(name, listen, case, ports):
    hash_, dist, tag, named = case
    y = ["%s:" % name, "  listen: 127.0.0.1:%d" % listen, "  hash: %s" % hash_,
         "  distribution: %s" % dist, "  timeout: 5000", "  auto_eject_hosts: false",
         "  server_retry_timeout: 2000", "  server_failure_limit: 2"]
    if tag:
        y.append('  hash_tag: "%s"' % tag)
    y.append("  servers:")
    for i, (p, w) in enumerate(zip(ports, WEIGHTS)):
        y.append("   - 127.0.0.1:%d:%d%s" % (p, w, " " + NAMES[i] if named else ""))
    return "\n".join(y) + "\n"


def wait_port(port, proc=None, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise SystemExit("process for port %d exited with %s" % (port, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("port %d never opened" % port)


def command(port, line, until=b"END\r\n"):
    s = socket.create_connection(("127.0.0.1", port), 10)
    s.sendall(line)
    got = bytearray()
    while not got.endswith(until):
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("port %d closed during %r" % (port, line))
        got += chunk
    s.close()
    return bytes(got)


def store_all(port, keys, conns=4):
    """Stores every key (value "x") through the proxy at `port`, pipelined on a few
    connections, and checks that every reply is STORED."""
    errors = []

    def one(part):
        s = socket.create_connection(("127.0.0.1", port), 30)
        s.settimeout(60)
        total = len(part)

        def writer():
            try:
                for i in range(0, total, 2000):
                    s.sendall(b"".join(b"set %s 0 0 1\r\nx\r\n" % k for k in part[i:i + 2000]))
            except OSError as e:
                errors.append("write: %s" % e)

        t = threading.Thread(target=writer)
        t.start()
        seen, tail = 0, b""
        try:
            while seen < total:
                chunk = s.recv(1 << 20)
                if not chunk:
                    errors.append("proxy closed the connection after %d replies" % seen)
                    break
                data = tail + chunk
                n = len(data) // 8
                if data.count(b"STORED\r\n", 0, n * 8) != n:
                    errors.append("unexpected reply %r" % data[:200])
                    break
                seen += n
                tail = data[n * 8:]
        except OSError as e:
            errors.append("read: %s" % e)
        t.join()
        s.close()

    step = (len(keys) + conns - 1) // conns
    threads = [threading.Thread(target=one, args=(keys[i:i + step],))
               for i in range(0, len(keys), step)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("storing through port %d failed: %s" % (port, errors[:3]))


def dump(ports):
    """Key -> backend index, from every backend's metadump."""
    where = {}
    dup = 0
    for i, p in enumerate(ports):
        out = command(p, b"lru_crawler metadump all\r\n")
        for line in out.split(b"\n"):
            if not line.startswith(b"key="):
                continue
            k = urllib.parse.unquote_to_bytes(line[4:line.index(b" ")])
            if k in where:
                dup += 1
            where[k] = i
    return where, dup


def lookup_missing(ports, keys, where):
    """The crawler's dump can pass over an item; ask every backend for the keys it left out."""
    lost = [k for k in keys if k not in where]
    for i in range(0, len(lost), 100):
        part = lost[i:i + 100]
        for j, p in enumerate(ports):
            out = command(p, b"get " + b" ".join(part) + b"\r\n")
            for line in out.split(b"\r\n"):
                if line.startswith(b"VALUE "):
                    where[line.split(b" ")[1]] = j
    if lost:
        print("  (%d keys not in the metadump, %d found by get)"
              % (len(lost), sum(1 for k in lost if k in where)), flush=True)


def flush(ports):
    for p in ports:
        if command(p, b"flush_all\r\n", b"OK\r\n") != b"OK\r\n":
            raise SystemExit("flush_all failed on %d" % p)
    # Items stored in the same second as the flush must not look flushed (memcached's clock
    # has 1-second granularity); metadump skips the flushed ones.
    time.sleep(1.1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0x5EED)
    ap.add_argument("--ports", required=True, help="comma-separated memcached ports")
    ap.add_argument("--mcproxy", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--only", help="run only cases whose label contains this")
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    assert len(ports) == len(WEIGHTS)
    for p in ports:
        wait_port(p)
    t0 = time.monotonic()
    keys = make_keys(a.keys, a.seed)
    print("%d keys (seed %d) in %.1fs" % (len(keys), a.seed, time.monotonic() - t0), flush=True)
    failed = 0
    for case in cases():
        label = "%s/%s%s%s" % (case[1], case[0], "/hash_tag" if case[2] else "",
                               "/named" if case[3] else "")
        if a.only and a.only not in label:
            continue
        placements = []
        for name, argv in (("nutcracker", ["nutcracker", "-c"]),
                           ("lvs-mcproxy", [a.mcproxy, "-c"])):
            listen = free_port()
            conf = "%s/%s.yml" % (a.workdir, name)
            with open(conf, "w") as f:
                f.write(pool_yaml("p", listen, case, ports))
            extra = ["-s", str(free_port()), "-o", "%s/nc.log" % a.workdir] \
                if name == "nutcracker" else []
            proc = subprocess.Popen(argv + [conf] + extra, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                wait_port(listen, proc)
                flush(ports)
                t = time.monotonic()
                store_all(listen, keys)
                took = time.monotonic() - t
            finally:
                proc.terminate()
                proc.wait()
            where, dup = dump(ports)
            lookup_missing(ports, keys, where)
            missing = len(keys) - sum(1 for k in keys if k in where)
            if missing or dup:
                print("  %s via %s: %d keys missing, %d on two backends" % (label, name, missing, dup))
                failed += 1
            placements.append((where, took))
        (nc, t_nc), (lv, t_lv) = placements
        differ = sum(1 for k in keys if nc.get(k) != lv.get(k))
        per = [0] * len(ports)
        for k in keys:
            if k in nc:
                per[nc[k]] += 1
        print("%-28s %d keys: %d differ; per backend %s; store %.1fs via nutcracker, %.1fs via "
              "lvs-mcproxy" % (label, len(keys), differ, per, t_nc, t_lv), flush=True)
        if differ:
            ex = [k for k in keys if nc.get(k) != lv.get(k)][:3]
            print("  e.g. %s" % ", ".join("%s nutcracker %s lvs %s" % (k.hex(), nc.get(k), lv.get(k)) for k in ex))
            failed += 1
    print("placement: %s (%.0fs)" % ("FAILED" if failed else "all cases agree on every key",
                                     time.monotonic() - t0))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
