//! Request parsing: every command, memcached 1.6.18's malformed-input matrix with its exact
//! reply bytes, and hostile client inputs.

use lvs_core::memcache::{
    ErrorKind, GatCommand, GetCommand, Limits, MetaCommand, Parsed, ParserState, Protocol, Request,
    Store, StoreCommand, parse,
};

/// What a parse of a whole input produced, in order.
#[derive(Debug, PartialEq)]
enum Ev {
    Req(String),
    /// memcached's reply bytes for an error.
    Reply(&'static [u8]),
    Close,
    Skip(usize),
}

fn run_with(input: &[u8], limits: Limits) -> Vec<Ev> {
    let mut st = ParserState::new(limits);
    let mut rest = input;
    let mut out = Vec::new();
    loop {
        match parse(rest, &mut st) {
            Parsed::Incomplete => return out,
            Parsed::Complete { value, consumed } => {
                out.push(Ev::Req(format!("{value:?}")));
                rest = &rest[consumed..];
            }
            Parsed::Invalid { error, consumed } => {
                if error.closes_connection() {
                    assert_eq!(consumed, 0);
                    assert!(error.reply_bytes().is_empty());
                    out.push(Ev::Close);
                    return out;
                }
                out.push(Ev::Reply(error.reply_bytes()));
                rest = &rest[consumed..];
            }
            Parsed::Skipped { consumed } => {
                match out.last_mut() {
                    Some(Ev::Skip(n)) => *n += consumed,
                    _ => out.push(Ev::Skip(consumed)),
                }
                rest = &rest[consumed..];
            }
        }
    }
}

fn run(input: &[u8]) -> Vec<Ev> {
    run_with(input, Limits::default())
}

/// Only the reply bytes memcached would write for the errors.
fn replies(input: &[u8]) -> Vec<u8> {
    run(input)
        .into_iter()
        .flat_map(|e| match e {
            Ev::Reply(r) => r.to_vec(),
            _ => Vec::new(),
        })
        .collect()
}

fn single(input: &[u8]) -> Request<'_> {
    let mut st = ParserState::default();
    match parse(input, &mut st) {
        Parsed::Complete { value, consumed } => {
            assert_eq!(consumed, input.len(), "{}", input.escape_ascii());
            value
        }
        other => panic!("{}: {other:?}", input.escape_ascii()),
    }
}

fn keys(r: &Request<'_>) -> Vec<Vec<u8>> {
    match r {
        Request::Get { keys, .. } | Request::Gat { keys, .. } => {
            keys.iter().map(<[u8]>::to_vec).collect()
        }
        other => panic!("not a get: {other:?}"),
    }
}

const CLIENT_BAD: &[u8] = b"CLIENT_ERROR bad command line format\r\n";
const ERROR: &[u8] = b"ERROR\r\n";

