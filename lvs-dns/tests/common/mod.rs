//! A random message model shared by the round-trip and differential tests: a strategy, an
//! encoder through [`MessageBuilder`] and a checker against the parsed view.

#![allow(dead_code, unreachable_pub)]

use bytes::BytesMut;
use lvs_dns::wire::{
    CharStrings, Flags, Message, MessageBuilder, NameBuf, RData, Section, Soa, class, rtype,
};
use proptest::prelude::*;

pub fn name(t: &str) -> NameBuf {
    NameBuf::from_text(t).expect("valid name text")
}

#[derive(Clone, Debug)]
pub enum Rd {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Ns(String),
    Cname(String),
    Mx(u16, String),
    Txt(Vec<Vec<u8>>),
    Soa(String, String, [u32; 5]),
    Srv(u16, u16, u16, String),
    Unknown(u16, Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Rr {
    pub owner: String,
    pub ttl: u32,
    pub rd: Rd,
}

/// The OPT record: payload size, DO bit, options as (code, data).
pub type OptModel = (u16, bool, Vec<(u16, Vec<u8>)>);

#[derive(Clone, Debug)]
pub struct Model {
    pub id: u16,
    pub flags: u16,
    pub opcode: u8,
    pub rcode: u16,
    pub questions: Vec<(String, u16, u16)>,
    pub sections: [Vec<Rr>; 3],
    pub opt: Option<OptModel>,
}

pub fn name_strategy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec("[a-cA-C0-9-]{1,4}", 0..3),
        prop::sample::select(vec!["", "example.com", "Example.COM", "a.b.c.example.net"]),
    )
        .prop_map(|(mut labels, suffix)| {
            labels.extend(
                suffix
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
            labels.join(".")
        })
}

pub fn rd_strategy() -> impl Strategy<Value = Rd> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Rd::A),
        any::<[u8; 16]>().prop_map(Rd::Aaaa),
        name_strategy().prop_map(Rd::Ns),
        name_strategy().prop_map(Rd::Cname),
        (any::<u16>(), name_strategy()).prop_map(|(p, n)| Rd::Mx(p, n)),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..4).prop_map(Rd::Txt),
        (name_strategy(), name_strategy(), any::<[u32; 5]>())
            .prop_map(|(m, r, n)| Rd::Soa(m, r, n)),
        (any::<u16>(), any::<u16>(), any::<u16>(), name_strategy())
            .prop_map(|(p, w, port, n)| Rd::Srv(p, w, port, n)),
        (65400u16..=65500, prop::collection::vec(any::<u8>(), 1..30))
            .prop_map(|(t, d)| Rd::Unknown(t, d)),
    ]
}

pub fn rr_strategy() -> impl Strategy<Value = Rr> {
    (name_strategy(), any::<u32>(), rd_strategy()).prop_map(|(owner, ttl, rd)| Rr {
        owner,
        ttl,
        rd,
    })
}

pub fn model_strategy() -> impl Strategy<Value = Model> {
    (
        any::<u16>(),
        any::<u16>().prop_map(|f| f & Flags::ALL.0),
        0u8..16,
        0u16..4096,
        prop::collection::vec((name_strategy(), any::<u16>(), any::<u16>()), 0..3),
        [
            prop::collection::vec(rr_strategy(), 0..6),
            prop::collection::vec(rr_strategy(), 0..4),
            prop::collection::vec(rr_strategy(), 0..4),
        ],
        prop::option::of((
            any::<u16>(),
            any::<bool>(),
            prop::collection::vec(
                (any::<u16>(), prop::collection::vec(any::<u8>(), 0..12)),
                0..3,
            ),
        )),
    )
        .prop_map(|(id, flags, opcode, rcode, questions, sections, opt)| {
            // An extended RCODE needs the OPT record.
            let rcode = if opt.is_some() { rcode } else { rcode & 0x0f };
            Model {
                id,
                flags,
                opcode,
                rcode,
                questions,
                sections,
                opt,
            }
        })
}

