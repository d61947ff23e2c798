//! Changing a packet-mode lvsd while it forwards, in network namespaces with real kernel TCP
//! (the lab of `lvsd_packet.rs`): a reload by SIGHUP and by `lvsadm --reload` changes
//! weights, adds a service and removes a real server while a connection held through the
//! director keeps echoing (also one to a server the reload removes), and a broken file
//! changes nothing; `lvsadm -A/-E/-a/-e/-d/-D` with
//! `-g` and `-m` change the listing and where requests go, and `-S`, `-C`, `-R` restore the
//! same rules; a dynamic program check (keepalived `misc_dynamic`) sets the weights `-L -n`
//! shows and the scheduler uses.
//!
//! Needs root and iproute2; skips loudly without them, and fails instead under
//! `LVS_REQUIRE_INTEROP=1`.

mod lvsd_support;

#[path = "lvsd_support/packet_lab.rs"]
mod packet_lab;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use lvsd_support::{lvsadm_with, wait_until};
use packet_lab::{
    CLIENTS, LATE_CLIENT, Lab, NAMES, REALS, VIP, echo, helper_main, hold, lvsadm, missing,
    requests, weight,
};

const LIMIT: Duration = Duration::from_secs(30);

/// The helper programs (servers) are this binary run again with `LVS_PKT_ROLE` set; as an
/// ordinary test this does nothing.
#[test]
fn helper_entry() {
    if let Ok(role) = std::env::var("LVS_PKT_ROLE") {
        helper_main(&role);
    }
}

fn skip(test: &str) -> bool {
    match missing(false) {
        Some(why) => {
            eprintln!(
                "SKIP lvsd_packet_admin::{test}: {why} (LVS_REQUIRE_INTEROP=1 makes this fail)"
            );
            true
        }
        None => false,
    }
}

fn real(i: usize, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(REALS[i], port)
}

/// A `[[service]]` on VIP:`port` (TCP health check) with `reals` as (server, weight) at
/// `real_port`, forwarded by NAT.
fn service(port: u16, real_port: u16, reals: &[(usize, u32)]) -> String {
    let mut s = format!(
        "[[service]]\nlisten = \"{VIP}:{port}\"\nscheduler = \"wrr\"\n\
         [service.health]\nkind = \"tcp\"\ninterval = 0.5\ntimeout = 1.0\nrise = 1\nfall = 2\n"
    );
    for &(i, w) in reals {
        s.push_str(&format!(
            "[[service.real]]\naddress = \"{}\"\nweight = {w}\nforward = \"nat\"\n",
            real(i, real_port)
        ));
    }
    s
}

fn warm_up(lab: &Lab, src: Ipv4Addr, port: u16) {
    wait_until("a first answer through the director", LIMIT, || {
        requests(lab, src, port, 1, 1).failed == 0
    });
}

/// The rows of `-L -n` without the connection counters (which a restore starts afresh).
fn rules_of(listing: &str) -> Vec<String> {
    listing
        .lines()
        .skip(1)
        .map(|l| {
            if l.starts_with("  -> ") {
                l.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
            } else {
                l.to_owned()
            }
        })
        .collect()
}

fn index_of(name: &str) -> usize {
    NAMES
        .iter()
        .position(|n| *n == name)
        .expect("a server name")
}

