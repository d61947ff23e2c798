//! The requests mcload sends and the check of each reply. Self-contained (it depends on
//! lvs-core only) so that `tests/mcload_smoke.rs` compiles it and runs its unit tests.

use lvs_core::memcache::{Response, Status};

/// One request in flight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Req {
    pub(crate) get: bool,
    pub(crate) key: u32,
    /// When it was due (open loop) or queued (closed loop), in clock nanoseconds.
    pub(crate) due: u64,
}

/// `key:<k>` in `buf`.
pub(crate) fn key_bytes(k: u32, buf: &mut [u8; 16]) -> &[u8] {
    buf[..4].copy_from_slice(b"key:");
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = k;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for (i, d) in digits[..n].iter().rev().enumerate() {
        buf[4 + i] = *d;
    }
    &buf[..4 + n]
}

/// Appends request `r`; `set_tail` is ` 0 0 <size>\r\n<value>\r\n`, shared by every set.
pub(crate) fn write_request(out: &mut Vec<u8>, r: Req, set_tail: &[u8]) {
    let mut kb = [0u8; 16];
    let key = key_bytes(r.key, &mut kb);
    if r.get {
        out.extend_from_slice(b"get ");
        out.extend_from_slice(key);
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(b"set ");
        out.extend_from_slice(key);
        out.extend_from_slice(set_tail);
    }
}

/// What one parsed reply means for the request at the head of the queue.
pub(crate) enum Step {
    /// A get's VALUE: `true` if it is the one expected.
    Value(bool),
    /// The request is complete; `true` if correctly answered.
    Done(bool),
}

/// Checks a reply against the oldest request in flight (`got_value`: a get that already had
/// its VALUE).
pub(crate) fn classify(resp: &Response<'_>, head: Req, got_value: bool, size: usize) -> Step {
    if !head.get {
        return Step::Done(matches!(resp, Response::Status(Status::Stored)));
    }
    match *resp {
        Response::Value {
            key, flags, data, ..
        } => {
            let mut kb = [0u8; 16];
            let ok = !got_value
                && key == key_bytes(head.key, &mut kb)
                && flags == 0
                && data.len() == size;
            Step::Value(ok)
        }
        Response::Status(Status::End) => Step::Done(true),
        _ => Step::Done(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_requests_are_spelled_like_memcached_wants() {
        let mut kb = [0u8; 16];
        assert_eq!(key_bytes(0, &mut kb), b"key:0");
        assert_eq!(key_bytes(u32::MAX, &mut kb), b"key:4294967295");
        let mut out = Vec::new();
        let tail = b" 0 0 2\r\nxx\r\n";
        let get = Req {
            get: true,
            key: 42,
            due: 0,
        };
        write_request(&mut out, get, tail);
        write_request(&mut out, Req { get: false, ..get }, tail);
        assert_eq!(out, b"get key:42\r\nset key:42 0 0 2\r\nxx\r\n");
    }

    #[test]
    fn replies_are_checked_against_the_request() {
        let get = Req {
            get: true,
            key: 7,
            due: 0,
        };
        let value = |key: &'static [u8], len| Response::Value {
            key,
            flags: 0,
            cas: None,
            data: &b"xxxx"[..len],
        };
        assert!(matches!(
            classify(&value(b"key:7", 3), get, false, 3),
            Step::Value(true)
        ));
        assert!(matches!(
            classify(&value(b"key:8", 3), get, false, 3),
            Step::Value(false)
        ));
        assert!(matches!(
            classify(&value(b"key:7", 4), get, false, 3),
            Step::Value(false)
        ));
        assert!(matches!(
            classify(&value(b"key:7", 3), get, true, 3),
            Step::Value(false)
        ));
        let end = Response::Status(Status::End);
        assert!(matches!(classify(&end, get, false, 3), Step::Done(true)));
        let stored = Response::Status(Status::Stored);
        assert!(matches!(
            classify(&stored, get, false, 3),
            Step::Done(false)
        ));
        let set = Req { get: false, ..get };
        assert!(matches!(classify(&stored, set, false, 3), Step::Done(true)));
        let err = Response::ServerError(b"out of memory");
        assert!(matches!(classify(&err, set, false, 3), Step::Done(false)));
        assert!(matches!(classify(&end, set, false, 3), Step::Done(false)));
    }
}
