//! Key routing over a twemproxy pool, with the down-backend policy.

use std::sync::Arc;

use crate::ring::{Distribution, TwemproxyPool};

/// What happens to keys owned by a backend that is down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownPolicy {
    /// twemproxy's `auto_eject_hosts: true`: the server is ejected from the ring, which is
    /// rebuilt without it, so its keys move to their ring neighbours (expect misses and, when
    /// it comes back, stale reads). Broadcasts skip it.
    Remap,
    /// Keep the ring as it is: single-key commands for the dead server's keys get
    /// [`BACKEND_UNAVAILABLE`](super::BACKEND_UNAVAILABLE), multi-gets report its keys as
    /// misses. Nothing moves, so nothing goes stale.
    FailFast,
    /// `replicas[i]` lists, in order of preference, the backends that serve server `i`'s keys
    /// while it is down (mcrouter's FailoverRoute). With no live replica, as
    /// [`FailFast`](Self::FailFast).
    Failover(Vec<Vec<usize>>),
}

/// Why a [`Router`] was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// `distribution: random` sends one key's reads and writes to different servers, which is
    /// meaningless for a cache; the proxy routes only ketama and modula pools.
    #[error("the random distribution cannot route keys")]
    RandomDistribution,
    /// A failover list names a backend that does not exist, or there is not one list per
    /// server.
    #[error("failover replica list does not match the pool")]
    BadReplicas,
    /// A backend index is out of range.
    #[error("no such backend")]
    NoSuchBackend,
}

/// A pool plus the health of each backend, as one session sees it.
///
/// The ring is shared (`Arc`) between the clones handed to each session; only a
/// [`DownPolicy::Remap`] ejection copies it, for that session alone.
#[derive(Clone, Debug)]
pub struct Router {
    pool: Arc<TwemproxyPool>,
    policy: Arc<DownPolicy>,
    down: Vec<bool>,
}

impl Router {
    /// A router over `pool` (ketama or modula) with every backend up.
    pub fn new(pool: TwemproxyPool, policy: DownPolicy) -> Result<Self, RouterError> {
        if pool.distribution() == Distribution::Random {
            return Err(RouterError::RandomDistribution);
        }
        let n = pool.servers().len();
        if let DownPolicy::Failover(r) = &policy
            && (r.len() != n || r.iter().flatten().any(|&b| b >= n))
        {
            return Err(RouterError::BadReplicas);
        }
        Ok(Self {
            pool: Arc::new(pool),
            policy: Arc::new(policy),
            down: vec![false; n],
        })
    }

    /// The number of backends (pool servers, in configuration order).
    pub fn backends(&self) -> usize {
        self.down.len()
    }

    /// The pool as currently built (with Remap ejections applied).
    pub fn pool(&self) -> &TwemproxyPool {
        &self.pool
    }

    /// The policy.
    pub fn policy(&self) -> &DownPolicy {
        &self.policy
    }

    /// Whether backend `i` is down.
    pub fn is_down(&self, i: usize) -> bool {
        self.down.get(i).copied().unwrap_or(true)
    }

    /// Marks backend `i` down or up. Under [`DownPolicy::Remap`] this ejects or restores it in
    /// the ring (if the ring cannot be rebuilt, the backend is treated as under FailFast).
    pub fn set_down(&mut self, i: usize, down: bool) -> Result<(), RouterError> {
        let slot = self.down.get_mut(i).ok_or(RouterError::NoSuchBackend)?;
        if *slot == down {
            return Ok(());
        }
        *slot = down;
        if *self.policy == DownPolicy::Remap {
            // A failed rebuild leaves the old ring; `route` still never returns a down backend.
            let _ = Arc::make_mut(&mut self.pool).set_ejected(i, down);
        }
        Ok(())
    }

    /// The live backend serving `key` (the bytes memcached stores: decode base64 meta keys
    /// first), or `None` when the policy leaves the key without one.
    pub fn route(&self, key: &[u8]) -> Option<usize> {
        let owner = self.pool.pick_deterministic(key)?;
        if !self.down[owner] {
            return Some(owner);
        }
        match &*self.policy {
            DownPolicy::Failover(r) => r[owner].iter().copied().find(|&b| !self.down[b]),
            DownPolicy::Remap | DownPolicy::FailFast => None,
        }
    }

    /// Whether a broadcast skips down backend `i` silently (Remap) rather than reporting it.
    pub(crate) fn broadcast_skips_down(&self) -> bool {
        *self.policy == DownPolicy::Remap
    }
}
