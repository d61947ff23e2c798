//! Fuzz entry points. Each `fuzz/fuzz_targets/*.rs` target is a one-line call into a function
//! here, and `cargo test` replays the committed corpus in `fuzz/corpus/<target>/` through the
//! same function. Every function panics only when an invariant of this crate is broken.

use bytes::BytesMut;

use crate::wire::{Frame, Message, MessageBuilder, NameBuf, Section, TcpDecoder, WireError, rtype};

/// Arbitrary bytes as one DNS message and as a TCP stream.
///
/// * Parsing never panics; a parsed message is walked completely (every name decoded,
///   lowercased and compared, every RDATA decoded, every EDNS option read).
/// * A parsed message re-emitted through the builder (names uncompressed, then compressed)
///   parses back to the same header, questions and records; under a 512-byte limit the
///   re-emitted message still parses, and sets TC if it dropped anything from the question,
///   answer or authority sections.
/// * As a TCP stream, decoding the bytes whole and one byte at a time yields the same frames.
pub fn dns_message(data: &[u8]) {
    check_message(data);
    let whole = tcp_frames(data, data.len().max(1));
    let bytewise = tcp_frames(data, 1);
    assert_eq!(
        whole, bytewise,
        "TCP framing depends on how the bytes arrive"
    );
    for frame in &whole.0 {
        check_message(frame);
    }
}

/// Feeds `stream` in chunks of `chunk` bytes; returns the frames and the error that ended the
/// stream, if any.
fn tcp_frames(stream: &[u8], chunk: usize) -> (Vec<Vec<u8>>, Option<WireError>) {
    let mut dec = TcpDecoder::new();
    let mut buf = Vec::new();
    let mut frames = Vec::new();
    for piece in stream.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match dec.decode(&buf) {
                Ok(Frame::Complete(r)) => frames.push(buf[r].to_vec()),
                Ok(Frame::Incomplete { needed }) => {
                    assert!(needed > 0);
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
        let used = dec.take_consumed();
        buf.drain(..used);
    }
    (frames, None)
}

fn check_message(data: &[u8]) {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    walk(&msg);
    for compress in [false, true] {
        let mut out = BytesMut::new();
        if reemit(&msg, &mut out, compress, usize::MAX).is_ok() {
            let again = Message::parse(&out).expect("a re-emitted message parses");
            assert_same(&msg, &again);
        }
    }
    let mut out = BytesMut::new();
    if reemit(&msg, &mut out, true, 512).is_ok() {
        let small = Message::parse(&out).expect("a truncated re-emit parses");
        assert!(out.len() <= 512);
        let dropped = [Section::Question, Section::Answer, Section::Authority]
            .iter()
            .any(|&s| small.header().count(s) < msg.header().count(s));
        assert!(
            !dropped || small.header().tc(),
            "dropped records without TC"
        );
    }
}

fn walk(msg: &Message<'_>) {
    let mut canon = [0u8; 255];
    for q in msg.questions() {
        let n = q
            .name
            .write_canonical(&mut canon)
            .expect("255 bytes suffice");
        assert_eq!(n, q.name.wire_len());
        assert!(q.name.eq_ignore_case(&q.name));
        let owned = NameBuf::from_name(&q.name);
        assert!(owned.as_name().eq_exact(&q.name));
        assert!(q.name.labels().count() == q.name.label_count());
    }
    let mut rdata = vec![0u8; 70_000];
    for s in [Section::Answer, Section::Authority, Section::Additional] {
        for rr in msg.records(s) {
            let n = rr
                .name
                .write_canonical(&mut canon)
                .expect("255 bytes suffice");
            let lower = crate::wire::Name::from_wire(&canon[..n]).expect("canonical form parses");
            assert!(lower.eq_ignore_case(&rr.name));
            let _ = rr.data();
            rr.write_rdata_uncompressed(&mut rdata)
                .expect("a parsed RDATA decompresses");
        }
    }
    if let Some(edns) = msg.edns() {
        for _ in edns.options() {}
        let _ = edns.ede();
    }
}

/// Re-emits `msg` through the builder.
fn reemit(
    msg: &Message<'_>,
    out: &mut BytesMut,
    compress: bool,
    limit: usize,
) -> Result<usize, WireError> {
    let mut b = MessageBuilder::new(out)?;
    b.set_compression(compress);
    b.set_limit(limit);
    let h = msg.header();
    b.set_id(h.id());
    b.set_flags(h.flags());
    b.set_opcode(h.opcode());
    b.set_rcode(u16::from(h.rcode()));
    let opt_len = msg.opt().map_or(0, |o| o.end() - o.offset);
    b.reserve(opt_len);
    let keep_going = |r: Result<(), WireError>| match r {
        Ok(()) => Ok(true),
        Err(WireError::NoSpace) if limit != usize::MAX => Ok(false),
        Err(e) => Err(e),
    };
    'fill: {
        for q in msg.questions() {
            if !keep_going(b.question(&q.name, q.qtype, q.qclass))? {
                break 'fill;
            }
        }
        for s in [Section::Answer, Section::Authority, Section::Additional] {
            for rr in msg.records(s).filter(|rr| rr.rtype != rtype::OPT) {
                if !keep_going(b.copy_record(s, &rr))? {
                    break 'fill;
                }
            }
        }
    }
    if let Some(opt) = msg.opt() {
        b.reserve(0);
        b.copy_record(Section::Additional, &opt)?;
    }
    b.finish()
}

fn assert_same(a: &Message<'_>, b: &Message<'_>) {
    assert_eq!(a.header(), b.header(), "header");
    assert_eq!(a.rcode(), b.rcode());
    for (x, y) in a.questions().zip(b.questions()) {
        assert!(x.name.eq_exact(&y.name), "question name");
        assert_eq!((x.qtype, x.qclass), (y.qtype, y.qclass));
    }
    let (mut rx, mut ry) = (vec![0u8; 70_000], vec![0u8; 70_000]);
    for s in [Section::Answer, Section::Authority, Section::Additional] {
        // The OPT record is re-emitted last in the additional section.
        let xs = a.records(s).filter(|r| r.rtype != rtype::OPT);
        let ys = b.records(s).filter(|r| r.rtype != rtype::OPT);
        for (x, y) in xs.zip(ys).chain(a.opt().zip(b.opt())) {
            assert!(x.name.eq_exact(&y.name), "owner name");
            assert_eq!((x.rtype, x.class, x.ttl), (y.rtype, y.class, y.ttl));
            let nx = x.write_rdata_uncompressed(&mut rx).expect("rdata");
            let ny = y.write_rdata_uncompressed(&mut ry).expect("rdata");
            assert_eq!(rx[..nx], ry[..ny], "rdata");
        }
    }
}

/// Bytes as an rndc (ISCCC) frame: framing and decoding never panic, and every message that
/// decodes re-encodes to a frame that decodes to the same table. The bytes are also tried as
/// base64 text (the HMAC fields carry base64).
pub fn rndc_message(data: &[u8]) {
    use crate::rndc::codec::{decode, encode, frame_len};
    let _ = frame_len(data);
    if let Ok(d) = decode(data)
        && let Ok(again) = encode(&d.table)
    {
        let back = decode(&again).expect("an encoded table decodes");
        assert_eq!(back.table, d.table, "decode(encode(t)) == t");
    }
    if let Ok(text) = core::str::from_utf8(data) {
        let _ = crate::rndc::auth::base64_decode(text);
    }
}
