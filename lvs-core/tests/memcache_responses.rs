//! Response parsing, hostile backends, and the binary protocol.

use lvs_core::memcache::{
    BinaryError, BinaryState, HEADER_LEN, Header, HeaderRepr, Limits, MetaCode, Parsed, Response,
    ResponseError, ResponseState, Status, parse_binary, parse_response,
};

fn all(input: &[u8]) -> Vec<String> {
    let mut st = ResponseState::default();
    let mut rest = input;
    let mut out = Vec::new();
    loop {
        match parse_response(rest, &mut st) {
            Parsed::Complete { value, consumed } => {
                out.push(format!("{value:?}"));
                rest = &rest[consumed..];
            }
            Parsed::Invalid { error, .. } => {
                out.push(format!("!{error:?}"));
                return out;
            }
            Parsed::Incomplete => return out,
            Parsed::Skipped { .. } => unreachable!("responses are never swallowed"),
        }
    }
}

fn one(input: &[u8]) -> Response<'_> {
    match parse_response(input, &mut ResponseState::default()) {
        Parsed::Complete { value, consumed } => {
            assert_eq!(consumed, input.len());
            value
        }
        other => panic!("{}: {other:?}", input.escape_ascii()),
    }
}

fn error(input: &[u8]) -> ResponseError {
    match parse_response(input, &mut ResponseState::default()) {
        Parsed::Invalid { error, .. } => error,
        other => panic!("{}: {other:?}", input.escape_ascii()),
    }
}

#[test]
fn every_response_kind() {
    assert_eq!(
        one(b"VALUE k 5 3\r\nabc\r\n"),
        Response::Value {
            key: b"k",
            flags: 5,
            cas: None,
            data: b"abc"
        }
    );
    assert_eq!(
        one(b"VALUE k 0 2 77\r\n\r\n\r\n"),
        Response::Value {
            key: b"k",
            flags: 0,
            cas: Some(77),
            data: b"\r\n"
        }
    );
    for s in [
        Status::End,
        Status::Stored,
        Status::NotStored,
        Status::Exists,
        Status::NotFound,
        Status::Deleted,
        Status::Touched,
        Status::Ok,
        Status::Reset,
    ] {
        let line = [s.name(), b"\r\n"].concat();
        assert_eq!(one(&line), Response::Status(s));
    }
    assert_eq!(one(b"18446744073709551615\r\n"), Response::Number(u64::MAX));
    assert_eq!(one(b"VERSION 1.6.18\r\n"), Response::Version(b"1.6.18"));
    assert_eq!(
        one(b"STAT pid 42\r\n"),
        Response::Stat {
            name: b"pid",
            value: b"42"
        }
    );
    assert_eq!(
        one(b"STAT version 1.6 x\r\n"),
        Response::Stat {
            name: b"version",
            value: b"1.6 x"
        }
    );
    assert_eq!(one(b"ERROR\r\n"), Response::Error { message: b"" });
    assert_eq!(
        one(b"ERROR: shutdown not enabled\r\n"),
        Response::Error {
            message: b": shutdown not enabled"
        }
    );
    assert_eq!(
        one(b"CLIENT_ERROR bad data chunk\r\n"),
        Response::ClientError(b"bad data chunk")
    );
    assert_eq!(
        one(b"SERVER_ERROR out of memory\r\n"),
        Response::ServerError(b"out of memory")
    );
    assert_eq!(
        one(b"BUSY currently processing reassign request\r\n"),
        Response::Admin(b"BUSY currently processing reassign request")
    );
    assert_eq!(
        one(b"ME k exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n"),
        Response::MetaDebug {
            key: b"k",
            details: b"exp=-1 la=3 cas=2 fetch=no cls=1 size=63"
        }
    );
}

