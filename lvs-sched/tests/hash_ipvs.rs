//! `dh`, `sh` and `mh` against the kernel rules: golden tables worked out by hand from
//! `ip_vs_dh.c`, `ip_vs_sh.c` and `ip_vs_mh.c`, lookups, fallback, quiesce and OVERLOAD.

use core::net::IpAddr;

use lvs_core::{ConnState, DestId, DestParams, Flow, Instant, SchedError, Scheduler, proto};
use lvs_sched::dh::Dh;
use lvs_sched::khash::{MH_KEY1, MH_KEY2, TableConfigError, hsiphash};
use lvs_sched::mh::{DestSetup, Mh, MhConfig, populate};
use lvs_sched::sh::{Sh, ShConfig};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn add(s: &mut dyn Scheduler, id: u32, addr: &str, weight: u32) {
    s.add_dest(DestId(id), DestParams::new(ip(addr), 80, weight))
        .unwrap();
}

fn flow(src: &str, sport: u16, dst: &str) -> Flow {
    Flow::tcp(ip(src), sport, ip(dst), 80)
}

#[test]
fn dh_deals_buckets_round_robin_ignoring_weights() {
    let mut dh = Dh::new();
    add(&mut dh, 0, "10.1.0.1", 5);
    add(&mut dh, 1, "10.1.0.2", 1);
    add(&mut dh, 2, "10.1.0.3", 1);
    for i in 0..256 {
        assert_eq!(dh.bucket(i), Some(DestId(i as u32 % 3)));
    }
    // 10.0.0.1 → hash_32(0x0a000001, 8) = 39 → 39 mod 3 = 0.
    assert_eq!(Dh::bucket_of(&ip("10.0.0.1")), 39);
    assert_eq!(
        dh.pick(&flow("1.2.3.4", 1, "10.0.0.1"), Instant::ZERO),
        Some(DestId(0))
    );
    // 192.168.0.1 → 192 → dest 0; the source does not matter.
    assert_eq!(
        dh.pick(&flow("9.9.9.9", 7, "192.168.0.1"), Instant::ZERO),
        Some(DestId(0))
    );
    // Weight 0 (no fallback): no destination, and the table stays.
    dh.set_weight(DestId(0), 0).unwrap();
    assert_eq!(
        dh.pick(&flow("1.2.3.4", 1, "10.0.0.1"), Instant::ZERO),
        None
    );
    assert_eq!(dh.bucket(39), Some(DestId(0)));
    dh.remove_dest(DestId(0)).unwrap();
    assert_eq!(dh.bucket(39), Some(DestId([1, 2][39 % 2])));
}

#[test]
fn sh_gives_each_dest_weight_consecutive_buckets_and_weight_zero_one() {
    let mut sh = Sh::new(ShConfig {
        bits: 4,
        ..ShConfig::default()
    })
    .unwrap();
    add(&mut sh, 0, "10.1.0.1", 2);
    add(&mut sh, 1, "10.1.0.2", 0);
    add(&mut sh, 2, "10.1.0.3", 3);
    // A A B C C C | A A B C C C | A A B C
    let want = [0, 0, 1, 2, 2, 2, 0, 0, 1, 2, 2, 2, 0, 0, 1, 2];
    let got: Vec<u32> = (0..16).map(|i| sh.bucket(i).unwrap().0).collect();
    assert_eq!(got, want);
    // Weights over the table size starve the end of the list.
    sh.set_weight(DestId(0), 20).unwrap();
    assert!((0..16).all(|i| sh.bucket(i) == Some(DestId(0))));
    assert_eq!(
        Sh::new(ShConfig {
            bits: 21,
            ..ShConfig::default()
        })
        .unwrap_err(),
        TableConfigError::ShBits(21)
    );
}

#[test]
fn sh_hashes_the_source_and_optionally_the_port() {
    let mut sh = Sh::new(ShConfig::default()).unwrap();
    let mut shp = Sh::new(ShConfig {
        port: true,
        ..ShConfig::default()
    })
    .unwrap();
    for s in [&mut sh as &mut dyn Scheduler, &mut shp] {
        for i in 0..7 {
            add(s, i, &format!("10.1.0.{}", i + 1), 1);
        }
    }
    // 10.0.0.1 → bucket 39 (39 mod 7 = 4); with sh-port and port 80 → 0x0a000051 → 182 (0).
    assert_eq!(sh.hashkey(&ip("10.0.0.1"), 0, 0), 39);
    assert_eq!(
        sh.pick(&flow("10.0.0.1", 80, "1.1.1.1"), Instant::ZERO),
        Some(DestId(4))
    );
    assert_eq!(shp.hashkey(&ip("10.0.0.1"), 80, 0), 182);
    assert_eq!(
        shp.pick(&flow("10.0.0.1", 80, "1.1.1.1"), Instant::ZERO),
        Some(DestId(0))
    );
    // ICMP has no port: sh-port adds 0.
    let icmp = Flow {
        protocol: 1,
        ..flow("10.0.0.1", 80, "1.1.1.1")
    };
    assert_eq!(shp.pick(&icmp, Instant::ZERO), Some(DestId(4)));
    let sctp = Flow {
        protocol: proto::SCTP,
        ..icmp
    };
    assert_eq!(shp.pick(&sctp, Instant::ZERO), Some(DestId(0)));
}

