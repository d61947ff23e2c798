//! What the answer cache really costs, measured with a counting allocator: the bytes it
//! charges against `max-cache-size` cover the heap it holds, a cached one-record name costs
//! at most 200 bytes (issue 8's target), and a cache hit allocates nothing but the reply.
//!
//! The allocator counts per thread, so the tests of this file may run in parallel.

mod support;

use core::cell::Cell;
use core::time::Duration;
use std::alloc::{GlobalAlloc, Layout, System};

use lvs_core::{Datagram, Instant, StateMachine};
use lvs_dns::cache::{
    self, Cache, CacheConfig, ENTRY_OVERHEAD, KeyedHash, Lookup, MAX_KEY_LEN, StoredAnswer,
    TtlPolicy, Wanted,
};
use lvs_dns::testing::Raw;
use lvs_dns::wire::Message;
use support::{Data, LISTEN, UP1, addr, config, forwarder, query, respond, zone};

/// The system allocator, counting live bytes and allocations of the calling thread.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count(delta: isize, allocs: usize) {
    // `try_with`: the thread's counters may already be gone while it exits.
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
    let _ = ALLOCS.try_with(|a| a.set(a.get() + allocs));
}

// SAFETY: every call forwards to `System` with the caller's arguments unchanged; the counters
// are const-initialised thread locals without destructors, so counting never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which we pass on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize), 0);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from this allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize, 1);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn allocs() -> usize {
    ALLOCS.with(Cell::get)
}

/// Heap the cache may hold beyond what it charges: the smallest slot array and index.
const FIXED: isize = 256;

/// A cacheable answer for `name` with `records` A records (behind a CNAME when `alias`), or
/// NXDOMAIN with an SOA when `records` is 0; and its cache key.
fn answer(name: &str, records: u8, alias: bool, ttl: u32) -> (Vec<u8>, StoredAnswer) {
    let counts = [1, u16::from(records) + u16::from(alias), 0, 0];
    let mut r = Raw::header(1, if records == 0 { 0x8183 } else { 0x8180 }, counts)
        .name(name)
        .u16(1)
        .u16(1);
    if alias {
        r = r
            .name_ptr("", 12)
            .rr(5, 1, ttl, &[3, b'w', b'w', b'w', 0xc0, 12]);
    }
    let owner = if alias { "www" } else { "" };
    for i in 0..records {
        r = r.name_ptr(owner, 12).rr(1, 1, ttl, &[192, 0, 2, i]);
    }
    if records == 0 {
        r.0[8..10].copy_from_slice(&1u16.to_be_bytes());
        let mut soa = Raw::default().name("ns.example").name("admin.example");
        for n in [1u32, 2, 3, 4, ttl] {
            soa = soa.u32(n);
        }
        r = r.name_ptr("", 12).rr(6, 1, ttl, &soa.0);
    }
    let msg = Message::parse(&r.0).expect("answer parses");
    let q = msg.question().expect("question");
    let mut key = [0u8; MAX_KEY_LEN];
    let len = cache::write_key(&q.name, 1, 1, 0, &mut key);
    let want = Wanted {
        canonical: &key[..len - 5],
        qtype: 1,
        qclass: 1,
        dnssec_ok: false,
    };
    let s = cache::scrub_for(&msg, &want, &TtlPolicy::default()).expect("usable");
    assert!(s.answer.cacheable(), "{name}");
    (key[..len].to_vec(), s.answer)
}

/// Heap held now beyond `base`, checked against what `c` charges.
fn check(c: &Cache, base: isize, what: &str) -> isize {
    let held = live() - base;
    assert!(
        held <= c.bytes() as isize + FIXED,
        "{what}: {held} bytes held, {} charged ({} entries)",
        c.bytes(),
        c.len()
    );
    held - c.bytes() as isize
}

