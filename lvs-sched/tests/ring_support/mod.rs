//! Shared helpers for the ring tests: golden-fixture format, key generation, and (for the
//! interop tests) live nutcracker/memcached processes and a libmemcached oracle.
#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;

pub mod live;

use lvs_sched::ring::{Distribution, HashFunction, ServerSpec, TwemproxyPool};

/// One golden case: a pool description and where each key went.
#[derive(Debug, Clone, PartialEq)]
pub struct Golden {
    pub hash: HashFunction,
    pub distribution: Distribution,
    pub hash_tag: Option<String>,
    pub servers: Vec<String>,
    pub placements: Vec<(Vec<u8>, usize)>,
}

pub fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

pub fn dist_name(d: Distribution) -> &'static str {
    match d {
        Distribution::Ketama => "ketama",
        Distribution::Modula => "modula",
        Distribution::Random => "random",
    }
}

impl Golden {
    pub fn render(&self, header: &str) -> String {
        let mut s = String::new();
        for line in header.lines() {
            let _ = writeln!(s, "# {line}");
        }
        let _ = writeln!(s, "hash {}", self.hash);
        let _ = writeln!(s, "distribution {}", dist_name(self.distribution));
        if let Some(t) = &self.hash_tag {
            let _ = writeln!(s, "hash_tag {t}");
        }
        for sv in &self.servers {
            let _ = writeln!(s, "server {sv}");
        }
        for (k, i) in &self.placements {
            let _ = writeln!(s, "key {} {i}", hex(k));
        }
        s
    }

    pub fn parse(text: &str) -> Self {
        let mut g = Self {
            hash: HashFunction::Md5,
            distribution: Distribution::Ketama,
            hash_tag: None,
            servers: vec![],
            placements: vec![],
        };
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (word, rest) = line.split_once(' ').expect("fixture line");
            match word {
                "hash" => g.hash = rest.parse().expect("hash name"),
                "distribution" => {
                    g.distribution = match rest {
                        "ketama" => Distribution::Ketama,
                        "modula" => Distribution::Modula,
                        _ => Distribution::Random,
                    }
                }
                "hash_tag" => g.hash_tag = Some(rest.to_owned()),
                "server" => g.servers.push(rest.to_owned()),
                "key" => {
                    let (k, i) = rest.split_once(' ').expect("key line");
                    g.placements.push((unhex(k), i.parse().expect("index")));
                }
                other => panic!("unknown fixture line {other}"),
            }
        }
        g
    }

    pub fn pool(&self) -> TwemproxyPool {
        let specs = self
            .servers
            .iter()
            .map(|s| ServerSpec::parse(s).expect("server"))
            .collect();
        let p = TwemproxyPool::new(specs, self.hash, self.distribution).expect("pool");
        match &self.hash_tag {
            Some(t) => p.with_hash_tag(t.as_bytes()).expect("tag"),
            None => p,
        }
    }

    /// Keys whose placement by our pool differs from the recorded one.
    pub fn mismatches(&self) -> Vec<String> {
        let pool = self.pool();
        self.placements
            .iter()
            .filter_map(|(k, want)| {
                let got = pool.pick_deterministic(k);
                (got != Some(*want)).then(|| format!("key {} want {want} got {got:?}", hex(k)))
            })
            .collect()
    }
}

/// A small deterministic generator (xorshift64*), so key sets replay from a printed seed.
pub struct KeyGen(u64);

impl KeyGen {
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A memcached-safe key: 1..=40 bytes from 0x21..=0xff (no space, control or NUL bytes),
    /// sometimes with a `{tag}` inside.
    pub fn key(&mut self) -> Vec<u8> {
        let len = 1 + (self.next() % 40) as usize;
        let mut k: Vec<u8> = (0..len)
            .map(|_| 0x21 + (self.next() % (0x100 - 0x21)) as u8)
            .collect();
        if self.next().is_multiple_of(4) {
            let tag = format!("{{{}}}", self.next() % 50);
            let at = (self.next() as usize) % (k.len() + 1);
            k.splice(at..at, tag.into_bytes());
        }
        k.truncate(250);
        k
    }

    pub fn keys(&mut self, n: usize) -> Vec<Vec<u8>> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let k = self.key();
            if seen.insert(k.clone()) {
                out.push(k);
            }
        }
        out
    }
}
