//! Run-time reconfiguration (what SIGHUP does in the daemon): the running client takes a new
//! server list without losing what it learnt about the servers that stay.

use lvs_core::Instant;
use lvs_core::rng::Rng;

use super::peer::Association;
use super::{Client, ConfigError, ServerConfig, first_poll, validate};

/// What [`Client::reconfigure`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Associations whose configuration was unchanged and that kept their state.
    pub kept: usize,
    /// Associations mobilised (new servers, or servers whose options changed).
    pub added: usize,
    /// Associations dropped (servers gone, or whose options changed).
    pub removed: usize,
    /// The system peer was among the dropped associations.
    pub peer_removed: bool,
}

impl<R: Rng> Client<R> {
    /// Replaces the server list at `now`, keeping the state of every association whose
    /// [`ServerConfig`] is unchanged.
    ///
    /// * **Kept** (same address and options): filter register, reach, poll, pending request
    ///   and next poll, selection tally and, if it was one, the system-peer role.
    /// * **Dropped** (address gone, or options changed): its state and timer go; requests to
    ///   it still queued for [`poll_transmit`](lvs_core::StateMachine::poll_transmit) are
    ///   discarded, and later replies from it count as
    ///   [`ClientStats::unknown_source`](super::ClientStats::unknown_source). If it was the
    ///   system peer, the frequency baseline restarts (RFC 5905 clock hop).
    /// * **New**: mobilised as at start-up, its first poll at a random point within
    ///   [`ClientConfig::first_poll_spread`](super::ClientConfig::first_poll_spread), with
    ///   `iburst` if configured.
    ///
    /// When anything was dropped, selection runs again over the remaining associations (new
    /// tallies and, if the system peer went, a new one with [`Event::SystemPeer`](super::Event::SystemPeer));
    /// the clock itself is only updated by the next reply. Associations follow the order of
    /// `servers` afterwards, so [`Client::association`] indices and
    /// [`Timer::Poll`](super::Timer::Poll) indices refer to the new list, and
    /// [`poll_timeout`](lvs_core::StateMachine::poll_timeout) covers the new associations. The
    /// system poll range follows the new servers' minpoll and maxpoll.
    ///
    /// An empty list is accepted: the client keeps its discipline and frequency, polls
    /// nothing, and what it advertises ages until it reads unsynchronised. On error (the
    /// checks of [`Client::new`]) nothing changes.
    pub fn reconfigure(
        &mut self,
        servers: impl IntoIterator<Item = ServerConfig>,
        now: Instant,
    ) -> Result<Reconfigured, ConfigError> {
        let servers = validate(servers)?;
        let now = self.guard.observe(now);
        let old_peer = self.sys.peer;
        let mut old: Vec<Option<Association>> = core::mem::take(&mut self.assocs)
            .into_iter()
            .map(Some)
            .collect();
        let mut result = Reconfigured::default();
        let mut new_peer = None;
        let mut assocs = Vec::with_capacity(servers.len());
        for s in servers {
            let position = old
                .iter()
                .position(|a| a.as_ref().is_some_and(|a| a.config == s));
            let kept = position.and_then(|i| {
                if old_peer == Some(i) {
                    new_peer = Some(assocs.len());
                }
                old[i].take()
            });
            let a = if let Some(a) = kept {
                result.kept += 1;
                a
            } else {
                result.added += 1;
                let first = first_poll(&mut self.rng, self.config.first_poll_spread, now);
                Association::new(s, first)
            };
            assocs.push(a);
        }
        result.removed = old.iter().flatten().count();
        result.peer_removed = old_peer.is_some() && new_peer.is_none();
        self.assocs = assocs;
        self.sys.peer = new_peer;

        // Only requests of kept associations may still leave: a new association has no
        // outstanding request a reply could match.
        let assocs = &self.assocs;
        self.transmits.retain(|t| {
            assocs
                .iter()
                .any(|a| a.addr() == t.dst && a.outstanding.is_some())
        });
        if let (Some(min), Some(max)) = (
            self.assocs.iter().map(|a| a.config.minpoll).min(),
            self.assocs.iter().map(|a| a.config.maxpoll).max(),
        ) {
            self.discipline.set_poll_range(min, max);
        }
        self.reserve(self.assocs.len());
        if result.peer_removed {
            self.discipline.restart_baseline();
        }
        if result.removed > 0 {
            self.clock_select(now, None);
        }
        Ok(result)
    }

    /// Grows the per-reply buffers to `n` associations, so the reply path stays
    /// allocation-free after a reconfiguration added servers.
    fn reserve(&mut self, n: usize) {
        fn at_least<T>(v: &mut Vec<T>, n: usize) {
            v.reserve(n.saturating_sub(v.len()));
        }
        let s = &mut self.scratch;
        at_least(&mut s.candidates, n);
        at_least(&mut s.survivors, n);
        at_least(&mut s.endpoints, 3 * n);
        at_least(&mut s.outliers, n);
        self.transmits
            .reserve(n.saturating_sub(self.transmits.len()));
    }
}

#[cfg(test)]
mod tests {
    use core::net::SocketAddr;
    use core::time::Duration;

    use lvs_core::Instant;
    use lvs_core::rng::SeedableRng;
    use lvs_core::sim::ChaCha8Rng;

    use super::super::{Client, ClientConfig, ServerConfig, Tally};

    fn addr(i: u8) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, i], 123))
    }

    fn client(servers: &[u8]) -> Client<ChaCha8Rng> {
        Client::new(
            ClientConfig::default(),
            servers.iter().map(|&i| ServerConfig::new(addr(i))),
            ChaCha8Rng::seed_from_u64(1),
            Instant::ZERO,
        )
        .unwrap()
    }

    #[test]
    fn the_system_peer_index_follows_its_association() {
        let mut c = client(&[1, 2, 3]);
        c.sys.peer = Some(2);
        c.assocs[2].tally = Tally::SystemPeer;
        let now = Instant::from_secs(5);
        // Server 3 moves to the front; 1 goes; 4 is new.
        let r = c
            .reconfigure([3, 2, 4].map(|i| ServerConfig::new(addr(i))), now)
            .unwrap();
        assert_eq!(
            (r.kept, r.added, r.removed, r.peer_removed),
            (2, 1, 1, false)
        );
        assert_eq!(c.sys.peer, Some(0));
        assert_eq!(c.system_peer(), Some(addr(3)));
        assert_eq!(c.assocs[2].addr(), addr(4));
        let first = c.assocs[2].next_poll.unwrap();
        assert!(first >= now && first < now + Duration::from_secs(1));
    }

    #[test]
    fn the_system_poll_range_follows_the_servers() {
        let mut c = client(&[1]);
        assert_eq!(c.discipline().poll(), 6);
        let fast = ServerConfig {
            minpoll: 8,
            maxpoll: 12,
            ..ServerConfig::new(addr(1))
        };
        c.reconfigure([fast], Instant::ZERO).unwrap();
        assert_eq!(c.discipline().poll(), 8);
        // No servers: nothing to poll, and the range stays as it was.
        c.reconfigure([], Instant::ZERO).unwrap();
        assert_eq!(c.discipline().poll(), 8);
    }
}
