//! Golden vectors for the connection-count schedulers, worked out by hand from the kernel's
//! `ip_vs_{rr,wrr,lc,wlc,sed,nq,fo,ovf,twos}.c` rules.

use core::net::{IpAddr, Ipv4Addr};

use lvs_core::ConnState::{Active, Inactive};
use lvs_core::{DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::reference::NaiveScan;
use lvs_sched::{Fo, Lc, Nq, Ovf, Rr, Sed, SmoothWrr, Twos, Wlc, Wrr};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

const A: DestId = DestId(0);
const B: DestId = DestId(1);
const C: DestId = DestId(2);
const D: DestId = DestId(3);

fn flow() -> Flow {
    let ip = |d| IpAddr::V4(Ipv4Addr::new(192, 0, 2, d));
    Flow::tcp(ip(1), 1234, ip(100), 80)
}

fn with<S: Scheduler>(mut s: S, weights: &[u32]) -> S {
    for (i, &w) in weights.iter().enumerate() {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8));
        s.add_dest(DestId(i as u32), DestParams::new(addr, 80, w))
            .unwrap();
    }
    s
}

fn letters(s: &mut impl Scheduler, n: usize) -> String {
    (0..n)
        .map(|_| match s.pick(&flow(), Instant::ZERO) {
            Some(DestId(i)) => char::from(b'A' + i as u8),
            None => '-',
        })
        .collect()
}

fn pick(s: &mut impl Scheduler) -> Option<DestId> {
    s.pick(&flow(), Instant::ZERO)
}

fn bind(s: &mut impl Scheduler, id: DestId, active: u32, inactive: u32) {
    (0..active).for_each(|_| s.conn_bound(id, Active));
    (0..inactive).for_each(|_| s.conn_bound(id, Inactive));
}

#[test]
fn wrr_4_3_2_interleaves_aababcabc() {
    // Adding one by one leaves cw = 1 after the first add (mw = 4 − (4 − 1)), and later adds
    // keep it, so the first lap runs at cw = 1 before the cycle starts at cw = mw = 4.
    let mut s = with(Wrr::new(), &[4, 3, 2]);
    assert_eq!(letters(&mut s, 21), "ABCAABABCABCAABABCABC");
}

#[test]
fn wrr_resets_cursor_and_cw_on_update() {
    let mut s = with(Wrr::new(), &[4, 3, 2]);
    assert_eq!(letters(&mut s, 5), "ABCAA");
    // cw is 3 now. An update moves the cursor to the head; cw 3 ≤ mw 4 and di = 1: kept.
    s.set_weight(C, 2).unwrap();
    assert_eq!(letters(&mut s, 4), "ABAB");
    // Weights 4, 2, 2: di = 2, mw = 4 − 1 = 3, cw = 1 (after the ABAB lap it was 2) becomes
    // ⌊2/2⌋·2 + 1 = 3.
    s.set_weight(B, 2).unwrap();
    assert_eq!(letters(&mut s, 8), "AABCAABC");
}

#[test]
fn wrr_skips_overloaded_and_quiesced_and_fails_when_all_skipped() {
    let mut s = with(Wrr::new(), &[2, 1]);
    s.set_thresholds(A, 1, 0).unwrap();
    bind(&mut s, A, 0, 1);
    assert_eq!(letters(&mut s, 3), "BBB");
    s.set_weight(B, 0).unwrap();
    assert_eq!(letters(&mut s, 2), "--");
    let mut empty = Wrr::new();
    assert_eq!(pick(&mut empty), None);
}

#[test]
fn wrr_fast_forward_matches_kernel_loop_with_a_huge_overloaded_weight() {
    let weights = [1 << 20, 3, 1];
    let mut fast = with(Wrr::new(), &weights);
    let mut naive = with(Wrr::naive(), &weights);
    for s in [&mut fast as &mut dyn Scheduler, &mut naive] {
        s.set_thresholds(A, 1, 0).unwrap();
        s.conn_bound(A, Inactive);
    }
    assert_eq!(letters(&mut fast, 12), letters(&mut naive, 12));
    assert_eq!(fast.current_weight(), naive.current_weight());
}

