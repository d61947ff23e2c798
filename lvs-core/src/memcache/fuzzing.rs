//! Fuzz entry points for the memcached codec. `fuzz/fuzz_targets/memcache_{request,response}.rs`
//! are one-line calls into these, and `cargo test` replays the committed corpora through them.
//! Each panics only when an invariant of the codec is broken: a panic inside a parser, a
//! different event sequence for a different split of the same bytes, zero progress, or a
//! written value that does not parse back to itself.

use super::{
    BinaryState, Limits, Parsed, ParserState, ResponseState, parse, parse_binary, parse_response,
};

/// One parser event, owned, for comparisons. Consecutive skips merge, because how a swallowed
/// block is skipped depends on how the bytes arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A value (its debug form) and the bytes it used.
    Complete(String, usize),
    /// An error (its debug form) and the bytes it used.
    Invalid(String, usize),
    /// Bytes skipped.
    Skipped(usize),
}

fn push(evs: &mut Vec<Event>, e: Event) {
    if let (Some(Event::Skipped(a)), Event::Skipped(b)) = (evs.last_mut(), &e) {
        *a += b;
        return;
    }
    evs.push(e);
}

/// Drives a parser over `data` delivered in pieces ending at `cuts` (increasing; the end of
/// `data` is always a cut), the way a shell would: append, parse until `Incomplete`, drop what
/// was consumed. Stops at an error with `consumed: 0`.
pub fn drive(
    data: &[u8],
    cuts: &[usize],
    mut step: impl FnMut(&[u8]) -> Parsed<String, String>,
) -> Vec<Event> {
    let mut evs = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut fed = 0;
    for &cut in cuts.iter().chain(core::iter::once(&data.len())) {
        let cut = cut.clamp(fed, data.len());
        buf.extend_from_slice(&data[fed..cut]);
        fed = cut;
        loop {
            let avail = buf.len() - start;
            let (e, consumed) = match step(&buf[start..]) {
                Parsed::Incomplete => break,
                Parsed::Complete { value, consumed } => {
                    (Event::Complete(value, consumed), consumed)
                }
                Parsed::Invalid { error, consumed } => {
                    let e = Event::Invalid(error, consumed);
                    if consumed == 0 {
                        evs.push(e);
                        return evs;
                    }
                    (e, consumed)
                }
                Parsed::Skipped { consumed } => (Event::Skipped(consumed), consumed),
            };
            assert!(
                consumed > 0 && consumed <= avail,
                "consumed {consumed} of {avail}"
            );
            push(&mut evs, e);
            start += consumed;
        }
        if start > 1 << 16 {
            buf.drain(..start);
            start = 0;
        }
    }
    evs
}

/// A parser outcome with its value and error in debug form (owned).
pub fn owned<T: core::fmt::Debug, E: core::fmt::Debug>(p: Parsed<T, E>) -> Parsed<String, String> {
    match p {
        Parsed::Incomplete => Parsed::Incomplete,
        Parsed::Complete { value, consumed } => Parsed::Complete {
            value: format!("{value:?}"),
            consumed,
        },
        Parsed::Invalid { error, consumed } => Parsed::Invalid {
            error: format!("{error:?}"),
            consumed,
        },
        Parsed::Skipped { consumed } => Parsed::Skipped { consumed },
    }
}

/// A small deterministic generator for split points, seeded from the input.
fn cut_plans(data: &[u8]) -> Vec<Vec<usize>> {
    let mut x = data.iter().fold(0x9e37_79b9_7f4a_7c15_u64, |a, &b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % (n as u64 + 1)) as usize
    };
    let n = data.len();
    let mut plans = Vec::new();
    for k in 1..=3 {
        let mut cuts: Vec<usize> = (0..k).map(|_| next(n)).collect();
        cuts.sort_unstable();
        plans.push(cuts);
    }
    if n <= 4096 {
        plans.push((1..n).collect());
    }
    plans
}

fn limit_sets() -> [Limits; 3] {
    let small = Limits {
        max_key_len: 16,
        max_line_len: 120,
        max_get_line_len: 400,
        item_size_max: 200,
        max_response_line_len: 120,
        ..Limits::default()
    };
    [Limits::default(), Limits::strict(false), small]
}

/// Requests: every split gives the events of the whole input, and every parsed request,
/// written back, parses to itself. The binary request parser gets the same bytes.
pub fn request(data: &[u8]) {
    for limits in limit_sets() {
        let mut st = ParserState::new(limits);
        let whole = drive(data, &[], |b| owned(parse(b, &mut st)));
        for cuts in cut_plans(data) {
            let mut st = ParserState::new(limits);
            let split = drive(data, &cuts, |b| owned(parse(b, &mut st)));
            assert_eq!(whole, split, "split at {cuts:?} changed the events");
        }
        round_trip_requests(data, limits);
        let mut bst = BinaryState::requests(limits);
        let _ = drive(data, &[], |b| owned(parse_binary(b, &mut bst)));
    }
}

fn round_trip_requests(data: &[u8], limits: Limits) {
    let mut st = ParserState::new(limits);
    let mut rest = data;
    loop {
        let consumed = match parse(rest, &mut st) {
            Parsed::Complete { value, consumed } => {
                let mut out = Vec::new();
                value.write(&mut out);
                let mut st2 = ParserState::new(limits);
                match parse(&out, &mut st2) {
                    Parsed::Complete {
                        value: again,
                        consumed: n,
                    } => {
                        assert_eq!(format!("{again:?}"), format!("{value:?}"));
                        assert_eq!(n, out.len());
                    }
                    // A re-written number may be a byte longer (exptime 2147483648 is -2^31).
                    Parsed::Invalid { error, .. } if error.closes_connection() => {}
                    other => panic!("written {value:?} parsed as {other:?}"),
                }
                consumed
            }
            Parsed::Invalid { consumed, .. } | Parsed::Skipped { consumed } => consumed,
            Parsed::Incomplete => return,
        };
        if consumed == 0 {
            return;
        }
        rest = &rest[consumed..];
    }
}

/// Responses: split invariance and write-then-parse, as for requests; the binary response
/// parser gets the same bytes.
pub fn response(data: &[u8]) {
    for limits in limit_sets() {
        let mut st = ResponseState::new(limits);
        let whole = drive(data, &[], |b| owned(parse_response(b, &mut st)));
        for cuts in cut_plans(data) {
            let mut st = ResponseState::new(limits);
            let split = drive(data, &cuts, |b| owned(parse_response(b, &mut st)));
            assert_eq!(whole, split, "split at {cuts:?} changed the events");
        }
        let mut st = ResponseState::new(limits);
        let mut rest = data;
        while let Parsed::Complete { value, consumed } = parse_response(rest, &mut st) {
            let mut out = Vec::new();
            value.write(&mut out);
            let mut st2 = ResponseState::new(limits);
            match parse_response(&out, &mut st2) {
                Parsed::Complete {
                    value: again,
                    consumed: n,
                } => {
                    assert_eq!(format!("{again:?}"), format!("{value:?}"));
                    assert_eq!(n, out.len());
                }
                other => panic!("written {value:?} parsed as {other:?}"),
            }
            rest = &rest[consumed..];
        }
        let mut bst = BinaryState::responses(limits);
        let _ = drive(data, &[], |b| owned(parse_binary(b, &mut bst)));
    }
}
