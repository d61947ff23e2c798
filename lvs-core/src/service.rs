//! Virtual services and their lookup order.
//!
//! A virtual service is found, as IPVS does, by
//! 1. the packet's **firewall mark** when it has one and a fwmark service exists for it,
//! 2. the exact **(protocol, virtual address, port)**,
//! 3. a **port-0** service on (protocol, virtual address), which matches every port and must
//!    be persistent (so all ports of one client stick to one real server).
//!
//! The table stores small indices; the director keeps the service state beside them.

use core::net::IpAddr;
use core::time::Duration;

use rustc_hash::FxHashMap as HashMap;

/// How a virtual service is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// `ipvsadm -f MARK`: every packet carrying this firewall mark.
    Fwmark(u32),
    /// `ipvsadm -t|-u|--sctp-service ADDR:PORT` (port 0: every port).
    Addr {
        /// IP protocol number.
        protocol: u8,
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port, 0 for all ports.
        port: u16,
    },
}

/// Client-address persistence (`ipvsadm -p TIMEOUT -M NETMASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Persistence {
    /// How long a template outlives the client's last new connection (default 300 s).
    pub timeout: Duration,
    /// IPv4 client prefix length that shares a template (default 32).
    pub v4_prefix: u8,
    /// IPv6 client prefix length that shares a template (default 128).
    pub v6_prefix: u8,
}

impl Default for Persistence {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            v4_prefix: 32,
            v6_prefix: 128,
        }
    }
}

impl Persistence {
    /// The client address with the persistence mask applied.
    ///
    /// ```
    /// use lvs_core::service::Persistence;
    /// let p = Persistence { v4_prefix: 24, v6_prefix: 64, ..Default::default() };
    /// assert_eq!(p.mask("192.0.2.77".parse().unwrap()).to_string(), "192.0.2.0");
    /// assert_eq!(p.mask("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(), "2001:db8:1:2::");
    /// ```
    pub fn mask(&self, addr: IpAddr) -> IpAddr {
        match addr {
            IpAddr::V4(a) => {
                let bits = u32::from(self.v4_prefix.min(32));
                let m = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                IpAddr::V4((u32::from(a) & m).into())
            }
            IpAddr::V6(a) => {
                let bits = u32::from(self.v6_prefix.min(128));
                let m = if bits == 0 {
                    0
                } else {
                    u128::MAX << (128 - bits)
                };
                IpAddr::V6((u128::from(a) & m).into())
            }
        }
    }
}

/// Why a service could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The key is already in use.
    #[error("service already exists")]
    Exists,
    /// No such service.
    #[error("no such service")]
    NotFound,
    /// A port-0 service without persistence (IPVS refuses it too).
    #[error("a port-0 service must be persistent")]
    PortZeroNeedsPersistence,
    /// More services than indices.
    #[error("too many services")]
    TooMany,
}

/// Index of a service in a [`ServiceTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId(pub u16);

/// The lookup structure for virtual services.
///
/// ```
/// use lvs_core::service::{Persistence, ServiceKey, ServiceTable};
/// let vip = "198.51.100.1".parse().unwrap();
/// let mut t = ServiceTable::new();
/// let web = t.add(ServiceKey::Addr { protocol: 6, addr: vip, port: 80 }, None).unwrap();
/// let all = t.add(ServiceKey::Addr { protocol: 6, addr: vip, port: 0 }, Some(Persistence::default())).unwrap();
/// let mark = t.add(ServiceKey::Fwmark(7), Some(Persistence::default())).unwrap();
/// assert_eq!(t.lookup(0, 6, vip, 80), Some(web));
/// assert_eq!(t.lookup(0, 6, vip, 443), Some(all)); // port 0 catches the rest
/// assert_eq!(t.lookup(7, 6, vip, 80), Some(mark)); // the mark wins
/// assert_eq!(t.lookup(0, 17, vip, 80), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ServiceTable {
    by_mark: HashMap<u32, ServiceId>,
    by_addr: HashMap<AddrKey, ServiceId>,
    /// Every address service in insertion order: scanned instead of hashing while there are
    /// at most [`SMALL`] of them (the common director has a handful).
    small: Vec<(AddrKey, ServiceId)>,
    keys: Vec<Option<ServiceKey>>,
}

/// Up to this many address services, lookups scan [`ServiceTable::small`].
const SMALL: usize = 8;