#[test]
fn get_family() {
    let r = single(b"get foo bar  baz\r\n");
    assert!(matches!(
        r,
        Request::Get {
            command: GetCommand::Get,
            ..
        }
    ));
    assert_eq!(
        keys(&r),
        [b"foo".to_vec(), b"bar".to_vec(), b"baz".to_vec()]
    );
    assert!(matches!(
        single(b"gets k\r\n"),
        Request::Get {
            command: GetCommand::Gets,
            ..
        }
    ));
    assert!(matches!(
        single(b"bget k\n"),
        Request::Get {
            command: GetCommand::Bget,
            ..
        }
    ));
    let r = single(b"gat 100 a b\r\n");
    assert!(matches!(
        r,
        Request::Gat {
            command: GatCommand::Gat,
            exptime: 100,
            ..
        }
    ));
    assert_eq!(keys(&r).len(), 2);
    assert!(matches!(
        single(b"gats -1 a\r\n"),
        Request::Gat {
            command: GatCommand::Gats,
            exptime: -1,
            ..
        }
    ));
    // memcached accepts a gat without keys and answers END.
    assert_eq!(keys(&single(b"gat 10\r\n")).len(), 0);
    assert_eq!(
        replies(b"gat abc k\r\n"),
        b"CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(replies(b"get\r\n"), ERROR);
    assert_eq!(replies(b"gat\r\n"), ERROR);
    assert_eq!(replies(b"gx k\r\n"), ERROR);
}

#[test]
fn storage_commands() {
    for (line, cmd) in [
        (&b"set"[..], StoreCommand::Set),
        (b"add", StoreCommand::Add),
        (b"replace", StoreCommand::Replace),
        (b"append", StoreCommand::Append),
        (b"prepend", StoreCommand::Prepend),
    ] {
        let mut input = line.to_vec();
        input.extend_from_slice(b" k 5 10 3 noreply\r\nabc\r\n");
        let Request::Store(s) = single(&input) else {
            panic!()
        };
        assert_eq!(
            s,
            Store {
                command: cmd,
                key: b"k",
                flags: 5,
                exptime: 10,
                cas: 0,
                noreply: true,
                data: b"abc"
            }
        );
    }
    let Request::Store(s) = single(b"cas k 0 0 2 99\r\nhi\r\n") else {
        panic!()
    };
    assert_eq!(
        (s.command, s.cas, s.noreply, s.data),
        (StoreCommand::Cas, 99, false, &b"hi"[..])
    );
    // A value may hold CR, LF and NUL: it is taken by length.
    let Request::Store(s) = single(b"set k 0 0 4\r\n\r\n\0\n\r\n") else {
        panic!()
    };
    assert_eq!(s.data, b"\r\n\0\n");
    // An empty value.
    let Request::Store(s) = single(b"set k 0 0 0\r\n\r\n") else {
        panic!()
    };
    assert!(s.data.is_empty());
    // Bare-LF command lines are accepted (the data block still needs CRLF).
    assert_eq!(run(b"set k 0 0 1\nx\r\nget k\n").len(), 2);
    assert_eq!(replies(b"cas k 0 0 1\r\nx\r\n"), [ERROR, ERROR].concat());
}

#[test]
fn other_classic_commands() {
    assert_eq!(
        single(b"delete k\r\n"),
        Request::Delete {
            key: b"k",
            noreply: false
        }
    );
    assert_eq!(
        single(b"delete k 0\r\n"),
        Request::Delete {
            key: b"k",
            noreply: false
        }
    );
    assert_eq!(
        single(b"delete k noreply\r\n"),
        Request::Delete {
            key: b"k",
            noreply: true
        }
    );
    assert_eq!(
        single(b"delete k 0 noreply\r\n"),
        Request::Delete {
            key: b"k",
            noreply: true
        }
    );
    assert_eq!(
        replies(b"delete k 5\r\n"),
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    );
    // The usage error is itself suppressed by noreply.
    assert_eq!(replies(b"delete k 5 noreply\r\n"), b"");
    assert_eq!(
        single(b"incr k 5\r\n"),
        Request::Arithmetic {
            incr: true,
            key: b"k",
            delta: 5,
            noreply: false
        }
    );
    assert_eq!(
        single(b"decr k 18446744073709551615 noreply\r\n"),
        Request::Arithmetic {
            incr: false,
            key: b"k",
            delta: u64::MAX,
            noreply: true
        }
    );
    assert_eq!(
        single(b"touch k 10\r\n"),
        Request::Touch {
            key: b"k",
            exptime: 10,
            noreply: false
        }
    );
    assert_eq!(
        replies(b"touch k x\r\n"),
        b"CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(
        single(b"flush_all\r\n"),
        Request::FlushAll {
            delay: None,
            noreply: false
        }
    );
    assert_eq!(
        single(b"flush_all noreply\r\n"),
        Request::FlushAll {
            delay: None,
            noreply: true
        }
    );
    assert_eq!(
        single(b"flush_all 10 noreply\r\n"),
        Request::FlushAll {
            delay: Some(10),
            noreply: true
        }
    );
    assert_eq!(
        replies(b"flush_all x\r\n"),
        b"CLIENT_ERROR invalid exptime argument\r\n"
    );
    assert_eq!(replies(b"flush_all 1 2 3\r\n"), ERROR);
    assert_eq!(single(b"version\r\n"), Request::Version);
    assert_eq!(single(b"quit\r\n"), Request::Quit);
    assert_eq!(
        single(b"verbosity 1\r\n"),
        Request::Verbosity {
            level: 1,
            noreply: false
        }
    );
    assert_eq!(replies(b"verbosity\r\n"), ERROR);
    assert_eq!(replies(b"verbosity x\r\n"), CLIENT_BAD);
    assert_eq!(replies(b"verbosity noreply\r\n"), b"");
    assert_eq!(
        single(b"cache_memlimit 64\r\n"),
        Request::CacheMemlimit {
            megabytes: 64,
            noreply: false
        }
    );
    assert_eq!(replies(b"cache_memlimit x\r\n"), ERROR);
    let Request::Stats { args } = single(b"stats\r\n") else {
        panic!()
    };
    assert!(args.is_empty());
    let Request::Stats { args } = single(b"stats detail on\r\n") else {
        panic!()
    };
    assert_eq!(args.iter().collect::<Vec<_>>(), [&b"detail"[..], b"on"]);
    assert!(matches!(
        single(b"shutdown graceful\r\n"),
        Request::Shutdown { .. }
    ));
    assert!(matches!(
        single(b"slabs reassign 1 2\r\n"),
        Request::Admin {
            command: b"slabs",
            ..
        }
    ));
    assert!(matches!(
        single(b"lru_crawler crawl all\r\n"),
        Request::Admin { .. }
    ));
    assert!(matches!(single(b"watch\r\n"), Request::Admin { .. }));
    assert_eq!(replies(b"lru\r\n"), ERROR);
}

fn meta(input: &[u8]) -> lvs_core::memcache::MetaRequest<'_> {
    match single(input) {
        Request::Meta(m) => m,
        other => panic!("{other:?}"),
    }
}

