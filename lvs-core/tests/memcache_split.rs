//! Split invariance over a ~64 KiB pipelined corpus, and write-then-parse round trips.

use lvs_core::memcache::fuzzing::{Event, drive, owned};
use lvs_core::memcache::{
    GatCommand, GetCommand, Limits, MetaCode, MetaCommand, MetaFlags, MetaRequest, MetaResponse,
    Parsed, ParserState, Request, Response, ResponseState, Status, Store, StoreCommand, Tokens,
    parse, parse_response,
};
use proptest::prelude::*;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// Mixed pipelined requests: gets, multi-gets, stores of many sizes, meta commands, errors,
/// swallowed blocks (with a 4 KiB item limit) and bare-LF lines.
fn request_corpus(target: usize) -> Vec<u8> {
    let mut r = Lcg(7);
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < target {
        i += 1;
        let key = format!("key:{i}:{}", "x".repeat(r.next(40)));
        let line: Vec<u8> = match r.next(16) {
            0 => format!("get {key}\r\n").into_bytes(),
            1 => format!("gets {key} a b c{i}\n").into_bytes(),
            2 | 3 => {
                let n = [0, 1, 10, 100, 1000, 5000][r.next(6)];
                let mut v = format!("set {key} {i} 0 {n}\r\n").into_bytes();
                v.extend((0..n).map(|j| b"ab\r\n\0c"[j % 6]));
                v.extend_from_slice(b"\r\n");
                v
            }
            4 => format!("mg {key} v f t k O{i} q\r\n").into_bytes(),
            5 => format!("ms {key} 3 T0 F5\r\nabc\r\n").into_bytes(),
            6 => format!("delete {key} noreply\r\nincr {key} 5\r\ntouch {key} 10\r\n").into_bytes(),
            7 => b"GET upper\r\n\r\nset k 0 0 1\r\nxyz\r\n".to_vec(),
            8 => format!("ms {key} 2 z\r\nhi\r\nmn\r\n").into_bytes(),
            9 => format!("cas {key} 0 0 2 {i} noreply\r\nhi\r\n").into_bytes(),
            10 => format!("gat 100 {key}\r\nmd {key} q\r\nma {key} N0 J10 v\r\n").into_bytes(),
            11 => b"stats\r\nversion\r\nverbosity 1\r\nflush_all 0\r\n".to_vec(),
            12 => format!("get {}\r\n", "k".repeat(251)).into_bytes(),
            13 => format!("get {key}\0junk\r\n").into_bytes(),
            14 => format!("mg {key} v v\r\nmg {key} O{}\r\n", "9".repeat(40)).into_bytes(),
            _ => format!("append {key} 0 0 4 noreply\r\nmore\r\n").into_bytes(),
        };
        out.extend_from_slice(&line);
    }
    out
}

fn small_limits() -> Limits {
    Limits {
        item_size_max: 4096,
        ..Limits::default()
    }
}

fn events(data: &[u8], cuts: &[usize], limits: Limits) -> Vec<Event> {
    let mut st = ParserState::new(limits);
    drive(data, cuts, |b| owned(parse(b, &mut st)))
}

#[test]
fn pipelined_corpus_is_split_invariant() {
    let data = request_corpus(64 << 10);
    for limits in [Limits::default(), small_limits()] {
        let whole = events(&data, &[], limits);
        assert!(whole.len() > 500, "{} events", whole.len());
        assert!(
            whole.iter().any(|e| matches!(e, Event::Skipped(_))) || limits.item_size_max > 4096
        );
        assert!(whole.iter().any(|e| matches!(e, Event::Invalid(..))));
        // Every 1-split in the first 4 KiB, then a sample across the whole corpus.
        for cut in (0..4096).chain((4096..data.len()).step_by(263)) {
            assert_eq!(events(&data, &[cut], limits), whole, "1-split at {cut}");
        }
        let mut r = Lcg(limits.item_size_max as u64);
        for k in [2, 3] {
            for _ in 0..100 {
                let mut cuts: Vec<usize> = (0..k).map(|_| r.next(data.len() + 1)).collect();
                cuts.sort_unstable();
                assert_eq!(events(&data, &cuts, limits), whole, "{k}-split at {cuts:?}");
            }
        }
        let bytes: Vec<usize> = (1..data.len()).collect();
        assert_eq!(events(&data, &bytes, limits), whole, "byte at a time");
    }
}

