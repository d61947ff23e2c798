//! Fuzzing the memcached proxy session: client and backend bytes in any split.

use crate::mcproxy::{DownPolicy, Router, Session, SessionConfig};
use crate::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

/// Bytes as a client stream and backend replies fed to a [`Session`] over three backends:
/// the first byte picks the down policy and a split point; client bytes and backend bytes are
/// fed in chunks, outputs are drained, one backend may go down and come back. Nothing may
/// panic, and the session's buffers stay within its configured bounds (plus one chunk).
pub fn session(data: &[u8]) {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let servers: Vec<ServerSpec> = ["10.0.0.1:11211:1", "10.0.0.2:11211:1", "10.0.0.3:11211:2"]
        .iter()
        .filter_map(|s| ServerSpec::parse(s).ok())
        .collect();
    let Ok(pool) = TwemproxyPool::new(servers, HashFunction::Fnv1a64, Distribution::Ketama) else {
        return;
    };
    let policy = match ctl % 3 {
        0 => DownPolicy::FailFast,
        1 => DownPolicy::Remap,
        _ => DownPolicy::FailFast,
    };
    let Ok(router) = Router::new(pool, policy) else {
        return;
    };
    let cfg = SessionConfig::default();
    let bound = cfg.max_client_output + 3 * cfg.max_backend_output + cfg.max_buffered + 64 * 1024;
    let mut s = Session::new(router, cfg);
    let split = usize::from(ctl >> 2) % (rest.len() + 1);
    let (client, backend) = rest.split_at(split);
    for (i, chunk) in client.chunks(7).enumerate() {
        if s.wants_client_read() {
            s.feed_client(chunk);
        }
        // Backends answer with slices of the backend half, round robin.
        let b = i % 3;
        let start = (i * 5) % (backend.len() + 1);
        let end = (start + 11).min(backend.len());
        s.feed_backend(b, &backend[start..end]);
        for j in 0..3 {
            let n = s.backend_output(j).len();
            s.advance_backend(j, n);
        }
        let n = s.client_output().len();
        s.advance_client(n);
        while s.poll_event().is_some() {}
        if i == 3 {
            s.backend_down(1);
        }
        if i == 9 {
            s.backend_up(1);
        }
        assert!(
            s.buffered_bytes() <= bound,
            "buffers bounded: {}",
            s.buffered_bytes()
        );
    }
    s.client_eof();
    let _ = s.should_close_client();
}