#[test]
fn meta_commands() {
    let m = meta(b"mg foo v f t k O123 q\r\n");
    assert_eq!((m.command, m.key), (MetaCommand::Get, &b"foo"[..]));
    assert!(m.flags.has(b'v') && m.flags.quiet() && !m.flags.has(b'c'));
    assert_eq!(m.flags.opaque(), Some(&b"123"[..]));
    assert_eq!(m.flags.iter().count(), 6);
    let m = meta(b"ms k 2 T0 F5 MS\r\nhi\r\n");
    assert_eq!((m.command, m.data), (MetaCommand::Set, Some(&b"hi"[..])));
    assert_eq!(m.flags.get(b'F'), Some(&b"5"[..]));
    assert_eq!(meta(b"md k q C5\r\n").command, MetaCommand::Delete);
    assert_eq!(
        meta(b"ma cnt N0 J10 v MD D3\r\n").command,
        MetaCommand::Arithmetic
    );
    assert_eq!(meta(b"mn\r\n").command, MetaCommand::Noop);
    assert_eq!(meta(b"me k\r\n").command, MetaCommand::Debug);
    let m = meta(b"mg Zm9v b v\r\n");
    assert!(m.flags.base64_key());
    // P and L route hints are accepted.
    assert!(meta(b"mg foo Lpath/ v\r\n").flags.has(b'L'));
    assert_eq!(replies(b"mg\r\n"), ERROR);
    assert_eq!(replies(b"mx k\r\n"), ERROR);
    assert_eq!(replies(b"me\r\n"), CLIENT_BAD);
    assert_eq!(replies(b"ms k\r\n"), CLIENT_BAD);
}