/// (protocol, address, port) packed into integers, so the per-packet lookup hashes one or
/// two words instead of an `IpAddr` enum (the enum's discriminant plus its bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddrKey {
    /// address << 32 | port << 8 | protocol
    V4(u64),
    /// (address, port << 8 | protocol)
    V6(u128, u32),
}

impl core::hash::Hash for AddrKey {
    // No discriminant: equality still tells the families apart.
    #[inline]
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        match *self {
            Self::V4(k) => state.write_u64(k),
            Self::V6(a, t) => {
                state.write_u128(a);
                state.write_u32(t);
            }
        }
    }
}

impl AddrKey {
    /// The key of a service, or with protocol 0 (and port 0) of a real server (a VIP).
    #[inline]
    pub(crate) fn new(protocol: u8, addr: IpAddr, port: u16) -> Self {
        let tail = (u32::from(port) << 8) | u32::from(protocol);
        match addr {
            IpAddr::V4(a) => Self::V4((u64::from(a.to_bits()) << 32) | u64::from(tail)),
            IpAddr::V6(a) => Self::V6(a.to_bits(), tail),
        }
    }
}

impl ServiceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a service. Port-0 services must be persistent.
    pub fn add(
        &mut self,
        key: ServiceKey,
        persistence: Option<Persistence>,
    ) -> Result<ServiceId, ServiceError> {
        if self.find(key).is_some() {
            return Err(ServiceError::Exists);
        }
        if matches!(key, ServiceKey::Addr { port: 0, .. }) && persistence.is_none() {
            return Err(ServiceError::PortZeroNeedsPersistence);
        }
        let slot = match self.keys.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                if self.keys.len() >= usize::from(u16::MAX) {
                    return Err(ServiceError::TooMany);
                }
                self.keys.push(None);
                self.keys.len() - 1
            }
        };
        let id = ServiceId(slot as u16);
        self.keys[slot] = Some(key);
        match key {
            ServiceKey::Fwmark(m) => {
                self.by_mark.insert(m, id);
            }
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let k = AddrKey::new(protocol, addr, port);
                self.by_addr.insert(k, id);
                self.small.push((k, id));
            }
        }
        Ok(id)
    }

    /// Remove a service; its index may be reused.
    pub fn remove(&mut self, key: ServiceKey) -> Result<ServiceId, ServiceError> {
        let id = self.find(key).ok_or(ServiceError::NotFound)?;
        match key {
            ServiceKey::Fwmark(m) => {
                self.by_mark.remove(&m);
            }
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let k = AddrKey::new(protocol, addr, port);
                self.by_addr.remove(&k);
                self.small.retain(|&(s, _)| s != k);
            }
        }
        self.keys[usize::from(id.0)] = None;
        Ok(id)
    }

    /// The id of exactly `key`.
    pub fn find(&self, key: ServiceKey) -> Option<ServiceId> {
        match key {
            ServiceKey::Fwmark(m) => self.by_mark.get(&m).copied(),
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => self
                .by_addr
                .get(&AddrKey::new(protocol, addr, port))
                .copied(),
        }
    }

    /// The key of `id`.
    pub fn key(&self, id: ServiceId) -> Option<ServiceKey> {
        self.keys.get(usize::from(id.0)).copied().flatten()
    }

    /// Find the service for a packet in the kernel's order: fwmark, exact, port 0.
    #[inline]
    pub fn lookup(&self, fwmark: u32, protocol: u8, dst: IpAddr, dport: u16) -> Option<ServiceId> {
        // The common case inline: no mark, a few address services, scanned in place.
        if fwmark == 0 && self.small.len() <= SMALL {
            return self.lookup_small(protocol, dst, dport);
        }
        self.lookup_general(fwmark, protocol, dst, dport)
    }

    /// The address services' scan, for a table of at most `SMALL` of them.
    #[inline(always)]
    fn lookup_small(&self, protocol: u8, dst: IpAddr, dport: u16) -> Option<ServiceId> {
        let exact = AddrKey::new(protocol, dst, dport);
        let any = AddrKey::new(protocol, dst, 0);
        let mut found = None;
        for &(k, id) in &self.small {
            if k == exact {
                return Some(id);
            }
            if k == any {
                found = Some(id);
            }
        }
        found
    }

    /// [`ServiceTable::lookup`] in full: the mark first, then the address maps.
    #[inline(never)]
    fn lookup_general(
        &self,
        fwmark: u32,
        protocol: u8,
        dst: IpAddr,
        dport: u16,
    ) -> Option<ServiceId> {
        if fwmark != 0
            && let Some(&id) = self.by_mark.get(&fwmark)
        {
            return Some(id);
        }
        if self.small.len() <= SMALL {
            return self.lookup_small(protocol, dst, dport);
        }
        if let Some(&id) = self.by_addr.get(&AddrKey::new(protocol, dst, dport)) {
            return Some(id);
        }
        self.by_addr.get(&AddrKey::new(protocol, dst, 0)).copied()
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.by_mark.len() + self.by_addr.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan used for a few services and the hash map used beyond agree with the
    /// kernel's order (exact, then port 0), across removals.
    #[test]
    fn small_scan_and_hash_lookup_agree() {
        let addrs: Vec<IpAddr> = vec![
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ];
        for n in [1usize, 4, 8, 9, 30] {
            let mut t = ServiceTable::new();
            let mut added = Vec::new();
            let mut i = 0usize;
            while added.len() < n {
                let key = ServiceKey::Addr {
                    protocol: if i.is_multiple_of(2) { 6 } else { 17 },
                    addr: addrs[i % 3],
                    port: [0, 80, 443, 53, 8080, 25, 22, 110, 143, 993][(i / 3) % 10],
                };
                i += 1;
                if t.find(key).is_some() {
                    continue;
                }
                let p = matches!(key, ServiceKey::Addr { port: 0, .. }).then(Persistence::default);
                added.push((key, t.add(key, p).unwrap()));
            }
            if n > 4 {
                t.remove(added[2].0).unwrap();
                added.remove(2);
            }
            let reference = |proto: u8, a: IpAddr, port: u16| {
                let find = |p: u16| {
                    added.iter().find_map(|&(k, id)| {
                        (k == ServiceKey::Addr {
                            protocol: proto,
                            addr: a,
                            port: p,
                        })
                        .then_some(id)
                    })
                };
                find(port).or_else(|| find(0))
            };
            for &a in &addrs {
                for proto in [6, 17] {
                    for port in [0, 80, 443, 53, 8080, 25, 22, 110, 143, 993, 7] {
                        assert_eq!(
                            t.lookup(0, proto, a, port),
                            reference(proto, a, port),
                            "{n} {a} {proto} {port}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn port_zero_needs_persistence_and_keys_are_unique() {
        let mut t = ServiceTable::new();
        let vip: IpAddr = "10.0.0.1".parse().unwrap();
        let k0 = ServiceKey::Addr {
            protocol: 6,
            addr: vip,
            port: 0,
        };
        assert_eq!(t.add(k0, None), Err(ServiceError::PortZeroNeedsPersistence));
        let id = t.add(k0, Some(Persistence::default())).unwrap();
        assert_eq!(
            t.add(k0, Some(Persistence::default())),
            Err(ServiceError::Exists)
        );
        assert_eq!(t.key(id), Some(k0));
        assert_eq!(t.remove(k0), Ok(id));
        assert_eq!(t.remove(k0), Err(ServiceError::NotFound));
        assert!(t.is_empty());
        // The freed index is reused.
        let again = t.add(ServiceKey::Fwmark(1), None).unwrap();
        assert_eq!(again, id);
    }

    #[test]
    fn an_unknown_mark_falls_back_to_the_address() {
        let mut t = ServiceTable::new();
        let vip: IpAddr = "10.0.0.1".parse().unwrap();
        let web = t
            .add(
                ServiceKey::Addr {
                    protocol: 6,
                    addr: vip,
                    port: 80,
                },
                None,
            )
            .unwrap();
        assert_eq!(t.lookup(99, 6, vip, 80), Some(web));
        assert_eq!(t.lookup(0, 6, "10.0.0.2".parse().unwrap(), 80), None);
    }

    #[test]
    fn masks_at_the_extremes() {
        let p = Persistence {
            v4_prefix: 0,
            v6_prefix: 0,
            ..Default::default()
        };
        assert_eq!(p.mask("1.2.3.4".parse().unwrap()).to_string(), "0.0.0.0");
        assert_eq!(p.mask("::1".parse().unwrap()).to_string(), "::");
        let p = Persistence {
            v4_prefix: 40,
            v6_prefix: 200,
            ..Default::default()
        };
        assert_eq!(p.mask("1.2.3.4".parse().unwrap()).to_string(), "1.2.3.4");
    }
}
