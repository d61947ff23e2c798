//! DNS: the forwarder's cache-hit path (a client query for a cached name answered from the
//! cache: parse, ACL, cache lookup, patching ID and TTLs into the reply) with 10,000 cached
//! names, and the memory each cached name costs (the cache's own byte accounting and the heap
//! growth measured by a counting allocator).
//!
//! `cargo bench -p lvs-benches --bench dns`

use core::net::SocketAddr;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lvs_core::{Datagram, Instant, StateMachine};
use lvs_dns::forwarder::{Forwarder, ForwarderConfig};
use lvs_dns::wire::{
    Flags, Message, MessageBuilder, NameBuf, RData, Section, SliceBuf, class, rtype,
};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// The system allocator, counting live heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments unchanged; the counter
// does not affect allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from this allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const NAMES: usize = 10_000;

fn name(i: usize) -> String {
    format!("host{i:05}.example.com")
}

fn query(id: u16, qname: &str) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(SliceBuf::new(&mut buf)).expect("builder");
    b.set_id(id);
    b.set_flags(Flags::RD);
    let n = NameBuf::from_text(qname).expect("name");
    b.question(&n.as_name(), rtype::A, class::IN)
        .expect("question");
    let len = b.finish().expect("finish");
    buf[..len].to_vec()
}

/// The upstream's answer to `upq`: one A record, TTL one day.
fn answer(upq: &[u8], addr: [u8; 4]) -> Vec<u8> {
    let q = Message::parse(upq).expect("upstream query parses");
    let question = q.question().expect("one question");
    let mut buf = [0u8; 512];
    let mut b = MessageBuilder::new(SliceBuf::new(&mut buf)).expect("builder");
    b.set_id(q.id());
    b.set_flags(Flags::QR | Flags::RD | Flags::RA);
    b.question(&question.name, question.qtype, question.qclass)
        .expect("question");
    b.record(
        Section::Answer,
        &question.name,
        class::IN,
        86_400,
        &RData::A(addr.into()),
    )
    .expect("record");
    let len = b.finish().expect("finish");
    buf[..len].to_vec()
}

struct Rig {
    fwd: Forwarder<ChaCha8Rng>,
    client: SocketAddr,
    listen: SocketAddr,
}

impl Rig {
    fn new() -> Self {
        let upstream: SocketAddr = "192.0.2.53:53".parse().expect("addr");
        let fwd = Forwarder::new(
            ForwarderConfig::new([upstream]),
            ChaCha8Rng::seed_from_u64(1),
        )
        .expect("valid forwarder");
        Self {
            fwd,
            client: "10.0.0.7:40000".parse().expect("addr"),
            listen: "10.0.0.1:53".parse().expect("addr"),
        }
    }

    /// Misses `qname` once and feeds the upstream answer, leaving it cached.
    fn warm(&mut self, now: Instant, id: u16, qname: &str, addr: [u8; 4]) {
        let q = Datagram::new(self.client, self.listen, query(id, qname));
        self.fwd.handle_datagram(now, q);
        let up = self.fwd.poll_transmit().expect("upstream query on a miss");
        let local = up.src.expect("machine picks the source");
        let reply = answer(&up.payload, addr);
        assert!(self.fwd.poll_transmit().is_none());
        self.fwd
            .handle_datagram(now, Datagram::new(up.dst, local, reply));
        let to_client = self.fwd.poll_transmit().expect("client answer");
        assert_eq!(to_client.dst, self.client);
        while self.fwd.poll_transmit().is_some() {}
        while self.fwd.poll_event().is_some() {}
    }
}

fn cache_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("dns_cache_hit");
    g.throughput(Throughput::Elements(1));
    let names: Vec<String> = (0..NAMES).map(name).collect();
    let mut rig = Rig::new();
    let warm_at = Instant::from_millis(1);

    let heap_before = LIVE.load(Ordering::Relaxed);
    for (i, n) in names.iter().enumerate() {
        let i32 = u32::try_from(i).expect("fits");
        let id = u16::try_from(i % 65_536).expect("fits");
        rig.warm(warm_at, id, n, (0xc000_0200 | (i32 & 0xff)).to_be_bytes());
    }
    let heap_after = LIVE.load(Ordering::Relaxed);
    let cache = rig.fwd.cache();
    assert_eq!(cache.len(), NAMES, "every name cached");
    assert_eq!(rig.fwd.pending_fetches(), 0);
    eprintln!(
        "dns cache: {} names, {} bytes charged ({:.1} B/name); heap growth {} bytes ({:.1} B/name)",
        cache.len(),
        cache.bytes(),
        cache.bytes() as f64 / NAMES as f64,
        heap_after.saturating_sub(heap_before),
        heap_after.saturating_sub(heap_before) as f64 / NAMES as f64,
    );

    // Client queries for cached names, visited in a scattered order; a Datagram clone is a
    // refcount on the payload.
    let queries: Vec<Datagram> = (0..NAMES)
        .map(|k| {
            let i = (k * 7919) % NAMES;
            let id = u16::try_from(k % 65_536).expect("fits");
            Datagram::new(rig.client, rig.listen, query(id, &names[i]))
        })
        .collect();
    let hits_before = rig.fwd.stats().cache_hits;
    let upstream_before = rig.fwd.stats().upstream_udp;
    let now = Instant::from_secs(10);
    let mut k = 0usize;
    g.bench_function(format!("{NAMES} cached names, A query"), |b| {
        b.iter(|| {
            k += 1;
            rig.fwd.handle_datagram(now, queries[k % NAMES].clone());
            let reply = rig.fwd.poll_transmit();
            debug_assert!(reply.is_some());
            black_box(reply);
        });
    });
    let s = rig.fwd.stats();
    assert!(s.cache_hits - hits_before >= k as u64, "every query a hit");
    assert_eq!(s.upstream_udp, upstream_before, "no upstream traffic");
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = cache_hit
}
criterion_main!(benches);
