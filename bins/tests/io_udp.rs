//! The event loop over real UDP sockets on 127.0.0.1 (ephemeral ports, so tests run in
//! parallel).

mod io_common;

use core::time::Duration;
use std::net::{SocketAddr, UdpSocket};
use std::thread;

use io_common::{Counter, Ev};
use lvs_bins::io::{
    Control, EventLoop, Exit, Handler, Pushed, QueueLimits, SendQueue, Token, UdpOptions, ifindex,
};
use lvs_core::{Instant, Transmit};

fn localhost0() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind(localhost0()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

#[test]
fn echoes_every_datagram_back() {
    const N: usize = 200;
    const WINDOW: usize = 25;
    let mut el = EventLoop::new().unwrap();
    let server = el
        .sockets()
        .add_udp(&UdpOptions::new(localhost0()))
        .unwrap();
    let addr = el.sockets().local_addr(server).unwrap();
    let stop = el.stop_handle();

    let runner = thread::spawn(move || {
        let mut m = Counter::echo();
        let mut events = 0usize;
        let mut h = |_: &mut Control<'_>, _: &mut Counter, e: Ev| {
            assert!(matches!(e, Ev::Received(_)));
            events += 1;
        };
        let exit = el.run(&mut m, &mut h).unwrap();
        (exit, m.received(), events, el)
    });

    let c = client();
    let mut buf = [0u8; 64];
    for window in 0..N / WINDOW {
        for i in 0..WINDOW {
            let n = (window * WINDOW + i) as u32;
            c.send_to(&n.to_be_bytes(), addr).unwrap();
        }
        let mut got: Vec<u32> = (0..WINDOW)
            .map(|_| {
                let (len, from) = c.recv_from(&mut buf).expect("echo within 10 s");
                assert_eq!((len, from), (4, addr));
                u32::from_be_bytes(buf[..4].try_into().unwrap())
            })
            .collect();
        got.sort_unstable();
        let want: Vec<u32> = (0..WINDOW).map(|i| (window * WINDOW + i) as u32).collect();
        assert_eq!(got, want);
    }
    stop.stop().unwrap();
    let (exit, received, events, el) = runner.join().unwrap();
    assert_eq!(exit, Exit::Requested);
    assert_eq!((received, events), (N as u64, N));
    let send = el.sockets_ref().send_stats(server).unwrap();
    let recv = el.sockets_ref().recv_stats(server).unwrap();
    assert_eq!((send.sent, send.sent_bytes), (N as u64, 4 * N as u64));
    assert_eq!((recv.datagrams, recv.bytes), (N as u64, 4 * N as u64));
    assert_eq!(send.dropped_full + send.send_errors, 0);
    assert_eq!(el.stats().datagrams, N as u64);
    assert_eq!(el.stats().transmits, N as u64);
}

/// Records tick times and stops after `want` ticks.
struct TickRecorder {
    want: u32,
    ticks: Vec<(Instant, Instant)>,
}

impl Handler<Counter> for TickRecorder {
    fn event(&mut self, ctl: &mut Control<'_>, _m: &mut Counter, e: Ev) {
        if let Ev::Tick { n, due, now } = e {
            assert_eq!(now, ctl.now());
            self.ticks.push((due, now));
            if n >= self.want {
                ctl.stop();
            }
        }
    }
}

#[test]
fn timers_fire_on_time_and_never_early() {
    let period = Duration::from_millis(40);
    let mut el = EventLoop::new().unwrap();
    el.sockets()
        .add_udp(&UdpOptions::new(localhost0()))
        .unwrap();
    let start = el.clock().now();
    let wall = std::time::Instant::now();
    let mut m = Counter::ticking(start, period);
    let mut h = TickRecorder {
        want: 5,
        ticks: Vec::new(),
    };
    assert_eq!(el.run(&mut m, &mut h).unwrap(), Exit::Requested);
    let elapsed = wall.elapsed();

    assert_eq!(h.ticks.len(), 5);
    for (k, &(due, now)) in h.ticks.iter().enumerate() {
        assert_eq!(due, start + period * (k as u32 + 1));
        assert!(now >= due, "tick {k} fired early: {now} < {due}");
        assert!(
            now - due < Duration::from_millis(500),
            "tick {k} late: {now} vs {due}"
        );
    }
    assert!(
        elapsed >= period * 5,
        "5 ticks of 40 ms took only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    // Sleeping until the deadline: one wakeup per tick plus slack, not a busy loop.
    assert!(el.stats().wakeups < 100, "{:?}", el.stats());
    assert_eq!(el.stats().timeouts, 5);
}

#[test]
fn received_datagrams_carry_ttl_ifindex_and_destination() {
    let mut el = EventLoop::new().unwrap();
    let opts = UdpOptions::new(localhost0()).recv_meta(true);
    let server = el.sockets().add_udp(&opts).unwrap();
    let addr = el.sockets().local_addr(server).unwrap();
    let c = client();
    c.set_ttl(42).unwrap();
    c.send_to(b"meta", addr).unwrap();

    let mut seen = None;
    let mut h = |ctl: &mut Control<'_>, _: &mut Counter, e: Ev| match e {
        Ev::Received(d) => {
            seen = Some(d);
            ctl.stop();
        }
        Ev::Tick { n, .. } => assert!(n < 100, "nothing received in 5 s"),
    };
    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(50));
    el.run(&mut m, &mut h).unwrap();
    let d = seen.expect("datagram");
    assert_eq!(&d.payload[..], b"meta");
    assert_eq!(d.src, c.local_addr().unwrap());
    assert_eq!(d.dst, addr);
    assert_eq!(d.meta.ttl, Some(42));
    assert_eq!(d.meta.ifindex, Some(ifindex("lo").unwrap()));
}