/// One byte per call exercises the parser's inlined resume path (a short data block, one more
/// line byte) on every byte, including NULs, bare LFs, swallowed blocks and the line limit.
#[test]
fn request_corpus_fed_one_byte_per_call_is_unchanged() {
    let mut data = request_corpus(64 << 10);
    // Then a line over the limit (fatal, so last): the resume path must notice it too.
    data.extend_from_slice(&[b'x'; 2100]);
    for limits in [Limits::default(), small_limits(), Limits::strict(false)] {
        let whole = events(&data, &[], limits);
        assert!(
            matches!(whole.last(), Some(Event::Invalid(_, 0))),
            "{whole:?}"
        );
        let bytes: Vec<usize> = (1..data.len()).collect();
        assert_eq!(events(&data, &bytes, limits), whole, "{limits:?}");
    }
}

#[test]
fn response_stream_is_split_invariant() {
    let mut data = Vec::new();
    for i in 0..2000 {
        let v = "v".repeat(i % 300);
        data.extend_from_slice(
            format!("VALUE k{i} {i} {}\r\n{v}\r\nEND\r\nSTORED\r\n{i}\r\nVA 2 f1 O{i}\r\nhi\r\nEN\r\nSTAT pid {i}\r\n", v.len())
                .as_bytes(),
        );
    }
    let run = |cuts: &[usize]| {
        let mut st = ResponseState::default();
        drive(&data, cuts, |b| owned(parse_response(b, &mut st)))
    };
    let whole = run(&[]);
    assert_eq!(whole.len(), 2000 * 7);
    let mut r = Lcg(3);
    for _ in 0..200 {
        let mut cuts: Vec<usize> = (0..1 + r.next(3)).map(|_| r.next(data.len() + 1)).collect();
        cuts.sort_unstable();
        assert_eq!(run(&cuts), whole, "{cuts:?}");
    }
    assert_eq!(run(&(1..data.len()).collect::<Vec<_>>()), whole);
}

// ---- write-then-parse ----

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("separator", |b| !matches!(b, b' ' | b'\n' | 0)),
        1..40,
    )
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0x20u8..0x7f, 0..30)
}

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0x21u8..0x7f, 1..20)
}

#[derive(Clone, Debug)]
enum Model {
    Get(usize, Vec<u8>),
    Gat(bool, i32, Vec<u8>),
    Store(usize, Vec<u8>, u32, i32, u64, bool, Vec<u8>),
    Delete(Vec<u8>, bool),
    Arith(bool, Vec<u8>, u64, bool),
    Touch(Vec<u8>, i32, bool),
    Flush(Option<i32>, bool),
    Simple(usize),
    Verbosity(u32, bool),
    Meta(usize, Vec<u8>, Vec<u8>, Vec<u8>),
}

fn keys_section() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(key(), 1..5).prop_map(|ks| ks.join(&b' '))
}

/// Valid, distinct meta flags with tokens.
fn meta_flags() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::btree_map(
        prop::sample::select(b"vkqstcfhulOTNC".to_vec()),
        (any::<i32>(), "[a-zA-Z0-9]{1,31}"),
        0..8,
    )
    .prop_map(|m| {
        let toks: Vec<Vec<u8>> = m
            .into_iter()
            .map(|(f, (n, s))| match f {
                b'O' => [vec![f], s.into_bytes()].concat(),
                b'T' | b'N' => format!("{}{n}", f as char).into_bytes(),
                b'C' => format!("C{}", n.unsigned_abs()).into_bytes(),
                _ => vec![f],
            })
            .collect();
        toks.join(&b' ')
    })
}

