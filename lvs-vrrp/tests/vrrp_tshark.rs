//! Interop: adverts emitted by this crate, wrapped in IPv4/IPv6 headers and written to a pcap,
//! are dissected by Wireshark's tshark without errors, with good checksums, and with the
//! fields read back. Skips loudly without tshark; `LVS_REQUIRE_INTEROP=1` turns the skip into
//! a failure.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use lvs_core::packet::checksum::checksum;
use lvs_vrrp::testing;
use lvs_vrrp::wire::{
    Addresses, Auth, ChecksumVariant, IP_PROTOCOL, TTL, VersionRepr, VrrpRepr, multicast_group,
};

/// `LINKTYPE_RAW`: each record is a bare IPv4 or IPv6 packet.
const LINKTYPE_RAW: u32 = 101;

fn tshark() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("tshark"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = "tshark not found (Debian package `tshark`)";
        if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!("{msg} and LVS_REQUIRE_INTEROP=1");
        }
        eprintln!("\n*** SKIP vrrp_tshark: {msg} ***\n");
    }
    found
}

/// Removes the capture file even when the test fails.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        let name = format!("lvs-vrrp-{tag}-{}.pcap", std::process::id());
        Self(std::env::temp_dir().join(name))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// An IPv4 header as keepalived sends it: TOS 0xc0, ID 1, DF clear, TTL 255, protocol 112.
fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).unwrap();
    let mut h = vec![0x45, 0xc0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0, 0, TTL, IP_PROTOCOL, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An IPv6 header: traffic class 0xc0, next header 112, hop limit 255.
fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap();
    let mut h = vec![0x6c, 0x00, 0x00, 0x00];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[IP_PROTOCOL, TTL]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h.extend_from_slice(payload);
    h
}

/// A pcap file: the 24-byte global header, then a 16-byte record header per packet.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.len()).unwrap();
        out.extend_from_slice(&u32::try_from(i + 1).unwrap().to_le_bytes()); // seconds
        out.extend_from_slice(&0u32.to_le_bytes()); // microseconds
        out.extend_from_slice(&len.to_le_bytes()); // captured
        out.extend_from_slice(&len.to_le_bytes()); // on the wire
        out.extend_from_slice(p);
    }
    out
}

/// Emit `repr` from `src` to the group under `variant`, wrapped in its IP header.
fn wrap(repr: &VrrpRepr, variant: ChecksumVariant, src: IpAddr) -> Vec<u8> {
    let dst = multicast_group(repr.family());
    let mut buf = vec![0; repr.buffer_len()];
    repr.emit(&mut buf, variant, src, dst).unwrap();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ipv4(s, d, &buf),
        (IpAddr::V6(s), IpAddr::V6(d)) => ipv6(s, d, &buf),
        _ => unreachable!("emit checked the family"),
    }
}