#[test]
fn transmits_are_routed_by_source_address() {
    let mut el = EventLoop::new().unwrap();
    let a = el
        .sockets()
        .add_udp(&UdpOptions::new(localhost0()))
        .unwrap();
    let b = el
        .sockets()
        .add_udp(&UdpOptions::new(localhost0()))
        .unwrap();
    let wild = el
        .sockets()
        .add_udp(&UdpOptions::new("0.0.0.0:0".parse().unwrap()))
        .unwrap();
    let (a_addr, b_addr) = (
        el.sockets().local_addr(a).unwrap(),
        el.sockets().local_addr(b).unwrap(),
    );
    let wild_port = el.sockets().local_addr(wild).unwrap().port();
    let c = client();
    let to = c.local_addr().unwrap();

    let with_src = |src: Option<SocketAddr>, payload: &'static [u8]| {
        let mut t = Transmit::new(to, payload);
        t.src = src;
        t
    };
    let alias: SocketAddr = SocketAddr::new("127.0.0.2".parse().unwrap(), wild_port);
    let routes = el.sockets_ref();
    assert_eq!(routes.route(&with_src(None, b"")), Some((a, None)));
    assert_eq!(routes.route(&with_src(Some(b_addr), b"")), Some((b, None)));
    assert_eq!(
        routes.route(&with_src(Some(alias), b"")),
        Some((wild, Some(alias.ip())))
    );
    assert_eq!(
        routes.route(&with_src(Some("127.0.0.1:1".parse().unwrap()), b"")),
        None
    );
    assert_eq!(
        routes.route(&Transmit::new("[::1]:9".parse().unwrap(), &b""[..])),
        None
    );
    assert_eq!(
        routes.route(&Transmit::new("127.0.0.1:0".parse().unwrap(), &b""[..])),
        None
    );

    let mut m = Counter::default();
    m.send(with_src(None, b"first"));
    m.send(with_src(Some(b_addr), b"from-b"));
    m.send(with_src(Some(alias), b"from-alias"));
    m.send(with_src(Some("127.0.0.1:1".parse().unwrap()), b"nowhere"));
    // The machine's start-up transmits are drained before the first sleep; a stop requested
    // before `run` returns right after that drain.
    el.stop_handle().stop().unwrap();
    let mut h = StopAfterStart;
    assert_eq!(el.run(&mut m, &mut h).unwrap(), Exit::Requested);
    assert_eq!(el.sockets_ref().stats().unroutable, 1);

    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    for _ in 0..3 {
        let (n, from) = c.recv_from(&mut buf).unwrap();
        got.push((buf[..n].to_vec(), from));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            (b"first".to_vec(), a_addr),
            (b"from-alias".to_vec(), alias),
            (b"from-b".to_vec(), b_addr),
        ]
    );
}

/// Ignores events.
struct StopAfterStart;

