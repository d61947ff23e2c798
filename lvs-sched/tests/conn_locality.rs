//! lblc / lblcr: cache hits, the overload probe and its quirk, replacement, replication, shrink
//! and the garbage collector's timing, from the rules of `ip_vs_lblc.c` / `ip_vs_lblcr.c`.

use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

use lvs_core::ConnState::{Active, Inactive};
use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::lblc::{MAX_SIZE, bucket_of};
use lvs_sched::{Lblc, Lblcr, LocalityConfig};

const A: DestId = DestId(0);
const B: DestId = DestId(1);

fn ip(a: u8, b: u8, c: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, a, b, c))
}

fn to(dst: IpAddr) -> Flow {
    Flow::tcp(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 5555, dst, 80)
}

fn secs(s: u64) -> Instant {
    Instant::ZERO + Duration::from_secs(s)
}

fn setup<S: Scheduler>(mut s: S, weights: &[u32]) -> S {
    for (i, &w) in weights.iter().enumerate() {
        s.add_dest(DestId(i as u32), DestParams::new(ip(0, 0, i as u8), 80, w))
            .unwrap();
    }
    s
}

#[test]
fn hash_is_the_kernels_hash_32_of_the_folded_address() {
    // hash_32(0x0a000001, 10) = (0x0a000001 · 0x61C88647 mod 2^32) >> 22.
    let v = 0x0a00_0001u32.wrapping_mul(0x61C8_8647) >> 22;
    assert_eq!(bucket_of(ip(0, 0, 1)), v as usize);
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    let fold = 0x2001_0db8u32 ^ 1;
    assert_eq!(
        bucket_of(v6),
        (fold.wrapping_mul(0x61C8_8647) >> 22) as usize
    );
}

#[test]
fn lblc_hit_replacement_and_the_overload_flag_quirk() {
    let mut s = setup(Lblc::new(), &[2, 2]);
    let x = ip(9, 9, 9);
    assert_eq!(s.pick(&to(x), secs(0)), Some(A));
    assert_eq!(s.cached(x), Some(A));
    // A: 3 active > weight 2, and B (0·2 < 2) is under half: the hit is refused.
    (0..3).for_each(|_| s.conn_bound(A, Active));
    assert_eq!(s.pick(&to(x), secs(1)), Some(B));
    assert_eq!(s.cached(x), Some(B));
    // B carries the OVERLOAD flag but is not "overloaded" by the lblc rule: the hit stands.
    s.set_thresholds(B, 1, 0).unwrap();
    s.conn_bound(B, Inactive);
    assert!(s.load(B).unwrap().overloaded);
    assert_eq!(s.pick(&to(x), secs(2)), Some(B));
    // A fresh address goes through wlc, which honours the flag.
    assert_eq!(s.pick(&to(ip(8, 8, 8)), secs(3)), Some(A));
    // A removed server is not AVAILABLE: the entry is replaced.
    s.remove_dest(B).unwrap();
    assert_eq!(s.pick(&to(x), secs(4)), Some(A));
    assert_eq!(s.cached(x), Some(A));
}

#[test]
fn lblc_hit_survives_when_no_server_is_under_half_load() {
    let mut s = setup(Lblc::new(), &[2, 2]);
    let x = ip(9, 9, 9);
    assert_eq!(s.pick(&to(x), secs(0)), Some(A));
    (0..5).for_each(|_| s.conn_bound(A, Active));
    s.conn_bound(B, Active); // 1·2 is not < 2
    assert_eq!(s.pick(&to(x), secs(1)), Some(A));
    s.set_weight(A, 0).unwrap();
    assert_eq!(s.pick(&to(x), secs(2)), Some(B));
}

