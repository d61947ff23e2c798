//! twemproxy's `servers:` entries: `host:port:weight [name]` or `/path/to/socket:weight [name]`.
//!
//! Parsed from the end as nutcracker's `conf_add_server` does: the last space separates the
//! optional name, the last `:` the weight, the one before it the port; whatever is left is the
//! address. Numbers are plain ASCII digits. The ketama identity of a server is its name when one
//! is given, otherwise the text `host:port` as written — except that a port of 11211 is left
//! out (kept for libmemcached compatibility). A socket path without a name gets the identity
//! `"/path:"` (the address plus the colon that follows it), another nutcracker quirk kept here.

use super::RingError;

/// The default memcached port, left out of ketama names.
pub const DEFAULT_KETAMA_PORT: u16 = 11211;

/// One parsed `servers:` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    pname: String,
    addr: String,
    port: u16,
    weight: u32,
    name: String,
    named: bool,
}

fn rfind(v: &[u8], c: u8) -> Option<usize> {
    v.iter().rposition(|&b| b == c)
}

/// nutcracker's `nc_atoi`: non-empty, digits only; here also at most `i32::MAX`.
fn atoi(v: &[u8]) -> Option<u32> {
    if v.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
        if n > i32::MAX as u64 {
            return None;
        }
    }
    Some(n as u32)
}

impl ServerSpec {
    /// Parses one entry exactly as nutcracker 0.5.0 does.
    pub fn parse(entry: &str) -> Result<Self, RingError> {
        let v = entry.as_bytes();
        let Some(&first) = v.first() else {
            return Err(RingError::ServerFormat);
        };
        let unix = first == b'/';
        let mut end = v.len();
        let mut name_range = None;
        if let Some(q) = rfind(&v[..end], b' ') {
            name_range = Some(q + 1..end);
            end = q;
        }
        let q = rfind(&v[..end], b':').ok_or(RingError::ServerFormat)?;
        let weight_text = &v[q + 1..end];
        end = q;
        let mut port_text: &[u8] = &[];
        if unix {
            // A third delimiter (another ':') makes the entry invalid.
            if rfind(&v[..end], b':').is_some() {
                return Err(RingError::ServerFormat);
            }
        } else {
            let q = rfind(&v[..end], b':').ok_or(RingError::ServerFormat)?;
            port_text = &v[q + 1..end];
            end = q;
            if v[..end].contains(&0) {
                return Err(RingError::ServerFormat);
            }
        }
        // nutcracker checks the weight before the port.
        let weight = atoi(weight_text).ok_or(RingError::Weight)?;
        if weight == 0 {
            return Err(RingError::Weight);
        }
        let port_len = port_text.len();
        let mut port = 0u16;
        if !unix {
            port = atoi(port_text)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|&p| p != 0)
                .ok_or(RingError::Port)?;
        }
        let addr = &entry[..end];
        let (pname, name, named) = match name_range {
            Some(r) => (&entry[..r.start - 1], &entry[r], true),
            None if !unix && port == DEFAULT_KETAMA_PORT => (entry, addr, false),
            // "host:port" as written, or "/path:" for a socket.
            None => (entry, &entry[..end + 1 + port_len], false),
        };
        Ok(Self {
            pname: pname.to_owned(),
            addr: addr.to_owned(),
            port,
            weight,
            name: name.to_owned(),
            named,
        })
    }

    /// Builds the entry `host:port:weight` (no name) without parsing.
    pub fn new(host: &str, port: u16, weight: u32) -> Result<Self, RingError> {
        Self::parse(&format!("{host}:{port}:{weight}"))
    }

    /// The entry without its name (`host:port:weight`), nutcracker's `pname`.
    pub fn pname(&self) -> &str {
        &self.pname
    }

    /// The host name, address or socket path.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The port (0 for a socket path).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The weight (>= 1).
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The string ketama hashes (`"<name>-<i>"` points): the name, `host`, or `host:port`.
    pub fn ketama_name(&self) -> &str {
        &self.name
    }

    /// True when the entry carried an explicit name.
    pub fn is_named(&self) -> bool {
        self.named
    }

    /// True for a Unix socket path.
    pub fn is_unix(&self) -> bool {
        self.addr.starts_with('/')
    }
}

