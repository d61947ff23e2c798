//! tshark on lvs-vrrpd's own frames: a capture on the router's interface while the daemon
//! runs VRRPv3 and VRRPv2 over multicast, both again over unicast, VRRPv3 over IPv6, and
//! resigns on SIGTERM. Every frame it sent (adverts, gratuitous ARP, unsolicited NA) must be
//! dissected as VRRP, ARP or ICMPv6 with verified checksums and no malformed-packet or
//! expert error flag.
//!
//! Needs root, iproute2 and Debian's `tshark` (which brings `dumpcap`); skips loudly without
//! them (fails under LVS_REQUIRE_INTEROP=1).

mod vrrpd_common;

use std::process::Command;
use std::time::Duration;

use vrrpd_common::{Lab, NET, can_run, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_lvs-vrrpd");

/// The instances: (name, VRID, version, interval, VIP with prefix, unicast).
const INSTANCES: [(&str, u8, u8, f64, &str, bool); 5] = [
    ("M3", 51, 3, 0.1, "0.100/24", false),
    ("M2", 52, 2, 1.0, "0.101/24", false),
    ("U3", 53, 3, 0.1, "0.102/24", true),
    ("U2", 54, 2, 1.0, "0.103/24", true),
    ("S6", 55, 3, 0.1, "fd77::100/64", false),
];

fn config() -> String {
    let mut s = String::new();
    for (name, vrid, version, interval, vip, unicast) in INSTANCES {
        let vip = if vip.contains(':') {
            vip.to_owned()
        } else {
            format!("{NET}.{vip}")
        };
        s.push_str(&format!(
            "[[instance]]\nname = \"{name}\"\ninterface = \"eth0\"\nvrid = {vrid}\n\
             priority = 254\nversion = {version}\nadvert_int = {interval}\n\
             virtual_addresses = [\"{vip}\"]\ngarp_master_delay = 0\n"
        ));
        if unicast {
            s.push_str(&format!(
                "unicast_src = \"{NET}.0.1\"\nunicast_peers = [\"{NET}.0.2\"]\n"
            ));
        }
    }
    s
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_dissects_every_frame_the_daemon_sends() {
    if !can_run(
        "vrrpd_tshark::tshark_dissects_every_frame_the_daemon_sends",
        &["tshark", "dumpcap"],
    ) {
        return;
    }
    let mut lab = Lab::new(2);
    lab.wait_ipv6_ready(&["r1"]);
    let mac = lab.mac("r1");
    let pcap = lab.dir.join("r1.pcapng");
    let pcap = pcap.to_str().unwrap().to_owned();
    // Only frames from r1's MAC that are ours to send: protocol 112 and ARP, and ICMPv6
    // neighbour advertisements (the kernel's MLD reports are not the daemon's).
    let filter = format!(
        "ether src {mac} and (ip proto 112 or ip6 proto 112 or arp or \
         (icmp6 and ip6[40] == 136))"
    );
    let cap = lab.spawn(
        "r1",
        "dumpcap",
        &["dumpcap", "-q", "-i", "eth0", "-f", &filter, "-w", &pcap],
    );
    let capturing = wait_for(Duration::from_secs(10), || {
        lab.log(cap).contains("Capturing on")
    });
    assert!(capturing.is_some(), "dumpcap did not start{}", lab.logs());

    let conf = lab.file("r1.toml", &config());
    let conf = conf.to_str().unwrap().to_owned();
    let d = lab.spawn("r1", "lvs-vrrpd", &[BIN, "-c", &conf, "-vv"]);
    let vips: Vec<String> = INSTANCES
        .iter()
        .map(|i| {
            let a = i.4.split('/').next().unwrap();
            if a.contains(':') {
                a.to_owned()
            } else {
                format!("{NET}.{a}")
            }
        })
        .collect();
    let all_master = wait_for(Duration::from_secs(15), || {
        vips.iter().all(|v| lab.holds("r1", v))
    });
    assert!(all_master.is_some(), "not master everywhere{}", lab.logs());
    // A few more adverts of the 1 s instances, then the priority-0 resignations.
    std::thread::sleep(Duration::from_millis(2500));
    lab.signal(d, "TERM");
    assert!(
        lab.wait_exit(d, Duration::from_secs(5)),
        "no exit on SIGTERM"
    );
    std::thread::sleep(Duration::from_millis(300));
    lab.signal(cap, "TERM");
    assert!(
        lab.wait_exit(cap, Duration::from_secs(5)),
        "dumpcap kept running"
    );

    // One line per frame: what tshark made of it, and any expert or malformed flag.
    let fields = tshark(&[
        "-n",
        "-r",
        &pcap,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "frame.protocols",
        "-e",
        "vrrp.version",
        "-e",
        "vrrp.prio",
        "-e",
        "ip.dst",
        "-e",
        "ipv6.dst",
        "-e",
        "arp.src.proto_ipv4",
        "-e",
        "icmpv6.nd.na.target_address",
        "-e",
        "_ws.expert.severity",
        "-e",
        "_ws.malformed",
    ]);
    let rows: Vec<Vec<&str>> = fields.lines().map(|l| l.split('|').collect()).collect();
    assert!(rows.len() > 20, "too few frames captured:\n{fields}");
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for r in &rows {
        assert_eq!(r.len(), 9, "{r:?}");
        let protos = r[0];
        assert!(
            protos.ends_with(":vrrp") || protos.ends_with(":arp") || protos.ends_with(":icmpv6"),
            "a frame is not VRRP, ARP or ICMPv6: {r:?}"
        );
        assert!(r[7].is_empty(), "expert info on a frame: {r:?}");
        assert!(r[8].is_empty(), "malformed frame: {r:?}");
        let kind = if protos.ends_with(":vrrp") {
            let dst = if r[3].is_empty() { r[4] } else { r[3] };
            let prio = if r[2] == "0" { " prio 0" } else { "" };
            format!("vrrp v{} to {dst}{prio}", r[1])
        } else if protos.ends_with(":arp") {
            format!("arp from {}", r[5])
        } else {
            format!("na {}", r[6])
        };
        *kinds.entry(kind).or_default() += 1;
    }
    let want = [
        "vrrp v3 to 224.0.0.18".to_owned(),
        "vrrp v2 to 224.0.0.18".to_owned(),
        format!("vrrp v3 to {NET}.0.2"),
        format!("vrrp v2 to {NET}.0.2"),
        "vrrp v3 to ff02::12".to_owned(),
        "vrrp v3 to 224.0.0.18 prio 0".to_owned(),
        "vrrp v2 to 224.0.0.18 prio 0".to_owned(),
        format!("vrrp v3 to {NET}.0.2 prio 0"),
        format!("vrrp v2 to {NET}.0.2 prio 0"),
        "vrrp v3 to ff02::12 prio 0".to_owned(),
        format!("arp from {NET}.0.100"),
        format!("arp from {NET}.0.103"),
        "na fd77::100".to_owned(),
    ];
    for w in &want {
        assert!(kinds.contains_key(w), "no {w:?} among {kinds:#?}");
    }

    // The full dissection, with every checksum tshark can check verified.
    let text = tshark(&[
        "-n",
        "-V",
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "vrrp.v3_checksum_as_in_v2:FALSE",
        "-r",
        &pcap,
    ]);
    for bad in [
        "Malformed",
        "[Bad",
        "incorrect",
        "Expert Info (Error",
        "Expert Info (Warn",
        "Checksum Status: Bad",
    ] {
        assert!(!text.contains(bad), "tshark says {bad:?}:\n{text}");
    }
    let vrrp = rows.iter().filter(|r| r[0].ends_with(":vrrp")).count();
    let icmp = rows.iter().filter(|r| r[0].ends_with(":icmpv6")).count();
    assert!(
        text.matches("[Checksum Status: Good]").count() >= vrrp + icmp,
        "not every VRRP and ICMPv6 checksum was verified good:\n{kinds:#?}"
    );
    eprintln!("captured and dissected: {kinds:#?}");
}
