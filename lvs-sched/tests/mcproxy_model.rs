//! The proxy over N model backends gives the client exactly the bytes one model memcached
//! gives, for random pipelined command sequences split at random points.

mod mcproxy_support;

use lvs_sched::mcproxy::{DownPolicy, Session, SessionConfig};
use mcproxy_support::{Harness, direct, router};
use proptest::prelude::*;

const KEYS: [&str; 8] = ["a", "b", "k1", "k2", "{t}x", "{t}y", "user:1", "n"];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{0,6}", "[0-9]{1,3}"]
}

fn meta_flags() -> impl Strategy<Value = String> {
    (any::<bool>(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(|(q, k, o, v)| {
        let mut f = String::new();
        if v > 0 {
            f.push_str(" v");
        }
        if k {
            f.push_str(" k");
        }
        if o {
            f.push_str(" Oop1");
        }
        if q {
            f.push_str(" q");
        }
        f
    })
}

fn command() -> impl Strategy<Value = String> {
    let nr = || prop_oneof![Just(""), Just(" noreply")];
    prop_oneof![
        (
            prop_oneof![
                Just("set"),
                Just("add"),
                Just("replace"),
                Just("append"),
                Just("prepend")
            ],
            key(),
            0u32..3,
            value(),
            nr()
        )
            .prop_map(|(c, k, f, v, n)| format!("{c} {k} {f} 0 {}{n}\r\n{v}\r\n", v.len())),
        (key(), 0u64..4, value())
            .prop_map(|(k, c, v)| format!("cas {k} 0 0 {} {c}\r\n{v}\r\n", v.len())),
        (
            prop_oneof![Just("get"), Just("gets"), Just("gat 0"), Just("gats 0")],
            prop::collection::vec(key(), 1..6)
        )
            .prop_map(|(c, ks)| format!("{c} {}\r\n", ks.join(" "))),
        (key(), nr()).prop_map(|(k, n)| format!("delete {k}{n}\r\n")),
        (
            prop_oneof![Just("incr"), Just("decr")],
            key(),
            0u64..10,
            nr()
        )
            .prop_map(|(c, k, d, n)| format!("{c} {k} {d}{n}\r\n")),
        (key(), nr()).prop_map(|(k, n)| format!("touch {k} 0{n}\r\n")),
        (key(), meta_flags(), any::<bool>(), any::<bool>()).prop_map(|(k, f, c, fl)| {
            format!(
                "mg {k}{f}{}{}\r\n",
                if c { " c" } else { "" },
                if fl { " f s" } else { "" }
            )
        }),
        (
            key(),
            meta_flags(),
            value(),
            prop_oneof![Just(""), Just(" ME"), Just(" MA"), Just(" MR"), Just(" F7")]
        )
            .prop_map(|(k, f, v, m)| format!(
                "ms {k} {}{}{m}\r\n{v}\r\n",
                v.len(),
                f.replace(" v", "")
            )),
        (key(), meta_flags()).prop_map(|(k, f)| format!("md {k}{}\r\n", f.replace(" v", ""))),
        (
            key(),
            meta_flags(),
            any::<bool>(),
            prop_oneof![Just(""), Just(" MD"), Just(" D3")]
        )
            .prop_map(|(k, f, n, m)| format!("ma {k}{f}{}{m}\r\n", if n { " N0 J5" } else { "" })),
        key().prop_map(|k| format!("me {k}\r\n")),
        Just("mn\r\n".to_owned()),
        Just("version\r\n".to_owned()),
        prop_oneof![
            Just("flush_all\r\n"),
            Just("flush_all noreply\r\n"),
            Just("verbosity 1\r\n")
        ]
        .prop_map(str::to_owned),
        // Hostile lines: memcached's exact errors, and the stream must stay in step.
        prop_oneof![
            Just("GET a\r\n"),
            Just("get\ta\r\n"),
            Just("\r\n"),
            Just("set a 0 0 -1\r\nxy\r\n"),
            Just("set a 0 0 1\r\nxyz\r\n"),
            Just("incr a -1\r\n"),
            Just("delete a 5\r\n"),
            Just("mg a v v\r\n"),
            Just("ms a 2 MX\r\nhi\r\n"),
            Just("ma a MZ\r\n"),
            Just("get a\n"),
            Just("mg a zz\r\n"),
        ]
        .prop_map(str::to_owned),
    ]
}

fn check(cmds: &[String], backends: usize, seed: u64, cfg: SessionConfig) {
    let input: Vec<u8> = cmds.concat().into_bytes();
    let want = direct(&input);
    let s = Session::new(router(backends, DownPolicy::FailFast), cfg);
    let mut h = Harness::new(s, seed);
    let got = h.run(&input);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "input:\n{}",
        String::from_utf8_lossy(&input)
    );
    assert_eq!(h.s.pending_requests(), 0);
    assert!(h.replies.iter().all(Vec::is_empty), "replies left unread");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(160))]

    #[test]
    fn proxy_matches_one_server(
        cmds in prop::collection::vec(command(), 1..40),
        backends in 1usize..4,
        seed in any::<u64>(),
    ) {
        check(&cmds, backends, seed, SessionConfig::default());
    }

    #[test]
    fn tight_limits_change_nothing_visible(
        cmds in prop::collection::vec(command(), 1..40),
        seed in any::<u64>(),
    ) {
        let cfg = SessionConfig {
            max_pending: 2,
            max_client_output: 16,
            max_backend_output: 16,
            max_buffered: 8,
            shrink_above: 32,
            ..SessionConfig::default()
        };
        check(&cmds, 3, seed, cfg);
    }
}
