//! libmemcached's weighted ketama (`MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED`, `hosts.cc`
//! `update_continuum`, `hash.cc` `dispatch_host`).
//!
//! * A weight of 0 means 1 (libmemcached's default).
//! * With `n` live servers of total weight `W`, a server of weight `w` gets
//!   `floor((float)(w/W * 160 / 4 * n + 1e-10f)) * 4` points, in single precision.
//! * Group `i` (from 0) hashes the string `"<host>-<i>"` when the port is 11211 and
//!   `"<host>:<port>-<i>"` otherwise, the host spelled exactly as it was added; each MD5 digest
//!   gives four little-endian points.
//! * Points are sorted by value, then by server index.
//! * Keys are hashed with MD5 (the behaviour sets it) unless another hash is chosen; with a single
//!   server the hash is 0. Lookup is the first point `>= hash`, wrapping to the first.
//!
//! libmemcached switches to this mode by itself as soon as a server is added with a weight
//! above 1; with all weights 1 and no behaviour set it uses its unweighted 100-point mode,
//! which this type does not model.

use super::ketama::{push_decimal, push_md5_points, weighted_points};
use super::{Continuum, HashFunction, PointRuns, RingError};

/// `MEMCACHED_DEFAULT_PORT`: left out of point strings.
const DEFAULT_PORT: u16 = 11211;
/// `NI_MAXHOST + 1 + NI_MAXSERV + 1 + NI_MAXSERV`: the point-string buffer (with the NUL).
const SORT_HOST_BUFFER: usize = 1025 + 1 + 32 + 1 + 32;

/// A server as given to `memcached_server_add_with_weight`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LibmemcachedServer {
    /// Host name or address, spelled as the application passed it.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Weight (0 means 1).
    pub weight: u32,
}

impl LibmemcachedServer {
    /// A server entry.
    pub fn new(host: &str, port: u16, weight: u32) -> Self {
        Self {
            host: host.to_owned(),
            port,
            weight,
        }
    }

    /// The effective weight (0 becomes 1).
    pub fn effective_weight(&self) -> u32 {
        self.weight.max(1)
    }

    /// The point-string prefix: `"host-"` or `"host:port-"`.
    pub fn point_prefix(&self) -> String {
        if self.port == DEFAULT_PORT {
            format!("{}-", self.host)
        } else {
            format!("{}:{}-", self.host, self.port)
        }
    }
}

/// libmemcached's weighted ketama ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibmemcachedKetama {
    servers: Vec<LibmemcachedServer>,
    ejected: Vec<bool>,
    key_hash: HashFunction,
    continuum: Continuum,
}

impl LibmemcachedKetama {
    /// Builds the ring with every server live and MD5 key hashing.
    pub fn new(servers: Vec<LibmemcachedServer>) -> Result<Self, RingError> {
        let ejected = vec![false; servers.len()];
        let continuum = build(&servers, &ejected)?;
        Ok(Self {
            servers,
            ejected,
            key_hash: HashFunction::Md5,
            continuum,
        })
    }

    /// Uses another key hash (`MEMCACHED_BEHAVIOR_HASH` after the ketama behaviour).
    pub fn with_key_hash(mut self, hash: HashFunction) -> Self {
        self.key_hash = hash;
        self
    }

    /// Marks a server ejected (auto-eject's retry delay pending) or live, and rebuilds.
    pub fn set_ejected(&mut self, index: usize, ejected: bool) -> Result<(), RingError> {
        let slot = self.ejected.get_mut(index).ok_or(RingError::NoSuchServer)?;
        *slot = ejected;
        self.continuum = build(&self.servers, &self.ejected)?;
        Ok(())
    }

    /// The servers in the order they were added.
    pub fn servers(&self) -> &[LibmemcachedServer] {
        &self.servers
    }

    /// The continuum (owners index [`servers`](Self::servers)).
    pub fn continuum(&self) -> &Continuum {
        &self.continuum
    }

    /// The key hash as libmemcached computes it (0 with a single server).
    pub fn key_hash(&self, key: &[u8]) -> u32 {
        if self.servers.len() == 1 {
            return 0;
        }
        self.key_hash.hash(key)
    }

    /// The server index for `key` (`None` when no server is live).
    pub fn pick(&self, key: &[u8]) -> Option<usize> {
        self.continuum
            .lookup(self.key_hash(key))
            .map(|o| o as usize)
    }
}

fn build(servers: &[LibmemcachedServer], ejected: &[bool]) -> Result<Continuum, RingError> {
    if servers.is_empty() || servers.len() > super::MAX_SERVERS {
        return Err(RingError::ServerCount);
    }
    let live = |i: usize| !ejected.get(i).copied().unwrap_or(false);
    let mut nlive = 0u32;
    let mut total = 0u64;
    for (i, s) in servers.iter().enumerate() {
        if live(i) {
            nlive += 1;
            total += u64::from(s.effective_weight());
        }
    }
    if nlive == 0 {
        return Ok(Continuum::default());
    }
    let mut points = PointRuns::with_capacity(nlive as usize * 160);
    for (i, s) in servers.iter().enumerate() {
        if !live(i) {
            continue;
        }
        let groups = weighted_points(s.effective_weight(), total, nlive) / 4;
        if groups == 0 {
            continue;
        }
        let prefix = s.point_prefix();
        let mut longest = prefix.clone().into_bytes();
        push_decimal(&mut longest, groups - 1);
        if longest.len() >= SORT_HOST_BUFFER {
            return Err(RingError::NameTooLong);
        }
        push_md5_points(&mut points, prefix.as_bytes(), groups, i as u32);
    }
    // Insertion order is (server, group, digest word), so a stable sort by value orders equal
    // values by server index, as libmemcached's comparator does.
    Ok(points.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_leaves_out_the_default_port() {
        assert_eq!(LibmemcachedServer::new("h", 11211, 1).point_prefix(), "h-");
        assert_eq!(
            LibmemcachedServer::new("h", 11212, 1).point_prefix(),
            "h:11212-"
        );
    }

    #[test]
    fn weights_scale_points() {
        let r = LibmemcachedKetama::new(vec![
            LibmemcachedServer::new("a", 1, 1),
            LibmemcachedServer::new("b", 1, 3),
        ])
        .unwrap();
        let mut n = [0; 2];
        for &o in r.continuum().owners() {
            n[o as usize] += 1;
        }
        assert_eq!(n, [80, 240]);
    }

    #[test]
    fn weight_zero_is_one() {
        let a = LibmemcachedKetama::new(vec![
            LibmemcachedServer::new("a", 1, 0),
            LibmemcachedServer::new("b", 1, 1),
        ])
        .unwrap();
        assert_eq!(a.continuum().len(), 320);
        assert_eq!(a.key_hash(b"x"), HashFunction::Md5.hash(b"x"));
    }
}
