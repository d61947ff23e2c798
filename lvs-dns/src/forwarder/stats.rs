//! Counters: every query is answered or dropped for a named reason, every upstream datagram
//! that is not accepted is dropped for a named reason.

/// Why a client query or an upstream response was dropped without a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Client datagram shorter than the 12-byte header.
    ShortQuery,
    /// Client datagram with QR=1 (never answer a response).
    ResponseAsQuery,
    /// Denied by the ACLs with [`RefusedAction::Drop`](super::RefusedAction::Drop).
    AclDenied,
    /// Response-rate limiting dropped the reply.
    RateLimited,
    /// Too many clients already wait on the same fetch (`clients-per-query`).
    TooManyWaiters,
    /// A datagram to a port that is neither the listen port nor an upstream query's port.
    UnknownPort,
    /// An upstream datagram that is not a response (QR=0) or not a QUERY.
    UpstreamNotResponse,
    /// An upstream datagram from an address/port we have no query outstanding with on that
    /// local port (wrong server, wrong port, late after the fetch ended).
    UpstreamUnexpected,
    /// The right server and port but the wrong ID (triggers a TCP retry).
    UpstreamIdMismatch,
    /// The right server, port and ID but not our question bytes.
    UpstreamQuestionMismatch,
    /// The question differs only in case from our 0x20 question (the server does not echo).
    UpstreamCaseMismatch,
    /// An upstream response that does not parse.
    UpstreamMalformed,
    /// A TCP result for a token we no longer track.
    UpstreamTcpUnknown,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 13] = [
        Self::ShortQuery,
        Self::ResponseAsQuery,
        Self::AclDenied,
        Self::RateLimited,
        Self::TooManyWaiters,
        Self::UnknownPort,
        Self::UpstreamNotResponse,
        Self::UpstreamUnexpected,
        Self::UpstreamIdMismatch,
        Self::UpstreamQuestionMismatch,
        Self::UpstreamCaseMismatch,
        Self::UpstreamMalformed,
        Self::UpstreamTcpUnknown,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }

    /// Whether this reason concerns a client query (as opposed to upstream traffic).
    pub fn is_client(self) -> bool {
        matches!(
            self,
            Self::ShortQuery
                | Self::ResponseAsQuery
                | Self::AclDenied
                | Self::RateLimited
                | Self::TooManyWaiters
        )
    }
}

/// The forwarder's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client queries received over UDP.
    pub queries_udp: u64,
    /// Client queries received over TCP.
    pub queries_tcp: u64,
    /// Replies sent to clients (UDP transmits and TCP reply events).
    pub replies: u64,
    /// Replies answered from a fresh cache entry.
    pub cache_hits: u64,
    /// Queries that needed an upstream fetch.
    pub cache_misses: u64,
    /// Queries that joined a fetch already in flight.
    pub coalesced: u64,
    /// Stale answers served.
    pub stale_answers: u64,
    /// Prefetches started.
    pub prefetches: u64,
    /// Upstream queries sent over UDP.
    pub upstream_udp: u64,
    /// Upstream queries sent over TCP.
    pub upstream_tcp: u64,
    /// Hedged queries sent.
    pub hedges: u64,
    /// Re-probe copies sent to idle forwarders.
    pub probes: u64,
    /// Upstream attempts that timed out.
    pub upstream_timeouts: u64,
    /// TCP retries because of TC=1.
    pub tcp_retries_truncated: u64,
    /// TCP retries because of an ID mismatch (spoofing defence).
    pub tcp_retries_mismatch: u64,
    /// Fetches that failed on every forwarder.
    pub fetch_failures: u64,
    /// Of those, in `forward first` mode (answered with EDE 22).
    pub forward_first_failures: u64,
    /// SERVFAIL replies sent.
    pub servfail: u64,
    /// REFUSED replies sent.
    pub refused: u64,
    /// FORMERR replies sent.
    pub formerr: u64,
    /// NOTIMP replies sent.
    pub notimp: u64,
    /// Truncated (TC=1) replies sent by RRL slip.
    pub slipped: u64,
    /// Records thrown away while scrubbing upstream answers.
    pub scrubbed_records: u64,
    /// New fetches refused because the pending table was full.
    pub pending_full: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// How many drops of `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// Client queries dropped without a reply, all reasons.
    pub fn client_drops(&self) -> u64 {
        DropReason::ALL
            .iter()
            .filter(|r| r.is_client())
            .map(|&r| self.dropped(r))
            .sum()
    }

    /// Upstream datagrams dropped, all reasons.
    pub fn upstream_drops(&self) -> u64 {
        DropReason::ALL
            .iter()
            .filter(|r| !r.is_client())
            .map(|&r| self.dropped(r))
            .sum()
    }

    /// Every reason with its count.
    pub fn drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|&r| (r, self.dropped(r)))
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
}
