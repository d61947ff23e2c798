//! lvsadm against a running lvsd: ipvsadm's listing with live numbers, save/restore round
//! trips, error exits, `--check`, and a SIGHUP reload that keeps established connections.

mod lvsd_support;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use lvsd_support::{
    Backend, Echo, Lvsd, TempDir, echo_round, free_port, get, lvsadm_with, wait_until, write_config,
};

fn vip() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

#[test]
fn list_has_ipvsadm_columns_and_live_counts() {
    let (a, b) = (Echo::start(), Echo::start());
    let vip = vip();
    let cfg = format!(
        "time_wait = 120\n[[service]]\nlisten = \"{vip}\"\nscheduler = \"rr\"\npersistence = 60\nnetmask = \"255.255.255.0\"\n\
         [[service.real]]\naddress = \"{}\"\nweight = 2\n[[service.real]]\naddress = \"{}\"\n",
        a.addr, b.addr
    );
    let d = Lvsd::start("list", &cfg);
    // Persistence: all three connections from 127.0.0.1 go to the first server.
    let mut conns: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(vip).unwrap()).collect();
    for c in &mut conns {
        assert_eq!(echo_round(c, b"hi"), b"hi");
    }
    let want = format!(
        "IP Virtual Server version 1.2.1 (lvsd proxy mode)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  {vip} rr persistent 60 mask 255.255.255.0\n  \
         -> {:<28} Masq    2      3          0         \n  \
         -> {:<28} Masq    1      0          0         \n",
        a.addr.to_string(),
        b.addr.to_string()
    );
    assert_eq!(d.list(), want);
    drop(conns);
    // Closed connections stay in InActConn for time_wait, as in IPVS.
    wait_until("connections to close", Duration::from_secs(5), || {
        d.real_row(a.addr) == Some((2, 0, 3))
    });
    let stats = String::from_utf8(d.lvsadm(&["-L", "-n", "--stats"]).stdout).unwrap();
    assert!(stats.contains("Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  -> RemoteAddress:Port\n"), "{stats}");
    let row = stats.lines().find(|l| l.starts_with("TCP")).unwrap();
    let nums: Vec<&str> = row.split_whitespace().skip(2).collect();
    assert_eq!(nums, ["3", "3", "3", "6", "6"], "{stats}");

    // Errors: a refused command exits 1 with lvsd's reason, bad arguments exit 2.
    let o = d.lvsadm(&["-a", "-t", "127.0.0.1:1", "-r", "127.0.0.1:2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such service TCP 127.0.0.1:1"));
    let o = d.lvsadm(&["-A", "-t", "127.0.0.1:1", "-s", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown scheduler"));
    let o = lvsadm_with(&d.dir.0.join("nothing.sock"), &["-L", "-n"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot reach lvsd"));
}

#[test]
fn save_round_trips_through_restore_and_edits_apply() {
    let bs: Vec<Backend> = ["x", "y"]
        .iter()
        .map(|n| Backend::start(n, "127.0.0.1:0".parse().unwrap()).unwrap())
        .collect();
    let (v1, v2) = (vip(), vip());
    let cfg = format!(
        "[[service]]\nlisten = \"{v1}\"\nscheduler = \"wlc\"\n[[service.real]]\naddress = \"{}\"\nweight = 3\nupper = 10\n",
        bs[0].addr
    );
    let d = Lvsd::start("save", &cfg);
    let (v2s, x, y) = (
        v2.to_string(),
        bs[0].addr.to_string(),
        bs[1].addr.to_string(),
    );
    for args in [
        vec![
            "-A",
            "-t",
            &v2s,
            "-s",
            "sh",
            "-b",
            "sh-fallback,sh-port",
            "-p",
            "120",
        ],
        vec!["-a", "-t", &v2s, "-r", &y, "-m", "-w", "4"],
        vec!["-a", "-t", &v2s, "-r", &x, "-w", "1"],
        vec!["-e", "-t", &v2s, "-r", &x, "-w", "0"],
    ] {
        let o = d.lvsadm(&args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The service added over the socket is live; x is quiesced there (sh-fallback sends the
    // flows that hash to x to y; without it they would find no destination).
    for _ in 0..10 {
        assert_eq!(get(v2).unwrap(), "y");
    }
    let save = |d: &Lvsd| String::from_utf8(d.lvsadm(&["-S", "-n"]).stdout).unwrap();
    let saved = save(&d);
    assert_eq!(
        saved,
        format!(
            "-A -t {v1} -s wlc\n-a -t {v1} -r {x} -m -w 3 -x 10\n\
             -A -t {v2} -s sh -b sh-fallback,sh-port -p 120\n-a -t {v2} -r {y} -m -w 4\n-a -t {v2} -r {x} -m -w 0\n"
        )
    );
    assert!(d.lvsadm(&["-C"]).status.success());
    assert_eq!(d.list().lines().count(), 3);
    assert!(get(v1).is_err(), "a cleared service still answers");
    let o = lvsadm_with(&d.socket, &["-R"], Some(&saved));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(save(&d), saved);
    assert_eq!(get(v1).unwrap(), "x");
    // A rule lvsd refuses names its line; the earlier lines stay applied.
    let o = lvsadm_with(&d.socket, &["-R"], Some("-D -t 127.0.0.1:1\n"));
    assert_eq!(o.status.code(), Some(1));
    let bad = format!("-D -t {v2}\n-D -t {v2}\n");
    let o = lvsadm_with(&d.socket, &["-R"], Some(&bad));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 2: no such service"));
    assert!(!save(&d).contains(&v2s));
}

#[test]
fn sighup_reload_keeps_an_established_connection() {
    let (a, b) = (Echo::start(), Echo::start());
    let (v1, v2) = (vip(), vip());
    let body1 = format!(
        "[[service]]\nlisten = \"{v1}\"\nscheduler = \"wlc\"\n[[service.real]]\naddress = \"{}\"\n",
        a.addr
    );
    let d = Lvsd::start("reload", &body1);
    let mut held = TcpStream::connect(v1).unwrap();
    assert_eq!(echo_round(&mut held, b"before"), b"before");
    assert_eq!(d.real_row(a.addr), Some((1, 1, 0)));

    // New config: v1 changes scheduler and gains a server, v2 appears.
    let body2 = format!(
        "[[service]]\nlisten = \"{v1}\"\nscheduler = \"lc\"\n[[service.real]]\naddress = \"{}\"\n[[service.real]]\naddress = \"{}\"\n\
         [[service]]\nlisten = \"{v2}\"\nscheduler = \"rr\"\n[[service.real]]\naddress = \"{}\"\n",
        a.addr, b.addr, b.addr
    );
    write_config(&d.config, &d.socket, &body2);
    d.signal(libc::SIGHUP);
    wait_until("the reload", Duration::from_secs(5), || {
        d.list().contains(&format!("TCP  {v2} rr"))
    });
    assert!(d.list().contains(&format!("TCP  {v1} lc")));
    // The held connection still works and is still counted on its server.
    assert_eq!(echo_round(&mut held, b"after"), b"after");
    assert_eq!(d.real_row(a.addr), Some((1, 1, 0)));
    // lc sees it: a new connection goes to the idle server.
    let mut fresh = TcpStream::connect(v1).unwrap();
    assert_eq!(echo_round(&mut fresh, b"new"), b"new");
    assert_eq!(d.real_row(b.addr).map(|r| r.1), Some(1));
    let mut other = TcpStream::connect(v2).unwrap();
    assert_eq!(echo_round(&mut other, b"v2"), b"v2");

    // A broken config is refused and the running one stays.
    std::fs::write(&d.config, "[[service]]\nlisten = 5\n").unwrap();
    d.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(d.list().contains(&format!("TCP  {v2} rr")));
    assert_eq!(echo_round(&mut held, b"still"), b"still");
}

#[test]
fn check_flag_validates_the_config() {
    let dir = TempDir::new("check");
    let good = dir.0.join("good.toml");
    std::fs::write(
        &good,
        "[[service]]\nlisten = \"127.0.0.1:80\"\n[[service.real]]\naddress = \"127.0.0.1:81\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-c")
        .arg(&good)
        .arg("--check")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("OK (1 services"));
    let bad = dir.0.join("bad.toml");
    std::fs::write(
        &bad,
        "[[service]]\nlisten = \"127.0.0.1:80\"\nscheduler = \"fastest\"\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-c")
        .arg(&bad)
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown scheduler"));
}
