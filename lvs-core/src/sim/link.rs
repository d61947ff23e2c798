//! Link behaviour: latency, jitter, loss, duplication, reordering and MTU, plus partitions.

use core::net::SocketAddr;
use core::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::Rng;

use super::NodeId;
use crate::rng::uniform_below;

/// How one direction of a link (or every link, as the default) treats packets.
///
/// Every probability is in `0.0..=1.0` (values outside are clamped; NaN counts as `0.0`). Random
/// draws come from the simulation's network RNG and are only taken for a non-zero probability or
/// jitter, so an ideal link consumes no randomness.
///
/// ```
/// use core::time::Duration;
/// use lvs_core::sim::LinkConfig;
///
/// let wan = LinkConfig::latency(Duration::from_millis(40))
///     .with_jitter(Duration::from_millis(5))
///     .with_loss(0.01)
///     .with_mtu(1500);
/// assert_eq!(wan.mtu, Some(1500));
/// assert_eq!(LinkConfig::default().latency, Duration::from_millis(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// Fixed one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `0..=jitter` for each packet.
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub loss: f64,
    /// Probability that a delivered packet is also delivered a second time (the copy draws its
    /// own jitter and reordering delay).
    pub duplicate: f64,
    /// Probability that a packet is held back by an extra delay drawn uniformly from
    /// `0..=reorder_delay`, letting later packets overtake it.
    pub reorder: f64,
    /// The maximum extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// Largest IP packet carried: payload plus a 20-byte IPv4 / 40-byte IPv6 header plus an
    /// 8-byte UDP header when the destination port is not 0 (port 0 means a raw IP protocol
    /// such as VRRP). `None` means unlimited.
    pub mtu: Option<usize>,
}

impl Default for LinkConfig {
    /// An ideal link with a 1 ms latency (so two machines that answer each other immediately
    /// still advance virtual time).
    fn default() -> Self {
        Self::latency(Duration::from_millis(1))
    }
}

impl LinkConfig {
    /// An ideal link (no jitter, loss, duplication, reordering, or MTU) with the given latency.
    pub const fn latency(latency: Duration) -> Self {
        Self {
            latency,
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            mtu: None,
        }
    }

    /// This link with the given jitter.
    #[must_use]
    pub const fn with_jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// This link with the given loss probability.
    #[must_use]
    pub const fn with_loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// This link with the given duplication probability.
    #[must_use]
    pub const fn with_duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// This link with reordering: probability `p` of an extra delay of up to `max_delay`.
    #[must_use]
    pub const fn with_reorder(mut self, p: f64, max_delay: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = max_delay;
        self
    }

    /// This link with the given MTU (see [`LinkConfig::mtu`]).
    #[must_use]
    pub const fn with_mtu(mut self, mtu: usize) -> Self {
        self.mtu = Some(mtu);
        self
    }

    /// Whether a packet to `dst` with `payload_len` bytes of payload fits the MTU.
    pub(crate) fn fits(&self, dst: SocketAddr, payload_len: usize) -> bool {
        let Some(mtu) = self.mtu else {
            return true;
        };
        let ip = if dst.is_ipv4() { 20 } else { 40 };
        let udp = if dst.port() == 0 { 0 } else { 8 };
        payload_len.saturating_add(ip + udp) <= mtu
    }

    /// Draw the one-way delay of one copy of a packet.
    pub(crate) fn draw_delay(&self, rng: &mut ChaCha8Rng) -> Duration {
        let mut d = self.latency.saturating_add(draw_upto(rng, self.jitter));
        if chance(rng, self.reorder) {
            d = d.saturating_add(draw_upto(rng, self.reorder_delay));
        }
        d
    }
}

/// `true` with probability `p`.
pub(crate) fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    if p.is_nan() || p <= 0.0 {
        return false;
    }
    if p >= 1.0 {
        return true;
    }
    // 53 random bits give a uniform f64 in [0, 1).
    let x = (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    x < p
}

/// A uniform duration in `0..=max`, with nanosecond resolution.
fn draw_upto(rng: &mut ChaCha8Rng, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(uniform_below(rng, nanos.saturating_add(1)))
}

/// Which nodes can reach which: `None` everywhere means one connected network.
#[derive(Debug, Default, Clone)]
pub(crate) struct Partitions {
    /// Group number per node index; only meaningful while `active`.
    group: Vec<u32>,
    active: bool,
}

/// The group of every node not named in a partition.
const REST: u32 = u32::MAX;

impl Partitions {
    /// Split the network: each slice is one group; unnamed nodes form one more group together.
    pub(crate) fn split(&mut self, node_count: usize, groups: &[&[NodeId]]) {
        self.group = vec![REST; node_count];
        for (g, members) in groups.iter().enumerate() {
            let g = u32::try_from(g).unwrap_or(REST - 1).min(REST - 1);
            for id in *members {
                if let Some(slot) = self.group.get_mut(id.index()) {
                    *slot = g;
                }
            }
        }
        self.active = true;
    }

    /// Reconnect everything.
    pub(crate) fn heal(&mut self) {
        self.group.clear();
        self.active = false;
    }

    /// Whether a packet from `a` can reach `b` right now.
    pub(crate) fn connected(&self, a: NodeId, b: NodeId) -> bool {
        if !self.active {
            return true;
        }
        let g = |id: NodeId| self.group.get(id.index()).copied().unwrap_or(REST);
        g(a) == g(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn mtu_counts_headers() {
        let l = LinkConfig::default().with_mtu(100);
        let udp4: SocketAddr = "10.0.0.1:53".parse().unwrap();
        let raw4: SocketAddr = "10.0.0.1:0".parse().unwrap();
        let udp6: SocketAddr = "[fe80::1]:53".parse().unwrap();
        assert!(l.fits(udp4, 72));
        assert!(!l.fits(udp4, 73));
        assert!(l.fits(raw4, 80));
        assert!(!l.fits(raw4, 81));
        assert!(l.fits(udp6, 52));
        assert!(!l.fits(udp6, 53));
        assert!(LinkConfig::default().fits(udp4, usize::MAX));
    }

    #[test]
    fn delay_stays_in_bounds() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let l = LinkConfig::latency(Duration::from_millis(10))
            .with_jitter(Duration::from_millis(2))
            .with_reorder(0.5, Duration::from_millis(7));
        for _ in 0..1000 {
            let d = l.draw_delay(&mut rng);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(19));
        }
    }

    #[test]
    fn chance_edges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(!chance(&mut rng, 0.0));
        assert!(!chance(&mut rng, f64::NAN));
        assert!(!chance(&mut rng, -1.0));
        assert!(chance(&mut rng, 1.0));
        assert!(chance(&mut rng, 2.0));
    }
}