impl Handler<Counter> for StopAfterStart {
    fn event(&mut self, _: &mut Control<'_>, _: &mut Counter, _: Ev) {}
}

#[test]
fn send_queue_bounds_and_counts_drops() {
    let limits = QueueLimits {
        max_datagrams: 8,
        max_bytes: 1000,
    };
    let mut q = SendQueue::new(limits);
    let t = |len: usize| Transmit::new("127.0.0.1:9".parse().unwrap(), vec![7u8; len]);
    let would_block = |_: &Transmit| Err(std::io::Error::from(std::io::ErrorKind::WouldBlock));
    // The kernel is full: everything waits until the datagram bound, then drops.
    let outcomes: Vec<Pushed> = (0..12)
        .map(|_| q.send_or_queue(t(10), would_block))
        .collect();
    assert_eq!(outcomes.iter().filter(|&&p| p == Pushed::Queued).count(), 8);
    assert_eq!(
        outcomes.iter().filter(|&&p| p == Pushed::Dropped).count(),
        4
    );
    assert_eq!((q.len(), q.bytes()), (8, 80));
    // The kernel drains: everything goes out in order, and new sends go straight through.
    let mut order = Vec::new();
    q.flush(|t| {
        order.push(t.payload.len());
        Ok(())
    });
    assert!(q.is_empty());
    assert_eq!(q.send_or_queue(t(5), |_| Ok(())), Pushed::Sent);
    // The byte bound: one large datagram over the limit is dropped alone.
    assert_eq!(q.push(t(1001)), Pushed::Dropped);
    let s = q.stats();
    assert_eq!(
        (
            s.sent,
            s.queued,
            s.dropped_full,
            s.dropped_full_bytes,
            s.high_water
        ),
        (9, 8, 5, 40 + 1001, 8)
    );
    assert_eq!(order, vec![10; 8]);
}

/// A handler that serves one TCP echo connection through `Handler::ready`.
struct TcpEcho {
    listener: Token,
    served: usize,
}

impl Handler<Counter> for TcpEcho {
    fn event(&mut self, _: &mut Control<'_>, _: &mut Counter, e: Ev) {
        if let Ev::Tick { n, .. } = e {
            assert!(n < 100, "TCP exchange not done in 5 s");
        }
    }

    fn ready(
        &mut self,
        ctl: &mut Control<'_>,
        _m: &mut Counter,
        token: Token,
        r: lvs_bins::io::Readiness,
    ) {
        use std::io::{Read, Write};
        if token == self.listener {
            while let Ok((stream, _)) = ctl.sockets().tcp_listener(token).unwrap().accept() {
                ctl.sockets().add_tcp_stream(stream).unwrap();
            }
            return;
        }
        let Some(s) = ctl.sockets().tcp_stream(token) else {
            return;
        };
        let mut buf = [0u8; 256];
        if r.readable {
            loop {
                match s.read(&mut buf) {
                    Ok(0) => {
                        ctl.sockets().remove(token);
                        ctl.stop();
                        return;
                    }
                    Ok(n) => {
                        s.write_all(&buf[..n]).unwrap();
                        self.served += n;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }
}

#[test]
fn tcp_readiness_reaches_the_handler() {
    use std::io::{Read, Write};
    let mut el = EventLoop::new().unwrap();
    let l = lvs_bins::io::tcp_listener(localhost0(), false).unwrap();
    let addr = l.local_addr().unwrap();
    let listener = el.sockets().add_tcp_listener(l).unwrap();
    let client = thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"hello tcp").unwrap();
        let mut buf = [0u8; 9];
        s.read_exact(&mut buf).unwrap();
        buf
    });
    let mut h = TcpEcho {
        listener,
        served: 0,
    };
    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(50));
    let exit = el.run(&mut m, &mut h).unwrap();
    assert_eq!(&client.join().unwrap(), b"hello tcp");
    assert_eq!((exit, h.served), (Exit::Requested, 9));
}

#[test]
fn multicast_join_and_send_over_loopback() {
    use lvs_bins::io::Group;
    let group: std::net::Ipv4Addr = "239.255.77.1".parse().unwrap();
    let lo = ifindex("lo").unwrap();
    let mut el = EventLoop::new().unwrap();
    let opts = UdpOptions::new("0.0.0.0:0".parse().unwrap())
        .reuse_port(true)
        .recv_meta(true)
        .ttl(1)
        .multicast_loop(true)
        .join(Group::V4 {
            group,
            interface: "127.0.0.1".parse().unwrap(),
        });
    let sock = el.sockets().add_udp(&opts).unwrap();
    let port = el.sockets().local_addr(sock).unwrap().port();
    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(50));
    let mut t = Transmit::new(SocketAddr::new(group.into(), port), &b"to the group"[..]);
    t.meta.ifindex = Some(lo);
    m.send(t);
    let mut seen = None;
    let mut h = |ctl: &mut Control<'_>, _: &mut Counter, e: Ev| match e {
        Ev::Received(d) => {
            seen = Some(d);
            ctl.stop();
        }
        Ev::Tick { n, .. } => assert!(n < 100, "nothing received in 5 s"),
    };
    el.run(&mut m, &mut h).unwrap();
    let d = seen.unwrap();
    assert_eq!(&d.payload[..], b"to the group");
    assert_eq!(d.dst, SocketAddr::new(group.into(), port));
    assert_eq!((d.meta.ttl, d.meta.ifindex), (Some(1), Some(lo)));
}