#[test]
fn meta_errors_are_exact() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"mg k v v\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"mg k \x7f\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"mg k \xc3\xa9\r\n", b"CLIENT_ERROR duplicate flag\r\n"),
        (b"mg k z\r\n", b"CLIENT_ERROR invalid flag\r\n"),
        (b"md k z\r\n", b"CLIENT_ERROR invalid or duplicate flag\r\n"),
        (
            b"ma k q q\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (b"mg !!! b\r\n", b"CLIENT_ERROR error decoding key\r\n"),
        (
            b"mg k Tx\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"mg k T\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"mg k Tx MSS\r\n",
            b"CLIENT_ERROR incorrect length for M token\r\n",
        ),
        (b"mg k Fx\r\n", b"CLIENT_ERROR bad command line format\r\n"),
        (
            b"mg k Fx Tx\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"mg k Tx Fx\r\n",
            b"CLIENT_ERROR bad token in command line format\r\n",
        ),
        (
            b"ma k Jx\r\n",
            b"CLIENT_ERROR invalid or duplicate flag\r\n",
        ),
        (
            b"ma k MX\r\n",
            b"CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        (
            b"mg k O12345678901234567890123456789012\r\n",
            b"CLIENT_ERROR opaque token too long\r\n",
        ),
        (
            b"mg k a b c d e f g h i j k l m n o p q r\r\n",
            b"CLIENT_ERROR options flags are too long\r\n",
        ),
        (
            b"md k a b c d e f g h i j k l m n o p q r\r\n",
            b"CLIENT_ERROR options flags too long\r\n",
        ),
    ];
    for (input, reply) in cases {
        assert_eq!(replies(input), *reply, "{}", input.escape_ascii());
    }
    // 31 opaque bytes plus the O fit; 17 flags fit.
    assert!(matches!(
        single(b"mg k O1234567890123456789012345678901\r\n"),
        Request::Meta(_)
    ));
    assert!(matches!(
        single(b"mg Zm9v c f h k l O s t u v q b N1 R1 T1 P L\r\n"),
        Request::Meta(_)
    ));
    assert_eq!(
        replies(b"mg Zm9v c f h k l O s t u v q b N1 R1 T1 P L I\r\n"),
        b"CLIENT_ERROR options flags are too long\r\n"
    );
}

#[test]
fn ms_errors_swallow_the_data_block() {
    // Errors found after the datalen swallow datalen + 2 bytes, and are always sent.
    assert_eq!(
        run(b"ms k 3 z q\r\nabc\r\nmn\r\n"),
        [
            Ev::Reply(b"CLIENT_ERROR invalid flag\r\n"),
            Ev::Skip(5),
            Ev::Req("Meta(MetaRequest { command: Noop, key: [], flags: [], data: None })".into())
        ]
    );
    assert_eq!(
        replies(b"ms k 1 MX\r\nx\r\n"),
        b"CLIENT_ERROR invalid mode for ms M token\r\n"
    );
    assert_eq!(
        replies(b"ms k 1 v v\r\nx\r\n"),
        b"CLIENT_ERROR duplicate flag\r\n"
    );
    assert_eq!(
        replies(b"ms k 1 O123456789012345678901234567890123\r\nx\r\n"),
        b"CLIENT_ERROR opaque token too long\r\n"
    );
    // A bad datalen is refused before anything is swallowed: the block is a command.
    assert_eq!(replies(b"ms k x\r\nabc\r\n"), [CLIENT_BAD, ERROR].concat());
    assert_eq!(
        replies(b"ms k 2\r\nabcd\r\n"),
        [b"CLIENT_ERROR bad data chunk\r\n", ERROR].concat()
    );
    assert_eq!(
        run(b"ms k 2000000 T0\r\n").first(),
        Some(&Ev::Reply(b"SERVER_ERROR object too large for cache\r\n"))
    );
}

