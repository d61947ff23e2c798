//! The director pair in packet mode: two lvsd on AF_PACKET on one bridge (director A,
//! priority 150, and director B, priority 100), each running its VRRP half from a `[vrrp]`
//! file, in front of three DR real servers. The VIP is never a local address of either
//! director: the VRRP half publishes the VIPs it holds and the packet plane answers ARP only
//! for those. The test asks the link who answers ARP for the VIP (its own ARP request from the
//! client namespace), checks the client's neighbour entry and where the connections are
//! counted, then stops the master with SIGTERM: its VRRP half resigns, the backup takes the
//! VIP with a gratuitous ARP, and requests succeed through it.
//!
//! Needs root and iproute2; skips loudly without them, and fails instead under
//! `LVS_REQUIRE_INTEROP=1`.

mod lvsd_support;

#[path = "lvsd_support/packet_lab.rs"]
mod packet_lab;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lvs_bins::io::{ETH_P_ARP, PacketSocket};
use lvs_bins::lvsd::packet::arp::{self, Arp};
use lvsd_support::{lvsadm_with, wait_until};
use packet_lab::{
    CLIENTS, LATE_CLIENT, Lab, NAMES, Ns, REALS, VIP, helper_main, missing, read_frames, requests,
};

const PORT: u16 = 80;
const LVSD: &str = env!("CARGO_BIN_EXE_lvsd");

/// The helper programs (the real servers) are this binary run again with `LVS_PKT_ROLE` set;
/// as an ordinary test this does nothing.
#[test]
fn helper_entry() {
    if let Ok(role) = std::env::var("LVS_PKT_ROLE") {
        helper_main(&role);
    }
}

