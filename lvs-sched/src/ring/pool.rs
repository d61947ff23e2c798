//! A twemproxy server pool: servers, key hash, hash tag, distribution and ejections.

use lvs_core::rng::Rng;

use super::ketama::ketama_points;
use super::modula::{modula_lookup, modula_slots};
use super::random::pick_slot;
use super::{Continuum, HashFunction, RingError, ServerSpec};

/// The most modula slots (total live weight) a pool accepts.
pub const MAX_MODULA_SLOTS: u64 = 1 << 24;

/// twemproxy's `distribution:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// `ketama` (the default): the consistent-hash continuum.
    Ketama,
    /// `modula`: `hash % total live weight` over weight slots.
    Modula,
    /// `random`: a random live server per request, key ignored.
    Random,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Dispatch {
    Ketama(Continuum),
    Modula(Vec<u32>),
    Random(Vec<u32>),
}

/// A nutcracker pool. Owners returned by lookups are indices into the configured server list;
/// ejected servers keep their index but own nothing until they are brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwemproxyPool {
    servers: Vec<ServerSpec>,
    ejected: Vec<bool>,
    hash: HashFunction,
    hash_tag: Option<[u8; 2]>,
    distribution: Distribution,
    dispatch: Dispatch,
}

impl TwemproxyPool {
    /// A pool with every server live and no hash tag.
    pub fn new(
        servers: Vec<ServerSpec>,
        hash: HashFunction,
        distribution: Distribution,
    ) -> Result<Self, RingError> {
        let ejected = vec![false; servers.len()];
        let dispatch = build(&servers, &ejected, distribution)?;
        Ok(Self {
            servers,
            ejected,
            hash,
            hash_tag: None,
            distribution,
            dispatch,
        })
    }

    /// Sets `hash_tag:` (exactly two bytes, e.g. `b"{}"`).
    pub fn with_hash_tag(mut self, tag: &[u8]) -> Result<Self, RingError> {
        let tag: [u8; 2] = tag.try_into().map_err(|_| RingError::HashTag)?;
        self.hash_tag = Some(tag);
        Ok(self)
    }

    /// Marks server `index` ejected (`true`) or live again, and rebuilds the distribution as
    /// nutcracker does when `auto_eject_hosts` removes or restores a server.
    pub fn set_ejected(&mut self, index: usize, ejected: bool) -> Result<(), RingError> {
        let slot = self.ejected.get_mut(index).ok_or(RingError::NoSuchServer)?;
        if *slot == ejected {
            return Ok(());
        }
        *slot = ejected;
        match build(&self.servers, &self.ejected, self.distribution) {
            Ok(d) => {
                self.dispatch = d;
                Ok(())
            }
            Err(e) => {
                self.ejected[index] = !ejected;
                Err(e)
            }
        }
    }

    /// The configured servers.
    pub fn servers(&self) -> &[ServerSpec] {
        &self.servers
    }

    /// Whether server `index` is ejected.
    pub fn is_ejected(&self, index: usize) -> bool {
        self.ejected.get(index).copied().unwrap_or(false)
    }

    /// The key hash function.
    pub fn hash_function(&self) -> HashFunction {
        self.hash
    }

    /// The distribution.
    pub fn distribution(&self) -> Distribution {
        self.distribution
    }

    /// The ketama continuum (`None` for modula and random pools).
    pub fn continuum(&self) -> Option<&Continuum> {
        match &self.dispatch {
            Dispatch::Ketama(c) => Some(c),
            _ => None,
        }
    }