#[test]
fn meta_responses() {
    let Response::Meta(m) = one(b"VA 2 f5 t-1 km O123\r\nhi\r\n") else {
        panic!()
    };
    assert_eq!((m.code, m.data), (MetaCode::Va, Some(&b"hi"[..])));
    assert_eq!(m.flags.get(b'f'), Some(&b"5"[..]));
    assert_eq!(m.flags.get(b't'), Some(&b"-1"[..]));
    assert_eq!(m.flags.opaque(), Some(&b"123"[..]));
    for (line, code) in [
        (&b"HD c5\r\n"[..], MetaCode::Hd),
        (b"EN\r\n", MetaCode::En),
        (b"NF O1 kfoo\r\n", MetaCode::Nf),
        (b"NS\r\n", MetaCode::Ns),
        (b"EX\r\n", MetaCode::Ex),
        (b"MN\r\n", MetaCode::Mn),
    ] {
        let Response::Meta(m) = one(line) else {
            panic!()
        };
        assert_eq!(m.code, code);
        assert_eq!(m.data, None);
    }
    // `ma ... v` answers VA with the number as the value.
    let Response::Meta(m) = one(b"VA 2\r\n10\r\n") else {
        panic!()
    };
    assert_eq!(m.data, Some(&b"10"[..]));
}

/// §7.4, backend side.
#[test]
fn hostile_backends() {
    // VALUE with the wrong length: the block is not followed by CRLF.
    assert_eq!(
        error(b"VALUE k 0 2\r\nabc\r\nEND\r\n"),
        ResponseError::BadDataChunk
    );
    // A VALUE without END is just a value; the proxy sees END never came.
    assert_eq!(all(b"VALUE k 0 1\r\nx\r\n").len(), 1);
    // Unsolicited junk.
    assert_eq!(error(b"hello\r\n"), ResponseError::Unknown);
    assert_eq!(error(b"END \r\n"), ResponseError::Unknown);
    // SERVER_ERROR in the middle of a multi-get.
    assert_eq!(
        all(b"VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\n"),
        [
            "Value { key: [97], flags: 0, cas: None, data: [120] }",
            "ServerError([111, 117, 116, 32, 111, 102, 32, 109, 101, 109, 111, 114, 121, 32, 119, 114, 105, 116, 105, 110, 103, 32, 103, 101, 116, 32, 114, 101, 115, 112, 111, 110, 115, 101])"
        ]
    );
    // A 1 MB VERSION line.
    let mut v = b"VERSION ".to_vec();
    v.extend(std::iter::repeat_n(b'1', 1 << 20));
    assert_eq!(error(&v), ResponseError::LineTooLong);
    v.extend_from_slice(b"\r\n");
    assert_eq!(error(&v), ResponseError::LineTooLong);
    // RST in the middle of a value: the parser waits; the shell sees EOF with a busy state.
    let mut st = ResponseState::default();
    assert_eq!(
        parse_response(b"VALUE k 0 10\r\nabc", &mut st),
        Parsed::Incomplete
    );
    assert!(!st.is_idle());
    // Malformed headers and oversized values.
    assert_eq!(
        error(b"VALUE k x 1\r\nx\r\n"),
        ResponseError::BadValueHeader
    );
    assert_eq!(error(b"VALUE k 0\r\n"), ResponseError::BadValueHeader);
    assert_eq!(error(b"VALUE k 0 1 2 3\r\n"), ResponseError::BadValueHeader);
    assert_eq!(
        error(b"VALUE k 4294967296 1\r\nx\r\n"),
        ResponseError::BadValueHeader
    );
    assert_eq!(
        error(b"VALUE k 0 2000000\r\n"),
        ResponseError::ValueTooLarge
    );
    assert_eq!(error(b"VA 99999999999\r\n"), ResponseError::ValueTooLarge);
    let long_key = format!("VALUE {} 0 1\r\nx\r\n", "k".repeat(251));
    assert_eq!(error(long_key.as_bytes()), ResponseError::KeyTooLong);
    assert_eq!(error(b"STAT x\r\n"), ResponseError::BadStat);
    assert_eq!(
        error(b"99999999999999999999999\r\n"),
        ResponseError::Unknown
    );
    // A slowloris backend, one byte per call, gives the same responses.
    let stream = b"VALUE a 1 3 9\r\nabc\r\nEND\r\nHD O1\r\nVA 1 k\r\nz\r\n";
    let mut st = ResponseState::new(Limits::default());
    let mut buf = Vec::new();
    let mut got = Vec::new();
    for &b in stream {
        buf.push(b);
        while let Parsed::Complete { value, consumed } = parse_response(&buf, &mut st) {
            got.push(format!("{value:?}"));
            buf.drain(..consumed);
        }
    }
    assert_eq!(got, all(stream));
    assert_eq!(got.len(), 4);
}