/// §1.6: every row of the malformed-input matrix that concerns memcached.
#[test]
fn malformed_input_matrix() {
    // `foo bar`, `GET k`, empty line, leading NUL: ERROR.
    for input in [
        &b"foo bar\r\n"[..],
        b"GET k\r\n",
        b"\r\n",
        b"\n",
        b"\0get k\r\n",
    ] {
        assert_eq!(replies(input), ERROR, "{}", input.escape_ascii());
    }
    // Bare-LF lines are accepted.
    assert!(matches!(run(b"get k\n")[..], [Ev::Req(_)]));
    // 251-byte key, get or set: CLIENT_ERROR, and for set the data line is then a command.
    let k251 = "k".repeat(251);
    assert_eq!(replies(format!("get {k251}\r\n").as_bytes()), CLIENT_BAD);
    assert_eq!(
        replies(format!("get a {k251} b\r\n").as_bytes()),
        CLIENT_BAD
    );
    assert_eq!(
        replies(format!("set {k251} 0 0 1\r\nx\r\n").as_bytes()),
        [CLIENT_BAD, ERROR].concat()
    );
    let k250 = "k".repeat(250);
    assert!(matches!(
        run(format!("set {k250} 0 0 1\r\nx\r\n").as_bytes())[..],
        [Ev::Req(_)]
    ));
    // Negative length or flags: CLIENT_ERROR + ERROR.
    assert_eq!(
        replies(b"set k 0 0 -1\r\nx\r\n"),
        [CLIENT_BAD, ERROR].concat()
    );
    assert_eq!(
        replies(b"set k -1 0 1\r\nx\r\n"),
        [CLIENT_BAD, ERROR].concat()
    );
    // Data `xyz` with bytes=1: bad data chunk, then the CRLF left over is an empty line.
    assert_eq!(
        replies(b"set k 0 0 1\r\nxyz\r\n"),
        [&b"CLIENT_ERROR bad data chunk\r\n"[..], ERROR].concat()
    );
    // 2 MB value: SERVER_ERROR, data swallowed.
    let mut big = b"set big 0 0 2000000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'v', 2_000_000));
    big.extend_from_slice(b"\r\nget big\r\n");
    let ev = run(&big);
    assert_eq!(
        ev[0],
        Ev::Reply(b"SERVER_ERROR object too large for cache\r\n")
    );
    assert_eq!(ev[1], Ev::Skip(2_000_002));
    assert!(matches!(ev[2], Ev::Req(_)));
    assert_eq!(ev.len(), 3);
    // Negative exptime is stored (already expired).
    let Request::Store(s) = single(b"set e 0 -1 1\r\nx\r\n") else {
        panic!()
    };
    assert_eq!(s.exptime, -1);
    // delete k 0.
    assert_eq!(
        single(b"delete k 0\r\n"),
        Request::Delete {
            key: b"k",
            noreply: false
        }
    );
    // gat/gats, meta, flush_all, verbosity, stats, cache_memlimit, shutdown are served.
    for input in [
        &b"gat 1 k\r\n"[..],
        b"gats 1 k\r\n",
        b"mg k v\r\n",
        b"flush_all\r\n",
        b"verbosity 1\r\n",
        b"stats\r\n",
        b"cache_memlimit 100\r\n",
        b"shutdown\r\n",
    ] {
        assert!(
            matches!(run(input)[..], [Ev::Req(_)]),
            "{}",
            input.escape_ascii()
        );
    }
    // incr k -1: invalid numeric delta.
    assert_eq!(
        replies(b"incr k -1\r\n"),
        b"CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    // flags 2^32+1: stored as 1.
    let Request::Store(s) = single(b"set k 4294967297 0 1\r\nx\r\n") else {
        panic!()
    };
    assert_eq!(s.flags, 1);
    // TAB separator: ERROR.
    assert_eq!(replies(b"get\tk\r\n"), ERROR);
    // 3000 bytes with no newline: closed.
    assert_eq!(run(&[b'x'; 3000]), [Ev::Close]);
}

#[test]
fn noreply_suppresses_classic_errors_but_not_token_count_errors() {
    let k251 = "k".repeat(251);
    assert_eq!(
        replies(format!("set {k251} 0 0 1 noreply\r\nx\r\n").as_bytes()),
        ERROR
    );
    assert_eq!(replies(b"incr k x noreply\r\n"), b"");
    assert_eq!(replies(b"set k 0 0 1 noreply\r\nxyz\r\n"), ERROR);
    assert_eq!(replies(b"set k 0 0 1 2 noreply\r\n"), ERROR);
    // `set k 0 0 x noreply` then data: the data line answers ERROR.
    assert_eq!(replies(b"set k 0 0 x noreply\r\ndata\r\n"), ERROR);
    let mut big = b"set big 0 0 2000000 noreply\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'v', 2_000_002));
    assert_eq!(run(&big), [Ev::Reply(b""), Ev::Skip(2_000_002)]);
}

/// §7.4, client side.
#[test]
fn hostile_lines() {
    let line = |n: usize| vec![b'a'; n];
    assert_eq!(run(&line(2047)), []);
    assert_eq!(run(&line(2048)), []);
    assert_eq!(run(&line(2049)), [Ev::Close]);
    let mut l = line(2048);
    l.extend_from_slice(b"\n");
    assert_eq!(run(&l), [Ev::Reply(ERROR)]);
    let mut l = line(2049);
    l.extend_from_slice(b"\n");
    assert_eq!(run(&l), [Ev::Close]);
    // A 1 MiB get line is allowed, a gat line of that size is not.
    let mut get = b"get".to_vec();
    while get.len() < 1 << 20 {
        get.extend_from_slice(b" key");
    }
    get.extend_from_slice(b"\r\n");
    assert!(matches!(run(&get)[..], [Ev::Req(_)]));
    let gat = [&b"gat 0"[..], &get[3..]].concat();
    assert_eq!(run(&gat), [Ev::Close]);
    // Up to 100 leading spaces keep the exemption.
    let spaced = [&[b' '; 100][..], &get].concat();
    assert!(matches!(run(&spaced)[..], [Ev::Req(_)]));
    let spaced = [&[b' '; 101][..], &get].concat();
    assert_eq!(run(&spaced), [Ev::Close]);
    // 10k leading spaces.
    assert_eq!(
        run(&[&[b' '; 10_000][..], b"get k\r\n"].concat()),
        [Ev::Close]
    );
    // Lone CR: still waiting; CR in the middle belongs to the key.
    assert_eq!(run(b"get k\r"), []);
    assert_eq!(keys(&single(b"get a\rb\r\n")), [b"a\rb".to_vec()]);
    // NUL inside a key ends the line for memcached; strict mode refuses it.
    assert_eq!(keys(&single(b"get a\0b\r\n")), [b"a".to_vec()]);
    assert_eq!(
        run_with(b"get a\0b\r\n", Limits::strict(true)),
        [Ev::Reply(CLIENT_BAD)]
    );
    // TAB, control and high bytes in keys: memcached keeps them, strict refuses them.
    assert_eq!(keys(&single(b"get a\tb\r\n")), [b"a\tb".to_vec()]);
    assert_eq!(
        run_with(b"get a\tb\r\n", Limits::strict(true)),
        [Ev::Reply(CLIENT_BAD)]
    );
    assert_eq!(
        run_with(b"get a\x01\r\n", Limits::strict(true)),
        [Ev::Reply(CLIENT_BAD)]
    );
    assert_eq!(
        run_with(b"get caf\xc3\xa9\r\n", Limits::strict(false)),
        [Ev::Reply(CLIENT_BAD)]
    );
    assert!(matches!(
        run_with(b"get caf\xc3\xa9\r\n", Limits::strict(true))[..],
        [Ev::Req(_)]
    ));
    assert_eq!(
        run_with(b"set a\x01 0 0 1\r\nx\r\n", Limits::strict(true)),
        [Ev::Reply(CLIENT_BAD), Ev::Reply(ERROR)]
    );
    assert_eq!(
        run_with(b"mg a\x7f v\r\n", Limits::strict(true)),
        [Ev::Reply(CLIENT_BAD)]
    );
    // Upper-case verbs and an HTTP request line.
    assert_eq!(replies(b"SET k 0 0 1\r\nx\r\n"), [ERROR, ERROR].concat());
    assert_eq!(run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), [Ev::Close]);
    assert_eq!(replies(b"get_ / HTTP/1.1\r\n"), ERROR);
    // 0x80 first byte: the binary protocol.
    assert_eq!(Protocol::detect(0x80), Protocol::Binary);
    assert_eq!(Protocol::detect(b'g'), Protocol::Text);
    // UDP framing on TCP: the 8-byte frame header starts with NUL, so the line is empty.
    assert_eq!(replies(b"\0\x01\0\0\0\x01\0\0get k\r\n"), ERROR);
}

