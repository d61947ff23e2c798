//! Maglev table properties: insertion-order independence, quotas within one slot, minimal
//! churn on removal and addition, quiesce stability; scheduler-level weight 0 and OVERLOAD.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_core::{ConnState, DestId, DestParams, Flow, Instant, Scheduler};
use lvs_sched::fuzzing::hash::check_maglev;
use lvs_sched::khash::TableConfigError;
use lvs_sched::maglev::{
    FlowKey, MaglevConfig, MaglevScheduler, MaglevTable, RebuildMode, is_prime,
};
use proptest::prelude::*;

type B = (DestId, IpAddr, u16, u32);

fn backend(i: u32, weight: u32) -> B {
    let addr = if i.is_multiple_of(3) {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i as u16))
    } else {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    };
    (DestId(i), addr, 8000 + (i % 7) as u16, weight)
}

fn cfg(size: u32, mode: RebuildMode) -> MaglevConfig {
    MaglevConfig {
        size,
        mode,
        ..MaglevConfig::default()
    }
}

fn ids(bs: &[B]) -> Vec<DestId> {
    bs.iter().map(|b| b.0).collect()
}

fn owners(t: &MaglevTable) -> Vec<Option<DestId>> {
    t.owners().collect()
}

/// The fewest slots the survivors must give up so that each ends within one slot of its new
/// quota `M·w/W`: the excess over each ceiling, plus whatever the sum of the kept counts
/// (clamped into [floor, ceil]) exceeds M by.
fn forced_moves(t: &MaglevTable, survivors: &[DestId]) -> u64 {
    let m = t.size() as u64;
    let w = |id| u64::from(t.weights(id).unwrap().0);
    let total: u64 = survivors.iter().map(|&id| w(id)).sum();
    let (mut over, mut kept) = (0, 0);
    for &id in survivors {
        let c = u64::from(t.slot_count(id).unwrap());
        let lo = m * w(id) / total;
        let hi = lo + u64::from(!(m * w(id)).is_multiple_of(total));
        over += c.saturating_sub(hi);
        kept += c.clamp(lo, hi);
    }
    over + kept.saturating_sub(m)
}