#[test]
fn rr_skips_quiesced_and_overloaded() {
    let mut s = with(Rr::new(), &[1, 0, 1]);
    assert_eq!(letters(&mut s, 4), "ACAC");
    s.set_thresholds(C, 2, 0).unwrap();
    bind(&mut s, C, 1, 1);
    assert_eq!(letters(&mut s, 2), "AA");
    s.set_weight(A, 0).unwrap();
    assert_eq!(pick(&mut s), None);
}

#[test]
fn rr_delete_under_cursor_moves_it_back() {
    let mut s = with(Rr::new(), &[1, 1, 1, 1]);
    assert_eq!(letters(&mut s, 2), "AB");
    s.remove_dest(B).unwrap();
    assert_eq!(letters(&mut s, 3), "CDA");
    // Cursor on A, the first: removing it moves the cursor to the head.
    s.remove_dest(A).unwrap();
    assert_eq!(letters(&mut s, 2), "CD");
}

#[test]
fn lc_counts_active_as_256_and_ties_to_first() {
    let mut s = with(Lc::new(), &[1, 5, 5]);
    bind(&mut s, A, 1, 0); // 256
    bind(&mut s, B, 0, 255); // 255
    bind(&mut s, C, 0, 255); // 255
    assert_eq!(pick(&mut s), Some(B));
    s.conn_changed(B, Inactive, Active); // 254 + 256
    assert_eq!(pick(&mut s), Some(C));
    s.set_weight(C, 0).unwrap();
    assert_eq!(pick(&mut s), Some(A));
}

#[test]
fn wlc_compares_cross_products_and_ties_to_first() {
    let mut s = with(Wlc::new(), &[1, 2]);
    bind(&mut s, A, 1, 0); // 256 / 1
    bind(&mut s, B, 2, 0); // 512 / 2
    assert_eq!(pick(&mut s), Some(A));
    bind(&mut s, A, 0, 1);
    assert_eq!(pick(&mut s), Some(B));
    s.set_thresholds(B, 2, 0).unwrap();
    s.conn_bound(B, Inactive); // total 3 ≥ 2: OVERLOAD
    assert_eq!(pick(&mut s), Some(A));
}

#[test]
fn sed_ignores_inactive_and_counts_the_new_connection() {
    let mut s = with(Sed::new(), &[1, 3]);
    bind(&mut s, A, 0, 50); // (0 + 1) / 1
    bind(&mut s, B, 2, 0); // (2 + 1) / 3
    assert_eq!(pick(&mut s), Some(A));
    bind(&mut s, A, 1, 0); // 2 / 1
    assert_eq!(pick(&mut s), Some(B));
}

#[test]
fn nq_prefers_the_first_idle_server_then_sed() {
    let mut s = with(Nq::new(), &[10, 1, 1]);
    bind(&mut s, A, 1, 0);
    bind(&mut s, B, 0, 9);
    assert_eq!(
        pick(&mut s),
        Some(B),
        "B is idle (inactive connections do not count)"
    );
    bind(&mut s, B, 1, 0);
    assert_eq!(pick(&mut s), Some(C));
    bind(&mut s, C, 1, 0);
    // Nobody idle: sed, A has 2/10 against 2/1.
    assert_eq!(pick(&mut s), Some(A));
}

#[test]
fn ovf_overflows_once_active_exceeds_weight() {
    let mut s = with(Ovf::new(), &[1, 2]);
    assert_eq!(pick(&mut s), Some(B));
    bind(&mut s, B, 2, 0);
    assert_eq!(pick(&mut s), Some(B), "2 active ≤ weight 2");
    bind(&mut s, B, 1, 0);
    assert_eq!(pick(&mut s), Some(A));
    bind(&mut s, A, 2, 0);
    assert_eq!(pick(&mut s), None);
    s.conn_unbound(B, Active);
    assert_eq!(pick(&mut s), Some(B));
}