fn run(tshark: &Path, file: &Path, prefs: &[&str], extra: &[&str]) -> String {
    let mut cmd = Command::new(tshark);
    cmd.arg("-n").arg("-r").arg(file);
    for p in prefs {
        cmd.arg("-o").arg(p);
    }
    let out = cmd.args(extra).output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

const FIELDS: &[&str] = &[
    "-T",
    "fields",
    "-E",
    "separator=|",
    "-e",
    "vrrp.version",
    "-e",
    "vrrp.virt_rtr_id",
    "-e",
    "vrrp.prio",
    "-e",
    "vrrp.addr_count",
    "-e",
    "vrrp.ip_addr",
    "-e",
    "vrrp.ipv6_addr",
    "-e",
    "vrrp.checksum.status",
    "-e",
    "vrrp.adver_int",
    "-e",
    "vrrp.short_adver_int",
    "-e",
    "vrrp.auth_string",
];

fn assert_clean(verbose: &str) {
    let bad_markers = [
        "Malformed",
        "Expert Info (Error",
        "incorrect",
        "Bad checksum",
        "Bad Checksum",
    ];
    for bad in bad_markers {
        assert!(!verbose.contains(bad), "tshark reports {bad:?}:\n{verbose}");
    }
}

fn adverts() -> Vec<(VrrpRepr, ChecksumVariant, IpAddr)> {
    let v4 = |list: &[&str]| Addresses::V4(list.iter().map(|a| a.parse().unwrap()).collect());
    vec![
        (
            VrrpRepr {
                vrid: 51,
                priority: 150,
                version: VersionRepr::V2 {
                    auth: Auth::None,
                    adver_int: 1,
                },
                addresses: v4(&["10.9.0.100"]),
            },
            ChecksumVariant::NoPseudoHeader,
            testing::src_v4(),
        ),
        (
            VrrpRepr {
                vrid: 7,
                priority: 254,
                version: VersionRepr::V2 {
                    auth: Auth::simple_text(b"secret"),
                    adver_int: 3,
                },
                addresses: v4(&["192.0.2.10", "192.0.2.11"]),
            },
            ChecksumVariant::NoPseudoHeader,
            "192.0.2.1".parse().unwrap(),
        ),
        (
            VrrpRepr {
                vrid: 200,
                priority: 100,
                version: VersionRepr::V3 { max_adver_int: 10 },
                addresses: v4(&["198.51.100.1", "198.51.100.2", "198.51.100.3"]),
            },
            ChecksumVariant::PseudoHeader,
            "198.51.100.254".parse().unwrap(),
        ),
        (
            VrrpRepr {
                vrid: 52,
                priority: 255,
                version: VersionRepr::V3 { max_adver_int: 100 },
                addresses: Addresses::V6(testing::VIPS_V6.to_vec()),
            },
            ChecksumVariant::PseudoHeader,
            testing::src_v6(),
        ),
    ]
}

#[test]
fn ipv4_header_matches_keepalived_capture() {
    let ip = ipv4(
        testing::SRC_V4,
        lvs_vrrp::wire::MULTICAST_V4,
        &testing::V2_PRIO150,
    );
    assert_eq!(ip[..20], testing::V2_PRIO150_IP_HEADER);
}

#[test]
fn tshark_dissects_our_adverts_cleanly() {
    let Some(tshark) = tshark() else { return };
    let adverts = adverts();
    let file = TempFile::new("adverts");
    let packets: Vec<_> = adverts.iter().map(|(r, v, s)| wrap(r, *v, *s)).collect();
    std::fs::write(&file.0, pcap(&packets)).unwrap();
    let prefs = ["vrrp.v3_checksum_as_in_v2:FALSE", "ip.check_checksum:TRUE"];

    let verbose = run(&tshark, &file.0, &prefs, &["-V"]);
    assert_clean(&verbose);
    assert_eq!(
        verbose
            .matches("Virtual Router Redundancy Protocol")
            .count(),
        adverts.len()
    );

    let fields = run(&tshark, &file.0, &prefs, FIELDS);
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), adverts.len(), "{fields}");
    for ((repr, _, _), line) in adverts.iter().zip(&lines) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f[0], repr.version.number().to_string(), "{line}");
        assert_eq!(f[1], repr.vrid.to_string(), "{line}");
        assert_eq!(f[2], repr.priority.to_string(), "{line}");
        assert_eq!(f[3], repr.addresses.len().to_string(), "{line}");
        let addrs: Vec<String> = repr.addresses.iter().map(|a| a.to_string()).collect();
        let shown = if f[4].is_empty() { f[5] } else { f[4] };
        assert_eq!(shown, addrs.join(","), "{line}");
        assert_eq!(f[6], "1", "checksum status good: {line}");
        match repr.version {
            VersionRepr::V2 { auth, adver_int } => {
                assert_eq!(f[7], adver_int.to_string(), "{line}");
                if let Auth::SimpleText(_) = auth {
                    assert_eq!(f[9], "secret", "{line}");
                }
            }
            VersionRepr::V3 { max_adver_int } => assert_eq!(f[8], max_adver_int.to_string()),
        }
    }
}

#[test]
fn tshark_follows_the_rfc9568_checksum_preference() {
    let Some(tshark) = tshark() else { return };
    let (repr, _, src) = adverts().swap_remove(2);
    let file = TempFile::new("rfc9568");
    let packet = wrap(&repr, ChecksumVariant::NoPseudoHeader, src);
    std::fs::write(&file.0, pcap(&[packet])).unwrap();

    let as_v2 = ["vrrp.v3_checksum_as_in_v2:TRUE"];
    assert_clean(&run(&tshark, &file.0, &as_v2, &["-V"]));
    assert_eq!(
        run(&tshark, &file.0, &as_v2, FIELDS)
            .trim()
            .split('|')
            .nth(6),
        Some("1")
    );

    // Control: with the pseudo-header preference tshark does flag it, so the clean runs above
    // mean something.
    let pseudo = ["vrrp.v3_checksum_as_in_v2:FALSE"];
    let fields = run(&tshark, &file.0, &pseudo, FIELDS);
    assert_eq!(fields.trim().split('|').nth(6), Some("0"), "{fields}");
    let verbose = run(&tshark, &file.0, &pseudo, &["-V"]);
    assert!(
        verbose.contains("Bad checksum") && verbose.contains("incorrect"),
        "{verbose}"
    );
}
