//! Replays the committed fuzz corpora of the configuration parsers through the same functions
//! the fuzz targets call, and feeds each parser random text built from its own keywords.

use std::path::Path;

use lvs_bins::fuzzing;
use proptest::prelude::*;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read seed");
        f(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn named_conf_corpus() {
    replay("named_conf", fuzzing::named_conf);
}

#[test]
fn nutcracker_yml_corpus() {
    replay("nutcracker_yml", fuzzing::nutcracker_yml);
}

#[test]
fn mcproxy_toml_corpus() {
    replay("mcproxy_toml", fuzzing::mcproxy_toml);
}

#[test]
fn keepalived_conf_corpus() {
    replay("keepalived_conf", fuzzing::keepalived_conf);
}

#[test]
fn lvs_cf_corpus() {
    replay("lvs_cf", fuzzing::lvs_cf);
}

#[test]
fn lvsd_keepalived_corpus() {
    replay("lvsd_keepalived", fuzzing::lvsd_keepalived);
}

#[test]
fn ntp_conf_corpus() {
    replay("ntp_conf", fuzzing::ntp_conf);
}

/// Punctuation and values every one of these grammars gives meaning to.
const COMMON: &[&str] = &[
    "{",
    "}",
    ";",
    "\"",
    "'",
    "#",
    "!",
    "//",
    "/*",
    "*/",
    "=",
    ":",
    "-",
    "\n",
    "\n",
    "  ",
    "0",
    "1",
    "255",
    "65535",
    "4294967296",
    "-1",
    "0.5",
    "127.0.0.1",
    "192.0.2.1",
    "::1",
    "[::1]:53",
    "10.0.0.0/8",
    "255.255.255.0",
    "eth0",
    "yes",
    "no",
    "true",
    "false",
];

/// Printable text made of `keywords`, [`COMMON`] tokens and short random printable words,
/// separated by spaces or newlines.
fn text(keywords: &'static [&'static str]) -> impl Strategy<Value = String> {
    let token = prop_oneof![
        3 => proptest::sample::select(keywords).prop_map(str::to_owned),
        2 => proptest::sample::select(COMMON).prop_map(str::to_owned),
        1 => "[ -~]{0,8}",
    ];
    let sep = prop_oneof![Just(" "), Just("\n"), Just(""), Just("\t")];
    proptest::collection::vec((token, sep), 0..80).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(t, s)| [t, s.to_owned()])
            .collect()
    })
}

const NAMED: &[&str] = &[
    "options",
    "acl",
    "key",
    "controls",
    "include",
    "inet",
    "port",
    "allow",
    "keys",
    "algorithm",
    "hmac-sha256",
    "secret",
    "directory",
    "forward",
    "only",
    "first",
    "forwarders",
    "allow-query",
    "allow-recursion",
    "allow-query-cache",
    "listen-on",
    "listen-on-v6",
    "max-cache-size",
    "max-cache-ttl",
    "max-ncache-ttl",
    "stale-answer-enable",
    "stale-answer-ttl",
    "max-stale-ttl",
    "edns-udp-size",
    "recursion",
    "tcp-clients",
    "tcp-idle-timeout",
    "dnssec-validation",
    "any",
    "none",
    "localhost",
    "localnets",
    "64m",
    "1d",
    "PT1H",
    "2h",
    "90%",
    "unlimited",
    "\"trusted\"",
    "\"rndc-key\"",
    "trusted",
];

const NUTCRACKER: &[&str] = &[
    "alpha:",
    "beta:",
    "listen:",
    "hash:",
    "hash_tag:",
    "distribution:",
    "timeout:",
    "auto_eject_hosts:",
    "server_retry_timeout:",
    "server_failure_limit:",
    "client_connections:",
    "tcpkeepalive:",
    "servers:",
    "backlog:",
    "preconnect:",
    "redis:",
    "fnv1a_64",
    "fnv1_32",
    "md5",
    "murmur",
    "crc32",
    "one_at_a_time",
    "ketama",
    "modula",
    "random",
    "\"{}\"",
    "127.0.0.1:22121",
    "127.0.0.1:11211:1",
    "- ",
    "---",
    "...",
    "/tmp/sock",
];

