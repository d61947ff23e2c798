//! Byte fixtures shared by the tests, the differential test and the fuzz seed corpus: real-shaped
//! messages assembled by hand (independently of [`crate::wire::MessageBuilder`]) and the hostile
//! inputs of the design notes, each with the verdict the parser must give.

use crate::wire::{Section, WireError};

/// Assembles a message byte by byte.
#[derive(Clone, Debug, Default)]
pub struct Raw(pub Vec<u8>);

impl Raw {
    /// A header with the given ID, flag word (QR/OPCODE/AA/TC/RD/RA/Z/AD/CD/RCODE) and counts.
    pub fn header(id: u16, word: u16, counts: [u16; 4]) -> Self {
        let mut v = Vec::with_capacity(512);
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&word.to_be_bytes());
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        Self(v)
    }

    /// Appends raw bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    /// Appends an uncompressed name from dotted text (no escapes; `""` is the root).
    pub fn name(mut self, text: &str) -> Self {
        for label in text.split('.').filter(|l| !l.is_empty()) {
            self.0.push(label.len() as u8);
            self.0.extend_from_slice(label.as_bytes());
        }
        self.0.push(0);
        self
    }

    /// Appends labels from dotted text followed by a pointer to `target`.
    pub fn name_ptr(mut self, text: &str, target: u16) -> Self {
        for label in text.split('.').filter(|l| !l.is_empty()) {
            self.0.push(label.len() as u8);
            self.0.extend_from_slice(label.as_bytes());
        }
        self.0.extend_from_slice(&(0xc000 | target).to_be_bytes());
        self
    }

    /// Appends a 16-bit value.
    pub fn u16(mut self, v: u16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a 32-bit value.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends TYPE, CLASS, TTL, RDLENGTH and RDATA (after an owner name).
    pub fn rr(self, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Self {
        self.u16(rtype)
            .u16(class)
            .u32(ttl)
            .u16(rdata.len() as u16)
            .bytes(rdata)
    }

    /// Current length (the offset the next byte gets).
    pub fn len(&self) -> u16 {
        self.0.len() as u16
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An OPT record (root owner) with `payload`, `ttl` and `options` as raw RDATA.
fn opt(r: Raw, payload: u16, ttl: u32, options: &[u8]) -> Raw {
    r.bytes(&[0]).rr(41, payload, ttl, options)
}

/// Well-formed messages: (name, bytes). Each parses, and `hickory-proto` agrees on it.
pub fn well_formed() -> Vec<(&'static str, Vec<u8>)> {
    let q = |id, word, counts| {
        Raw::header(id, word, counts)
            .name("www.example.com")
            .u16(1)
            .u16(1)
    };
    let mut v = Vec::new();
    v.push((
        "query_a_edns",
        opt(q(0x1234, 0x0100, [1, 0, 0, 1]), 1232, 0x0000_8000, &[]).0,
    ));
    // CNAME then A, owners compressed to the question, CNAME target compressed to "example.com".
    v.push((
        "response_cname_a",
        q(0xbeef, 0x8180, [1, 2, 0, 0])
            .name_ptr("", 12)
            .rr(5, 1, 300, &[3, b'w', b'e', b'b', 0xc0, 16])
            .name_ptr("web", 16)
            .rr(1, 1, 60, &[192, 0, 2, 7])
            .0,
    ));
    // MX answer, NS + SOA authority, A glue, OPT carrying an EDE (code 3, "stale").
    let soa = Raw::default()
        .name_ptr("ns1", 12)
        .name_ptr("hostmaster", 12)
        .u32(20_240_101)
        .u32(7200)
        .u32(3600)
        .u32(1_209_600)
        .u32(300)
        .0;
    let mx = Raw::default().u16(10).name_ptr("mail", 12).0;
    v.push((
        "response_mx_ns_soa_edns_ede",
        opt(
            Raw::header(7, 0x8580, [1, 1, 2, 2])
                .name("example.com")
                .u16(15)
                .u16(1)
                .name_ptr("", 12)
                .rr(15, 1, 3600, &mx)
                .name_ptr("", 12)
                .rr(2, 1, 86400, &[3, b'n', b's', b'1', 0xc0, 12])
                .name_ptr("", 12)
                .rr(6, 1, 3600, &soa)
                .name_ptr("ns1", 12)
                .rr(1, 1, 86400, &[198, 51, 100, 1]),
            1232,
            0,
            &[0, 15, 0, 7, 0, 3, b's', b't', b'a', b'l', b'e'],
        )
        .0,
    ));
    v.push((
        "response_aaaa_txt",
        Raw::header(9, 0x8180, [1, 2, 0, 0])
            .name("Host.Example.ORG")
            .u16(28)
            .u16(1)
            .name_ptr("", 12)
            .rr(
                28,
                1,
                30,
                &[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            )
            .name_ptr("", 12)
            .rr(16, 1, 30, b"\x05hello\x00\x0aworld; v=1\x01\xff")
            .0,
    ));
    // An unknown type whose RDATA happens to look like a pointer: it must stay opaque.
    v.push((
        "response_unknown_type",
        Raw::header(10, 0x8180, [1, 1, 0, 0])
            .name("x.example")
            .u16(65280)
            .u16(1)
            .name_ptr("", 12)
            .rr(65280, 1, 5, &[0xc0, 0x0c, 0xde, 0xad])
            .0,
    ));
    // NXDOMAIN with the SOA in authority (negative caching input).
    v.push((
        "nxdomain_soa",
        Raw::header(11, 0x8183, [1, 0, 1, 0])
            .name("nope.example.net")
            .u16(1)
            .u16(1)
            .name_ptr("", 17)
            .rr(6, 1, 900, &{
                let mut s = Raw::default().name_ptr("a.ns", 17).name_ptr("admin", 17);
                for n in [1u32, 2, 3, 4, 60] {
                    s = s.u32(n);
                }
                s.0
            })
            .0,
    ));
    // A query with no question (a cookie-only probe) and one with two.
    v.push((
        "qdcount_0_cookie",
        opt(
            Raw::header(12, 0x0000, [0, 0, 0, 1]),
            4096,
            0,
            &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
        )
        .0,
    ));
    v.push((
        "qdcount_2",
        Raw::header(13, 0x0100, [2, 0, 0, 0])
            .name("a.example")
            .u16(1)
            .u16(1)
            .name_ptr("b", 14)
            .u16(28)
            .u16(1)
            .0,
    ));
    v
}

/// A hostile input for the message parser (or, with `tcp`, for the TCP decoder) and the verdict
/// it must get.
#[derive(Clone, Debug)]
pub struct Hostile {
    /// Short name, also the seed file name.
    pub name: &'static str,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// What parsing must return.
    pub expect: Result<(), WireError>,
    /// Whether the bytes are a TCP stream rather than one message.
    pub tcp: bool,
}

/// The hostile inputs that concern the wire codec (pointer loops, bad lengths, OPT misuse ...).
pub fn hostile() -> Vec<Hostile> {
    use WireError as E;
    let h = |name, bytes: Vec<u8>, expect| Hostile {
        name,
        bytes,
        expect,
        tcp: false,
    };
    let one_q = |counts| Raw::header(1, 0x0100, counts);
    let answer = |counts: [u16; 4]| {
        Raw::header(2, 0x8180, counts)
            .name("a.example")
            .u16(1)
            .u16(1)
    };
    let mut v = vec![
        h("short_header", vec![0; 11], Err(E::ShortHeader)),
        h(
            "pointer_to_itself",
            one_q([1, 0, 0, 0]).bytes(&[0xc0, 12, 0, 1, 0, 1]).0,
            Err(E::PointerNotBackward),
        ),
        h(
            "forward_pointer",
            one_q([1, 0, 0, 0])
                .bytes(&[1, b'a', 0xc0, 20, 0, 1, 0, 1, 0, 0, 0, 0])
                .0,
            Err(E::PointerNotBackward),
        ),
        h(
            "pointer_into_header",
            one_q([1, 0, 0, 0]).bytes(&[0xc0, 4, 0, 1, 0, 1]).0,
            Err(E::PointerIntoHeader),
        ),
        h(
            "pointer_past_end",
            one_q([1, 0, 0, 0]).bytes(&[0xff, 0xff, 0, 1, 0, 1]).0,
            Err(E::PointerNotBackward),
        ),
        h(
            "label_64",
            one_q([1, 0, 0, 0])
                .bytes(&[0x40])
                .bytes(&[b'a'; 64])
                .bytes(&[0, 0, 1, 0, 1])
                .0,
            Err(E::ReservedLabelType),
        ),
        h(
            "label_type_0x80",
            one_q([1, 0, 0, 0]).bytes(&[0x80, 0, 0, 1, 0, 1]).0,
            Err(E::ReservedLabelType),
        ),
        h(
            "ancount_65535_in_40_bytes",
            {
                let mut b = one_q([1, 65535, 0, 0]).name("a.example").u16(1).u16(1).0;
                b.resize(40, 0);
                b
            },
            Err(E::CountTooLarge(Section::Answer)),
        ),
        h(
            "qdcount_65535",
            one_q([65535, 0, 0, 0]).name("a.example").u16(1).u16(1).0,
            Err(E::CountTooLarge(Section::Question)),
        ),
        h(
            "rdlength_past_end",
            answer([1, 1, 0, 0])
                .name_ptr("", 12)
                .u16(1)
                .u16(1)
                .u32(5)
                .u16(40)
                .bytes(&[1, 2, 3, 4])
                .0,
            Err(E::RdataTruncated),
        ),
        h(
            "a_rdlength_5",
            answer([1, 1, 0, 0])
                .name_ptr("", 12)
                .rr(1, 1, 5, &[1, 2, 3, 4, 5])
                .0,
            Err(E::RdataMalformed),
        ),
        h(
            "soa_truncated_rdata_name",
            answer([1, 0, 1, 0])
                .name_ptr("", 12)
                .rr(6, 1, 5, &[3, b'n', b's'])
                .0,
            Err(E::NameTruncated),
        ),
        h(
            "record_header_truncated",
            answer([1, 1, 0, 0])
                .name_ptr("", 12)
                .u16(1)
                .u16(1)
                .bytes(&[0; 4])
                .0,
            Err(E::RecordTruncated),
        ),
        h(
            "trailing_bytes",
            answer([1, 0, 0, 0]).bytes(&[0xff]).0,
            Err(E::TrailingBytes),
        ),
        h(
            "two_opts",
            opt(opt(answer([1, 0, 0, 2]), 1232, 0, &[]), 1232, 0, &[]).0,
            Err(E::MultipleOpt),
        ),
        h(
            "opt_in_answer",
            opt(answer([1, 1, 0, 0]), 1232, 0, &[]).0,
            Err(E::OptNotInAdditional),
        ),
        h(
            "opt_owner_not_root",
            answer([1, 0, 0, 1]).name_ptr("", 12).rr(41, 1232, 0, &[]).0,
            Err(E::OptOwnerNotRoot),
        ),
        h(
            "opt_option_past_rdlength",
            opt(
                answer([1, 0, 0, 1]),
                1232,
                0,
                &[0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8],
            )
            .0,
            Err(E::OptionTruncated),
        ),
        h(
            "edns_version_1",
            opt(answer([1, 0, 0, 1]), 1232, 0x0001_0000, &[]).0,
            Ok(()),
        ),
        h(
            "edns_payload_0",
            opt(answer([1, 0, 0, 1]), 0, 0, &[]).0,
            Ok(()),
        ),
        h(
            "edns_payload_65535",
            opt(answer([1, 0, 0, 1]), 65535, 0, &[]).0,
            Ok(()),
        ),
        h(
            "qr_set_in_query",
            Raw::header(3, 0x8100, [1, 0, 0, 0])
                .name("a.example")
                .u16(1)
                .u16(1)
                .0,
            Ok(()),
        ),
        h(
            "opcode_15",
            Raw::header(3, 0x7800, [1, 0, 0, 0])
                .name("a.example")
                .u16(1)
                .u16(1)
                .0,
            Ok(()),
        ),
        h(
            "compressed_name_in_unknown_rdata",
            answer([1, 1, 0, 0])
                .name_ptr("", 12)
                .rr(0xff01, 1, 5, &[0xc0, 12])
                .0,
            Ok(()),
        ),
    ];
    // Names whose length is only known after decompression: a 3-label prefix ("ab" = 3
    // octets) pointing at a question name of 252 octets is 255 (fine), at 253 it is 256.
    for (name, last, expect) in [
        ("name_255_after_decompression", 58, Ok(())),
        ("name_256_after_decompression", 59, Err(E::NameTooLong)),
    ] {
        let long = vec!["x".repeat(63); 3].join(".") + "." + &"y".repeat(last);
        let r = Raw::header(4, 0x8180, [1, 1, 0, 0])
            .name(&long)
            .u16(1)
            .u16(1)
            .name_ptr("ab", 12)
            .rr(1, 1, 5, &[1, 2, 3, 4]);
        v.push(h(name, r.0, expect));
    }
    // Chains of backward pointers: an opaque RDATA holds pointers that each target the one
    // before (the first targets the root question name at 12); an additional record's owner
    // points at the last one. The owner's name is thus `hops` pointers deep.
    for (name, hops, expect) in [
        ("pointer_chain_127", 127u16, Ok(())),
        ("pointer_chain_128", 128, Err(E::TooManyPointers)),
    ] {
        let mut rdata = Vec::new();
        let first = 28; // 12 header + 5 question + 11 answer record up to its RDATA
        for i in 0..hops - 1 {
            let target = if i == 0 { 12 } else { first + 2 * (i - 1) };
            rdata.extend_from_slice(&(0xc000 | target).to_be_bytes());
        }
        let r = Raw::header(5, 0x8180, [1, 1, 0, 1])
            .name("")
            .u16(1)
            .u16(1)
            .name("")
            .rr(0xff02, 1, 5, &rdata)
            .name_ptr("", first + 2 * (hops - 2))
            .rr(1, 1, 5, &[1, 2, 3, 4]);
        v.push(h(name, r.0, expect));
    }
    let tcp = |name, bytes: Vec<u8>, expect| Hostile {
        name,
        bytes,
        expect,
        tcp: true,
    };
    v.push(tcp(
        "tcp_zero_length_frame",
        vec![0, 0, 0, 5],
        Err(E::ZeroLengthFrame),
    ));
    v.push(tcp("tcp_length_1", vec![0, 1, 0xff], Ok(())));
    v
}
