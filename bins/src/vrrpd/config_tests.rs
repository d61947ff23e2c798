//! Unit tests of [`super`]: parsing and validation of the TOML configuration.

use super::*;

const GOOD: &str = r#"
[global]
garp_interval = 0.01

[[script]]
name = "chk"
script = "/bin/sh -c 'exit 0'"
interval = 2
weight = -20

[[instance]]
name = "VI_1"
interface = "eth0"
vrid = 51
priority = 150
advert_int = 0.1
virtual_addresses = ["192.0.2.10/24", "192.0.2.11"]
preempt = false
track_script = [{ name = "chk" }, { name = "chk", weight = 10 }]
track_interface = [{ name = "eth1", weight = -30 }]
notify_master = "/etc/notify.sh master"

[[instance]]
name = "VI_2"
interface = "eth0"
vrid = 52
version = 2
advert_int = 1
auth_pass = "longpassword"
virtual_addresses = ["192.0.2.20"]
unicast_src = "192.0.2.1"
unicast_peers = ["192.0.2.2"]

[[sync_group]]
name = "G"
members = ["VI_1", "VI_2"]
"#;

#[test]
fn a_full_config_validates() {
    let p = Plan::from_toml(GOOD).unwrap();
    assert_eq!(p.global.garp_interval, Duration::from_millis(10));
    assert_eq!(p.scripts[0].argv, ["/bin/sh", "-c", "exit 0"]);
    assert_eq!(p.scripts[0].timeout, Duration::from_secs(2));
    let a = &p.instances[0];
    assert_eq!(a.config.version, VersionRepr::V3 { max_adver_int: 10 });
    assert_eq!(
        a.vips,
        [
            Vip::parse("192.0.2.10/24").unwrap(),
            Vip::parse("192.0.2.11/32").unwrap()
        ]
    );
    assert!(!a.preempt);
    assert_eq!(
        a.track_scripts,
        [("chk".to_owned(), -20), ("chk".to_owned(), 10)]
    );
    assert_eq!(
        a.track_interfaces,
        [("eth0".to_owned(), 0), ("eth1".to_owned(), -30)]
    );
    assert_eq!(
        a.notify.master.as_deref().unwrap(),
        ["/etc/notify.sh", "master"]
    );
    let b = &p.instances[1];
    assert_eq!(
        b.config.version,
        VersionRepr::V2 {
            auth: Auth::simple_text(b"longpass"),
            adver_int: 1
        }
    );
    assert!(matches!(b.config.transport, Transport::Unicast(_)));
    assert_eq!(b.primary, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(p.groups, [("G".to_owned(), vec![0, 1])]);
    assert!(a.build("192.0.2.1".parse().unwrap()).is_ok());
}

#[test]
fn every_error_is_reported() {
    let text = r#"
[[instance]]
name = "A"
interface = "eth0"
vrid = 0
version = 2
advert_int = 0.5
virtual_addresses = ["192.0.2.1", "2001:db8::1", "nonsense"]
track_script = [{ name = "missing" }]
track_interface = [{ name = "x", weight = 300 }]

[[instance]]
name = "A"
interface = "eth0"
vrid = 9
virtual_addresses = ["192.0.2.9"]
auth_pass = "x"

[[sync_group]]
name = "G"
members = ["nobody"]
"#;
    let errs = Plan::from_toml(text).unwrap_err();
    let all = errs.join("\n");
    for needle in [
        "bad address \"nonsense\"",
        "mix IPv4 and IPv6",
        "whole seconds",
        "no script named \"missing\"",
        "weight 300",
        "auth_pass needs version 2",
        "no instance \"nobody\"",
    ] {
        assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
    }
}

#[test]
fn the_machine_checks_apply_and_unknown_keys_fail() {
    let errs = Plan::from_toml(
        "[[instance]]\nname='A'\ninterface='e'\nvrid=0\nvirtual_addresses=['192.0.2.1']\n",
    )
    .unwrap_err();
    assert!(errs[0].contains("VRID"), "{errs:?}");
    let errs = Plan::from_toml("[[instance]]\nname='A'\nbogus=1\n").unwrap_err();
    assert!(errs[0].contains("bogus"), "{errs:?}");
    let errs = Plan::from_toml(
        "[[instance]]\nname='A'\ninterface='e'\nvrid=1\nadvert_int=0.005\nvirtual_addresses=['192.0.2.1']\n",
    )
    .unwrap_err();
    assert!(errs[0].contains("0.01..=40.95"), "{errs:?}");
}

#[test]
fn commands_split_like_a_shell_without_one() {
    assert_eq!(
        split_command("a  b\t'c d' \"e f\"g").unwrap(),
        ["a", "b", "c d", "e fg"]
    );
    assert_eq!(split_command("''").unwrap(), [""]);
    assert!(split_command("   ").is_err());
    assert!(split_command("a 'b").is_err());
}

#[test]
fn vips_parse_with_default_prefixes() {
    assert_eq!(Vip::parse("10.0.0.1").unwrap().prefix, 32);
    assert_eq!(Vip::parse("2001:db8::1").unwrap().prefix, 128);
    assert_eq!(
        Vip::parse("10.0.0.1/24").unwrap().to_string(),
        "10.0.0.1/24"
    );
    assert!(Vip::parse("10.0.0.1/33").is_err());
    assert!(Vip::parse("10.0.0/24").is_err());
}

#[test]
fn rt_priority_and_status_file_reach_the_plan() {
    let text = "[global]\nrt_priority = 50\nstatus_file = \"/run/v.status\"\n\n\
                [[instance]]\nname = \"A\"\ninterface = \"eth0\"\nvrid = 1\n\
                virtual_addresses = [\"192.0.2.1\"]\n";
    let plan = Plan::from_config(&Config::from_toml(text).unwrap()).unwrap();
    assert_eq!(plan.rt_priority, 50);
    assert_eq!(
        plan.status_file.as_deref(),
        Some(std::path::Path::new("/run/v.status"))
    );
    let high = text.replace("= 50", "= 100");
    let errs = Plan::from_config(&Config::from_toml(&high).unwrap()).unwrap_err();
    assert!(errs[0].contains("rt_priority 100"), "{errs:?}");
    let ka = crate::vrrpd::keepalived::import(
        "global_defs {\n vrrp_rt_priority 60\n}\nvrrp_instance A {\n interface eth0\n \
         virtual_router_id 1\n}\n",
    )
    .unwrap();
    assert_eq!(ka.global.rt_priority, 60);
}