fn model() -> impl Strategy<Value = Model> {
    prop_oneof![
        (0..3usize, keys_section()).prop_map(|(c, k)| Model::Get(c, k)),
        (
            any::<bool>(),
            any::<i32>(),
            prop::option::of(keys_section())
        )
            .prop_map(|(s, e, k)| Model::Gat(s, e, k.unwrap_or_default())),
        (
            0..6usize,
            key(),
            any::<u32>(),
            any::<i32>(),
            any::<u64>(),
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(c, k, f, e, cas, nr, d)| Model::Store(
                c,
                k,
                f,
                e,
                if c == 5 { cas } else { 0 },
                nr,
                d
            )),
        (key(), any::<bool>()).prop_map(|(k, nr)| Model::Delete(k, nr)),
        (any::<bool>(), key(), any::<u64>(), any::<bool>())
            .prop_map(|(i, k, d, nr)| Model::Arith(i, k, d, nr)),
        (key(), any::<i32>(), any::<bool>()).prop_map(|(k, e, nr)| Model::Touch(k, e, nr)),
        (prop::option::of(any::<i32>()), any::<bool>()).prop_map(|(d, nr)| Model::Flush(d, nr)),
        (0..2usize).prop_map(Model::Simple),
        (any::<u32>(), any::<bool>()).prop_map(|(l, nr)| Model::Verbosity(l, nr)),
        (
            0..6usize,
            key(),
            meta_flags(),
            prop::collection::vec(any::<u8>(), 0..100)
        )
            .prop_map(|(c, k, f, d)| Model::Meta(c, k, f, d)),
    ]
}

fn request(m: &Model) -> Request<'_> {
    const STORE: [StoreCommand; 6] = [
        StoreCommand::Set,
        StoreCommand::Add,
        StoreCommand::Replace,
        StoreCommand::Append,
        StoreCommand::Prepend,
        StoreCommand::Cas,
    ];
    const META: [MetaCommand; 6] = [
        MetaCommand::Get,
        MetaCommand::Set,
        MetaCommand::Delete,
        MetaCommand::Arithmetic,
        MetaCommand::Noop,
        MetaCommand::Debug,
    ];
    match m {
        Model::Get(c, k) => Request::Get {
            command: [GetCommand::Get, GetCommand::Gets, GetCommand::Bget][*c],
            keys: Tokens::new(k),
        },
        Model::Gat(s, e, k) => Request::Gat {
            command: if *s {
                GatCommand::Gats
            } else {
                GatCommand::Gat
            },
            exptime: *e,
            keys: Tokens::new(k),
        },
        Model::Store(c, k, f, e, cas, nr, d) => Request::Store(Store {
            command: STORE[*c],
            key: k,
            flags: *f,
            exptime: *e,
            cas: *cas,
            noreply: *nr,
            data: d,
        }),
        Model::Delete(k, nr) => Request::Delete {
            key: k,
            noreply: *nr,
        },
        Model::Arith(i, k, d, nr) => Request::Arithmetic {
            incr: *i,
            key: k,
            delta: *d,
            noreply: *nr,
        },
        Model::Touch(k, e, nr) => Request::Touch {
            key: k,
            exptime: *e,
            noreply: *nr,
        },
        Model::Flush(d, nr) => Request::FlushAll {
            delay: *d,
            noreply: *nr,
        },
        Model::Simple(0) => Request::Version,
        Model::Simple(_) => Request::Quit,
        Model::Verbosity(l, nr) => Request::Verbosity {
            level: *l,
            noreply: *nr,
        },
        Model::Meta(c, k, f, d) => {
            let command = META[*c];
            let (key, flags): (&[u8], &[u8]) = match command {
                MetaCommand::Noop => (b"", b""),
                MetaCommand::Debug => (k, b""),
                _ => (k, f),
            };
            Request::Meta(MetaRequest {
                command,
                key,
                flags: MetaFlags::new(flags),
                data: (command == MetaCommand::Set).then_some(&d[..]),
            })
        }
    }
}

#[derive(Clone, Debug)]
enum RModel {
    Value(Vec<u8>, u32, Option<u64>, Vec<u8>),
    Status(usize),
    Number(u64),
    Version(Vec<u8>),
    Stat(Vec<u8>, Vec<u8>),
    Error(Option<Vec<u8>>),
    Client(Vec<u8>),
    Server(Vec<u8>),
    Meta(usize, Vec<u8>, Vec<u8>),
    Debug(Vec<u8>, Vec<u8>),
}