/// The order nutcracker keeps a pool's servers in: its configuration check sorts them in place
/// by ketama name (shorter names first, then bytewise) and refuses duplicate names. Modula and
/// random slots, and the order of equal ketama points, follow this order.
pub(super) fn nutcracker_order(servers: &[ServerSpec]) -> Result<Vec<usize>, RingError> {
    let mut order: Vec<usize> = (0..servers.len()).collect();
    let key = |i: &usize| {
        let n = servers[*i].ketama_name().as_bytes();
        (n.len(), n)
    };
    order.sort_by(|a, b| key(a).cmp(&key(b)));
    if order.windows(2).any(|w| key(&w[0]) == key(&w[1])) {
        return Err(RingError::DuplicateName);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_weight_and_names() {
        let s = ServerSpec::parse("127.0.0.1:11212:3").unwrap();
        assert_eq!(
            (s.addr(), s.port(), s.weight(), s.ketama_name()),
            ("127.0.0.1", 11212, 3, "127.0.0.1:11212")
        );
        let s = ServerSpec::parse("cache1:11211:1").unwrap();
        assert_eq!(s.ketama_name(), "cache1");
        let s = ServerSpec::parse("cache1:0011211:1").unwrap();
        assert_eq!(s.ketama_name(), "cache1", "port compared as a number");
        let s = ServerSpec::parse("cache1:080:1").unwrap();
        assert_eq!(s.ketama_name(), "cache1:080", "port text kept as written");
        let s = ServerSpec::parse("10.0.0.1:11211:2 server1").unwrap();
        assert_eq!(
            (s.pname(), s.ketama_name(), s.weight(), s.is_named()),
            ("10.0.0.1:11211:2", "server1", 2, true)
        );
        let s = ServerSpec::parse("[::1]:11300:1").unwrap();
        assert_eq!((s.addr(), s.port()), ("[::1]", 11300));
    }

    #[test]
    fn nutcracker_sorts_by_name_length_then_bytes() {
        let s: Vec<ServerSpec> = ["b:1:1", "aa:1:1", "a:2:1 zz", "c:1:1"]
            .iter()
            .map(|e| ServerSpec::parse(e).unwrap())
            .collect();
        // names: "b:1", "aa:1", "zz", "c:1"
        assert_eq!(nutcracker_order(&s).unwrap(), vec![2, 0, 3, 1]);
        let dup: Vec<ServerSpec> = ["x:1:1 n", "y:1:1 n"]
            .iter()
            .map(|e| ServerSpec::parse(e).unwrap())
            .collect();
        assert_eq!(nutcracker_order(&dup), Err(RingError::DuplicateName));
    }

    #[test]
    fn unix_sockets() {
        let s = ServerSpec::parse("/tmp/mc.sock:2").unwrap();
        assert_eq!(
            (s.addr(), s.port(), s.ketama_name()),
            ("/tmp/mc.sock", 0, "/tmp/mc.sock:")
        );
        assert!(s.is_unix());
        let s = ServerSpec::parse("/tmp/mc.sock:2 mc").unwrap();
        assert_eq!(s.ketama_name(), "mc");
        assert_eq!(
            ServerSpec::parse("/tmp/a:b:1"),
            Err(RingError::ServerFormat)
        );
    }

    #[test]
    fn rejects_what_nutcracker_rejects() {
        for (e, want) in [
            ("", RingError::ServerFormat),
            ("host", RingError::ServerFormat),
            ("host:1", RingError::ServerFormat),
            ("host:11211:0", RingError::Weight),
            ("host:11211:", RingError::Weight),
            ("host:11211:x", RingError::Weight),
            ("host:11211:-1", RingError::Weight),
            ("host:11211:99999999999", RingError::Weight),
            ("host:0:1", RingError::Port),
            ("host:0:0", RingError::Weight),
            ("host:65536:1", RingError::Port),
            ("host::1", RingError::Port),
            ("host:11211:1  name", RingError::Weight),
            ("ho\0st:11211:1", RingError::ServerFormat),
        ] {
            assert_eq!(ServerSpec::parse(e), Err(want), "{e:?}");
        }
    }
}