    /// The part of `key` that is hashed: with a hash tag `ab`, the bytes strictly between the
    /// first `a` and the first `b` after it, if there is at least one; otherwise the whole key.
    pub fn hashed_part<'k>(&self, key: &'k [u8]) -> &'k [u8] {
        let Some([open, close]) = self.hash_tag else {
            return key;
        };
        let Some(start) = key.iter().position(|&b| b == open) else {
            return key;
        };
        match key[start + 1..].iter().position(|&b| b == close) {
            Some(len) if len > 0 => &key[start + 1..start + 1 + len],
            _ => key,
        }
    }

    /// The hash nutcracker computes for `key`: 0 for a one-server pool or an empty key,
    /// otherwise the pool's hash of [`hashed_part`](Self::hashed_part).
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        let part = self.hashed_part(key);
        if self.servers.len() == 1 || part.is_empty() {
            return 0;
        }
        self.hash.hash(part)
    }

    /// The server for `key` under ketama or modula (`None` when no server is live, or for a
    /// random pool, which needs [`pick`](Self::pick)).
    pub fn pick_deterministic(&self, key: &[u8]) -> Option<usize> {
        match &self.dispatch {
            Dispatch::Ketama(c) => c.lookup(self.key_hash(key)).map(|o| o as usize),
            Dispatch::Modula(s) => modula_lookup(s, self.key_hash(key)).map(|o| o as usize),
            Dispatch::Random(_) => None,
        }
    }

    /// The server for an already computed [`key_hash`](Self::key_hash) (ketama and modula).
    pub fn pick_hash(&self, hash: u32) -> Option<usize> {
        match &self.dispatch {
            Dispatch::Ketama(c) => c.lookup(hash).map(|o| o as usize),
            Dispatch::Modula(s) => modula_lookup(s, hash).map(|o| o as usize),
            Dispatch::Random(_) => None,
        }
    }

    /// The server for `key` under any distribution; `rng` is drawn from only by a random pool.
    pub fn pick<R: Rng + ?Sized>(&self, key: &[u8], rng: &mut R) -> Option<usize> {
        match &self.dispatch {
            Dispatch::Random(s) => pick_slot(s, rng),
            _ => self.pick_deterministic(key),
        }
    }
}

fn build(
    servers: &[ServerSpec],
    ejected: &[bool],
    distribution: Distribution,
) -> Result<Dispatch, RingError> {
    Ok(match distribution {
        Distribution::Ketama => Dispatch::Ketama(ketama_points(servers, ejected)?),
        Distribution::Modula => Dispatch::Modula(modula_slots(servers, ejected, MAX_MODULA_SLOTS)?),
        Distribution::Random => {
            if servers.is_empty() || servers.len() > super::MAX_SERVERS {
                return Err(RingError::ServerCount);
            }
            Dispatch::Random(
                super::server::nutcracker_order(servers)?
                    .into_iter()
                    .filter(|&i| !ejected[i])
                    .map(|i| i as u32)
                    .collect(),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(tag: &[u8]) -> TwemproxyPool {
        let s = ["a:1:1", "b:1:1", "c:1:1"]
            .iter()
            .map(|e| ServerSpec::parse(e).unwrap())
            .collect();
        TwemproxyPool::new(s, HashFunction::Md5, Distribution::Ketama)
            .unwrap()
            .with_hash_tag(tag)
            .unwrap()
    }

    #[test]
    fn hash_tag_cases() {
        let p = pool(b"{}");
        assert_eq!(p.hashed_part(b"user:{42}:x"), b"42");
        assert_eq!(p.hashed_part(b"{a}{b}"), b"a");
        assert_eq!(p.hashed_part(b"x{}y"), b"x{}y", "empty tag: whole key");
        assert_eq!(p.hashed_part(b"x{y"), b"x{y", "no close: whole key");
        assert_eq!(
            p.hashed_part(b"x}y{"),
            b"x}y{",
            "close before open: whole key"
        );
        assert_eq!(p.hashed_part(b"x}{a}"), b"a");
        assert_eq!(p.hashed_part(b"{{a}"), b"{a", "first open, next close");
        let same = pool(b"$$");
        assert_eq!(same.hashed_part(b"k$abc$d$"), b"abc");
        assert_eq!(same.hashed_part(b"k$$abc"), b"k$$abc");
        assert!(matches!(
            pool(b"{}").with_hash_tag(b"{"),
            Err(RingError::HashTag)
        ));
    }

    #[test]
    fn single_server_pool_hashes_to_zero() {
        let s = vec![ServerSpec::parse("a:1:1").unwrap()];
        let p = TwemproxyPool::new(s, HashFunction::Md5, Distribution::Ketama).unwrap();
        assert_eq!(p.key_hash(b"anything"), 0);
        assert_eq!(p.pick_deterministic(b"anything"), Some(0));
    }

    #[test]
    fn ejection_removes_points_and_restores_them() {
        let mut p = pool(b"{}");
        let before = p.clone();
        p.set_ejected(1, true).unwrap();
        assert!(p.continuum().unwrap().owners().iter().all(|&o| o != 1));
        assert_eq!(p.continuum().unwrap().len(), 320);
        p.set_ejected(0, true).unwrap();
        p.set_ejected(2, true).unwrap();
        assert_eq!(p.pick_deterministic(b"k"), None);
        for i in 0..3 {
            p.set_ejected(i, false).unwrap();
        }
        assert_eq!(p, before);
        assert_eq!(p.set_ejected(3, true), Err(RingError::NoSuchServer));
    }
}