fn rmodel() -> impl Strategy<Value = RModel> {
    let flags = prop::collection::vec(word(), 0..5).prop_map(|w| w.join(&b' '));
    prop_oneof![
        (
            word(),
            any::<u32>(),
            prop::option::of(any::<u64>()),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(k, f, c, d)| RModel::Value(k, f, c, d)),
        (0..9usize).prop_map(RModel::Status),
        any::<u64>().prop_map(RModel::Number),
        text().prop_map(RModel::Version),
        (word(), text()).prop_map(|(n, v)| RModel::Stat(n, v)),
        prop::option::of(text()).prop_map(RModel::Error),
        text().prop_map(RModel::Client),
        text().prop_map(RModel::Server),
        (0..7usize, flags, prop::collection::vec(any::<u8>(), 0..50))
            .prop_map(|(c, f, d)| RModel::Meta(c, f, d)),
        (word(), text()).prop_map(|(k, d)| RModel::Debug(k, d)),
    ]
}

fn response(m: &RModel) -> Response<'_> {
    const STATUS: [Status; 9] = [
        Status::End,
        Status::Stored,
        Status::NotStored,
        Status::Exists,
        Status::NotFound,
        Status::Deleted,
        Status::Touched,
        Status::Ok,
        Status::Reset,
    ];
    const CODES: [MetaCode; 7] = [
        MetaCode::Hd,
        MetaCode::Va,
        MetaCode::En,
        MetaCode::Nf,
        MetaCode::Ns,
        MetaCode::Ex,
        MetaCode::Mn,
    ];
    match m {
        RModel::Value(k, f, c, d) => Response::Value {
            key: k,
            flags: *f,
            cas: *c,
            data: d,
        },
        RModel::Status(i) => Response::Status(STATUS[*i]),
        RModel::Number(n) => Response::Number(*n),
        RModel::Version(v) => Response::Version(v),
        RModel::Stat(n, v) => Response::Stat { name: n, value: v },
        RModel::Error(None) => Response::Error { message: b"" },
        RModel::Error(Some(t)) => Response::Error { message: t },
        RModel::Client(t) => Response::ClientError(t),
        RModel::Server(t) => Response::ServerError(t),
        RModel::Meta(c, f, d) => Response::Meta(MetaResponse {
            code: CODES[*c],
            flags: MetaFlags::new(f),
            data: (CODES[*c] == MetaCode::Va).then_some(&d[..]),
        }),
        RModel::Debug(k, d) => Response::MetaDebug { key: k, details: d },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(models in prop::collection::vec(model(), 1..6), cut in any::<prop::sample::Index>()) {
        let reqs: Vec<Request<'_>> = models.iter().map(request).collect();
        let mut wire = Vec::new();
        for r in &reqs {
            r.write(&mut wire);
        }
        let expected: Vec<Event> = reqs.iter().map(|r| {
            let mut one = Vec::new();
            r.write(&mut one);
            Event::Complete(format!("{r:?}"), one.len())
        }).collect();
        prop_assert_eq!(&events(&wire, &[], Limits::default()), &expected);
        prop_assert_eq!(&events(&wire, &[cut.index(wire.len() + 1)], Limits::default()), &expected);
    }

    #[test]
    fn responses_round_trip(models in prop::collection::vec(rmodel(), 1..6), cut in any::<prop::sample::Index>()) {
        let models: Vec<RModel> = models.into_iter().map(|m| match m {
            RModel::Error(Some(t)) => RModel::Error(Some([b" ".as_slice(), &t].concat())),
            other => other,
        }).collect();
        let resps: Vec<Response<'_>> = models.iter().map(response).collect();
        let mut wire = Vec::new();
        for r in &resps {
            r.write(&mut wire);
        }
        let expected: Vec<Event> = resps.iter().map(|r| {
            let mut one = Vec::new();
            r.write(&mut one);
            Event::Complete(format!("{r:?}"), one.len())
        }).collect();
        let run = |cuts: &[usize]| {
            let mut st = ResponseState::default();
            drive(&wire, cuts, |b| owned(parse_response(b, &mut st)))
        };
        prop_assert_eq!(&run(&[]), &expected);
        prop_assert_eq!(&run(&[cut.index(wire.len() + 1)]), &expected);
    }
}

#[test]
fn a_parsed_request_is_left_unconsumed_until_complete() {
    let mut st = ParserState::default();
    assert_eq!(parse(b"set k 0 0 3\r\nab", &mut st), Parsed::Incomplete);
    assert!(matches!(
        parse(b"set k 0 0 3\r\nabc\r\n", &mut st),
        Parsed::Complete { consumed: 18, .. }
    ));
    assert!(st.is_idle());
}