#[test]
fn reload_by_sighup_and_lvsadm_keeps_a_held_connection() {
    if skip("reload") {
        return;
    }
    let mut lab = Lab::new("rl");
    lab.setup_nat();
    for i in 0..3 {
        lab.start_server(i, &[8080, 8081]);
    }
    let socket = lab.start_lvsd(&service(80, 8080, &[(0, 1), (1, 1)]));
    warm_up(&lab, CLIENTS[0], 80);
    let (mut held, name) = hold(&lab, CLIENTS[1], 80);
    assert_eq!(echo(&mut held, "before"), "before");
    let kept = index_of(&name);
    assert!(kept < 2, "{name} is not in the service");
    let other = 1 - kept;
    // And one on the server the reload removes (rr alternates; a few tries at most).
    let mut on_other = None;
    for _ in 0..6 {
        let (c, n) = hold(&lab, CLIENTS[0], 80);
        if index_of(&n) == other {
            on_other = Some(c);
            break;
        }
    }
    let mut on_other = on_other.expect("a connection on the other server");

    // SIGHUP: the held server gets weight 5, the other one goes, r3 joins, and a new
    // service appears on VIP:81.
    lab.write_config(&format!(
        "{}{}",
        service(80, 8080, &[(kept, 5), (2, 1)]),
        service(81, 8081, &[(0, 1), (1, 1), (2, 1)])
    ));
    lab.signal_lvsd(libc::SIGHUP);
    wait_until("the reload by SIGHUP", LIMIT, || {
        weight(&socket, 80, real(kept, 8080)) == Some(5)
    });
    let list = lvsadm(&socket, &["-L", "-n"]);
    assert_eq!(weight(&socket, 80, real(other, 8080)), None, "{list}");
    assert_eq!(weight(&socket, 80, real(2, 8080)), Some(1), "{list}");
    assert!(list.contains(&format!("TCP  {VIP}:81 wrr")), "{list}");
    assert_eq!(echo(&mut held, "after the SIGHUP"), "after the SIGHUP");
    // The removed server takes no new connection, but its established one goes on (as the
    // kernel keeps forwarding to a deleted destination until its connections end).
    assert_eq!(echo(&mut on_other, "removed, still"), "removed, still");
    warm_up(&lab, LATE_CLIENT, 81);
    let t = requests(&lab, LATE_CLIENT, 81, 30, 3);
    assert_eq!((t.failed, t.by_name.len()), (0, 3), "VIP:81 {t:?}");
    let t = requests(&lab, LATE_CLIENT, 80, 60, 3);
    assert_eq!((t.failed, t.of(NAMES[other])), (0, 0), "VIP:80 {t:?}");

    // lvsadm --reload: the change is in place when it returns.
    lab.write_config(&service(80, 8080, &[(kept, 2), (2, 3)]));
    let out = lvsadm(&socket, &["--reload"]);
    assert_eq!(out, "");
    let list = lvsadm(&socket, &["-L", "-n"]);
    assert_eq!(weight(&socket, 80, real(kept, 8080)), Some(2), "{list}");
    assert_eq!(weight(&socket, 80, real(2, 8080)), Some(3), "{list}");
    assert!(!list.contains(":81 "), "{list}");
    assert_eq!(echo(&mut held, "after --reload"), "after --reload");

    // A broken file: lvsadm --reload says why and exits 1, SIGHUP logs it; nothing changes.
    let before = lvsadm(&socket, &["-S", "-n"]);
    lab.write_config(&format!(
        "{}[[service.real]]\naddress = \"{}\"\nforward = \"gre\"\n",
        service(80, 8080, &[(kept, 2)]),
        real(other, 8080)
    ));
    let o = lvsadm_with(&socket, &["--reload"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let at = format!("{}:", lab.config_path().display());
    assert!(err.contains(&at) && err.contains("gre"), "{err}");
    lab.signal_lvsd(libc::SIGHUP);
    wait_until("the SIGHUP reload error in the log", LIMIT, || {
        lab.log("lvsd").contains("reload failed")
    });
    assert_eq!(lvsadm(&socket, &["-S", "-n"]), before);
    // Another interface needs a restart.
    lab.write_config(&service(80, 8080, &[(kept, 1)]));
    let raw = std::fs::read_to_string(lab.config_path()).unwrap();
    lab.write_raw_config(&raw.replace("interface = \"eth0\"", "interface = \"eth1\""));
    let o = lvsadm_with(&socket, &["--reload"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("eth1") && err.contains("restart"), "{err}");
    assert_eq!(lvsadm(&socket, &["-S", "-n"]), before);
    assert_eq!(echo(&mut held, "still"), "still");
    let t = requests(&lab, CLIENTS[0], 80, 20, 2);
    assert_eq!((t.failed, t.of(NAMES[other])), (0, 0), "{t:?}");
}

#[test]
fn lvsadm_changes_services_in_packet_mode_and_restores_them() {
    if skip("admin") {
        return;
    }
    let mut lab = Lab::new("adm");
    // r1 and r2 are DR servers (the VIP on lo), r3 a NAT server (routes through the
    // director).
    lab.setup_dr_one(0);
    lab.setup_dr_one(1);
    lab.setup_nat_one(2);
    for i in 0..3 {
        lab.start_server(i, &[80, 8080]);
    }
    let sources: Vec<Ipv4Addr> = (5..10).map(|i| Ipv4Addr::new(10, 0, 1, i)).collect();
    for s in &sources {
        lab.add_client_addr(*s);
    }
    let socket = lab.start_lvsd("");
    let svc = format!("{VIP}:80");
    let run = |args: &[&str]| lvsadm(&socket, args);
    run(&["-A", "-t", &svc, "-s", "rr"]);
    run(&[
        "-a",
        "-t",
        &svc,
        "-r",
        &real(0, 80).to_string(),
        "-g",
        "-w",
        "1",
    ]);
    run(&[
        "-a",
        "-t",
        &svc,
        "-r",
        &real(2, 8080).to_string(),
        "-m",
        "-w",
        "1",
    ]);
    let list = run(&["-L", "-n"]);
    for row in [
        format!("  -> {:<28} Route   1", real(0, 80)),
        format!("  -> {:<28} Masq    1", real(2, 8080)),
    ] {
        assert!(list.contains(&row), "no {row:?} in\n{list}");
    }
    warm_up(&lab, sources[0], 80);
    let t = requests(&lab, sources[0], 80, 40, 2);
    assert_eq!((t.failed, t.of("r1") + t.of("r3")), (0, 40), "{t:?}");
    assert!(t.of("r1") >= 15 && t.of("r3") >= 15, "rr: {t:?}");

    // -a without a method: direct routing, as ipvsadm.
    run(&["-a", "-t", &svc, "-r", &real(1, 80).to_string(), "-w", "2"]);
    assert!(
        run(&["-L", "-n"]).contains(&format!("  -> {:<28} Route   2", real(1, 80))),
        "{}",
        run(&["-L", "-n"])
    );
    let t = requests(&lab, sources[1], 80, 60, 3);
    assert_eq!(t.failed, 0, "{t:?}");
    assert!(t.of("r2") > 0 && t.of("r1") > 0 && t.of("r3") > 0, "{t:?}");

    // -e: r1 quiesced takes nothing new; -d: r3 goes.
    run(&["-e", "-t", &svc, "-r", &real(0, 80).to_string(), "-w", "0"]);
    assert_eq!(weight(&socket, 80, real(0, 80)), Some(0));
    run(&["-d", "-t", &svc, "-r", &real(2, 8080).to_string()]);
    assert_eq!(weight(&socket, 80, real(2, 8080)), None);
    let t = requests(&lab, sources[2], 80, 30, 3);
    assert_eq!((t.failed, t.of("r2")), (0, 30), "{t:?}");
    run(&["-e", "-t", &svc, "-r", &real(0, 80).to_string(), "-w", "1"]);
    run(&["-E", "-t", &svc, "-s", "wrr", "-p", "60"]);
    run(&[
        "-a",
        "-t",
        &svc,
        "-r",
        &real(2, 8080).to_string(),
        "-m",
        "-w",
        "3",
    ]);
    // Refusals change nothing.
    for (args, want) in [
        (
            vec!["-a", "-t", &svc, "-r", "10.0.2.13:8080", "-g"],
            "already exists",
        ),
        (
            vec!["-a", "-t", &svc, "-r", "10.0.2.13:81", "-g"],
            "keeps the virtual port",
        ),
        (vec!["-A", "-t", "[::1]:80"], "IPv4"),
        (
            vec!["-d", "-t", "10.0.1.100:99", "-r", "10.0.2.11:99"],
            "no such service",
        ),
    ] {
        let o = lvsadm_with(&socket, &args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.code() == Some(1) && err.contains(want),
            "{args:?}: {err}"
        );
    }

    // -S, -C, -R: the same rules and listing (without the counters).
    let saved = run(&["-S", "-n"]);
    assert_eq!(
        saved,
        format!(
            "-A -t {svc} -s wrr -p 60\n\
             -a -t {svc} -r {} -g -w 1\n\
             -a -t {svc} -r {} -g -w 2\n\
             -a -t {svc} -r {} -m -w 3\n",
            real(0, 80),
            real(1, 80),
            real(2, 8080)
        )
    );
    let listed = rules_of(&run(&["-L", "-n"]));
    run(&["-C"]);
    assert_eq!(
        rules_of(&run(&["-L", "-n"])).len(),
        2,
        "{}",
        run(&["-L", "-n"])
    );
    let o = lvsadm_with(&socket, &["-R"], Some(&saved));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(run(&["-S", "-n"]), saved);
    assert_eq!(rules_of(&run(&["-L", "-n"])), listed);
    // The restored service forwards, with its persistence: one client, one server.
    for src in [sources[3], sources[4]] {
        let t = requests(&lab, src, 80, 20, 2);
        assert_eq!((t.failed, t.by_name.len()), (0, 1), "{t:?}");
    }

    run(&["-D", "-t", &svc]);
    assert!(!run(&["-L", "-n"]).contains(&svc));
    assert_eq!(run(&["-S", "-n"]), "");
}

fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn set_exit(dir: &Path, i: usize, code: u8) {
    let path = dir.join(format!("exit-{}", REALS[i]));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, code.to_string()).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

#[test]
fn dynamic_weights_from_a_program_check_in_packet_mode() {
    if skip("dynamic") {
        return;
    }
    let mut lab = Lab::new("dyn");
    lab.setup_nat();
    for i in 0..3 {
        lab.start_server(i, &[8080]);
    }
    let dir = lab.dir.0.clone();
    // Exit status 2..255 sets weight status-2, 0 keeps the configured weight, 1 fails.
    let check = dir.join("check.sh");
    script(
        &check,
        &format!("exit \"$(cat {}/exit-$1)\"\n", dir.display()),
    );
    for (i, code) in [(0, 5), (1, 0), (2, 1)] {
        set_exit(&dir, i, code);
    }
    let mut cfg = format!(
        "[[service]]\nlisten = \"{VIP}:80\"\nscheduler = \"wrr\"\n\
         [service.health]\nkind = \"program\"\ncommand = \"{} %h\"\ndynamic = true\n\
         interval = 0.3\ntimeout = 2.0\nrise = 1\nfall = 1\n",
        check.display()
    );
    for i in 0..3 {
        cfg.push_str(&format!(
            "[[service.real]]\naddress = \"{}\"\nweight = 4\nforward = \"nat\"\n",
            real(i, 8080)
        ));
    }
    let socket = lab.start_lvsd(&cfg);
    let weights = || {
        (0..3)
            .map(|i| weight(&socket, 80, real(i, 8080)))
            .collect::<Vec<_>>()
    };
    wait_until("the dynamic weights 3, 4, 0", LIMIT, || {
        weights() == [Some(3), Some(4), Some(0)]
    });
    set_exit(&dir, 0, 12);
    wait_until("r1's weight to become 10", LIMIT, || {
        weights() == [Some(10), Some(4), Some(0)]
    });
    // -S keeps the configured weights.
    let saved = lvsadm(&socket, &["-S", "-n"]);
    assert_eq!(saved.matches(" -m -w 4\n").count(), 3, "{saved}");
    // The scheduler uses them: 10:4:0.
    warm_up(&lab, CLIENTS[0], 80);
    let t = requests(&lab, CLIENTS[1], 80, 140, 2);
    assert_eq!((t.failed, t.of("r3")), (0, 0), "{t:?}");
    assert!(t.of("r1") > 2 * t.of("r2") && t.of("r2") > 0, "{t:?}");
    // A reload that changes nothing in the check keeps the dynamic weights.
    lvsadm(&socket, &["--reload"]);
    assert_eq!(weights(), [Some(10), Some(4), Some(0)]);
}