#[test]
fn lblc_full_sweep_expires_idle_entries_on_the_1440th_tick() {
    let mut s = setup(Lblc::new(), &[1]);
    let (x, y, z) = (ip(1, 0, 0), ip(2, 0, 0), ip(3, 0, 0));
    s.pick(&to(x), secs(0)); // arms the timer: ticks at 60 s, 120 s, ...
    s.pick(&to(y), secs(86_399));
    assert_eq!(
        s.cache_len(),
        2,
        "full sweeps every 30 min; x is 1 s short of 24 h"
    );
    s.pick(&to(z), secs(86_401));
    assert_eq!(s.cached(x), None, "the sweep at 86 400 s removed x");
    assert_eq!(s.cache_len(), 2);
    // Years of silence are crossed quickly and empty the table.
    s.pick(&to(x), secs(86_400 * 365 * 50));
    assert_eq!(s.cache_len(), 1);
}

#[test]
fn lblc_partial_sweep_trims_above_max_size_after_entry_timeout() {
    let mut s = setup(Lblc::new(), &[1]);
    let extra = 100;
    let n = MAX_SIZE + extra;
    for i in 0..n {
        let a = ip((i >> 16) as u8, (i >> 8) as u8, i as u8);
        s.pick(&to(a), secs(0));
    }
    assert_eq!(s.cache_len(), n);
    // Ticks at 1..5 min find nothing idle for 6 min; the tick at 6 min removes whole buckets
    // from the rover on until the goal (extra·4/3 = 133) is met.
    s.pick(&to(ip(200, 0, 0)), secs(359));
    assert_eq!(s.cache_len(), n + 1);
    s.pick(&to(ip(200, 0, 1)), secs(421));
    let removed = n + 2 - s.cache_len();
    assert!((133..133 + 64).contains(&removed), "removed {removed}");
}

#[test]
fn lblc_memory_bound_schedules_without_caching() {
    let cfg = LocalityConfig {
        max_entries: 2,
        ..LocalityConfig::default()
    };
    let mut s = setup(Lblc::with_config(cfg), &[1]);
    for i in 0..5 {
        assert_eq!(s.pick(&to(ip(1, 1, i)), secs(0)), Some(A));
    }
    assert_eq!(s.cache_len(), 2);
}

#[test]
fn lblcr_replicates_under_load_and_shrinks_after_expiration() {
    let cfg = LocalityConfig {
        expiration: Duration::from_secs(3600),
        ..LocalityConfig::default()
    };
    let mut s = setup(Lblcr::with_config(cfg), &[1, 1]);
    let x = ip(7, 7, 7);
    assert_eq!(s.pick(&to(x), secs(0)), Some(A));
    (0..2).for_each(|_| s.conn_bound(A, Active));
    // A is overloaded (2 > 1 while B is under half): wlc adds B to the set, newest first.
    assert_eq!(s.pick(&to(x), secs(10)), Some(B));
    assert_eq!(s.cached(x), Some(vec![B, A]));
    // The set minimum is B from now on; the set is not modified.
    assert_eq!(s.pick(&to(x), secs(600)), Some(B));
    assert_eq!(s.pick(&to(x), secs(3000)), Some(B));
    assert_eq!(
        s.cached(x),
        Some(vec![B, A]),
        "lastmod + 1 h not passed yet"
    );
    // More than 1 h after the last modification: the most loaded member (A) is dropped.
    assert_eq!(s.pick(&to(x), secs(3611)), Some(B));
    assert_eq!(s.cached(x), Some(vec![B]));
}

#[test]
fn lblcr_skips_removed_members_and_the_overload_flag() {
    let mut s = setup(Lblcr::new(), &[1, 1, 1]);
    let x = ip(7, 7, 8);
    assert_eq!(s.pick(&to(x), secs(0)), Some(A));
    s.remove_dest(A).unwrap();
    // No usable member: wlc picks B (first of the equal B and C) and it joins the set.
    assert_eq!(s.pick(&to(x), secs(1)), Some(B));
    assert_eq!(s.cached(x), Some(vec![B, A]));
    s.set_thresholds(B, 1, 0).unwrap();
    s.conn_bound(B, Inactive);
    assert_eq!(s.pick(&to(x), secs(2)), Some(DestId(2)));
    assert_eq!(s.cached(x), Some(vec![DestId(2), B, A]));
}
