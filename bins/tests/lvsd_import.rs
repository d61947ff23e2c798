//! Importing Piranha lvs.cf and keepalived.conf into lvsd's configuration, `lvsd --check` with
//! them, and `lvsadm realserver` output.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use lvs_bins::lvsd::config::{ProbeKind, Protocol};
use lvs_bins::lvsd::import::Forwarding;
use lvs_bins::lvsd::{import_keepalived, import_lvscf};

const LVS_CF: &str = r#"
serial_no = 12
primary = 192.0.2.1
service = lvs
backup_active = 1
backup = 192.0.2.2
heartbeat = 1
heartbeat_port = 539
keepalive = 6
deadtime = 18
network = direct
nat_router = 10.0.0.254 eth1:1
debug_level = NONE
virtual www {
    active = 1
    address = 192.0.2.10 eth0:1
    port = 80
    send = "GET / HTTP/1.0\r\n\r\n"
    expect = "HTTP"
    use_regex = 0
    load_monitor = none
    scheduler = wlc
    protocol = tcp
    timeout = 6
    reentry = 15
    quiesce_server = 0
    server web1 {
        address = 10.0.0.11
        active = 1
        weight = 1
    }
    server web2 {
        address = 10.0.0.12
        active = 1
        weight = 2
    }
    server web3 {
        address = 10.0.0.13
        active = 0
        weight = 1
    }
}
virtual ftp {
    active = 1
    address = 192.0.2.10 eth0:1
    port = 21
    persistent = 300
    pmask = 255.255.255.0
    send = "\n"
    expect = "220"
    scheduler = rr
    protocol = tcp
    timeout = 10
    server ftp1 {
        address = 10.0.0.11
        active = 1
        weight = 1
    }
}
"#;

#[test]
fn piranha_sample_imports() {
    let imp = import_lvscf::import(LVS_CF, "lvs.cf").unwrap();
    assert_eq!(imp.forwarding, Some(Forwarding::Direct));
    let c = &imp.config;
    assert_eq!(c.services.len(), 2);
    let www = &c.services[0];
    assert_eq!(www.key, (Protocol::Tcp, "192.0.2.10:80".parse().unwrap()));
    assert_eq!(www.scheduler, "wlc");
    assert!(www.persistence.is_none());
    let got: Vec<_> = www.reals.iter().map(|r| (r.addr, r.weight)).collect();
    assert_eq!(
        got,
        [
            ("10.0.0.11:80".parse().unwrap(), 1),
            ("10.0.0.12:80".parse().unwrap(), 2)
        ]
    );
    let h = www.health.as_ref().unwrap();
    let ProbeKind::SendExpect(p) = &h.kind else {
        panic!("send/expect expected, got {:?}", h.kind);
    };
    assert_eq!(p.send, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(p.expect.as_deref(), Some(&b"HTTP"[..]));
    assert_eq!(h.timeout, Duration::from_secs(6));
    assert_eq!((h.rise, h.fall), (8, 1));
    let ftp = &c.services[1];
    assert_eq!(ftp.scheduler, "rr");
    let p = ftp.persistence.unwrap();
    assert_eq!((p.timeout, p.v4_prefix), (Duration::from_secs(300), 24));
    // Heartbeat settings, the device words, nat_router, network and web3 are noted.
    let notes = imp.notes.join("\n");
    for want in [
        "lvs.cf:3: note: primary ignored",
        "lvs.cf:11: note: network = direct",
        "lvs.cf:12: note: nat_router ignored",
        "lvs.cf:16: note: device eth0:1 ignored",
        "lvs.cf:37: note: server web3 is not active",
    ] {
        assert!(notes.contains(want), "missing {want:?} in\n{notes}");
    }
}

#[test]
fn lvs_cf_refusals_name_file_and_line() {
    let base = "virtual v {\n address = 192.0.2.10\n port = 80\n";
    let cases = [
        ("bogus = 1\n", "lvs.cf:1: unknown global setting \"bogus\""),
        ("service = fos\n", "lvs.cf:1: service = fos"),
        (
            &format!("{base} fwmark = 3\n}}\n"),
            "lvs.cf:4: fwmark: firewall-mark services need the packet-mode director",
        ),
        (
            &format!("{base} send_program = \"/bin/check 'unclosed\"\n}}\n"),
            "lvs.cf:4: send_program: unterminated quote",
        ),
        (
            &format!("{base} use_regex = 1\n}}\n"),
            "lvs.cf:4: use_regex = 1",
        ),
        (
            &format!("{base} load_monitor = rup\n}}\n"),
            "lvs.cf:4: load_monitor = rup",
        ),
        (
            &format!("{base} colour = red\n}}\n"),
            "lvs.cf:4: unknown virtual server setting",
        ),
        (
            &format!("{base} server s {{\n  address = 10.0.0.1\n  port = 8080\n }}\n}}\n"),
            "lvs.cf:6: server s: unknown setting \"port\"",
        ),
        (
            &format!("{base} scheduler = nope\n}}\n"),
            "lvs.cf:1: service TCP",
        ),
        (
            &format!("{base} pmask = 255.255.255.0\n}}\n"),
            "lvs.cf:4: pmask needs persistent",
        ),
    ];
    for (text, want) in cases {
        let e = import_lvscf::import(text, "lvs.cf")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
    }
}

const KEEPALIVED: &str = r#"
! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.10
    }
}
virtual_server 192.0.2.10 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind NAT
    persistence_timeout 50
    persistence_granularity 255.255.0.0
    protocol TCP

    real_server 10.0.0.11 8080 {
        weight 3
        inhibit_on_failure
        HTTP_GET {
            url {
              path /healthz
              status_code 200
              digest 9b3a0c85a887a256d6939da88aabd8cd
            }
            connect_timeout 3
            retry 3
            delay_before_retry 3
        }
    }
    real_server 10.0.0.12 8080 {
        weight 1
        HTTP_GET {
            url {
              path /healthz
              status_code 200
              digest 9b3a0c85a887a256d6939da88aabd8cd
            }
            connect_timeout 3
            retry 3
            delay_before_retry 3
        }
    }
}
virtual_server 192.0.2.10 53 {
    delay_loop 10
    lb_algo rr
    protocol UDP
    real_server 10.0.0.21 53 {
        TCP_CHECK {
            connect_port 53
            connect_timeout 2
        }
    }
}
"#;

