//! lvs-vrrpd against keepalived 2.2.7 (Debian `keepalived`) on a namespace bridge: VRRPv3 and
//! VRRPv2, each side as master and as backup, preempt and nopreempt. At every step exactly one
//! router holds the VIP, and a crashed master is replaced within Master_Down_Interval plus a
//! margin (the scenario is `vrrpd_common::interop::run_case`).
//!
//! Needs root, iproute2 and keepalived; skips loudly without them (fails under
//! LVS_REQUIRE_INTEROP=1).

mod vrrpd_common;

use vrrpd_common::interop::{Case, run_case};

#[test]
fn v3_ours_master_keepalived_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v3_ours_master_keepalived_backup_preempt",
        Case {
            version: 3,
            ours_higher: true,
            preempt: true,
            unicast: false,
        },
    );
}

#[test]
fn v3_keepalived_master_ours_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v3_keepalived_master_ours_backup_preempt",
        Case {
            version: 3,
            ours_higher: false,
            preempt: true,
            unicast: false,
        },
    );
}

#[test]
fn v2_ours_master_keepalived_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v2_ours_master_keepalived_backup_preempt",
        Case {
            version: 2,
            ours_higher: true,
            preempt: true,
            unicast: false,
        },
    );
}

#[test]
fn v2_keepalived_master_ours_backup_preempt() {
    run_case(
        "vrrpd_keepalived::v2_keepalived_master_ours_backup_preempt",
        Case {
            version: 2,
            ours_higher: false,
            preempt: true,
            unicast: false,
        },
    );
}

#[test]
fn v3_nopreempt_ours_higher() {
    run_case(
        "vrrpd_keepalived::v3_nopreempt_ours_higher",
        Case {
            version: 3,
            ours_higher: true,
            preempt: false,
            unicast: false,
        },
    );
}

#[test]
fn v3_nopreempt_keepalived_higher() {
    run_case(
        "vrrpd_keepalived::v3_nopreempt_keepalived_higher",
        Case {
            version: 3,
            ours_higher: false,
            preempt: false,
            unicast: false,
        },
    );
}

#[test]
fn v2_nopreempt_keepalived_higher() {
    run_case(
        "vrrpd_keepalived::v2_nopreempt_keepalived_higher",
        Case {
            version: 2,
            ours_higher: false,
            preempt: false,
            unicast: false,
        },
    );
}
