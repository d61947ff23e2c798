//! The mode-6 answer builder against ntpd's conventions, and the committed seeds of
//! `fuzz/corpus/ntp_mode6/` replayed through the function the `ntp_mode6` fuzz target calls.

use std::path::Path;

use lvs_ntp::fuzzing::{MODE6_PEERS, MODE6_SYSTEM, ntp_mode6};
use lvs_ntp::mode6::{
    ControlHeader, HEADER_LEN, MAX_DATA, MAX_PACKET, Mode6Error, Responder, Snapshot,
    parse_variables,
};

fn snapshot() -> Snapshot<'static> {
    Snapshot {
        system: MODE6_SYSTEM,
        peers: &MODE6_PEERS,
    }
}

/// A request as ntpq builds it: version 2, padded to 4 bytes.
fn request(opcode: u8, association: u16, data: &[u8]) -> Vec<u8> {
    let mut p = vec![0x16, opcode, 0x12, 0x34, 0, 0];
    p.extend_from_slice(&association.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    p.extend_from_slice(data);
    while p.len() % 4 != 0 {
        p.push(0);
    }
    p
}

/// Answers and returns every fragment on the wire.
fn exchange(packet: &[u8]) -> Result<Vec<Vec<u8>>, Mode6Error> {
    let snap = snapshot();
    let mut r = Responder::new();
    let response = r.answer(packet, &snap)?;
    Ok((0..response.fragments())
        .map(|i| {
            let mut buf = [0u8; MAX_PACKET];
            let n = response.write_fragment(i, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect())
}

/// Reassembles fragments the way ntpq does (by offset and count).
fn reassemble(fragments: &[Vec<u8>]) -> (ControlHeader, Vec<u8>) {
    let mut data = Vec::new();
    let mut last = ControlHeader::default();
    for f in fragments {
        let h = ControlHeader::parse(f).unwrap();
        assert_eq!(usize::from(h.offset), data.len());
        data.extend_from_slice(&f[HEADER_LEN..HEADER_LEN + usize::from(h.count)]);
        last = h;
    }
    assert!(!last.more);
    (last, data)
}

fn names(text: &[u8]) -> Vec<&str> {
    parse_variables(text).map(|(n, _)| n).collect()
}

fn value<'a>(text: &'a [u8], name: &str) -> Option<&'a str> {
    parse_variables(text)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[test]
fn association_list_is_binary_pairs_with_the_system_status() {
    let frags = exchange(&request(1, 0, b"")).unwrap();
    let (h, data) = reassemble(&frags);
    assert!(h.response && !h.error && h.opcode == 1 && h.sequence == 0x1234);
    assert_eq!(h.status, MODE6_SYSTEM.status.word());
    assert_eq!(data.len(), 4 * MODE6_PEERS.len());
    for (pair, p) in data.chunks(4).zip(&MODE6_PEERS) {
        assert_eq!(u16::from_be_bytes([pair[0], pair[1]]), p.association);
        assert_eq!(u16::from_be_bytes([pair[2], pair[3]]), p.status.word());
    }
    // Binary data gets no CR LF; the fragment is padded to 4 bytes.
    assert_eq!(frags[0].len(), HEADER_LEN + 12);
}

#[test]
fn system_variables_follow_ntpd() {
    let frags = exchange(&request(2, 0, b"")).unwrap();
    let (h, text) = reassemble(&frags);
    assert_eq!(
        h.status, 0x0645,
        "LI 0, source NTP, 4 events, last clock_sync"
    );
    assert_eq!(frags[0][0], 0x16, "LI 0, the request's version 2, mode 6");
    assert_eq!(
        names(&text),
        [
            "leap",
            "stratum",
            "precision",
            "rootdelay",
            "rootdisp",
            "refid",
            "reftime",
            "tc",
            "peer",
            "offset",
            "frequency",
            "sys_jitter",
            "clk_jitter",
            "clock",
            "processor",
            "system",
            "version",
            "clk_wander",
            "mintc"
        ]
    );
    let v = |n| value(&text, n).unwrap();
    assert_eq!(v("stratum"), "3");
    assert_eq!(v("precision"), "-20");
    assert_eq!(v("rootdelay"), "12.500");
    assert_eq!(v("rootdisp"), "21.300");
    assert_eq!(v("refid"), "192.0.2.1");
    assert_eq!(v("reftime"), "0xec000000.80000000");
    assert_eq!(v("tc"), "6");
    assert_eq!(v("peer"), "101");
    assert_eq!(v("offset"), "-0.123456");
    assert_eq!(v("frequency"), "-12.345678");
    assert_eq!(v("mintc"), "3");
    assert_eq!(
        v("version"),
        "lvs-ntpd 0.1.0 (mode 6 fixture, with a .quote.)"
    );
    // ntpd's text shape: lines under 72 characters, ", " inside, CR LF at the end.
    assert!(text.ends_with(b"\r\n"));
    let s = std::str::from_utf8(&text).unwrap();
    assert!(s.contains(",\r\n") && s.contains(", "));
    for line in s.split("\r\n") {
        assert!(line.len() < 72, "{line:?}");
    }
}

/// `ntpstat` reads only the first fragment and finds its fields with `strstr`, cutting at the
/// next comma: they must be there, and `tc=` must come before `mintc=`.
#[test]
fn ntpstat_finds_its_fields_in_the_first_fragment() {
    let frags = exchange(&request(2, 0, b"")).unwrap();
    let first = std::str::from_utf8(&frags[0][HEADER_LEN..]).unwrap();
    let field = |key: &str| {
        let at = first.find(key).unwrap_or_else(|| panic!("{key} missing"));
        first[at + key.len()..]
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(field("refid="), "192.0.2.1");
    assert_eq!(field("stratum="), "3");
    assert_eq!(field("rootdisp="), "21.300");
    assert_eq!(field("rootdelay="), "12.500");
    assert_eq!(field("tc="), "6");
}

#[test]
fn a_variable_list_selects_in_ntpd_order() {
    let (_, text) = reassemble(&exchange(&request(2, 0, b"tc, refid,stratum")).unwrap());
    assert_eq!(names(&text), ["stratum", "refid", "tc"]);
    let (h, text) = reassemble(&exchange(&request(2, 101, b"reach,srcadr,config")).unwrap());
    assert_eq!(h.status, MODE6_PEERS[0].status.word());
    assert_eq!(
        parse_variables(&text).collect::<Vec<_>>(),
        [("config", "1"), ("srcadr", "192.0.2.1"), ("reach", "0xff")]
    );
}

#[test]
fn peer_variables_are_fragmented_at_ntpds_limit() {
    let frags = exchange(&request(2, 101, b"")).unwrap();
    assert!(frags.len() >= 2, "{} fragments", frags.len());
    for (i, f) in frags.iter().enumerate() {
        let h = ControlHeader::parse(f).unwrap();
        assert_eq!(h.more, i + 1 < frags.len());
        assert_eq!(f.len() % 4, 0);
        assert!(usize::from(h.count) <= MAX_DATA);
        if h.more {
            assert_eq!(usize::from(h.count), MAX_DATA);
        }
    }
    let (h, text) = reassemble(&frags);
    assert_eq!(
        h.status, 0x962a,
        "config, reach, sys.peer, 2 events, last sys_peer"
    );
    let v = |n| value(&text, n).unwrap();
    assert_eq!(v("srcadr"), "192.0.2.1");
    assert_eq!(v("srcport"), "123");
    assert_eq!(v("dstadr"), "192.0.2.9");
    assert_eq!(v("hmode"), "3");
    assert_eq!(v("stratum"), "2");
    assert_eq!(v("refid"), "10.1.1.1");
    assert_eq!(v("reach"), "0xff");
    assert_eq!(v("delay"), "0.250000");
    assert_eq!(v("offset"), "-0.125000");
    assert_eq!(v("jitter"), "0.031000");
    assert_eq!(v("rec"), "0xec000038.10000000");
    assert_eq!(v("filtdelay"), "0.25 0.25 0.25 0.00 0.00 0.00 0.00 0.00");
    assert_eq!(
        v("filtdisp"),
        "0.02 0.02 0.02 16000.00 16000.00 16000.00 16000.00 16000.00"
    );
    assert!(!names(&text).contains(&"config"), "config is not a default");
}

#[test]
fn refids_print_as_ntpd_does() {
    let (_, gps) = reassemble(&exchange(&request(2, 102, b"refid")).unwrap());
    assert_eq!(value(&gps, "refid"), Some("GPS"));
    let (h, init) = reassemble(&exchange(&request(2, 103, b"refid,stratum")).unwrap());
    assert_eq!(value(&init, "refid"), Some("INIT"));
    assert_eq!(
        h.status & 0xff00,
        0,
        "not configured, unreachable, rejected"
    );
}

#[test]
fn unsupported_requests_get_ntpds_error_codes() {
    for (opcode, assoc, data, code) in [
        (2u8, 999u16, &b""[..], 4u16),
        (1, 999, b"", 4),
        (0, 999, b"", 4),
        (2, 0, b"stratum,nosuchvar", 5),
        (3, 0, b"leap=0", 1),
        (8, 0, b"server 192.0.2.1", 1),
        (5, 0, b"", 1),
        (6, 0, b"", 3),
        (31, 0, b"", 3),
        (10, 0, b"frags=32", 3),
        (12, 0, b"", 3),
        (4, 0, b"", 4),
    ] {
        let frags = exchange(&request(opcode, assoc, data)).unwrap();
        assert_eq!(frags.len(), 1);
        let h = ControlHeader::parse(&frags[0]).unwrap();
        assert!(h.response && h.error, "opcode {opcode}");
        assert_eq!((h.status, h.count, h.opcode), (code << 8, 0, opcode));
        assert_eq!(frags[0].len(), HEADER_LEN);
    }
    // A count beyond the data received is a format error.
    let mut p = request(2, 0, b"stratum");
    p[10..12].copy_from_slice(&900u16.to_be_bytes());
    let h = ControlHeader::parse(&exchange(&p).unwrap()[0]).unwrap();
    assert_eq!(h.status, 2 << 8);
}

#[test]
fn non_requests_get_no_answer() {
    let ok = request(2, 0, b"");
    let mut response = ok.clone();
    response[1] |= 0x80;
    assert_eq!(exchange(&response), Err(Mode6Error::NotRequest));
    let mut more = ok.clone();
    more[1] |= 0x20;
    assert_eq!(exchange(&more), Err(Mode6Error::NotRequest));
    let mut v5 = ok.clone();
    v5[0] = 0x2e;
    assert_eq!(exchange(&v5), Err(Mode6Error::Version(5)));
    let mut client = ok.clone();
    client[0] = 0x23;
    assert_eq!(exchange(&client), Err(Mode6Error::NotControl(3)));
    for n in 0..HEADER_LEN {
        assert_eq!(exchange(&ok[..n]), Err(Mode6Error::Truncated));
    }
    let mut r = Responder::new();
    let _ = r.answer(&v5, &snapshot());
    let _ = r.answer(&ok, &snapshot());
    let _ = r.answer(&request(6, 0, b""), &snapshot());
    let s = r.stats();
    assert_eq!((s.ignored, s.answered, s.errors), (1, 1, 1));
}

#[test]
fn ntp_mode6_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/ntp_mode6");
    let mut seeds = 0;
    let mut answered = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.expect("dir entry").path()).expect("read seed");
        ntp_mode6(&data);
        seeds += 1;
        answered += usize::from(exchange(&data).is_ok());
    }
    assert!(seeds >= 10, "{seeds} seeds in {}", dir.display());
    assert!(answered >= 5 && answered < seeds, "{answered} of {seeds}");
}

#[test]
fn ntp_mode6_survives_mutated_requests() {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let bases = [
        request(1, 0, b""),
        request(2, 0, b"stratum,refid"),
        request(2, 101, b""),
        request(2, 102, b"filtdelay,rec"),
    ];
    for base in &bases {
        for _ in 0..400 {
            let mut data = base.clone();
            let extra = (next() % 40) as usize;
            data.extend((0..extra).map(|_| next() as u8));
            for _ in 0..(next() % 4) {
                let i = (next() as usize) % data.len();
                data[i] = next() as u8;
            }
            let cut = (next() as usize) % (data.len() + 1);
            ntp_mode6(&data[..cut.max(data.len() / 2)]);
        }
    }
}
