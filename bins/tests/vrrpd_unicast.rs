//! lvs-vrrpd against keepalived 2.2.7 in unicast mode (keepalived `unicast_src_ip` /
//! `unicast_peer`, our `unicast_src` / `unicast_peers`): VRRPv3 and VRRPv2, each side as
//! master and as backup. keepalived drops multicast adverts on a unicast instance, so a single
//! master at every step shows both sides speak unicast to each other; a crashed master is
//! replaced within Master_Down_Interval plus a margin, and the higher priority preempts back.
//!
//! Needs root, iproute2 and keepalived; skips loudly without them (fails under
//! LVS_REQUIRE_INTEROP=1).

mod vrrpd_common;

use vrrpd_common::interop::{Case, run_case};

#[test]
fn unicast_v3_ours_master_keepalived_backup() {
    run_case(
        "vrrpd_unicast::unicast_v3_ours_master_keepalived_backup",
        Case {
            version: 3,
            ours_higher: true,
            preempt: true,
            unicast: true,
        },
    );
}

#[test]
fn unicast_v3_keepalived_master_ours_backup() {
    run_case(
        "vrrpd_unicast::unicast_v3_keepalived_master_ours_backup",
        Case {
            version: 3,
            ours_higher: false,
            preempt: true,
            unicast: true,
        },
    );
}

#[test]
fn unicast_v2_ours_master_keepalived_backup() {
    run_case(
        "vrrpd_unicast::unicast_v2_ours_master_keepalived_backup",
        Case {
            version: 2,
            ours_higher: true,
            preempt: true,
            unicast: true,
        },
    );
}

#[test]
fn unicast_v2_keepalived_master_ours_backup() {
    run_case(
        "vrrpd_unicast::unicast_v2_keepalived_master_ours_backup",
        Case {
            version: 2,
            ours_higher: false,
            preempt: true,
            unicast: true,
        },
    );
}