/// The director's lvs-vrrpd file: one v3 instance carrying the service VIP.
fn vrrp_file(lab: &Lab, who: &str, priority: u8) -> PathBuf {
    let path = lab.dir.0.join(format!("{who}-vrrp.toml"));
    let text = format!(
        "[global]\ninterface_poll = 0.2\n\n[[instance]]\nname = \"VI_1\"\ninterface = \"eth0\"\n\
         vrid = 71\npriority = {priority}\nversion = 3\nadvert_int = 0.2\n\
         virtual_addresses = [\"{VIP}/24\"]\ngarp_master_delay = 0\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// lvsd's `[vrrp]` table and the DR service on VIP:80.
fn body(vrrp: &Path) -> String {
    let mut s = format!(
        "[vrrp]\nfile = {:?}\n\n[[service]]\nlisten = \"{VIP}:{PORT}\"\nscheduler = \"rr\"\n",
        vrrp.display().to_string()
    );
    for r in REALS {
        s.push_str(&format!(
            "[[service.real]]\naddress = \"{r}:{PORT}\"\nforward = \"dr\"\n"
        ));
    }
    s
}

/// Director B: lvsd in the peer namespace with its own configuration and control socket;
/// returns the control socket once it answers.
fn start_b(lab: &mut Lab, vrrp: &Path) -> PathBuf {
    let socket = lab.dir.0.join("ctl-b.sock");
    let config = lab.dir.0.join("lvsd-b.toml");
    let text = format!(
        "control = {:?}\nmode = \"packet\"\ninterface = \"eth0\"\n{}",
        socket.display().to_string(),
        body(vrrp)
    );
    std::fs::write(&config, text).unwrap();
    let peer = lab.peer.as_ref().expect("a pair lab");
    let mut cmd = peer.command(LVSD);
    cmd.arg("-c").arg(&config).arg("-v");
    lab.start("lvsd-b", cmd);
    let s = socket.clone();
    wait_until("lvsd B to answer", Duration::from_secs(20), || {
        lvsadm_with(&s, &["-L", "-n"], None).status.success()
    });
    socket
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

/// The word after `key` in `ip -n NS args...`'s output, as a MAC.
fn mac_after(ns: &Ns, args: &[&str], key: &str) -> Option<[u8; 6]> {
    let o = Command::new("ip")
        .args(["-n", &ns.name])
        .args(args)
        .output()
        .expect("run ip");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut words = text.split_whitespace();
    words.find(|w| *w == key)?;
    parse_mac(words.next()?)
}

/// The MAC of `ns`'s eth0.
fn mac(ns: &Ns) -> [u8; 6] {
    mac_after(ns, &["link", "show", "eth0"], "link/ether").expect("eth0's MAC")
}

/// The MAC in the client's neighbour entry for the VIP, if it has one.
fn client_neighbour(lab: &Lab) -> Option<[u8; 6]> {
    let vip = VIP.to_string();
    mac_after(
        &lab.client,
        &["neigh", "show", &vip, "dev", "eth0"],
        "lladdr",
    )
}

/// Every MAC that answers one ARP request for the VIP from the client namespace within
/// half a second.
fn arp_answers(lab: &Lab) -> BTreeSet<[u8; 6]> {
    let own = mac(&lab.client);
    lab.client.run(move || {
        let sock = PacketSocket::open("eth0", ETH_P_ARP).expect("ARP socket");
        let req = Arp::request(own, LATE_CLIENT, VIP).frame(arp::BROADCAST, own);
        sock.send_frame(&req).expect("send the ARP request");
        let end = Instant::now() + Duration::from_millis(500);
        let mut macs = BTreeSet::new();
        read_frames(
            &sock,
            || Instant::now() < end,
            |f| {
                if let Some(a) = Arp::parse(f)
                    && a.op == arp::REPLY
                    && a.spa == VIP
                    && a.tpa == LATE_CLIENT
                {
                    macs.insert(a.sha);
                }
            },
        );
        macs
    })
}

/// The `Conns` column of the service in `lvsadm -L -n --stats`.
fn conns(socket: &Path) -> u64 {
    let o = lvsadm_with(socket, &["-L", "-n", "--stats"], None);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let head = format!("TCP  {VIP}:{PORT}");
    let line = text
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no service in\n{text}"));
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

/// Wait until exactly the director at `mac` answers ARP for the VIP, then check it twice
/// more.
fn wait_sole_answer(lab: &Lab, who: &str, mac: [u8; 6], limit: Duration) {
    let want = BTreeSet::from([mac]);
    let mut last = BTreeSet::new();
    let end = Instant::now() + limit;
    while Instant::now() < end {
        last = arp_answers(lab);
        if last == want {
            for _ in 0..2 {
                assert_eq!(arp_answers(lab), want, "a second director answers ARP");
            }
            return;
        }
    }
    panic!("{who} ({mac:02x?}) is not the only director answering ARP: {last:02x?}");
}

/// Ask until one request through the VIP is answered.
fn wait_serving(lab: &Lab, what: &str, limit: Duration) {
    wait_until(what, limit, || {
        requests(lab, CLIENTS[1], PORT, 1, 1).failed == 0
    });
}

/// No director has the VIP as a local address.
fn assert_vip_not_local(lab: &Lab) {
    for ns in [&lab.director, lab.peer.as_ref().unwrap()] {
        let o = Command::new("ip")
            .args(["-n", &ns.name, "-4", "addr", "show", "dev", "eth0"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            !text.contains(&format!("{VIP}/")),
            "{}: the VIP became a local address:\n{text}",
            ns.name
        );
    }
}

#[test]
fn a_packet_mode_pair_answers_arp_from_the_master_only_and_fails_over() {
    if let Some(why) = missing(false) {
        eprintln!("SKIP lvsd_packet_vrrp: {why} (LVS_REQUIRE_INTEROP=1 makes this fail)");
        return;
    }
    let mut lab = Lab::pair("pv");
    lab.setup_dr();
    for i in 0..3 {
        lab.start_server(i, &[PORT]);
    }
    let (mac_a, mac_b) = (mac(&lab.director), mac(lab.peer.as_ref().unwrap()));
    let vrrp_a = vrrp_file(&lab, "a", 150);
    let vrrp_b = vrrp_file(&lab, "b", 100);
    let sock_a = lab.start_lvsd(&body(&vrrp_a));
    let sock_b = start_b(&mut lab, &vrrp_b);

    // A is master: only its MAC answers for the VIP, and the traffic goes through it.
    wait_sole_answer(&lab, "A", mac_a, Duration::from_secs(20));
    wait_serving(&lab, "a first answer through A", Duration::from_secs(20));
    let t = requests(&lab, CLIENTS[0], PORT, 300, 3);
    assert_eq!(t.failed, 0, "{t:?}");
    assert!(NAMES.iter().all(|n| t.of(n) > 0), "rr spreads: {t:?}");
    assert_eq!(client_neighbour(&lab), Some(mac_a), "the client's entry");
    assert!(conns(&sock_a) >= 300, "A counts the connections");
    assert_eq!(conns(&sock_b), 0, "the backup B saw none of them");
    assert_vip_not_local(&lab);
    assert!(
        lab.log("lvsd-b").contains("vrrp: running the instances of"),
        "{}",
        lab.log("lvsd-b")
    );

    // A stops cleanly: its VRRP half resigns, B takes the VIP and announces it.
    // A is gone before the first request, so whatever answers went through B.
    let stopped = Instant::now();
    lab.signal_lvsd(libc::SIGTERM);
    assert!(
        lab.wait_exit("lvsd", Duration::from_secs(10)),
        "lvsd A did not exit after SIGTERM"
    );
    let exited = stopped.elapsed();
    wait_serving(&lab, "an answer through B", Duration::from_secs(15));
    eprintln!(
        "lvsd_packet_vrrp: A exited {exited:?} and B served {:?} after SIGTERM to A",
        stopped.elapsed()
    );
    wait_sole_answer(&lab, "B", mac_b, Duration::from_secs(10));
    let t = requests(&lab, CLIENTS[0], PORT, 300, 3);
    assert_eq!(t.failed, 0, "after the failover: {t:?}");
    assert!(conns(&sock_b) >= 300, "B counts the connections now");
    wait_until(
        "the client's neighbour entry to name B",
        Duration::from_secs(10),
        || client_neighbour(&lab) == Some(mac_b),
    );
    let log_a = lab.log("lvsd");
    assert!(log_a.contains("vrrp: stopping: resigning"), "{log_a}");
    assert!(
        log_a.contains("VIP (published to the data plane)"),
        "{log_a}"
    );
    assert!(
        lab.log("lvsd-b")
            .contains("VIP (published to the data plane)"),
        "{}",
        lab.log("lvsd-b")
    );
    assert_vip_not_local(&lab);
}