pub fn with_rdata<T>(rd: &Rd, f: impl FnOnce(&RData<'_>) -> T) -> T {
    let n = |s: &str| name(s);
    match rd {
        Rd::A(x) => f(&RData::A((*x).into())),
        Rd::Aaaa(x) => f(&RData::Aaaa((*x).into())),
        Rd::Ns(s) => f(&RData::Ns(n(s).as_name())),
        Rd::Cname(s) => f(&RData::Cname(n(s).as_name())),
        Rd::Mx(p, s) => f(&RData::Mx {
            preference: *p,
            exchange: n(s).as_name(),
        }),
        Rd::Txt(strings) => {
            let mut wire = Vec::new();
            for s in strings {
                wire.push(s.len() as u8);
                wire.extend_from_slice(s);
            }
            f(&RData::Txt(CharStrings::new(&wire).unwrap()))
        }
        Rd::Soa(m, r, v) => {
            let (m, r) = (n(m), n(r));
            f(&RData::Soa(Soa {
                mname: m.as_name(),
                rname: r.as_name(),
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4],
            }))
        }
        Rd::Srv(p, w, port, s) => f(&RData::Srv {
            priority: *p,
            weight: *w,
            port: *port,
            target: n(s).as_name(),
        }),
        Rd::Unknown(t, d) => f(&RData::Other { rtype: *t, data: d }),
    }
}

pub fn build(m: &Model, compress: bool) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut b = MessageBuilder::new(&mut out).unwrap();
    b.set_compression(compress);
    b.set_id(m.id);
    b.set_flags(Flags(m.flags));
    b.set_opcode(m.opcode);
    b.set_rcode(m.rcode);
    for (q, t, c) in &m.questions {
        b.question(&name(q).as_name(), *t, *c).unwrap();
    }
    for (s, rrs) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .zip(&m.sections)
    {
        for rr in rrs {
            with_rdata(&rr.rd, |rd| {
                b.record(s, &name(&rr.owner).as_name(), class::IN, rr.ttl, rd)
            })
            .unwrap();
        }
    }
    if let Some((payload, dnssec_ok, options)) = &m.opt {
        let mut w = b.opt(*payload, *dnssec_ok).unwrap();
        for (code, data) in options {
            w.option(*code, data).unwrap();
        }
    }
    b.finish().unwrap();
    out.to_vec()
}

pub fn check(m: &Model, wire: &[u8]) {
    let msg = Message::parse(wire).unwrap();
    let h = msg.header();
    assert_eq!(
        (h.id(), h.flags().0, h.opcode(), msg.rcode()),
        (m.id, m.flags, m.opcode, m.rcode)
    );
    let qs: Vec<_> = msg.questions().collect();
    assert_eq!(qs.len(), m.questions.len());
    for (q, (n, t, c)) in qs.iter().zip(&m.questions) {
        assert!(q.name.eq_exact(&name(n).as_name()));
        assert_eq!((q.qtype, q.qclass), (*t, *c));
    }
    for (s, rrs) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .zip(&m.sections)
    {
        let got: Vec<_> = msg.records(s).filter(|r| r.rtype != rtype::OPT).collect();
        assert_eq!(got.len(), rrs.len());
        for (g, want) in got.iter().zip(rrs) {
            assert!(g.name.eq_exact(&name(&want.owner).as_name()));
            assert_eq!((g.class, g.ttl), (class::IN, want.ttl));
            // Compare the decompressed RDATA with the model's uncompressed encoding.
            let mut expect = BytesMut::new();
            let mut eb = MessageBuilder::new(&mut expect).unwrap();
            eb.set_compression(false);
            with_rdata(&want.rd, |rd| {
                assert_eq!(g.rtype, rd.rtype());
                eb.record(
                    Section::Answer,
                    &NameBuf::from_text(".").unwrap().as_name(),
                    1,
                    0,
                    rd,
                )
            })
            .unwrap();
            eb.finish().unwrap();
            let mut buf = [0u8; 1024];
            let n = g.write_rdata_uncompressed(&mut buf).unwrap();
            assert_eq!(&buf[..n], &expect[12 + 11..]);
        }
    }
    match (&m.opt, msg.edns()) {
        (None, None) => {}
        (Some((payload, dnssec_ok, options)), Some(e)) => {
            assert_eq!((e.udp_payload, e.dnssec_ok), (*payload, *dnssec_ok));
            let got: Vec<(u16, Vec<u8>)> = e.options().map(|o| (o.code, o.data.to_vec())).collect();
            assert_eq!(&got, options);
        }
        other => panic!("OPT mismatch {other:?}"),
    }
}