#[test]
fn sh_fallback_probes_like_the_kernel_and_skips_overloaded() {
    let cfg = ShConfig {
        fallback: true,
        ..ShConfig::default()
    };
    let mut sh = Sh::new(cfg).unwrap();
    for i in 0..4 {
        add(&mut sh, i, &format!("10.1.0.{}", i + 1), 1);
    }
    let f = flow("10.0.0.1", 0, "1.1.1.1");
    assert_eq!(sh.pick(&f, Instant::ZERO), Some(DestId(39 % 4)));
    // Quiesce dest 3: the kernel probes roffset = ihash + k, bucket = (roffset + h) & 255 with
    // h = ihash = 39: bucket 78 → 78 mod 4 = 2.
    sh.set_weight(DestId(3), 0).unwrap();
    assert_eq!(sh.pick(&f, Instant::ZERO), Some(DestId(2)));
    // OVERLOAD dest 2 as well: next probe k = 1 → bucket 79 → dest 3 (quiesced), k = 2 → 80 → 0.
    sh.set_thresholds(DestId(2), 1, 0).unwrap();
    sh.conn_bound(DestId(2), ConnState::Inactive);
    assert_eq!(sh.pick(&f, Instant::ZERO), Some(DestId(0)));
    // Without fallback the same flow finds nothing.
    let mut strict = Sh::new(ShConfig::default()).unwrap();
    for i in 0..4 {
        add(&mut strict, i, &format!("10.1.0.{}", i + 1), 1);
    }
    strict.set_weight(DestId(3), 0).unwrap();
    assert_eq!(strict.pick(&f, Instant::ZERO), None);
    // Everything quiesced: fallback gives up too.
    for i in 0..4 {
        sh.set_weight(DestId(i), 0).unwrap();
    }
    assert_eq!(sh.pick(&f, Instant::ZERO), None);
}

#[test]
fn mh_populate_matches_a_table_worked_by_hand() {
    // M = 7. A: offset 0, skip 3 → 0 3 6 2 5 1 4. B: offset 1, skip 2 → 1 3 5 0 2 4 6.
    let a = DestSetup {
        offset: 0,
        skip: 3,
        turns: 1,
    };
    let b = DestSetup {
        offset: 1,
        skip: 2,
        turns: 1,
    };
    let mut t = [0u32; 7];
    // Rounds: A0 B1 | A3 B5 | A6 B2 | A4.
    assert!(populate(7, &[a, b], &mut t));
    assert_eq!(t, [0, 1, 1, 0, 0, 1, 0]);
    // A with two turns per round: A0 A3 B1 | A6 A2 B5 | A4.
    assert!(populate(7, &[DestSetup { turns: 2, ..a }, b], &mut t));
    assert_eq!(t, [0, 1, 0, 0, 0, 1, 0]);
    // No turns: B takes everything; nobody with turns: empty.
    assert!(populate(7, &[DestSetup { turns: 0, ..a }, b], &mut t));
    assert_eq!(t, [1; 7]);
    assert!(populate(7, &[DestSetup { turns: 0, ..a }], &mut t));
    assert_eq!(t, [u32::MAX; 7]);
    // A skip that is not coprime with the size is refused.
    assert!(!populate(
        8,
        &[DestSetup {
            offset: 0,
            skip: 2,
            turns: 1
        }],
        &mut [0; 8]
    ));
}

/// offset/skip exactly as `ip_vs_mh_permutate` computes them, via the byte-level hsiphash.
fn kernel_offset_skip(addr: &str, port: u16, m: u32) -> (u32, u32) {
    let v = (u32::from(port).wrapping_add(lvs_sched::khash::addr_fold(&ip(addr)))).to_le_bytes();
    (
        hsiphash(&v, &MH_KEY1) % m,
        hsiphash(&v, &MH_KEY2) % (m - 1) + 1,
    )
}