fn backends() -> impl Strategy<Value = Vec<B>> {
    proptest::collection::vec(1u32..20, 1..40).prop_map(|ws| {
        ws.into_iter()
            .enumerate()
            .map(|(i, w)| backend(i as u32, w))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn same_table_for_any_insertion_order(bs in backends(), seed in any::<u64>()) {
        let a = MaglevTable::from_backends(cfg(1021, RebuildMode::Classic), bs.clone()).unwrap();
        let mut shuffled = bs.clone();
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (seed.rotate_left(i as u32) as usize) % n);
        }
        let mut b = MaglevTable::new(cfg(1021, RebuildMode::Classic)).unwrap();
        for (id, addr, port, w) in shuffled {
            b.insert(id, addr, port, w).unwrap();
        }
        prop_assert_eq!(owners(&a), owners(&b));
        check_maglev(&a, &ids(&bs)).unwrap();
    }

    #[test]
    fn quotas_hold_through_changes_in_both_modes(
        bs in backends(),
        ops in proptest::collection::vec((0u8..3, 0usize..40, 0u32..30), 0..12),
        minimal in any::<bool>(),
    ) {
        let mode = if minimal { RebuildMode::MinimalChurn } else { RebuildMode::Classic };
        let mut t = MaglevTable::from_backends(cfg(251, mode), bs.clone()).unwrap();
        let mut live = ids(&bs);
        for (op, k, w) in ops {
            let id = DestId(k as u32);
            match op {
                0 => { let (id, a, p, _) = backend(k as u32, w); if t.insert(id, a, p, w).is_ok() { live.push(id); } }
                1 => { if t.remove(id).is_ok() { live.retain(|&x| x != id); } }
                _ => { let _ = t.set_weight(id, w); }
            }
            check_maglev(&t, &live).unwrap();
        }
    }

    #[test]
    fn minimal_churn_removal_moves_only_the_removed_slots(bs in backends(), pick in any::<usize>()) {
        prop_assume!(bs.len() >= 2);
        let mut t = MaglevTable::from_backends(cfg(1021, RebuildMode::MinimalChurn), bs.clone()).unwrap();
        let before = owners(&t);
        let gone = bs[pick % bs.len()].0;
        t.remove(gone).unwrap();
        let after = owners(&t);
        for (b, a) in before.iter().zip(&after) {
            if *b != Some(gone) {
                prop_assert_eq!(b, a);
            }
        }
        let live: Vec<DestId> = ids(&bs).into_iter().filter(|&x| x != gone).collect();
        check_maglev(&t, &live).unwrap();
    }

    #[test]
    fn minimal_churn_removal_after_a_history_moves_only_what_quotas_force(
        bs in backends(),
        changes in proptest::collection::vec((0usize..40, 1u32..20), 1..8),
        pick in any::<usize>(),
    ) {
        prop_assume!(bs.len() >= 2);
        let mut t = MaglevTable::from_backends(cfg(251, RebuildMode::MinimalChurn), bs.clone()).unwrap();
        for (k, w) in changes {
            let _ = t.set_weight(DestId(k as u32), w);
        }
        let before = owners(&t);
        let gone = bs[pick % bs.len()].0;
        let survivors: Vec<DestId> = ids(&bs).into_iter().filter(|&x| x != gone).collect();
        let forced = forced_moves(&t, &survivors);
        t.remove(gone).unwrap();
        let moved = before
            .iter()
            .zip(owners(&t).iter())
            .filter(|(b, a)| **b != Some(gone) && b != a)
            .count() as u64;
        prop_assert_eq!(moved, forced);
        check_maglev(&t, &survivors).unwrap();
    }

    #[test]
    fn minimal_churn_addition_moves_only_what_the_new_quota_takes(bs in backends(), w in 1u32..20) {
        let mut t = MaglevTable::from_backends(cfg(1021, RebuildMode::MinimalChurn), bs.clone()).unwrap();
        let before = owners(&t);
        let (id, a, p, _) = backend(100, w);
        t.insert(id, a, p, w).unwrap();
        let after = owners(&t);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        prop_assert!(before.iter().zip(&after).all(|(b, a)| b == a || *a == Some(id)));
        prop_assert_eq!(moved as u32, t.slot_count(id).unwrap());
        let mut live = ids(&bs);
        live.push(id);
        check_maglev(&t, &live).unwrap();
    }

    #[test]
    fn quiesce_keeps_the_table_and_never_picks_the_quiesced(bs in backends(), pick in any::<usize>(), fallback in any::<bool>()) {
        let c = MaglevConfig { fallback, ..cfg(1021, RebuildMode::Classic) };
        let mut t = MaglevTable::from_backends(c, bs.clone()).unwrap();
        let before = owners(&t);
        let q = bs[pick % bs.len()].0;
        t.set_weight(q, 0).unwrap();
        prop_assert_eq!(&before, &owners(&t));
        let others_eligible = bs.len() > 1;
        for h in (0..2000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) {
            let got = t.get(h);
            prop_assert_ne!(got, Some(q));
            let owner = t.lookup(h);
            if owner != Some(q) {
                prop_assert_eq!(got, owner, "flows of other backends stay");
            } else if fallback && others_eligible {
                prop_assert!(got.is_some());
            } else {
                prop_assert_eq!(got, None);
            }
        }
        t.set_weight(q, bs[pick % bs.len()].3).unwrap();
        prop_assert_eq!(&before, &owners(&t));
    }
}

#[test]
fn sizes_must_be_prime_and_in_range() {
    for size in [251, 4093, 65521, 131_071, 65537, 655_373] {
        assert!(
            MaglevTable::new(cfg(size, RebuildMode::Classic)).is_ok(),
            "{size}"
        );
    }
    for size in [0, 1, 2, 4, 65536, 655_371, (1 << 22) + 15] {
        assert!(matches!(
            MaglevTable::new(cfg(size, RebuildMode::Classic)),
            Err(TableConfigError::MaglevSize { .. })
        ));
    }
    assert!(is_prime(655_373) && !is_prime(1) && is_prime(2) && !is_prime(91));
}