#[test]
fn keepalived_sample_imports() {
    let imp = import_keepalived::import(KEEPALIVED, "k.conf").unwrap();
    assert_eq!(imp.forwarding, Some(Forwarding::Nat));
    assert!(
        imp.vrrp,
        "the vrrp_instance block is reported for the VRRP half"
    );
    let c = &imp.config;
    assert_eq!(c.services.len(), 2);
    let web = &c.services[0];
    assert_eq!(web.key, (Protocol::Tcp, "192.0.2.10:80".parse().unwrap()));
    assert_eq!(web.scheduler, "wrr");
    let p = web.persistence.unwrap();
    assert_eq!((p.timeout, p.v4_prefix), (Duration::from_secs(50), 16));
    let got: Vec<_> = web.reals.iter().map(|r| (r.addr, r.weight)).collect();
    assert_eq!(
        got,
        [
            ("10.0.0.11:8080".parse().unwrap(), 3),
            ("10.0.0.12:8080".parse().unwrap(), 1)
        ]
    );
    let h = web.health.as_ref().unwrap();
    let ProbeKind::Http(http) = &h.kind else {
        panic!("http expected, got {:?}", h.kind);
    };
    assert_eq!((http.path.as_str(), http.status), ("/healthz", Some(200)));
    assert_eq!(http.digest.unwrap()[0], 0x9b);
    assert_eq!(h.interval, Duration::from_secs(6));
    assert_eq!(h.timeout, Duration::from_secs(3));
    assert_eq!((h.rise, h.fall), (1, 4));
    let dns = &c.services[1];
    assert_eq!(dns.key.0, Protocol::Udp);
    let h = dns.health.as_ref().unwrap();
    assert_eq!((h.kind.clone(), h.port), (ProbeKind::Tcp, Some(53)));
    let notes = imp.notes.join("\n");
    for want in [
        "k.conf:3: note: global_defs ignored",
        "k.conf:6: note: vrrp_instance is VRRP: not a virtual server (lvsd runs it unless --no-vrrp)",
        "k.conf:34: note: delay_before_retry ignored",
    ] {
        assert!(notes.contains(want), "missing {want:?} in\n{notes}");
    }
}