const KEEPALIVED: &[&str] = &[
    "global_defs",
    "router_id",
    "vrrp_version",
    "vrrp_script",
    "script",
    "interval",
    "weight",
    "fall",
    "rise",
    "vrrp_instance",
    "state",
    "MASTER",
    "BACKUP",
    "interface",
    "virtual_router_id",
    "priority",
    "advert_int",
    "nopreempt",
    "preempt_delay",
    "virtual_ipaddress",
    "track_script",
    "track_interface",
    "notify_master",
    "notify_backup",
    "notify",
    "version",
    "authentication",
    "auth_type",
    "PASS",
    "AH",
    "auth_pass",
    "unicast_src_ip",
    "unicast_peer",
    "vrrp_sync_group",
    "group",
    "VI_1",
    "VI_2",
    "chk",
    "dev",
    "include",
];

const LVS_CF: &[&str] = &[
    "serial_no",
    "primary",
    "primary_private",
    "backup",
    "backup_active",
    "service",
    "lvs",
    "network",
    "direct",
    "nat",
    "tunnel",
    "nat_router",
    "heartbeat",
    "keepalive",
    "deadtime",
    "virtual",
    "server",
    "address",
    "active",
    "port",
    "protocol",
    "tcp",
    "udp",
    "scheduler",
    "wlc",
    "rr",
    "lc",
    "persistent",
    "pmask",
    "send",
    "expect",
    "timeout",
    "reentry",
    "quiesce_server",
    "use_regex",
    "load_monitor",
    "fwmark",
    "send_program",
    "www",
    "web1",
];

const LVSD_KEEPALIVED: &[&str] = &[
    "virtual_server",
    "real_server",
    "delay_loop",
    "lb_algo",
    "lb_kind",
    "DR",
    "NAT",
    "TUN",
    "protocol",
    "TCP",
    "UDP",
    "persistence_timeout",
    "persistence_granularity",
    "weight",
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "url",
    "path",
    "digest",
    "status_code",
    "connect_timeout",
    "connect_port",
    "retry",
    "nb_get_retry",
    "delay_before_retry",
    "sorry_server",
    "include",
    "global_defs",
    "vrrp_instance",
    "rr",
    "wlc",
    "80",
    "/",
];

const NTP: &[&str] = &[
    "server",
    "pool",
    "peer",
    "iburst",
    "burst",
    "prefer",
    "minpoll",
    "maxpoll",
    "restrict",
    "default",
    "kod",
    "nomodify",
    "notrap",
    "nopeer",
    "noquery",
    "limited",
    "ignore",
    "mask",
    "-4",
    "-6",
    "fudge",
    "stratum",
    "tinker",
    "panic",
    "step",
    "tos",
    "minsane",
    "discard",
    "average",
    "minimum",
    "driftfile",
    "statsdir",
    "127.127.1.0",
    "127.0.0.1:11123",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn named_conf_never_panics(t in text(NAMED)) {
        fuzzing::named_conf(t.as_bytes());
    }

    #[test]
    fn nutcracker_yml_never_panics(t in text(NUTCRACKER)) {
        fuzzing::nutcracker_yml(t.as_bytes());
    }

    #[test]
    fn keepalived_conf_never_panics(t in text(KEEPALIVED)) {
        fuzzing::keepalived_conf(t.as_bytes());
    }

    #[test]
    fn lvs_cf_never_panics(t in text(LVS_CF)) {
        fuzzing::lvs_cf(t.as_bytes());
    }

    #[test]
    fn lvsd_keepalived_never_panics(t in text(LVSD_KEEPALIVED)) {
        fuzzing::lvsd_keepalived(t.as_bytes());
    }

    #[test]
    fn ntp_conf_never_panics(t in text(NTP)) {
        fuzzing::ntp_conf(t.as_bytes());
    }
}