#[test]
fn equal_weights_split_the_table_within_one_slot() {
    let bs: Vec<B> = (0..1000).map(|i| backend(i, 1)).collect();
    let t = MaglevTable::from_backends(cfg(65537, RebuildMode::Classic), bs.clone()).unwrap();
    for b in &bs {
        let c = t.slot_count(b.0).unwrap();
        assert!(c == 65 || c == 66, "{c}");
    }
    check_maglev(&t, &ids(&bs)).unwrap();
}

fn sched(c: MaglevConfig) -> MaglevScheduler {
    let mut s = MaglevScheduler::new(c).unwrap();
    for i in 0..8 {
        let (id, addr, port, w) = backend(i, 1 + i % 3);
        s.add_dest(id, DestParams::new(addr, port, w)).unwrap();
    }
    s
}

fn flows() -> impl Iterator<Item = Flow> {
    (0..3000u32).map(|i| {
        let src = IpAddr::V4(Ipv4Addr::from(0xc000_0200 + i / 7));
        Flow::tcp(
            src,
            1024 + (i % 7) as u16 * 1000,
            "10.0.0.1".parse().unwrap(),
            443,
        )
    })
}

#[test]
fn overload_is_skipped_with_fallback_and_missed_without() {
    for fallback in [true, false] {
        let mut s = sched(MaglevConfig {
            size: 1021,
            fallback,
            ..MaglevConfig::default()
        });
        let hot = DestId(2);
        s.set_thresholds(hot, 2, 0).unwrap();
        s.conn_bound(hot, ConnState::Active);
        s.conn_bound(hot, ConnState::Inactive);
        assert!(s.load(hot).unwrap().overloaded);
        let mut missed = 0;
        for f in flows() {
            let owner = s.table().lookup(s.table().flow_hash(&f));
            let got = s.pick(&f, Instant::ZERO);
            assert_ne!(got, Some(hot));
            if owner == Some(hot) {
                assert_eq!(got.is_none(), !fallback);
                missed += 1;
            } else {
                assert_eq!(got, owner);
            }
        }
        assert!(missed > 0);
        // Hysteresis: 1 connection left is below 75 % of 2, the flag clears.
        s.conn_unbound(hot, ConnState::Active);
        assert!(!s.load(hot).unwrap().overloaded);
        assert!(flows().any(|f| s.pick(&f, Instant::ZERO) == Some(hot)));
    }
}

#[test]
fn flow_keys_select_the_hashed_fields() {
    let base = Flow::tcp(
        "192.0.2.1".parse().unwrap(),
        1000,
        "10.0.0.1".parse().unwrap(),
        80,
    );
    let other_port = Flow {
        src_port: 2000,
        ..base
    };
    let other_vip = Flow {
        dst_port: 443,
        ..base
    };
    let t = |key| {
        MaglevTable::new(MaglevConfig {
            key,
            ..MaglevConfig::default()
        })
        .unwrap()
    };
    let (a, ap, ft) = (
        t(FlowKey::SrcAddr),
        t(FlowKey::SrcAddrPort),
        t(FlowKey::FiveTuple),
    );
    assert_eq!(a.flow_hash(&base), a.flow_hash(&other_port));
    assert_ne!(ap.flow_hash(&base), ap.flow_hash(&other_port));
    assert_eq!(ap.flow_hash(&base), ap.flow_hash(&other_vip));
    assert_ne!(ft.flow_hash(&base), ft.flow_hash(&other_vip));
    // No structural collisions like IPVS mh's addr + port sum.
    let shifted = Flow {
        src: "192.0.2.2".parse().unwrap(),
        src_port: 999,
        ..base
    };
    assert_ne!(ap.flow_hash(&base), ap.flow_hash(&shifted));
}

#[test]
fn weight_zero_dest_added_gets_no_slots_until_weighted() {
    let mut s = sched(MaglevConfig {
        size: 1021,
        ..MaglevConfig::default()
    });
    let (id, addr, port, _) = backend(50, 0);
    s.add_dest(id, DestParams::new(addr, port, 0)).unwrap();
    assert_eq!(s.table().slot_count(id), Some(0));
    assert!(flows().all(|f| s.pick(&f, Instant::ZERO) != Some(id)));
    s.set_weight(id, 3).unwrap();
    assert!(s.table().slot_count(id).unwrap() > 0);
    check_maglev(s.table(), &s.dests()).unwrap();
}
