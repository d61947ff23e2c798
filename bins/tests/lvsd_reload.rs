//! SIGHUP re-imports the legacy file lvsd was started with (`--lvs-cf` or `-f`): a real server
//! added to the file appears in `lvsadm -L -n`, an established connection survives, and a
//! broken file changes nothing and is logged as FILE:LINE.

mod lvsd_support;

#[path = "lvsd_support/legacy.rs"]
mod legacy;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use legacy::{log, start_imported};
use lvsd_support::{
    Echo, Lvsd, TempDir, echo_round, free_port, lvsadm_with, wait_until, write_config,
};

const LIMIT: Duration = Duration::from_secs(20);

fn rewrite(d: &Lvsd, text: &str) {
    let tmp = d.config.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, &d.config).unwrap();
}

fn keepalived(vip: SocketAddr, reals: &[SocketAddr]) -> String {
    let mut s = format!(
        "virtual_server {} {} {{\n  delay_loop 1\n  lb_algo rr\n  protocol TCP\n",
        vip.ip(),
        vip.port()
    );
    for r in reals {
        s.push_str(&format!(
            "  real_server {} {} {{\n    weight 1\n    TCP_CHECK {{\n      \
             connect_timeout 2\n    }}\n  }}\n",
            r.ip(),
            r.port()
        ));
    }
    s.push_str("}\n");
    s
}

#[test]
fn sighup_reimports_keepalived_conf_and_keeps_connections() {
    let (a, b) = (Echo::start(), Echo::start());
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let d = start_imported(
        TempDir::new("reload-k"),
        "-f",
        "keepalived.conf",
        &keepalived(vip, &[a.addr]),
    );
    assert!(d.real_row(a.addr).is_some(), "{}", d.list());
    assert!(d.real_row(b.addr).is_none());
    let mut held = TcpStream::connect(vip).unwrap();
    held.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(echo_round(&mut held, b"before"), b"before");

    rewrite(&d, &keepalived(vip, &[a.addr, b.addr]));
    d.signal(libc::SIGHUP);
    wait_until("b after SIGHUP", LIMIT, || d.real_row(b.addr).is_some());
    assert!(d.real_row(a.addr).is_some(), "{}", d.list());
    // The connection opened before the reload still works.
    assert_eq!(echo_round(&mut held, b"after"), b"after");

    // A broken file: logged with its line, nothing changes.
    let before = d.list();
    let broken = keepalived(vip, &[a.addr]).replace("lb_algo rr", "lb_algo rr\n  bogus_key 1");
    rewrite(&d, &broken);
    d.signal(libc::SIGHUP);
    let at = format!("{}:4:", d.config.display());
    wait_until("the reload error", LIMIT, || log(&d).contains(&at));
    assert_eq!(d.list(), before);
    assert!(d.real_row(b.addr).is_some());
    assert_eq!(echo_round(&mut held, b"still"), b"still");
}

#[test]
fn sighup_reimports_lvs_cf() {
    // lvs.cf real servers listen on the virtual port: use other loopback addresses.
    let port = free_port();
    let cf = |servers: &[&str]| {
        let mut s = format!(
            "service = lvs\nvirtual web {{\n address = 127.0.0.1\n port = {port}\n \
             scheduler = rr\n"
        );
        for (i, ip) in servers.iter().enumerate() {
            s.push_str(&format!(
                " server s{i} {{\n  address = {ip}\n  weight = 1\n }}\n"
            ));
        }
        s.push_str("}\n");
        s
    };
    let d = start_imported(
        TempDir::new("reload-cf"),
        "--lvs-cf",
        "lvs.cf",
        &cf(&["127.0.0.2"]),
    );
    let a: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    let b: SocketAddr = format!("127.0.0.3:{port}").parse().unwrap();
    assert!(d.real_row(a).is_some(), "{}", d.list());
    assert!(d.real_row(b).is_none());
    rewrite(&d, &cf(&["127.0.0.2", "127.0.0.3"]));
    d.signal(libc::SIGHUP);
    wait_until("the added server after SIGHUP", LIMIT, || {
        d.real_row(b).is_some()
    });
    // Nothing listens on either: their checks take both to weight 0 (a stable listing).
    wait_until("both checks to fail", LIMIT, || {
        d.real_row(a).is_some_and(|r| r.0 == 0) && d.real_row(b).is_some_and(|r| r.0 == 0)
    });

    let before = d.list();
    rewrite(&d, "service = lvs\nvirtual web {\n bogus = 1\n}\n");
    d.signal(libc::SIGHUP);
    let at = format!("{}:3:", d.config.display());
    wait_until("the reload error", LIMIT, || log(&d).contains(&at));
    assert_eq!(d.list(), before);
}

#[test]
fn lvsadm_reload_rereads_the_toml_file_and_reports_errors() {
    let (a, b) = (Echo::start(), Echo::start());
    let vip = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let toml = |reals: &[(SocketAddr, u32)]| {
        let mut s = format!("[[service]]\nlisten = \"{vip}\"\nscheduler = \"wrr\"\n");
        for (r, w) in reals {
            s.push_str(&format!(
                "[[service.real]]\naddress = \"{r}\"\nweight = {w}\n"
            ));
        }
        s
    };
    let d = Lvsd::start("reload-toml", &toml(&[(a.addr, 1)]));
    let mut held = TcpStream::connect(vip).unwrap();
    held.set_read_timeout(Some(LIMIT)).unwrap();
    assert_eq!(echo_round(&mut held, b"before"), b"before");

    // lvsadm --reload: done when it returns, and the held connection keeps echoing.
    write_config(&d.config, &d.socket, &toml(&[(a.addr, 4), (b.addr, 2)]));
    let o = d.lvsadm(&["--reload"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(d.real_row(a.addr).map(|r| r.0), Some(4), "{}", d.list());
    assert_eq!(d.real_row(b.addr).map(|r| r.0), Some(2), "{}", d.list());
    assert_eq!(echo_round(&mut held, b"after"), b"after");

    // A broken file: exit status 1 with FILE:LINE, nothing changes.
    let before = d.list();
    let broken = toml(&[(a.addr, 4)]).replace("scheduler = \"wrr\"", "scheduler = \"bogus\"");
    write_config(&d.config, &d.socket, &broken);
    let o = d.lvsadm(&["--reload"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&d.config.display().to_string()) && err.contains("bogus"),
        "{err}"
    );
    assert_eq!(d.list(), before);
    // A reload inside a restore runs in order with the other lines.
    write_config(&d.config, &d.socket, &toml(&[(b.addr, 7)]));
    let o = lvsadm_with(&d.socket, &["-R"], Some("--reload\n"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.real_row(a.addr).is_none(), "{}", d.list());
    assert_eq!(d.real_row(b.addr).map(|r| r.0), Some(7));
}