#[test]
fn mh_table_follows_offsets_skips_and_the_turns_rule() {
    let m = 251;
    let mut mh = Mh::new(MhConfig {
        tab_index: 8,
        ..MhConfig::default()
    })
    .unwrap();
    let dests = [("10.1.0.1", 1000), ("10.1.0.2", 1), ("2001:db8::5", 3)];
    for (i, (a, w)) in dests.iter().enumerate() {
        add(&mut mh, i as u32, a, *w);
    }
    // gcd 1, max 1000: fls(1000) = 10, MH_TAB_BITS = 8 / 2 = 4 → rshift 6:
    // turns 1000 >> 6 = 15, 1 >> 6 = 0 → 1, 3 >> 6 = 0 → 1.
    let turns = [15, 1, 1];
    let setups: Vec<DestSetup> = dests
        .iter()
        .zip(turns)
        .map(|((a, _), turns)| {
            let (offset, skip) = kernel_offset_skip(a, 80, m);
            assert_eq!(Mh::offset_skip(&ip(a), 80, m), (offset, skip));
            DestSetup {
                offset,
                skip,
                turns,
            }
        })
        .collect();
    let mut want = vec![0u32; m as usize];
    assert!(populate(m as usize, &setups, &mut want));
    let got: Vec<u32> = (0..251).map(|i| mh.slot(i).unwrap().0).collect();
    assert_eq!(got, want);
    // Quiescing keeps the table (built from last_weight); the pick misses without fallback.
    let f = flow("192.0.2.7", 5555, "10.0.0.1");
    let slot = (hsiphash(&0xc000_0207u32.to_le_bytes(), &MH_KEY1) % m) as usize;
    assert_eq!(mh.slot_of(&ip("192.0.2.7"), 0), slot);
    let owner = mh.slot(slot).unwrap();
    assert_eq!(mh.pick(&f, Instant::ZERO), Some(owner));
    mh.set_weight(owner, 0).unwrap();
    assert_eq!(
        (0..251).map(|i| mh.slot(i).unwrap().0).collect::<Vec<_>>(),
        want
    );
    assert_eq!(mh.pick(&f, Instant::ZERO), None);
}

#[test]
fn mh_port_and_fallback() {
    let cfg = MhConfig {
        fallback: true,
        port: true,
        ..MhConfig::default()
    };
    let mut mh = Mh::new(cfg).unwrap();
    assert_eq!(mh.size(), 4093);
    for i in 0..5 {
        add(&mut mh, i, &format!("10.1.0.{}", i + 1), 1);
    }
    let f = flow("192.0.2.7", 5555, "10.0.0.1");
    let slot = mh.slot_of(&ip("192.0.2.7"), 5555);
    let v = (0xc000_0207u32 + 5555).to_le_bytes();
    assert_eq!(slot, (hsiphash(&v, &MH_KEY1) % 4093) as usize);
    let owner = mh.slot(slot).unwrap();
    assert_eq!(mh.pick(&f, Instant::ZERO), Some(owner));
    // OVERLOAD the owner: the kernel rehashes with offset ihash + k until an eligible dest.
    mh.set_thresholds(owner, 1, 0).unwrap();
    mh.conn_bound(owner, ConnState::Active);
    let expect = (0..4093u32).find_map(|k| {
        let v = (slot as u32 + k) % 4093 + 0xc000_0207 + 5555;
        let d = mh.slot((hsiphash(&v.to_le_bytes(), &MH_KEY1) % 4093) as usize)?;
        (d != owner).then_some(d)
    });
    assert_eq!(mh.pick(&f, Instant::ZERO), expect);
    assert!(expect.is_some());
    // Clearing the overload (below 75 % of upper) restores the owner.
    mh.conn_unbound(owner, ConnState::Active);
    assert_eq!(mh.pick(&f, Instant::ZERO), Some(owner));
}

#[test]
fn mh_weights_never_set_get_no_slots_and_limits_hold() {
    let mut mh = Mh::new(MhConfig {
        tab_index: 8,
        ..MhConfig::default()
    })
    .unwrap();
    add(&mut mh, 0, "10.1.0.1", 0);
    assert!((0..251).all(|i| mh.slot(i).is_none()));
    add(&mut mh, 1, "10.1.0.2", 2);
    assert!((0..251).all(|i| mh.slot(i) == Some(DestId(1))));
    mh.set_weight(DestId(0), 2).unwrap();
    mh.set_weight(DestId(0), 0).unwrap();
    let n0 = (0..251).filter(|&i| mh.slot(i) == Some(DestId(0))).count();
    assert!((100..=151).contains(&n0), "{n0}");
    assert_eq!(
        Mh::new(MhConfig {
            tab_index: 18,
            ..MhConfig::default()
        })
        .unwrap_err(),
        TableConfigError::MhIndex(18)
    );
    let mut full = Mh::new(MhConfig {
        tab_index: 8,
        ..MhConfig::default()
    })
    .unwrap();
    for i in 0..251 {
        full.add_dest(DestId(i), DestParams::new(ip("10.2.0.1"), i as u16, 1))
            .unwrap();
    }
    assert_eq!(
        full.add_dest(DestId(999), DestParams::new(ip("10.2.0.1"), 999, 1)),
        Err(SchedError::TooManyDests { limit: 251 })
    );
}
