//! Raw IP protocol and AF_PACKET sockets on loopback. These need root (CAP_NET_RAW): without
//! it they print a loud SKIP, and fail instead when `LVS_REQUIRE_INTEROP=1`.

mod io_common;

use core::mem::MaybeUninit;
use core::time::Duration;
use std::io;
use std::net::{IpAddr, SocketAddr};

use io_common::{Counter, Ev, skip};
use lvs_bins::io::{Control, EventLoop, Exit, Handler, PacketSocket, RawOptions, Readiness, Token};
use lvs_core::{Datagram, Transmit};

/// IP protocol 253: reserved for experimentation (RFC 3692).
const EXPERIMENT: u8 = 253;
/// EtherType 0x88B5: local experimental (IEEE 802).
const ETH_EXPERIMENT: u16 = 0x88B5;

fn permission_denied(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::PermissionDenied) || e.raw_os_error() == Some(libc::EPERM)
}

/// Collects received datagrams, stops after `want`, fails the test after a generous deadline.
struct Collect {
    want: usize,
    got: Vec<Datagram>,
}

impl Handler<Counter> for Collect {
    fn event(&mut self, ctl: &mut Control<'_>, _m: &mut Counter, e: Ev) {
        match e {
            Ev::Received(d) => {
                self.got.push(d);
                if self.got.len() >= self.want {
                    ctl.stop();
                }
            }
            Ev::Tick { n, .. } => {
                assert!(n < 100, "only {} of {} packets", self.got.len(), self.want);
            }
        }
    }
}

/// Send two protocol-253 packets to `to` over one raw socket (default TTL 255, then a per-packet
/// TTL of 7) and check that both come back with their TTL visible and the header stripped.
fn raw_round_trip(test: &str, bind: IpAddr) {
    let mut el = EventLoop::new().unwrap();
    let sock = match el.sockets().add_raw(&RawOptions::new(EXPERIMENT, bind)) {
        Ok(t) => t,
        Err(e) if permission_denied(&e) => return skip(test, "raw sockets need root"),
        Err(e) if bind.is_ipv6() && e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {
            return skip(test, "no IPv6 loopback address");
        }
        Err(e) => panic!("{test}: {e}"),
    };
    assert_eq!(
        el.sockets().local_addr(sock),
        Some(SocketAddr::new(bind, 0))
    );
    let to = SocketAddr::new(bind, 0);
    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(50));
    m.send(Transmit::new(to, &b"lvs-253 default ttl"[..]));
    let mut t = Transmit::new(to, &b"lvs-253 ttl 7"[..]);
    t.meta.ttl = Some(7);
    m.send(t);

    let mut h = Collect {
        want: 2,
        got: Vec::new(),
    };
    assert_eq!(el.run(&mut m, &mut h).unwrap(), Exit::Requested);
    let mut seen: Vec<(Vec<u8>, Option<u8>)> = h
        .got
        .iter()
        .map(|d| {
            assert_eq!(d.src, to, "{test}: source");
            assert_eq!(d.dst, to, "{test}: destination");
            (d.payload.to_vec(), d.meta.ttl)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (b"lvs-253 default ttl".to_vec(), Some(255)),
            (b"lvs-253 ttl 7".to_vec(), Some(7)),
        ],
        "{test}"
    );
    let stats = el.sockets_ref().send_stats(sock).unwrap();
    assert_eq!((stats.sent, stats.send_errors), (2, 0));
}

#[test]
fn raw_ipv4_protocol_253_round_trip_shows_ttl_255() {
    raw_round_trip(
        "raw_ipv4_protocol_253_round_trip_shows_ttl_255",
        "127.0.0.1".parse().unwrap(),
    );
}

#[test]
fn raw_ipv6_protocol_253_round_trip_shows_hop_limit_255() {
    raw_round_trip(
        "raw_ipv6_protocol_253_round_trip_shows_hop_limit_255",
        "::1".parse().unwrap(),
    );
}

/// Reads one frame from a packet socket when it becomes readable, then stops.
struct FrameReader {
    sock: Token,
    frame: Option<Vec<u8>>,
}

impl Handler<Counter> for FrameReader {
    fn event(&mut self, _: &mut Control<'_>, _: &mut Counter, e: Ev) {
        if let Ev::Tick { n, .. } = e {
            assert!(n < 100, "no frame arrived");
        }
    }

    fn ready(&mut self, ctl: &mut Control<'_>, _: &mut Counter, token: Token, r: Readiness) {
        assert_eq!(token, self.sock);
        assert!(r.readable);
        let p = ctl.sockets().packet(token).unwrap();
        let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
        while let Ok(info) = p.recv_frame(&mut buf) {
            assert!(!info.truncated);
            assert_eq!(info.protocol, ETH_EXPERIMENT);
            // SAFETY: recv_frame initialised the first `info.len` bytes.
            let bytes: Vec<u8> = buf[..info.len]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            self.frame = Some(bytes);
        }
        if self.frame.is_some() {
            ctl.stop();
        }
    }
}

#[test]
fn packet_socket_frame_round_trip_on_loopback() {
    let test = "packet_socket_frame_round_trip_on_loopback";
    let rx = match PacketSocket::open("lo", ETH_EXPERIMENT) {
        Ok(p) => p,
        Err(e) if permission_denied(&e) => return skip(test, "packet sockets need root"),
        Err(e) => panic!("{test}: {e}"),
    };
    let tx = PacketSocket::open("lo", ETH_EXPERIMENT).unwrap();
    assert_eq!(rx.ifindex(), lvs_bins::io::ifindex("lo").unwrap());
    let mut el = EventLoop::new().unwrap();
    let sock = el.sockets().add_packet(rx).unwrap();

    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&ETH_EXPERIMENT.to_be_bytes());
    frame.extend_from_slice(b"lvs frame over AF_PACKET, padded to the ethernet minimum");
    tx.send_frame(&frame).unwrap();

    let mut m = Counter::ticking(el.clock().now(), Duration::from_millis(50));
    let mut h = FrameReader { sock, frame: None };
    assert_eq!(el.run(&mut m, &mut h).unwrap(), Exit::Requested);
    assert_eq!(h.frame.as_deref(), Some(&frame[..]));
}
