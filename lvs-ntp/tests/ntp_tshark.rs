//! Wireshark's NTP dissector reads what we emit: a pcap of our request, our responder's reply,
//! a kiss-o'-death and an authenticated packet, each in IPv4/UDP port 123, through
//! `tshark -r FILE -V`. Without tshark the test skips loudly; with `LVS_REQUIRE_INTEROP=1` it
//! fails instead.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

use lvs_ntp::server::{SystemState, respond};
use lvs_ntp::testing::{CLIENT_REQUEST_REPR, KOD_RATE};
use lvs_ntp::wire::{
    ExtensionFields, LeapIndicator, Mac, NtpMessage, NtpRepr, Refid, emit_extension,
};
use lvs_ntp::{NtpShort, NtpTimestamp, UnixNanos};

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const CLIENT_PORT: u16 = 50_123;

/// Removes the capture file however the test ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn skip_or_fail(why: &str) {
    if std::env::var("LVS_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("tshark interop cannot run ({why}) and LVS_REQUIRE_INTEROP=1 forbids skipping");
    }
    eprintln!("\n*** SKIP ntp_tshark: {why}; install the `tshark` package to run it ***\n");
}

fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 + UDP datagram around `payload` with valid checksums.
fn ipv4_udp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), id: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = u16::try_from(8 + payload.len()).unwrap();
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&src.1.to_be_bytes());
    udp.extend_from_slice(&dst.1.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.0.octets());
    pseudo.extend_from_slice(&dst.0.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    let c = match checksum(&[&pseudo, &udp]) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());

    let total = 20 + udp_len;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&id.to_be_bytes());
    ip.extend_from_slice(&[0x40, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&src.0.octets());
    ip.extend_from_slice(&dst.0.octets());
    let c = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(&udp);
    ip
}

/// A classic pcap file (LINKTYPE_RAW: each record is an IP packet).
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&0i32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&65_535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.len()).unwrap();
        f.extend_from_slice(&1_705_290_929u32.to_le_bytes());
        f.extend_from_slice(&(u32::try_from(i).unwrap() * 1000).to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(p);
    }
    f
}

fn emit(msg: &NtpMessage<'_>) -> Vec<u8> {
    let mut out = vec![0; msg.buffer_len()];
    assert_eq!(msg.emit(&mut out), Ok(out.len()));
    out
}

#[test]
fn tshark_dissects_our_packets_cleanly() {
    if !tshark_available() {
        skip_or_fail("tshark not found");
        return;
    }
    let base = UnixNanos::from_secs(1_705_290_929);
    let at = |ms: i128| NtpTimestamp::from_unix_nanos(UnixNanos(base.as_nanos() + ms * 1_000_000));

    let request = NtpMessage::new(NtpRepr {
        transmit: at(0),
        ..CLIENT_REQUEST_REPR
    });
    let request_bytes = emit(&request);

    let sys = SystemState {
        synchronized: true,
        leap: LeapIndicator::NoWarning,
        stratum: 3,
        precision: -20,
        root_delay: NtpShort::from_parts(0, 0x0800),
        root_dispersion: NtpShort::from_parts(0, 0x0400),
        refid: Refid::from_ipv4(Ipv4Addr::new(198, 51, 100, 7)),
        reference: at(-60_000),
        local_stratum: None,
    };
    let mut reply = [0u8; 64];
    let n = respond(&request_bytes, at(2), at(3), &sys, &mut reply).unwrap();

    let mut ef = [0u8; 32];
    let ef_len = emit_extension(0x0104, &[0x5a; 12], &mut ef).unwrap();
    let digest = [0x11u8; 16];
    let authenticated = NtpMessage {
        header: NtpRepr {
            transmit: at(10),
            ..CLIENT_REQUEST_REPR
        },
        extensions: ExtensionFields::new(&ef[..ef_len]).unwrap(),
        mac: Some(Mac::Digest {
            key_id: 0x0102_0304,
            digest: &digest,
        }),
    };

    let c = (CLIENT, CLIENT_PORT);
    let s = (SERVER, 123);
    let packets = vec![
        ipv4_udp(c, s, 1, &request_bytes),
        ipv4_udp(s, c, 2, &reply[..n]),
        ipv4_udp(s, c, 3, &KOD_RATE),
        ipv4_udp(c, s, 4, &emit(&authenticated)),
    ];
    let path = std::env::temp_dir().join(format!("lvs-ntp-tshark-{}.pcap", std::process::id()));
    let file = TempFile(path);
    std::fs::write(&file.0, pcap(&packets)).unwrap();

    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ])
        .args(["-V", "-r"])
        .arg(&file.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info (Error"), "{text}");
    assert!(!text.contains("[Bad"), "{text}");
    assert_eq!(
        text.matches("[Header checksum status: Good]").count(),
        4,
        "{text}"
    );
    assert_eq!(text.matches("[Checksum Status: Good]").count(), 4, "{text}");
    assert_eq!(text.matches("Network Time Protocol").count(), 4, "{text}");
    for needle in [
        "Version number: NTP Version 4 (4)",
        "Mode: client (3)",
        "Mode: server (4)",
        "Peer Clock Stratum: secondary reference (3)",
        "Reference ID: 198.51.100.7",
        "Peer Clock Precision: 0.000001 seconds",
        "Root Delay: 0.031250",
        "Root Dispersion: 0.015625",
        "Transmit Timestamp: Jan 15, 2024 03:55:29.003",
        "Receive Timestamp: Jan 15, 2024 03:55:29.002",
        "Origin Timestamp: Jan 15, 2024 03:55:29.000",
        "Reference Timestamp: Jan 15, 2024 03:54:29.000",
        "Leap Indicator: unknown (clock unsynchronized) (3)",
        "Reference ID: Unidentified reference source 'RATE'",
        "Field Type: Unique Identifier (0x0104)",
        "Value: 5a5a5a5a5a5a5a5a5a5a5a5a",
        "Key ID: 01020304",
        "Message Authentication Code: 11111111111111111111111111111111",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