#[test]
fn hostile_numbers() {
    let store = |line: &str| match run(format!("{line}\r\nx\r\n").as_bytes()).remove(0) {
        Ev::Req(r) => r,
        Ev::Reply(r) => String::from_utf8_lossy(r).into_owned(),
        other => panic!("{other:?}"),
    };
    let flags = |s: &str| store(&format!("set k {s} 0 1"));
    assert!(flags("4294967296").contains("flags: 0,"));
    assert!(flags("18446744073709551616").starts_with("CLIENT_ERROR"));
    assert!(flags("-0").contains("flags: 0,"));
    let exp = |s: &str| store(&format!("set k 0 {s} 1"));
    assert!(exp("-1").contains("exptime: -1,"));
    assert!(exp("0").contains("exptime: 0,"));
    assert!(exp("2592000").contains("exptime: 2592000,"));
    assert!(exp("2592001").contains("exptime: 2592001,"));
    assert!(exp("2147483648").contains("exptime: -2147483648,"));
    assert!(exp("+5").contains("exptime: 5,"));
    let len = |s: &str| store(&format!("set k 0 0 {s}"));
    assert!(len("-1").starts_with("CLIENT_ERROR bad command line format"));
    assert!(len("2147483646").starts_with("CLIENT_ERROR bad command line format"));
    assert!(len("2147483645").starts_with("SERVER_ERROR object too large"));
    assert!(len("x").starts_with("CLIENT_ERROR bad command line format"));
    // A declared length longer than the data, then EOF: waiting, never done.
    let mut st = ParserState::default();
    assert_eq!(parse(b"set k 0 0 10\r\nabc", &mut st), Parsed::Incomplete);
    assert!(!st.is_idle());
    // cas unique and delta at 2^64 and at 21 digits.
    assert!(store("cas k 0 0 1 18446744073709551615").contains("cas: 18446744073709551615"));
    assert!(store("cas k 0 0 1 18446744073709551616").starts_with("CLIENT_ERROR"));
    assert_eq!(
        replies(b"incr k 18446744073709551616\r\n"),
        b"CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert_eq!(
        replies(b"incr k 184467440737095516150\r\n"),
        b"CLIENT_ERROR invalid numeric delta argument\r\n"
    );
    assert!(matches!(
        run(b"incr k 18446744073709551615\r\n")[..],
        [Ev::Req(_)]
    ));
}