#[test]
fn binary_header_view_and_packets() {
    let repr = HeaderRepr {
        magic: 0x80,
        opcode: 0x01,
        key_len: 3,
        extras_len: 8,
        data_type: 0,
        vbucket_or_status: 7,
        total_body: 8 + 3 + 5,
        opaque: 0xdead_beef,
        cas: 42,
    };
    let mut pkt = repr.emit().to_vec();
    pkt.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 60]);
    pkt.extend_from_slice(b"keyvalue");
    let h = Header::new_checked(&pkt[..]).expect("header");
    assert_eq!(HeaderRepr::parse(&h), repr);
    // Incremental: nothing until the whole body is there, at any split.
    for cut in 0..pkt.len() {
        let mut st = BinaryState::requests(Limits::default());
        assert_eq!(parse_binary(&pkt[..cut], &mut st), Parsed::Incomplete);
    }
    let mut st = BinaryState::requests(Limits::default());
    let Parsed::Complete { value, consumed } = parse_binary(&pkt, &mut st) else {
        panic!()
    };
    assert_eq!(consumed, pkt.len());
    assert_eq!(
        (value.extras.len(), value.key, value.value),
        (8, &b"key"[..], &b"value"[..])
    );
    assert_eq!(
        (
            value.header.opcode(),
            value.header.opaque(),
            value.header.cas()
        ),
        (1, 0xdead_beef, 42)
    );
    // Bounds checks.
    assert_eq!(
        Header::new_checked(&pkt[..HEADER_LEN - 1]),
        Err(BinaryError::Truncated)
    );
    let mut bad = pkt.clone();
    bad[0] = 0x42;
    assert_eq!(
        Header::new_checked(&bad[..]),
        Err(BinaryError::BadMagic(0x42))
    );
    let mut bad = pkt.clone();
    bad[11] = 5; // total body 5 < extras 8 + key 3
    assert_eq!(Header::new_checked(&bad[..]), Err(BinaryError::BadLengths));
    let mut st = BinaryState::requests(Limits::default());
    assert!(matches!(
        parse_binary(&bad, &mut st),
        Parsed::Invalid { consumed: 0, .. }
    ));
    // A response parser refuses request magic.
    let mut st = BinaryState::responses(Limits::default());
    assert_eq!(
        parse_binary(&pkt, &mut st),
        Parsed::Invalid {
            error: BinaryError::BadMagic(0x80),
            consumed: 0
        }
    );
    // An oversized body is reported once, then swallowed.
    let big = HeaderRepr {
        magic: 0x80,
        opcode: 1,
        total_body: 3 << 20,
        opaque: 9,
        ..HeaderRepr::default()
    };
    let mut st = BinaryState::requests(Limits::default());
    assert_eq!(
        parse_binary(&big.emit(), &mut st),
        Parsed::Invalid {
            error: BinaryError::TooLarge {
                opcode: 1,
                opaque: 9
            },
            consumed: HEADER_LEN
        }
    );
    assert_eq!(
        parse_binary(&[0; 100], &mut st),
        Parsed::Skipped { consumed: 100 }
    );
}