#[test]
fn keepalived_refusals_name_file_and_line() {
    let vs = "virtual_server 192.0.2.10 80 {\n";
    let rs = "virtual_server 192.0.2.10 80 {\n real_server 10.0.0.1 80 {\n";
    let cases = [
        (
            &format!("{vs} lb_kind DR\n}}\n"),
            "k:2: lb_kind DR: lvsd forwards in proxy mode only",
        ),
        (&format!("{vs} lb_kind TUN\n}}\n"), "k:2: lb_kind TUN"),
        (
            &format!("{rs}  MISC_CHECK {{\n   misc_user nobody\n  }}\n }}\n}}\n"),
            "k:4: MISC_CHECK: unsupported keyword \"misc_user\"",
        ),
        (
            &format!("{rs}  SSL_GET {{\n  }}\n }}\n}}\n"),
            "k:3: SSL_GET",
        ),
        (
            &format!("{vs} sorry_server 10.0.0.9 80\n}}\n"),
            "k:2: virtual_server: unsupported",
        ),
        (
            &"virtual_server fwmark 1 {\n}\n".to_owned(),
            "k:1: virtual_server fwmark/group",
        ),
        (
            &format!("{rs}  TCP_CHECK {{\n   bindto 10.0.0.2\n  }}\n }}\n}}\n"),
            "k:4: TCP_CHECK: unsupported keyword \"bindto\"",
        ),
        (
            &"virtual_server_group G {\n}\n".to_owned(),
            "k:1: unsupported top-level keyword",
        ),
        (
            &"virtual_server 192.0.2.10 80 {\n".to_owned(),
            "k:1: block opened here is never closed",
        ),
    ];
    for (text, want) in cases {
        let e = import_keepalived::import(text, "k")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(want), "{text:?}\n got: {e}\nwant: {want}");
    }
}

/// A unique scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("lvsd-import-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn keepalived_include_is_relative_to_the_file() {
    let dir = Scratch::new("include");
    dir.file("vs.conf", "virtual_server 192.0.2.10 80 {\n bogus 1\n}\n");
    let main = dir.file("keepalived.conf", "include vs.conf\n");
    let e = import_keepalived::load(&main).unwrap_err();
    assert_eq!(e.file, dir.0.join("vs.conf").display().to_string());
    assert_eq!(e.line, 2);
    dir.file("vs.conf", "virtual_server 192.0.2.10 80 {\n}\n");
    let imp = import_keepalived::load(&main).unwrap();
    assert_eq!(imp.config.services.len(), 1);
}

fn lvsd(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn check_exit_codes() {
    let dir = Scratch::new("check");
    let good_cf = dir.file("lvs.cf", LVS_CF);
    let good_k = dir.file("keepalived.conf", KEEPALIVED);
    let bad_cf = dir.file("bad.cf", "service = lvs\nfrobnicate = 1\n");
    let bad_k = dir.file(
        "bad.conf",
        "virtual_server 192.0.2.10 80 {\n lb_kind DR\n}\n",
    );
    let check = std::ffi::OsStr::new("--check");
    for (flag, file, code) in [
        ("--lvs-cf", &good_cf, 0),
        ("-f", &good_k, 0),
        ("--lvs-cf", &bad_cf, 2),
        ("-f", &bad_k, 2),
    ] {
        let out = lvsd(&[flag.as_ref(), file.as_os_str(), check]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{flag} {}: {err}",
            file.display()
        );
        if code == 0 {
            let so = String::from_utf8_lossy(&out.stdout);
            assert!(so.contains("OK (2 services"), "{so}");
        } else {
            let at = format!("{}:2: ", file.display());
            assert!(err.contains(&at), "{err}");
        }
    }
    // Two sources at once is a usage error.
    let out = lvsd(&[
        "--lvs-cf".as_ref(),
        good_cf.as_os_str(),
        "-f".as_ref(),
        good_k.as_os_str(),
        check,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lvsadm_realserver_dr_output() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsadm"))
        .args(["realserver", "--dr", "192.0.2.10"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ip -4 addr add 192.0.2.10/32 dev lo\n\
         sysctl -w net.ipv4.conf.all.arp_ignore=1\n\
         sysctl -w net.ipv4.conf.all.arp_announce=2\n\
         sysctl -w net.ipv4.conf.eth0.arp_ignore=1\n\
         sysctl -w net.ipv4.conf.eth0.arp_announce=2\n"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lvsadm"))
        .args(["realserver", "--dr", "not-an-ip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
