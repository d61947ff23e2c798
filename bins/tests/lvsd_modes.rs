//! lvsd's other modes over loopback: UDP flows, the PROXY v2 header, SIGTERM draining.

mod lvsd_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use lvsd_support::{Echo, Lvsd, echo_round, free_port, wait_until};

#[test]
fn udp_flows_reach_the_backend_and_replies_come_back() {
    let backend = UdpSocket::bind("127.0.0.1:0").unwrap();
    let baddr = backend.local_addr().unwrap();
    backend
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut peers = std::collections::BTreeSet::new();
        for _ in 0..4 {
            let (n, from) = backend.recv_from(&mut buf).unwrap();
            peers.insert(from);
            let mut reply = b"re:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            backend.send_to(&reply, from).unwrap();
        }
        peers.len()
    });
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = format!(
        "[[service]]\nprotocol = \"udp\"\nlisten = \"{vip}\"\nscheduler = \"rr\"\nudp_timeout = 30\n\
         [[service.real]]\naddress = \"{baddr}\"\n"
    );
    let d = Lvsd::start("udp", &cfg);
    let clients: Vec<UdpSocket> = (0..2)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for (i, c) in clients.iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        for j in 0..2 {
            let msg = format!("c{i}m{j}");
            c.send_to(msg.as_bytes(), vip).unwrap();
            let mut buf = [0u8; 512];
            let (n, from) = c.recv_from(&mut buf).unwrap();
            assert_eq!(from, vip);
            assert_eq!(&buf[..n], format!("re:{msg}").as_bytes());
        }
    }
    // One flow (one backend-side socket) per client; UDP flows count as inactive.
    assert_eq!(t.join().unwrap(), 2);
    assert!(d.list().contains(&format!("UDP  {vip} rr")));
    assert_eq!(d.real_row(baddr), Some((1, 0, 2)));
}

#[test]
fn proxy_protocol_v2_header_carries_the_client_address() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let baddr = l.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = [0u8; 28];
        s.read_exact(&mut head).unwrap();
        let mut rest = [0u8; 5];
        s.read_exact(&mut rest).unwrap();
        s.write_all(b"ok").unwrap();
        (head, rest)
    });
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = format!(
        "[[service]]\nlisten = \"{vip}\"\nscheduler = \"rr\"\nproxy_protocol = true\n\
         [[service.real]]\naddress = \"{baddr}\"\n"
    );
    let _d = Lvsd::start("ppv2", &cfg);
    let mut c = TcpStream::connect(vip).unwrap();
    let me = c.local_addr().unwrap();
    c.write_all(b"hello").unwrap();
    let mut ok = [0u8; 2];
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.read_exact(&mut ok).unwrap();
    let (head, rest) = t.join().unwrap();
    assert_eq!(&head[..12], b"\r\n\r\n\0\r\nQUIT\n");
    assert_eq!(&head[12..16], &[0x21, 0x11, 0, 12]);
    assert_eq!(&head[16..20], &[127, 0, 0, 1]);
    assert_eq!(&head[24..26], &me.port().to_be_bytes());
    assert_eq!(&head[26..28], &vip.port().to_be_bytes());
    assert_eq!(&rest, b"hello");
}

#[test]
fn sigterm_stops_accepting_and_drains_open_connections() {
    let echo = Echo::start();
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let cfg = format!(
        "drain_timeout = 30\n[[service]]\nlisten = \"{vip}\"\n[[service.real]]\naddress = \"{}\"\n",
        echo.addr
    );
    let mut d = Lvsd::start("term", &cfg);
    let mut held = TcpStream::connect(vip).unwrap();
    assert_eq!(echo_round(&mut held, b"one"), b"one");
    d.signal(libc::SIGTERM);
    wait_until("the listener to close", Duration::from_secs(5), || {
        TcpStream::connect(vip).is_err()
    });
    assert_eq!(echo_round(&mut held, b"two"), b"two");
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "exited while draining"
    );
    drop(held);
    wait_until("lvsd to exit", Duration::from_secs(5), || {
        d.child.try_wait().unwrap().is_some()
    });
    assert!(d.child.wait().unwrap().success());
    assert!(!d.socket.exists(), "control socket left behind");
}