#[test]
fn fo_takes_the_first_highest_weight() {
    let mut s = with(Fo::new(), &[5, 10, 10]);
    bind(&mut s, B, 100, 0);
    assert_eq!(pick(&mut s), Some(B), "load is ignored");
    s.set_thresholds(B, 1, 0).unwrap();
    s.conn_bound(B, Inactive);
    assert_eq!(pick(&mut s), Some(C));
    for id in [A, B, C] {
        s.set_weight(id, 0).unwrap();
    }
    assert_eq!(pick(&mut s), None);
}

#[test]
fn overload_hysteresis_reaches_the_index() {
    let mut s = with(Lc::new(), &[1, 1]);
    s.set_thresholds(A, 4, 0).unwrap();
    bind(&mut s, A, 0, 4);
    bind(&mut s, B, 0, 10);
    assert_eq!(pick(&mut s), Some(B), "A is OVERLOADED at 4");
    s.conn_unbound(A, Inactive);
    assert_eq!(pick(&mut s), Some(B), "3·4 = 12 is not below 4·3");
    s.conn_unbound(A, Inactive);
    assert_eq!(pick(&mut s), Some(A), "2·4 < 12 clears the flag");
}

#[test]
fn naive_scans_agree_on_the_golden_cases() {
    let mut s = with(NaiveScan::nq(), &[10, 1, 1]);
    bind(&mut s, A, 1, 0);
    assert_eq!(pick(&mut s), Some(B));
    let mut s = with(NaiveScan::wlc(), &[1, 2]);
    bind(&mut s, A, 1, 0);
    bind(&mut s, B, 2, 0);
    assert_eq!(pick(&mut s), Some(A));
}

#[test]
fn twos_is_deterministic_under_a_seed_and_weighted() {
    let run = |seed| {
        let mut s = with(Twos::new(ChaCha8Rng::seed_from_u64(seed)), &[1, 2, 3]);
        letters(&mut s, 40)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
    // No load: the second choice never wins, so the first draw decides. r ∈ [0, 6]:
    // 0 and 1 give A, 2 and 3 give B, 4 to 6 give C.
    let mut s = with(Twos::new(ChaCha8Rng::seed_from_u64(1)), &[1, 2, 3]);
    let mut counts = [0u32; 3];
    for _ in 0..70_000 {
        counts[pick(&mut s).unwrap().0 as usize] += 1;
    }
    for (c, expect) in counts.iter().zip([20_000, 20_000, 30_000]) {
        assert!(c.abs_diff(expect) < 1_000, "{counts:?}");
    }
}

#[test]
fn twos_prefers_the_less_loaded_of_two_draws() {
    let mut s = with(Twos::new(ChaCha8Rng::seed_from_u64(3)), &[1, 1]);
    bind(&mut s, A, 4, 0);
    let mut b = 0;
    for _ in 0..3000 {
        b += u32::from(pick(&mut s) == Some(B));
    }
    // B wins unless both draws land on A: r ∈ [0, 2], A for r ≤ 1, so P(A) = (2/3)².
    let expect = 3000.0 * (1.0 - 4.0 / 9.0);
    assert!((f64::from(b) - expect).abs() < 150.0, "{b}");
    s.remove_dest(B).unwrap();
    s.remove_dest(A).unwrap();
    assert_eq!(pick(&mut s), None);
    let _ = D;
}

#[test]
fn smooth_wrr_spreads_picks() {
    let mut s = with(SmoothWrr::new(), &[4, 3, 2]);
    assert_eq!(letters(&mut s, 18), "ABCABACBAABCABACBA");
}