#[test]
fn charged_bytes_cover_the_heap_through_growth_churn_and_flushes() {
    assert_eq!(size_of::<Option<StoredAnswer>>(), 16, "one slot");
    let t0 = Instant::from_secs(1);
    let config = CacheConfig {
        max_size: 4 << 20,
        max_stale: Duration::from_secs(30),
        ..CacheConfig::default()
    };
    let base = live();
    let mut c = Cache::new(config, KeyedHash::new(7, 9));
    let mut worst = isize::MIN;
    // Growth: every size up to 3000 entries, so every resize of the slot array and the index
    // is measured right after it happened.
    for i in 0..3000u32 {
        let name = format!("h{i}.{}.example", "x".repeat((i % 40) as usize));
        let (key, a) = answer(&name, (i % 5) as u8, i % 7 == 0, 60 + i % 300);
        assert!(c.insert(&key, a, t0));
        worst = worst.max(check(&c, base, "growth"));
    }
    assert_eq!(c.len(), 3000);
    // Churn under a budget a tenth of the size: evictions reuse the vacated slots.
    let mut small = *c.config();
    small.max_size = c.bytes() / 10;
    let r = c.reconfigure(small, t0);
    assert!(r.evicted > 2000, "{r:?}");
    worst = worst.max(check(&c, base, "shrunk budget"));
    for i in 0..3000u32 {
        let (key, a) = answer(&format!("c{i}.example"), 1 + (i % 3) as u8, false, 120);
        c.insert(&key, a, t0 + Duration::from_millis(u64::from(i)));
        assert!(c.bytes() <= small.max_size);
        worst = worst.max(check(&c, base, "churn"));
    }
    // Flushes by name (which give vacated slots back), then expiry at lookup.
    let before = live();
    let keys: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| answer(&format!("c{i}.example"), 1, false, 120).0)
        .collect();
    let base = base + (live() - before);
    for i in (1..3000u32).step_by(2) {
        let canonical = Raw::default().name(&format!("c{i}.example")).0;
        assert!(c.remove_name(&canonical) <= 1);
        worst = worst.max(check(&c, base, "flushname"));
    }
    let later = t0 + Duration::from_secs(100_000);
    for k in keys.iter().step_by(2) {
        assert!(matches!(c.lookup(k, later), Lookup::Miss));
        worst = worst.max(check(&c, base, "expiry"));
    }
    assert!(c.is_empty());
    assert_eq!(c.bytes(), 0);
    assert_eq!(live(), base, "an empty cache holds nothing");
    for i in 0..100u32 {
        let (key, a) = answer(&format!("r{i}.example"), 2, true, 300);
        assert!(c.insert(&key, a, later));
    }
    c.clear();
    assert_eq!((c.len(), c.bytes()), (0, 0));
    assert_eq!(live(), base, "clear gives every byte back");
    drop(keys);
    println!(
        "cache heap beyond charged bytes: at most {worst} (allowance {FIXED}); \
         ENTRY_OVERHEAD {ENTRY_OVERHEAD}"
    );
}

/// A forwarder with `n` one-A-record names cached (a client query answered from upstream per
/// name), and the heap its warm-up kept.
fn warmed(n: usize) -> (support::Fwd, isize) {
    let names: Vec<(String, Data)> = (0..n)
        .map(|i| {
            (
                format!("host{i:05}.example.com"),
                Data::A(vec![[192, 0, 2, i as u8]], 86_400),
            )
        })
        .collect();
    let refs: Vec<(&str, Data)> = names.iter().map(|(s, d)| (s.as_str(), d.clone())).collect();
    let z = zone(&refs);
    let client = addr("192.0.2.10:40000");
    let now = Instant::from_millis(1);
    let base = live();
    let mut fwd = forwarder(config(&[UP1]), 11);
    for (i, (name, _)) in names.iter().enumerate() {
        let q = query(i as u16, name, 1, false);
        fwd.handle_datagram(now, Datagram::new(client, addr(LISTEN), q));
        let up = fwd.poll_transmit().expect("a miss goes upstream");
        let src = up.src.expect("the machine picks the source");
        let reply = respond(&z, &up.payload, false, false);
        fwd.handle_datagram(now, Datagram::new(up.dst, src, reply));
        let to_client = fwd.poll_transmit().expect("the client's answer");
        assert_eq!(to_client.dst, client);
        while fwd.poll_transmit().is_some() {}
        while fwd.poll_event().is_some() {}
    }
    let held = live() - base;
    assert_eq!(fwd.cache().len(), n);
    (fwd, held)
}

#[test]
fn a_cached_name_costs_at_most_200_bytes_and_its_charge_covers_it() {
    const N: usize = 10_000;
    let (fwd, held) = warmed(N);
    let per_name = held as f64 / N as f64;
    println!(
        "{N} names: heap growth {held} bytes ({per_name:.1} B/name), {} charged ({:.1} B/name)",
        fwd.cache().bytes(),
        fwd.cache().bytes() as f64 / N as f64
    );
    assert!(per_name <= 200.0, "{per_name:.1} B per cached name");
    assert!(held <= fwd.cache().bytes() as isize + FIXED);
}

#[test]
fn a_cache_hit_allocates_only_its_reply() {
    const N: usize = 500;
    let (mut fwd, _) = warmed(N);
    let client = addr("192.0.2.10:40000");
    // Cloned once, so the hits below only bump reference counts.
    let queries: Vec<Datagram> = (0..N)
        .map(|i| {
            let q = query(i as u16, &format!("HOST{i:05}.example.com"), 1, false);
            Datagram::new(client, addr(LISTEN), q)
        })
        .collect();
    let spare: Vec<Datagram> = queries.clone();
    let now = Instant::from_secs(10);
    let hits_before = fwd.stats().cache_hits;
    let (live0, allocs0) = (live(), allocs());
    for round in 0..4 {
        for k in 0..N {
            let d = queries[(k * 37 + round) % N].clone();
            fwd.handle_datagram(now, d);
            let reply = fwd.poll_transmit().expect("a hit answers at once");
            assert!(fwd.poll_transmit().is_none());
            drop(reply);
        }
    }
    let (live1, allocs1) = (live(), allocs());
    assert_eq!(fwd.stats().cache_hits - hits_before, 4 * N as u64);
    assert_eq!(
        allocs1 - allocs0,
        4 * N,
        "one allocation per hit: the reply"
    );
    assert_eq!(live1, live0, "nothing kept per hit");
    drop(spare);
}