#[test]
fn hostile_keys_and_data() {
    // Item size: with a 1-byte key the largest value is 1 MiB - 60.
    let set = |n: usize| {
        let mut v = format!("set k 0 0 {n}\r\n").into_bytes();
        v.extend(std::iter::repeat_n(b'x', n));
        v.extend_from_slice(b"\r\n");
        run(&v)
    };
    assert!(matches!(set(1_048_516)[..], [Ev::Req(_)]));
    assert_eq!(
        set(1_048_517),
        [
            Ev::Reply(b"SERVER_ERROR object too large for cache\r\n"),
            Ev::Skip(1_048_519)
        ]
    );
    // A 2 GB declared length is swallowed as it arrives, without buffering.
    let mut st = ParserState::default();
    let hdr = b"set k 0 0 2000000000\r\n";
    assert!(
        matches!(parse(hdr, &mut st), Parsed::Invalid { consumed, .. } if consumed == hdr.len())
    );
    assert_eq!(
        parse(&[0u8; 4096], &mut st),
        Parsed::Skipped { consumed: 4096 }
    );
    // `\n`-only and `\r`-only terminators and extra bytes before CRLF are bad chunks.
    assert_eq!(replies(b"set k 0 0 1\r\nx\n"), b"");
    assert_eq!(
        replies(b"set k 0 0 1\r\nx\nget k\r\n"),
        [&b"CLIENT_ERROR bad data chunk\r\n"[..], ERROR].concat()
    );
    assert_eq!(
        replies(b"set k 0 0 1\r\nx\rget k\r\n"),
        [&b"CLIENT_ERROR bad data chunk\r\n"[..], ERROR].concat()
    );
    // Base64 meta keys decoding from 250 characters; invalid base64.
    let b64 = "QUFB".repeat(62) + "QQ==";
    assert_eq!(b64.len(), 252);
    assert_eq!(
        replies(format!("mg {} b v\r\n", &b64[..248]).as_bytes()),
        b""
    );
    assert_eq!(replies(format!("mg {b64} b v\r\n").as_bytes()), CLIENT_BAD);
    assert_eq!(
        replies(b"mg QUF b v\r\n"),
        b"CLIENT_ERROR error decoding key\r\n"
    );
    // Keys with high bytes pass in memcached mode; duplicates are kept.
    assert_eq!(keys(&single(b"get \xff\x80 a a\r\n")).len(), 3);
    // 100k keys in one get.
    let mut get = b"get".to_vec();
    for i in 0..100_000 {
        get.extend_from_slice(format!(" k{i}").as_bytes());
    }
    get.extend_from_slice(b"\r\n");
    assert_eq!(keys(&single(&get)).len(), 100_000);
}

#[test]
fn error_kinds_expose_reply_and_close() {
    assert_eq!(ErrorKind::Error.reply(), b"ERROR\r\n");
    assert!(ErrorKind::LineTooLong.closes_connection());
    assert!(!ErrorKind::TooLarge.closes_connection());
}
